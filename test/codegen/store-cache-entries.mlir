// RUN: dsc-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(dsc-store-cache-entries))' --verify-diagnostics | FileCheck %s

// @decode (after bufferization) stores its latents into the cache: entry
// (l, b, s) at page block_table[b, (past[b] + s) / 64], row (past[b] + s)
// % 64, rounded to the cache's bf16 (to nearest even, in integers: the
// host object links no libgcc conversion); a slot past the table or a page out
// of range (the padding rows' -1) is skipped.
// CHECK-LABEL: func.func @decode
// CHECK-NOT:   dsc.stores_cache_entries
// CHECK:       %[[SEQS:.*]] = memref.dim %arg5, %c1{{.*}} : memref<2x?x?x8xf32>
// CHECK:       %[[TOKENS:.*]] = memref.dim %arg5, %c2 : memref<2x?x?x8xf32>
// CHECK:       %[[WIDTH:.*]] = memref.dim %arg5, %c3 : memref<2x?x?x8xf32>
// CHECK:       %[[PAGES:.*]] = memref.dim %arg3, %c1{{.*}} : memref<2x?x64x8xbf16>
// CHECK:       %[[TABLEW:.*]] = memref.dim %arg2, %c1{{.*}} : memref<?x?xi64>
// CHECK:       %[[PERLAYER:.*]] = arith.muli %[[SEQS]], %[[TOKENS]] : index
// CHECK:       %[[ENTRIES:.*]] = arith.muli %{{.*}}, %[[PERLAYER]] : index
// The entries to blocks, the columns to threads.
// CHECK:       scf.parallel (%[[E:.*]], %[[W:.*]]) = (%c0, %c0) to (%[[ENTRIES]], %[[WIDTH]])
// CHECK:         %[[L:.*]] = arith.divui %[[E]], %[[PERLAYER]] : index
// CHECK:         %[[INL:.*]] = arith.remui %[[E]], %[[PERLAYER]] : index
// CHECK:         %[[B:.*]] = arith.divui %[[INL]], %[[TOKENS]] : index
// CHECK:         %[[S:.*]] = arith.remui %[[INL]], %[[TOKENS]] : index
// CHECK:         %[[SEEN:.*]] = memref.load %arg1[%[[B]]] : memref<?xi64>
// CHECK:         %[[SEENI:.*]] = arith.index_cast %[[SEEN]] : i64 to index
// CHECK:         %[[POS:.*]] = arith.addi %[[SEENI]], %[[S]] : index
// CHECK:         %[[SLOT:.*]] = arith.divui %[[POS]], %c64 
// CHECK:         %[[ROW:.*]] = arith.remui %[[POS]], %c64
// CHECK:         %[[INTABLE:.*]] = arith.cmpi slt, %[[SLOT]], %[[TABLEW]] : index
// CHECK:         %[[SAFE:.*]] = arith.select %[[INTABLE]], %[[SLOT]], %c0{{.*}} : index
// CHECK:         %[[PAGE64:.*]] = memref.load %arg2[%[[B]], %[[SAFE]]] : memref<?x?xi64>
// CHECK:         %[[PAGE:.*]] = arith.index_cast %[[PAGE64]] : i64 to index
// CHECK:         %[[BELOW:.*]] = arith.cmpi slt, %[[PAGE]], %[[PAGES]] : index
// CHECK:         %[[ABOVE:.*]] = arith.cmpi sge, %[[PAGE]], %c0{{.*}} : index
// CHECK:         %[[INPAGES:.*]] = arith.andi %[[ABOVE]], %[[BELOW]] : i1
// CHECK:         %[[OK:.*]] = arith.andi %[[INTABLE]], %[[INPAGES]] : i1
// CHECK:         scf.if %[[OK]] {
// CHECK:           %[[V:.*]] = memref.load %arg5[%[[L]], %[[B]], %[[S]], %[[W]]] : memref<2x?x?x8xf32>
// Round to nearest even, NaN kept quiet (st::f32ToBf16):
// CHECK:           %[[BITS:.*]] = arith.bitcast %[[V]] : f32 to i32
// CHECK:           %[[MAG:.*]] = arith.andi %[[BITS]], %c2147483647_i32 : i32
// CHECK:           %[[NAN:.*]] = arith.cmpi ugt, %[[MAG]], %c2139095040_i32 : i32
// CHECK:           %[[HIGH:.*]] = arith.shrui %[[BITS]], %c16_i32 : i32
// CHECK:           %[[QUIETED:.*]] = arith.ori %[[HIGH]], %c64_i32 : i32
// CHECK:           %[[ODD:.*]] = arith.andi %[[HIGH]], %c1_i32 : i32
// CHECK:           %[[BIAS:.*]] = arith.addi %c32767_i32, %[[ODD]] : i32
// CHECK:           %[[SUM:.*]] = arith.addi %[[BITS]], %[[BIAS]] : i32
// CHECK:           %[[ROUNDED:.*]] = arith.shrui %[[SUM]], %c16_i32{{.*}} : i32
// CHECK:           %[[WORD:.*]] = arith.select %[[NAN]], %[[QUIETED]], %[[ROUNDED]] : i32
// CHECK:           %[[H:.*]] = arith.trunci %[[WORD]] : i32 to i16
// CHECK:           %[[E:.*]] = arith.bitcast %[[H]] : i16 to bf16
// CHECK:           memref.store %[[E]], %arg3[%[[L]], %[[PAGE]], %[[ROW]], %[[W]]] : memref<2x?x64x8xbf16>
// CHECK:       return
func.func @decode(%tokens: memref<?x?xi64> {dsc.input = "tokens"},
                  %past: memref<?xi64> {dsc.input = "past"},
                  %table: memref<?x?xi64> {dsc.input = "block_table"},
                  %cache: memref<2x?x64x8xbf16> {dsc.input = "kv_cache"},
                  %logits: memref<?x?x16xf32> {dsc.output},
                  %latents: memref<2x?x?x8xf32> {dsc.output})
    attributes {dsc.stores_cache_entries} {
  return
}

// -----

// An f32 cache stores the latents as they are.
// CHECK-LABEL: func.func @decode_f32
// CHECK:         %[[V:.*]] = memref.load %arg5
// CHECK-NEXT:    memref.store %[[V]], %arg3
func.func @decode_f32(%tokens: memref<?x?xi64> {dsc.input = "tokens"},
                      %past: memref<?xi64> {dsc.input = "past"},
                      %table: memref<?x?xi64> {dsc.input = "block_table"},
                      %cache: memref<2x?x64x8xf32> {dsc.input = "kv_cache"},
                      %logits: memref<?x?x16xf32> {dsc.output},
                      %latents: memref<2x?x?x8xf32> {dsc.output})
    attributes {dsc.stores_cache_entries} {
  return
}

// -----

// Prefill (not marked) is left alone.
// CHECK-LABEL: func.func @prefill
// CHECK-NOT: scf.parallel
func.func @prefill(%tokens: memref<?x?xi64> {dsc.input = "tokens"},
                   %logits: memref<?x?x16xf32> {dsc.output},
                   %latents: memref<2x?x?x8xf32> {dsc.output}) {
  return
}

// -----

// expected-error @below {{'func.func' op is marked dsc.stores_cache_entries but lacks buffers past, block_table, kv_cache [layers, pages, page, width] of f32 or bf16 and a second output, the latents}}
func.func @decode(%tokens: memref<?x?xi64> {dsc.input = "tokens"},
                  %logits: memref<?x?x16xf32> {dsc.output})
    attributes {dsc.stores_cache_entries} {
  return
}

// -----

// expected-error @below {{'func.func' op is marked dsc.stores_cache_entries but its latents 'memref<2x?x?x4xf32>' are not f32 with the layers and width of kv_cache 'memref<2x?x64x8xbf16>'}}
func.func @decode(%past: memref<?xi64> {dsc.input = "past"},
                  %table: memref<?x?xi64> {dsc.input = "block_table"},
                  %cache: memref<2x?x64x8xbf16> {dsc.input = "kv_cache"},
                  %logits: memref<?x?x16xf32> {dsc.output},
                  %latents: memref<2x?x?x4xf32> {dsc.output})
    attributes {dsc.stores_cache_entries} {
  return
}

// RUN: dsc-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(dsc-store-cache-entries))' --verify-diagnostics | FileCheck %s

// @decode (after bufferization) stores its latents into the cache: entry
// (l, b, s) at page block_table[b, (past[b] + s) / 64], row (past[b] + s)
// % 64, rounded to the cache's bf16 (to nearest even, in integers: the
// host object links no libgcc conversion); a slot past the table or a page out
// of range (the padding rows' -1) is skipped.
// CHECK-LABEL: func.func @decode
// CHECK:       scf.parallel (%[[L:.*]], %[[B:.*]], %[[S:.*]], %[[W:.*]]) =
// CHECK:         %[[SEEN:.*]] = memref.load %arg1[%[[B]]] : memref<?xi64>
// CHECK:         %[[SEENI:.*]] = arith.index_cast %[[SEEN]] : i64 to index
// CHECK:         %[[POS:.*]] = arith.addi %[[SEENI]], %[[S]] : index
// CHECK:         %[[SLOT:.*]] = arith.divui %[[POS]], %c64
// CHECK:         %[[ROW:.*]] = arith.remui %[[POS]], %c64
// CHECK:         %[[INTABLE:.*]] = arith.cmpi slt, %[[SLOT]], %{{.*}} : index
// CHECK:         %[[PAGE64:.*]] = memref.load %arg2[%[[B]], %{{.*}}] : memref<?x?xi64>
// CHECK:         %[[PAGE:.*]] = arith.index_cast %[[PAGE64]] : i64 to index
// CHECK-DAG:     arith.cmpi slt, %[[PAGE]], %{{.*}} : index
// CHECK-DAG:     arith.cmpi sge, %[[PAGE]], %{{.*}} : index
// CHECK:         scf.if
// CHECK:           %[[V:.*]] = memref.load %arg5[%[[L]], %[[B]], %[[S]], %[[W]]] : memref<2x?x?x8xf32>
// CHECK:           arith.bitcast %[[V]] : f32 to i32
// CHECK:           %[[H:.*]] = arith.trunci %{{.*}} : i32 to i16
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

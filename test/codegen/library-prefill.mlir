// dsc-library-gemms (GPU pipelines) lowers dsc.causal_mla_prefill on
// buffers to the kernel library's MLA prefill of its widths: one block per
// 64 query tokens of a head of a sequence, nothing for an empty batch or
// prompt; the scale passed is 0.25 log2(e). The library's module joins
// with the kernel.
// RUN: dsc-opt %s --split-input-file --dsc-library-gemms -verify-diagnostics | FileCheck %s
// With wgmma (sm_90a), DeepSeek's widths take mla_prefill_wgmma_bf16 on
// the runtime's 3-d TMA descriptors of the queries, the decompressed keys
// and values ([batch, tokens, heads x width]) and the rope keys, boxes of
// 1 x 64 x 64; the fixtures' widths keep the mma.sync kernel.
// RUN: dsc-opt %s --split-input-file --dsc-library-gemms=wgmma -verify-diagnostics | FileCheck %s --check-prefix=WGMMA
// WGMMA-LABEL: func.func @prompt
// WGMMA: gpu.launch_func @dsc_mla_prefill_n16_r8_v16::@mla_prefill_bf16_n16_r8_v16
// WGMMA: func.func private @dsc_gpu_tensor_map_3d_bf16(memref<?x?x?xbf16, strided<[?, ?, ?], offset: ?>>, index, index, index) -> !llvm.ptr attributes {dsc.metadata_only}
// WGMMA-LABEL: func.func @deepseek
// WGMMA-SAME: (%[[Q:.*]]: memref<?x?x128x192xbf16>, %[[KV:.*]]: memref<?x?x128x256xbf16>, %[[KR:.*]]: memref<?x?x64xbf16>, %[[O:.*]]: memref<?x?x128x128xbf16>)
// WGMMA: %[[Q3:.*]] = memref.collapse_shape %[[Q]] {{\[\[}}0], [1], [2, 3]] : memref<?x?x128x192xbf16> into memref<?x?x24576xbf16>
// WGMMA: %[[QV:.*]] = memref.cast %[[Q3]]
// WGMMA: %[[MAPQ:.*]] = func.call @dsc_gpu_tensor_map_3d_bf16(%[[QV]], %c1{{(_[0-9]+)?}}, %c64{{(_[0-9]+)?}}, %c64{{(_[0-9]+)?}})
// WGMMA: %[[KV3:.*]] = memref.collapse_shape %[[KV]] {{\[\[}}0], [1], [2, 3]] : memref<?x?x128x256xbf16> into memref<?x?x32768xbf16>
// WGMMA: %[[KVV:.*]] = memref.cast %[[KV3]]
// WGMMA: %[[MAPKV:.*]] = func.call @dsc_gpu_tensor_map_3d_bf16(%[[KVV]],
// WGMMA: %[[KRV:.*]] = memref.cast %[[KR]] : memref<?x?x64xbf16> to memref<?x?x?xbf16, strided<[?, ?, ?], offset: ?>>
// WGMMA: %[[MAPKR:.*]] = func.call @dsc_gpu_tensor_map_3d_bf16(%[[KRV]],
// WGMMA: gpu.launch_func @dsc_mla_prefill_wgmma::@mla_prefill_wgmma_bf16 blocks in (%{{.*}}, %c128{{.*}}, %{{.*}}) threads in (%c128{{.*}}, %{{.*}}, %{{.*}}) dynamic_shared_memory_size %c115680_i32 args(%[[MAPQ]] : !llvm.ptr, %[[MAPKV]] : !llvm.ptr, %[[MAPKR]] : !llvm.ptr, %{{.*}} : memref<?xbf16>,
// WGMMA: gpu.module @dsc_mla_prefill_wgmma attributes {dsc.chips = ["sm_90a"], dsc.ptx = 83 : i32}
// WGMMA: gpu.func @mla_prefill_wgmma_bf16(

// CHECK-LABEL: func.func @prompt
// CHECK-SAME: (%[[Q:.*]]: memref<?x?x4x24xbf16>, %[[KV:.*]]: memref<?x?x4x32xbf16>, %[[KR:.*]]: memref<?x?x8xbf16>, %[[O:.*]]: memref<?x?x4x16xbf16>)
// CHECK-DAG: %[[B:.*]] = memref.dim %[[Q]], %c0
// CHECK-DAG: %[[S:.*]] = memref.dim %[[Q]], %c1
// CHECK: scf.if
// CHECK: %[[SCALE:.*]] = arith.constant 0.360673755 : f32
// CHECK: %[[TILES:.*]] = arith.divui %{{.*}}, %c64
// CHECK: %[[QF:.*]] = memref.collapse_shape %[[Q]] {{\[\[}}0, 1, 2, 3]] : memref<?x?x4x24xbf16> into memref<?xbf16>
// CHECK: %[[KVF:.*]] = memref.collapse_shape %[[KV]]
// CHECK: %[[KRF:.*]] = memref.collapse_shape %[[KR]]
// CHECK: %[[OF:.*]] = memref.collapse_shape %[[O]]
// CHECK: gpu.launch_func @dsc_mla_prefill_n16_r8_v16::@mla_prefill_bf16_n16_r8_v16 blocks in (%[[TILES]], %c4, %[[B]]) threads in (%c128, %{{.*}}, %{{.*}}) dynamic_shared_memory_size %c40960_i32 args(%[[QF]] : memref<?xbf16>, %[[KVF]] : memref<?xbf16>, %[[KRF]] : memref<?xbf16>, %[[OF]] : memref<?xbf16>, %[[S]] : index, %c4 : index, %[[SCALE]] : f32)
// CHECK-NOT: dsc.causal_mla_prefill
// CHECK: gpu.module @dsc_mla_prefill_n16_r8_v16
// CHECK: gpu.func @mla_prefill_bf16_n16_r8_v16(
func.func @prompt(%q: memref<?x?x4x24xbf16>, %kv: memref<?x?x4x32xbf16>, %kr: memref<?x?x8xbf16>, %out: memref<?x?x4x16xbf16>) {
  dsc.causal_mla_prefill %q, %kv, %kr outs(%out) {scale = 0.25 : f64} : memref<?x?x4x24xbf16>, memref<?x?x4x32xbf16>, memref<?x?x8xbf16>, memref<?x?x4x16xbf16>
  return
}

// -----

// DeepSeek's widths (no-rope 128, rope 64, value 128).
// CHECK-LABEL: func.func @deepseek
// CHECK: gpu.launch_func @dsc_mla_prefill::@mla_prefill_bf16 blocks in (%{{.*}}, %c128{{.*}}, %{{.*}}) threads in (%c128{{.*}}, %{{.*}}, %{{.*}}) dynamic_shared_memory_size %c106496_i32
func.func @deepseek(%q: memref<?x?x128x192xbf16>, %kv: memref<?x?x128x256xbf16>, %kr: memref<?x?x64xbf16>, %out: memref<?x?x128x128xbf16>) {
  dsc.causal_mla_prefill %q, %kv, %kr outs(%out) {scale = 0.25 : f64} : memref<?x?x128x192xbf16>, memref<?x?x128x256xbf16>, memref<?x?x64xbf16>, memref<?x?x128x128xbf16>
  return
}

// -----

func.func @other_widths(%q: memref<?x?x4x48xbf16>, %kv: memref<?x?x4x48xbf16>, %kr: memref<?x?x16xbf16>, %out: memref<?x?x4x16xbf16>) {
  // expected-error @+1 {{'dsc.causal_mla_prefill' op the kernel library has no MLA prefill for no-rope 32, rope 16 and value 16}}
  dsc.causal_mla_prefill %q, %kv, %kr outs(%out) {scale = 0.25 : f64} : memref<?x?x4x48xbf16>, memref<?x?x4x48xbf16>, memref<?x?x16xbf16>, memref<?x?x4x16xbf16>
  return
}

// -----

func.func @dynamic_heads(%q: memref<?x?x?x24xbf16>, %kv: memref<?x?x?x32xbf16>, %kr: memref<?x?x8xbf16>, %out: memref<?x?x?x16xbf16>) {
  // expected-error @+1 {{'dsc.causal_mla_prefill' op needs a static head count}}
  dsc.causal_mla_prefill %q, %kv, %kr outs(%out) {scale = 0.25 : f64} : memref<?x?x?x24xbf16>, memref<?x?x?x32xbf16>, memref<?x?x8xbf16>, memref<?x?x?x16xbf16>
  return
}

// -----

func.func @strided_rope_keys(%q: memref<?x?x4x24xbf16>, %kv: memref<?x?x4x32xbf16>, %kr: memref<?x?x8xbf16, strided<[?, 40, 1], offset: 32>>, %out: memref<?x?x4x16xbf16>) {
  // expected-error @+1 {{'dsc.causal_mla_prefill' op needs contiguous row-major queries, kv, rope_keys and init}}
  dsc.causal_mla_prefill %q, %kv, %kr outs(%out) {scale = 0.25 : f64} : memref<?x?x4x24xbf16>, memref<?x?x4x32xbf16>, memref<?x?x8xbf16, strided<[?, 40, 1], offset: 32>>, memref<?x?x4x16xbf16>
  return
}

// -----

func.func @too_many_heads(%q: memref<?x?x65536x24xbf16>, %kv: memref<?x?x65536x32xbf16>, %kr: memref<?x?x8xbf16>, %out: memref<?x?x65536x16xbf16>) {
  // expected-error @+1 {{'dsc.causal_mla_prefill' op needs at most 65535 heads, not 65536}}
  dsc.causal_mla_prefill %q, %kv, %kr outs(%out) {scale = 0.25 : f64} : memref<?x?x65536x24xbf16>, memref<?x?x65536x32xbf16>, memref<?x?x8xbf16>, memref<?x?x65536x16xbf16>
  return
}

// dsc-library-gemms (GPU pipelines) lowers dsc.paged_mla_decode on
// buffers to the kernel library's MLA decode of its widths: a parallel
// loop storing each row's entry at its position (a kernel once mapped),
// the splits of the rows' token tiles chosen from shapes, the decode
// kernel over the whole cache buffer from the layer's element offset,
// then the combine. The library's module joins with both kernels.
// RUN: dsc-opt %s --split-input-file --dsc-library-gemms -verify-diagnostics | FileCheck %s
// With wgmma (sm_90a), DeepSeek's widths take mla_decode_wgmma_bf16 on the
// runtime's TMA descriptors of the queries [rows * heads, 576] and of the
// layer's pages [pages * 64, 576] (the view's offset its start); widths
// the library has no wgmma decode for keep mla_decode_bf16*.
// RUN: dsc-opt %s --split-input-file --dsc-library-gemms=wgmma -verify-diagnostics | FileCheck %s --check-prefix=WGMMA
// WGMMA-LABEL: func.func @layer(
// WGMMA: gpu.launch_func @dsc_mla_decode_c32_r8::@mla_decode_bf16_c32_r8
// WGMMA: func.func private @dsc_gpu_tensor_map_bf16(memref<?x?xbf16, strided<[?, ?], offset: ?>>, index, index) -> !llvm.ptr attributes {dsc.metadata_only}
// WGMMA-LABEL: func.func @layer_v3(
// WGMMA: %[[LAYER:.*]] = memref.subview
// WGMMA: %[[OPART:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// WGMMA: %[[LSE:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// WGMMA: scf.if
// WGMMA: %[[Q2:.*]] = memref.collapse_shape %{{.*}} {{\[\[}}0, 1], [2]] : memref<?x128x576xbf16> into memref<?x576xbf16>
// WGMMA: %[[QV:.*]] = memref.cast %[[Q2]] : memref<?x576xbf16> to memref<?x?xbf16, strided<[?, ?], offset: ?>>
// WGMMA: %[[MAPQ:.*]] = func.call @dsc_gpu_tensor_map_bf16(%[[QV]], %c64{{(_[0-9]+)?}}, %c64{{(_[0-9]+)?}})
// WGMMA: %[[KV2:.*]] = memref.collapse_shape %[[LAYER]] {{\[\[}}0, 1], [2]] : memref<?x64x576xbf16, strided<[36864, 576, 1], offset: ?>> into memref<?x576xbf16, strided<[576, 1], offset: ?>>
// WGMMA: %[[KVV:.*]] = memref.cast %[[KV2]] : memref<?x576xbf16, strided<[576, 1], offset: ?>> to memref<?x?xbf16, strided<[?, ?], offset: ?>>
// WGMMA: %[[MAPKV:.*]] = func.call @dsc_gpu_tensor_map_bf16(%[[KVV]], %c64{{(_[0-9]+)?}}, %c64{{(_[0-9]+)?}})
// WGMMA: gpu.launch_func @dsc_mla_decode_wgmma::@mla_decode_wgmma_bf16 blocks in (%c2, %[[SPLITS:.*]], %[[ROWS:.*]]) threads in (%c256, %{{.*}}, %{{.*}}) dynamic_shared_memory_size %c231424_i32 args(%[[MAPQ]] : !llvm.ptr, %[[MAPKV]] : !llvm.ptr, %{{.*}} : memref<?xi32>, %{{.*}} : memref<?xi32>, %[[OPART]] : memref<?xf32>, %[[LSE]] : memref<?xf32>, %{{.*}} : index, %{{.*}} : index, %[[SPLITS]] : index, %{{.*}} : index, %{{.*}} : f32)
// WGMMA: gpu.launch_func @dsc_mla_decode::@mla_decode_combine blocks in (%{{.*}}, %[[ROWS]], %{{.*}}) threads in (%{{.*}}, %{{.*}}, %{{.*}}) args(%[[OPART]] : memref<?xf32>, %[[LSE]] : memref<?xf32>,
// WGMMA: gpu.module @dsc_mla_decode_wgmma attributes {dsc.chips = ["sm_90a"], dsc.ptx = 83 : i32}
// WGMMA-NEXT: gpu.func @mla_decode_wgmma_bf16(
// The combine comes from dsc_mla_decode alone.
// WGMMA-NOT: gpu.func @mla_decode_combine
// WGMMA: gpu.module @dsc_mla_decode {
// WGMMA-NEXT: gpu.func @mla_decode_combine(

// CHECK-LABEL: func.func @layer
// CHECK: scf.parallel
// CHECK: scf.if
// CHECK: memref.store %{{.*}}, %[[LAYER:.*]][%{{.*}}, %{{.*}}, %{{.*}}] : memref<?x64x40xbf16, strided<[2560, 40, 1], offset: ?>>
// CHECK: %[[OPART:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK: %[[LSE:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK: scf.if
// CHECK: %[[WHOLE:.*]] = memref.collapse_shape %{{.*}} {{\[\[}}0, 1, 2, 3]] : memref<3x?x64x40xbf16> into memref<?xbf16>
// CHECK: %{{.*}}, %[[OFFSET:.*]], %{{.*}}:3, %{{.*}}:3 = memref.extract_strided_metadata %[[LAYER]]
// CHECK: gpu.launch_func @dsc_mla_decode_c32_r8::@mla_decode_bf16_c32_r8 blocks in (%{{.*}}, %[[SPLITS:.*]], %[[ROWS:.*]]) threads in (%{{.*}}, %{{.*}}, %{{.*}}) dynamic_shared_memory_size %{{.*}} args(%{{.*}} : memref<?xbf16>, %[[WHOLE]] : memref<?xbf16>, %{{.*}} : memref<?xi32>, %{{.*}} : memref<?xi32>, %[[OPART]] : memref<?xf32>, %[[LSE]] : memref<?xf32>, %{{.*}} : index, %{{.*}} : index, %[[SPLITS]] : index, %{{.*}} : index, %[[OFFSET]] : index, %{{.*}} : f32)
// CHECK: gpu.launch_func @dsc_mla_decode_c32_r8::@mla_decode_combine_c32_r8 blocks in (%{{.*}}, %[[ROWS]], %{{.*}}) threads in (%{{.*}}, %{{.*}}, %{{.*}}) args(%[[OPART]] : memref<?xf32>, %[[LSE]] : memref<?xf32>, %{{.*}} : memref<?xbf16>, %{{.*}} : index, %[[SPLITS]] : index)
// CHECK: memref.dealloc %[[OPART]]
// CHECK: memref.dealloc %[[LSE]]
// CHECK-NOT: dsc.paged_mla_decode
// CHECK: gpu.module @dsc_mla_decode_c32_r8
// CHECK-DAG: gpu.func @mla_decode_bf16_c32_r8(
// CHECK-DAG: gpu.func @mla_decode_combine_c32_r8(
func.func @layer(%q: memref<?x4x40xbf16>, %e: memref<?x40xbf16>, %cache: memref<3x?x64x40xbf16>, %table: memref<?x?xi32>, %lens: memref<?xi32>, %out: memref<?x4x32xbf16>, %l: index) {
  %c1 = arith.constant 1 : index
  %pages = memref.dim %cache, %c1 : memref<3x?x64x40xbf16>
  %layer = memref.subview %cache[%l, 0, 0, 0] [1, %pages, 64, 40] [1, 1, 1, 1] : memref<3x?x64x40xbf16> to memref<?x64x40xbf16, strided<[2560, 40, 1], offset: ?>>
  dsc.paged_mla_decode %q, %e cache(%layer, %table, %lens) outs(%out) {scale = 0.25 : f64} : memref<?x4x40xbf16>, memref<?x40xbf16>, memref<?x64x40xbf16, strided<[2560, 40, 1], offset: ?>>, memref<?x?xi32>, memref<?xi32>, memref<?x4x32xbf16>
  return
}

// -----

func.func @layer_v3(%q: memref<?x128x576xbf16>, %e: memref<?x576xbf16>, %cache: memref<3x?x64x576xbf16>, %table: memref<?x?xi32>, %lens: memref<?xi32>, %out: memref<?x128x512xbf16>, %l: index) {
  %c1 = arith.constant 1 : index
  %pages = memref.dim %cache, %c1 : memref<3x?x64x576xbf16>
  %layer = memref.subview %cache[%l, 0, 0, 0] [1, %pages, 64, 576] [1, 1, 1, 1] : memref<3x?x64x576xbf16> to memref<?x64x576xbf16, strided<[36864, 576, 1], offset: ?>>
  dsc.paged_mla_decode %q, %e cache(%layer, %table, %lens) outs(%out) {scale = 0.25 : f64} : memref<?x128x576xbf16>, memref<?x576xbf16>, memref<?x64x576xbf16, strided<[36864, 576, 1], offset: ?>>, memref<?x?xi32>, memref<?xi32>, memref<?x128x512xbf16>
  return
}

// -----

func.func @pages_apart(%q: memref<?x4x40xbf16>, %e: memref<?x40xbf16>, %pages: memref<?x64x40xbf16, strided<[5120, 40, 1]>>, %table: memref<?x?xi32>, %lens: memref<?xi32>, %out: memref<?x4x32xbf16>) {
  // expected-error @+1 {{'dsc.paged_mla_decode' op needs a cache of contiguous pages, not 'memref<?x64x40xbf16, strided<[5120, 40, 1]>>'}}
  dsc.paged_mla_decode %q, %e cache(%pages, %table, %lens) outs(%out) {scale = 0.25 : f64} : memref<?x4x40xbf16>, memref<?x40xbf16>, memref<?x64x40xbf16, strided<[5120, 40, 1]>>, memref<?x?xi32>, memref<?xi32>, memref<?x4x32xbf16>
  return
}

// -----

func.func @other_widths(%q: memref<?x4x64xbf16>, %e: memref<?x64xbf16>, %pages: memref<?x64x64xbf16>, %table: memref<?x?xi32>, %lens: memref<?xi32>, %out: memref<?x4x48xbf16>) {
  // expected-error @+1 {{'dsc.paged_mla_decode' op the kernel library has no MLA decode for latent 48 and rope 16}}
  dsc.paged_mla_decode %q, %e cache(%pages, %table, %lens) outs(%out) {scale = 0.25 : f64} : memref<?x4x64xbf16>, memref<?x64xbf16>, memref<?x64x64xbf16>, memref<?x?xi32>, memref<?xi32>, memref<?x4x48xbf16>
  return
}

// -----

func.func @pages_of_32(%q: memref<?x4x40xbf16>, %e: memref<?x40xbf16>, %pages: memref<?x32x40xbf16>, %table: memref<?x?xi32>, %lens: memref<?xi32>, %out: memref<?x4x32xbf16>) {
  // expected-error @+1 {{'dsc.paged_mla_decode' op needs pages of 64 tokens, not 32}}
  dsc.paged_mla_decode %q, %e cache(%pages, %table, %lens) outs(%out) {scale = 0.25 : f64} : memref<?x4x40xbf16>, memref<?x40xbf16>, memref<?x32x40xbf16>, memref<?x?xi32>, memref<?xi32>, memref<?x4x32xbf16>
  return
}

// -----

func.func @dynamic_heads(%q: memref<?x?x40xbf16>, %e: memref<?x40xbf16>, %pages: memref<?x64x40xbf16>, %table: memref<?x?xi32>, %lens: memref<?xi32>, %out: memref<?x?x32xbf16>) {
  // expected-error @+1 {{'dsc.paged_mla_decode' op needs a static head count}}
  dsc.paged_mla_decode %q, %e cache(%pages, %table, %lens) outs(%out) {scale = 0.25 : f64} : memref<?x?x40xbf16>, memref<?x40xbf16>, memref<?x64x40xbf16>, memref<?x?xi32>, memref<?xi32>, memref<?x?x32xbf16>
  return
}

// -----

func.func @cache_view_of_strided(%q: memref<?x4x40xbf16>, %e: memref<?x40xbf16>, %cache: memref<3x?x64x40xbf16, strided<[?, 2560, 40, 1]>>, %table: memref<?x?xi32>, %lens: memref<?xi32>, %out: memref<?x4x32xbf16>) {
  %c1 = arith.constant 1 : index
  %pages = memref.dim %cache, %c1 : memref<3x?x64x40xbf16, strided<[?, 2560, 40, 1]>>
  %layer = memref.subview %cache[1, 0, 0, 0] [1, %pages, 64, 40] [1, 1, 1, 1] : memref<3x?x64x40xbf16, strided<[?, 2560, 40, 1]>> to memref<?x64x40xbf16, strided<[2560, 40, 1], offset: ?>>
  // expected-error @+1 {{'dsc.paged_mla_decode' op needs a cache that views a contiguous buffer}}
  dsc.paged_mla_decode %q, %e cache(%layer, %table, %lens) outs(%out) {scale = 0.25 : f64} : memref<?x4x40xbf16>, memref<?x40xbf16>, memref<?x64x40xbf16, strided<[2560, 40, 1], offset: ?>>, memref<?x?xi32>, memref<?xi32>, memref<?x4x32xbf16>
  return
}

// -----

func.func @strided_queries(%q: memref<?x4x40xbf16, strided<[320, 80, 1]>>, %e: memref<?x40xbf16>, %pages: memref<?x64x40xbf16>, %table: memref<?x?xi32>, %lens: memref<?xi32>, %out: memref<?x4x32xbf16>) {
  // expected-error @+1 {{'dsc.paged_mla_decode' op needs contiguous row-major queries, entries, block table, lengths and init}}
  dsc.paged_mla_decode %q, %e cache(%pages, %table, %lens) outs(%out) {scale = 0.25 : f64} : memref<?x4x40xbf16, strided<[320, 80, 1]>>, memref<?x40xbf16>, memref<?x64x40xbf16>, memref<?x?xi32>, memref<?xi32>, memref<?x4x32xbf16>
  return
}

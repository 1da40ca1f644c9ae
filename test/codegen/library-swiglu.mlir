// RUN: dsc-opt %s --split-input-file --dsc-library-gemms -canonicalize -verify-diagnostics | FileCheck %s
// RUN: dsc-opt %s --split-input-file --dsc-library-gemms=wgmma -canonicalize 2>/dev/null | FileCheck %s --check-prefix=WGMMA
// RUN: dsc-opt %s --split-input-file --dsc-library-gemms="large-tiles wgmma large-tile-blocks=1" -canonicalize 2>/dev/null | FileCheck %s --check-prefix=LARGE

// The SwiGLU between a MoE layer's routed gate and up GEMMs and its down
// GEMM (dsc.library_swiglu, as dsc-lower-to-linalg{fixed-shapes
// bf16-linear-inputs} marks it) fuses with the two GEMMs: one launch of
// grouped_gemm_swiglu_bf16_tn_m64_tiled over the gathered rows, both
// stacks (grid x: 2 x 32 packed columns in one 128-column block), whose
// expert-ordered activations are the down GEMM's rows. The sums, the
// per-slot activations and the SwiGLU op go; the down GEMM gathers
// nothing. (kernels-emulated.test runs Inputs/routed-experts.mlir's
// @swiglu_layer, the same form, on the emulator.)
// CHECK-LABEL: func.func @swiglu_layer
// CHECK-NOT: memref<?x2x32xf32>
// CHECK: gpu.launch_func @dsc_moe_dispatch::@moe_align
// CHECK: gpu.launch_func @dsc_moe_dispatch::@moe_tiles blocks in (%c1, %c1, %c1) threads in (%c1024, %c1, %c1) args({{.*}}, %[[TILES:.*]] : memref<?xi32>)
// CHECK: outs(%[[ROWS:.*]] : memref<?x64xbf16>)
// CHECK-NOT: math.exp
// CHECK: %[[ACT:.*]] = memref.alloc(%{{.*}}) : memref<?x32xbf16>
// CHECK: %[[FLATROWS:.*]] = memref.collapse_shape %[[ROWS]]
// CHECK: %[[WG:.*]] = memref.cast %{{.*}} : memref<8192xbf16> to memref<?xbf16>
// CHECK: %[[WU:.*]] = memref.cast %{{.*}} : memref<8192xbf16> to memref<?xbf16>
// CHECK: %[[FLATACT:.*]] = memref.collapse_shape %[[ACT]]
// CHECK: gpu.launch_func @dsc_grouped_gemm::@grouped_gemm_swiglu_bf16_tn_m64_tiled blocks in (%c1, %{{.*}}, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c98304_i32 args(%[[FLATROWS]] : memref<?xbf16>, %[[WG]] : memref<?xbf16>, %[[WU]] : memref<?xbf16>, %[[FLATACT]] : memref<?xbf16>, %{{.*}} : memref<?xi32>, %[[TILES]] : memref<?xi32>, %c32 : index, %c64 : index)
// CHECK-NOT: memref<?x2x32xbf16>
// CHECK: %[[ACT2:.*]] = memref.collapse_shape %[[ACT]]
// CHECK: gpu.launch_func @dsc_grouped_gemm::@grouped_gemm_bf16_tn_m64_tiled blocks in (%c1, %{{.*}}, %c1) {{.*}} args(%[[ACT2]] : memref<?xbf16>,
// CHECK-NOT: math.exp
// CHECK-NOT: gpu.launch_func
// CHECK: memref.dealloc %[[ROWS]]
// CHECK-NEXT: memref.dealloc %[[ACT]]
// CHECK-NEXT: return
// On sm_90a (wgmma): grouped_gemm_wgmma_swiglu_bf16_tn_tiled, the rows and
// both stacks ([4 x 32, 64]) through descriptors of 64 x 64 boxes; then
// the tiled wgmma GEMM on the activations' descriptor.
// WGMMA-LABEL: func.func @swiglu_layer
// WGMMA: %[[ACT:.*]] = memref.alloc(%{{.*}}) : memref<?x32xbf16>
// WGMMA: %[[MAPA:.*]] = func.call @dsc_gpu_tensor_map_bf16(%{{.*}}, %c64, %c64)
// WGMMA: %[[G:.*]] = memref.collapse_shape %arg2 {{\[\[}}0, 1], [2]] : memref<4x32x64xbf16> into memref<128x64xbf16>
// WGMMA: %[[G2:.*]] = memref.cast %[[G]]
// WGMMA: %[[MAPG:.*]] = func.call @dsc_gpu_tensor_map_bf16(%[[G2]], %c64, %c64)
// WGMMA: %[[U:.*]] = memref.collapse_shape %arg3 {{\[\[}}0, 1], [2]] : memref<4x32x64xbf16> into memref<128x64xbf16>
// WGMMA: %[[U2:.*]] = memref.cast %[[U]]
// WGMMA: %[[MAPU:.*]] = func.call @dsc_gpu_tensor_map_bf16(%[[U2]], %c64, %c64)
// WGMMA: %[[FLATACT:.*]] = memref.collapse_shape %[[ACT]]
// WGMMA: gpu.launch_func @dsc_grouped_gemm_wgmma_tn::@grouped_gemm_wgmma_swiglu_bf16_tn_tiled blocks in (%c1, %{{.*}}, %c1) threads in (%c256, %c1, %c1) dynamic_shared_memory_size %c132096_i32 args(%[[MAPA]] : !llvm.ptr, %[[MAPG]] : !llvm.ptr, %[[MAPU]] : !llvm.ptr, %[[FLATACT]] : memref<?xbf16>, %{{.*}} : memref<?xi32>, %{{.*}} : memref<?xi32>, %c32 : index, %c64 : index)
// WGMMA: %[[ACT2:.*]] = memref.cast %[[ACT]] : memref<?x32xbf16> to memref<?x?xbf16, strided<[?, ?], offset: ?>>
// WGMMA: %[[MAPACT:.*]] = func.call @dsc_gpu_tensor_map_bf16(%[[ACT2]], %c64, %c64)
// WGMMA: gpu.launch_func @dsc_grouped_gemm_wgmma_tn::@grouped_gemm_wgmma_bf16_tn_tiled blocks in (%c1, %{{.*}}, %c1) {{.*}} args(%[[MAPACT]] : !llvm.ptr,
#token = affine_map<(d0, d1, d2, d3) -> (d0, d3)>
#slot = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#ids = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
#out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#same = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @swiglu_layer(%x: memref<?x64xbf16>, %idx: memref<?x2xi64>, %wg: memref<4x32x64xbf16>, %wu: memref<4x32x64xbf16>, %wd: memref<4x64x32xbf16>, %out: memref<?x2x64xf32>, %t: index) {
  %c0 = arith.constant 0 : index
  %c3 = arith.constant 3 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %gate = memref.alloc(%t) : memref<?x2x32xf32>
  %up = memref.alloc(%t) : memref<?x2x32xf32>
  linalg.fill ins(%zero : f32) outs(%gate : memref<?x2x32xf32>)
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%gate : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wg[%e, %n, %k] : memref<4x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%up : memref<?x2x32xf32>)
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%up : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wu[%e, %n, %k] : memref<4x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  %act = memref.alloc(%t) : memref<?x2x32xbf16>
  linalg.generic {indexing_maps = [#same, #same, #same], iterator_types = ["parallel", "parallel", "parallel"]} ins(%gate, %up : memref<?x2x32xf32>, memref<?x2x32xf32>) outs(%act : memref<?x2x32xbf16>) attrs = {dsc.library_swiglu} {
  ^bb0(%g: f32, %u: f32, %o: bf16):
    %ng = arith.negf %g : f32
    %ex = math.exp %ng : f32
    %de = arith.addf %ex, %one : f32
    %si = arith.divf %g, %de : f32
    %m = arith.mulf %si, %u : f32
    %r = arith.truncf %m : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %gate : memref<?x2x32xf32>
  memref.dealloc %up : memref<?x2x32xf32>
  linalg.fill ins(%zero : f32) outs(%out : memref<?x2x64xf32>)
  linalg.generic {indexing_maps = [#slot, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%act, %idx : memref<?x2x32xbf16>, memref<?x2xi64>) outs(%out : memref<?x2x64xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wd[%e, %n, %k] : memref<4x64x32xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %act : memref<?x2x32xbf16>
  return
}

// -----

// Up's GEMM first: the SwiGLU's first operand names the gate stack.
// CHECK-LABEL: func.func @up_first
// CHECK: %[[WGC:.*]] = memref.collapse_shape %arg2
// CHECK: %[[WG:.*]] = memref.cast %[[WGC]]
// CHECK: %[[WUC:.*]] = memref.collapse_shape %arg3
// CHECK: %[[WU:.*]] = memref.cast %[[WUC]]
// CHECK: gpu.launch_func @dsc_grouped_gemm::@grouped_gemm_swiglu_bf16_tn_m64_tiled {{.*}} args(%{{.*}} : memref<?xbf16>, %[[WG]] : memref<?xbf16>, %[[WU]] : memref<?xbf16>,
#token = affine_map<(d0, d1, d2, d3) -> (d0, d3)>
#slot = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#ids = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
#out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#same = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @up_first(%x: memref<?x64xbf16>, %idx: memref<?x2xi64>, %wg: memref<4x32x64xbf16>, %wu: memref<4x32x64xbf16>, %wd: memref<4x64x32xbf16>, %out: memref<?x2x64xf32>, %t: index) {
  %c0 = arith.constant 0 : index
  %c3 = arith.constant 3 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %gate = memref.alloc(%t) : memref<?x2x32xf32>
  %up = memref.alloc(%t) : memref<?x2x32xf32>
  linalg.fill ins(%zero : f32) outs(%up : memref<?x2x32xf32>)
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%up : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wu[%e, %n, %k] : memref<4x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%gate : memref<?x2x32xf32>)
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%gate : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wg[%e, %n, %k] : memref<4x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  %act = memref.alloc(%t) : memref<?x2x32xbf16>
  linalg.generic {indexing_maps = [#same, #same, #same], iterator_types = ["parallel", "parallel", "parallel"]} ins(%gate, %up : memref<?x2x32xf32>, memref<?x2x32xf32>) outs(%act : memref<?x2x32xbf16>) attrs = {dsc.library_swiglu} {
  ^bb0(%g: f32, %u: f32, %o: bf16):
    %ng = arith.negf %g : f32
    %ex = math.exp %ng : f32
    %de = arith.addf %ex, %one : f32
    %si = arith.divf %g, %de : f32
    %m = arith.mulf %si, %u : f32
    %r = arith.truncf %m : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %gate : memref<?x2x32xf32>
  memref.dealloc %up : memref<?x2x32xf32>
  linalg.fill ins(%zero : f32) outs(%out : memref<?x2x64xf32>)
  linalg.generic {indexing_maps = [#slot, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%act, %idx : memref<?x2x32xbf16>, memref<?x2xi64>) outs(%out : memref<?x2x64xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wd[%e, %n, %k] : memref<4x64x32xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %act : memref<?x2x32xbf16>
  return
}

// -----

// What it cannot fuse stays as it was, with a remark: the GEMMs on the
// library (three grouped GEMM launches), the SwiGLU generated. Something
// else reads a sum:
// CHECK-LABEL: func.func @sums_read
// CHECK-COUNT-2: gpu.launch_func @dsc_grouped_gemm::@grouped_gemm_bf16_tn_m64_tiled
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : memref<?x2x32xf32>, memref<?x2x32xf32>) outs(%{{.*}} : memref<?x2x32xbf16>) {
// CHECK: math.exp
// CHECK: gpu.launch_func @dsc_grouped_gemm::@grouped_gemm_bf16_tn_m64_tiled
#token = affine_map<(d0, d1, d2, d3) -> (d0, d3)>
#slot = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#ids = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
#out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#same = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @sums_read(%x: memref<?x64xbf16>, %idx: memref<?x2xi64>, %wg: memref<4x32x64xbf16>, %wu: memref<4x32x64xbf16>, %wd: memref<4x64x32xbf16>, %out: memref<?x2x64xf32>, %t: index) {
  %c0 = arith.constant 0 : index
  %c3 = arith.constant 3 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %gate = memref.alloc(%t) : memref<?x2x32xf32>
  %up = memref.alloc(%t) : memref<?x2x32xf32>
  linalg.fill ins(%zero : f32) outs(%gate : memref<?x2x32xf32>)
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%gate : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wg[%e, %n, %k] : memref<4x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%up : memref<?x2x32xf32>)
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%up : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wu[%e, %n, %k] : memref<4x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  %keep = memref.alloc(%t) : memref<?x2x32xf32>
  memref.copy %gate, %keep : memref<?x2x32xf32> to memref<?x2x32xf32>
  %act = memref.alloc(%t) : memref<?x2x32xbf16>
  // expected-remark @+1 {{SwiGLU left as generated code: something else reads the sums or the activations}}
  linalg.generic {indexing_maps = [#same, #same, #same], iterator_types = ["parallel", "parallel", "parallel"]} ins(%gate, %up : memref<?x2x32xf32>, memref<?x2x32xf32>) outs(%act : memref<?x2x32xbf16>) attrs = {dsc.library_swiglu} {
  ^bb0(%g: f32, %u: f32, %o: bf16):
    %ng = arith.negf %g : f32
    %ex = math.exp %ng : f32
    %de = arith.addf %ex, %one : f32
    %si = arith.divf %g, %de : f32
    %m = arith.mulf %si, %u : f32
    %r = arith.truncf %m : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %gate : memref<?x2x32xf32>
  memref.dealloc %up : memref<?x2x32xf32>
  linalg.fill ins(%zero : f32) outs(%out : memref<?x2x64xf32>)
  linalg.generic {indexing_maps = [#slot, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%act, %idx : memref<?x2x32xbf16>, memref<?x2xi64>) outs(%out : memref<?x2x64xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wd[%e, %n, %k] : memref<4x64x32xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %act : memref<?x2x32xbf16>
  return
}

// -----

// A write between its GEMMs and its down GEMM that may reach the indices
// (the input %x may alias them) makes the down GEMM sort the slots again.
// CHECK-LABEL: func.func @down_sorts_again
// CHECK-COUNT-2: gpu.launch_func @dsc_moe_dispatch::@moe_align
#token = affine_map<(d0, d1, d2, d3) -> (d0, d3)>
#slot = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#ids = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
#out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#same = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @down_sorts_again(%x: memref<?x64xbf16>, %idx: memref<?x2xi64>, %wg: memref<4x32x64xbf16>, %wu: memref<4x32x64xbf16>, %wd: memref<4x64x32xbf16>, %out: memref<?x2x64xf32>, %t: index) {
  %c0 = arith.constant 0 : index
  %c3 = arith.constant 3 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %gate = memref.alloc(%t) : memref<?x2x32xf32>
  %up = memref.alloc(%t) : memref<?x2x32xf32>
  linalg.fill ins(%zero : f32) outs(%gate : memref<?x2x32xf32>)
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%gate : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wg[%e, %n, %k] : memref<4x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%up : memref<?x2x32xf32>)
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%up : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wu[%e, %n, %k] : memref<4x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  %zb = arith.constant 0.0 : bf16
  linalg.fill ins(%zb : bf16) outs(%x : memref<?x64xbf16>)
  %act = memref.alloc(%t) : memref<?x2x32xbf16>
  // expected-remark @+1 {{SwiGLU left as generated code: its result is not the input of a down GEMM sharing its GEMMs' sorting of the slots}}
  linalg.generic {indexing_maps = [#same, #same, #same], iterator_types = ["parallel", "parallel", "parallel"]} ins(%gate, %up : memref<?x2x32xf32>, memref<?x2x32xf32>) outs(%act : memref<?x2x32xbf16>) attrs = {dsc.library_swiglu} {
  ^bb0(%g: f32, %u: f32, %o: bf16):
    %ng = arith.negf %g : f32
    %ex = math.exp %ng : f32
    %de = arith.addf %ex, %one : f32
    %si = arith.divf %g, %de : f32
    %m = arith.mulf %si, %u : f32
    %r = arith.truncf %m : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %gate : memref<?x2x32xf32>
  memref.dealloc %up : memref<?x2x32xf32>
  linalg.fill ins(%zero : f32) outs(%out : memref<?x2x64xf32>)
  linalg.generic {indexing_maps = [#slot, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%act, %idx : memref<?x2x32xbf16>, memref<?x2xi64>) outs(%out : memref<?x2x64xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wd[%e, %n, %k] : memref<4x64x32xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %act : memref<?x2x32xbf16>
  return
}

// -----

// Up's zeros copied from gate's before gate's GEMM (so that gate's fill is
// dead only once the copy is): still fused.
// CHECK-LABEL: func.func @copied_zeros
// CHECK-NOT: linalg.fill
// CHECK-NOT: linalg.copy
// CHECK: gpu.launch_func @dsc_grouped_gemm::@grouped_gemm_swiglu_bf16_tn_m64_tiled
#token = affine_map<(d0, d1, d2, d3) -> (d0, d3)>
#slot = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#ids = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
#out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#same = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @copied_zeros(%x: memref<?x64xbf16>, %idx: memref<?x2xi64>, %wg: memref<4x32x64xbf16>, %wu: memref<4x32x64xbf16>, %wd: memref<4x64x32xbf16>, %out: memref<?x2x64xf32>, %t: index) {
  %c0 = arith.constant 0 : index
  %c3 = arith.constant 3 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %gate = memref.alloc(%t) : memref<?x2x32xf32>
  %up = memref.alloc(%t) : memref<?x2x32xf32>
  linalg.fill ins(%zero : f32) outs(%gate : memref<?x2x32xf32>)
  linalg.copy ins(%gate : memref<?x2x32xf32>) outs(%up : memref<?x2x32xf32>)
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%gate : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wg[%e, %n, %k] : memref<4x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%up : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wu[%e, %n, %k] : memref<4x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  %act = memref.alloc(%t) : memref<?x2x32xbf16>
  linalg.generic {indexing_maps = [#same, #same, #same], iterator_types = ["parallel", "parallel", "parallel"]} ins(%gate, %up : memref<?x2x32xf32>, memref<?x2x32xf32>) outs(%act : memref<?x2x32xbf16>) attrs = {dsc.library_swiglu} {
  ^bb0(%g: f32, %u: f32, %o: bf16):
    %ng = arith.negf %g : f32
    %ex = math.exp %ng : f32
    %de = arith.addf %ex, %one : f32
    %si = arith.divf %g, %de : f32
    %m = arith.mulf %si, %u : f32
    %r = arith.truncf %m : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %gate : memref<?x2x32xf32>
  memref.dealloc %up : memref<?x2x32xf32>
  linalg.fill ins(%zero : f32) outs(%out : memref<?x2x64xf32>)
  linalg.generic {indexing_maps = [#slot, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%act, %idx : memref<?x2x32xbf16>, memref<?x2xi64>) outs(%out : memref<?x2x64xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wd[%e, %n, %k] : memref<4x64x32xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %act : memref<?x2x32xbf16>
  return
}

// -----

// Another body (no SiLU):
// CHECK-LABEL: func.func @other_body
// CHECK-COUNT-3: gpu.launch_func @dsc_grouped_gemm::@grouped_gemm_bf16_tn_m64_tiled
#token = affine_map<(d0, d1, d2, d3) -> (d0, d3)>
#slot = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#ids = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
#out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#same = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @other_body(%x: memref<?x64xbf16>, %idx: memref<?x2xi64>, %wg: memref<4x32x64xbf16>, %wu: memref<4x32x64xbf16>, %wd: memref<4x64x32xbf16>, %out: memref<?x2x64xf32>, %t: index) {
  %c0 = arith.constant 0 : index
  %c3 = arith.constant 3 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %gate = memref.alloc(%t) : memref<?x2x32xf32>
  %up = memref.alloc(%t) : memref<?x2x32xf32>
  linalg.fill ins(%zero : f32) outs(%gate : memref<?x2x32xf32>)
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%gate : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wg[%e, %n, %k] : memref<4x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%up : memref<?x2x32xf32>)
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%up : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wu[%e, %n, %k] : memref<4x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  %act = memref.alloc(%t) : memref<?x2x32xbf16>
  // expected-remark @+1 {{SwiGLU left as generated code: its body is not bf16(g / (1 + exp(-g)) * u)}}
  linalg.generic {indexing_maps = [#same, #same, #same], iterator_types = ["parallel", "parallel", "parallel"]} ins(%gate, %up : memref<?x2x32xf32>, memref<?x2x32xf32>) outs(%act : memref<?x2x32xbf16>) attrs = {dsc.library_swiglu} {
  ^bb0(%g: f32, %u: f32, %o: bf16):
    %m = arith.mulf %g, %u : f32
    %r = arith.truncf %m : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %gate : memref<?x2x32xf32>
  memref.dealloc %up : memref<?x2x32xf32>
  linalg.fill ins(%zero : f32) outs(%out : memref<?x2x64xf32>)
  linalg.generic {indexing_maps = [#slot, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%act, %idx : memref<?x2x32xbf16>, memref<?x2xi64>) outs(%out : memref<?x2x64xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wd[%e, %n, %k] : memref<4x64x32xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %act : memref<?x2x32xbf16>
  return
}

// -----

// The same operand twice (silu(g) * g):
// CHECK-LABEL: func.func @gate_twice
// CHECK-COUNT-3: gpu.launch_func @dsc_grouped_gemm::@grouped_gemm_bf16_tn_m64_tiled
#token = affine_map<(d0, d1, d2, d3) -> (d0, d3)>
#slot = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#ids = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
#out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#same = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @gate_twice(%x: memref<?x64xbf16>, %idx: memref<?x2xi64>, %wg: memref<4x32x64xbf16>, %wu: memref<4x32x64xbf16>, %wd: memref<4x64x32xbf16>, %out: memref<?x2x64xf32>, %t: index) {
  %c0 = arith.constant 0 : index
  %c3 = arith.constant 3 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %gate = memref.alloc(%t) : memref<?x2x32xf32>
  %up = memref.alloc(%t) : memref<?x2x32xf32>
  linalg.fill ins(%zero : f32) outs(%gate : memref<?x2x32xf32>)
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%gate : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wg[%e, %n, %k] : memref<4x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%up : memref<?x2x32xf32>)
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%up : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wu[%e, %n, %k] : memref<4x32x64xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  %act = memref.alloc(%t) : memref<?x2x32xbf16>
  // expected-remark @+1 {{SwiGLU left as generated code: its operands are not the sums of a routed layer's gate and up GEMMs}}
  linalg.generic {indexing_maps = [#same, #same, #same], iterator_types = ["parallel", "parallel", "parallel"]} ins(%gate, %gate : memref<?x2x32xf32>, memref<?x2x32xf32>) outs(%act : memref<?x2x32xbf16>) attrs = {dsc.library_swiglu} {
  ^bb0(%g: f32, %u: f32, %o: bf16):
    %ng = arith.negf %g : f32
    %ex = math.exp %ng : f32
    %de = arith.addf %ex, %one : f32
    %si = arith.divf %g, %de : f32
    %m = arith.mulf %si, %u : f32
    %r = arith.truncf %m : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %gate : memref<?x2x32xf32>
  memref.dealloc %up : memref<?x2x32xf32>
  linalg.fill ins(%zero : f32) outs(%out : memref<?x2x64xf32>)
  linalg.generic {indexing_maps = [#slot, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%act, %idx : memref<?x2x32xbf16>, memref<?x2xi64>) outs(%out : memref<?x2x64xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wd[%e, %n, %k] : memref<4x64x32xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %act : memref<?x2x32xbf16>
  return
}

// -----

// An f32 result (not the down GEMM's bf16 input):
// CHECK-LABEL: func.func @f32_result
// CHECK: math.exp
func.func @f32_result(%g0: memref<?x2x32xf32>, %u0: memref<?x2x32xf32>, %a0: memref<?x2x32xf32>) {
  %one = arith.constant 1.0 : f32
  // expected-remark @+1 {{SwiGLU left as generated code: operands are not f32, f32 -> bf16}}
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%g0, %u0 : memref<?x2x32xf32>, memref<?x2x32xf32>) outs(%a0 : memref<?x2x32xf32>) attrs = {dsc.library_swiglu} {
  ^bb0(%g: f32, %u: f32, %o: f32):
    %ng = arith.negf %g : f32
    %ex = math.exp %ng : f32
    %de = arith.addf %ex, %one : f32
    %si = arith.divf %g, %de : f32
    %m = arith.mulf %si, %u : f32
    linalg.yield %m : f32
  }
  return
}

// -----

// No routed GEMMs at all:
// CHECK-LABEL: func.func @alone
// CHECK: math.exp
#same = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @alone(%g0: memref<?x2x32xf32>, %u0: memref<?x2x32xf32>, %a0: memref<?x2x32xbf16>) {
  %one = arith.constant 1.0 : f32
  // expected-remark @+1 {{SwiGLU left as generated code: its gate and up sums are not two library GEMMs' (a routed layer's or a linear layer's)}}
  linalg.generic {indexing_maps = [#same, #same, #same], iterator_types = ["parallel", "parallel", "parallel"]} ins(%g0, %u0 : memref<?x2x32xf32>, memref<?x2x32xf32>) outs(%a0 : memref<?x2x32xbf16>) attrs = {dsc.library_swiglu} {
  ^bb0(%g: f32, %u: f32, %o: bf16):
    %ng = arith.negf %g : f32
    %ex = math.exp %ng : f32
    %de = arith.addf %ex, %one : f32
    %si = arith.divf %g, %de : f32
    %m = arith.mulf %si, %u : f32
    %r = arith.truncf %m : f32 to bf16
    linalg.yield %r : bf16
  }
  return
}

// -----

// A dense MLP's (or a shared expert's) gate and up linear layers
// (dsc.library_gemm) and their marked SwiGLU: one launch of
// batched_gemm_swiglu_bf16_tn_m64 where the SwiGLU was, one batch (grid x:
// 2 x 96 packed columns in two 128-column blocks), writing the SwiGLU's
// result; the sums go.
// CHECK-LABEL: func.func @dense_mlp
// CHECK-NOT: memref<?x96xf32>
// CHECK-NOT: linalg.
// CHECK-DAG: %[[M:.*]] = memref.dim %arg0, %c0
// CHECK-DAG: %[[X:.*]] = memref.collapse_shape %arg0
// CHECK-DAG: %[[WG:.*]] = memref.collapse_shape %arg1
// CHECK-DAG: %[[WU:.*]] = memref.collapse_shape %arg2
// CHECK-DAG: %[[ACT0:.*]] = memref.alloc(%{{.*}}) : memref<?x96xbf16>
// CHECK-DAG: %[[ACT:.*]] = memref.collapse_shape %[[ACT0]]
// CHECK-DAG: %[[WGC:.*]] = memref.cast %[[WG]]
// CHECK-DAG: %[[WUC:.*]] = memref.cast %[[WU]]
// CHECK: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_swiglu_bf16_tn_m64 blocks in (%c2, %{{.*}}, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c98304_i32 args(%[[X]] : memref<?xbf16>, %[[WGC]] : memref<?xbf16>, %[[WUC]] : memref<?xbf16>, %[[ACT]] : memref<?xbf16>, %[[M]] : index, %c96 : index, %c64 : index, %c64 : index, %c64 : index, %c0 : index, %c6144 : index, %c64 : index, %c96 : index, %c96 : index)
// CHECK-NOT: gpu.launch_func
// CHECK-NOT: linalg.
// CHECK: memref.copy %[[ACT0]], %arg3
// CHECK: return
// With large tiles on sm_90a (wgmma), by the rows: from 128 rows (one
// block's, large-tile-blocks=1) gemm_wgmma_swiglu_bf16_tn, the rows and
// both weights through descriptors of 64 x 64 boxes; below, the 64-row
// mma.sync kernel.
// LARGE-LABEL: func.func @dense_mlp
// LARGE: %[[M:.*]] = memref.dim %arg0, %c0
// LARGE: %[[MANY:.*]] = arith.cmpi uge, %[[M]], %c128
// LARGE: scf.if %[[MANY]] {
// LARGE: %[[MAPA:.*]] = func.call @dsc_gpu_tensor_map_bf16(%{{.*}}, %c64, %c64)
// LARGE: %[[MAPG:.*]] = func.call @dsc_gpu_tensor_map_bf16(%{{.*}}, %c64, %c64)
// LARGE: %[[MAPU:.*]] = func.call @dsc_gpu_tensor_map_bf16(%{{.*}}, %c64, %c64)
// LARGE: gpu.launch_func @dsc_grouped_gemm_wgmma_tn::@gemm_wgmma_swiglu_bf16_tn blocks in (%c2, %{{.*}}, %c1) threads in (%c256, %c1, %c1) dynamic_shared_memory_size %c132096_i32 args(%[[MAPA]] : !llvm.ptr, %[[MAPG]] : !llvm.ptr, %[[MAPU]] : !llvm.ptr, %{{.*}} : memref<?xbf16>, %[[M]] : index, %c96 : index, %c64 : index)
// LARGE: } else {
// LARGE: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_swiglu_bf16_tn_m64
// LARGE: }
#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#b = affine_map<(d0, d1, d2) -> (d1, d2)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>
#e = affine_map<(d0, d1) -> (d0, d1)>
func.func @dense_mlp(%x: memref<?x64xbf16>, %wg: memref<96x64xbf16>, %wu: memref<96x64xbf16>, %out: memref<?x96xbf16>, %t: index) {
  %zero = arith.constant 0.0 : f32
  %zero16 = arith.constant 0.0 : bf16
  %one = arith.constant 1.0 : f32
  %act = memref.alloc(%t) : memref<?x96xbf16>
  %gate = memref.alloc(%t) : memref<?x96xf32>
  %up = memref.alloc(%t) : memref<?x96xf32>
  linalg.fill ins(%zero : f32) outs(%gate : memref<?x96xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %wg : memref<?x64xbf16>, memref<96x64xbf16>) outs(%gate : memref<?x96xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%in: bf16, %w: bf16, %acc: f32):
    %wf = arith.extf %w : bf16 to f32
    %af = arith.extf %in : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%up : memref<?x96xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %wu : memref<?x64xbf16>, memref<96x64xbf16>) outs(%up : memref<?x96xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%in: bf16, %w: bf16, %acc: f32):
    %wf = arith.extf %w : bf16 to f32
    %af = arith.extf %in : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#e, #e, #e], iterator_types = ["parallel", "parallel"]} ins(%gate, %up : memref<?x96xf32>, memref<?x96xf32>) outs(%act : memref<?x96xbf16>) attrs = {dsc.library_swiglu} {
  ^bb0(%g: f32, %u: f32, %o: bf16):
    %ng = arith.negf %g : f32
    %ex = math.exp %ng : f32
    %de = arith.addf %ex, %one : f32
    %si = arith.divf %g, %de : f32
    %m = arith.mulf %si, %u : f32
    %r = arith.truncf %m : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %gate : memref<?x96xf32>
  memref.dealloc %up : memref<?x96xf32>
  memref.copy %act, %out : memref<?x96xbf16> to memref<?x96xbf16>
  memref.dealloc %act : memref<?x96xbf16>
  return
}

// -----

// Sums read by something else: the GEMMs launch alone, the SwiGLU stays.
// CHECK-LABEL: func.func @dense_sums_read
// CHECK-COUNT-2: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_tn_m64
// CHECK: math.exp
#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#b = affine_map<(d0, d1, d2) -> (d1, d2)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>
#e = affine_map<(d0, d1) -> (d0, d1)>
func.func @dense_sums_read(%x: memref<?x64xbf16>, %wg: memref<96x64xbf16>, %wu: memref<96x64xbf16>, %out: memref<?x96xbf16>, %t: index) {
  %zero = arith.constant 0.0 : f32
  %zero16 = arith.constant 0.0 : bf16
  %one = arith.constant 1.0 : f32
  %act = memref.alloc(%t) : memref<?x96xbf16>
  %gate = memref.alloc(%t) : memref<?x96xf32>
  %up = memref.alloc(%t) : memref<?x96xf32>
  linalg.fill ins(%zero : f32) outs(%gate : memref<?x96xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %wg : memref<?x64xbf16>, memref<96x64xbf16>) outs(%gate : memref<?x96xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%in: bf16, %w: bf16, %acc: f32):
    %wf = arith.extf %w : bf16 to f32
    %af = arith.extf %in : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%up : memref<?x96xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %wu : memref<?x64xbf16>, memref<96x64xbf16>) outs(%up : memref<?x96xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%in: bf16, %w: bf16, %acc: f32):
    %wf = arith.extf %w : bf16 to f32
    %af = arith.extf %in : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  %keep = memref.alloc(%t) : memref<?x96xf32>
  memref.copy %up, %keep : memref<?x96xf32> to memref<?x96xf32>
  // expected-remark @+1 {{SwiGLU left as generated code: something else reads the sums}}
  linalg.generic {indexing_maps = [#e, #e, #e], iterator_types = ["parallel", "parallel"]} ins(%gate, %up : memref<?x96xf32>, memref<?x96xf32>) outs(%act : memref<?x96xbf16>) attrs = {dsc.library_swiglu} {
  ^bb0(%g: f32, %u: f32, %o: bf16):
    %ng = arith.negf %g : f32
    %ex = math.exp %ng : f32
    %de = arith.addf %ex, %one : f32
    %si = arith.divf %g, %de : f32
    %m = arith.mulf %si, %u : f32
    %r = arith.truncf %m : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %gate : memref<?x96xf32>
  memref.dealloc %up : memref<?x96xf32>
  memref.copy %act, %out : memref<?x96xbf16> to memref<?x96xbf16>
  memref.dealloc %act : memref<?x96xbf16>
  return
}

// -----

// Its result may be an input (a function argument here): one kernel
// reading and writing it would race.
// CHECK-LABEL: func.func @dense_alias
// CHECK-COUNT-2: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_tn_m64
#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#b = affine_map<(d0, d1, d2) -> (d1, d2)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>
#e = affine_map<(d0, d1) -> (d0, d1)>
func.func @dense_alias(%x: memref<?x64xbf16>, %wg: memref<96x64xbf16>, %wu: memref<96x64xbf16>, %out: memref<?x96xbf16>, %t: index) {
  %zero = arith.constant 0.0 : f32
  %zero16 = arith.constant 0.0 : bf16
  %one = arith.constant 1.0 : f32
  %act = memref.cast %out : memref<?x96xbf16> to memref<?x96xbf16>
  %gate = memref.alloc(%t) : memref<?x96xf32>
  %up = memref.alloc(%t) : memref<?x96xf32>
  linalg.fill ins(%zero : f32) outs(%gate : memref<?x96xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %wg : memref<?x64xbf16>, memref<96x64xbf16>) outs(%gate : memref<?x96xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%in: bf16, %w: bf16, %acc: f32):
    %wf = arith.extf %w : bf16 to f32
    %af = arith.extf %in : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%up : memref<?x96xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %wu : memref<?x64xbf16>, memref<96x64xbf16>) outs(%up : memref<?x96xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%in: bf16, %w: bf16, %acc: f32):
    %wf = arith.extf %w : bf16 to f32
    %af = arith.extf %in : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  // expected-remark @+1 {{SwiGLU left as generated code: its result may share memory with its GEMMs' operands}}
  linalg.generic {indexing_maps = [#e, #e, #e], iterator_types = ["parallel", "parallel"]} ins(%gate, %up : memref<?x96xf32>, memref<?x96xf32>) outs(%act : memref<?x96xbf16>) attrs = {dsc.library_swiglu} {
  ^bb0(%g: f32, %u: f32, %o: bf16):
    %ng = arith.negf %g : f32
    %ex = math.exp %ng : f32
    %de = arith.addf %ex, %one : f32
    %si = arith.divf %g, %de : f32
    %m = arith.mulf %si, %u : f32
    %r = arith.truncf %m : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %gate : memref<?x96xf32>
  memref.dealloc %up : memref<?x96xf32>
  return
}

// -----

// An input written between the GEMMs and the SwiGLU: the GEMMs read it
// before the write.
// CHECK-LABEL: func.func @dense_input_written
// CHECK-COUNT-2: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_tn_m64
#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#b = affine_map<(d0, d1, d2) -> (d1, d2)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>
#e = affine_map<(d0, d1) -> (d0, d1)>
func.func @dense_input_written(%x: memref<?x64xbf16>, %wg: memref<96x64xbf16>, %wu: memref<96x64xbf16>, %out: memref<?x96xbf16>, %t: index) {
  %zero = arith.constant 0.0 : f32
  %zero16 = arith.constant 0.0 : bf16
  %one = arith.constant 1.0 : f32
  %act = memref.alloc(%t) : memref<?x96xbf16>
  %gate = memref.alloc(%t) : memref<?x96xf32>
  %up = memref.alloc(%t) : memref<?x96xf32>
  linalg.fill ins(%zero : f32) outs(%gate : memref<?x96xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %wg : memref<?x64xbf16>, memref<96x64xbf16>) outs(%gate : memref<?x96xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%in: bf16, %w: bf16, %acc: f32):
    %wf = arith.extf %w : bf16 to f32
    %af = arith.extf %in : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%up : memref<?x96xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %wu : memref<?x64xbf16>, memref<96x64xbf16>) outs(%up : memref<?x96xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%in: bf16, %w: bf16, %acc: f32):
    %wf = arith.extf %w : bf16 to f32
    %af = arith.extf %in : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero16 : bf16) outs(%x : memref<?x64xbf16>)
  // expected-remark @+1 {{SwiGLU left as generated code: an input of its GEMMs may be written before it}}
  linalg.generic {indexing_maps = [#e, #e, #e], iterator_types = ["parallel", "parallel"]} ins(%gate, %up : memref<?x96xf32>, memref<?x96xf32>) outs(%act : memref<?x96xbf16>) attrs = {dsc.library_swiglu} {
  ^bb0(%g: f32, %u: f32, %o: bf16):
    %ng = arith.negf %g : f32
    %ex = math.exp %ng : f32
    %de = arith.addf %ex, %one : f32
    %si = arith.divf %g, %de : f32
    %m = arith.mulf %si, %u : f32
    %r = arith.truncf %m : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %gate : memref<?x96xf32>
  memref.dealloc %up : memref<?x96xf32>
  memref.copy %act, %out : memref<?x96xbf16> to memref<?x96xbf16>
  memref.dealloc %act : memref<?x96xbf16>
  return
}

// -----

// A sums buffer that was a zero fill an earlier copy read (bufferization
// reuses such buffers): every other use is before the up GEMM, so the
// SwiGLU fuses; the buffer stays for the fill and the copy.
// CHECK-LABEL: func.func @dense_sums_read_before
// CHECK: %[[UP:.*]] = memref.alloc(%{{.*}}) : memref<?x96xf32>
// CHECK: linalg.fill {{.*}} outs(%[[UP]] : memref<?x96xf32>)
// CHECK: memref.copy %[[UP]], %{{.*}}
// CHECK-NOT: math.exp
// CHECK: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_swiglu_bf16_tn_m64
// CHECK-NOT: math.exp
// CHECK: memref.dealloc %[[UP]]
#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#b = affine_map<(d0, d1, d2) -> (d1, d2)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>
#e = affine_map<(d0, d1) -> (d0, d1)>
func.func @dense_sums_read_before(%x: memref<?x64xbf16>, %wg: memref<96x64xbf16>, %wu: memref<96x64xbf16>, %out: memref<?x96xbf16>, %zeros: memref<?x96xf32>, %t: index) {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %act = memref.alloc(%t) : memref<?x96xbf16>
  %gate = memref.alloc(%t) : memref<?x96xf32>
  %up = memref.alloc(%t) : memref<?x96xf32>
  linalg.fill ins(%zero : f32) outs(%up : memref<?x96xf32>)
  memref.copy %up, %zeros : memref<?x96xf32> to memref<?x96xf32>
  linalg.fill ins(%zero : f32) outs(%gate : memref<?x96xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %wg : memref<?x64xbf16>, memref<96x64xbf16>) outs(%gate : memref<?x96xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%in: bf16, %w: bf16, %acc: f32):
    %wf = arith.extf %w : bf16 to f32
    %af = arith.extf %in : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %wu : memref<?x64xbf16>, memref<96x64xbf16>) outs(%up : memref<?x96xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%in: bf16, %w: bf16, %acc: f32):
    %wf = arith.extf %w : bf16 to f32
    %af = arith.extf %in : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#e, #e, #e], iterator_types = ["parallel", "parallel"]} ins(%gate, %up : memref<?x96xf32>, memref<?x96xf32>) outs(%act : memref<?x96xbf16>) attrs = {dsc.library_swiglu} {
  ^bb0(%g: f32, %u: f32, %o: bf16):
    %ng = arith.negf %g : f32
    %ex = math.exp %ng : f32
    %de = arith.addf %ex, %one : f32
    %si = arith.divf %g, %de : f32
    %m = arith.mulf %si, %u : f32
    %r = arith.truncf %m : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %gate : memref<?x96xf32>
  memref.dealloc %up : memref<?x96xf32>
  memref.copy %act, %out : memref<?x96xbf16> to memref<?x96xbf16>
  memref.dealloc %act : memref<?x96xbf16>
  return
}

// RUN: dsc-opt %s --split-input-file --dsc-library-gemms -canonicalize -verify-diagnostics | FileCheck %s
// RUN: dsc-opt %s --split-input-file --dsc-library-gemms=wgmma -canonicalize -verify-diagnostics | FileCheck %s --check-prefix=WGMMA
// RUN: dsc-opt %s --split-input-file --dsc-library-gemms="large-tiles wgmma" -canonicalize -verify-diagnostics | FileCheck %s --check-prefix=LARGE

// A linear layer with an e4m3 weight and block scales, as
// dsc-lower-to-linalg{bf16-linear-inputs} writes it and bufferization
// leaves it: the weight dequantized to bf16 into an allocation of its own
// (marked dsc.library_dequantize with its block size), the marked GEMM,
// the dealloc. With at most 128 rows the GEMM reads the e4m3 weight and
// its scales as stored (gemm_fp8w_bf16_tn_m64: rows, N, K, lda, ldc and
// the block); with more, the weight is dequantized (the allocation, the
// op and the dealloc moved into that branch) and the bf16 GEMM runs.
// (The pass does not read the dequantization's body: the real one decodes
// e4m3 bits by hand, TensorMath::dequantizeByBlocks.)
// CHECK-LABEL: func.func @linear
// CHECK-SAME: (%[[X:.*]]: memref<?x64xbf16>, %[[W:.*]]: memref<32x64xf8E4M3FN>, %[[S:.*]]: memref<2x2xf32>, %[[Y:.*]]: memref<?x32xf32>
// CHECK-NOT: memref.alloc
// CHECK: %[[ROWS:.*]] = memref.dim %[[X]], %c0
// CHECK: %[[FEW:.*]] = arith.cmpi ule, %[[ROWS]], %c128
// CHECK: scf.if %[[FEW]] {
// CHECK-DAG: %[[FW:.*]] = memref.collapse_shape %[[W]] {{\[\[}}0, 1]] : memref<32x64xf8E4M3FN> into memref<2048xf8E4M3FN>
// CHECK-DAG: %[[FS:.*]] = memref.collapse_shape %[[S]] {{\[\[}}0, 1]] : memref<2x2xf32> into memref<4xf32>
// CHECK: gpu.launch_func @dsc_grouped_gemm::@gemm_fp8w_bf16_tn_m64 blocks in (%{{.*}}, %{{.*}}, %{{.*}}) threads in (%{{.*}}, %{{.*}}, %{{.*}}) dynamic_shared_memory_size %c81920_i32 args(%{{.*}} : memref<?xbf16>, %{{.*}} : memref<?xf8E4M3FN>, %{{.*}} : memref<?xf32>, %{{.*}} : memref<?xf32>, %[[ROWS]] : index, %c32{{.*}} : index, %c64{{.*}} : index, %c64{{.*}} : index, %c32{{.*}} : index, %c16{{.*}} : index, %c32{{.*}} : index)
// CHECK-NOT: dsc.library_dequantize
// CHECK: } else {
// CHECK: %[[B:.*]] = memref.alloc() : memref<32x2x32xbf16>
// CHECK: linalg.generic {{.*}} outs(%[[B]] : memref<32x2x32xbf16>) attrs = {dsc.library_dequantize = array<i64: 16, 32>}
// CHECK: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_tn_m64
// CHECK: memref.dealloc %[[B]]
// CHECK-NEXT: }
// CHECK-NOT: memref.dealloc
// CHECK: return
// As sm_90a's pipeline runs it (large-tiles wgmma): more rows read the
// e4m3 weight too, on the dense wgmma form that converts it in shared
// memory (A and the weight through descriptors, then the scales and the
// block); no dequantization is left in either branch.
// LARGE-LABEL: func.func @linear
// LARGE-SAME: (%[[X:.*]]: memref<?x64xbf16>, %[[W:.*]]: memref<32x64xf8E4M3FN>, %[[S:.*]]: memref<2x2xf32>, %[[Y:.*]]: memref<?x32xf32>
// LARGE-NOT: memref.alloc
// LARGE: %[[ROWS:.*]] = memref.dim %[[X]], %c0
// LARGE: scf.if
// LARGE: gpu.launch_func @dsc_grouped_gemm::@gemm_fp8w_bf16_tn_m64
// LARGE: } else {
// LARGE: %[[MAPA:.*]] = func.call @dsc_gpu_tensor_map_bf16(
// LARGE: %[[WV:.*]] = memref.cast %[[W]] : memref<32x64xf8E4M3FN> to memref<?x?xf8E4M3FN, strided<[?, ?], offset: ?>>
// LARGE: %[[MAPW:.*]] = func.call @dsc_gpu_tensor_map_e4m3(%[[WV]], %c64, %c64)
// LARGE: gpu.launch_func @dsc_grouped_gemm_wgmma_tn::@gemm_wgmma_fp8w_bf16_tn blocks in (%c1, %{{.*}}, %c1) threads in (%c256, %c1, %c1) dynamic_shared_memory_size %c132096_i32 args(%[[MAPA]] : !llvm.ptr, %[[MAPW]] : !llvm.ptr, %{{.*}} : memref<?xf32>, %{{.*}} : memref<?xf32>, %[[ROWS]] : index, %c32 : index, %c64 : index, %c16 : index, %c32 : index)
// LARGE-NEXT: }
// LARGE-NOT: dsc.library_dequantize
// LARGE-NOT: memref.dealloc
// LARGE: return
#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#scale = affine_map<(d0, d1, d2) -> (d0 floordiv 16, d1)>
#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#b = affine_map<(d0, d1, d2) -> (d1, d2)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @linear(%x: memref<?x64xbf16>, %w: memref<32x64xf8E4M3FN>, %s: memref<2x2xf32>, %y: memref<?x32xf32>) {
  %zero = arith.constant 0.0 : f32
  %blocks = memref.expand_shape %w [[0], [1, 2]] output_shape [32, 2, 32] : memref<32x64xf8E4M3FN> into memref<32x2x32xf8E4M3FN>
  %b = memref.alloc() : memref<32x2x32xbf16>
  linalg.generic {indexing_maps = [#id, #scale, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%blocks, %s : memref<32x2x32xf8E4M3FN>, memref<2x2xf32>) outs(%b : memref<32x2x32xbf16>) attrs = {dsc.library_dequantize = array<i64: 16, 32>} {
  ^bb0(%e: f8E4M3FN, %sc: f32, %o: bf16):
    %f = arith.extf %e : f8E4M3FN to f32
    %p = arith.mulf %f, %sc : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  %bm = memref.collapse_shape %b [[0], [1, 2]] : memref<32x2x32xbf16> into memref<32x64xbf16>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x32xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %bm : memref<?x64xbf16>, memref<32x64xbf16>) outs(%y : memref<?x32xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%xa: bf16, %wb: bf16, %acc: f32):
    %xf = arith.extf %xa : bf16 to f32
    %wf = arith.extf %wb : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  memref.dealloc %b : memref<32x2x32xbf16>
  return
}

// -----

// A dense MLP's gate and up with e4m3 weights and their SwiGLU: one launch
// of gemm_swiglu_fp8w_bf16_tn_m64 where the SwiGLU was (both weights, then
// both scales; grid x 2 x 40 packed columns in one block) for few rows;
// otherwise both dequantizations there, then the bf16 SwiGLU kernel. The
// sums go, and with them their zero fills.
// CHECK-LABEL: func.func @mlp
// CHECK-NOT: memref.alloc()
// CHECK-NOT: math.exp
// CHECK: %[[ACT:.*]] = memref.alloc(%{{.*}}) : memref<?x40xbf16>
// CHECK-NOT: memref.alloc()
// CHECK: scf.if
// CHECK: memref.collapse_shape %arg1 {{.*}} into memref<2560xf8E4M3FN>
// CHECK-NEXT: %[[GW:.*]] = memref.cast
// CHECK: memref.collapse_shape %arg3 {{.*}} into memref<2560xf8E4M3FN>
// CHECK-NEXT: %[[UW:.*]] = memref.cast
// CHECK: memref.collapse_shape %arg2 {{.*}} into memref<6xf32>
// CHECK-NEXT: %[[GS:.*]] = memref.cast
// CHECK: memref.collapse_shape %arg4 {{.*}} into memref<6xf32>
// CHECK-NEXT: %[[US:.*]] = memref.cast
// CHECK: gpu.launch_func @dsc_grouped_gemm::@gemm_swiglu_fp8w_bf16_tn_m64 blocks in (%c1{{.*}}, %{{.*}}, %c1{{.*}}) {{.*}} args(%{{.*}} : memref<?xbf16>, %[[GW]] : memref<?xf8E4M3FN>, %[[UW]] : memref<?xf8E4M3FN>, %[[GS]] : memref<?xf32>, %[[US]] : memref<?xf32>, %{{.*}} : memref<?xbf16>, %{{.*}} : index, %c40{{.*}} : index, %c64{{.*}} : index, %c64{{.*}} : index, %c40{{.*}} : index, %c16{{.*}} : index, %c32{{.*}} : index)
// CHECK: } else {
// CHECK: %[[BG:.*]] = memref.alloc() : memref<40x2x32xbf16>
// CHECK: dsc.library_dequantize
// CHECK: %[[BU:.*]] = memref.alloc() : memref<40x2x32xbf16>
// CHECK: dsc.library_dequantize
// CHECK: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_swiglu_bf16_tn_m64
// CHECK-DAG: memref.dealloc %[[BG]]
// CHECK-DAG: memref.dealloc %[[BU]]
// CHECK: }
// CHECK-NOT: math.exp
// CHECK: memref.copy %[[ACT]]
// CHECK-NEXT: memref.dealloc %[[ACT]]
// CHECK-NEXT: return
#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#scale = affine_map<(d0, d1, d2) -> (d0 floordiv 16, d1)>
#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#b = affine_map<(d0, d1, d2) -> (d1, d2)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>
#same = affine_map<(d0, d1) -> (d0, d1)>
// LARGE-LABEL: func.func @mlp
// LARGE-NOT: math.exp
// LARGE: gpu.launch_func @dsc_grouped_gemm::@gemm_swiglu_fp8w_bf16_tn_m64
// LARGE: } else {
// LARGE: %[[MAPA:.*]] = func.call @dsc_gpu_tensor_map_bf16(
// LARGE: %[[MAPG:.*]] = func.call @dsc_gpu_tensor_map_e4m3(
// LARGE: %[[MAPU:.*]] = func.call @dsc_gpu_tensor_map_e4m3(
// LARGE: gpu.launch_func @dsc_grouped_gemm_wgmma_tn::@gemm_wgmma_swiglu_fp8w_bf16_tn blocks in (%c1, %{{.*}}, %c1) {{.*}} args(%[[MAPA]] : !llvm.ptr, %[[MAPG]] : !llvm.ptr, %[[MAPU]] : !llvm.ptr, %{{.*}} : memref<?xf32>, %{{.*}} : memref<?xf32>, %{{.*}} : memref<?xbf16>, %{{.*}} : index, %c40 : index, %c64 : index, %c16 : index, %c32 : index)
// LARGE-NOT: dsc.library_dequantize
// LARGE-NOT: math.exp
// LARGE: return
func.func @mlp(%x: memref<?x64xbf16>, %wg: memref<40x64xf8E4M3FN>, %sg: memref<3x2xf32>, %wu: memref<40x64xf8E4M3FN>, %su: memref<3x2xf32>, %out: memref<?x40xbf16>, %t: index) {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %gblocks = memref.expand_shape %wg [[0], [1, 2]] output_shape [40, 2, 32] : memref<40x64xf8E4M3FN> into memref<40x2x32xf8E4M3FN>
  %bg = memref.alloc() : memref<40x2x32xbf16>
  linalg.generic {indexing_maps = [#id, #scale, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%gblocks, %sg : memref<40x2x32xf8E4M3FN>, memref<3x2xf32>) outs(%bg : memref<40x2x32xbf16>) attrs = {dsc.library_dequantize = array<i64: 16, 32>} {
  ^bb0(%e: f8E4M3FN, %sc: f32, %o: bf16):
    %f = arith.extf %e : f8E4M3FN to f32
    %p = arith.mulf %f, %sc : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  %bgm = memref.collapse_shape %bg [[0], [1, 2]] : memref<40x2x32xbf16> into memref<40x64xbf16>
  %gate = memref.alloc(%t) : memref<?x40xf32>
  linalg.fill ins(%zero : f32) outs(%gate : memref<?x40xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %bgm : memref<?x64xbf16>, memref<40x64xbf16>) outs(%gate : memref<?x40xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%xa: bf16, %wb: bf16, %acc: f32):
    %xf = arith.extf %xa : bf16 to f32
    %wf = arith.extf %wb : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  memref.dealloc %bg : memref<40x2x32xbf16>
  %ublocks = memref.expand_shape %wu [[0], [1, 2]] output_shape [40, 2, 32] : memref<40x64xf8E4M3FN> into memref<40x2x32xf8E4M3FN>
  %bu = memref.alloc() : memref<40x2x32xbf16>
  linalg.generic {indexing_maps = [#id, #scale, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%ublocks, %su : memref<40x2x32xf8E4M3FN>, memref<3x2xf32>) outs(%bu : memref<40x2x32xbf16>) attrs = {dsc.library_dequantize = array<i64: 16, 32>} {
  ^bb0(%e: f8E4M3FN, %sc: f32, %o: bf16):
    %f = arith.extf %e : f8E4M3FN to f32
    %p = arith.mulf %f, %sc : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  %bum = memref.collapse_shape %bu [[0], [1, 2]] : memref<40x2x32xbf16> into memref<40x64xbf16>
  %up = memref.alloc(%t) : memref<?x40xf32>
  linalg.fill ins(%zero : f32) outs(%up : memref<?x40xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %bum : memref<?x64xbf16>, memref<40x64xbf16>) outs(%up : memref<?x40xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%xa: bf16, %wb: bf16, %acc: f32):
    %xf = arith.extf %xa : bf16 to f32
    %wf = arith.extf %wb : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  memref.dealloc %bu : memref<40x2x32xbf16>
  %act = memref.alloc(%t) : memref<?x40xbf16>
  linalg.generic {indexing_maps = [#same, #same, #same], iterator_types = ["parallel", "parallel"]} ins(%gate, %up : memref<?x40xf32>, memref<?x40xf32>) outs(%act : memref<?x40xbf16>) attrs = {dsc.library_swiglu} {
  ^bb0(%g: f32, %u: f32, %o: bf16):
    %ng = arith.negf %g : f32
    %ex = math.exp %ng : f32
    %de = arith.addf %ex, %one : f32
    %si = arith.divf %g, %de : f32
    %pr = arith.mulf %si, %u : f32
    %r = arith.truncf %pr : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %gate : memref<?x40xf32>
  memref.dealloc %up : memref<?x40xf32>
  memref.copy %act, %out : memref<?x40xbf16> to memref<?x40xbf16>
  memref.dealloc %act : memref<?x40xbf16>
  return
}

// -----

// What the e4m3 kernel cannot take stays as it was (the weight dequantized
// in full, then the bf16 GEMM), with a remark saying why: the dequantized
// weight read by something else too; its scales written between the
// dequantization and the GEMM; scale blocks of 8 columns (a 16-byte copy
// would straddle two).
#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#scale = affine_map<(d0, d1, d2) -> (d0 floordiv 16, d1)>
#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#b = affine_map<(d0, d1, d2) -> (d1, d2)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @read_elsewhere
// CHECK-NOT: scf.if
// CHECK-NOT: gemm_fp8w
// CHECK: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_tn_m64
func.func @read_elsewhere(%x: memref<?x64xbf16>, %w: memref<32x64xf8E4M3FN>, %s: memref<2x4xf32>, %y: memref<?x32xf32>, %copy: memref<32x64xbf16>) {
  %blocks = memref.expand_shape %w [[0], [1, 2]] output_shape [32, 4, 16] : memref<32x64xf8E4M3FN> into memref<32x4x16xf8E4M3FN>
  %b = memref.alloc() : memref<32x4x16xbf16>
  linalg.generic {indexing_maps = [#id, #scale, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%blocks, %s : memref<32x4x16xf8E4M3FN>, memref<2x4xf32>) outs(%b : memref<32x4x16xbf16>) attrs = {dsc.library_dequantize = array<i64: 16, 16>} {
  ^bb0(%e: f8E4M3FN, %sc: f32, %o: bf16):
    %f = arith.extf %e : f8E4M3FN to f32
    %p = arith.mulf %f, %sc : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  %bm = memref.collapse_shape %b [[0], [1, 2]] : memref<32x4x16xbf16> into memref<32x64xbf16>
  // expected-remark @below {{e4m3 weight dequantized in full for every call: B's buffer has uses besides its dequantization and the GEMM}}
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %bm : memref<?x64xbf16>, memref<32x64xbf16>) outs(%y : memref<?x32xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%xa: bf16, %wb: bf16, %acc: f32):
    %xf = arith.extf %xa : bf16 to f32
    %wf = arith.extf %wb : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  memref.copy %bm, %copy : memref<32x64xbf16> to memref<32x64xbf16>
  memref.dealloc %b : memref<32x4x16xbf16>
  return
}

// CHECK-LABEL: func.func @written_between
// CHECK-NOT: scf.if
// CHECK-NOT: gemm_fp8w
// CHECK: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_tn_m64
func.func @written_between(%x: memref<?x64xbf16>, %w: memref<32x64xf8E4M3FN>, %s: memref<2x4xf32>, %y: memref<?x32xf32>, %other: memref<2x4xf32>) {
  %blocks = memref.expand_shape %w [[0], [1, 2]] output_shape [32, 4, 16] : memref<32x64xf8E4M3FN> into memref<32x4x16xf8E4M3FN>
  %b = memref.alloc() : memref<32x4x16xbf16>
  linalg.generic {indexing_maps = [#id, #scale, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%blocks, %s : memref<32x4x16xf8E4M3FN>, memref<2x4xf32>) outs(%b : memref<32x4x16xbf16>) attrs = {dsc.library_dequantize = array<i64: 16, 16>} {
  ^bb0(%e: f8E4M3FN, %sc: f32, %o: bf16):
    %f = arith.extf %e : f8E4M3FN to f32
    %p = arith.mulf %f, %sc : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  %bm = memref.collapse_shape %b [[0], [1, 2]] : memref<32x4x16xbf16> into memref<32x64xbf16>
  // The scales change after the dequantization: the GEMM must see the old.
  memref.copy %other, %s : memref<2x4xf32> to memref<2x4xf32>
  // expected-remark @below {{e4m3 weight dequantized in full for every call: its e4m3 weight or scales may be written between its dequantization and the GEMM}}
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %bm : memref<?x64xbf16>, memref<32x64xbf16>) outs(%y : memref<?x32xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%xa: bf16, %wb: bf16, %acc: f32):
    %xf = arith.extf %xa : bf16 to f32
    %wf = arith.extf %wb : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  memref.dealloc %b : memref<32x4x16xbf16>
  return
}

#scale8 = affine_map<(d0, d1, d2) -> (d0 floordiv 16, d1)>
// CHECK-LABEL: func.func @narrow_blocks
// CHECK-NOT: scf.if
// CHECK-NOT: gemm_fp8w
// CHECK: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_tn_m64
func.func @narrow_blocks(%x: memref<?x64xbf16>, %w: memref<32x64xf8E4M3FN>, %s: memref<2x8xf32>, %y: memref<?x32xf32>) {
  %blocks = memref.expand_shape %w [[0], [1, 2]] output_shape [32, 8, 8] : memref<32x64xf8E4M3FN> into memref<32x8x8xf8E4M3FN>
  %b = memref.alloc() : memref<32x8x8xbf16>
  linalg.generic {indexing_maps = [#id, #scale8, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%blocks, %s : memref<32x8x8xf8E4M3FN>, memref<2x8xf32>) outs(%b : memref<32x8x8xbf16>) attrs = {dsc.library_dequantize = array<i64: 16, 8>} {
  ^bb0(%e: f8E4M3FN, %sc: f32, %o: bf16):
    %f = arith.extf %e : f8E4M3FN to f32
    %p = arith.mulf %f, %sc : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  %bm = memref.collapse_shape %b [[0], [1, 2]] : memref<32x8x8xbf16> into memref<32x64xbf16>
  // expected-remark @below {{e4m3 weight dequantized in full for every call: K = 64 or the scale block's 8 columns are not a multiple of 16}}
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %bm : memref<?x64xbf16>, memref<32x64xbf16>) outs(%y : memref<?x32xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%xa: bf16, %wb: bf16, %acc: f32):
    %xf = arith.extf %xa : bf16 to f32
    %wf = arith.extf %wb : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  memref.dealloc %b : memref<32x8x8xbf16>
  return
}

// -----

// A routed layer with e4m3 stacks and block scales (16 x 32; the mark's
// value, and S[e, n / 16, k / 32] in the bodies, whose weight is
// bf16(decode(W) * S)): the same dispatch and fusions on the e4m3 kernels,
// each stack followed by its scales, then the block size.
// CHECK-LABEL: func.func @fp8_layer
// CHECK: gpu.launch_func @dsc_moe_dispatch::@moe_align
// CHECK: gpu.launch_func @dsc_moe_dispatch::@moe_tiles
// CHECK: %[[WGC:.*]] = memref.collapse_shape %arg2 {{.*}} into memref<8192xf8E4M3FN>
// CHECK-NEXT: %[[WG:.*]] = memref.cast %[[WGC]]
// CHECK-NEXT: %[[WUC:.*]] = memref.collapse_shape %arg3 {{.*}} into memref<8192xf8E4M3FN>
// CHECK-NEXT: %[[WU:.*]] = memref.cast %[[WUC]]
// CHECK-NEXT: %[[SGC:.*]] = memref.collapse_shape %arg5 {{.*}} into memref<16xf32>
// CHECK-NEXT: %[[SG:.*]] = memref.cast %[[SGC]]
// CHECK-NEXT: %[[SUC:.*]] = memref.collapse_shape %arg6 {{.*}} into memref<16xf32>
// CHECK-NEXT: %[[SU:.*]] = memref.cast %[[SUC]]
// CHECK: gpu.launch_func @dsc_grouped_gemm::@grouped_gemm_swiglu_fp8w_bf16_tn_m64_tiled {{.*}} dynamic_shared_memory_size %c81920_i32 args(%{{.*}} : memref<?xbf16>, %[[WG]] : memref<?xf8E4M3FN>, %[[WU]] : memref<?xf8E4M3FN>, %[[SG]] : memref<?xf32>, %[[SU]] : memref<?xf32>, %{{.*}} : memref<?xbf16>, %{{.*}} : memref<?xi32>, %{{.*}} : memref<?xi32>, %c32 : index, %c64 : index, %c16 : index, %c32 : index)
// CHECK: %[[WDC:.*]] = memref.collapse_shape %arg4 {{.*}} into memref<8192xf8E4M3FN>
// CHECK-NEXT: %[[WD:.*]] = memref.cast %[[WDC]]
// CHECK-NEXT: %[[SDC:.*]] = memref.collapse_shape %arg7 {{.*}} into memref<16xf32>
// CHECK-NEXT: %[[SD:.*]] = memref.cast %[[SDC]]
// CHECK: gpu.launch_func @dsc_grouped_gemm::@grouped_gemm_fp8w_bf16_tn_m64_tiled {{.*}} args(%{{.*}} : memref<?xbf16>, %[[WD]] : memref<?xf8E4M3FN>, %[[SD]] : memref<?xf32>, %{{.*}} : memref<?xf32>, %{{.*}} : memref<?xi32>, %{{.*}} : memref<?xi32>, %c64 : index, %c32 : index, %c16 : index, %c32 : index)
// CHECK-NOT: math.exp
// CHECK-NOT: gpu.launch_func
// CHECK: return
// On sm_90a (wgmma): 128-row tiles, and the wgmma kernels that convert the
// e4m3 bytes in shared memory, each stack through an unswizzled e4m3
// descriptor (the rows through a bf16 one), launched only with slots.
// WGMMA-LABEL: func.func @fp8_layer
// WGMMA: gpu.launch_func @dsc_moe_dispatch::@moe_tiles {{.*}} args(%{{.*}} : memref<?xi32>, %c4 : index, %c128 : index,
// WGMMA: %[[ANY:.*]] = arith.cmpi ne, %[[SLOTS:.*]], %c0
// WGMMA-NEXT: scf.if %[[ANY]] {
// WGMMA: %[[MAPA:.*]] = func.call @dsc_gpu_tensor_map_bf16(%{{.*}}, %c64, %c64)
// WGMMA: %[[WG:.*]] = memref.collapse_shape %arg2 {{\[\[}}0, 1], [2]] : memref<4x32x64xf8E4M3FN> into memref<128x64xf8E4M3FN>
// WGMMA: %[[MAPG:.*]] = func.call @dsc_gpu_tensor_map_e4m3(%{{.*}}, %c64, %c64) : (memref<?x?xf8E4M3FN, strided<[?, ?], offset: ?>>, index, index) -> !llvm.ptr
// WGMMA: %[[MAPU:.*]] = func.call @dsc_gpu_tensor_map_e4m3(
// WGMMA: gpu.launch_func @dsc_grouped_gemm_wgmma_tn::@grouped_gemm_wgmma_swiglu_fp8w_bf16_tn_tiled blocks in (%c1, %{{.*}}, %c1) threads in (%c256, %c1, %c1) dynamic_shared_memory_size %c132096_i32 args(%[[MAPA]] : !llvm.ptr, %[[MAPG]] : !llvm.ptr, %[[MAPU]] : !llvm.ptr, %{{.*}} : memref<?xf32>, %{{.*}} : memref<?xf32>, %{{.*}} : memref<?xbf16>, %{{.*}} : memref<?xi32>, %{{.*}} : memref<?xi32>, %c32 : index, %c64 : index, %c16 : index, %c32 : index)
// WGMMA: scf.if
// WGMMA: %[[MAPD:.*]] = func.call @dsc_gpu_tensor_map_e4m3(
// WGMMA: gpu.launch_func @dsc_grouped_gemm_wgmma_tn::@grouped_gemm_wgmma_fp8w_bf16_tn_tiled {{.*}} args(%{{.*}} : !llvm.ptr, %[[MAPD]] : !llvm.ptr, %{{.*}} : memref<?xf32>, %{{.*}} : memref<?xf32>, %{{.*}} : memref<?xi32>, %{{.*}} : memref<?xi32>, %c64 : index, %c32 : index, %c16 : index, %c32 : index)
// WGMMA-NOT: gpu.launch_func
// WGMMA: return
#token = affine_map<(d0, d1, d2, d3) -> (d0, d3)>
#slot = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#ids = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
#out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#same = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @fp8_layer(%x: memref<?x64xbf16>, %idx: memref<?x2xi64>, %wg: memref<4x32x64xf8E4M3FN>, %wu: memref<4x32x64xf8E4M3FN>, %wd: memref<4x64x32xf8E4M3FN>, %sg: memref<4x2x2xf32>, %su: memref<4x2x2xf32>, %sd: memref<4x4x1xf32>, %out: memref<?x2x64xf32>, %t: index) {
  %c16 = arith.constant 16 : index
  %c32 = arith.constant 32 : index
  %c0 = arith.constant 0 : index
  %c3 = arith.constant 3 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %gate = memref.alloc(%t) : memref<?x2x32xf32>
  %up = memref.alloc(%t) : memref<?x2x32xf32>
  linalg.fill ins(%zero : f32) outs(%gate : memref<?x2x32xf32>)
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%gate : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm = array<i64: 16, 32>} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wg[%e, %n, %k] : memref<4x32x64xf8E4M3FN>
    %wf = arith.extf %wv : f8E4M3FN to f32
    %bn = arith.divui %n, %c16 : index
    %bk = arith.divui %k, %c32 : index
    %sv = memref.load %sg[%e, %bn, %bk] : memref<4x2x2xf32>
    %wd0 = arith.mulf %wf, %sv : f32
    %wr = arith.truncf %wd0 : f32 to bf16
    %wrf = arith.extf %wr : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wrf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%up : memref<?x2x32xf32>)
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%up : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm = array<i64: 16, 32>} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wu[%e, %n, %k] : memref<4x32x64xf8E4M3FN>
    %wf = arith.extf %wv : f8E4M3FN to f32
    %bn = arith.divui %n, %c16 : index
    %bk = arith.divui %k, %c32 : index
    %sv = memref.load %su[%e, %bn, %bk] : memref<4x2x2xf32>
    %wd0 = arith.mulf %wf, %sv : f32
    %wr = arith.truncf %wd0 : f32 to bf16
    %wrf = arith.extf %wr : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wrf : f32
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
  linalg.generic {indexing_maps = [#slot, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%act, %idx : memref<?x2x32xbf16>, memref<?x2xi64>) outs(%out : memref<?x2x64xf32>) attrs = {dsc.library_grouped_gemm = array<i64: 16, 32>} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wd[%e, %n, %k] : memref<4x64x32xf8E4M3FN>
    %wf = arith.extf %wv : f8E4M3FN to f32
    %bn = arith.divui %n, %c16 : index
    %bk = arith.divui %k, %c32 : index
    %sv = memref.load %sd[%e, %bn, %bk] : memref<4x4x1xf32>
    %wd0 = arith.mulf %wf, %sv : f32
    %wr = arith.truncf %wd0 : f32 to bf16
    %wrf = arith.extf %wr : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wrf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %act : memref<?x2x32xbf16>
  return
}


// -----

// An e4m3 routed GEMM whose weight factor is not W's element decoded (the
// scale times itself): it stays generated code, with a remark.
#token = affine_map<(d0, d1, d2, d3) -> (d0, d3)>
#ids = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
#out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @not_w
// CHECK-NOT: gpu.launch_func
// CHECK: return
func.func @not_w(%x: memref<?x64xbf16>, %idx: memref<?x2xi64>, %w: memref<4x32x64xf8E4M3FN>, %sw: memref<4x2x2xf32>, %c: memref<?x2x32xf32>) {
  %c0 = arith.constant 0 : index
  %c3 = arith.constant 3 : index
  %c16 = arith.constant 16 : index
  %c32 = arith.constant 32 : index
  // expected-remark @below {{GEMM left as generated code: its body is not acc + extf(a) * extf(truncf(decode(W[e, n, k]) * S[e, n / blockN, k / blockK]))}}
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%c : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm = array<i64: 16, 32>} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %w[%e, %n, %k] : memref<4x32x64xf8E4M3FN>
    %wf = arith.extf %wv : f8E4M3FN to f32
    %bn = arith.divui %n, %c16 : index
    %bk = arith.divui %k, %c32 : index
    %sv = memref.load %sw[%e, %bn, %bk] : memref<4x2x2xf32>
    %wd0 = arith.mulf %sv, %sv : f32
    %wr = arith.truncf %wd0 : f32 to bf16
    %wrf = arith.extf %wr : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wrf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

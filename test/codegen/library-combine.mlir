// RUN: dsc-opt %s --split-input-file --dsc-library-gemms -canonicalize -verify-diagnostics | FileCheck %s

// The weighted combine after a routed layer's down GEMM (dsc.library_combine,
// as dsc-lower-to-linalg{fixed-shapes bf16-linear-inputs} marks it) reads
// each slot's row where the down GEMM's kernel wrote it, in expert order,
// through the slot's row (moe_align's slotRow): no scatter of the GEMM's
// rows into [tokens, top_k, N] and no buffer of that shape. The sorting's
// buffers are freed after the combine. (kernels-emulated.test runs
// Inputs/routed-experts.mlir's @moe_layer, the same form, on the emulator.)
// CHECK-LABEL: func.func @moe_layer
// CHECK-NOT: memref<?x2x64xf32>
// CHECK: memref.alloc(%{{.*}}) : memref<?x2xi32>
// CHECK: %[[SLOTROW:.*]] = memref.alloc(%{{.*}}) : memref<?x2xi32>
// CHECK: gpu.launch_func @dsc_moe_dispatch::@moe_align
// CHECK: gpu.launch_func @dsc_grouped_gemm::@grouped_gemm_swiglu_bf16_tn_m64_tiled
// CHECK: %[[ROWS:.*]] = memref.alloc(%{{.*}}) : memref<?x64xf32>
// CHECK: gpu.launch_func @dsc_grouped_gemm::@grouped_gemm_bf16_tn_m64_tiled
// CHECK-NOT: linalg.generic
// CHECK: linalg.fill {{.*}} outs(%arg6 : memref<?x64xf32>)
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel", "reduction"]} ins(%arg5, %[[SLOTROW]] : memref<?x2xf32>, memref<?x2xi32>) outs(%arg6 : memref<?x64xf32>) {
// CHECK-NEXT: ^bb0(%[[W:.*]]: f32, %[[R:.*]]: i32, %[[ACC:.*]]: f32):
// CHECK-NEXT: %[[RI:.*]] = arith.index_cast %[[R]] : i32 to index
// CHECK-NEXT: %[[D:.*]] = linalg.index 1 : index
// CHECK-NEXT: %[[X:.*]] = memref.load %[[ROWS]][%[[RI]], %[[D]]]
// CHECK-NEXT: %[[P:.*]] = arith.mulf %[[W]], %[[X]] : f32
// CHECK-NEXT: arith.addf %[[ACC]], %[[P]] : f32
// CHECK: memref.dealloc %[[SLOTROW]]
// CHECK: memref.dealloc %[[ROWS]]
// CHECK-NOT: dsc.library_combine
// CHECK: return
#token = affine_map<(d0, d1, d2, d3) -> (d0, d3)>
#slot = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#ids = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
#out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#same = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#cw = affine_map<(d0, d1, d2) -> (d0, d2)>
#cc = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
#cy = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @moe_layer(%x: memref<?x64xbf16>, %idx: memref<?x2xi64>, %wg: memref<4x32x64xbf16>, %wu: memref<4x32x64xbf16>, %wd: memref<4x64x32xbf16>, %weights: memref<?x2xf32>, %y: memref<?x64xf32>, %t: index) {
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
  %out = memref.alloc(%t) : memref<?x2x64xf32>
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
  linalg.fill ins(%zero : f32) outs(%y : memref<?x64xf32>)
  linalg.generic {indexing_maps = [#cw, #cc, #cy], iterator_types = ["parallel", "parallel", "reduction"]} ins(%weights, %out : memref<?x2xf32>, memref<?x2x64xf32>) outs(%y : memref<?x64xf32>) attrs = {dsc.library_combine} {
  ^bb0(%w: f32, %v: f32, %acc: f32):
    %p = arith.mulf %w, %v : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %out : memref<?x2x64xf32>
  return
}

// -----

// Something else reads the down GEMM's result: it is put back per slot
// and the combine reads it as it was.
// CHECK-LABEL: func.func @rows_read
// CHECK: gpu.launch_func @dsc_grouped_gemm::@grouped_gemm_bf16_tn_m64_tiled
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : memref<?x2xi32>) outs(%[[OUT:.*]] : memref<?x2x64xf32>)
// CHECK: linalg.generic {{.*}} ins(%arg5, %[[OUT]] : memref<?x2xf32>, memref<?x2x64xf32>)
#token = affine_map<(d0, d1, d2, d3) -> (d0, d3)>
#slot = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#ids = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
#out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#same = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#cw = affine_map<(d0, d1, d2) -> (d0, d2)>
#cc = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
#cy = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @rows_read(%x: memref<?x64xbf16>, %idx: memref<?x2xi64>, %wg: memref<4x32x64xbf16>, %wu: memref<4x32x64xbf16>, %wd: memref<4x64x32xbf16>, %weights: memref<?x2xf32>, %y: memref<?x64xf32>, %t: index) {
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
  %out = memref.alloc(%t) : memref<?x2x64xf32>
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
  %keep = memref.alloc(%t) : memref<?x2x64xf32>
  memref.copy %out, %keep : memref<?x2x64xf32> to memref<?x2x64xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x64xf32>)
  // expected-remark @+1 {{combine left as it was: something else uses its GEMM's result (or its initialization is still there)}}
  linalg.generic {indexing_maps = [#cw, #cc, #cy], iterator_types = ["parallel", "parallel", "reduction"]} ins(%weights, %out : memref<?x2xf32>, memref<?x2x64xf32>) outs(%y : memref<?x64xf32>) attrs = {dsc.library_combine} {
  ^bb0(%w: f32, %v: f32, %acc: f32):
    %p = arith.mulf %w, %v : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %out : memref<?x2x64xf32>
  return
}

// -----

// After a down GEMM whose SwiGLU is not fused (unmarked): the same.
// CHECK-LABEL: func.func @unfused_down
// CHECK-COUNT-3: gpu.launch_func @dsc_grouped_gemm::@grouped_gemm_bf16_tn_m64_tiled
// CHECK: linalg.generic {{.*}} ins(%arg5, %{{.*}} : memref<?x2xf32>, memref<?x2xi32>) outs(%arg6 : memref<?x64xf32>)
#token = affine_map<(d0, d1, d2, d3) -> (d0, d3)>
#slot = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#ids = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
#out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#same = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#cw = affine_map<(d0, d1, d2) -> (d0, d2)>
#cc = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
#cy = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @unfused_down(%x: memref<?x64xbf16>, %idx: memref<?x2xi64>, %wg: memref<4x32x64xbf16>, %wu: memref<4x32x64xbf16>, %wd: memref<4x64x32xbf16>, %weights: memref<?x2xf32>, %y: memref<?x64xf32>, %t: index) {
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
  linalg.generic {indexing_maps = [#same, #same, #same], iterator_types = ["parallel", "parallel", "parallel"]} ins(%gate, %up : memref<?x2x32xf32>, memref<?x2x32xf32>) outs(%act : memref<?x2x32xbf16>) {
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
  %out = memref.alloc(%t) : memref<?x2x64xf32>
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
  linalg.fill ins(%zero : f32) outs(%y : memref<?x64xf32>)
  linalg.generic {indexing_maps = [#cw, #cc, #cy], iterator_types = ["parallel", "parallel", "reduction"]} ins(%weights, %out : memref<?x2xf32>, memref<?x2x64xf32>) outs(%y : memref<?x64xf32>) attrs = {dsc.library_combine} {
  ^bb0(%w: f32, %v: f32, %acc: f32):
    %p = arith.mulf %w, %v : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %out : memref<?x2x64xf32>
  return
}

// -----

// The down GEMM's result a function argument (the caller may read it):
// put back per slot.
// CHECK-LABEL: func.func @result_argument
#token = affine_map<(d0, d1, d2, d3) -> (d0, d3)>
#slot = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#ids = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
#out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#same = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#cw = affine_map<(d0, d1, d2) -> (d0, d2)>
#cc = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
#cy = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @result_argument(%x: memref<?x64xbf16>, %idx: memref<?x2xi64>, %wg: memref<4x32x64xbf16>, %wu: memref<4x32x64xbf16>, %wd: memref<4x64x32xbf16>, %weights: memref<?x2xf32>, %y: memref<?x64xf32>, %t: index, %out: memref<?x2x64xf32>) {
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
  linalg.fill ins(%zero : f32) outs(%y : memref<?x64xf32>)
  // expected-remark @+1 {{combine left as it was: its GEMM's result is not an allocation of its own}}
  linalg.generic {indexing_maps = [#cw, #cc, #cy], iterator_types = ["parallel", "parallel", "reduction"]} ins(%weights, %out : memref<?x2xf32>, memref<?x2x64xf32>) outs(%y : memref<?x64xf32>) attrs = {dsc.library_combine} {
  ^bb0(%w: f32, %v: f32, %acc: f32):
    %p = arith.mulf %w, %v : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Another body (a plain sum):
// CHECK-LABEL: func.func @other_body
#token = affine_map<(d0, d1, d2, d3) -> (d0, d3)>
#slot = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#ids = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
#out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#same = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#cw = affine_map<(d0, d1, d2) -> (d0, d2)>
#cc = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
#cy = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @other_body(%x: memref<?x64xbf16>, %idx: memref<?x2xi64>, %wg: memref<4x32x64xbf16>, %wu: memref<4x32x64xbf16>, %wd: memref<4x64x32xbf16>, %weights: memref<?x2xf32>, %y: memref<?x64xf32>, %t: index) {
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
  %out = memref.alloc(%t) : memref<?x2x64xf32>
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
  linalg.fill ins(%zero : f32) outs(%y : memref<?x64xf32>)
  // expected-remark @+1 {{combine left as it was: its body is not acc + w * c}}
  linalg.generic {indexing_maps = [#cw, #cc, #cy], iterator_types = ["parallel", "parallel", "reduction"]} ins(%weights, %out : memref<?x2xf32>, memref<?x2x64xf32>) outs(%y : memref<?x64xf32>) attrs = {dsc.library_combine} {
  ^bb0(%w: f32, %v: f32, %acc: f32):
    %s = arith.addf %acc, %v : f32
    linalg.yield %s : f32
  }
  memref.dealloc %out : memref<?x2x64xf32>
  return
}

// -----

// No routed GEMM before it:
// CHECK-LABEL: func.func @alone
#cw = affine_map<(d0, d1, d2) -> (d0, d2)>
#cc = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
#cy = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @alone(%weights: memref<?x2xf32>, %out: memref<?x2x64xf32>, %y: memref<?x64xf32>) {
  // expected-remark @+1 {{combine left as it was: its input is not a routed layer's library GEMM's result}}
  linalg.generic {indexing_maps = [#cw, #cc, #cy], iterator_types = ["parallel", "parallel", "reduction"]} ins(%weights, %out : memref<?x2xf32>, memref<?x2x64xf32>) outs(%y : memref<?x64xf32>) attrs = {dsc.library_combine} {
  ^bb0(%w: f32, %v: f32, %acc: f32):
    %p = arith.mulf %w, %v : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// RUN: dsc-opt %s --split-input-file --dsc-fuse-linalg-elementwise | FileCheck %s

// A chain of elementwise generics (an add, then its rounding to bf16)
// becomes one; the rounding's reader, a library GEMM, keeps its form.
#id = affine_map<(d0, d1) -> (d0, d1)>
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @chain
// CHECK: %[[F:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<?x64xf32>) outs(%{{.*}} : tensor<?x64xbf16>)
// CHECK: arith.addf
// CHECK: arith.truncf
// CHECK: linalg.generic {{.*}} ins(%[[F]], %{{.*}} : tensor<?x64xbf16>, tensor<32x64xbf16>) {{.*}} attrs = {dsc.library_gemm}
// CHECK-NOT: linalg.generic
func.func @chain(%a: tensor<?x64xf32>, %b: tensor<?x64xf32>, %w: tensor<32x64xbf16>, %n: index) -> tensor<?x32xf32> {
  %e = tensor.empty(%n) : tensor<?x64xf32>
  %sum = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%a, %b : tensor<?x64xf32>, tensor<?x64xf32>) outs(%e : tensor<?x64xf32>) {
  ^bb0(%x0: f32, %x1: f32, %o: f32):
    %s = arith.addf %x0, %x1 : f32
    linalg.yield %s : f32
  } -> tensor<?x64xf32>
  %eb = tensor.empty(%n) : tensor<?x64xbf16>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%sum : tensor<?x64xf32>) outs(%eb : tensor<?x64xbf16>) {
  ^bb0(%x0: f32, %o: bf16):
    %t = arith.truncf %x0 : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<?x64xbf16>
  %zero = arith.constant 0.0 : f32
  %ec = tensor.empty(%n) : tensor<?x32xf32>
  %c = linalg.fill ins(%zero : f32) outs(%ec : tensor<?x32xf32>) -> tensor<?x32xf32>
  %g = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%r, %w : tensor<?x64xbf16>, tensor<32x64xbf16>) outs(%c : tensor<?x32xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%x0: bf16, %w0: bf16, %acc: f32):
    %xf = arith.extf %x0 : bf16 to f32
    %wf = arith.extf %w0 : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  } -> tensor<?x32xf32>
  return %g : tensor<?x32xf32>
}

// -----

// A producer with two elementwise readers fuses into both and goes away.
#id = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @two_readers
// CHECK-COUNT-2: math.exp
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @two_readers(%a: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %e = tensor.empty() : tensor<4x8xf32>
  %x = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%x0: f32, %o: f32):
    %v = math.exp %x0 : f32
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%x0: f32, %o: f32):
    %v = arith.addf %x0, %x0 : f32
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  %z = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%x0: f32, %o: f32):
    %v = arith.mulf %x0, %x0 : f32
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  return %y, %z : tensor<4x8xf32>, tensor<4x8xf32>
}

// -----

// Not fused: a reader that broadcasts the producer (it would compute each
// element again for every element it is broadcast to); a producer that a
// reduction also reads; a marked producer (the SwiGLU dsc-library-gemms
// fuses with its GEMMs).
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#r = affine_map<(d0) -> (d0)>
// CHECK-LABEL: func.func @kept
// CHECK-COUNT-7: linalg.generic
// CHECK-NOT: linalg.generic
func.func @kept(%a: tensor<4xf32>, %b: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4xf32>, tensor<4x8xf32>, tensor<4x8xbf16>) {
  %e1 = tensor.empty() : tensor<4xf32>
  %e2 = tensor.empty() : tensor<4x8xf32>
  %x = linalg.generic {indexing_maps = [#r, #r], iterator_types = ["parallel"]} ins(%a : tensor<4xf32>) outs(%e1 : tensor<4xf32>) {
  ^bb0(%x0: f32, %o: f32):
    %v = math.exp %x0 : f32
    linalg.yield %v : f32
  } -> tensor<4xf32>
  %bc = linalg.generic {indexing_maps = [#row, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4xf32>) outs(%e2 : tensor<4x8xf32>) {
  ^bb0(%x0: f32, %o: f32):
    %v = arith.addf %x0, %x0 : f32
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%b : tensor<4x8xf32>) outs(%e2 : tensor<4x8xf32>) {
  ^bb0(%x0: f32, %o: f32):
    %v = math.exp %x0 : f32
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%y : tensor<4x8xf32>) outs(%e1 : tensor<4xf32>) {
  ^bb0(%x0: f32, %acc: f32):
    %v = arith.addf %x0, %acc : f32
    linalg.yield %v : f32
  } -> tensor<4xf32>
  %z = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%y : tensor<4x8xf32>) outs(%e2 : tensor<4x8xf32>) {
  ^bb0(%x0: f32, %o: f32):
    %v = arith.mulf %x0, %x0 : f32
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  %eb = tensor.empty() : tensor<4x8xbf16>
  %act = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%b : tensor<4x8xf32>) outs(%eb : tensor<4x8xbf16>) attrs = {dsc.library_swiglu} {
  ^bb0(%x0: f32, %o: bf16):
    %v = arith.truncf %x0 : f32 to bf16
    linalg.yield %v : bf16
  } -> tensor<4x8xbf16>
  %act2 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%act : tensor<4x8xbf16>) outs(%eb : tensor<4x8xbf16>) {
  ^bb0(%x0: bf16, %o: bf16):
    %v = arith.addf %x0, %x0 : bf16
    linalg.yield %v : bf16
  } -> tensor<4x8xbf16>
  return %bc, %sum, %z, %act2 : tensor<4x8xf32>, tensor<4xf32>, tensor<4x8xf32>, tensor<4x8xbf16>
}

// -----

// The rounding to bf16 of a library RMSNorm's normed rows, their only
// reader, folds into the norm: it stores them as bf16. The add's sum keeps
// its readers.
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @norm_rounding
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x64xf32>, %[[R:.*]]: tensor<?x?x64xf32>, %[[W:.*]]: tensor<64xf32>,
// CHECK: %[[E:.*]] = tensor.empty(%{{.*}}, %{{.*}}) : tensor<?x?x64xbf16>
// CHECK: %[[Y:.*]] = dsc.rms_norm_rows %[[X]], %[[W]] outs(%[[E]]) {{.*}} -> tensor<?x?x64xbf16>
// CHECK: %[[E2:.*]] = tensor.empty(%{{.*}}, %{{.*}}) : tensor<?x?x64xbf16>
// CHECK: %[[HY:.*]]:2 = dsc.add_rms_norm_rows %[[X]], %[[R]], %[[W]] outs(%{{.*}}, %[[E2]]) {{.*}} -> tensor<?x?x64xf32>, tensor<?x?x64xbf16>
// CHECK-NOT: linalg.generic
// CHECK: return %[[Y]], %[[HY]]#0, %[[HY]]#1
func.func @norm_rounding(%x: tensor<?x?x64xf32>, %r: tensor<?x?x64xf32>, %w: tensor<64xf32>, %b: index, %s: index) -> (tensor<?x?x64xbf16>, tensor<?x?x64xf32>, tensor<?x?x64xbf16>) {
  %e = tensor.empty(%b, %s) : tensor<?x?x64xf32>
  %y = dsc.rms_norm_rows %x, %w outs(%e) {epsilon = 1.0e-06 : f64} : tensor<?x?x64xf32>, tensor<64xf32>, tensor<?x?x64xf32> -> tensor<?x?x64xf32>
  %eb = tensor.empty(%b, %s) : tensor<?x?x64xbf16>
  %yb = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%y : tensor<?x?x64xf32>) outs(%eb : tensor<?x?x64xbf16>) {
  ^bb0(%x0: f32, %o: bf16):
    %t = arith.truncf %x0 : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<?x?x64xbf16>
  %h, %n = dsc.add_rms_norm_rows %x, %r, %w outs(%e, %e) {epsilon = 1.0e-06 : f64} : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32> -> tensor<?x?x64xf32>, tensor<?x?x64xf32>
  %nb = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%n : tensor<?x?x64xf32>) outs(%eb : tensor<?x?x64xbf16>) {
  ^bb0(%x0: f32, %o: bf16):
    %t = arith.truncf %x0 : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<?x?x64xbf16>
  return %yb, %h, %nb : tensor<?x?x64xbf16>, tensor<?x?x64xf32>, tensor<?x?x64xbf16>
}

// -----

// Kept: normed rows that another op also reads (the router's f32 logits),
// and the add's sum (not its normed rows) rounded.
#id2 = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @norm_kept
// CHECK: dsc.rms_norm_rows {{.*}} -> tensor<?x64xf32>
// CHECK: arith.truncf
// CHECK: dsc.add_rms_norm_rows {{.*}} -> tensor<?x64xf32>, tensor<?x64xf32>
// CHECK: arith.truncf
func.func @norm_kept(%x: tensor<?x64xf32>, %w: tensor<64xf32>, %n: index) -> (tensor<?x64xbf16>, tensor<?x64xf32>, tensor<?x64xbf16>, tensor<?x64xf32>) {
  %e = tensor.empty(%n) : tensor<?x64xf32>
  %y = dsc.rms_norm_rows %x, %w outs(%e) {epsilon = 1.0e-06 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<?x64xf32> -> tensor<?x64xf32>
  %eb = tensor.empty(%n) : tensor<?x64xbf16>
  %yb = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%y : tensor<?x64xf32>) outs(%eb : tensor<?x64xbf16>) {
  ^bb0(%x0: f32, %o: bf16):
    %t = arith.truncf %x0 : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<?x64xbf16>
  %h, %m = dsc.add_rms_norm_rows %x, %x, %w outs(%e, %e) {epsilon = 1.0e-06 : f64} : tensor<?x64xf32>, tensor<?x64xf32>, tensor<64xf32>, tensor<?x64xf32>, tensor<?x64xf32> -> tensor<?x64xf32>, tensor<?x64xf32>
  %hb = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%h : tensor<?x64xf32>) outs(%eb : tensor<?x64xbf16>) {
  ^bb0(%x0: f32, %o: bf16):
    %t = arith.truncf %x0 : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<?x64xbf16>
  return %yb, %y, %hb, %m : tensor<?x64xbf16>, tensor<?x64xf32>, tensor<?x64xbf16>, tensor<?x64xf32>
}

// RUN: dsc-opt %s --split-input-file --dsc-lower-to-nvvm=chip=sm_90a | FileCheck %s

// Two identical loop nests (say, the same elementwise op on two pairs of
// tensors) launch the same kernel: one gpu.binary, two launches. (The
// copies of results into the caller's output buffers are one more kernel,
// shared too.)
// CHECK: gpu.binary @[[K:[a-z_0-9]+]] {{.*}}add.rn.f32
// CHECK-NOT: add.rn.f32
// CHECK-LABEL: llvm.func @dsc_entry_forward
// CHECK: gpu.launch_func @[[K]]::@
// CHECK: gpu.launch_func @[[K]]::@
func.func @forward(%a: tensor<?x8xf32>, %b: tensor<?x8xf32>, %c: tensor<?x8xf32>, %d: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %a, %c0 : tensor<?x8xf32>
  %e = tensor.empty(%n) : tensor<?x8xf32>
  %0 = linalg.add ins(%a, %b : tensor<?x8xf32>, tensor<?x8xf32>) outs(%e : tensor<?x8xf32>) -> tensor<?x8xf32>
  %e2 = tensor.empty(%n) : tensor<?x8xf32>
  %1 = linalg.add ins(%c, %d : tensor<?x8xf32>, tensor<?x8xf32>) outs(%e2 : tensor<?x8xf32>) -> tensor<?x8xf32>
  return %0, %1 : tensor<?x8xf32>, tensor<?x8xf32>
}

// -----

// Kernels whose bodies differ (an add, a multiply) stay separate.
// (Constants defined outside a launch become kernel arguments, so kernels
// differing only in such a constant are rightly the same kernel.)
// CHECK-COUNT-2: gpu.binary @negative_different_body_kernel
// CHECK-LABEL: llvm.func @dsc_entry_negative_different_body
func.func @negative_different_body(%a: tensor<?x8xf32>, %b: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %a, %c0 : tensor<?x8xf32>
  %one = arith.constant 1.0 : f32
  %two = arith.constant 2.0 : f32
  %e = tensor.empty(%n) : tensor<?x8xf32>
  %0 = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<?x8xf32>) outs(%e : tensor<?x8xf32>) {
  ^bb0(%x: f32, %o: f32):
    %y = arith.addf %x, %one : f32
    linalg.yield %y : f32
  } -> tensor<?x8xf32>
  %e2 = tensor.empty(%n) : tensor<?x8xf32>
  %1 = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%b : tensor<?x8xf32>) outs(%e2 : tensor<?x8xf32>) {
  ^bb0(%x: f32, %o: f32):
    %y = arith.mulf %x, %two : f32
    linalg.yield %y : f32
  } -> tensor<?x8xf32>
  return %0, %1 : tensor<?x8xf32>, tensor<?x8xf32>
}

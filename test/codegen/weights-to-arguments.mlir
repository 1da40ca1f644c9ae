// RUN: dsc-opt %s --split-input-file --dsc-weights-to-arguments --verify-diagnostics | FileCheck %s

// Each distinct weight becomes one trailing argument; public functions are
// marked as C-interface entry points.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32> {bufferization.writable = false}, %[[W:.*]]: tensor<8xf32> {bufferization.writable = false, dsc.weight = "norm"}, %[[E:.*]]: tensor<2x8x8xf32> {bufferization.writable = false, dsc.stack = 2 : i64, dsc.weight = "experts.{}.w"})
// CHECK-SAME: attributes {llvm.emit_c_interface}
// CHECK-NOT: dsc.weight "
// CHECK: dsc.rms_norm %[[X]], %[[W]]
// CHECK: dsc.rms_norm %{{.*}}, %[[W]]
func.func @forward(%x: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<2x8x8xf32>) {
  %w = dsc.weight "norm" : tensor<8xf32>
  %0 = dsc.rms_norm %x, %w {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %w2 = dsc.weight "norm" : tensor<8xf32>
  %1 = dsc.rms_norm %0, %w2 {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %e = dsc.weight "experts.{}.w" {stack = 2 : i64} : tensor<2x8x8xf32>
  return %1, %e : tensor<?x8xf32>, tensor<2x8x8xf32>
}

// -----

func.func private @layer() -> tensor<8xf32> {
  // expected-error @+1 {{weights must live in public entry functions, not in 'layer'}}
  %w = dsc.weight "norm" : tensor<8xf32>
  return %w : tensor<8xf32>
}

// RUN: dsc-opt %s --split-input-file --dsc-dedup-functions | FileCheck %s

// Two layers with the same body (weights are arguments) become one.
// CHECK-LABEL: func.func private @layer_0
// CHECK-NOT: func.func private @layer_1
// CHECK: func.func private @layer_2
// CHECK-LABEL: func.func @forward
// CHECK: call @layer_0
// CHECK: call @layer_0
// CHECK: call @layer_2
func.func private @layer_0(%h: tensor<?x8xf32>, %w: tensor<8xf32>) -> tensor<?x8xf32> {
  %0 = dsc.rms_norm %h, %w {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}
func.func private @layer_1(%h: tensor<?x8xf32>, %w: tensor<8xf32>) -> tensor<?x8xf32> {
  %0 = dsc.rms_norm %h, %w {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}
// A different epsilon is a different layer.
func.func private @layer_2(%h: tensor<?x8xf32>, %w: tensor<8xf32>) -> tensor<?x8xf32> {
  %0 = dsc.rms_norm %h, %w {epsilon = 1.0e-05 : f64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}
func.func @forward(%h: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %w0 = dsc.weight "l0" : tensor<8xf32>
  %w1 = dsc.weight "l1" : tensor<8xf32>
  %w2 = dsc.weight "l2" : tensor<8xf32>
  %0 = call @layer_0(%h, %w0) : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %1 = call @layer_1(%0, %w1) : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %2 = call @layer_2(%1, %w2) : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return %2 : tensor<?x8xf32>
}

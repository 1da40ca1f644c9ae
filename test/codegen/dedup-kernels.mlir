// RUN: dsc-opt %s --dsc-lower-to-nvvm=chip=sm_90a | FileCheck %s

// Two identical loop nests (say, the same elementwise op on two pairs of
// tensors) launch the same kernel: one gpu.binary, two launches.
// CHECK-LABEL: llvm.func @forward
// CHECK: gpu.launch_func @[[K:[a-z_0-9]+]]::@
// CHECK: gpu.launch_func @[[K]]::@
// CHECK-COUNT-1: gpu.binary @
// CHECK-NOT: gpu.binary @
func.func @forward(%a: tensor<?x8xf32>, %b: tensor<?x8xf32>, %c: tensor<?x8xf32>, %d: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %a, %c0 : tensor<?x8xf32>
  %e = tensor.empty(%n) : tensor<?x8xf32>
  %0 = linalg.add ins(%a, %b : tensor<?x8xf32>, tensor<?x8xf32>) outs(%e : tensor<?x8xf32>) -> tensor<?x8xf32>
  %e2 = tensor.empty(%n) : tensor<?x8xf32>
  %1 = linalg.add ins(%c, %d : tensor<?x8xf32>, tensor<?x8xf32>) outs(%e2 : tensor<?x8xf32>) -> tensor<?x8xf32>
  return %0, %1 : tensor<?x8xf32>, tensor<?x8xf32>
}

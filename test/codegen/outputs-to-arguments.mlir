// RUN: dsc-opt %s --split-input-file --dsc-outputs-to-arguments --verify-diagnostics | FileCheck %s

// Each result gets a writable output argument and is materialized into it.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>, %[[OUT:.*]]: tensor<?x8xf32> {bufferization.writable = true, dsc.output})
// CHECK: %[[R:.*]] = bufferization.materialize_in_destination %{{.*}} in %[[OUT]]
// CHECK: return %[[R]]
func.func @forward(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = math.exp %x : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// Private functions keep returning their results.
// CHECK-LABEL: func.func private @helper
// CHECK-SAME: (%{{.*}}: tensor<?x8xf32>) -> tensor<?x8xf32>
func.func private @helper(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  return %x : tensor<?x8xf32>
}

// -----

// expected-error @+1 {{entry point results must be tensors}}
func.func @scalar_result(%x: f32) -> f32 {
  return %x : f32
}

// RUN: dsc-opt %s --pass-pipeline='builtin.module(func.func(dsc-globals-to-buffers))' --split-input-file --verify-diagnostics | FileCheck %s

memref.global "private" constant @__constant_4xf32 : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]> {alignment = 64 : i64}

// The uses read a fresh buffer filled from the global, never the global;
// the global is read inside the filling loop's body (a kernel, once
// outlined), not by the host.
// CHECK-LABEL: func.func @reads_constant
// CHECK:         %[[B:.*]] = memref.alloc() : memref<4xf32>
// CHECK-NEXT:    linalg.generic {{.*}} outs(%[[B]] : memref<4xf32>)
// CHECK-NEXT:    ^bb0(%{{.*}}: f32):
// CHECK-NEXT:      %[[I:.*]] = linalg.index 0 : index
// CHECK-NEXT:      %[[G:.*]] = memref.get_global @__constant_4xf32 : memref<4xf32>
// CHECK-NEXT:      %[[V:.*]] = memref.load %[[G]][%[[I]]] : memref<4xf32>
// CHECK-NEXT:      linalg.yield %[[V]] : f32
// CHECK:         memref.copy %[[B]], %arg0
func.func @reads_constant(%out: memref<4xf32>) {
  %0 = memref.get_global @__constant_4xf32 : memref<4xf32>
  memref.copy %0, %out : memref<4xf32> to memref<4xf32>
  return
}

// -----

// A scalar is filled through a one-element view, so that the fill is a
// loop (a kernel), not a host store.
memref.global "private" constant @__constant_f32 : memref<f32> = dense<2.0>
// CHECK-LABEL: func.func @reads_scalar
// CHECK:         %[[B:.*]] = memref.alloc() : memref<f32>
// CHECK-NEXT:    %[[V:.*]] = memref.expand_shape %[[B]] [] output_shape [1] : memref<f32> into memref<1xf32>
// CHECK-NEXT:    linalg.generic {{.*}} outs(%[[V]] : memref<1xf32>)
// CHECK:           memref.get_global @__constant_f32 : memref<f32>
// CHECK:         memref.copy %[[B]], %arg0
func.func @reads_scalar(%out: memref<f32>) {
  %0 = memref.get_global @__constant_f32 : memref<f32>
  memref.copy %0, %out : memref<f32> to memref<f32>
  return
}

// -----

memref.global "private" constant @strided : memref<2x2xf32, strided<[4, 1]>> = dense<1.0>

func.func @strided_global() {
  // expected-error @below {{cannot be copied to a device buffer: the global needs a static shape and the identity layout}}
  %0 = memref.get_global @strided : memref<2x2xf32, strided<[4, 1]>>
  return
}

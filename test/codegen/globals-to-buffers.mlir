// RUN: dsc-opt %s --pass-pipeline='builtin.module(func.func(dsc-globals-to-buffers))' --split-input-file --verify-diagnostics | FileCheck %s

memref.global "private" constant @__constant_4xf32 : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]> {alignment = 64 : i64}

// The uses read a fresh buffer filled from the global, never the global.
// CHECK-LABEL: func.func @reads_constant
// CHECK:         %[[G:.*]] = memref.get_global @__constant_4xf32 : memref<4xf32>
// CHECK-NEXT:    %[[B:.*]] = memref.alloc() : memref<4xf32>
// CHECK-NEXT:    memref.copy %[[G]], %[[B]] : memref<4xf32> to memref<4xf32>
// CHECK-NEXT:    memref.copy %[[B]], %arg0
func.func @reads_constant(%out: memref<4xf32>) {
  %0 = memref.get_global @__constant_4xf32 : memref<4xf32>
  memref.copy %0, %out : memref<4xf32> to memref<4xf32>
  return
}

// -----

memref.global "private" constant @strided : memref<2x2xf32, strided<[4, 1]>> = dense<1.0>

func.func @strided_global() {
  // expected-error @below {{cannot be copied to a device buffer: the global needs a static shape and the identity layout}}
  %0 = memref.get_global @strided : memref<2x2xf32, strided<[4, 1]>>
  return
}

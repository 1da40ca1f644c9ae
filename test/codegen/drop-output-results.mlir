// RUN: dsc-opt %s --split-input-file --dsc-drop-output-results --verify-diagnostics | FileCheck %s

// After bufferization the entry point returned its output buffer: drop it.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: (%{{.*}}: memref<?x8xf32>, %{{.*}}: memref<?x8xf32> {dsc.output})
// CHECK-NOT: ->
// CHECK: return{{$}}
func.func @forward(%x: memref<?x8xf32>, %out: memref<?x8xf32> {dsc.output}) -> memref<?x8xf32> {
  memref.copy %x, %out : memref<?x8xf32> to memref<?x8xf32>
  return %out : memref<?x8xf32>
}

// -----

// Returning anything but the output arguments, in order, is a compiler bug
// upstream of this pass; say so instead of dropping a real result.
// expected-error @+1 {{entry point results are not its output arguments after bufferization}}
func.func @forward(%x: memref<?x8xf32>, %out: memref<?x8xf32> {dsc.output}) -> memref<?x8xf32> {
  return %x : memref<?x8xf32>
}

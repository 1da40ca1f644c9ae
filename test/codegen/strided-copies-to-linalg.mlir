// RUN: dsc-opt %s --dsc-strided-copies-to-linalg | FileCheck %s
// RUN: dsc-opt %s --dsc-strided-copies-to-linalg=all-copies | FileCheck %s --check-prefix=ALL

// A copy into a strided view becomes linalg.copy (loops, no memrefCopy
// runtime call); a contiguous copy stays memref.copy (memcpy).
// CHECK-LABEL: func.func @copies
// CHECK: linalg.copy ins(%{{.*}} : memref<?x1xf32>) outs(%{{.*}} : memref<?x1xf32, strided<[4, 1], offset: ?>>)
// CHECK: memref.copy %{{.*}}, %{{.*}} : memref<?x4xf32> to memref<?x4xf32>
func.func @copies(%col: memref<?x1xf32>, %m: memref<?x4xf32>, %n: memref<?x4xf32>, %j: index, %rows: index) {
  %c0 = arith.constant 0 : index
  %view = memref.subview %m[0, %j] [%rows, 1] [1, 1] : memref<?x4xf32> to memref<?x1xf32, strided<[4, 1], offset: ?>>
  memref.copy %col, %view : memref<?x1xf32> to memref<?x1xf32, strided<[4, 1], offset: ?>>
  memref.copy %m, %n : memref<?x4xf32> to memref<?x4xf32>
  return
}

// For a GPU target every copy runs as a kernel: the host code copies
// nothing itself.
// ALL-LABEL: func.func @copies
// ALL: linalg.copy ins(%{{.*}} : memref<?x1xf32>)
// ALL: linalg.copy ins(%{{.*}} : memref<?x4xf32>) outs(%{{.*}} : memref<?x4xf32>)
// ALL-NOT: memref.copy

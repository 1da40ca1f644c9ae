// RUN: dsc-opt %s --split-input-file --dsc-fuse-parallel-loops | FileCheck %s

// A reduction and the fill of its init, as convert-linalg-to-parallel-loops
// and dsc-promote-accumulators leave them: the reduction's own output
// allocation between the two loops moves before the fill, and the loops
// over the same elements fuse. The reduction starts from the fill's value
// (it read the filled element at the index it was stored at).
// CHECK-LABEL: func.func @fill_and_reduction
// CHECK: %[[SUMS:.*]] = memref.alloc(%{{.*}}) : memref<?x16xf32>
// CHECK: %[[ROWS:.*]] = memref.alloc(%{{.*}}) : memref<?x16xf32>
// CHECK: scf.parallel (%[[I:.*]], %[[J:.*]]) =
// CHECK:   memref.store %[[ZERO:.*]], %[[SUMS]][%[[I]], %[[J]]]
// CHECK-NOT: memref.load %[[SUMS]]
// CHECK:   scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%{{.*}} = %[[ZERO]])
// CHECK:   memref.store %{{.*}}, %[[SUMS]][%[[I]], %[[J]]]
// CHECK:   memref.store %{{.*}}, %[[ROWS]][%[[I]], %[[J]]]
// CHECK-NOT: scf.parallel
// CHECK: memref.copy %[[ROWS]]
func.func @fill_and_reduction(%x: memref<?x16x64xf32>, %n: index, %out: memref<?x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant 0.0 : f32
  %sums = memref.alloc(%n) : memref<?x16xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c16) step (%c1, %c1) {
    memref.store %zero, %sums[%i, %j] : memref<?x16xf32>
    scf.reduce
  }
  %rows = memref.alloc(%n) : memref<?x16xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c16) step (%c1, %c1) {
    %init = memref.load %sums[%i, %j] : memref<?x16xf32>
    %s = scf.for %k = %c0 to %c64 step %c1 iter_args(%acc = %init) -> (f32) {
      %a = memref.load %x[%i, %j, %k] : memref<?x16x64xf32>
      %t = arith.addf %a, %acc : f32
      scf.yield %t : f32
    }
    memref.store %s, %sums[%i, %j] : memref<?x16xf32>
    %h = arith.mulf %s, %s : f32
    memref.store %h, %rows[%i, %j] : memref<?x16xf32>
    scf.reduce
  }
  memref.copy %rows, %out : memref<?x16xf32> to memref<?x16xf32>
  memref.dealloc %sums : memref<?x16xf32>
  memref.dealloc %rows : memref<?x16xf32>
  return
}

// -----

// Kept apart: a loop that reads another element of a private buffer than
// the one the loop before it wrote (a transpose); loops over different
// elements; loops with an op that writes memory between them.
// CHECK-LABEL: func.func @kept
// CHECK-COUNT-5: scf.parallel
// CHECK-NOT: scf.parallel
func.func @kept(%x: memref<16x16xf32>, %z: memref<8xf32>, %w: memref<16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c16 = arith.constant 16 : index
  %one = arith.constant 1.0 : f32
  %t = memref.alloc() : memref<16x16xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%c16, %c16) step (%c1, %c1) {
    %v = memref.load %x[%i, %j] : memref<16x16xf32>
    memref.store %v, %t[%i, %j] : memref<16x16xf32>
    scf.reduce
  }
  %y = memref.alloc() : memref<16x16xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%c16, %c16) step (%c1, %c1) {
    %v = memref.load %t[%j, %i] : memref<16x16xf32>
    memref.store %v, %y[%i, %j] : memref<16x16xf32>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c8) step (%c1) {
    memref.store %one, %z[%i] : memref<8xf32>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c16) step (%c1) {
    memref.store %one, %w[%i] : memref<16xf32>
    scf.reduce
  }
  memref.store %one, %w[%c0] : memref<16xf32>
  scf.parallel (%i) = (%c0) to (%c16) step (%c1) {
    %v = memref.load %w[%i] : memref<16xf32>
    memref.store %v, %x[%i, %i] : memref<16x16xf32>
    scf.reduce
  }
  memref.copy %y, %x : memref<16x16xf32> to memref<16x16xf32>
  memref.dealloc %t : memref<16x16xf32>
  memref.dealloc %y : memref<16x16xf32>
  return
}

// -----

// Bounds equal but computed apart: the rows of a collapse_shape (the
// product of its source's dims), an allocation's size as the same product,
// and affine.apply's product (nsw once lowered). The loops fuse into one,
// and the allocation after the second loop moves before the first (not
// between them).
// CHECK-LABEL: func.func @bounds
// CHECK: memref.alloc
// CHECK: memref.alloc
// CHECK: scf.parallel
// CHECK-NOT: scf.parallel
// CHECK: memref.copy
func.func @bounds(%x: memref<?x?x16xf32>, %out: memref<?x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %zero = arith.constant 0.0 : f32
  %a = memref.dim %x, %c0 : memref<?x?x16xf32>
  %b = memref.dim %x, %c1 : memref<?x?x16xf32>
  %rows = arith.muli %a, %b : index
  %f = memref.alloc(%rows) : memref<?x16xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%rows, %c16) step (%c1, %c1) {
    memref.store %zero, %f[%i, %j] : memref<?x16xf32>
    scf.reduce
  }
  %flat = memref.collapse_shape %x [[0, 1], [2]] : memref<?x?x16xf32> into memref<?x16xf32>
  %n = memref.dim %flat, %c0 : memref<?x16xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c16) step (%c1, %c1) {
    %v = memref.load %flat[%i, %j] : memref<?x16xf32>
    %w = memref.load %f[%i, %j] : memref<?x16xf32>
    %s = arith.addf %v, %w : f32
    memref.store %s, %f[%i, %j] : memref<?x16xf32>
    scf.reduce
  }
  %m = affine.apply affine_map<()[s0, s1] -> (s0 * s1)>()[%a, %b]
  %g = memref.alloc(%m) : memref<?x16xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%m, %c16) step (%c1, %c1) {
    %v = memref.load %f[%i, %j] : memref<?x16xf32>
    memref.store %v, %g[%i, %j] : memref<?x16xf32>
    scf.reduce
  }
  memref.copy %g, %out : memref<?x16xf32> to memref<?x16xf32>
  memref.dealloc %f : memref<?x16xf32>
  memref.dealloc %g : memref<?x16xf32>
  return
}

// -----

// Kept apart: two loops that write the same private buffer at different
// elements of one iteration (fused, the second loop's writes would land
// before the first's later ones); a loop with an op other than loads and
// stores that has memory effects (a copy).
// CHECK-LABEL: func.func @writes_kept
// CHECK-COUNT-4: scf.parallel
// CHECK-NOT: scf.parallel
func.func @writes_kept(%x: memref<16xf32>, %out: memref<16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c15 = arith.constant 15 : index
  %c16 = arith.constant 16 : index
  %one = arith.constant 1.0 : f32
  %two = arith.constant 2.0 : f32
  %t = memref.alloc() : memref<16xf32>
  scf.parallel (%i) = (%c0) to (%c16) step (%c1) {
    memref.store %one, %t[%i] : memref<16xf32>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c16) step (%c1) {
    %r = arith.subi %c15, %i : index
    memref.store %two, %t[%r] : memref<16xf32>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c16) step (%c1) {
    %s = memref.subview %t[0] [1] [1] : memref<16xf32> to memref<1xf32, strided<[1]>>
    %d = memref.subview %out[%i] [1] [1] : memref<16xf32> to memref<1xf32, strided<[1], offset: ?>>
    memref.copy %s, %d : memref<1xf32, strided<[1]>> to memref<1xf32, strided<[1], offset: ?>>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c16) step (%c1) {
    memref.store %one, %x[%i] : memref<16xf32>
    scf.reduce
  }
  memref.dealloc %t : memref<16xf32>
  return
}

// RUN: dsc-opt %s --split-input-file --allow-unregistered-dialect --dsc-promote-accumulators | FileCheck %s

// A GEMM's reduction as convert-linalg-to-parallel-loops writes it: its
// output an allocation that does not escape (Buffers.h), so the loads of x
// and w cannot reach it. The element is loaded once, carried and stored
// once.
// CHECK-LABEL: func.func @gemm
// CHECK: scf.parallel (%[[M:.*]], %[[N:.*]]) =
// CHECK:   %[[INIT:.*]] = memref.load %[[C:.*]][%[[M]], %[[N]]]
// CHECK:   %[[SUM:.*]] = scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[ACC:.*]] = %[[INIT]]) -> (f32) {
// CHECK-NOT: memref.store
// CHECK:     %[[P:.*]] = arith.mulf
// CHECK:     %[[S:.*]] = arith.addf %[[P]], %[[ACC]] : f32
// CHECK:     scf.yield %[[S]] : f32
// CHECK:   memref.store %[[SUM]], %[[C]][%[[M]], %[[N]]]
func.func @gemm(%x: memref<?x64xf32>, %w: memref<16x64xf32>, %n: index, %out: memref<?x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %c64 = arith.constant 64 : index
  %c = memref.alloc(%n) : memref<?x16xf32>
  scf.parallel (%m, %e) = (%c0, %c0) to (%n, %c16) step (%c1, %c1) {
    scf.for %k = %c0 to %c64 step %c1 {
      %a = memref.load %x[%m, %k] : memref<?x64xf32>
      %b = memref.load %w[%e, %k] : memref<16x64xf32>
      %acc = memref.load %c[%m, %e] : memref<?x16xf32>
      %p = arith.mulf %a, %b : f32
      %s = arith.addf %p, %acc : f32
      memref.store %s, %c[%m, %e] : memref<?x16xf32>
    }
    scf.reduce
  }
  memref.copy %c, %out : memref<?x16xf32> to memref<?x16xf32>
  memref.dealloc %c : memref<?x16xf32>
  return
}

// -----

// Two accumulators of one loop (a max and a sum), each its own buffer; a
// view of an allocation is that allocation.
// CHECK-LABEL: func.func @two
// CHECK: %[[R:.*]]:2 = scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (f32, f32)
// CHECK-NOT: memref.store
// CHECK: scf.yield
// CHECK: memref.store %[[R]]#0
// CHECK: memref.store %[[R]]#1
func.func @two(%x: memref<8x32xf32>, %i: index, %out: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %big = memref.alloc() : memref<2x8xf32>
  %mx = memref.subview %big[0, 0] [1, 8] [1, 1] : memref<2x8xf32> to memref<8xf32, strided<[1]>>
  %sm = memref.alloc() : memref<8xf32>
  scf.for %k = %c0 to %c32 step %c1 {
    %v = memref.load %x[%i, %k] : memref<8x32xf32>
    %m = memref.load %mx[%i] : memref<8xf32, strided<[1]>>
    %s = memref.load %sm[%i] : memref<8xf32>
    %m2 = arith.maximumf %m, %v : f32
    %s2 = arith.addf %s, %v : f32
    memref.store %m2, %mx[%i] : memref<8xf32, strided<[1]>>
    memref.store %s2, %sm[%i] : memref<8xf32>
  }
  memref.copy %sm, %out : memref<8xf32> to memref<8xf32>
  memref.dealloc %big : memref<2x8xf32>
  memref.dealloc %sm : memref<8xf32>
  return
}

// -----

// Arguments may be one buffer: x could be c, so c stays in memory.
// CHECK-LABEL: func.func @arguments
// CHECK: scf.for
// CHECK-NOT: iter_args
// CHECK: memref.load %{{.*}}[%{{.*}}] : memref<8xf32>
// CHECK: memref.store
func.func @arguments(%x: memref<8x32xf32>, %c: memref<8xf32>, %i: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  scf.for %k = %c0 to %c32 step %c1 {
    %v = memref.load %x[%i, %k] : memref<8x32xf32>
    %acc = memref.load %c[%i] : memref<8xf32>
    %s = arith.addf %acc, %v : f32
    memref.store %s, %c[%i] : memref<8xf32>
  }
  return
}

// -----

// Not promoted: the element moves with the loop (indices from its
// induction variable); the buffer is read elsewhere in the loop; an
// allocation that escapes (into a call) may be the argument read; a store
// of the element before its load (two stores to it); an op of unknown
// effects in the loop.
// CHECK-LABEL: func.func @not_accumulators
// CHECK-NOT: iter_args
// CHECK: return
func.func private @take(memref<8xf32>) -> memref<8x32xf32>
func.func @not_accumulators(%x: memref<8x32xf32>, %i: index, %j: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c32 = arith.constant 32 : index
  %c = memref.alloc() : memref<8xf32>
  scf.for %k = %c0 to %c8 step %c1 {
    %acc = memref.load %c[%k] : memref<8xf32>
    %s = arith.addf %acc, %acc : f32
    memref.store %s, %c[%k] : memref<8xf32>
  }
  scf.for %k = %c0 to %c8 step %c1 {
    %acc = memref.load %c[%i] : memref<8xf32>
    %other = memref.load %c[%j] : memref<8xf32>
    %s = arith.addf %acc, %other : f32
    memref.store %s, %c[%i] : memref<8xf32>
  }
  %e = memref.alloc() : memref<8xf32>
  %y = func.call @take(%e) : (memref<8xf32>) -> memref<8x32xf32>
  scf.for %k = %c0 to %c32 step %c1 {
    %v = memref.load %y[%i, %k] : memref<8x32xf32>
    %acc = memref.load %e[%i] : memref<8xf32>
    %s = arith.addf %acc, %v : f32
    memref.store %s, %e[%i] : memref<8xf32>
  }
  scf.for %k = %c0 to %c32 step %c1 {
    %v = memref.load %x[%i, %k] : memref<8x32xf32>
    memref.store %v, %c[%i] : memref<8xf32>
    %acc = memref.load %c[%i] : memref<8xf32>
    %s = arith.addf %acc, %v : f32
    memref.store %s, %c[%i] : memref<8xf32>
  }
  scf.for %k = %c0 to %c32 step %c1 {
    %v = memref.load %x[%i, %k] : memref<8x32xf32>
    %acc = memref.load %c[%i] : memref<8xf32>
    %s = arith.addf %acc, %v : f32
    "test.unknown"() : () -> ()
    memref.store %s, %c[%i] : memref<8xf32>
  }
  return
}

// -----

// Bounds known only at run time: the loop may run no iterations, where it
// loaded and stored nothing, so the promoted loop runs under lb < ub. A
// loop with an iter_arg of its own keeps it, the accumulator after it.
// CHECK-LABEL: func.func @bounds
// CHECK-SAME: (%[[X:[a-z0-9]+]]: memref<8x?xf32>, %[[N:[a-z0-9]+]]: index,
// CHECK: %[[C:.*]] = memref.alloc() : memref<8xf32>
// CHECK: %[[RUNS:.*]] = arith.cmpi slt, %{{.*}}, %[[N]] : index
// CHECK: scf.if %[[RUNS]] {
// CHECK:   %[[INIT:.*]] = memref.load %[[C]]
// CHECK:   %[[R:.*]] = scf.for {{.*}} iter_args(%{{.*}} = %[[INIT]]) -> (f32)
// CHECK:   memref.store %[[R]], %[[C]]
// CHECK: }
// CHECK: %[[INIT2:.*]] = memref.load %[[C]]
// CHECK: %[[R2:.*]]:2 = scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %[[INIT2]]) -> (f32, f32)
// CHECK: memref.store %[[R2]]#1, %[[C]]
// CHECK: return %[[R2]]#0
func.func @bounds(%x: memref<8x?xf32>, %n: index, %i: index, %out: memref<8xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<8xf32>
  scf.for %k = %c0 to %n step %c1 {
    %v = memref.load %x[%i, %k] : memref<8x?xf32>
    %acc = memref.load %c[%i] : memref<8xf32>
    %s = arith.addf %acc, %v : f32
    memref.store %s, %c[%i] : memref<8xf32>
  }
  %m = scf.for %k = %c0 to %c16 step %c1 iter_args(%mx = %zero) -> (f32) {
    %v = memref.load %x[%i, %k] : memref<8x?xf32>
    %acc = memref.load %c[%i] : memref<8xf32>
    %s = arith.addf %acc, %v : f32
    memref.store %s, %c[%i] : memref<8xf32>
    %m2 = arith.maximumf %mx, %v : f32
    scf.yield %m2 : f32
  }
  memref.copy %c, %out : memref<8xf32> to memref<8xf32>
  memref.dealloc %c : memref<8xf32>
  return %m : f32
}

// RUN: dsc-opt %s --split-input-file --dsc-outline-contractions | FileCheck %s
// RUN: dsc-opt %s --split-input-file --dsc-outline-contractions --dsc-vectorize-contractions | FileCheck %s --check-prefix=VEC
// RUN: dsc-opt %s --split-input-file --dsc-outline-contractions=all-generics | FileCheck %s --check-prefix=ALL

// Two contractions alike (a layer's prefill and decode variants): one
// shared `noinline` function, called from both. Offsets become dynamic, so
// a slice of a stack (static offset 2560) shares it too; sizes and strides
// stay in the signature.
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @prefill
// CHECK-SAME: (%[[X:.*]]: memref<?x64xf32>, %[[W:.*]]: memref<40x64xf32>, %[[Y:.*]]: memref<?x40xf32>)
// CHECK-NOT: linalg.generic
// CHECK-DAG: %[[XC:.*]] = memref.cast %[[X]] : memref<?x64xf32> to memref<?x64xf32, strided<[64, 1], offset: ?>>
// CHECK-DAG: %[[WC:.*]] = memref.cast %[[W]] : memref<40x64xf32> to memref<40x64xf32, strided<[64, 1], offset: ?>>
// CHECK-DAG: %[[YC:.*]] = memref.cast %[[Y]] : memref<?x40xf32> to memref<?x40xf32, strided<[40, 1], offset: ?>>
// CHECK: call @contraction_0(%[[XC]], %[[WC]], %[[YC]])
// CHECK-LABEL: func.func @decode
// CHECK: %[[SLICE:.*]] = memref.subview
// CHECK: %[[SC:.*]] = memref.cast %[[SLICE]] : memref<40x64xf32, strided<[64, 1], offset: 2560>> to memref<40x64xf32, strided<[64, 1], offset: ?>>
// CHECK: call @contraction_0(%{{.*}}, %[[SC]], %{{.*}})
// CHECK-NOT: linalg.generic
// CHECK-LABEL: func.func private @contraction_0
// CHECK-SAME: (%[[A:.*]]: memref<?x64xf32, strided<[64, 1], offset: ?>>, %[[B:.*]]: memref<40x64xf32, strided<[64, 1], offset: ?>>, %[[C:.*]]: memref<?x40xf32, strided<[40, 1], offset: ?>>)
// CHECK-SAME: attributes {passthrough = ["noinline"]}
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[A]], %[[B]] : {{.*}}) outs(%[[C]] : {{.*}})
// CHECK: return
// CHECK-NOT: func.func private @contraction_1
// The shared function is register-blocked like the code it replaces.
// VEC-LABEL: func.func private @contraction_0
// VEC-NOT: linalg.generic
// VEC: vector.fma
func.func @prefill(%x: memref<?x64xf32>, %w: memref<40x64xf32>, %y: memref<?x40xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x64xf32>, memref<40x64xf32>) outs(%y : memref<?x40xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}
func.func @decode(%x: memref<?x64xf32>, %stack: memref<2x40x64xf32>, %y: memref<?x40xf32>) {
  %w = memref.subview %stack[1, 0, 0] [1, 40, 64] [1, 1, 1] : memref<2x40x64xf32> to memref<40x64xf32, strided<[64, 1], offset: 2560>>
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x64xf32>, memref<40x64xf32, strided<[64, 1], offset: 2560>>) outs(%y : memref<?x40xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A contraction alone of its kind stays where it is: a function for it
// would share nothing (and LLVM would inline it back).
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @alone
// CHECK-NOT: call
// CHECK: linalg.generic
// CHECK-NOT: func.func private @contraction
func.func @alone(%x: memref<?x64xf32>, %w: memref<40x64xf32>, %y: memref<?x40xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x64xf32>, memref<40x64xf32>) outs(%y : memref<?x40xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Alike means the same operand types too: bf16 weights and f32 weights of
// the same shape are two functions, and a scaled product (the attention
// scores' softmax scale, an operand) a third.
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
#s = affine_map<(m, n, k) -> ()>
// CHECK-LABEL: func.func @types
// CHECK: call @contraction_0(
// CHECK: call @contraction_1(
// CHECK: call @contraction_0(
// CHECK: call @contraction_1(
// CHECK-NOT: linalg.generic
// CHECK-LABEL: func.func @scaled
// CHECK-COUNT-2: call @contraction_2(
// CHECK-NOT: linalg.generic
// CHECK-LABEL: func.func private @contraction_0
// CHECK-SAME: memref<40x64xf32, strided<[64, 1], offset: ?>>
// CHECK-LABEL: func.func private @contraction_1
// CHECK-SAME: memref<40x64xbf16, strided<[64, 1], offset: ?>>
// CHECK: arith.extf
// CHECK-LABEL: func.func private @contraction_2
// CHECK-SAME: memref<f32, strided<[], offset: ?>>
// CHECK-NOT: func.func private @contraction_3
func.func @types(%x: memref<?x64xf32>, %w: memref<40x64xf32>, %v: memref<40x64xbf16>, %y: memref<?x40xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x64xf32>, memref<40x64xf32>) outs(%y : memref<?x40xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %v : memref<?x64xf32>, memref<40x64xbf16>) outs(%y : memref<?x40xf32>) {
  ^bb0(%a: f32, %b: bf16, %acc: f32):
    %e = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %e : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x64xf32>, memref<40x64xf32>) outs(%y : memref<?x40xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %v : memref<?x64xf32>, memref<40x64xbf16>) outs(%y : memref<?x40xf32>) {
  ^bb0(%a: f32, %b: bf16, %acc: f32):
    %e = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %e : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}
func.func @scaled(%q: memref<?x64xf32>, %k: memref<40x64xf32>, %scale: memref<f32>, %s: memref<?x40xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #s, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%q, %k, %scale : memref<?x64xf32>, memref<40x64xf32>, memref<f32>) outs(%s : memref<?x40xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %t = arith.mulf %p, %c : f32
    %r = arith.addf %t, %acc : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#x, #w, #s, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%q, %k, %scale : memref<?x64xf32>, memref<40x64xf32>, memref<f32>) outs(%s : memref<?x40xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %t = arith.mulf %p, %c : f32
    %r = arith.addf %t, %acc : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// Alike means the same indexing maps too: x * W^T (dot form) and x * W
// (axpy form) on operands of the same types are two functions. Contractions
// inside loops move as well. A symbol already called @contraction_1 keeps
// its name; the new function takes another.
#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#w = affine_map<(m, n, k) -> (k, n)>
#y = affine_map<(m, n, k) -> (m, n)>
// CHECK: #[[WT:map[0-9]*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK: #[[WK:map[0-9]*]] = affine_map<(d0, d1, d2) -> (d2, d1)>
// CHECK-LABEL: func.func @contraction_1()
// CHECK-NEXT: return
// CHECK-LABEL: func.func @maps
// CHECK: scf.for
// CHECK: call @contraction_0(
// CHECK: call @[[AXPY:contraction_1_[0-9]+]](
// CHECK: }
// CHECK: call @contraction_0(
// CHECK: call @[[AXPY]](
// CHECK-NOT: linalg.generic
// CHECK: func.func private @contraction_0
// CHECK-NEXT: linalg.generic {indexing_maps = [#{{[a-z0-9]+}}, #[[WT]], #{{[a-z0-9]+}}]
// CHECK: func.func private @[[AXPY]]
// CHECK-NEXT: linalg.generic {indexing_maps = [#{{[a-z0-9]+}}, #[[WK]], #{{[a-z0-9]+}}]
func.func @contraction_1() {
  return
}
func.func @maps(%x: memref<?x64xf32>, %v: memref<64x64xf32>, %y: memref<?x64xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %c0 to %n step %c1 {
    linalg.generic {indexing_maps = [#x, #wt, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %v : memref<?x64xf32>, memref<64x64xf32>) outs(%y : memref<?x64xf32>) {
    ^bb0(%a: f32, %b: f32, %acc: f32):
      %p = arith.mulf %a, %b : f32
      %s = arith.addf %p, %acc : f32
      linalg.yield %s : f32
    }
    linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %v : memref<?x64xf32>, memref<64x64xf32>) outs(%y : memref<?x64xf32>) {
    ^bb0(%a: f32, %b: f32, %acc: f32):
      %p = arith.mulf %a, %b : f32
      %s = arith.addf %p, %acc : f32
      linalg.yield %s : f32
    }
  }
  linalg.generic {indexing_maps = [#x, #wt, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %v : memref<?x64xf32>, memref<64x64xf32>) outs(%y : memref<?x64xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %v : memref<?x64xf32>, memref<64x64xf32>) outs(%y : memref<?x64xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Other generics (here SiLU, whose body reads a constant from outside)
// stay in place by default. With all-generics, those alike share
// @generic_0, which holds its own copy of the constant; a generic whose
// body reads another value from outside (a scale argument) stays in place,
// as does one alone of its kind (the sum).
#id = affine_map<(i, j) -> (i, j)>
#row = affine_map<(i, j) -> (i)>
// CHECK-LABEL: func.func @elementwise
// CHECK-COUNT-4: linalg.generic
// CHECK-NOT: call @generic
// ALL-LABEL: func.func @elementwise
// ALL-SAME: (%[[A:.*]]: memref<4x64xf32>, %[[B:.*]]: memref<4x64xf32>, %[[C:.*]]: memref<4x64xf32>, %[[S:.*]]: f32, %[[R:.*]]: memref<4xf32>)
// ALL-NOT: linalg.generic
// ALL-DAG: %[[AC:.*]] = memref.cast %[[A]]
// ALL-DAG: %[[BC:.*]] = memref.cast %[[B]]
// ALL: call @generic_0(%[[AC]], %[[BC]])
// ALL-NOT: linalg.generic
// ALL-DAG: %[[BC2:.*]] = memref.cast %[[B]]
// ALL-DAG: %[[CC:.*]] = memref.cast %[[C]]
// ALL: call @generic_0(%[[BC2]], %[[CC]])
// ALL: linalg.generic
// ALL: arith.mulf %{{.*}}, %[[S]]
// ALL: linalg.generic
// ALL-SAME: iterator_types = ["parallel", "reduction"]
// ALL-LABEL: func.func private @generic_0
// ALL-SAME: (%{{.*}}: memref<4x64xf32, strided<[64, 1], offset: ?>>, %{{.*}}: memref<4x64xf32, strided<[64, 1], offset: ?>>)
// ALL-SAME: attributes {passthrough = ["noinline"]}
// ALL-NEXT: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// ALL-NEXT: linalg.generic
// ALL: arith.addf %[[ONE]]
// ALL-NOT: func.func private @generic_1
func.func @elementwise(%a: memref<4x64xf32>, %b: memref<4x64xf32>, %c: memref<4x64xf32>, %s: f32, %r: memref<4xf32>) {
  %one = arith.constant 1.0 : f32
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : memref<4x64xf32>) outs(%b : memref<4x64xf32>) {
  ^bb0(%x: f32, %o: f32):
    %n = arith.negf %x : f32
    %e = math.exp %n : f32
    %d = arith.addf %one, %e : f32
    %y = arith.divf %x, %d : f32
    linalg.yield %y : f32
  }
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%b : memref<4x64xf32>) outs(%c : memref<4x64xf32>) {
  ^bb0(%x: f32, %o: f32):
    %n = arith.negf %x : f32
    %e = math.exp %n : f32
    %d = arith.addf %one, %e : f32
    %y = arith.divf %x, %d : f32
    linalg.yield %y : f32
  }
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : memref<4x64xf32>) outs(%c : memref<4x64xf32>) {
  ^bb0(%x: f32, %o: f32):
    %y = arith.mulf %x, %s : f32
    linalg.yield %y : f32
  }
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%c : memref<4x64xf32>) outs(%r : memref<4xf32>) {
  ^bb0(%x: f32, %o: f32):
    %y = arith.addf %x, %o : f32
    linalg.yield %y : f32
  }
  return
}

// -----

// With all-generics, generics are not shared when they differ in a
// constant's value or a mark, or when one reads a memref twice and the
// other two memrefs; one whose body reads its loop's index stays in place.
// Contractions and generics are numbered apart, and an existing
// @generic_0 keeps its name.
#id = affine_map<(i) -> (i)>
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
// ALL-LABEL: func.func @apart
// ALL-SAME: (%[[A:.*]]: memref<64xf32>, %[[B:.*]]: memref<64xf32>, %[[C:.*]]: memref<64xf32>
// ALL: call @[[TWICE:generic_[0-9_]+]](%{{.*}}, %{{.*}}, %{{.*}})
// ALL: call @[[TWICE]](
// ALL: call @[[PAIR:generic_[0-9_]+]](
// ALL: call @[[PAIR]](
// ALL: call @[[ONE:generic_[0-9_]+]](
// ALL: call @[[ONE]](
// ALL: call @[[TWO:generic_[0-9_]+]](
// ALL: call @[[TWO]](
// ALL: call @[[MARKED:generic_[0-9_]+]](
// ALL: call @[[MARKED]](
// ALL: call @contraction_0(
// ALL: call @contraction_0(
// ALL: scf.for
// ALL-NEXT: arith.index_cast
// ALL-NEXT: linalg.generic
// ALL: linalg.generic
// ALL: func.func private @generic_0()
// ALL-NOT: func.func private @generic_0(
// ALL-DAG: func.func private @[[TWICE]](%[[T0:.*]]: memref<64xf32, strided<[1], offset: ?>>, %[[T1:.*]]: memref<64xf32, strided<[1], offset: ?>>, %[[T2:.*]]: memref<64xf32, strided<[1], offset: ?>>)
// ALL-DAG: func.func private @[[ONE]]
// ALL-DAG: func.func private @[[TWO]]
// ALL-DAG: func.func private @[[MARKED]]
// ALL-DAG: func.func private @[[PAIR]]
func.func @apart(%a: memref<64xf32>, %b: memref<64xf32>, %c: memref<64xf32>, %x: memref<4x64xf32>, %w: memref<8x64xf32>, %y: memref<4x8xf32>) {
  // a * a, twice.
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel"]} ins(%a, %a : memref<64xf32>, memref<64xf32>) outs(%c : memref<64xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %m = arith.mulf %p, %q : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel"]} ins(%b, %b : memref<64xf32>, memref<64xf32>) outs(%c : memref<64xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %m = arith.mulf %p, %q : f32
    linalg.yield %m : f32
  }
  // a * b, twice.
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel"]} ins(%a, %b : memref<64xf32>, memref<64xf32>) outs(%c : memref<64xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %m = arith.mulf %p, %q : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel"]} ins(%b, %a : memref<64xf32>, memref<64xf32>) outs(%c : memref<64xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %m = arith.mulf %p, %q : f32
    linalg.yield %m : f32
  }
  // + 1.0 twice, + 2.0 twice.
  %one = arith.constant 1.0 : f32
  %two = arith.constant 2.0 : f32
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%a : memref<64xf32>) outs(%c : memref<64xf32>) {
  ^bb0(%p: f32, %o: f32):
    %m = arith.addf %p, %one : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%b : memref<64xf32>) outs(%c : memref<64xf32>) {
  ^bb0(%p: f32, %o: f32):
    %m = arith.addf %p, %one : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%a : memref<64xf32>) outs(%c : memref<64xf32>) {
  ^bb0(%p: f32, %o: f32):
    %m = arith.addf %p, %two : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%b : memref<64xf32>) outs(%c : memref<64xf32>) {
  ^bb0(%p: f32, %o: f32):
    %m = arith.addf %p, %two : f32
    linalg.yield %m : f32
  }
  // + 1.0, marked, twice.
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%a : memref<64xf32>) outs(%c : memref<64xf32>) attrs = {dsc.mark} {
  ^bb0(%p: f32, %o: f32):
    %m = arith.addf %p, %one : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%b : memref<64xf32>) outs(%c : memref<64xf32>) attrs = {dsc.mark} {
  ^bb0(%p: f32, %o: f32):
    %m = arith.addf %p, %one : f32
    linalg.yield %m : f32
  }
  // Two contractions alike.
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<4x64xf32>, memref<8x64xf32>) outs(%y : memref<4x8xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %m = arith.mulf %p, %q : f32
    %s = arith.addf %m, %acc : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<4x64xf32>, memref<8x64xf32>) outs(%y : memref<4x8xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %m = arith.mulf %p, %q : f32
    %s = arith.addf %m, %acc : f32
    linalg.yield %s : f32
  }
  // The loop's index read in the body, twice: in place.
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  scf.for %i = %c0 to %c2 step %c1 {
    %f = arith.index_cast %i : index to i32
    linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%a : memref<64xf32>) outs(%c : memref<64xf32>) {
    ^bb0(%p: f32, %o: f32):
      %g = arith.sitofp %f : i32 to f32
      %m = arith.addf %p, %g : f32
      linalg.yield %m : f32
    }
    linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%b : memref<64xf32>) outs(%c : memref<64xf32>) {
    ^bb0(%p: f32, %o: f32):
      %g = arith.sitofp %f : i32 to f32
      %m = arith.addf %p, %g : f32
      linalg.yield %m : f32
    }
  }
  return
}
func.func private @generic_0()

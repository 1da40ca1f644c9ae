// REQUIRES: mlir-runner
// RUN: dsc-opt %s --dsc-approximate-math | mlir-opt --convert-scf-to-cf \
// RUN:   --convert-vector-to-llvm --convert-math-to-llvm \
// RUN:   --convert-arith-to-llvm --convert-cf-to-llvm --convert-func-to-llvm \
// RUN:   --reconcile-unrealized-casts \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:   -shared-libs=%mlir_c_runner_utils | FileCheck %s

// The inline exp of dsc-approximate-math against the f64 exp of libm
// (rounded to f32), at 2000 points over the f32 normal range: the largest
// relative error must stay under 2.5e-7 (about 2 ulp; it is 1.2e-7). Then the values that
// softmax masks and overflow produce.

// CHECK: max relative error
// CHECK-NEXT: 1
// CHECK-NEXT: 0
// CHECK-NEXT: inf
// CHECK-NEXT: nan
// CHECK-NEXT: 1
// CHECK-NEXT: 0
// CHECK-NEXT: inf
func.func @main() {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = arith.constant 2000 : index
  %zero = arith.constant 0.0 : f32
  %step = arith.constant 0.0875 : f32
  %lo = arith.constant -87.0 : f32
  %worst = scf.for %i = %c0 to %n step %c1 iter_args(%m = %zero) -> f32 {
    %ii = arith.index_cast %i : index to i32
    %fi = arith.sitofp %ii : i32 to f32
    %x = math.fma %fi, %step, %lo : f32
    %y = math.exp %x : f32
    %xd = arith.extf %x : f32 to f64
    %yd = math.exp %xd : f64
    %ref = arith.truncf %yd : f64 to f32
    %d = arith.subf %y, %ref : f32
    %ad = math.absf %d : f32
    %rel = arith.divf %ad, %ref : f32
    // maximumf propagates NaN, so a NaN anywhere fails the bound below.
    %next = arith.maximumf %m, %rel : f32
    scf.yield %next : f32
  }
  vector.print str "max relative error\n"
  %bound = arith.constant 2.5e-7 : f32
  %ok = arith.cmpf olt, %worst, %bound : f32
  vector.print %ok : i1
  %ninf = arith.constant 0xFF800000 : f32
  %pinf = arith.constant 0x7F800000 : f32
  %nan = arith.constant 0x7FC00000 : f32
  %small = arith.constant -200.0 : f32
  %big = arith.constant 100.0 : f32
  %e0 = math.exp %ninf : f32
  %e1 = math.exp %pinf : f32
  %e2 = math.exp %nan : f32
  %e3 = math.exp %zero : f32
  %e4 = math.exp %small : f32
  %e5 = math.exp %big : f32
  vector.print %e0 : f32
  vector.print %e1 : f32
  vector.print %e2 : f32
  vector.print %e3 : f32
  vector.print %e4 : f32
  vector.print %e5 : f32
  return
}

// dsc-expand-bf16 (CPU pipeline): bf16 conversions as integer ops, so the
// host object needs no libgcc __truncsfbf2; float min/max are left alone.
// RUN: dsc-opt %s --dsc-expand-bf16 | FileCheck %s

// CHECK-LABEL: func.func @round
// CHECK-NOT: arith.truncf
// CHECK: arith.bitcast %{{.*}} : f32 to i32
// CHECK: arith.shrui
// CHECK: arith.trunci %{{.*}} : i32 to i16
// CHECK: arith.bitcast %{{.*}} : i16 to bf16
// CHECK-NOT: arith.extf
// CHECK: arith.maximumf
func.func @round(%x: f32, %y: f32) -> (bf16, f32) {
  %b = arith.truncf %x : f32 to bf16
  %w = arith.extf %b : bf16 to f32
  %m = arith.maximumf %w, %y : f32
  return %b, %m : bf16, f32
}

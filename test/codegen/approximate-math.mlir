// RUN: dsc-opt %s --split-input-file --dsc-approximate-math | FileCheck %s
// RUN: dsc-opt %s --split-input-file --dsc-approximate-math="ops=exp,tanh" | FileCheck %s --check-prefix=TANH
// RUN: not dsc-opt %s --split-input-file --dsc-approximate-math="ops=gamma" 2>&1 | FileCheck %s --check-prefix=BAD
// MLIR's rsqrt approximation needs the x86vector dialect: not offered.
// RUN: not dsc-opt %s --split-input-file --dsc-approximate-math="ops=rsqrt" 2>&1 | FileCheck %s --check-prefix=RSQRT
// RSQRT: no approximation of 'math.rsqrt'


// exp on f32 (scalars, as in loop bodies, and vectors) becomes inline
// arithmetic; sin, cos and f64 keep their library calls.
// CHECK-LABEL: func.func @exp_f32
// CHECK-NOT: math.exp
// CHECK: math.fma
// CHECK: arith.bitcast
// CHECK-NOT: math.exp
// CHECK: return
func.func @exp_f32(%x: f32, %v: vector<8xf32>) -> (f32, vector<8xf32>) {
  %0 = math.exp %x : f32
  %1 = math.exp %v : vector<8xf32>
  return %0, %1 : f32, vector<8xf32>
}

// -----

// CHECK-LABEL: func.func @kept
// CHECK: math.sin %{{.*}} : f32
// CHECK: math.cos %{{.*}} : f32
// CHECK: math.exp %{{.*}} : f64
// CHECK: math.tanh %{{.*}} : f32
// TANH-LABEL: func.func @kept
// TANH: math.sin
// TANH: math.cos
// TANH: math.exp %{{.*}} : f64
// TANH-NOT: math.tanh
func.func @kept(%x: f32, %d: f64) -> (f32, f32, f64, f32) {
  %0 = math.sin %x : f32
  %1 = math.cos %x : f32
  %2 = math.exp %d : f64
  %3 = math.tanh %x : f32
  return %0, %1, %2, %3 : f32, f32, f64, f32
}

// BAD: no approximation of 'math.gamma' (known: acos, asin,

// RUN: dsc-opt %s --split-input-file --dsc-vectorize-contractions="lanes=16 tile-n=4 bf16-dot" | FileCheck %s
// RUN: dsc-opt %s --split-input-file --dsc-vectorize-contractions="lanes=16 tile-n=4 bf16-dot block-k=64" --canonicalize | FileCheck %s --check-prefix=BLOCKS
// RUN: dsc-opt %s --split-input-file --dsc-vectorize-contractions="lanes=16 tile-n=4 bf16-dot" --convert-vector-to-llvm=enable-x86vector | FileCheck %s --check-prefix=LLVM
// RUN: not dsc-opt %s --split-input-file --dsc-vectorize-contractions="lanes=16 tile-n=4 bf16-dot block-k=16" 2>&1 | FileCheck %s --check-prefix=BADBLOCK
// RUN: not dsc-opt %s --split-input-file --dsc-vectorize-contractions="lanes=12 bf16-dot block-k=48" 2>&1 | FileCheck %s --check-prefix=BADBLOCK
// BADBLOCK: dsc-vectorize-contractions: bf16-dot takes lanes 4, 8 or 16 and block-k a multiple of 2 x lanes

// With bf16-dot (host code for x86-64-v4-bf16), a dot form whose A and B
// are both bf16 multiplies 2 x 16 values of k a step on vdpbf16ps: the
// values are loaded as stored (no widening) and each of the 4 x 4 tile's
// accumulators adds pairs of products. k = 72: two steps of 32, then the
// last 8 under a mask of 32 lanes, the lanes past it zeros.
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @linear_bf16
// CHECK-NOT: linalg.generic
// CHECK: %[[ACC:.*]]:16 = scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c32{{.*}} iter_args
// CHECK-NOT: arith.extf
// CHECK-COUNT-4: vector.load %{{.*}} : memref<?x72xbf16>, vector<32xbf16>
// CHECK: %[[W0:.*]] = vector.load %{{.*}} : memref<40x72xbf16>, vector<32xbf16>
// CHECK: x86vector.avx512.dot %{{.*}}, %{{.*}}, %[[W0]] : vector<32xbf16> -> vector<16xf32>
// CHECK-NOT: vector.fma
// CHECK: scf.yield
// CHECK: %[[MASK:.*]] = vector.create_mask %{{.*}} : vector<32xi1>
// CHECK: %[[ZEROS:.*]] = arith.constant dense<0.000000e+00> : vector<32xbf16>
// CHECK: vector.maskedload %{{.*}}, %[[MASK]], %[[ZEROS]] : memref<?x72xbf16>, vector<32xi1>, vector<32xbf16> into vector<32xbf16>
// CHECK: x86vector.avx512.dot %[[ACC]]#0, {{.*}} : vector<32xbf16> -> vector<16xf32>
// The 16 accumulators then go through the f32 lanes' tree, as without it.
// CHECK: vector.shuffle {{.*}} [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23] : vector<16xf32>, vector<16xf32>
// The pairs and single rows take the same steps.
// CHECK: scf.for %{{.*}} step %c2
// CHECK: scf.for %{{.*}} step %c32{{.*}} iter_args
// CHECK: x86vector.avx512.dot
// CHECK: scf.for %{{.*}} step %c1
// CHECK: scf.for %{{.*}} step %c32{{.*}} iter_args
// CHECK: x86vector.avx512.dot

// In blocks of 64 k: a block of two steps of 32, then one of the last 8
// values of k, masked.
// BLOCKS-LABEL: func.func @linear_bf16
// BLOCKS: scf.for %[[K0:.*]] = %c0 to %c72 step %c64
// BLOCKS: %[[K1:.*]] = arith.minui
// BLOCKS: scf.for %{{.*}} = %[[K0]] to %{{.*}} step %c32 iter_args
// BLOCKS: x86vector.avx512.dot
// BLOCKS: vector.create_mask %{{.*}} : vector<32xi1>

// LLVM-LABEL: func.func @linear_bf16
// LLVM: llvm.call_intrinsic "llvm.x86.avx512bf16.dpbf16ps.512"(%{{.*}}, %{{.*}}, %{{.*}}) : (vector<16xf32>, vector<32xbf16>, vector<32xbf16>) -> vector<16xf32>
func.func @linear_bf16(%x: memref<?x72xbf16>, %w: memref<40x72xbf16>, %y: memref<?x40xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x72xbf16>, memref<40x72xbf16>) outs(%y : memref<?x40xf32>) {
  ^bb0(%a: bf16, %b: bf16, %c: f32):
    %0 = arith.extf %a : bf16 to f32
    %1 = arith.extf %b : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %c, %2 : f32
    linalg.yield %3 : f32
  }
  return
}

// -----

// An f32 A (a linear layer's input not rounded to bf16) keeps the widened
// bf16 weights and vector.fma: a bf16 dot would round A.
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @linear_f32_input
// CHECK-NOT: x86vector
// CHECK: scf.for %{{.*}} step %c16{{.*}} iter_args
// CHECK: vector.load %{{.*}} : memref<40x200xbf16>, vector<16xbf16>
// CHECK: arith.extf %{{.*}} : vector<16xbf16> to vector<16xf32>
// CHECK: vector.fma
// CHECK-NOT: x86vector
// BLOCKS-LABEL: func.func @linear_f32_input
// BLOCKS-NOT: x86vector
// LLVM-LABEL: func.func @linear_f32_input
// LLVM-NOT: dpbf16ps
func.func @linear_f32_input(%x: memref<?x200xf32>, %w: memref<40x200xbf16>, %y: memref<?x40xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x200xf32>, memref<40x200xbf16>) outs(%y : memref<?x40xf32>) {
  ^bb0(%a: f32, %b: bf16, %c: f32):
    %1 = arith.extf %b : bf16 to f32
    %2 = arith.mulf %a, %1 : f32
    %3 = arith.addf %c, %2 : f32
    linalg.yield %3 : f32
  }
  return
}

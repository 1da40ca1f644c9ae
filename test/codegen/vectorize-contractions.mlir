// RUN: dsc-opt %s --split-input-file --dsc-vectorize-contractions | FileCheck %s
// RUN: dsc-opt %s --split-input-file --dsc-vectorize-contractions="lanes=4 tile-m=2 tile-n=1" | FileCheck %s --check-prefix=SMALL
// RUN: dsc-opt %s --split-input-file --dsc-vectorize-contractions="block-k=16 block-bytes=1024" --canonicalize | FileCheck %s --check-prefix=BLOCKS
// RUN: not dsc-opt %s --split-input-file --dsc-vectorize-contractions="block-k=12" 2>&1 | FileCheck %s --check-prefix=BADBLOCK
// AVX-512's tiles (cpuGemmTiles at x86-64-v4): 16 lanes, 4 x 4.
// RUN: dsc-opt %s --split-input-file --dsc-vectorize-contractions="lanes=16 tile-n=4" | FileCheck %s --check-prefix=WIDE
// BADBLOCK: dsc-vectorize-contractions: block-k must be a multiple of lanes (0: no blocks) and block-bytes >= 1

// Dot form (x * W^T, k contiguous in both): 4 x 2 tiles of vector
// accumulators along k. A full tile's 8 accumulators are summed by one tree
// of shuffles and adds into one vector (lane l: the sum of one output);
// narrower tiles for the last rows and columns reduce each accumulator.
// k = 64 divides by 8: no masks. The batch b and the sequence s are
// flattened into one range of b x s rows (row r: b = r / S, s = r % S), so
// that a decode step's rows (one token per sequence) share tiles too.
#x = affine_map<(b, s, n, k) -> (b, s, k)>
#w = affine_map<(b, s, n, k) -> (n, k)>
#y = affine_map<(b, s, n, k) -> (b, s, n)>
// CHECK-LABEL: func.func @linear
// CHECK-NOT: linalg.generic
// CHECK: %[[B:.*]] = memref.dim %{{.*}}, %c0{{.*}} : memref<?x?x64xf32>
// CHECK: %[[S:.*]] = memref.dim %{{.*}}, %c1{{.*}} : memref<?x?x64xf32>
// CHECK: %[[ROWS:.*]] = arith.muli %[[S]], %[[B]] : index
// CHECK: %[[TAIL:.*]] = arith.remui %[[ROWS]], %c4
// CHECK: %[[FULL:.*]] = arith.subi %[[ROWS]], %[[TAIL]]
// CHECK: scf.for %[[R:.*]] = %{{.*}} to %[[FULL]] step %c4
// CHECK: scf.for %{{.*}} step %c2
// CHECK: %[[ACC:.*]]:8 = scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c8{{.*}} iter_args
// CHECK: %[[S0:.*]] = arith.remui %[[R]], %[[S]] : index
// CHECK: %[[B0:.*]] = arith.divui %[[R]], %[[S]] : index
// CHECK: vector.load %{{.*}}[%[[B0]], %[[S0]], %{{.*}}] : memref<?x?x64xf32>, vector<8xf32>
// CHECK-COUNT-3: vector.load %{{.*}} : memref<?x?x64xf32>, vector<8xf32>
// CHECK: vector.load %{{.*}} : memref<40x64xf32>, vector<8xf32>
// CHECK-COUNT-4: vector.fma
// CHECK: scf.yield
// CHECK-NOT: vector.create_mask
// CHECK: %[[LO:.*]] = vector.shuffle %[[ACC]]#0, %[[ACC]]#1 [0, 1, 2, 3, 8, 9, 10, 11]
// CHECK: %[[HI:.*]] = vector.shuffle %[[ACC]]#0, %[[ACC]]#1 [4, 5, 6, 7, 12, 13, 14, 15]
// CHECK: arith.addf %[[LO]], %[[HI]] : vector<8xf32>
// CHECK-COUNT-3: vector.shuffle {{.*}} [4, 5, 6, 7, 12, 13, 14, 15]
// CHECK-COUNT-2: vector.shuffle {{.*}} [2, 3, 10, 11, 6, 7, 14, 15]
// CHECK: vector.shuffle {{.*}} [0, 8, 2, 10, 4, 12, 6, 14]
// CHECK: %[[SUMS:.*]] = arith.addf {{.*}} : vector<8xf32>
// Row 0, column 0 (accumulator 0) is lane 0; row 0, column 1 is lane 4.
// CHECK: vector.extract %[[SUMS]][0] : f32 from vector<8xf32>
// CHECK: memref.store
// CHECK: vector.extract %[[SUMS]][4] : f32 from vector<8xf32>
// CHECK: memref.store
// The rows left in pairs (a decode step of two or three sequences): 2 x 4
// tiles, a full tile's eight accumulators, each loaded row of W feeding two
// rows of x.
// CHECK: scf.for %{{.*}} step %c2
// CHECK: scf.for %{{.*}} step %c4
// CHECK: %[[PAIR:.*]]:8 = scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c8{{.*}} iter_args
// CHECK-NEXT: arith.remui
// CHECK-NEXT: arith.divui
// CHECK-NEXT: vector.load %{{.*}} : memref<?x?x64xf32>, vector<8xf32>
// CHECK: arith.addi
// CHECK-NEXT: arith.remui
// CHECK-NEXT: arith.divui
// CHECK-NEXT: vector.load %{{.*}} : memref<?x?x64xf32>, vector<8xf32>
// CHECK-COUNT-4: vector.load %{{.*}} : memref<40x64xf32>, vector<8xf32>
// CHECK-NOT: vector.load
// CHECK: scf.yield
// CHECK: vector.shuffle %[[PAIR]]#0, %[[PAIR]]#1
// The last row one at a time: 1 x 8 tiles (a full tile's accumulators,
// eight rows of W streamed at once, one shuffle tree), then the last
// columns one by one, each reduced alone.
// CHECK: scf.for %{{.*}} step %c1
// CHECK: %[[ROW:.*]]:8 = scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c8{{.*}} iter_args
// CHECK-COUNT-1: vector.load %{{.*}} : memref<?x?x64xf32>, vector<8xf32>
// CHECK-COUNT-8: vector.load %{{.*}} : memref<40x64xf32>, vector<8xf32>
// CHECK: scf.yield
// CHECK: vector.shuffle %[[ROW]]#0, %[[ROW]]#1
// The tree leaves column j of the tile in lane j with its 3 bits reversed
// (column 1 in lane 4): each column's store reads its own lane.
// CHECK: vector.shuffle {{.*}} [1, 9, 3, 11, 5, 13, 7, 15]
// CHECK-NEXT: %[[ROWSUM:.*]] = arith.addf %{{.*}}, %{{.*}} : vector<8xf32>
// CHECK: memref.load %{{.*}}[%{{.*}}, %{{.*}}, %[[N0:.*]]] : memref<?x?x40xf32>
// CHECK: vector.extract %[[ROWSUM]][0] : f32 from vector<8xf32>
// CHECK: memref.store %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}, %[[N0]]]
// CHECK: %[[N1:.*]] = arith.addi %[[N0]], %c1{{[_0-9]*}} : index
// CHECK: vector.extract %[[ROWSUM]][4] : f32 from vector<8xf32>
// CHECK: memref.store %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}, %[[N1]]]
// CHECK: %[[N2:.*]] = arith.addi %[[N0]], %c2{{[_0-9]*}} : index
// CHECK: vector.extract %[[ROWSUM]][2] : f32 from vector<8xf32>
// CHECK: memref.store %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}, %[[N2]]]
// CHECK: %[[N3:.*]] = arith.addi %[[N0]], %c3{{[_0-9]*}} : index
// CHECK: vector.extract %[[ROWSUM]][6] : f32 from vector<8xf32>
// CHECK: memref.store %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}, %[[N3]]]
// CHECK: %[[N4:.*]] = arith.addi %[[N0]], %c4{{[_0-9]*}} : index
// CHECK: vector.extract %[[ROWSUM]][1] : f32 from vector<8xf32>
// CHECK: memref.store %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}, %[[N4]]]
// CHECK: %[[N5:.*]] = arith.addi %[[N0]], %c5{{[_0-9]*}} : index
// CHECK: vector.extract %[[ROWSUM]][5] : f32 from vector<8xf32>
// CHECK: memref.store %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}, %[[N5]]]
// CHECK: %[[N6:.*]] = arith.addi %[[N0]], %c6{{[_0-9]*}} : index
// CHECK: vector.extract %[[ROWSUM]][3] : f32 from vector<8xf32>
// CHECK: memref.store %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}, %[[N6]]]
// CHECK: %[[N7:.*]] = arith.addi %[[N0]], %c7{{[_0-9]*}} : index
// CHECK: vector.extract %[[ROWSUM]][7] : f32 from vector<8xf32>
// CHECK: memref.store %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}, %[[N7]]]
// The last columns: each output's lanes summed alone by the same tree
// (the halves added, then their halves), not a vector.reduction whose
// order LLVM would choose: the bits of a full tile's output.
// CHECK: %[[LOW4:.*]] = vector.shuffle %[[EDGE:.*]], %[[EDGE]] [0, 1, 2, 3] : vector<8xf32>, vector<8xf32>
// CHECK: %[[HIGH4:.*]] = vector.shuffle %[[EDGE]], %[[EDGE]] [4, 5, 6, 7] : vector<8xf32>, vector<8xf32>
// CHECK: %[[SUM4:.*]] = arith.addf %[[LOW4]], %[[HIGH4]] : vector<4xf32>
// CHECK: vector.shuffle %[[SUM4]], %[[SUM4]] [0, 1] : vector<4xf32>, vector<4xf32>
// CHECK: arith.addf {{.*}} : vector<2xf32>
// CHECK: %[[SUM1:.*]] = arith.addf {{.*}} : vector<1xf32>
// CHECK: vector.extract %[[SUM1]][0] : f32 from vector<1xf32>
// CHECK-NOT: vector.reduction
// CHECK-NOT: fastmath
// CHECK: return
// SMALL-LABEL: func.func @linear
// SMALL: scf.for %{{.*}} step %c4{{.*}} iter_args({{.*}}) -> (vector<4xf32>, vector<4xf32>)
// With 16 lanes in 4 x 4 tiles: each k step loads 4 rows of x and feeds
// each loaded row of W to 4 accumulators; the tree's first shuffles add
// the lanes 8 apart, its last ones neighbours, and leave column j of row 0
// in lane j with its 4 bits reversed (column 1 in lane 8). Pairs take 2 x
// 8 tiles and single rows 1 x 16: as many outputs as lanes, one tree.
// WIDE-LABEL: func.func @linear
// WIDE: scf.for %{{.*}} step %c4
// WIDE: scf.for %{{.*}} step %c4
// WIDE: %[[ACC:.*]]:16 = scf.for %{{.*}} step %c16{{.*}} iter_args
// WIDE-COUNT-4: vector.load %{{.*}} : memref<?x?x64xf32>, vector<16xf32>
// WIDE: %[[W0:.*]] = vector.load %{{.*}} : memref<40x64xf32>, vector<16xf32>
// WIDE-COUNT-4: vector.fma %{{.*}}, %[[W0]], %{{.*}} : vector<16xf32>
// WIDE: scf.yield
// WIDE: vector.shuffle %[[ACC]]#0, %[[ACC]]#1 [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]
// WIDE: vector.shuffle {{.*}} [0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30]
// WIDE: %[[SUMS:.*]] = arith.addf {{.*}} : vector<16xf32>
// WIDE: vector.extract %[[SUMS]][0] : f32 from vector<16xf32>
// WIDE: vector.extract %[[SUMS]][8] : f32 from vector<16xf32>
// WIDE: vector.extract %[[SUMS]][4] : f32 from vector<16xf32>
// WIDE: vector.extract %[[SUMS]][12] : f32 from vector<16xf32>
// WIDE: scf.for %{{.*}} step %c2
// WIDE: scf.for %{{.*}} step %c8
// WIDE: %[[PAIR:.*]]:16 = scf.for %{{.*}} step %c16{{.*}} iter_args
// WIDE: vector.shuffle %[[PAIR]]#0, %[[PAIR]]#1
// WIDE: scf.for %{{.*}} step %c1
// WIDE: scf.for %{{.*}} step %c16
// WIDE: %[[ROW:.*]]:16 = scf.for %{{.*}} step %c16{{.*}} iter_args
// WIDE-COUNT-1: vector.load %{{.*}} : memref<?x?x64xf32>, vector<16xf32>
// WIDE-COUNT-16: vector.load %{{.*}} : memref<40x64xf32>, vector<16xf32>
// WIDE: scf.yield
// WIDE: vector.shuffle %[[ROW]]#0, %[[ROW]]#1
func.func @linear(%x: memref<?x?x64xf32>, %w: memref<40x64xf32>, %y: memref<?x?x40xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x?x64xf32>, memref<40x64xf32>) outs(%y : memref<?x?x40xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A k that does not divide by the lanes: the last step loads masked.
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @ragged_depth
// CHECK: vector.load
// CHECK: vector.create_mask %{{.*}} : vector<8xi1>
// CHECK: vector.maskedload %{{.*}}, %{{.*}}, %{{.*}} : memref<?x20xf32>, vector<8xi1>, vector<8xf32> into vector<8xf32>
// In blocks of 16 (16 + 4): the last block's remainder is masked from its
// own end, in the cache blocks and in the registers' blocks alike.
// BLOCKS-LABEL: func.func @ragged_depth
// BLOCKS: scf.for %[[K0:.*]] = %c0 to %c20 step %c16 {
// BLOCKS: %[[K1:.*]] = arith.minui %{{.*}}, %c20 : index
// BLOCKS: %[[KFULL:.*]] = arith.addi %[[K0]], %{{.*}} : index
// BLOCKS: scf.for %{{.*}} = %[[K0]] to %[[KFULL]] step %c8 iter_args
// BLOCKS: %[[LEFT:.*]] = arith.subi %[[K1]], %[[KFULL]] : index
// BLOCKS: vector.create_mask %[[LEFT]] : vector<8xi1>
// BLOCKS: scf.for %[[RK0:.*]] = %c0 to %c20 step %c16 iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32) {
// BLOCKS: %[[RK1:.*]] = arith.minui %{{.*}}, %c20 : index
// BLOCKS: %[[RKFULL:.*]] = arith.addi %[[RK0]], %{{.*}} : index
// BLOCKS: scf.for %{{.*}} = %[[RK0]] to %[[RKFULL]] step %c8 iter_args
// BLOCKS: %[[RLEFT:.*]] = arith.subi %[[RK1]], %[[RKFULL]] : index
// BLOCKS: vector.create_mask %[[RLEFT]] : vector<8xi1>
func.func @ragged_depth(%x: memref<?x20xf32>, %w: memref<6x20xf32>, %y: memref<?x6xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x20xf32>, memref<6x20xf32>) outs(%y : memref<?x6xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %b, %a : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A bf16 weight (bound as the checkpoint stores it) widened in the body:
// loaded as bf16 vectors, half the bytes, and widened per vector. The k
// remainder loads its lanes one by one (no masked bf16 load: x86 would
// convert its lanes through libgcc's __truncsfbf2), lanes past the mask
// reloading lane 0 and keeping 0, nothing loaded when no lane is on.
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @bf16_weight
// CHECK-NOT: linalg.generic
// CHECK: vector.load %{{.*}} : memref<?x20xf32>, vector<8xf32>
// CHECK: %[[W:.*]] = vector.load %{{.*}} : memref<6x20xbf16>, vector<8xbf16>
// CHECK: arith.extf %[[W]] : vector<8xbf16> to vector<8xf32>
// CHECK: vector.fma
// CHECK: vector.maskedload %{{.*}} : memref<?x20xf32>, vector<8xi1>, vector<8xf32> into vector<8xf32>
// CHECK: %[[ANY:.*]] = arith.cmpi ugt, %[[LEFT:.*]], %c0
// CHECK: scf.if %[[ANY]] -> (vector<8xf32>)
// CHECK: %[[ON:.*]] = arith.cmpi ult, %c0{{.*}}, %[[LEFT]]
// CHECK: %[[AT:.*]] = arith.select %[[ON]]
// CHECK: %[[E:.*]] = memref.load %{{.*}}[%{{.*}}, %[[AT]]] : memref<6x20xbf16>
// CHECK: %[[EW:.*]] = arith.extf %[[E]] : bf16 to f32
// CHECK: arith.select %[[ON]], %[[EW]], %{{.*}} : f32
// CHECK-COUNT-7: memref.load %{{.*}} : memref<6x20xbf16>
// CHECK: vector.from_elements {{.*}} : vector<8xf32>
// CHECK: } else {
// CHECK: scf.yield %{{.*}} : vector<8xf32>
// CHECK-NOT: vector.maskedload {{.*}}bf16
func.func @bf16_weight(%x: memref<?x20xf32>, %w: memref<6x20xbf16>, %y: memref<?x6xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x20xf32>, memref<6x20xbf16>) outs(%y : memref<?x6xf32>) {
  ^bb0(%a: f32, %b: bf16, %acc: f32):
    %e = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %e : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Axpy form with a bf16 A (an input rounded to bf16, as a GPU's GEMM takes
// it): A's scalar is widened before the broadcast.
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (k, n)>
#y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @bf16_axpy
// CHECK-NOT: linalg.generic
// CHECK: %[[A:.*]] = memref.load %{{.*}} : memref<?x64xbf16>
// CHECK: %[[AW:.*]] = arith.extf %[[A]] : bf16 to f32
// CHECK: vector.broadcast %[[AW]] : f32 to vector<8xf32>
func.func @bf16_axpy(%x: memref<?x64xbf16>, %w: memref<64x16xf32>, %y: memref<?x16xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x64xbf16>, memref<64x16xf32>) outs(%y : memref<?x16xf32>) {
  ^bb0(%a: bf16, %b: f32, %acc: f32):
    %e = arith.extf %a : bf16 to f32
    %p = arith.mulf %e, %b : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Axpy form (x * W with W [k, n], as an exported MatMul): A is broadcast
// per k, B and C are vectors along n; the last 20 % 16 columns masked.
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (k, n)>
#y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @matmul
// CHECK-NOT: linalg.generic
// CHECK: scf.for %{{.*}} step %c1{{.*}} iter_args
// CHECK: vector.load %{{.*}} : memref<64x20xf32>, vector<8xf32>
// CHECK: memref.load %{{.*}} : memref<?x64xf32>
// CHECK: vector.broadcast %{{.*}} : f32 to vector<8xf32>
// CHECK: vector.fma
// CHECK: vector.store %{{.*}} : memref<?x20xf32>, vector<8xf32>
// CHECK: vector.create_mask
// CHECK: vector.maskedload %{{.*}} : memref<64x20xf32>
// CHECK: vector.maskedstore
func.func @matmul(%x: memref<?x64xf32>, %w: memref<64x20xf32>, %y: memref<?x20xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x64xf32>, memref<64x20xf32>) outs(%y : memref<?x20xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Roles are found in either input order: here the output's contiguous
// dimension comes from the second input (y^T = W * x^T).
#x = affine_map<(n, m, k) -> (k, m)>
#w = affine_map<(n, m, k) -> (n, k)>
#y = affine_map<(n, m, k) -> (n, m)>
// CHECK-LABEL: func.func @transposed_product
// CHECK-NOT: linalg.generic
// CHECK: memref.load %{{.*}} : memref<8x64xf32>
// CHECK: vector.broadcast
func.func @transposed_product(%x: memref<64x?xf32>, %w: memref<8x64xf32>, %y: memref<8x?xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<64x?xf32>, memref<8x64xf32>) outs(%y : memref<8x?xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// The dense experts' down projection (the unfused MoE): two reductions
// (experts e, intermediate i) and a routing weight per token and expert,
// which scales each k sum.
#r = affine_map<(t, h, e, i) -> (t, e)>
#a = affine_map<(t, h, e, i) -> (e, t, i)>
#w = affine_map<(t, h, e, i) -> (e, h, i)>
#y = affine_map<(t, h, e, i) -> (t, h)>
// CHECK-LABEL: func.func @dense_experts_down
// CHECK-NOT: linalg.generic
// CHECK: vector.fma
// CHECK: %[[SUM:.*]] = vector.extract %{{.*}}[0] : f32 from vector<1xf32>
// CHECK: %[[WEIGHT:.*]] = memref.load %{{.*}} : memref<?x16xf32>
// CHECK: arith.mulf %[[SUM]], %[[WEIGHT]]
// In blocks, each block's sum is scaled before it is added.
// BLOCKS-LABEL: func.func @dense_experts_down
// BLOCKS: scf.for %[[DK0:.*]] = %c0 to %c32 step %c16 {
// BLOCKS: scf.for %{{.*}} = %[[DK0]] to %{{.*}} step %c8 iter_args
// BLOCKS: %[[DSUM:.*]] = vector.extract %{{.*}} : f32 from vector<8xf32>
// BLOCKS: %[[DWEIGHT:.*]] = memref.load %{{.*}} : memref<?x16xf32>
// BLOCKS: %[[DSCALED:.*]] = arith.mulf %[[DSUM]], %[[DWEIGHT]] : f32
// BLOCKS: arith.addf %{{.*}}, %[[DSCALED]] : f32
func.func @dense_experts_down(%r: memref<?x16xf32>, %act: memref<16x?x32xf32>, %w: memref<16x64x32xf32>, %y: memref<?x64xf32>) {
  linalg.generic {indexing_maps = [#r, #a, #w, #y], iterator_types = ["parallel", "parallel", "reduction", "reduction"]} ins(%r, %act, %w : memref<?x16xf32>, memref<16x?x32xf32>, memref<16x64x32xf32>) outs(%y : memref<?x64xf32>) {
  ^bb0(%g: f32, %a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %g, %a : f32
    %q = arith.mulf %p, %b : f32
    %s = arith.addf %acc, %q : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Near misses stay generic (convert-linalg-to-loops lowers them).
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#wt = affine_map<(m, n, k) -> (k, n)>
#xt = affine_map<(m, n, k) -> (k, m)>
#y = affine_map<(m, n, k) -> (m, n)>
#yt = affine_map<(m, n, k) -> (n, m)>
// CHECK-LABEL: func.func @negative_not_multiply_add
// CHECK: linalg.generic
// CHECK-NOT: vector.
func.func @negative_not_multiply_add(%x: memref<?x64xf32>, %w: memref<8x64xf32>, %y: memref<?x8xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x64xf32>, memref<8x64xf32>) outs(%y : memref<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.subf %a, %b : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}
// CHECK-LABEL: func.func @negative_squared
// CHECK: linalg.generic
// CHECK-NOT: vector.
func.func @negative_squared(%x: memref<?x64xf32>, %w: memref<8x64xf32>, %y: memref<?x8xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x64xf32>, memref<8x64xf32>) outs(%y : memref<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %a : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}
// Neither k contiguous in both inputs nor n (or m) in the output and its
// input.
// CHECK-LABEL: func.func @negative_no_contiguous_dimension
// CHECK: linalg.generic
// CHECK-NOT: vector.
func.func @negative_no_contiguous_dimension(%x: memref<?x64xf32>, %w: memref<64x8xf32>, %y: memref<8x?xf32>) {
  linalg.generic {indexing_maps = [#x, #wt, #yt], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x64xf32>, memref<64x8xf32>) outs(%y : memref<8x?xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}
// A strided view whose k is not unit-stride.
// CHECK-LABEL: func.func @negative_strided
// CHECK: linalg.generic
// CHECK-NOT: vector.
func.func @negative_strided(%x: memref<?x64xf32, strided<[1, ?]>>, %w: memref<8x64xf32, strided<[1, 8]>>, %y: memref<?x8xf32, strided<[1, ?]>>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x64xf32, strided<[1, ?]>>, memref<8x64xf32, strided<[1, 8]>>) outs(%y : memref<?x8xf32, strided<[1, ?]>>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}
// The scale varies along k: it cannot multiply a whole sum.
#s = affine_map<(m, n, k) -> (k)>
// CHECK-LABEL: func.func @negative_scale_along_k
// CHECK: linalg.generic
// CHECK-NOT: vector.
func.func @negative_scale_along_k(%x: memref<?x64xf32>, %w: memref<8x64xf32>, %g: memref<64xf32>, %y: memref<?x8xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #s, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w, %g : memref<?x64xf32>, memref<8x64xf32>, memref<64xf32>) outs(%y : memref<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %q = arith.mulf %p, %c : f32
    %s = arith.addf %q, %acc : f32
    linalg.yield %s : f32
  }
  return
}
// f64 is left alone.
// CHECK-LABEL: func.func @negative_f64
// CHECK: linalg.generic
// CHECK-NOT: vector.
func.func @negative_f64(%x: memref<?x64xf64>, %w: memref<8x64xf64>, %y: memref<?x8xf64>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x64xf64>, memref<8x64xf64>) outs(%y : memref<?x8xf64>) {
  ^bb0(%a: f64, %b: f64, %acc: f64):
    %p = arith.mulf %a, %b : f64
    %s = arith.addf %p, %acc : f64
    linalg.yield %s : f64
  }
  return
}

// -----

// A bf16 input the body does not widen (its product in bf16), a bf16
// contraction (its sums in bf16: the matcher takes its body, the output's
// type refuses it), and an f16 input are left alone.
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @negative_bf16_product
// CHECK: linalg.generic
// CHECK-NOT: vector.
func.func @negative_bf16_product(%x: memref<?x64xbf16>, %w: memref<8x64xbf16>, %y: memref<?x8xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x64xbf16>, memref<8x64xbf16>) outs(%y : memref<?x8xf32>) {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %p = arith.mulf %a, %b : bf16
    %e = arith.extf %p : bf16 to f32
    %s = arith.addf %e, %acc : f32
    linalg.yield %s : f32
  }
  return
}
// CHECK-LABEL: func.func @negative_bf16_output
// CHECK: linalg.generic
// CHECK-NOT: vector.
func.func @negative_bf16_output(%x: memref<?x64xbf16>, %w: memref<8x64xbf16>, %y: memref<?x8xbf16>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x64xbf16>, memref<8x64xbf16>) outs(%y : memref<?x8xbf16>) {
  ^bb0(%a: bf16, %b: bf16, %acc: bf16):
    %p = arith.mulf %a, %b : bf16
    %s = arith.addf %p, %acc : bf16
    linalg.yield %s : bf16
  }
  return
}
// CHECK-LABEL: func.func @negative_f16_weight
// CHECK: linalg.generic
// CHECK-NOT: vector.
func.func @negative_f16_weight(%x: memref<?x64xf32>, %w: memref<8x64xf16>, %y: memref<?x8xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x64xf32>, memref<8x64xf16>) outs(%y : memref<?x8xf32>) {
  ^bb0(%a: f32, %b: f16, %acc: f32):
    %e = arith.extf %b : f16 to f32
    %p = arith.mulf %a, %e : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Cache blocks (here of 16 k and 1 KiB of W: 16 columns of 16 f32). The
// full tiles of 4 rows run per block of columns [n0, n0 + 16), per block of
// k [k0, k0 + 16), adding each block's sums to y: a tile reads its slice of
// W from the L2 cache and its rows of x from the L1 cache across the
// block's columns. The pairs and single rows (a decode step's) stream W's
// rows whole, adding each block's sums in registers, in the same order:
// the same bits for an output whatever its tile. (With the default
// blocks, 2048 k and 256 KiB, these shapes are one block: no loops.)
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @cache_blocks
// CHECK-NOT: arith.minui
// CHECK: return
// BLOCKS-LABEL: func.func @cache_blocks
// BLOCKS: scf.for %[[N0:.*]] = %c0 to %c40 step %c16 {
// BLOCKS: %[[N16:.*]] = arith.addi %[[N0]], %c16 : index
// BLOCKS: %[[N1:.*]] = arith.minui %[[N16]], %c40 : index
// BLOCKS: scf.for %[[K0:.*]] = %c0 to %c40 step %c16 {
// BLOCKS: %[[K16:.*]] = arith.addi %[[K0]], %c16 : index
// BLOCKS: %[[K1:.*]] = arith.minui %[[K16]], %c40 : index
// BLOCKS: scf.for %[[M0:.*]] = %c0 to %{{.*}} step %c4 {
// BLOCKS: scf.for %[[C0:.*]] = %[[N0]] to %{{.*}} step %c2 {
// BLOCKS: %[[KFULL:.*]] = arith.addi %[[K0]], %{{.*}} : index
// BLOCKS: scf.for %{{.*}} = %[[K0]] to %[[KFULL]] step %c8 iter_args
// BLOCKS-COUNT-4: vector.load %{{.*}} : memref<?x40xf32>, vector<8xf32>
// BLOCKS: scf.yield
// BLOCKS: %[[OLD:.*]] = memref.load %{{.*}}[%[[M0]], %[[C0]]] : memref<?x40xf32>
// BLOCKS: %[[LANE:.*]] = vector.extract %{{.*}}[0] : f32 from vector<8xf32>
// BLOCKS: %[[NEW:.*]] = arith.addf %[[OLD]], %[[LANE]] : f32
// BLOCKS: memref.store %[[NEW]], %{{.*}}[%[[M0]], %[[C0]]] : memref<?x40xf32>
// The pairs: y's eight values loaded once, carried through the blocks of k
// in registers, stored once.
// BLOCKS: scf.for %[[P:.*]] = %{{.*}} to %{{.*}} step %c2 {
// BLOCKS: scf.for %[[PC:.*]] = %c0 to %c40 step %c4 {
// BLOCKS: %[[Y0:.*]] = memref.load %{{.*}}[%[[P]], %[[PC]]] : memref<?x40xf32>
// BLOCKS-COUNT-7: memref.load
// BLOCKS: %[[SUMS:.*]]:8 = scf.for %[[PK:.*]] = %c0 to %c40 step %c16 iter_args(%[[CARRY:.*]] = %[[Y0]], {{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32) {
// BLOCKS: arith.minui
// BLOCKS: scf.for %{{.*}} = %[[PK]] to %{{.*}} step %c8 iter_args
// BLOCKS-COUNT-2: vector.load %{{.*}} : memref<?x40xf32>, vector<8xf32>
// BLOCKS-COUNT-4: vector.load %{{.*}} : memref<40x40xf32>, vector<8xf32>
// BLOCKS: scf.yield
// BLOCKS: %[[PLANE:.*]] = vector.extract %{{.*}}[0] : f32 from vector<8xf32>
// BLOCKS: arith.addf %[[CARRY]], %[[PLANE]] : f32
// BLOCKS-NOT: memref.store
// BLOCKS: scf.yield {{.*}} : f32, f32, f32, f32, f32, f32, f32, f32
// BLOCKS: memref.store %[[SUMS]]#0, %{{.*}}[%[[P]], %[[PC]]] : memref<?x40xf32>
// The single rows likewise.
// BLOCKS: scf.for %{{.*}} step %c1 {
// BLOCKS: scf.for %{{.*}} = %c0 to %c40 step %c8 {
// BLOCKS: scf.for %{{.*}} = %c0 to %c40 step %c16 iter_args
func.func @cache_blocks(%x: memref<?x40xf32>, %w: memref<40x40xf32>, %y: memref<?x40xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x40xf32>, memref<40x40xf32>) outs(%y : memref<?x40xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

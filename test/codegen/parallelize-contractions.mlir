// RUN: dsc-opt %s --split-input-file --dsc-parallelize-contractions="min-multiply-adds=4096" | FileCheck %s
// RUN: dsc-opt %s --split-input-file --dsc-parallelize-contractions="min-multiply-adds=4096" --dsc-vectorize-contractions | FileCheck %s --check-prefix=VEC
// A second run splits nothing more: the ranges' contractions stay as they are.
// RUN: dsc-opt %s --split-input-file --dsc-parallelize-contractions="min-multiply-adds=4096" --dsc-parallelize-contractions="min-multiply-adds=4096" | FileCheck %s --check-prefix=TWICE
// TWICE-NOT: @parallel_2
// TWICE-NOT: @columns_2
// A negative threshold splits none.
// RUN: dsc-opt %s --split-input-file --dsc-parallelize-contractions="min-multiply-adds=-1" | FileCheck %s --check-prefix=NONE
// NONE-NOT: dsc.parallel_for
// NONE-NOT: call @columns_
// RUN: not dsc-opt %s --split-input-file --dsc-parallelize-contractions="grain=0" 2>&1 | FileCheck %s --check-prefix=GRAIN
// GRAIN: error: dsc-parallelize-contractions: grain must be >= 1

// A decode step's GEMM (1 x 64 x 64 = 4096 multiply-adds, at the
// threshold): its columns n go to @columns_0 over subviews of the weight's
// rows and the output's columns; the input row is whole. The call site
// calls @parallel_0, marked with the grain, over all 64 columns.
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @decode
// CHECK-SAME: (%[[X:.*]]: memref<1x64xf32>, %[[W:.*]]: memref<64x64xbf16>, %[[Y:.*]]: memref<1x64xf32>)
// CHECK-NEXT: call @parallel_0(%[[X]], %[[W]], %[[Y]])
// CHECK-NEXT: return
// CHECK-LABEL: func.func private @columns_0
// CHECK-SAME: (%[[A:.*]]: memref<1x64xf32>, %[[B:.*]]: memref<64x64xbf16>, %[[C:.*]]: memref<1x64xf32>, %[[BEGIN:.*]]: index, %[[END:.*]]: index)
// CHECK-SAME: attributes {dsc.parallel_columns, passthrough = ["noinline"]}
// CHECK: %[[COUNT:.*]] = arith.subi %[[END]], %[[BEGIN]]
// CHECK: %[[BS:.*]] = memref.subview %[[B]][%[[BEGIN]], 0] [%[[COUNT]], 64] [1, 1] : memref<64x64xbf16> to memref<?x64xbf16, strided<[64, 1], offset: ?>>
// CHECK: %[[CS:.*]] = memref.subview %[[C]][0, %[[BEGIN]]] [1, %[[COUNT]]] [1, 1] : memref<1x64xf32> to memref<1x?xf32, strided<[64, 1], offset: ?>>
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[A]], %[[BS]] : {{.*}}) outs(%[[CS]] : {{.*}})
// CHECK-LABEL: func.func private @parallel_0
// CHECK-SAME: (%[[PA:.*]]: memref<1x64xf32>, %[[PB:.*]]: memref<64x64xbf16>, %[[PC:.*]]: memref<1x64xf32>) attributes {dsc.parallel_for = 16 : i64}
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG: %[[C1:.*]] = arith.constant 1 : index
// CHECK: %[[N:.*]] = memref.dim %[[PC]], %[[C1]]
// CHECK: call @columns_0(%[[PA]], %[[PB]], %[[PC]], %[[C0]], %[[N]])
// The ranges' contraction is register-blocked as before.
// VEC-LABEL: func.func private @columns_0
// VEC-NOT: linalg.generic
// VEC: vector.fma
func.func @decode(%x: memref<1x64xf32>, %w: memref<64x64xbf16>, %y: memref<1x64xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<1x64xf32>, memref<64x64xbf16>) outs(%y : memref<1x64xf32>) {
  ^bb0(%a: f32, %b: bf16, %acc: f32):
    %bw = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %bw : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Below the threshold (1 x 48 x 64), or too few columns for two ranges
// (n = 31 < 2 grains, however many multiply-adds): left in place.
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @small
// CHECK-NEXT: linalg.generic
// CHECK-NOT: func.func private @parallel
func.func @small(%x: memref<1x64xf32>, %w: memref<48x64xf32>, %y: memref<1x48xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<1x64xf32>, memref<48x64xf32>) outs(%y : memref<1x48xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}
// CHECK-LABEL: func.func @narrow
// CHECK-NEXT: linalg.generic
// CHECK-NOT: func.func private @parallel
func.func @narrow(%x: memref<64x512xf32>, %w: memref<31x512xf32>, %y: memref<64x31xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<64x512xf32>, memref<31x512xf32>) outs(%y : memref<64x31xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A prefill's rows are dynamic: 48 x 64 multiply-adds per row are below
// the threshold, so the size is checked at run time; small, the columns
// run on the calling thread (@columns_0 over all of them).
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @prefill
// CHECK-SAME: (%[[X:.*]]: memref<?x64xf32>, %[[W:.*]]: memref<48x64xf32>, %[[Y:.*]]: memref<?x48xf32>)
// CHECK: %[[ROWS:.*]] = memref.dim %[[X]]
// CHECK: %[[PART:.*]] = arith.muli %[[ROWS]], %c48
// CHECK: %[[WORK:.*]] = arith.muli %[[PART]], %c64
// CHECK: %[[LARGE:.*]] = arith.cmpi uge, %[[WORK]], %c4096
// CHECK: scf.if %[[LARGE]] {
// CHECK-NEXT: func.call @parallel_0(%[[X]], %[[W]], %[[Y]])
// CHECK-NEXT: } else {
// CHECK: %[[N:.*]] = memref.dim %[[Y]], %c1
// CHECK-NEXT: func.call @columns_0(%[[X]], %[[W]], %[[Y]], %c0{{.*}}, %[[N]])
// CHECK-LABEL: func.func private @columns_0
// CHECK-SAME: (%{{.*}}: memref<?x64xf32>, %{{.*}}: memref<48x64xf32>, %[[C:.*]]: memref<?x48xf32>, %[[BEGIN:.*]]: index, %{{.*}}: index)
// CHECK: %[[ROWS2:.*]] = memref.dim %[[C]], %c0
// CHECK: memref.subview %[[C]][0, %[[BEGIN]]] [%[[ROWS2]], %{{.*}}] [1, 1] : memref<?x48xf32> to memref<?x?xf32, strided<[48, 1], offset: ?>>
func.func @prefill(%x: memref<?x64xf32>, %w: memref<48x64xf32>, %y: memref<?x48xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x64xf32>, memref<48x64xf32>) outs(%y : memref<?x48xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Axpy form (x * W, W stored [k, n]): the columns are W's innermost
// dimension. A per-column scale is sliced too; a per-row one is not. An
// existing @columns_0 keeps its name: the pair is numbered 1.
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (k, n)>
#r = affine_map<(m, n, k) -> (m)>
#y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @axpy
// CHECK: call @parallel_1(
// CHECK-LABEL: func.func private @columns_0()
// CHECK-LABEL: func.func private @columns_1
// CHECK-SAME: (%[[A:.*]]: memref<2x64xf32>, %[[B:.*]]: memref<64x64xf32>, %[[R:.*]]: memref<2xf32>, %[[C:.*]]: memref<2x64xf32>, %[[BEGIN:.*]]: index, %{{.*}}: index)
// CHECK: %[[BS:.*]] = memref.subview %[[B]][0, %[[BEGIN]]] [64, %{{.*}}] [1, 1]
// CHECK: %[[CS:.*]] = memref.subview %[[C]][0, %[[BEGIN]]] [2, %{{.*}}] [1, 1]
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[A]], %[[BS]], %[[R]] : {{.*}}) outs(%[[CS]] : {{.*}})
// CHECK-LABEL: func.func private @parallel_1
// CHECK: call @columns_1(
// VEC-LABEL: func.func private @columns_1
// VEC-NOT: linalg.generic
// VEC: vector.fma
func.func @axpy(%x: memref<2x64xf32>, %w: memref<64x64xf32>, %r: memref<2xf32>, %y: memref<2x64xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #r, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w, %r : memref<2x64xf32>, memref<64x64xf32>, memref<2xf32>) outs(%y : memref<2x64xf32>) {
  ^bb0(%a: f32, %b: f32, %s: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %q = arith.mulf %p, %s : f32
    %t = arith.addf %q, %acc : f32
    linalg.yield %t : f32
  }
  return
}
func.func private @columns_0()

// -----

// One memref read as A and as B (x * x^T): A stays whole, B is sliced (the
// operands are replaced by position, not by value).
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @gram
// CHECK: call @parallel_0(%{{.*}}, %{{.*}}, %{{.*}}) : (memref<64x64xf32>, memref<64x64xf32>, memref<64x64xf32>) -> ()
// CHECK-LABEL: func.func private @columns_0
// CHECK-SAME: (%[[A:.*]]: memref<64x64xf32>, %[[B:.*]]: memref<64x64xf32>, %[[C:.*]]: memref<64x64xf32>, %[[BEGIN:.*]]: index, %{{.*}}: index)
// CHECK: %[[BS:.*]] = memref.subview %[[B]][%[[BEGIN]], 0]
// CHECK: %[[CS:.*]] = memref.subview %[[C]][0, %[[BEGIN]]]
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[A]], %[[BS]] : memref<64x64xf32>, memref<?x64xf32, strided<[64, 1], offset: ?>>)
func.func @gram(%x: memref<64x64xf32>, %y: memref<64x64xf32>) {
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %x : memref<64x64xf32>, memref<64x64xf32>) outs(%y : memref<64x64xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %m = arith.mulf %p, %q : f32
    %s = arith.addf %m, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Heads as an outer loop (per head, q[h, m, k] * kv[h, n, k], scaled per
// column by s[h, n]): the head loop stays whole in every range; the keys n
// are split, and the scale with them.
#q = affine_map<(h, m, n, k) -> (h, m, k)>
#kv = affine_map<(h, m, n, k) -> (h, n, k)>
#s = affine_map<(h, m, n, k) -> (h, n)>
#o = affine_map<(h, m, n, k) -> (h, m, n)>
// CHECK-LABEL: func.func private @columns_0
// CHECK-SAME: (%[[Q:.*]]: memref<4x2x64xf32>, %[[KV:.*]]: memref<4x64x64xf32>, %[[S:.*]]: memref<4x64xf32>, %[[O:.*]]: memref<4x2x64xf32>, %[[BEGIN:.*]]: index, %{{.*}}: index)
// CHECK: %[[COUNT:.*]] = arith.subi
// CHECK-DAG: %[[KVS:.*]] = memref.subview %[[KV]][0, %[[BEGIN]], 0] [4, %[[COUNT]], 64] [1, 1, 1]
// CHECK-DAG: %[[SS:.*]] = memref.subview %[[S]][0, %[[BEGIN]]] [4, %[[COUNT]]] [1, 1]
// CHECK-DAG: %[[OS:.*]] = memref.subview %[[O]][0, 0, %[[BEGIN]]] [4, 2, %[[COUNT]]] [1, 1, 1]
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[Q]], %[[KVS]], %[[SS]] : {{.*}}) outs(%[[OS]] : {{.*}})
func.func @heads(%q: memref<4x2x64xf32>, %kv: memref<4x64x64xf32>, %s: memref<4x64xf32>, %o: memref<4x2x64xf32>) {
  linalg.generic {indexing_maps = [#q, #kv, #s, #o], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%q, %kv, %s : memref<4x2x64xf32>, memref<4x64x64xf32>, memref<4x64xf32>) outs(%o : memref<4x2x64xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %sc = arith.mulf %m, %c : f32
    %t = arith.addf %sc, %acc : f32
    linalg.yield %t : f32
  }
  return
}

// -----

// A nested module's contraction is left alone: a function for it would be
// a symbol of the outer module, which the nested one cannot call.
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: module @inner
// CHECK: linalg.generic
// CHECK-NOT: @columns_
module {
  module @inner {
    func.func @decode(%x: memref<1x64xf32>, %w: memref<64x64xf32>, %y: memref<1x64xf32>) {
      linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<1x64xf32>, memref<64x64xf32>) outs(%y : memref<1x64xf32>) {
      ^bb0(%a: f32, %b: f32, %acc: f32):
        %p = arith.mulf %a, %b : f32
        %s = arith.addf %p, %acc : f32
        linalg.yield %s : f32
      }
      return
    }
  }
}

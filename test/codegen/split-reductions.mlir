// dsc-split-reductions (GPU pipelines): a reduction of one input over a
// static extent of at least min-extent becomes partial reductions (the
// parts a parallel loop before the reduction, part p reading values
// q * parts + p of the input expanded to [extent / parts, parts]) into a
// buffer filled with the combiner's neutral element, then their reduction
// into the op's init with the same combiner. kernels-emulated.test runs
// Inputs/split-reductions.mlir on the emulator.
// RUN: dsc-opt %S/Inputs/split-reductions.mlir --dsc-split-reductions | FileCheck %s
// CHECK-LABEL: func.func @sum_of_squares
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x1024xf32>, %[[OUT:.*]]: tensor<?x?xf32>
// CHECK: %[[INIT:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[OUT]] : tensor<?x?xf32>)
// CHECK: %[[E:.*]] = tensor.expand_shape %[[X]] {{\[\[}}0], [1], [2, 3]] output_shape [%{{.*}}, %{{.*}}, 64, 16] : tensor<?x?x1024xf32> into tensor<?x?x64x16xf32>
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[PARTS:.*]] = linalg.fill ins(%[[ZERO]] : f32) outs(%{{.*}} : tensor<?x?x16xf32>)
// CHECK: %[[P:.*]] = linalg.generic {indexing_maps = [#[[IN:.*]], #[[PART:.*]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[E]] : tensor<?x?x64x16xf32>) outs(%[[PARTS]] : tensor<?x?x16xf32>)
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: %[[R:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[P]] : tensor<?x?x16xf32>) outs(%[[INIT]] : tensor<?x?xf32>)
// CHECK-NEXT: ^bb0(%[[IN0:.*]]: f32, %[[ACC:.*]]: f32):
// CHECK-NEXT: %[[S:.*]] = arith.addf %[[IN0]], %[[ACC]] : f32
// CHECK-NEXT: linalg.yield %[[S]]
// CHECK: return %[[R]]
// 1536 values: 24 parts of 64; a maximum's partial buffer starts at -inf.
// CHECK-LABEL: func.func @row_max
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0], [1, 2]] output_shape [%{{.*}}, 64, 24]
// CHECK: arith.constant 0xFF800000 : f32
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%{{.*}} : tensor<?x64x24xf32>) outs(%{{.*}} : tensor<?x24xf32>)
// CHECK: arith.maximumf
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<?x24xf32>) outs(%{{.*}} : tensor<?xf32>)
// CHECK: arith.maximumf

// What stays whole: a short reduction, one of two inputs (a generated
// GEMM), a library GEMM, a dynamic extent, a body reading its indices, a
// body linalg cannot name as a reduction, an extent with no divisor
// leaving parts of 64.
// RUN: dsc-opt %s --dsc-split-reductions | FileCheck %s --check-prefix=WHOLE
// WHOLE-LABEL: func.func @whole
// WHOLE-NOT: tensor.expand_shape
// WHOLE: return
#x = affine_map<(d0, d1) -> (d0, d1)>
#o = affine_map<(d0, d1) -> (d0)>
#w = affine_map<(d0, d1) -> (d1)>
func.func @whole(%short: tensor<?x256xf32>, %x: tensor<?x1024xf32>, %w: tensor<1024xf32>, %wb: tensor<1024xbf16>, %xb: tensor<?x1024xbf16>, %dyn: tensor<?x?xf32>, %prime: tensor<?x1031xf32>, %init: tensor<?xf32>) -> (tensor<?xf32>, tensor<?xf32>, tensor<?xf32>, tensor<?xf32>, tensor<?xf32>, tensor<?xf32>, tensor<?xf32>) {
  %0 = linalg.generic {indexing_maps = [#x, #o], iterator_types = ["parallel", "reduction"]} ins(%short : tensor<?x256xf32>) outs(%init : tensor<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %y = arith.addf %a, %acc : f32
    linalg.yield %y : f32
  } -> tensor<?xf32>
  %1 = linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "reduction"]} ins(%x, %w : tensor<?x1024xf32>, tensor<1024xf32>) outs(%init : tensor<?xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %y = arith.addf %p, %acc : f32
    linalg.yield %y : f32
  } -> tensor<?xf32>
  %2 = linalg.generic {indexing_maps = [#x, #o], iterator_types = ["parallel", "reduction"]} ins(%xb : tensor<?x1024xbf16>) outs(%init : tensor<?xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%a: bf16, %acc: f32):
    %af = arith.extf %a : bf16 to f32
    %y = arith.addf %af, %acc : f32
    linalg.yield %y : f32
  } -> tensor<?xf32>
  %3 = linalg.generic {indexing_maps = [#x, #o], iterator_types = ["parallel", "reduction"]} ins(%dyn : tensor<?x?xf32>) outs(%init : tensor<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %y = arith.addf %a, %acc : f32
    linalg.yield %y : f32
  } -> tensor<?xf32>
  %4 = linalg.generic {indexing_maps = [#x, #o], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<?x1024xf32>) outs(%init : tensor<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %i = linalg.index 1 : index
    %ii = arith.index_cast %i : index to i32
    %f = arith.sitofp %ii : i32 to f32
    %p = arith.mulf %a, %f : f32
    %y = arith.addf %p, %acc : f32
    linalg.yield %y : f32
  } -> tensor<?xf32>
  %5 = linalg.generic {indexing_maps = [#x, #o], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<?x1024xf32>) outs(%init : tensor<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.mulf %acc, %acc : f32
    %y = arith.addf %a, %s : f32
    linalg.yield %y : f32
  } -> tensor<?xf32>
  %6 = linalg.generic {indexing_maps = [#x, #o], iterator_types = ["parallel", "reduction"]} ins(%prime : tensor<?x1031xf32>) outs(%init : tensor<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %y = arith.addf %a, %acc : f32
    linalg.yield %y : f32
  } -> tensor<?xf32>
  return %0, %1, %2, %3, %4, %5, %6 : tensor<?xf32>, tensor<?xf32>, tensor<?xf32>, tensor<?xf32>, tensor<?xf32>, tensor<?xf32>, tensor<?xf32>
}

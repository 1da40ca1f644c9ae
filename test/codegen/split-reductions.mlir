// dsc-split-reductions (GPU pipelines): a reduction over a static extent
// of at least min-extent becomes partial reductions (the parts a parallel
// loop before the reduction, part p reading values q * parts + p of each
// input read along it, expanded to [extent / parts, parts]) into a
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

// A scalar result: 64 parts of 64, then their sum into the scalar.
// CHECK-LABEL: func.func @total
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1]] output_shape [64, 64] : tensor<4096xf32> into tensor<64x64xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%{{.*}} : tensor<64x64xf32>) outs(%{{.*}} : tensor<64xf32>)
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction"]} ins(%{{.*}} : tensor<64xf32>) outs(%{{.*}} : tensor<f32>)
// A reduction over the outer dimension: the parts before it.
// CHECK-LABEL: func.func @column_sums
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1], [2]] output_shape [64, 32, %{{.*}}] : tensor<2048x?xf32> into tensor<64x32x?xf32>
// CHECK: linalg.generic {indexing_maps = [#[[COLIN:.*]], #[[COLOUT:.*]]], iterator_types = ["parallel", "reduction", "parallel"]} ins(%{{.*}} : tensor<64x32x?xf32>) outs(%{{.*}} : tensor<?x32xf32>)
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<?x32xf32>) outs(%{{.*}} : tensor<?xf32>)
// Two inputs read along the reduction (a router's logits): each expanded,
// 8 parts (no more than 1024 values / 128 outputs a row), the parts a
// parallel loop before the reduction.
// CHECK-LABEL: func.func @router_logits
// CHECK: %[[XE:.*]] = tensor.expand_shape %{{.*}} {{\[\[}}0], [1, 2]] output_shape [%{{.*}}, 128, 8] : tensor<?x1024xf32> into tensor<?x128x8xf32>
// CHECK: %[[WE:.*]] = tensor.expand_shape %{{.*}} {{\[\[}}0], [1, 2]] output_shape [128, 128, 8] : tensor<128x1024xf32> into tensor<128x128x8xf32>
// CHECK: %[[P:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[XE]], %[[WE]] : tensor<?x128x8xf32>, tensor<128x128x8xf32>) outs(%{{.*}} : tensor<?x128x8xf32>)
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: linalg.generic {{.*}} ins(%[[P]] : tensor<?x128x8xf32>) outs(%{{.*}} : tensor<?x128xf32>)
// Both inputs read along the reduction, one of them not along the rows.
// CHECK-LABEL: func.func @row_dots
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0], [1, 2]] output_shape [%{{.*}}, 64, 16] : tensor<?x1024xf32> into tensor<?x64x16xf32>
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1]] output_shape [64, 16] : tensor<1024xf32> into tensor<64x16xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x64x16xf32>, tensor<64x16xf32>) outs(%{{.*}} : tensor<?x16xf32>)
// An input not read along the reduction (a per-row factor): as it is, its
// map over the parts' loops (rows, part, value) the row.
// CHECK-LABEL: func.func @scaled_sums
// CHECK-SAME: (%[[SX:.*]]: tensor<?x1024xf32>, %[[SS:.*]]: tensor<?xf32>,
// CHECK: %[[SXE:.*]] = tensor.expand_shape %[[SX]]
// CHECK-NOT: tensor.expand_shape
// CHECK: linalg.generic {{.*}} ins(%[[SXE]], %[[SS]] : tensor<?x64x16xf32>, tensor<?xf32>) outs(%{{.*}} : tensor<?x16xf32>)
// The partial sums' maps, over (rows, experts, part, value in the part)
// and (rows, part, value): x and w read at value * parts + part, the
// factor at its row.
// RUN: dsc-opt %S/Inputs/split-reductions.mlir --dsc-split-reductions --mlir-print-local-scope | FileCheck %s --check-prefix=MAPS
// MAPS-LABEL: func.func @router_logits
// MAPS: linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>, affine_map<(d0, d1, d2, d3) -> (d1, d3, d2)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>]
// MAPS-LABEL: func.func @scaled_sums
// MAPS: linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2, d1)>, affine_map<(d0, d1, d2) -> (d0)>, affine_map<(d0, d1, d2) -> (d0, d1)>]

// Bad options: one line.
// RUN: not dsc-opt %S/Inputs/split-reductions.mlir --dsc-split-reductions=min-part=0 2>&1 | FileCheck %s --check-prefix=OPTIONS
// OPTIONS: error: dsc-split-reductions: min-part and max-parts must be at least 1

// What stays whole: a short reduction, one whose partial sums would take
// more values than it reads (1024 values into 512 static outputs a row:
// 2 parts at most), a library GEMM, a dynamic extent, a body reading its indices, a
// body linalg cannot name as a reduction, an extent with no divisor
// leaving parts of 64, an output indexed by the reduction loop (with the
// input indexed by it or not), integer and index reductions.
// RUN: dsc-opt %s --dsc-split-reductions | FileCheck %s --check-prefixes=WHOLE,DYN
// WHOLE-LABEL: func.func @whole_more
// WHOLE-NOT: tensor.expand_shape
// WHOLE: return
// WHOLE-LABEL: func.func @whole
// WHOLE-NOT: tensor.expand_shape
// WHOLE: return
#x = affine_map<(d0, d1) -> (d0, d1)>
#o = affine_map<(d0, d1) -> (d0)>
#w = affine_map<(d0, d1) -> (d1)>
#rk = affine_map<(d0, d1, d2) -> (d0, d2)>
#rn = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @whole_more(%x: tensor<?x1024xf32>, %v: tensor<?xf32>, %wide: tensor<?x1024xf32>, %ints: tensor<?x1024xi32>, %idx: tensor<?x1024xindex>, %iinit: tensor<?xi32>, %xinit: tensor<?xindex>) -> (tensor<?x1024xf32>, tensor<?x1024xf32>, tensor<?xi32>, tensor<?xindex>) {
  %0 = linalg.generic {indexing_maps = [#x, #x], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<?x1024xf32>) outs(%wide : tensor<?x1024xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %y = arith.addf %a, %acc : f32
    linalg.yield %y : f32
  } -> tensor<?x1024xf32>
  %1 = linalg.generic {indexing_maps = [#o, #x], iterator_types = ["parallel", "reduction"]} ins(%v : tensor<?xf32>) outs(%wide : tensor<?x1024xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %y = arith.addf %a, %acc : f32
    linalg.yield %y : f32
  } -> tensor<?x1024xf32>
  %2 = linalg.generic {indexing_maps = [#x, #o], iterator_types = ["parallel", "reduction"]} ins(%ints : tensor<?x1024xi32>) outs(%iinit : tensor<?xi32>) {
  ^bb0(%a: i32, %acc: i32):
    %y = arith.addi %a, %acc : i32
    linalg.yield %y : i32
  } -> tensor<?xi32>
  %3 = linalg.generic {indexing_maps = [#x, #o], iterator_types = ["parallel", "reduction"]} ins(%idx : tensor<?x1024xindex>) outs(%xinit : tensor<?xindex>) {
  ^bb0(%a: index, %acc: index):
    %y = arith.maxsi %a, %acc : index
    linalg.yield %y : index
  } -> tensor<?xindex>
  return %0, %1, %2, %3 : tensor<?x1024xf32>, tensor<?x1024xf32>, tensor<?xi32>, tensor<?xindex>
}
func.func @whole(%short: tensor<?x256xf32>, %x: tensor<?x1024xf32>, %wide512: tensor<?x1024xf32>, %init512: tensor<?x512xf32>, %wb: tensor<1024xbf16>, %xb: tensor<?x1024xbf16>, %dyn: tensor<?x?xf32>, %prime: tensor<?x1031xf32>, %init: tensor<?xf32>) -> (tensor<?xf32>, tensor<?x512xf32>, tensor<?xf32>, tensor<?xf32>, tensor<?xf32>, tensor<?xf32>, tensor<?xf32>) {
  %0 = linalg.generic {indexing_maps = [#x, #o], iterator_types = ["parallel", "reduction"]} ins(%short : tensor<?x256xf32>) outs(%init : tensor<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %y = arith.addf %a, %acc : f32
    linalg.yield %y : f32
  } -> tensor<?xf32>
  %1 = linalg.generic {indexing_maps = [#rk, #rn], iterator_types = ["parallel", "parallel", "reduction"]} ins(%wide512 : tensor<?x1024xf32>) outs(%init512 : tensor<?x512xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %y = arith.addf %a, %acc : f32
    linalg.yield %y : f32
  } -> tensor<?x512xf32>
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
  return %0, %1, %2, %3, %4, %5, %6 : tensor<?xf32>, tensor<?x512xf32>, tensor<?xf32>, tensor<?xf32>, tensor<?xf32>, tensor<?xf32>, tensor<?xf32>
}

// The extent static in one input (x) and not in the other (w [?, ?]):
// whole (w cannot be expanded into static parts).
// DYN-LABEL: func.func @dynamic_weight
// DYN-NOT: tensor.expand_shape
// DYN: return
#dk = affine_map<(d0, d1, d2) -> (d0, d2)>
#dn = affine_map<(d0, d1, d2) -> (d1, d2)>
#dy = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @dynamic_weight(%x: tensor<?x1024xf32>, %w: tensor<?x?xf32>, %init: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %0 = linalg.generic {indexing_maps = [#dk, #dn, #dy], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<?x1024xf32>, tensor<?x?xf32>) outs(%init : tensor<?x?xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %y = arith.addf %p, %acc : f32
    linalg.yield %y : f32
  } -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

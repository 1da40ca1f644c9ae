// RUN: dsc-opt %s --dsc-fuse-moe --canonicalize | FileCheck %s
// RUN: dsc-opt %s --dsc-fuse-moe=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT
// REPORT: remark: fusion report: gathered_experts: moe: fused
//
// negative_swapped_halves: SwiGLU of the up half by the gate half.
// RUN: sed -e 's/dsc.swiglu %gate, %up/dsc.swiglu %up, %gate/' %s | dsc-opt --dsc-fuse-moe=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=SWAPPED
// SWAPPED: remark: fusion report: gathered_experts: moe: not fused: gate and up are not the two halves of the gate_up matrices
//
// negative_not_swiglu: another activation of the two halves.
// RUN: sed -e 's/dsc.swiglu %gate, %up : tensor<?x6xf32>/arith.addf %gate, %up : tensor<?x6xf32>/' %s | dsc-opt --dsc-fuse-moe=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=NOT-SWIGLU
// NOT-SWIGLU: remark: fusion report: gathered_experts: moe: not fused: slot outputs are not a gathered down projection of SwiGLU
//
// negative_shifted_index: the gathered matrix is the index's expert + 2
// (not the index itself, clamped), as an expert-parallel shard's offset
// would be.
// RUN: sed -e 's/%lo = arith.maxsi %vi, %c0 : index/%lo = arith.addi %vi, %c2 : index/' %s | dsc-opt --dsc-fuse-moe=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=SHIFTED
// SHIFTED: remark: fusion report: gathered_experts: moe: not fused: slot outputs are not a gathered down projection of SwiGLU
//
// negative_repeat_transposed: the repeated rows laid out [K, N] (slot
// k * N + t), not token by token.
// RUN: sed -e 's/#bcast = affine_map<(n, k, d) -> (n, 0, d)>/#bcast = affine_map<(n, k, d) -> (k, 0, d)>/' -e 's/%e0 = tensor.empty(%n) : tensor<?x2x8xf32>/%e0 = tensor.empty(%n) : tensor<2x?x8xf32>/' -e 's/outs(%e0 : tensor<?x2x8xf32>)/outs(%e0 : tensor<2x?x8xf32>)/' -e 's/} -> tensor<?x2x8xf32>$/} -> tensor<2x?x8xf32>/' -e 's/tensor.reshape %rep(%dimsSD) : (tensor<?x2x8xf32>/tensor.reshape %rep(%dimsSD) : (tensor<2x?x8xf32>/' %s | dsc-opt --dsc-fuse-moe=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=TRANSPOSED
// TRANSPOSED: remark: fusion report: gathered_experts: moe: not fused: the slots' inputs are not each token's row repeated top_k times
//
// negative_other_weights: the slots' outputs scaled by a second copy of
// their own values (not one weight per slot).
// RUN: sed -e 's/ins(%o2, %wCol : tensor<?x8xf32>, tensor<?x1xf32>)/ins(%o2, %o2 : tensor<?x8xf32>, tensor<?x8xf32>)/' -e 's/#col = affine_map<(s, d) -> (s, 0)>/#col = affine_map<(s, d) -> (s, d)>/' %s | dsc-opt --dsc-fuse-moe=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=WEIGHTS
// WEIGHTS: remark: fusion report: gathered_experts: moe: not fused: slot outputs are not scaled by one routing weight per slot

#bcast = affine_map<(n, k, d) -> (n, 0, d)>
#id3 = affine_map<(a, b, c) -> (a, b, c)>
#bmA = affine_map<(s, r, n, k) -> (s, r, k)>
#bmB = affine_map<(s, r, n, k) -> (s, k, n)>
#bmC = affine_map<(s, r, n, k) -> (s, r, n)>
#id2 = affine_map<(s, d) -> (s, d)>
#col = affine_map<(s, d) -> (s, 0)>
#sumK = affine_map<(n, k, d) -> (n, d)>

// The experts as torch.onnx.export writes transformers' batched_mm (after
// import): each (token, k) slot gathers its expert's gate_up [12, 8] and
// down [8, 6] matrices, multiplies its repeated token row, and the slots'
// outputs, scaled by their weights, are summed per token.
// CHECK-LABEL: func.func @gathered_experts
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>, %[[W:.*]]: tensor<?x2xf32>, %[[I:.*]]: tensor<?x2xi64>, %[[GU:.*]]: tensor<4x12x8xf32>, %[[D:.*]]: tensor<4x8x6xf32>)
// CHECK-DAG: %[[G:.*]] = tensor.extract_slice %[[GU]][0, 0, 0] [4, 6, 8] [1, 1, 1]
// CHECK-DAG: %[[U:.*]] = tensor.extract_slice %[[GU]][0, 6, 0] [4, 6, 8] [1, 1, 1]
// CHECK: %[[Y:.*]] = dsc.moe %[[X]], %[[W]], %[[I]] experts(%[[G]], %[[U]], %[[D]])
// CHECK-NOT: linalg.generic
// CHECK: return %[[Y]]
func.func @gathered_experts(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %idx: tensor<?x2xi64>, %gu: tensor<4x12x8xf32>, %down: tensor<4x8x6xf32>) -> tensor<?x8xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c8 = arith.constant 8 : index
  %c12 = arith.constant 12 : index
  %zero = arith.constant 0.0 : f32
  %n = tensor.dim %x, %c0 : tensor<?x8xf32>
  %s = arith.muli %n, %c2 : index
  // The slots' rows: each token's row twice.
  %x1 = tensor.expand_shape %x [[0], [1, 2]] output_shape [%n, 1, 8] : tensor<?x8xf32> into tensor<?x1x8xf32>
  %e0 = tensor.empty(%n) : tensor<?x2x8xf32>
  %rep = linalg.generic {indexing_maps = [#bcast, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x1 : tensor<?x1x8xf32>) outs(%e0 : tensor<?x2x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<?x2x8xf32>
  %dimsSD = tensor.from_elements %s, %c8 : tensor<2xindex>
  %xs = tensor.reshape %rep(%dimsSD) : (tensor<?x2x8xf32>, tensor<2xindex>) -> tensor<?x8xf32>
  %xs3 = tensor.expand_shape %xs [[0], [1, 2]] output_shape [%s, 8, 1] : tensor<?x8xf32> into tensor<?x8x1xf32>
  // Indices and weights flattened per slot.
  %dimsS = tensor.from_elements %s : tensor<1xindex>
  %idxFlat = tensor.reshape %idx(%dimsS) : (tensor<?x2xi64>, tensor<1xindex>) -> tensor<?xi64>
  %idxCol = tensor.expand_shape %idxFlat [[0, 1]] output_shape [%s, 1] : tensor<?xi64> into tensor<?x1xi64>
  %wFlat = tensor.reshape %w(%dimsS) : (tensor<?x2xf32>, tensor<1xindex>) -> tensor<?xf32>
  %wCol = tensor.expand_shape %wFlat [[0, 1]] output_shape [%s, 1] : tensor<?xf32> into tensor<?x1xf32>
  // gate_up per slot, and its product with the slot's row.
  %e1 = tensor.empty(%s) : tensor<?x12x8xf32>
  %guS = linalg.generic {indexing_maps = [#id3], iterator_types = ["parallel", "parallel", "parallel"]} outs(%e1 : tensor<?x12x8xf32>) {
  ^bb0(%out: f32):
    %i0 = linalg.index 0 : index
    %v = tensor.extract %idxCol[%i0, %c0] : tensor<?x1xi64>
    %vi = arith.index_cast %v : i64 to index
    %lo = arith.maxsi %vi, %c0 : index
    %e = arith.minsi %lo, %c3 : index
    %i1 = linalg.index 1 : index
    %i2 = linalg.index 2 : index
    %m = tensor.extract %gu[%e, %i1, %i2] : tensor<4x12x8xf32>
    linalg.yield %m : f32
  } -> tensor<?x12x8xf32>
  %e2 = tensor.empty(%s) : tensor<?x12x1xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<?x12x1xf32>) -> tensor<?x12x1xf32>
  %h = linalg.generic {indexing_maps = [#bmA, #bmB, #bmC], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%guS, %xs3 : tensor<?x12x8xf32>, tensor<?x8x1xf32>) outs(%f2 : tensor<?x12x1xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %q = arith.addf %p, %acc : f32
    linalg.yield %q : f32
  } -> tensor<?x12x1xf32>
  %dimsSW = tensor.from_elements %s, %c12 : tensor<2xindex>
  %h2 = tensor.reshape %h(%dimsSW) : (tensor<?x12x1xf32>, tensor<2xindex>) -> tensor<?x12xf32>
  %gate = tensor.extract_slice %h2[0, 0] [%s, 6] [1, 1] : tensor<?x12xf32> to tensor<?x6xf32>
  %up = tensor.extract_slice %h2[0, 6] [%s, 6] [1, 1] : tensor<?x12xf32> to tensor<?x6xf32>
  %act = dsc.swiglu %gate, %up : tensor<?x6xf32>
  // down per slot, its product, the weights, and the sum per token.
  %e3 = tensor.empty(%s) : tensor<?x8x6xf32>
  %dS = linalg.generic {indexing_maps = [#id3], iterator_types = ["parallel", "parallel", "parallel"]} outs(%e3 : tensor<?x8x6xf32>) {
  ^bb0(%out: f32):
    %i0 = linalg.index 0 : index
    %v = tensor.extract %idxCol[%i0, %c0] : tensor<?x1xi64>
    %vi = arith.index_cast %v : i64 to index
    %lo = arith.maxsi %vi, %c0 : index
    %e = arith.minsi %lo, %c3 : index
    %i1 = linalg.index 1 : index
    %i2 = linalg.index 2 : index
    %m = tensor.extract %down[%e, %i1, %i2] : tensor<4x8x6xf32>
    linalg.yield %m : f32
  } -> tensor<?x8x6xf32>
  %act3 = tensor.expand_shape %act [[0], [1, 2]] output_shape [%s, 6, 1] : tensor<?x6xf32> into tensor<?x6x1xf32>
  %e4 = tensor.empty(%s) : tensor<?x8x1xf32>
  %f4 = linalg.fill ins(%zero : f32) outs(%e4 : tensor<?x8x1xf32>) -> tensor<?x8x1xf32>
  %o = linalg.generic {indexing_maps = [#bmA, #bmB, #bmC], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%dS, %act3 : tensor<?x8x6xf32>, tensor<?x6x1xf32>) outs(%f4 : tensor<?x8x1xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %q = arith.addf %p, %acc : f32
    linalg.yield %q : f32
  } -> tensor<?x8x1xf32>
  %o2 = tensor.reshape %o(%dimsSD) : (tensor<?x8x1xf32>, tensor<2xindex>) -> tensor<?x8xf32>
  %e5 = tensor.empty(%s) : tensor<?x8xf32>
  %ow = linalg.generic {indexing_maps = [#id2, #col, #id2], iterator_types = ["parallel", "parallel"]} ins(%o2, %wCol : tensor<?x8xf32>, tensor<?x1xf32>) outs(%e5 : tensor<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %p = arith.mulf %a, %b : f32
    linalg.yield %p : f32
  } -> tensor<?x8xf32>
  %dimsNKD = tensor.from_elements %n, %c2, %c8 : tensor<3xindex>
  %ow3 = tensor.reshape %ow(%dimsNKD) : (tensor<?x8xf32>, tensor<3xindex>) -> tensor<?x2x8xf32>
  %e6 = tensor.empty(%n) : tensor<?x8xf32>
  %f6 = linalg.fill ins(%zero : f32) outs(%e6 : tensor<?x8xf32>) -> tensor<?x8xf32>
  %y = linalg.generic {indexing_maps = [#id3, #sumK], iterator_types = ["parallel", "reduction", "parallel"]} ins(%ow3 : tensor<?x2x8xf32>) outs(%f6 : tensor<?x8xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %q = arith.addf %in, %acc : f32
    linalg.yield %q : f32
  } -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

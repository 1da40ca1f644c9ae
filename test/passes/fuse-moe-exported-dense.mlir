// RUN: dsc-opt %s --dsc-fuse-moe --canonicalize | FileCheck %s
// RUN: dsc-opt %s --dsc-fuse-moe=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT
// REPORT: remark: fusion report: exported_dense_experts: moe: fused
//
// negative_swapped_halves: SwiGLU of the up half by the gate half.
// RUN: sed -e 's/dsc.swiglu %gate, %up/dsc.swiglu %up, %gate/' %s | dsc-opt --dsc-fuse-moe=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=SWAPPED
// SWAPPED: remark: fusion report: exported_dense_experts: moe: not fused: gate and up are not the two halves of one gate_up projection
//
// negative_not_swiglu: another activation of the two halves.
// RUN: sed -e 's/dsc.swiglu %gate, %up : tensor<?x4x6xf32>/arith.addf %gate, %up : tensor<?x4x6xf32>/' %s | dsc-opt --dsc-fuse-moe=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=NOT-SWIGLU
// NOT-SWIGLU: remark: fusion report: exported_dense_experts: moe: not fused: expert activation is not SwiGLU
//
// negative_not_by_index: the routing matrix holds the weights of the
// experts that are not chosen.
// RUN: sed -e 's/arith.cmpi eq, %ei, %e/arith.cmpi ne, %ei, %e/' %s | dsc-opt --dsc-fuse-moe=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=NOT-BY-INDEX
// NOT-BY-INDEX: remark: fusion report: exported_dense_experts: moe: not fused: routing matrix does not select weights by expert index
//
// negative_not_projection: the halves of a product of the tokens with one
// matrix for all experts.
// RUN: sed -e 's/#w = affine_map<(t, e, n, d) -> (e, n, d)>/#w = affine_map<(t, e, n, d) -> (0, n, d)>/' %s | dsc-opt --dsc-fuse-moe=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=NOT-PROJECTION
// NOT-PROJECTION: remark: fusion report: exported_dense_experts: moe: not fused: SwiGLU is not of a per-expert gate_up projection of the tokens
//
// negative_dense_routing: every expert weighted by a full routing matrix
// (an argument, no top-k): not sparse, so not fused.
// RUN: sed -e 's/ins(%combine, %y : tensor<?x4xf32>, tensor<?x4x8xf32>)/ins(%dense, %y : tensor<?x4xf32>, tensor<?x4x8xf32>)/' %s | dsc-opt --dsc-fuse-moe=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=DENSE
// DENSE: remark: fusion report: exported_dense_experts: moe: not fused: routing matrix is not a scatter of top-k weights

#tk = affine_map<(t, e, k) -> (t, k)>
#te = affine_map<(t, e, k) -> (t, e)>
#x = affine_map<(t, e, n, d) -> (t, d)>
#w = affine_map<(t, e, n, d) -> (e, n, d)>
#ten = affine_map<(t, e, n, d) -> (t, e, n)>
#a = affine_map<(t, e, d, w) -> (t, e, w)>
#dn = affine_map<(t, e, d, w) -> (e, d, w)>
#ted = affine_map<(t, e, d, w) -> (t, e, d)>
#c = affine_map<(t, d, e) -> (t, e)>
#y = affine_map<(t, d, e) -> (t, e, d)>
#out = affine_map<(t, d, e) -> (t, d)>

// The experts as torch.onnx.export writes a model that computes them dense
// (export_tiny_v3.py --experts dense, after import): the top-k weights
// scattered into a [tokens, experts] routing matrix, every expert's gate_up
// [12, 8] projection of every token split in halves, SwiGLU, every
// expert's down [8, 6] projection, and the experts' outputs combined by
// the routing matrix.
// CHECK-LABEL: func.func @exported_dense_experts
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>, %[[W:.*]]: tensor<?x2xf32>, %[[I:.*]]: tensor<?x2xi64>, %[[GU:.*]]: tensor<4x12x8xf32>, %[[D:.*]]: tensor<4x8x6xf32>
// CHECK-DAG: %[[G:.*]] = tensor.extract_slice %[[GU]][0, 0, 0] [4, 6, 8] [1, 1, 1]
// CHECK-DAG: %[[U:.*]] = tensor.extract_slice %[[GU]][0, 6, 0] [4, 6, 8] [1, 1, 1]
// CHECK: %[[Y:.*]] = dsc.moe %[[X]], %[[W]], %[[I]] experts(%[[G]], %[[U]], %[[D]])
// CHECK-NOT: linalg.generic
// CHECK: return %[[Y]]
func.func @exported_dense_experts(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %idx: tensor<?x2xi64>, %gu: tensor<4x12x8xf32>, %down: tensor<4x8x6xf32>, %dense: tensor<?x4xf32>) -> tensor<?x8xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = tensor.dim %x, %c0 : tensor<?x8xf32>
  // combine[t, e] = sum_k (idx[t, k] == e ? w[t, k] : 0)
  %ce = tensor.empty(%n) : tensor<?x4xf32>
  %cz = linalg.fill ins(%zero : f32) outs(%ce : tensor<?x4xf32>) -> tensor<?x4xf32>
  %combine = linalg.generic {indexing_maps = [#tk, #tk, #te], iterator_types = ["parallel", "parallel", "reduction"]} ins(%idx, %w : tensor<?x2xi64>, tensor<?x2xf32>) outs(%cz : tensor<?x4xf32>) {
  ^bb0(%i: i64, %wk: f32, %acc: f32):
    %ei = arith.index_cast %i : i64 to index
    %e = linalg.index 1 : index
    %hit = arith.cmpi eq, %ei, %e : index
    %r = arith.select %hit, %wk, %acc : f32
    linalg.yield %r : f32
  } -> tensor<?x4xf32>
  // gu[t, e, n] = sum_d x[t, d] * gate_up[e, n, d]
  %ge = tensor.empty(%n) : tensor<?x4x12xf32>
  %gz = linalg.fill ins(%zero : f32) outs(%ge : tensor<?x4x12xf32>) -> tensor<?x4x12xf32>
  %proj = linalg.generic {indexing_maps = [#x, #w, #ten], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %gu : tensor<?x8xf32>, tensor<4x12x8xf32>) outs(%gz : tensor<?x4x12xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %m, %acc : f32
    linalg.yield %s : f32
  } -> tensor<?x4x12xf32>
  %gate = tensor.extract_slice %proj[0, 0, 0] [%n, 4, 6] [1, 1, 1] : tensor<?x4x12xf32> to tensor<?x4x6xf32>
  %up = tensor.extract_slice %proj[0, 0, 6] [%n, 4, 6] [1, 1, 1] : tensor<?x4x12xf32> to tensor<?x4x6xf32>
  %act = dsc.swiglu %gate, %up : tensor<?x4x6xf32>
  // y[t, e, d] = sum_w act[t, e, w] * down[e, d, w]
  %ye = tensor.empty(%n) : tensor<?x4x8xf32>
  %yz = linalg.fill ins(%zero : f32) outs(%ye : tensor<?x4x8xf32>) -> tensor<?x4x8xf32>
  %y = linalg.generic {indexing_maps = [#a, #dn, #ted], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%act, %down : tensor<?x4x6xf32>, tensor<4x8x6xf32>) outs(%yz : tensor<?x4x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %m, %acc : f32
    linalg.yield %s : f32
  } -> tensor<?x4x8xf32>
  // out[t, d] = sum_e combine[t, e] * y[t, e, d]
  %oe = tensor.empty(%n) : tensor<?x8xf32>
  %oz = linalg.fill ins(%zero : f32) outs(%oe : tensor<?x8xf32>) -> tensor<?x8xf32>
  %out = linalg.generic {indexing_maps = [#c, #y, #out], iterator_types = ["parallel", "parallel", "reduction"]} ins(%combine, %y : tensor<?x4xf32>, tensor<?x4x8xf32>) outs(%oz : tensor<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %m, %acc : f32
    linalg.yield %s : f32
  } -> tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}

// RUN: dsc-opt %s --split-input-file --dsc-fuse-moe=report=true --verify-diagnostics -o /dev/null

// Each function gets a remark: fused, or the reason the nearest candidate
// did not fuse (what dsc-compile --fusion-report tabulates).

#tk = affine_map<(t, e, j) -> (t, j)>
#te = affine_map<(t, e, j) -> (t, e)>
#x = affine_map<(e, t, w, d) -> (t, d)>
#w = affine_map<(e, t, w, d) -> (e, w, d)>
#etw = affine_map<(e, t, w, d) -> (e, t, w)>
#c = affine_map<(t, d, e, w) -> (t, e)>
#a = affine_map<(t, d, e, w) -> (e, t, w)>
#dn = affine_map<(t, d, e, w) -> (e, d, w)>
#y = affine_map<(t, d, e, w) -> (t, d)>

// The importer's dense masked experts become one dsc.moe.
// expected-remark @+1 {{fusion report: dense_masked_experts: moe: fused}}
func.func @dense_masked_experts(%x: tensor<?x8xf32>, %gw: tensor<4x8xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) -> tensor<?x8xf32> {
  %w, %idx = dsc.gate %x, %gw {scoring = #dsc<scoring softmax>, topk_method = #dsc<topk_method greedy>, top_k = 2 : i64, n_group = 1 : i64, topk_group = 1 : i64, norm_topk_prob = false, routed_scaling_factor = 1.0 : f64} : (tensor<?x8xf32>, tensor<4x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = tensor.dim %x, %c0 : tensor<?x8xf32>
  %e0 = tensor.empty(%n) : tensor<?x4xf32>
  %f0 = linalg.fill ins(%zero : f32) outs(%e0 : tensor<?x4xf32>) -> tensor<?x4xf32>
  %comb = linalg.generic {indexing_maps = [#tk, #tk, #te], iterator_types = ["parallel", "parallel", "reduction"]} ins(%idx, %w : tensor<?x2xi64>, tensor<?x2xf32>) outs(%f0 : tensor<?x4xf32>) {
  ^bb0(%i: i64, %wt: f32, %acc: f32):
    %e = linalg.index 1 : index
    %ei = arith.index_cast %e : index to i64
    %hit = arith.cmpi eq, %i, %ei : i64
    %v = arith.select %hit, %wt, %zero : f32
    %s = arith.addf %acc, %v : f32
    linalg.yield %s : f32
  } -> tensor<?x4xf32>
  %e1 = tensor.empty(%n) : tensor<4x?x6xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<4x?x6xf32>) -> tensor<4x?x6xf32>
  %gate = linalg.generic {indexing_maps = [#x, #w, #etw], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %g : tensor<?x8xf32>, tensor<4x6x8xf32>) outs(%f1 : tensor<4x?x6xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  } -> tensor<4x?x6xf32>
  %up = linalg.generic {indexing_maps = [#x, #w, #etw], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %u : tensor<?x8xf32>, tensor<4x6x8xf32>) outs(%f1 : tensor<4x?x6xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  } -> tensor<4x?x6xf32>
  %act = dsc.swiglu %gate, %up : tensor<4x?x6xf32>
  %e2 = tensor.empty(%n) : tensor<?x8xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<?x8xf32>) -> tensor<?x8xf32>
  %y = linalg.generic {indexing_maps = [#c, #a, #dn, #y], iterator_types = ["parallel", "parallel", "reduction", "reduction"]} ins(%comb, %act, %d : tensor<?x4xf32>, tensor<4x?x6xf32>, tensor<4x8x6xf32>) outs(%f2 : tensor<?x8xf32>) {
  ^bb0(%cw: f32, %av: f32, %dv: f32, %acc: f32):
    %p = arith.mulf %av, %dv : f32
    %q = arith.mulf %cw, %p : f32
    %s = arith.addf %q, %acc : f32
    linalg.yield %s : f32
  } -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

#te = affine_map<(t, e, j) -> (t, e)>
#x = affine_map<(e, t, w, d) -> (t, d)>
#w = affine_map<(e, t, w, d) -> (e, w, d)>
#etw = affine_map<(e, t, w, d) -> (e, t, w)>
#c = affine_map<(t, d, e, w) -> (t, e)>
#a = affine_map<(t, d, e, w) -> (e, t, w)>
#dn = affine_map<(t, d, e, w) -> (e, d, w)>
#y = affine_map<(t, d, e, w) -> (t, d)>

// A dense mixture (every expert weighted by a full routing matrix, no top-k
// scatter) is not sparse: it must not fuse.
// expected-remark @+1 {{fusion report: negative_dense_routing: moe: not fused: routing matrix is not a scatter of top-k weights}}
func.func @negative_dense_routing(%x: tensor<?x8xf32>, %comb: tensor<?x4xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) -> tensor<?x8xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = tensor.dim %x, %c0 : tensor<?x8xf32>
  %e1 = tensor.empty(%n) : tensor<4x?x6xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<4x?x6xf32>) -> tensor<4x?x6xf32>
  %gate = linalg.generic {indexing_maps = [#x, #w, #etw], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %g : tensor<?x8xf32>, tensor<4x6x8xf32>) outs(%f1 : tensor<4x?x6xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  } -> tensor<4x?x6xf32>
  %act = dsc.swiglu %gate, %gate : tensor<4x?x6xf32>
  %e2 = tensor.empty(%n) : tensor<?x8xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<?x8xf32>) -> tensor<?x8xf32>
  %y = linalg.generic {indexing_maps = [#c, #a, #dn, #y], iterator_types = ["parallel", "parallel", "reduction", "reduction"]} ins(%comb, %act, %d : tensor<?x4xf32>, tensor<4x?x6xf32>, tensor<4x8x6xf32>) outs(%f2 : tensor<?x8xf32>) {
  ^bb0(%cw: f32, %av: f32, %dv: f32, %acc: f32):
    %p = arith.mulf %av, %dv : f32
    %q = arith.mulf %cw, %p : f32
    %s = arith.addf %q, %acc : f32
    linalg.yield %s : f32
  } -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

#c = affine_map<(t, d, e, w) -> (t, e)>
#a = affine_map<(t, d, e, w) -> (e, t, w)>
#dn = affine_map<(t, d, e, w) -> (e, d, w)>
#y = affine_map<(t, d, e, w) -> (t, d)>

// Another activation than SwiGLU: not a DeepSeek expert, no fusion.
// expected-remark @+1 {{fusion report: negative_not_swiglu: moe: not fused: expert activation is not SwiGLU}}
func.func @negative_not_swiglu(%comb: tensor<?x4xf32>, %act: tensor<4x?x6xf32>, %d: tensor<4x8x6xf32>, %n: index) -> tensor<?x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e2 = tensor.empty(%n) : tensor<?x8xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<?x8xf32>) -> tensor<?x8xf32>
  %y = linalg.generic {indexing_maps = [#c, #a, #dn, #y], iterator_types = ["parallel", "parallel", "reduction", "reduction"]} ins(%comb, %act, %d : tensor<?x4xf32>, tensor<4x?x6xf32>, tensor<4x8x6xf32>) outs(%f2 : tensor<?x8xf32>) {
  ^bb0(%cw: f32, %av: f32, %dv: f32, %acc: f32):
    %p = arith.mulf %av, %dv : f32
    %q = arith.mulf %cw, %p : f32
    %s = arith.addf %q, %acc : f32
    linalg.yield %s : f32
  } -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
// -----

// A function without an experts computation.
// expected-remark @+1 {{fusion report: dense_mlp: moe: no experts}}
func.func @dense_mlp(%g: tensor<?x8xf32>, %u: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = dsc.swiglu %g, %u : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// RUN: dsc-opt %s --split-input-file --dsc-fuse-moe | FileCheck %s

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
// CHECK-LABEL: func.func @dense_masked_experts
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>, %[[GW:.*]]: tensor<4x8xf32>, %[[G:.*]]: tensor<4x6x8xf32>, %[[U:.*]]: tensor<4x6x8xf32>, %[[D:.*]]: tensor<4x8x6xf32>)
// CHECK: %[[W:.*]], %[[I:.*]] = dsc.gate
// CHECK: %[[Y:.*]] = dsc.moe %[[X]], %[[W]], %[[I]] experts(%[[G]], %[[U]], %[[D]])
// CHECK-NOT: linalg.generic
// CHECK: return %[[Y]]
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
// CHECK-LABEL: func.func @negative_dense_routing
// CHECK-NOT: dsc.moe
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
// CHECK-LABEL: func.func @negative_not_swiglu
// CHECK-NOT: dsc.moe
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

// The shared expert (a SwiGLU MLP of the same tokens added to the routed
// experts' sum) is fused into the dsc.moe.
#id = affine_map<(t, d) -> (t, d)>
// CHECK-LABEL: func.func @shared_expert
// CHECK-SAME: (%[[X:[^:]*]]: tensor<?x8xf32>, %[[W:[^:]*]]: tensor<?x2xf32>, %[[I:[^:]*]]: tensor<?x2xi64>, %[[G:[^:]*]]: tensor<4x6x8xf32>, %[[U:[^:]*]]: tensor<4x6x8xf32>, %[[D:[^:]*]]: tensor<4x8x6xf32>, %[[SG:[^:]*]]: tensor<6x8xf32>, %[[SU:[^:]*]]: tensor<6x8xf32>, %[[SD:[^:]*]]: tensor<8x6xf32>)
// CHECK-NEXT: %[[Y:.*]] = dsc.moe %[[X]], %[[W]], %[[I]] experts(%[[G]], %[[U]], %[[D]]) shared(%[[SG]], %[[SU]], %[[SD]])
// CHECK-NEXT: return %[[Y]]
func.func @shared_expert(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>, %sg: tensor<6x8xf32>, %su: tensor<6x8xf32>, %sd: tensor<8x6xf32>) -> tensor<?x8xf32> {
  %routed = dsc.moe %x, %w, %i experts(%g, %u, %d) : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  %a = dsc.linear %x, %sg : (tensor<?x8xf32>, tensor<6x8xf32>) -> tensor<?x6xf32>
  %b = dsc.linear %x, %su : (tensor<?x8xf32>, tensor<6x8xf32>) -> tensor<?x6xf32>
  %h = dsc.swiglu %a, %b : tensor<?x6xf32>
  %s = dsc.linear %h, %sd : (tensor<?x6xf32>, tensor<8x6xf32>) -> tensor<?x8xf32>
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x8xf32>
  %e = tensor.empty(%n) : tensor<?x8xf32>
  %sum = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%routed, %s : tensor<?x8xf32>, tensor<?x8xf32>) outs(%e : tensor<?x8xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %r = arith.addf %p, %q : f32
    linalg.yield %r : f32
  } -> tensor<?x8xf32>
  return %sum : tensor<?x8xf32>
}

// -----

// FP8 shared experts keep their block scales, after the three matrices.
#id = affine_map<(t, d) -> (t, d)>
// CHECK-LABEL: func.func @shared_expert_fp8
// CHECK: dsc.moe {{.*}} shared(%[[SG:[^,]*]], %[[SU:[^,]*]], %[[SD:[^,]*]], %[[GS:[^,]*]], %[[US:[^,]*]], %[[DS:[^)]*]]) {shared_block_size = array<i64: 4, 4>}
// CHECK-NOT: dsc.linear
func.func @shared_expert_fp8(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>, %sg: tensor<6x8xf8E4M3FN>, %su: tensor<6x8xf8E4M3FN>, %sd: tensor<8x6xf8E4M3FN>, %gs: tensor<2x2xf32>, %us: tensor<2x2xf32>, %ds: tensor<2x2xf32>) -> tensor<?x8xf32> {
  %routed = dsc.moe %x, %w, %i experts(%g, %u, %d) : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  %a = dsc.linear %x, %sg scales %gs {block_size = array<i64: 4, 4>} : (tensor<?x8xf32>, tensor<6x8xf8E4M3FN>, tensor<2x2xf32>) -> tensor<?x6xf32>
  %b = dsc.linear %x, %su scales %us {block_size = array<i64: 4, 4>} : (tensor<?x8xf32>, tensor<6x8xf8E4M3FN>, tensor<2x2xf32>) -> tensor<?x6xf32>
  %h = dsc.swiglu %a, %b : tensor<?x6xf32>
  %s = dsc.linear %h, %sd scales %ds {block_size = array<i64: 4, 4>} : (tensor<?x6xf32>, tensor<8x6xf8E4M3FN>, tensor<2x2xf32>) -> tensor<?x8xf32>
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x8xf32>
  %e = tensor.empty(%n) : tensor<?x8xf32>
  %sum = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%s, %routed : tensor<?x8xf32>, tensor<?x8xf32>) outs(%e : tensor<?x8xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %r = arith.addf %p, %q : f32
    linalg.yield %r : f32
  } -> tensor<?x8xf32>
  return %sum : tensor<?x8xf32>
}

// -----

// negative_shared_other_tokens: an MLP of other tokens added to the routed
// sum is not a shared expert; it stays separate.
#id = affine_map<(t, d) -> (t, d)>
// CHECK-LABEL: func.func @negative_shared_other_tokens
// CHECK: dsc.moe {{.*}} experts(%{{[^)]*}}) :
// CHECK: dsc.linear
// CHECK: linalg.generic
func.func @negative_shared_other_tokens(%x: tensor<?x8xf32>, %y: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>, %sg: tensor<6x8xf32>, %su: tensor<6x8xf32>, %sd: tensor<8x6xf32>) -> tensor<?x8xf32> {
  %routed = dsc.moe %x, %w, %i experts(%g, %u, %d) : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  %a = dsc.linear %y, %sg : (tensor<?x8xf32>, tensor<6x8xf32>) -> tensor<?x6xf32>
  %b = dsc.linear %y, %su : (tensor<?x8xf32>, tensor<6x8xf32>) -> tensor<?x6xf32>
  %h = dsc.swiglu %a, %b : tensor<?x6xf32>
  %s = dsc.linear %h, %sd : (tensor<?x6xf32>, tensor<8x6xf32>) -> tensor<?x8xf32>
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x8xf32>
  %e = tensor.empty(%n) : tensor<?x8xf32>
  %sum = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%routed, %s : tensor<?x8xf32>, tensor<?x8xf32>) outs(%e : tensor<?x8xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %r = arith.addf %p, %q : f32
    linalg.yield %r : f32
  } -> tensor<?x8xf32>
  return %sum : tensor<?x8xf32>
}

// -----

// FP8 routed experts, dequantized whole as imported (f32(w) * scale of its
// block): dsc.moe takes the FP8 stacks and their scales instead, and
// dequantizes only the experts with rows.
#tk = affine_map<(t, e, j) -> (t, j)>
#te = affine_map<(t, e, j) -> (t, e)>
#x = affine_map<(e, t, w, d) -> (t, d)>
#w = affine_map<(e, t, w, d) -> (e, w, d)>
#etw = affine_map<(e, t, w, d) -> (e, t, w)>
#c = affine_map<(t, d, e, w) -> (t, e)>
#a = affine_map<(t, d, e, w) -> (e, t, w)>
#dn = affine_map<(t, d, e, w) -> (e, d, w)>
#y = affine_map<(t, d, e, w) -> (t, d)>
#id3 = affine_map<(e, r, c) -> (e, r, c)>
// CHECK-LABEL: func.func @dense_masked_experts_fp8
// CHECK-SAME: %[[G8:[^:]*]]: tensor<4x6x8xf8E4M3FN>, %[[U8:[^:]*]]: tensor<4x6x8xf8E4M3FN>, %[[D8:[^:]*]]: tensor<4x8x6xf8E4M3FN>, %[[GS:[^:]*]]: tensor<4x2x2xf32>, %[[US:[^:]*]]: tensor<4x2x2xf32>, %[[DS:[^:]*]]: tensor<4x2x2xf32>
// CHECK: dsc.moe {{.*}} experts(%[[G8]], %[[U8]], %[[D8]]) scales(%[[GS]], %[[US]], %[[DS]]) {expert_block_size = array<i64: 4, 4>}
func.func @dense_masked_experts_fp8(%x: tensor<?x8xf32>, %gw: tensor<4x8xf32>, %g8: tensor<4x6x8xf8E4M3FN>, %u8: tensor<4x6x8xf8E4M3FN>, %d8: tensor<4x8x6xf8E4M3FN>, %gs: tensor<4x2x2xf32>, %us: tensor<4x2x2xf32>, %ds: tensor<4x2x2xf32>) -> tensor<?x8xf32> {
  %c4 = arith.constant 4 : index
  %empty_g = tensor.empty() : tensor<4x6x8xf32>
  %empty_u = tensor.empty() : tensor<4x6x8xf32>
  %g = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%g8 : tensor<4x6x8xf8E4M3FN>) outs(%empty_g : tensor<4x6x8xf32>) {
  ^bb0(%in: f8E4M3FN, %out: f32):
    %i0 = linalg.index 0 : index
    %i1 = linalg.index 1 : index
    %i2 = linalg.index 2 : index
    %r = arith.divui %i1, %c4 : index
    %q = arith.divui %i2, %c4 : index
    %sc = tensor.extract %gs[%i0, %r, %q] : tensor<4x2x2xf32>
    %v = arith.extf %in : f8E4M3FN to f32
    %m = arith.mulf %v, %sc : f32
    linalg.yield %m : f32
  } -> tensor<4x6x8xf32>
  %u = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%u8 : tensor<4x6x8xf8E4M3FN>) outs(%empty_u : tensor<4x6x8xf32>) {
  ^bb0(%in: f8E4M3FN, %out: f32):
    %i0 = linalg.index 0 : index
    %i1 = linalg.index 1 : index
    %i2 = linalg.index 2 : index
    %r = arith.divui %i1, %c4 : index
    %q = arith.divui %i2, %c4 : index
    %sc = tensor.extract %us[%i0, %r, %q] : tensor<4x2x2xf32>
    %v = arith.extf %in : f8E4M3FN to f32
    %m = arith.mulf %v, %sc : f32
    linalg.yield %m : f32
  } -> tensor<4x6x8xf32>
  %empty_d = tensor.empty() : tensor<4x8x6xf32>
  %d = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%d8 : tensor<4x8x6xf8E4M3FN>) outs(%empty_d : tensor<4x8x6xf32>) {
  ^bb0(%in: f8E4M3FN, %out: f32):
    %i0 = linalg.index 0 : index
    %i1 = linalg.index 1 : index
    %i2 = linalg.index 2 : index
    %r = arith.divui %i1, %c4 : index
    %q = arith.divui %i2, %c4 : index
    %sc = tensor.extract %ds[%i0, %r, %q] : tensor<4x2x2xf32>
    %v = arith.extf %in : f8E4M3FN to f32
    %m = arith.mulf %v, %sc : f32
    linalg.yield %m : f32
  } -> tensor<4x8x6xf32>
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

// negative_fp8_mixed: the down stack is not FP8: the experts still fuse,
// on the three f32 stacks, with no scales.
#tk = affine_map<(t, e, j) -> (t, j)>
#te = affine_map<(t, e, j) -> (t, e)>
#x = affine_map<(e, t, w, d) -> (t, d)>
#w = affine_map<(e, t, w, d) -> (e, w, d)>
#etw = affine_map<(e, t, w, d) -> (e, t, w)>
#c = affine_map<(t, d, e, w) -> (t, e)>
#a = affine_map<(t, d, e, w) -> (e, t, w)>
#dn = affine_map<(t, d, e, w) -> (e, d, w)>
#y = affine_map<(t, d, e, w) -> (t, d)>
#id3 = affine_map<(e, r, c) -> (e, r, c)>
// CHECK-LABEL: func.func @negative_fp8_mixed
// CHECK: %[[GF:.*]] = linalg.generic
// CHECK: %[[UF:.*]] = linalg.generic
// CHECK: dsc.moe {{.*}} experts(%[[GF]], %[[UF]], %{{.*}}) :
func.func @negative_fp8_mixed(%x: tensor<?x8xf32>, %gw: tensor<4x8xf32>, %g8: tensor<4x6x8xf8E4M3FN>, %u8: tensor<4x6x8xf8E4M3FN>, %d: tensor<4x8x6xf32>, %gs: tensor<4x2x2xf32>, %us: tensor<4x2x2xf32>, %ds: tensor<4x2x2xf32>) -> tensor<?x8xf32> {
  %c4 = arith.constant 4 : index
  %empty_g = tensor.empty() : tensor<4x6x8xf32>
  %empty_u = tensor.empty() : tensor<4x6x8xf32>
  %g = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%g8 : tensor<4x6x8xf8E4M3FN>) outs(%empty_g : tensor<4x6x8xf32>) {
  ^bb0(%in: f8E4M3FN, %out: f32):
    %i0 = linalg.index 0 : index
    %i1 = linalg.index 1 : index
    %i2 = linalg.index 2 : index
    %r = arith.divui %i1, %c4 : index
    %q = arith.divui %i2, %c4 : index
    %sc = tensor.extract %gs[%i0, %r, %q] : tensor<4x2x2xf32>
    %v = arith.extf %in : f8E4M3FN to f32
    %m = arith.mulf %v, %sc : f32
    linalg.yield %m : f32
  } -> tensor<4x6x8xf32>
  %u = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%u8 : tensor<4x6x8xf8E4M3FN>) outs(%empty_u : tensor<4x6x8xf32>) {
  ^bb0(%in: f8E4M3FN, %out: f32):
    %i0 = linalg.index 0 : index
    %i1 = linalg.index 1 : index
    %i2 = linalg.index 2 : index
    %r = arith.divui %i1, %c4 : index
    %q = arith.divui %i2, %c4 : index
    %sc = tensor.extract %us[%i0, %r, %q] : tensor<4x2x2xf32>
    %v = arith.extf %in : f8E4M3FN to f32
    %m = arith.mulf %v, %sc : f32
    linalg.yield %m : f32
  } -> tensor<4x6x8xf32>
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

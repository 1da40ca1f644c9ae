// Long reductions as dsc-lower-to-linalg writes them (one input, one
// output; here into the caller's buffer), for dsc-split-reductions: RMSNorm's sum of squares over 1024
// values (16 parts of 64) and a row's maximum over 1536 (24 parts; its
// neutral element -inf). kernels-emulated.test runs them, split and
// mapped to blocks and threads as the GPU pipeline maps them.
#x3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#o3 = affine_map<(d0, d1, d2) -> (d0, d1)>
#x2 = affine_map<(d0, d1) -> (d0, d1)>
#o2 = affine_map<(d0, d1) -> (d0)>
func.func @sum_of_squares(%x: tensor<?x?x1024xf32>, %e: tensor<?x?xf32> {bufferization.writable = true}) -> tensor<?x?xf32> {
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<?x?xf32>) -> tensor<?x?xf32>
  %r = linalg.generic {indexing_maps = [#x3, #o3], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x : tensor<?x?x1024xf32>) outs(%f : tensor<?x?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %sq = arith.mulf %a, %a : f32
    %y = arith.addf %sq, %acc : f32
    linalg.yield %y : f32
  } -> tensor<?x?xf32>
  return %r : tensor<?x?xf32>
}
func.func @row_max(%x: tensor<?x1536xf32>, %e: tensor<?xf32> {bufferization.writable = true}) -> tensor<?xf32> {
  %lowest = arith.constant 0xFF800000 : f32
  %f = linalg.fill ins(%lowest : f32) outs(%e : tensor<?xf32>) -> tensor<?xf32>
  %r = linalg.generic {indexing_maps = [#x2, #o2], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<?x1536xf32>) outs(%f : tensor<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %y = arith.maximumf %a, %acc : f32
    linalg.yield %y : f32
  } -> tensor<?xf32>
  return %r : tensor<?xf32>
}
// A whole vector's sum into a scalar (an ONNX ReduceSum over all axes) and
// a reduction over the outer dimension of [2048, ?] (into [?]).
#v = affine_map<(d0) -> (d0)>
#s = affine_map<(d0) -> ()>
#cols = affine_map<(d0, d1) -> (d1)>
func.func @total(%x: tensor<4096xf32>, %e: tensor<f32> {bufferization.writable = true}) -> tensor<f32> {
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<f32>) -> tensor<f32>
  %r = linalg.generic {indexing_maps = [#v, #s], iterator_types = ["reduction"]} ins(%x : tensor<4096xf32>) outs(%f : tensor<f32>) {
  ^bb0(%a: f32, %acc: f32):
    %y = arith.addf %a, %acc : f32
    linalg.yield %y : f32
  } -> tensor<f32>
  return %r : tensor<f32>
}
func.func @column_sums(%x: tensor<2048x?xf32>, %e: tensor<?xf32> {bufferization.writable = true}) -> tensor<?xf32> {
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<?xf32>) -> tensor<?xf32>
  %r = linalg.generic {indexing_maps = [#x2, #cols], iterator_types = ["reduction", "parallel"]} ins(%x : tensor<2048x?xf32>) outs(%f : tensor<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %y = arith.addf %a, %acc : f32
    linalg.yield %y : f32
  } -> tensor<?xf32>
  return %r : tensor<?xf32>
}
// Dot products of two inputs: a router's logits [?, 128] = x [?, 1024]
// times w [128, 1024] transposed (8 parts of 128: at most 1024 / 128
// parts, so that the partial sums take no more than x; 16 without that
// limit), a dot product of each row with one vector (16 parts of 64; one
// output a row, no limit), and each row's sum scaled by a per-row factor
// (an input not read along the reduction: not expanded).
#tk = affine_map<(d0, d1, d2) -> (d0, d2)>
#ek = affine_map<(d0, d1, d2) -> (d1, d2)>
#te = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @router_logits(%x: tensor<?x1024xf32>, %w: tensor<128x1024xf32>, %e: tensor<?x128xf32> {bufferization.writable = true}) -> tensor<?x128xf32> {
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<?x128xf32>) -> tensor<?x128xf32>
  %r = linalg.generic {indexing_maps = [#tk, #ek, #te], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<?x1024xf32>, tensor<128x1024xf32>) outs(%f : tensor<?x128xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %y = arith.addf %p, %acc : f32
    linalg.yield %y : f32
  } -> tensor<?x128xf32>
  return %r : tensor<?x128xf32>
}
#vk = affine_map<(d0, d1) -> (d1)>
func.func @row_dots(%x: tensor<?x1024xf32>, %v: tensor<1024xf32>, %e: tensor<?xf32> {bufferization.writable = true}) -> tensor<?xf32> {
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<?xf32>) -> tensor<?xf32>
  %r = linalg.generic {indexing_maps = [#x2, #vk, #o2], iterator_types = ["parallel", "reduction"]} ins(%x, %v : tensor<?x1024xf32>, tensor<1024xf32>) outs(%f : tensor<?xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %y = arith.addf %p, %acc : f32
    linalg.yield %y : f32
  } -> tensor<?xf32>
  return %r : tensor<?xf32>
}
func.func @scaled_sums(%x: tensor<?x1024xf32>, %s: tensor<?xf32>, %e: tensor<?xf32> {bufferization.writable = true}) -> tensor<?xf32> {
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<?xf32>) -> tensor<?xf32>
  %r = linalg.generic {indexing_maps = [#x2, #o2, #o2], iterator_types = ["parallel", "reduction"]} ins(%x, %s : tensor<?x1024xf32>, tensor<?xf32>) outs(%f : tensor<?xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %y = arith.addf %p, %acc : f32
    linalg.yield %y : f32
  } -> tensor<?xf32>
  return %r : tensor<?xf32>
}

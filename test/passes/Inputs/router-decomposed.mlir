// A DeepSeek-V3 router spelled out (as transformers computes it and an
// exporter writes it; the ONNX importer's TopK is dsc.topk) feeding fused
// experts, for fuse-router.mlir: 8 experts in 2 groups of 4, the best
// group kept, top-2, sigmoid scores with a correction bias, normalised
// and scaled by 2.5.

#id2 = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
#row = affine_map<(d0, d1) -> (d0)>
#x = affine_map<(d0, d1, d2) -> (d0, d2)>
#w = affine_map<(d0, d1, d2) -> (d1, d2)>
#o = affine_map<(d0, d1, d2) -> (d0, d1)>
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#unit = affine_map<(d0, d1, d2) -> (d0, d1, 0)>

func.func @router(%x: tensor<?x8xf32>, %gw: tensor<8x8xf32>, %bias: tensor<8xf32>, %g: tensor<8x4x8xf32>, %u: tensor<8x4x8xf32>, %d: tensor<8x8x4xf32>) -> tensor<?x8xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %scale = arith.constant 2.5 : f32
  %t = tensor.dim %x, %c0 : tensor<?x8xf32>
  %e = tensor.empty(%t) : tensor<?x8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<?x8xf32>) -> tensor<?x8xf32>
  %logits = linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %gw : tensor<?x8xf32>, tensor<8x8xf32>) outs(%z : tensor<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %0 = arith.mulf %a, %b : f32
    %1 = arith.addf %0, %acc : f32
    linalg.yield %1 : f32
  } -> tensor<?x8xf32>
  %scores = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%logits : tensor<?x8xf32>) outs(%e : tensor<?x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = arith.negf %a : f32
    %1 = math.exp %0 : f32
    %2 = arith.addf %1, %one : f32
    %3 = arith.divf %one, %2 : f32
    linalg.yield %3 : f32
  } -> tensor<?x8xf32>
  %sel = linalg.generic {indexing_maps = [#id2, #col, #id2], iterator_types = ["parallel", "parallel"]} ins(%scores, %bias : tensor<?x8xf32>, tensor<8xf32>) outs(%e : tensor<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %0 = arith.addf %a, %b : f32
    linalg.yield %0 : f32
  } -> tensor<?x8xf32>
  // Group scores: the sum of each group's two best.
  %grouped = tensor.expand_shape %sel [[0], [1, 2]] output_shape [%t, 2, 4] : tensor<?x8xf32> into tensor<?x2x4xf32>
  %best, %bestIdx = dsc.topk %grouped {k = 2 : i64} : (tensor<?x2x4xf32>) -> (tensor<?x2x2xf32>, tensor<?x2x2xi64>)
  %eg = tensor.empty(%t) : tensor<?x2xf32>
  %zg = linalg.fill ins(%zero : f32) outs(%eg : tensor<?x2xf32>) -> tensor<?x2xf32>
  %groupScores = linalg.generic {indexing_maps = [#id3, #o], iterator_types = ["parallel", "parallel", "reduction"]} ins(%best : tensor<?x2x2xf32>) outs(%zg : tensor<?x2xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %0 = arith.addf %a, %acc : f32
    linalg.yield %0 : f32
  } -> tensor<?x2xf32>
  // The best group, scattered as ones into a [T, G] mask, spread over its
  // experts.
  %keptScore, %kept = dsc.topk %groupScores {k = 1 : i64} : (tensor<?x2xf32>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
  %groupMask = linalg.generic {indexing_maps = [#x, #o], iterator_types = ["parallel", "parallel", "reduction"]} ins(%kept : tensor<?x1xi64>) outs(%zg : tensor<?x2xf32>) {
  ^bb0(%i: i64, %acc: f32):
    %0 = arith.index_cast %i : i64 to index
    %1 = linalg.index 1 : index
    %2 = arith.cmpi eq, %0, %1 : index
    %3 = arith.select %2, %one, %acc : f32
    linalg.yield %3 : f32
  } -> tensor<?x2xf32>
  %groupMask3 = tensor.expand_shape %groupMask [[0], [1, 2]] output_shape [%t, 2, 1] : tensor<?x2xf32> into tensor<?x2x1xf32>
  %e3 = tensor.empty(%t) : tensor<?x2x4xf32>
  %spread = linalg.generic {indexing_maps = [#unit, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%groupMask3 : tensor<?x2x1xf32>) outs(%e3 : tensor<?x2x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  } -> tensor<?x2x4xf32>
  %mask = tensor.collapse_shape %spread [[0], [1, 2]] : tensor<?x2x4xf32> into tensor<?x8xf32>
  %masked = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%mask, %sel : tensor<?x8xf32>, tensor<?x8xf32>) outs(%e : tensor<?x8xf32>) {
  ^bb0(%m: f32, %s: f32, %o: f32):
    %0 = arith.cmpf une, %m, %zero : f32
    %1 = arith.select %0, %s, %ninf : f32
    linalg.yield %1 : f32
  } -> tensor<?x8xf32>
  // The top 2, weighted by their unbiased scores, normalised and scaled.
  %topScore, %top = dsc.topk %masked {k = 2 : i64} : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %ek = tensor.empty(%t) : tensor<?x2xf32>
  %picked = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%top : tensor<?x2xi64>) outs(%ek : tensor<?x2xf32>) {
  ^bb0(%i: i64, %o: f32):
    %0 = linalg.index 0 : index
    %1 = arith.index_cast %i : i64 to index
    %2 = tensor.extract %scores[%0, %1] : tensor<?x8xf32>
    linalg.yield %2 : f32
  } -> tensor<?x2xf32>
  %er = tensor.empty(%t) : tensor<?xf32>
  %zr = linalg.fill ins(%zero : f32) outs(%er : tensor<?xf32>) -> tensor<?xf32>
  %sum = linalg.generic {indexing_maps = [#id2, #row], iterator_types = ["parallel", "reduction"]} ins(%picked : tensor<?x2xf32>) outs(%zr : tensor<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %0 = arith.addf %a, %acc : f32
    linalg.yield %0 : f32
  } -> tensor<?xf32>
  %weights = linalg.generic {indexing_maps = [#id2, #row, #id2], iterator_types = ["parallel", "parallel"]} ins(%picked, %sum : tensor<?x2xf32>, tensor<?xf32>) outs(%ek : tensor<?x2xf32>) {
  ^bb0(%a: f32, %s: f32, %o: f32):
    %0 = arith.divf %a, %s : f32
    %1 = arith.mulf %0, %scale : f32
    linalg.yield %1 : f32
  } -> tensor<?x2xf32>
  %y = dsc.moe %x, %weights, %top experts(%g, %u, %d) : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<8x4x8xf32>, tensor<8x4x8xf32>, tensor<8x8x4xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

func.func @router_group_max(%x: tensor<?x8xf32>, %gw: tensor<8x8xf32>, %bias: tensor<8xf32>, %g: tensor<8x4x8xf32>, %u: tensor<8x4x8xf32>, %d: tensor<8x8x4xf32>) -> tensor<?x8xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %scale = arith.constant 2.5 : f32
  %t = tensor.dim %x, %c0 : tensor<?x8xf32>
  %e = tensor.empty(%t) : tensor<?x8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<?x8xf32>) -> tensor<?x8xf32>
  %logits = linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %gw : tensor<?x8xf32>, tensor<8x8xf32>) outs(%z : tensor<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %0 = arith.mulf %a, %b : f32
    %1 = arith.addf %0, %acc : f32
    linalg.yield %1 : f32
  } -> tensor<?x8xf32>
  %scores = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%logits : tensor<?x8xf32>) outs(%e : tensor<?x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = arith.negf %a : f32
    %1 = math.exp %0 : f32
    %2 = arith.addf %1, %one : f32
    %3 = arith.divf %one, %2 : f32
    linalg.yield %3 : f32
  } -> tensor<?x8xf32>
  %sel = linalg.generic {indexing_maps = [#id2, #col, #id2], iterator_types = ["parallel", "parallel"]} ins(%scores, %bias : tensor<?x8xf32>, tensor<8xf32>) outs(%e : tensor<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %0 = arith.addf %a, %b : f32
    linalg.yield %0 : f32
  } -> tensor<?x8xf32>
  // Group scores: each group's best (DeepSeek-V2's group_limited_greedy).
  %grouped = tensor.expand_shape %sel [[0], [1, 2]] output_shape [%t, 2, 4] : tensor<?x8xf32> into tensor<?x2x4xf32>
  %eg = tensor.empty(%t) : tensor<?x2xf32>
  %zg = linalg.fill ins(%zero : f32) outs(%eg : tensor<?x2xf32>) -> tensor<?x2xf32>
  %lowest = linalg.fill ins(%ninf : f32) outs(%eg : tensor<?x2xf32>) -> tensor<?x2xf32>
  %groupScores = linalg.generic {indexing_maps = [#id3, #o], iterator_types = ["parallel", "parallel", "reduction"]} ins(%grouped : tensor<?x2x4xf32>) outs(%lowest : tensor<?x2xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %0 = arith.maximumf %a, %acc : f32
    linalg.yield %0 : f32
  } -> tensor<?x2xf32>
  // The best group, scattered as ones into a [T, G] mask, spread over its
  // experts.
  %keptScore, %kept = dsc.topk %groupScores {k = 1 : i64} : (tensor<?x2xf32>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
  %groupMask = linalg.generic {indexing_maps = [#x, #o], iterator_types = ["parallel", "parallel", "reduction"]} ins(%kept : tensor<?x1xi64>) outs(%zg : tensor<?x2xf32>) {
  ^bb0(%i: i64, %acc: f32):
    %0 = arith.index_cast %i : i64 to index
    %1 = linalg.index 1 : index
    %2 = arith.cmpi eq, %0, %1 : index
    %3 = arith.select %2, %one, %acc : f32
    linalg.yield %3 : f32
  } -> tensor<?x2xf32>
  %groupMask3 = tensor.expand_shape %groupMask [[0], [1, 2]] output_shape [%t, 2, 1] : tensor<?x2xf32> into tensor<?x2x1xf32>
  %e3 = tensor.empty(%t) : tensor<?x2x4xf32>
  %spread = linalg.generic {indexing_maps = [#unit, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%groupMask3 : tensor<?x2x1xf32>) outs(%e3 : tensor<?x2x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  } -> tensor<?x2x4xf32>
  %mask = tensor.collapse_shape %spread [[0], [1, 2]] : tensor<?x2x4xf32> into tensor<?x8xf32>
  %masked = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%mask, %sel : tensor<?x8xf32>, tensor<?x8xf32>) outs(%e : tensor<?x8xf32>) {
  ^bb0(%m: f32, %s: f32, %o: f32):
    %0 = arith.cmpf une, %m, %zero : f32
    %1 = arith.select %0, %s, %ninf : f32
    linalg.yield %1 : f32
  } -> tensor<?x8xf32>
  // The top 2, weighted by their unbiased scores, normalised and scaled.
  %topScore, %top = dsc.topk %masked {k = 2 : i64} : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %ek = tensor.empty(%t) : tensor<?x2xf32>
  %picked = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%top : tensor<?x2xi64>) outs(%ek : tensor<?x2xf32>) {
  ^bb0(%i: i64, %o: f32):
    %0 = linalg.index 0 : index
    %1 = arith.index_cast %i : i64 to index
    %2 = tensor.extract %scores[%0, %1] : tensor<?x8xf32>
    linalg.yield %2 : f32
  } -> tensor<?x2xf32>
  %er = tensor.empty(%t) : tensor<?xf32>
  %zr = linalg.fill ins(%zero : f32) outs(%er : tensor<?xf32>) -> tensor<?xf32>
  %sum = linalg.generic {indexing_maps = [#id2, #row], iterator_types = ["parallel", "reduction"]} ins(%picked : tensor<?x2xf32>) outs(%zr : tensor<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %0 = arith.addf %a, %acc : f32
    linalg.yield %0 : f32
  } -> tensor<?xf32>
  %weights = linalg.generic {indexing_maps = [#id2, #row, #id2], iterator_types = ["parallel", "parallel"]} ins(%picked, %sum : tensor<?x2xf32>, tensor<?xf32>) outs(%ek : tensor<?x2xf32>) {
  ^bb0(%a: f32, %s: f32, %o: f32):
    %0 = arith.divf %a, %s : f32
    %1 = arith.mulf %0, %scale : f32
    linalg.yield %1 : f32
  } -> tensor<?x2xf32>
  %y = dsc.moe %x, %weights, %top experts(%g, %u, %d) : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<8x4x8xf32>, tensor<8x4x8xf32>, tensor<8x8x4xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// Rotary embeddings spelled out, as transformers computes them, for
// fuse-rope.mlir.

#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#pos = affine_map<(d0, d1, d2) -> (d0, d1)>
#freq = affine_map<(d0, d1, d2) -> (d2)>
#heads = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>

// The importer's --import-decomposed form: [batch, seq, heads, d] queries,
// [batch, seq] positions, tables [batch, seq, d/2] broadcast over the heads,
// the pairs' elements at stride 2 (rope_interleave).
func.func @rope_importer(%x: tensor<?x?x4x8xf32>, %pos: tensor<?x?xi64>) -> tensor<?x?x4x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %x, %c0 : tensor<?x?x4x8xf32>
  %s = tensor.dim %x, %c1 : tensor<?x?x4x8xf32>
  %freqs = arith.constant dense<[1.0, 0.1, 0.01, 0.001]> : tensor<4xf32>
  %e3 = tensor.empty(%b, %s) : tensor<?x?x4xf32>
  %angles = linalg.generic {indexing_maps = [#pos, #freq, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%pos, %freqs : tensor<?x?xi64>, tensor<4xf32>) outs(%e3 : tensor<?x?x4xf32>) {
  ^bb0(%p: i64, %f: f32, %o: f32):
    %0 = arith.sitofp %p : i64 to f32
    %1 = arith.mulf %0, %f : f32
    linalg.yield %1 : f32
  } -> tensor<?x?x4xf32>
  %cos = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%angles : tensor<?x?x4xf32>) outs(%e3 : tensor<?x?x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = math.cos %a : f32
    linalg.yield %0 : f32
  } -> tensor<?x?x4xf32>
  %sin = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%angles : tensor<?x?x4xf32>) outs(%e3 : tensor<?x?x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = math.sin %a : f32
    linalg.yield %0 : f32
  } -> tensor<?x?x4xf32>
  %even = tensor.extract_slice %x[0, 0, 0, 0] [%b, %s, 4, 4] [1, 1, 1, 2] : tensor<?x?x4x8xf32> to tensor<?x?x4x4xf32>
  %odd = tensor.extract_slice %x[0, 0, 0, 1] [%b, %s, 4, 4] [1, 1, 1, 2] : tensor<?x?x4x8xf32> to tensor<?x?x4x4xf32>
  %e4 = tensor.empty(%b, %s) : tensor<?x?x4x4xf32>
  %lo = linalg.generic {indexing_maps = [#id4, #heads, #id4, #heads, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%even, %cos, %odd, %sin : tensor<?x?x4x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4x4xf32>, tensor<?x?x4xf32>) outs(%e4 : tensor<?x?x4x4xf32>) {
  ^bb0(%a: f32, %c: f32, %p: f32, %n: f32, %o: f32):
    %0 = arith.mulf %a, %c : f32
    %1 = arith.mulf %p, %n : f32
    %2 = arith.subf %0, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<?x?x4x4xf32>
  // The sum written sin term first, its factors swapped.
  %hi = linalg.generic {indexing_maps = [#id4, #heads, #id4, #heads, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%odd, %cos, %even, %sin : tensor<?x?x4x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4x4xf32>, tensor<?x?x4xf32>) outs(%e4 : tensor<?x?x4x4xf32>) {
  ^bb0(%a: f32, %c: f32, %p: f32, %n: f32, %o: f32):
    %0 = arith.mulf %c, %a : f32
    %1 = arith.mulf %n, %p : f32
    %2 = arith.addf %1, %0 : f32
    linalg.yield %2 : f32
  } -> tensor<?x?x4x4xf32>
  %e8 = tensor.empty(%b, %s) : tensor<?x?x4x8xf32>
  %i0 = tensor.insert_slice %lo into %e8[0, 0, 0, 0] [%b, %s, 4, 4] [1, 1, 1, 1] : tensor<?x?x4x4xf32> into tensor<?x?x4x8xf32>
  %i1 = tensor.insert_slice %hi into %i0[0, 0, 0, 4] [%b, %s, 4, 4] [1, 1, 1, 1] : tensor<?x?x4x4xf32> into tensor<?x?x4x8xf32>
  return %i1 : tensor<?x?x4x8xf32>
}

#posu = affine_map<(d0, d1, d2) -> (d0, d1, 0)>
#bcast = affine_map<(d0, d1, d2, d3) -> (0, 0, d2, d3)>

// torch.onnx.export's form: [batch, heads, seq, d] queries, positions
// [1, seq, 1] from a Range, emb = cat(freqs, freqs) whose cosine is sliced
// to its first half and unsqueezed to [1, 1, seq, d/2], the pairs split into
// halves (no interleave).
func.func @rope_exporter(%x: tensor<?x4x?x8xf32>, %range: tensor<?xi64>) -> tensor<?x4x?x8xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %x, %c0 : tensor<?x4x?x8xf32>
  %s = tensor.dim %x, %c2 : tensor<?x4x?x8xf32>
  %freqs = arith.constant dense<[1.0, 0.025, 0.0025, 0.00025]> : tensor<4xf32>
  %pos = tensor.expand_shape %range [[0, 1, 2]] output_shape [1, %s, 1] : tensor<?xi64> into tensor<1x?x1xi64>
  %e4 = tensor.empty(%s) : tensor<1x?x4xf32>
  %angles = linalg.generic {indexing_maps = [#posu, #freq, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%pos, %freqs : tensor<1x?x1xi64>, tensor<4xf32>) outs(%e4 : tensor<1x?x4xf32>) {
  ^bb0(%p: i64, %f: f32, %o: f32):
    %0 = arith.sitofp %p : i64 to f32
    %1 = arith.mulf %0, %f : f32
    linalg.yield %1 : f32
  } -> tensor<1x?x4xf32>
  %e8 = tensor.empty(%s) : tensor<1x?x8xf32>
  %emb0 = tensor.insert_slice %angles into %e8[0, 0, 0] [1, %s, 4] [1, 1, 1] : tensor<1x?x4xf32> into tensor<1x?x8xf32>
  %emb = tensor.insert_slice %angles into %emb0[0, 0, 4] [1, %s, 4] [1, 1, 1] : tensor<1x?x4xf32> into tensor<1x?x8xf32>
  %cosf = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%emb : tensor<1x?x8xf32>) outs(%e8 : tensor<1x?x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = math.cos %a : f32
    linalg.yield %0 : f32
  } -> tensor<1x?x8xf32>
  %sinf = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%emb : tensor<1x?x8xf32>) outs(%e8 : tensor<1x?x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = math.sin %a : f32
    linalg.yield %0 : f32
  } -> tensor<1x?x8xf32>
  %cosh = tensor.extract_slice %cosf[0, 0, 0] [1, %s, 4] [1, 1, 1] : tensor<1x?x8xf32> to tensor<1x?x4xf32>
  %sinh = tensor.extract_slice %sinf[0, 0, 4] [1, %s, 4] [1, 1, 1] : tensor<1x?x8xf32> to tensor<1x?x4xf32>
  %cos = tensor.expand_shape %cosh [[0], [1, 2], [3]] output_shape [1, 1, %s, 4] : tensor<1x?x4xf32> into tensor<1x1x?x4xf32>
  %sin = tensor.expand_shape %sinh [[0], [1, 2], [3]] output_shape [1, 1, %s, 4] : tensor<1x?x4xf32> into tensor<1x1x?x4xf32>
  %first = tensor.extract_slice %x[0, 0, 0, 0] [%b, 4, %s, 4] [1, 1, 1, 1] : tensor<?x4x?x8xf32> to tensor<?x4x?x4xf32>
  %second = tensor.extract_slice %x[0, 0, 0, 4] [%b, 4, %s, 4] [1, 1, 1, 1] : tensor<?x4x?x8xf32> to tensor<?x4x?x4xf32>
  %eh = tensor.empty(%b, %s) : tensor<?x4x?x4xf32>
  %lo = linalg.generic {indexing_maps = [#id4, #bcast, #id4, #bcast, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%first, %cos, %second, %sin : tensor<?x4x?x4xf32>, tensor<1x1x?x4xf32>, tensor<?x4x?x4xf32>, tensor<1x1x?x4xf32>) outs(%eh : tensor<?x4x?x4xf32>) {
  ^bb0(%a: f32, %c: f32, %p: f32, %n: f32, %o: f32):
    %0 = arith.mulf %p, %n : f32
    %1 = arith.mulf %a, %c : f32
    %2 = arith.subf %1, %0 : f32
    linalg.yield %2 : f32
  } -> tensor<?x4x?x4xf32>
  %hi = linalg.generic {indexing_maps = [#id4, #bcast, #id4, #bcast, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%second, %cos, %first, %sin : tensor<?x4x?x4xf32>, tensor<1x1x?x4xf32>, tensor<?x4x?x4xf32>, tensor<1x1x?x4xf32>) outs(%eh : tensor<?x4x?x4xf32>) {
  ^bb0(%a: f32, %c: f32, %p: f32, %n: f32, %o: f32):
    %0 = arith.mulf %p, %n : f32
    %1 = arith.mulf %a, %c : f32
    %2 = arith.addf %1, %0 : f32
    linalg.yield %2 : f32
  } -> tensor<?x4x?x4xf32>
  %ex = tensor.empty(%b, %s) : tensor<?x4x?x8xf32>
  %i0 = tensor.insert_slice %lo into %ex[0, 0, 0, 0] [%b, 4, %s, 4] [1, 1, 1, 1] : tensor<?x4x?x4xf32> into tensor<?x4x?x8xf32>
  %i1 = tensor.insert_slice %hi into %i0[0, 0, 0, 4] [%b, 4, %s, 4] [1, 1, 1, 1] : tensor<?x4x?x4xf32> into tensor<?x4x?x8xf32>
  return %i1 : tensor<?x4x?x8xf32>
}

// negative_other_angles: the second half rotated by other frequencies.
func.func @negative_other_angles(%x: tensor<?x?x4x8xf32>, %pos: tensor<?x?xi64>) -> tensor<?x?x4x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %x, %c0 : tensor<?x?x4x8xf32>
  %s = tensor.dim %x, %c1 : tensor<?x?x4x8xf32>
  %freqs = arith.constant dense<[1.0, 0.1, 0.01, 0.001]> : tensor<4xf32>
  %e3 = tensor.empty(%b, %s) : tensor<?x?x4xf32>
  %angles = linalg.generic {indexing_maps = [#pos, #freq, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%pos, %freqs : tensor<?x?xi64>, tensor<4xf32>) outs(%e3 : tensor<?x?x4xf32>) {
  ^bb0(%p: i64, %f: f32, %o: f32):
    %0 = arith.sitofp %p : i64 to f32
    %1 = arith.mulf %0, %f : f32
    linalg.yield %1 : f32
  } -> tensor<?x?x4xf32>
  %cos = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%angles : tensor<?x?x4xf32>) outs(%e3 : tensor<?x?x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = math.cos %a : f32
    linalg.yield %0 : f32
  } -> tensor<?x?x4xf32>
  %sin = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%angles : tensor<?x?x4xf32>) outs(%e3 : tensor<?x?x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = math.sin %a : f32
    linalg.yield %0 : f32
  } -> tensor<?x?x4xf32>
  %freqs2 = arith.constant dense<[1.0, 0.5, 0.25, 0.125]> : tensor<4xf32>
  %angles2 = linalg.generic {indexing_maps = [#pos, #freq, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%pos, %freqs2 : tensor<?x?xi64>, tensor<4xf32>) outs(%e3 : tensor<?x?x4xf32>) {
  ^bb0(%p: i64, %f: f32, %o: f32):
    %0 = arith.sitofp %p : i64 to f32
    %1 = arith.mulf %0, %f : f32
    linalg.yield %1 : f32
  } -> tensor<?x?x4xf32>
  %cos2 = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%angles2 : tensor<?x?x4xf32>) outs(%e3 : tensor<?x?x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = math.cos %a : f32
    linalg.yield %0 : f32
  } -> tensor<?x?x4xf32>
  %sin2 = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%angles2 : tensor<?x?x4xf32>) outs(%e3 : tensor<?x?x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = math.sin %a : f32
    linalg.yield %0 : f32
  } -> tensor<?x?x4xf32>
  %even = tensor.extract_slice %x[0, 0, 0, 0] [%b, %s, 4, 4] [1, 1, 1, 2] : tensor<?x?x4x8xf32> to tensor<?x?x4x4xf32>
  %odd = tensor.extract_slice %x[0, 0, 0, 1] [%b, %s, 4, 4] [1, 1, 1, 2] : tensor<?x?x4x8xf32> to tensor<?x?x4x4xf32>
  %e4 = tensor.empty(%b, %s) : tensor<?x?x4x4xf32>
  %lo = linalg.generic {indexing_maps = [#id4, #heads, #id4, #heads, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%even, %cos, %odd, %sin : tensor<?x?x4x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4x4xf32>, tensor<?x?x4xf32>) outs(%e4 : tensor<?x?x4x4xf32>) {
  ^bb0(%a: f32, %c: f32, %p: f32, %n: f32, %o: f32):
    %0 = arith.mulf %a, %c : f32
    %1 = arith.mulf %p, %n : f32
    %2 = arith.subf %0, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<?x?x4x4xf32>
  %hi = linalg.generic {indexing_maps = [#id4, #heads, #id4, #heads, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%odd, %cos2, %even, %sin2 : tensor<?x?x4x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4x4xf32>, tensor<?x?x4xf32>) outs(%e4 : tensor<?x?x4x4xf32>) {
  ^bb0(%a: f32, %c: f32, %p: f32, %n: f32, %o: f32):
    %0 = arith.mulf %c, %a : f32
    %1 = arith.mulf %n, %p : f32
    %2 = arith.addf %1, %0 : f32
    linalg.yield %2 : f32
  } -> tensor<?x?x4x4xf32>
  %e8 = tensor.empty(%b, %s) : tensor<?x?x4x8xf32>
  %i0 = tensor.insert_slice %lo into %e8[0, 0, 0, 0] [%b, %s, 4, 4] [1, 1, 1, 1] : tensor<?x?x4x4xf32> into tensor<?x?x4x8xf32>
  %i1 = tensor.insert_slice %hi into %i0[0, 0, 0, 4] [%b, %s, 4, 4] [1, 1, 1, 1] : tensor<?x?x4x4xf32> into tensor<?x?x4x8xf32>
  return %i1 : tensor<?x?x4x8xf32>
}

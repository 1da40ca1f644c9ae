func.func @forward(%tokens: tensor<?x?xi64>) -> tensor<?x?x16xf32> {
  %table = dsc.weight "emb" : tensor<16x8xf32>
  %h = dsc.embed %table, %tokens : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %w = dsc.weight "norm" : tensor<8xf32>
  %n = dsc.rms_norm %h, %w {epsilon = 1.0e-06 : f64} : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
  %r = dsc.rope %n, %tokens {theta = 1.0e4 : f64, interleaved, yarn = #dsc.yarn<factor = 4.0, original_max_position = 32, beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 1.0>} : (tensor<?x?x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %c = tensor.collapse_shape %r [[0, 1], [2]] : tensor<?x?x8xf32> into tensor<?x8xf32>
  %gw = dsc.weight "gate" : tensor<8x8xf32>
  %gb = dsc.weight "bias" : tensor<8xf32>
  %wt, %idx = dsc.gate %c, %gw bias %gb {scoring = #dsc<scoring sigmoid>, topk_method = #dsc<topk_method noaux_tc>, top_k = 2 : i64, n_group = 4 : i64, topk_group = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 2.5 : f64} : (tensor<?x8xf32>, tensor<8x8xf32>, tensor<8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %s = dsc.swiglu %r, %r : tensor<?x?x8xf32>
  %lw = dsc.weight "head" : tensor<16x8xf32>
  %l = dsc.linear %s, %lw : (tensor<?x?x8xf32>, tensor<16x8xf32>) -> tensor<?x?x16xf32>
  return %l : tensor<?x?x16xf32>
}

// A model with no data-dependent host code (no router): every kernel's
// launch depends on the shapes only, so the fake CUDA driver can run it.
func.func @forward(%tokens: tensor<?x?xi64>) -> tensor<?x?x16xf32> {
  %table = dsc.weight "emb" : tensor<16x8xf32>
  %h = dsc.embed %table, %tokens : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %w = dsc.weight "norm" : tensor<8xf32>
  %n = dsc.rms_norm %h, %w {epsilon = 1.0e-06 : f64} : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
  %lw = dsc.weight "head" : tensor<16x8xf32>
  %logits = dsc.linear %n, %lw : (tensor<?x?x8xf32>, tensor<16x8xf32>) -> tensor<?x?x16xf32>
  return %logits : tensor<?x?x16xf32>
}

// Inputs of test/passes/fuse-elementwise.mlir: a residual add and an RMSNorm
// of its sum, and a near miss.
#id = affine_map<(b, s, d) -> (b, s, d)>
#last = affine_map<(b, s, d) -> (d)>
func.func @residual(%x: tensor<?x?x8xf32>, %r: tensor<?x?x8xf32>, %w: tensor<8xf32>) -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %x, %c0 : tensor<?x?x8xf32>
  %s = tensor.dim %x, %c1 : tensor<?x?x8xf32>
  %e = tensor.empty(%b, %s) : tensor<?x?x8xf32>
  %sum = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x, %r : tensor<?x?x8xf32>, tensor<?x?x8xf32>) outs(%e : tensor<?x?x8xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %v = arith.addf %p, %q : f32
    linalg.yield %v : f32
  } -> tensor<?x?x8xf32>
  %n = dsc.rms_norm %sum, %w {epsilon = 1.0e-06 : f64} : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
  return %sum, %n : tensor<?x?x8xf32>, tensor<?x?x8xf32>
}

// -----

#id = affine_map<(b, s, d) -> (b, s, d)>
#last = affine_map<(b, s, d) -> (d)>
func.func @negative_broadcast_add(%x: tensor<?x?x8xf32>, %bias: tensor<8xf32>, %w: tensor<8xf32>) -> tensor<?x?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %x, %c0 : tensor<?x?x8xf32>
  %s = tensor.dim %x, %c1 : tensor<?x?x8xf32>
  %e = tensor.empty(%b, %s) : tensor<?x?x8xf32>
  %sum = linalg.generic {indexing_maps = [#id, #last, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x, %bias : tensor<?x?x8xf32>, tensor<8xf32>) outs(%e : tensor<?x?x8xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %v = arith.addf %p, %q : f32
    linalg.yield %v : f32
  } -> tensor<?x?x8xf32>
  %n = dsc.rms_norm %sum, %w {epsilon = 1.0e-06 : f64} : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
  return %n : tensor<?x?x8xf32>
}

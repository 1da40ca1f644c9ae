// RMSNorm and SwiGLU written out op by op, as an ONNX exporter spells
// them (Pow, ReduceMean, Add, Sqrt, Reciprocal, Mul; Sigmoid, Mul, Mul): the
// input of test/passes/fuse-elementwise.mlir.
#id = affine_map<(b, s, d) -> (b, s, d)>
#row = affine_map<(b, s, d) -> (b, s, 0)>
#rowr = affine_map<(b, s, d) -> (b, s)>
#lastd = affine_map<(b, s, d) -> (d)>
#id2 = affine_map<(t, d) -> (t, d)>
// RMSNorm as an exporter spells it: Pow, ReduceMean (keepdims), Add eps,
// Sqrt, Reciprocal, Mul x, Mul weight; one generic per op.
func.func @rms_onnx(%x: tensor<2x3x8xf32>, %w: tensor<8xf32>) -> tensor<2x3x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x3x8xf32>
  %sq = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x : tensor<2x3x8xf32>) outs(%e : tensor<2x3x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %two = arith.constant 2.0 : f32
    %p = math.powf %a, %two : f32
    linalg.yield %p : f32
  } -> tensor<2x3x8xf32>
  %e1 = tensor.empty() : tensor<2x3xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e1 : tensor<2x3xf32>) -> tensor<2x3xf32>
  %sum = linalg.generic {indexing_maps = [#id, #rowr], iterator_types = ["parallel", "parallel", "reduction"]} ins(%sq : tensor<2x3x8xf32>) outs(%z : tensor<2x3xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %a, %acc : f32
    linalg.yield %s : f32
  } -> tensor<2x3xf32>
  %e2 = tensor.empty() : tensor<2x3x8xf32>
  %inv = linalg.generic {indexing_maps = [#rowr, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%sum : tensor<2x3xf32>) outs(%e2 : tensor<2x3x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %n = arith.constant 8.0 : f32
    %eps = arith.constant 1.0e-06 : f32
    %one = arith.constant 1.0 : f32
    %m = arith.divf %a, %n : f32
    %v = arith.addf %m, %eps : f32
    %r = math.sqrt %v : f32
    %q = arith.divf %one, %r : f32
    linalg.yield %q : f32
  } -> tensor<2x3x8xf32>
  %e3 = tensor.empty() : tensor<2x3x8xf32>
  %y = linalg.generic {indexing_maps = [#id, #id, #lastd, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x, %inv, %w : tensor<2x3x8xf32>, tensor<2x3x8xf32>, tensor<8xf32>) outs(%e3 : tensor<2x3x8xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32, %o: f32):
    %p = arith.mulf %a, %b : f32
    %q = arith.mulf %c, %p : f32
    linalg.yield %q : f32
  } -> tensor<2x3x8xf32>
  return %y : tensor<2x3x8xf32>
}

// SwiGLU as an exporter spells it: Sigmoid, Mul, Mul.
func.func @swiglu_onnx(%g: tensor<4x6xf32>, %u: tensor<4x6xf32>) -> tensor<4x6xf32> {
  %e = tensor.empty() : tensor<4x6xf32>
  %sig = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%g : tensor<4x6xf32>) outs(%e : tensor<4x6xf32>) {
  ^bb0(%a: f32, %o: f32):
    %zero = arith.constant 0.0 : f32
    %one = arith.constant 1.0 : f32
    %n = arith.subf %zero, %a : f32
    %x = math.exp %n : f32
    %d = arith.addf %x, %one : f32
    %s = arith.divf %one, %d : f32
    linalg.yield %s : f32
  } -> tensor<4x6xf32>
  %e1 = tensor.empty() : tensor<4x6xf32>
  %silu = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%g, %sig : tensor<4x6xf32>, tensor<4x6xf32>) outs(%e1 : tensor<4x6xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<4x6xf32>
  %e2 = tensor.empty() : tensor<4x6xf32>
  %y = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%silu, %u : tensor<4x6xf32>, tensor<4x6xf32>) outs(%e2 : tensor<4x6xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<4x6xf32>
  return %y : tensor<4x6xf32>
}

// RUN: dsc-opt %s --split-input-file --dsc-fuse-elementwise=report=true --dsc-fuse-moe=report=true --verify-diagnostics -o /dev/null

// The fusion report of a whole-model function (the ONNX importer's: no
// layer functions) has a row per layer: each op belongs to the layer of the
// last weight named `...layers.N....` before it, and the row is reported at
// the layer's first op. Layer 0's norm fuses; layer 1's has no epsilon
// (negative_no_epsilon) and says so in its own row.

#rows = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>
func.func @whole(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %eps = arith.constant 9.99999997E-7 : f32
  %width = arith.constant 8.000000e+00 : f32
  %zero = arith.constant 0.000000e+00 : f32
  %c0 = arith.constant 0 : index
  // expected-remark @+2 {{fusion report: whole: norm/act: fused}}
  // expected-remark @+1 {{fusion report: whole: moe: no experts}}
  %w0 = dsc.weight "model.layers.0.input_layernorm.weight" : tensor<8xf32>
  %n = tensor.dim %x, %c0 : tensor<?x8xf32>
  %e0 = tensor.empty(%n) : tensor<?xf32>
  %f0 = linalg.fill ins(%zero : f32) outs(%e0 : tensor<?xf32>) -> tensor<?xf32>
  %ss0 = linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<?x8xf32>) outs(%f0 : tensor<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %sq = arith.mulf %in, %in : f32
    %acc = arith.addf %sq, %out : f32
    linalg.yield %acc : f32
  } -> tensor<?xf32>
  %o0 = tensor.empty(%n) : tensor<?x8xf32>
  %y0 = linalg.generic {indexing_maps = [#rows, #row, #col, #rows], iterator_types = ["parallel", "parallel"]} ins(%x, %ss0, %w0 : tensor<?x8xf32>, tensor<?xf32>, tensor<8xf32>) outs(%o0 : tensor<?x8xf32>) {
  ^bb0(%in: f32, %ss: f32, %w: f32, %out: f32):
    %mean = arith.divf %ss, %width : f32
    %var = arith.addf %mean, %eps : f32
    %inv = math.rsqrt %var : f32
    %scaled = arith.mulf %in, %inv : f32
    %y = arith.mulf %scaled, %w : f32
    linalg.yield %y : f32
  } -> tensor<?x8xf32>
  // expected-remark @+2 {{fusion report: whole: norm/act: not fused: normalisation has no positive epsilon added under the root}}
  // expected-remark @+1 {{fusion report: whole: moe: no experts}}
  %w1 = dsc.weight "model.layers.1.input_layernorm.weight" : tensor<8xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e0 : tensor<?xf32>) -> tensor<?xf32>
  %ss1 = linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]} ins(%y0 : tensor<?x8xf32>) outs(%f1 : tensor<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %sq = arith.mulf %in, %in : f32
    %acc = arith.addf %sq, %out : f32
    linalg.yield %acc : f32
  } -> tensor<?xf32>
  %y1 = linalg.generic {indexing_maps = [#rows, #row, #col, #rows], iterator_types = ["parallel", "parallel"]} ins(%y0, %ss1, %w1 : tensor<?x8xf32>, tensor<?xf32>, tensor<8xf32>) outs(%o0 : tensor<?x8xf32>) {
  ^bb0(%in: f32, %ss: f32, %w: f32, %out: f32):
    %mean = arith.divf %ss, %width : f32
    %inv = math.rsqrt %mean : f32
    %scaled = arith.mulf %in, %inv : f32
    %y = arith.mulf %scaled, %w : f32
    linalg.yield %y : f32
  } -> tensor<?x8xf32>
  return %y1 : tensor<?x8xf32>
}

// -----

// A function that calls layer functions holds their weights, named after
// their layers, but is one row: the layers' rows are their functions'.
func.func private @layer(%x: tensor<?x8xf32>, %w: tensor<8xf32>) -> tensor<?x8xf32>
// expected-remark @+1 {{fusion report: forward: moe: no experts}}
func.func @forward(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %w0 = dsc.weight "model.layers.0.input_layernorm.weight" : tensor<8xf32>
  %0 = call @layer(%x, %w0) : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %w1 = dsc.weight "model.layers.1.input_layernorm.weight" : tensor<8xf32>
  %1 = call @layer(%0, %w1) : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return %1 : tensor<?x8xf32>
}

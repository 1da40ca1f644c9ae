// RUN: dsc-opt %s --split-input-file --verify-diagnostics

func.func @weight_dynamic() -> tensor<?xf32> {
  // expected-error @+1 {{'dsc.weight' op weight 'w' must have a static shape}}
  %0 = dsc.weight "w" : tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

func.func @weight_empty_name() -> tensor<4xf32> {
  // expected-error @+1 {{weight name must not be empty}}
  %0 = dsc.weight "" : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @weight_stack_no_placeholder() -> tensor<2x4xf32> {
  // expected-error @+1 {{stacked weight name must contain '{}'}}
  %0 = dsc.weight "w" {stack = 2 : i64} : tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @weight_stack_count() -> tensor<2x4xf32> {
  // expected-error @+1 {{stack count must be positive, got 0}}
  %0 = dsc.weight "w.{}" {stack = 0 : i64} : tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @weight_stack_dim() -> tensor<2x4xf32> {
  // expected-error @+1 {{stacked weight must have a leading dimension of 3}}
  %0 = dsc.weight "w.{}" {stack = 3 : i64} : tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @weight_placeholder_no_stack() -> tensor<2x4xf32> {
  // expected-error @+1 {{weight name contains '{}' but has no stack count}}
  %0 = dsc.weight "w.{}" : tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @embed_rank(%t: tensor<4xf32>, %i: tensor<?xi64>) -> tensor<?x4xf32> {
  // expected-error @+1 {{table must be rank 2 [vocab, hidden], got rank 1}}
  %0 = dsc.embed %t, %i : (tensor<4xf32>, tensor<?xi64>) -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

func.func @embed_shape(%t: tensor<8x4xf32>, %i: tensor<?xi64>) -> tensor<?x5xf32> {
  // expected-error @+1 {{result shape must be the ids shape followed by the hidden size 4}}
  %0 = dsc.embed %t, %i : (tensor<8x4xf32>, tensor<?xi64>) -> tensor<?x5xf32>
  return %0 : tensor<?x5xf32>
}

// -----

func.func @embed_type(%t: tensor<8x4xf32>, %i: tensor<?xi64>) -> tensor<?x4xbf16> {
  // expected-error @+1 {{result element type must match the table's (or be f32 for a bf16 table)}}
  %0 = dsc.embed %t, %i : (tensor<8x4xf32>, tensor<?xi64>) -> tensor<?x4xbf16>
  return %0 : tensor<?x4xbf16>
}

// -----

func.func @rms_norm_scalar(%x: tensor<f32>, %w: tensor<4xf32>) -> tensor<f32> {
  // expected-error @+1 {{input must have rank >= 1}}
  %0 = dsc.rms_norm %x, %w {epsilon = 1.0e-06 : f64} : (tensor<f32>, tensor<4xf32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @rms_norm_weight(%x: tensor<?x8xf32>, %w: tensor<4xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{weight must be a vector of the input's last dimension size 8}}
  %0 = dsc.rms_norm %x, %w {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<4xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @rms_norm_result(%x: tensor<?x8xf32>, %w: tensor<8xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{result type must equal the input type}}
  %0 = dsc.rms_norm %x, %w {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

func.func @rms_norm_eps(%x: tensor<?x8xf32>, %w: tensor<8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{epsilon must be positive}}
  %0 = dsc.rms_norm %x, %w {epsilon = 0.0 : f64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @rope_rank(%x: tensor<?x?xf32>, %p: tensor<?x?xi64>) -> tensor<?x?xf32> {
  // expected-error @+1 {{input rank must exceed the positions rank}}
  %0 = dsc.rope %x, %p {theta = 1.0e4 : f64} : (tensor<?x?xf32>, tensor<?x?xi64>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

func.func @rope_positions(%x: tensor<2x3x8xf32>, %p: tensor<2x4xi64>) -> tensor<2x3x8xf32> {
  // expected-error @+1 {{each positions dimension must be 1 or match the input's leading dimension}}
  %0 = dsc.rope %x, %p {theta = 1.0e4 : f64} : (tensor<2x3x8xf32>, tensor<2x4xi64>) -> tensor<2x3x8xf32>
  return %0 : tensor<2x3x8xf32>
}

// -----

func.func @rope_odd(%x: tensor<?x?x7xf32>, %p: tensor<?x?xi64>) -> tensor<?x?x7xf32> {
  // expected-error @+1 {{rotated dimension must be static and even, got 7}}
  %0 = dsc.rope %x, %p {theta = 1.0e4 : f64} : (tensor<?x?x7xf32>, tensor<?x?xi64>) -> tensor<?x?x7xf32>
  return %0 : tensor<?x?x7xf32>
}

// -----

func.func @rope_result(%x: tensor<?x?x8xf32>, %p: tensor<?x?xi64>) -> tensor<?x?x8xbf16> {
  // expected-error @+1 {{result type must equal the input type}}
  %0 = dsc.rope %x, %p {theta = 1.0e4 : f64} : (tensor<?x?x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xbf16>
  return %0 : tensor<?x?x8xbf16>
}

// -----

func.func @rope_theta(%x: tensor<?x?x8xf32>, %p: tensor<?x?xi64>) -> tensor<?x?x8xf32> {
  // expected-error @+1 {{theta must be greater than 1}}
  %0 = dsc.rope %x, %p {theta = 1.0 : f64} : (tensor<?x?x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

func.func @rope_no_frequencies(%x: tensor<?x?x8xf32>, %p: tensor<?x?xi64>) -> tensor<?x?x8xf32> {
  // expected-error @+1 {{needs exactly one of theta and frequencies}}
  %0 = dsc.rope %x, %p : (tensor<?x?x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

func.func @rope_both(%x: tensor<?x?x8xf32>, %p: tensor<?x?xi64>, %f: tensor<4xf32>) -> tensor<?x?x8xf32> {
  // expected-error @+1 {{needs exactly one of theta and frequencies}}
  %0 = dsc.rope %x, %p frequencies %f {theta = 1.0e4 : f64} : (tensor<?x?x8xf32>, tensor<?x?xi64>, tensor<4xf32>) -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

func.func @rope_frequencies_size(%x: tensor<?x?x8xf32>, %p: tensor<?x?xi64>, %f: tensor<8xf32>) -> tensor<?x?x8xf32> {
  // expected-error @+1 {{frequencies must be [4] (half the rotated dimension), got 'tensor<8xf32>'}}
  %0 = dsc.rope %x, %p frequencies %f : (tensor<?x?x8xf32>, tensor<?x?xi64>, tensor<8xf32>) -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

func.func @rope_frequencies_yarn(%x: tensor<?x?x8xf32>, %p: tensor<?x?xi64>, %f: tensor<4xf32>) -> tensor<?x?x8xf32> {
  // expected-error @+1 {{yarn rescales theta's frequencies; a frequencies table already has it applied}}
  %0 = dsc.rope %x, %p frequencies %f {yarn = #dsc.yarn<factor = 4.0, original_max_position = 4096, beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 1.0>} : (tensor<?x?x8xf32>, tensor<?x?xi64>, tensor<4xf32>) -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

func.func @yarn_factor(%x: tensor<?x?x8xf32>, %p: tensor<?x?xi64>) -> tensor<?x?x8xf32> {
  // expected-error @+1 {{yarn factor must be >= 1, got 5.000000e-01}}
  %0 = dsc.rope %x, %p {theta = 1.0e4 : f64, yarn = #dsc.yarn<factor = 0.5, original_max_position = 4096, beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 1.0>} : (tensor<?x?x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

func.func @yarn_orig(%x: tensor<?x?x8xf32>, %p: tensor<?x?xi64>) -> tensor<?x?x8xf32> {
  // expected-error @+1 {{yarn original_max_position must be positive, got 0}}
  %0 = dsc.rope %x, %p {theta = 1.0e4 : f64, yarn = #dsc.yarn<factor = 4.0, original_max_position = 0, beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 1.0>} : (tensor<?x?x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

func.func @yarn_beta(%x: tensor<?x?x8xf32>, %p: tensor<?x?xi64>) -> tensor<?x?x8xf32> {
  // expected-error @+1 {{yarn beta_fast and beta_slow must be positive}}
  %0 = dsc.rope %x, %p {theta = 1.0e4 : f64, yarn = #dsc.yarn<factor = 4.0, original_max_position = 32, beta_fast = 0.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 1.0>} : (tensor<?x?x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

func.func @linear_weight_rank(%x: tensor<?x8xf32>, %w: tensor<8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{weight must be rank 2 [out, in], got rank 1}}
  %0 = dsc.linear %x, %w : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @linear_in(%x: tensor<?x8xf32>, %w: tensor<4x6xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{input's last dimension must equal the weight's in dimension 6}}
  %0 = dsc.linear %x, %w : (tensor<?x8xf32>, tensor<4x6xf32>) -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

func.func @linear_out(%x: tensor<?x8xf32>, %w: tensor<4x8xf32>) -> tensor<?x5xf32> {
  // expected-error @+1 {{result shape must be the input's leading dimensions followed by the weight's out dimension 4}}
  %0 = dsc.linear %x, %w : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x5xf32>
  return %0 : tensor<?x5xf32>
}

// -----

func.func @linear_elt(%x: tensor<?x8xf32>, %w: tensor<4x8xf32>) -> tensor<?x4xbf16> {
  // expected-error @+1 {{result element type must match the input's}}
  %0 = dsc.linear %x, %w : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x4xbf16>
  return %0 : tensor<?x4xbf16>
}

// -----

func.func @linear_fp8_no_scales(%x: tensor<?x8xf32>, %w: tensor<4x8xf8E4M3FN>) -> tensor<?x4xf32> {
  // expected-error @+1 {{f8E4M3FN weight requires block scales}}
  %0 = dsc.linear %x, %w : (tensor<?x8xf32>, tensor<4x8xf8E4M3FN>) -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

func.func @linear_block_no_scales(%x: tensor<?x8xf32>, %w: tensor<4x8xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{block_size given without scales}}
  %0 = dsc.linear %x, %w {block_size = array<i64: 2, 2>} : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

func.func @linear_scales_no_block(%x: tensor<?x8xf32>, %w: tensor<4x8xf8E4M3FN>, %s: tensor<1x1xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{scales require block_size = array<i64: rows, cols> with positive entries}}
  %0 = dsc.linear %x, %w scales %s : (tensor<?x8xf32>, tensor<4x8xf8E4M3FN>, tensor<1x1xf32>) -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

func.func @linear_scales_shape(%x: tensor<?x8xf32>, %w: tensor<4x8xf8E4M3FN>, %s: tensor<1x1xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{scales must have shape [2, 2] for the weight and block size}}
  %0 = dsc.linear %x, %w scales %s {block_size = array<i64: 2, 4>} : (tensor<?x8xf32>, tensor<4x8xf8E4M3FN>, tensor<1x1xf32>) -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

func.func @linear_scales_dynamic(%x: tensor<?x8xf32>, %w: tensor<?x8xf8E4M3FN>, %s: tensor<1x1xf32>) -> tensor<?x?xf32> {
  // expected-error @+1 {{a block-scaled weight must have a static shape}}
  %0 = dsc.linear %x, %w scales %s {block_size = array<i64: 2, 4>} : (tensor<?x8xf32>, tensor<?x8xf8E4M3FN>, tensor<1x1xf32>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

func.func @gate_rank(%x: tensor<?x?x8xf32>, %w: tensor<4x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>) {
  // expected-error @+1 {{input must be rank 2 [tokens, hidden]}}
  %0:2 = dsc.gate %x, %w {scoring = #dsc<scoring softmax>, topk_method = #dsc<topk_method greedy>, top_k = 2 : i64, n_group = 1 : i64, topk_group = 1 : i64, norm_topk_prob = false, routed_scaling_factor = 1.0 : f64} : (tensor<?x?x8xf32>, tensor<4x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  return %0#0, %0#1 : tensor<?x2xf32>, tensor<?x2xi64>
}

// -----

func.func @gate_weight(%x: tensor<?x8xf32>, %w: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>) {
  // expected-error @+1 {{weight must be a static [experts, hidden] matrix}}
  %0:2 = dsc.gate %x, %w {scoring = #dsc<scoring softmax>, topk_method = #dsc<topk_method greedy>, top_k = 2 : i64, n_group = 1 : i64, topk_group = 1 : i64, norm_topk_prob = false, routed_scaling_factor = 1.0 : f64} : (tensor<?x8xf32>, tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  return %0#0, %0#1 : tensor<?x2xf32>, tensor<?x2xi64>
}

// -----

func.func @gate_hidden(%x: tensor<?x6xf32>, %w: tensor<4x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>) {
  // expected-error @+1 {{input hidden size must equal the weight's 8}}
  %0:2 = dsc.gate %x, %w {scoring = #dsc<scoring softmax>, topk_method = #dsc<topk_method greedy>, top_k = 2 : i64, n_group = 1 : i64, topk_group = 1 : i64, norm_topk_prob = false, routed_scaling_factor = 1.0 : f64} : (tensor<?x6xf32>, tensor<4x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  return %0#0, %0#1 : tensor<?x2xf32>, tensor<?x2xi64>
}

// -----

func.func @gate_bias(%x: tensor<?x8xf32>, %w: tensor<4x8xf32>, %b: tensor<3xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>) {
  // expected-error @+1 {{bias must be a vector of 4 experts}}
  %0:2 = dsc.gate %x, %w bias %b {scoring = #dsc<scoring sigmoid>, topk_method = #dsc<topk_method noaux_tc>, top_k = 2 : i64, n_group = 2 : i64, topk_group = 1 : i64, norm_topk_prob = true, routed_scaling_factor = 1.0 : f64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<3xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  return %0#0, %0#1 : tensor<?x2xf32>, tensor<?x2xi64>
}

// -----

func.func @gate_groups(%x: tensor<?x8xf32>, %w: tensor<4x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>) {
  // expected-error @+1 {{n_group 3 must be positive and divide the expert count 4}}
  %0:2 = dsc.gate %x, %w {scoring = #dsc<scoring sigmoid>, topk_method = #dsc<topk_method noaux_tc>, top_k = 2 : i64, n_group = 3 : i64, topk_group = 1 : i64, norm_topk_prob = true, routed_scaling_factor = 1.0 : f64} : (tensor<?x8xf32>, tensor<4x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  return %0#0, %0#1 : tensor<?x2xf32>, tensor<?x2xi64>
}

// -----

func.func @gate_keep(%x: tensor<?x8xf32>, %w: tensor<4x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>) {
  // expected-error @+1 {{topk_group 3 must be in [1, 2]}}
  %0:2 = dsc.gate %x, %w {scoring = #dsc<scoring sigmoid>, topk_method = #dsc<topk_method noaux_tc>, top_k = 2 : i64, n_group = 2 : i64, topk_group = 3 : i64, norm_topk_prob = true, routed_scaling_factor = 1.0 : f64} : (tensor<?x8xf32>, tensor<4x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  return %0#0, %0#1 : tensor<?x2xf32>, tensor<?x2xi64>
}

// -----

func.func @gate_greedy_groups(%x: tensor<?x8xf32>, %w: tensor<4x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>) {
  // expected-error @+1 {{greedy routing does not limit groups; expected topk_group == n_group}}
  %0:2 = dsc.gate %x, %w {scoring = #dsc<scoring softmax>, topk_method = #dsc<topk_method greedy>, top_k = 2 : i64, n_group = 2 : i64, topk_group = 1 : i64, norm_topk_prob = false, routed_scaling_factor = 1.0 : f64} : (tensor<?x8xf32>, tensor<4x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  return %0#0, %0#1 : tensor<?x2xf32>, tensor<?x2xi64>
}

// -----

func.func @gate_topk(%x: tensor<?x8xf32>, %w: tensor<4x8xf32>) -> (tensor<?x3xf32>, tensor<?x3xi64>) {
  // expected-error @+1 {{top_k 3 must be in [1, 2] (the experts in the kept groups)}}
  %0:2 = dsc.gate %x, %w {scoring = #dsc<scoring sigmoid>, topk_method = #dsc<topk_method noaux_tc>, top_k = 3 : i64, n_group = 2 : i64, topk_group = 1 : i64, norm_topk_prob = true, routed_scaling_factor = 1.0 : f64} : (tensor<?x8xf32>, tensor<4x8xf32>) -> (tensor<?x3xf32>, tensor<?x3xi64>)
  return %0#0, %0#1 : tensor<?x3xf32>, tensor<?x3xi64>
}

// -----

func.func @gate_noaux_group_size(%x: tensor<?x8xf32>, %w: tensor<4x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>) {
  // expected-error @+1 {{noaux_tc scores groups by their top-2 experts; groups need at least 2 experts}}
  %0:2 = dsc.gate %x, %w {scoring = #dsc<scoring sigmoid>, topk_method = #dsc<topk_method noaux_tc>, top_k = 2 : i64, n_group = 4 : i64, topk_group = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 1.0 : f64} : (tensor<?x8xf32>, tensor<4x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  return %0#0, %0#1 : tensor<?x2xf32>, tensor<?x2xi64>
}

// -----

func.func @gate_scaling(%x: tensor<?x8xf32>, %w: tensor<4x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>) {
  // expected-error @+1 {{routed_scaling_factor must be positive}}
  %0:2 = dsc.gate %x, %w {scoring = #dsc<scoring softmax>, topk_method = #dsc<topk_method greedy>, top_k = 2 : i64, n_group = 1 : i64, topk_group = 1 : i64, norm_topk_prob = false, routed_scaling_factor = 0.0 : f64} : (tensor<?x8xf32>, tensor<4x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  return %0#0, %0#1 : tensor<?x2xf32>, tensor<?x2xi64>
}

// -----

func.func @gate_results(%x: tensor<?x8xf32>, %w: tensor<4x8xf32>) -> (tensor<?x3xf32>, tensor<?x3xi64>) {
  // expected-error @+1 {{results must have shape [tokens, 2]}}
  %0:2 = dsc.gate %x, %w {scoring = #dsc<scoring softmax>, topk_method = #dsc<topk_method greedy>, top_k = 2 : i64, n_group = 1 : i64, topk_group = 1 : i64, norm_topk_prob = false, routed_scaling_factor = 1.0 : f64} : (tensor<?x8xf32>, tensor<4x8xf32>) -> (tensor<?x3xf32>, tensor<?x3xi64>)
  return %0#0, %0#1 : tensor<?x3xf32>, tensor<?x3xi64>
}

// -----

func.func @swiglu_types(%g: tensor<?x8xf32>, %u: tensor<?x4xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{requires the same type for all operands and results}}
  %0 = "dsc.swiglu"(%g, %u) : (tensor<?x8xf32>, tensor<?x4xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @yarn_mscale(%x: tensor<?x?x8xf32>, %p: tensor<?x?xi64>) -> tensor<?x?x8xf32> {
  // expected-error @+1 {{yarn mscale and mscale_all_dim must be finite}}
  %0 = dsc.rope %x, %p {theta = 1.0e4 : f64, yarn = #dsc.yarn<factor = 4.0, original_max_position = 32, beta_fast = 32.0, beta_slow = 1.0, mscale = 0x7FF0000000000000, mscale_all_dim = 1.0>} : (tensor<?x?x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

func.func @linear_scales_rank(%x: tensor<?x8xf32>, %w: tensor<4x8xf8E4M3FN>, %s: tensor<2xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{scales must have shape [2, 2] for the weight and block size}}
  %0 = dsc.linear %x, %w scales %s {block_size = array<i64: 2, 4>} : (tensor<?x8xf32>, tensor<4x8xf8E4M3FN>, tensor<2xf32>) -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

func.func @moe_rank(%x: tensor<?x?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) -> tensor<?x?x8xf32> {
  // expected-error @+1 {{input must be rank 2 [tokens, hidden]}}
  %0 = dsc.moe %x, %w, %i experts(%g, %g, %d) : (tensor<?x?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

func.func @moe_up(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xf32>, %u: tensor<4x5x8xf32>, %d: tensor<4x8x6xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{gate_proj and up_proj must be equal static [experts, width, hidden] tensors}}
  %0 = dsc.moe %x, %w, %i experts(%g, %u, %d) : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf32>, tensor<4x5x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @moe_down(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xf32>, %d: tensor<4x6x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{down_proj must have shape [4, 8, 6]}}
  %0 = dsc.moe %x, %w, %i experts(%g, %g, %d) : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @moe_hidden(%x: tensor<?x7xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) -> tensor<?x7xf32> {
  // expected-error @+1 {{input hidden size must be 8}}
  %0 = dsc.moe %x, %w, %i experts(%g, %g, %d) : (tensor<?x7xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x7xf32>
  return %0 : tensor<?x7xf32>
}

// -----

func.func @moe_routing(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x3xi64>, %g: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{weights and indices must both be [tokens, top_k]}}
  %0 = dsc.moe %x, %w, %i experts(%g, %g, %d) : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x3xi64>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @moe_tokens(%x: tensor<3x8xf32>, %w: tensor<2x2xf32>, %i: tensor<2x2xi64>, %g: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) -> tensor<3x8xf32> {
  // expected-error @+1 {{weights must have one row per input token}}
  %0 = dsc.moe %x, %w, %i experts(%g, %g, %d) : (tensor<3x8xf32>, tensor<2x2xf32>, tensor<2x2xi64>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<3x8xf32>
  return %0 : tensor<3x8xf32>
}

// -----

func.func @moe_result(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) -> tensor<?x9xf32> {
  // expected-error @+1 {{result shape must equal the input shape}}
  %0 = dsc.moe %x, %w, %i experts(%g, %g, %d) : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x9xf32>
  return %0 : tensor<?x9xf32>
}

// -----

func.func @embed_dynamic(%t: tensor<?x4xf32>, %i: tensor<?xi64>) -> tensor<?x4xf32> {
  // expected-error @+1 {{table must have a static shape}}
  %0 = dsc.embed %t, %i : (tensor<?x4xf32>, tensor<?xi64>) -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

func.func @mla_query_rank(%qn: tensor<?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x?x32xf32>, %kp: tensor<?x?x8xf32>, %w: tensor<128x32xf32>) -> tensor<?x?x4x16xf32> {
  // expected-error @+1 {{queries must be rank 4 [batch, seq, heads, width]}}
  %0 = dsc.mla %qn, %qp, %c, %kp, %w {scale = 0.25 : f64, form = #dsc<mla_form naive>} : (tensor<?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf32>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}

// -----

func.func @mla_latent_rank(%qn: tensor<?x?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x32xf32>, %kp: tensor<?x?x8xf32>, %w: tensor<128x32xf32>) -> tensor<?x?x4x16xf32> {
  // expected-error @+1 {{latent and k_pe must be rank 3 [batch, seq, width]}}
  %0 = dsc.mla %qn, %qp, %c, %kp, %w {scale = 0.25 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf32>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}

// -----

func.func @mla_kvb_dynamic(%qn: tensor<?x?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x?x32xf32>, %kp: tensor<?x?x8xf32>, %w: tensor<?x32xf32>) -> tensor<?x?x4x16xf32> {
  // expected-error @+1 {{kv_b must be a static [heads * (dn + dv), latent] matrix}}
  %0 = dsc.mla %qn, %qp, %c, %kp, %w {scale = 0.25 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<?x32xf32>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}

// -----

func.func @mla_kpe_width(%qn: tensor<?x?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x?x32xf32>, %kp: tensor<?x?x6xf32>, %w: tensor<128x32xf32>) -> tensor<?x?x4x16xf32> {
  // expected-error @+1 {{k_pe width must be the rope width 8}}
  %0 = dsc.mla %qn, %qp, %c, %kp, %w {scale = 0.25 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x6xf32>, tensor<128x32xf32>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}

// -----

func.func @mla_kvb_shape(%qn: tensor<?x?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x?x32xf32>, %kp: tensor<?x?x8xf32>, %w: tensor<96x32xf32>) -> tensor<?x?x4x16xf32> {
  // expected-error @+1 {{kv_b must have shape [128, 32] (heads * (dn + dv), latent width)}}
  %0 = dsc.mla %qn, %qp, %c, %kp, %w {scale = 0.25 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<96x32xf32>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}

// -----

func.func @mla_result(%qn: tensor<?x?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x?x32xf32>, %kp: tensor<?x?x8xf32>, %w: tensor<128x32xf32>) -> tensor<?x?x16xf32> {
  // expected-error @+1 {{result must be [batch, seq, heads, dv] with a static dv}}
  %0 = dsc.mla %qn, %qp, %c, %kp, %w {scale = 0.25 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf32>) -> tensor<?x?x16xf32>
  return %0 : tensor<?x?x16xf32>
}

// -----

func.func @mla_fp8_no_scales(%qn: tensor<?x?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x?x32xf32>, %kp: tensor<?x?x8xf32>, %w: tensor<128x32xf8E4M3FN>) -> tensor<?x?x4x16xf32> {
  // expected-error @+1 {{f8E4M3FN kv_b requires block scales}}
  %0 = dsc.mla %qn, %qp, %c, %kp, %w {scale = 0.25 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf8E4M3FN>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}

// -----

func.func @mla_scale(%qn: tensor<?x?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x?x32xf32>, %kp: tensor<?x?x8xf32>, %w: tensor<128x32xf32>) -> tensor<?x?x4x16xf32> {
  // expected-error @+1 {{scale must be positive}}
  %0 = dsc.mla %qn, %qp, %c, %kp, %w {scale = 0.0 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf32>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}

// -----

func.func @mla_mask_shape(%qn: tensor<2x5x4x16xf32>, %qp: tensor<2x5x4x8xf32>, %c: tensor<2x5x32xf32>, %kp: tensor<2x5x8xf32>, %w: tensor<128x32xf32>, %m: tensor<2x4x5x5xf32>) -> tensor<2x5x4x16xf32> {
  // expected-error @+1 {{mask must be [batch, 1, seq, seq]}}
  %0 = dsc.mla %qn, %qp, %c, %kp, %w mask %m {scale = 0.25 : f64, form = #dsc<mla_form naive>} : (tensor<2x5x4x16xf32>, tensor<2x5x4x8xf32>, tensor<2x5x32xf32>, tensor<2x5x8xf32>, tensor<128x32xf32>, tensor<2x4x5x5xf32>) -> tensor<2x5x4x16xf32>
  return %0 : tensor<2x5x4x16xf32>
}

// -----

func.func @mla_scales_shape(%qn: tensor<?x?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x?x32xf32>, %kp: tensor<?x?x8xf32>, %w: tensor<128x32xf8E4M3FN>, %s: tensor<1x1xf32>) -> tensor<?x?x4x16xf32> {
  // expected-error @+1 {{scales must have shape [8, 2]}}
  %0 = dsc.mla %qn, %qp, %c, %kp, %w scales %s {scale = 0.25 : f64, form = #dsc<mla_form naive>, block_size = array<i64: 16, 16>} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf8E4M3FN>, tensor<1x1xf32>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}

// -----

func.func @mla_decode_cache_width(%qn: tensor<?x1x4x16xf32>, %qp: tensor<?x1x4x8xf32>, %c: tensor<?x1x32xf32>, %kp: tensor<?x1x8xf32>, %w: tensor<128x32xf32>, %pages: tensor<?x64x32xf32>, %table: tensor<?x?xi64>, %past: tensor<?xi64>) -> tensor<?x1x4x16xf32> {
  // expected-error @+1 {{cache must be [pages, page_size, 40] (latent + rope width) with a static page size}}
  %0 = dsc.mla_decode %qn, %qp, %c, %kp, %w cache(%pages, %table, %past) {scale = 0.25 : f64} : (tensor<?x1x4x16xf32>, tensor<?x1x4x8xf32>, tensor<?x1x32xf32>, tensor<?x1x8xf32>, tensor<128x32xf32>, tensor<?x64x32xf32>, tensor<?x?xi64>, tensor<?xi64>) -> tensor<?x1x4x16xf32>
  return %0 : tensor<?x1x4x16xf32>
}

// -----

func.func @mla_decode_table_rank(%qn: tensor<?x1x4x16xf32>, %qp: tensor<?x1x4x8xf32>, %c: tensor<?x1x32xf32>, %kp: tensor<?x1x8xf32>, %w: tensor<128x32xf32>, %pages: tensor<?x64x40xf32>, %table: tensor<?xi64>, %past: tensor<?xi64>) -> tensor<?x1x4x16xf32> {
  // expected-error @+1 {{block_table must be [batch, max_pages] and past [batch]}}
  %0 = dsc.mla_decode %qn, %qp, %c, %kp, %w cache(%pages, %table, %past) {scale = 0.25 : f64} : (tensor<?x1x4x16xf32>, tensor<?x1x4x8xf32>, tensor<?x1x32xf32>, tensor<?x1x8xf32>, tensor<128x32xf32>, tensor<?x64x40xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x1x4x16xf32>
  return %0 : tensor<?x1x4x16xf32>
}

// -----

func.func @mla_decode_batch(%qn: tensor<2x1x4x16xf32>, %qp: tensor<2x1x4x8xf32>, %c: tensor<2x1x32xf32>, %kp: tensor<2x1x8xf32>, %w: tensor<128x32xf32>, %pages: tensor<?x64x40xf32>, %table: tensor<3x?xi64>, %past: tensor<2xi64>) -> tensor<2x1x4x16xf32> {
  // expected-error @+1 {{block_table and past must have one row per sequence of the batch}}
  %0 = dsc.mla_decode %qn, %qp, %c, %kp, %w cache(%pages, %table, %past) {scale = 0.25 : f64} : (tensor<2x1x4x16xf32>, tensor<2x1x4x8xf32>, tensor<2x1x32xf32>, tensor<2x1x8xf32>, tensor<128x32xf32>, tensor<?x64x40xf32>, tensor<3x?xi64>, tensor<2xi64>) -> tensor<2x1x4x16xf32>
  return %0 : tensor<2x1x4x16xf32>
}

// -----

func.func @mla_decode_shared_checks(%qn: tensor<?x1x4x16xf32>, %qp: tensor<?x1x4x8xf32>, %c: tensor<?x1x32xf32>, %kp: tensor<?x1x6xf32>, %w: tensor<128x32xf32>, %pages: tensor<?x64x38xf32>, %table: tensor<?x?xi64>, %past: tensor<?xi64>) -> tensor<?x1x4x16xf32> {
  // expected-error @+1 {{k_pe width must be the rope width 8}}
  %0 = dsc.mla_decode %qn, %qp, %c, %kp, %w cache(%pages, %table, %past) {scale = 0.25 : f64} : (tensor<?x1x4x16xf32>, tensor<?x1x4x8xf32>, tensor<?x1x32xf32>, tensor<?x1x6xf32>, tensor<128x32xf32>, tensor<?x64x38xf32>, tensor<?x?xi64>, tensor<?xi64>) -> tensor<?x1x4x16xf32>
  return %0 : tensor<?x1x4x16xf32>
}

// -----

func.func @moe_shared_count(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>, %sg: tensor<6x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{shared takes gate, up and down, then their scales when FP8 (3 or 6 operands), not 2}}
  %0 = dsc.moe %x, %w, %i experts(%g, %g, %d) shared(%sg, %sg) : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>, tensor<6x8xf32>, tensor<6x8xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @moe_shared_down_shape(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>, %sg: tensor<6x8xf32>, %sd: tensor<8x5xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{shared down must have shape [8, 6]}}
  %0 = dsc.moe %x, %w, %i experts(%g, %g, %d) shared(%sg, %sg, %sd) : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>, tensor<6x8xf32>, tensor<6x8xf32>, tensor<8x5xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @moe_shared_fp8_without_scales(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>, %sg: tensor<6x8xf8E4M3FN>, %sd: tensor<8x6xf8E4M3FN>) -> tensor<?x8xf32> {
  // expected-error @+1 {{FP8 shared experts (all three matrices) need their three block scales, and only FP8 ones have scales}}
  %0 = dsc.moe %x, %w, %i experts(%g, %g, %d) shared(%sg, %sg, %sd) : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>, tensor<6x8xf8E4M3FN>, tensor<6x8xf8E4M3FN>, tensor<8x6xf8E4M3FN>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @moe_shared_scales_shape(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>, %sg: tensor<6x8xf8E4M3FN>, %sd: tensor<8x6xf8E4M3FN>, %s: tensor<2x2xf32>, %bad: tensor<3x2xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{shared scales 2 must be f32 [2, 2]}}
  %0 = dsc.moe %x, %w, %i experts(%g, %g, %d) shared(%sg, %sg, %sd, %s, %s, %bad) {shared_block_size = array<i64: 4, 4>} : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>, tensor<6x8xf8E4M3FN>, tensor<6x8xf8E4M3FN>, tensor<8x6xf8E4M3FN>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<3x2xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @add_rms_norm_types(%x: tensor<?x?x8xf32>, %r: tensor<?x8xf32>, %w: tensor<8xf32>) -> tensor<?x?x8xf32> {
  // expected-error @+1 {{input, residual and both results must have one type}}
  %s, %n = dsc.add_rms_norm %x, %r, %w {epsilon = 1.0e-06 : f64} : (tensor<?x?x8xf32>, tensor<?x8xf32>, tensor<8xf32>) -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>)
  return %n : tensor<?x?x8xf32>
}

// -----

func.func @add_rms_norm_epsilon(%x: tensor<?x?x8xf32>, %w: tensor<8xf32>) -> tensor<?x?x8xf32> {
  // expected-error @+1 {{epsilon must be positive}}
  %s, %n = dsc.add_rms_norm %x, %x, %w {epsilon = 0.0 : f64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<8xf32>) -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>)
  return %n : tensor<?x?x8xf32>
}

// -----

func.func @moe_fp8_without_scales(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xf8E4M3FN>, %d: tensor<4x8x6xf8E4M3FN>) -> tensor<?x8xf32> {
  // expected-error @+1 {{FP8 experts (all three stacks) need their three block scales, and only FP8 ones have scales}}
  %0 = dsc.moe %x, %w, %i experts(%g, %g, %d) : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf8E4M3FN>, tensor<4x6x8xf8E4M3FN>, tensor<4x8x6xf8E4M3FN>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @moe_scales_without_fp8(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>, %s: tensor<4x2x2xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{FP8 experts (all three stacks) need their three block scales, and only FP8 ones have scales}}
  %0 = dsc.moe %x, %w, %i experts(%g, %g, %d) scales(%s, %s, %s) {expert_block_size = array<i64: 4, 4>} : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>, tensor<4x2x2xf32>, tensor<4x2x2xf32>, tensor<4x2x2xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @moe_scales_count(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xf8E4M3FN>, %d: tensor<4x8x6xf8E4M3FN>, %s: tensor<4x2x2xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{scales takes the gate, up and down block scales (3 operands), not 2}}
  %0 = dsc.moe %x, %w, %i experts(%g, %g, %d) scales(%s, %s) {expert_block_size = array<i64: 4, 4>} : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf8E4M3FN>, tensor<4x6x8xf8E4M3FN>, tensor<4x8x6xf8E4M3FN>, tensor<4x2x2xf32>, tensor<4x2x2xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @moe_scales_block(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xf8E4M3FN>, %d: tensor<4x8x6xf8E4M3FN>, %s: tensor<4x2x2xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{expert scales require expert_block_size = array<i64: rows, cols> with positive entries}}
  %0 = dsc.moe %x, %w, %i experts(%g, %g, %d) scales(%s, %s, %s) : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf8E4M3FN>, tensor<4x6x8xf8E4M3FN>, tensor<4x8x6xf8E4M3FN>, tensor<4x2x2xf32>, tensor<4x2x2xf32>, tensor<4x2x2xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @moe_scales_shape(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xf8E4M3FN>, %d: tensor<4x8x6xf8E4M3FN>, %s: tensor<4x2x2xf32>, %t: tensor<4x3x2xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{expert scales 1 must be f32 [4, 2, 2]}}
  %0 = dsc.moe %x, %w, %i experts(%g, %g, %d) scales(%s, %t, %s) {expert_block_size = array<i64: 4, 4>} : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf8E4M3FN>, tensor<4x6x8xf8E4M3FN>, tensor<4x8x6xf8E4M3FN>, tensor<4x2x2xf32>, tensor<4x3x2xf32>, tensor<4x2x2xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @moe_scales_mixed(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xf8E4M3FN>, %d: tensor<4x8x6xbf16>, %s: tensor<4x2x2xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{FP8 experts (all three stacks) need their three block scales, and only FP8 ones have scales}}
  %0 = dsc.moe %x, %w, %i experts(%g, %g, %d) scales(%s, %s, %s) {expert_block_size = array<i64: 4, 4>} : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf8E4M3FN>, tensor<4x6x8xf8E4M3FN>, tensor<4x8x6xbf16>, tensor<4x2x2xf32>, tensor<4x2x2xf32>, tensor<4x2x2xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @moe_block_without_scales(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{expert_block_size without expert scales}}
  %0 = dsc.moe %x, %w, %i experts(%g, %g, %d) {expert_block_size = array<i64: 4, 4>} : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @topk_k(%x: tensor<?x4xf32>) -> tensor<?x5xi64> {
  // expected-error @+1 {{k must be in [1, 4], got 5}}
  %v, %i = dsc.topk %x {k = 5 : i64} : (tensor<?x4xf32>) -> (tensor<?x5xf32>, tensor<?x5xi64>)
  return %i : tensor<?x5xi64>
}

// -----

func.func @topk_shape(%x: tensor<?x4xf32>) -> tensor<?x3xi64> {
  // expected-error @+1 {{results must be the input shape with k as the last dimension}}
  %v, %i = dsc.topk %x {k = 2 : i64} : (tensor<?x4xf32>) -> (tensor<?x2xf32>, tensor<?x3xi64>)
  return %i : tensor<?x3xi64>
}

// -----

func.func @topk_values(%x: tensor<?x4xf32>) -> tensor<?x2xf16> {
  // expected-error @+1 {{values must have the input's element type}}
  %v, %i = dsc.topk %x {k = 2 : i64} : (tensor<?x4xf32>) -> (tensor<?x2xf16>, tensor<?x2xi64>)
  return %v : tensor<?x2xf16>
}

// -----

func.func @paged_mla_decode_mixed(%q: tensor<?x4x40xbf16>, %e: tensor<?x40xbf16>, %pages: memref<?x64x40xbf16>, %table: tensor<?x?xi32>, %lens: tensor<?xi32>, %init: tensor<?x4x32xbf16>) -> tensor<?x4x32xbf16> {
  // expected-error @+1 {{operands must be all ranked tensors or all memrefs}}
  %0 = dsc.paged_mla_decode %q, %e cache(%pages, %table, %lens) outs(%init) {scale = 0.25 : f64} : tensor<?x4x40xbf16>, tensor<?x40xbf16>, memref<?x64x40xbf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?x4x32xbf16> -> tensor<?x4x32xbf16>
  return %0 : tensor<?x4x32xbf16>
}

// -----

func.func @paged_mla_decode_no_result(%q: tensor<?x4x40xbf16>, %e: tensor<?x40xbf16>, %pages: tensor<?x64x40xbf16>, %table: tensor<?x?xi32>, %lens: tensor<?xi32>, %init: tensor<?x4x32xbf16>) {
  // expected-error @+1 {{on tensors the results are the inits' types; on buffers there are none}}
  dsc.paged_mla_decode %q, %e cache(%pages, %table, %lens) outs(%init) {scale = 0.25 : f64} : tensor<?x4x40xbf16>, tensor<?x40xbf16>, tensor<?x64x40xbf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?x4x32xbf16>
  return
}

// -----

func.func @paged_mla_decode_f32(%q: tensor<?x4x40xf32>, %e: tensor<?x40xbf16>, %pages: tensor<?x64x40xbf16>, %table: tensor<?x?xi32>, %lens: tensor<?xi32>, %init: tensor<?x4x32xbf16>) -> tensor<?x4x32xbf16> {
  // expected-error @+1 {{queries, entries, cache and init must be bf16}}
  %0 = dsc.paged_mla_decode %q, %e cache(%pages, %table, %lens) outs(%init) {scale = 0.25 : f64} : tensor<?x4x40xf32>, tensor<?x40xbf16>, tensor<?x64x40xbf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?x4x32xbf16> -> tensor<?x4x32xbf16>
  return %0 : tensor<?x4x32xbf16>
}

// -----

func.func @paged_mla_decode_table(%q: tensor<?x4x40xbf16>, %e: tensor<?x40xbf16>, %pages: tensor<?x64x40xbf16>, %table: tensor<?x?xi64>, %lens: tensor<?xi32>, %init: tensor<?x4x32xbf16>) -> tensor<?x4x32xbf16> {
  // expected-error @+1 {{block_table and lengths must be i32}}
  %0 = dsc.paged_mla_decode %q, %e cache(%pages, %table, %lens) outs(%init) {scale = 0.25 : f64} : tensor<?x4x40xbf16>, tensor<?x40xbf16>, tensor<?x64x40xbf16>, tensor<?x?xi64>, tensor<?xi32>, tensor<?x4x32xbf16> -> tensor<?x4x32xbf16>
  return %0 : tensor<?x4x32xbf16>
}

// -----

func.func @paged_mla_decode_width(%q: tensor<?x4x40xbf16>, %e: tensor<?x40xbf16>, %pages: tensor<?x64x48xbf16>, %table: tensor<?x?xi32>, %lens: tensor<?xi32>, %init: tensor<?x4x32xbf16>) -> tensor<?x4x32xbf16> {
  // expected-error @+1 {{entries and cache rows must be D = 40 wide, as the queries}}
  %0 = dsc.paged_mla_decode %q, %e cache(%pages, %table, %lens) outs(%init) {scale = 0.25 : f64} : tensor<?x4x40xbf16>, tensor<?x40xbf16>, tensor<?x64x48xbf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?x4x32xbf16> -> tensor<?x4x32xbf16>
  return %0 : tensor<?x4x32xbf16>
}

// -----

func.func @paged_mla_decode_value_width(%q: tensor<?x4x40xbf16>, %e: tensor<?x40xbf16>, %pages: tensor<?x64x40xbf16>, %table: tensor<?x?xi32>, %lens: tensor<?xi32>, %init: tensor<?x4x40xbf16>) -> tensor<?x4x40xbf16> {
  // expected-error @+1 {{the value width C must be below the key width D}}
  %0 = dsc.paged_mla_decode %q, %e cache(%pages, %table, %lens) outs(%init) {scale = 0.25 : f64} : tensor<?x4x40xbf16>, tensor<?x40xbf16>, tensor<?x64x40xbf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?x4x40xbf16> -> tensor<?x4x40xbf16>
  return %0 : tensor<?x4x40xbf16>
}

// -----

func.func @paged_mla_decode_rows(%q: tensor<3x4x40xbf16>, %e: tensor<2x40xbf16>, %pages: tensor<?x64x40xbf16>, %table: tensor<?x?xi32>, %lens: tensor<?xi32>, %init: tensor<?x4x32xbf16>) -> tensor<?x4x32xbf16> {
  // expected-error @+1 {{entries, block_table, lengths and init must have the queries' R rows}}
  %0 = dsc.paged_mla_decode %q, %e cache(%pages, %table, %lens) outs(%init) {scale = 0.25 : f64} : tensor<3x4x40xbf16>, tensor<2x40xbf16>, tensor<?x64x40xbf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?x4x32xbf16> -> tensor<?x4x32xbf16>
  return %0 : tensor<?x4x32xbf16>
}

// -----

func.func @paged_mla_decode_heads(%q: tensor<?x4x40xbf16>, %e: tensor<?x40xbf16>, %pages: tensor<?x64x40xbf16>, %table: tensor<?x?xi32>, %lens: tensor<?xi32>, %init: tensor<?x8x32xbf16>) -> tensor<?x8x32xbf16> {
  // expected-error @+1 {{init must have the queries' heads}}
  %0 = dsc.paged_mla_decode %q, %e cache(%pages, %table, %lens) outs(%init) {scale = 0.25 : f64} : tensor<?x4x40xbf16>, tensor<?x40xbf16>, tensor<?x64x40xbf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?x8x32xbf16> -> tensor<?x8x32xbf16>
  return %0 : tensor<?x8x32xbf16>
}

// -----

func.func @paged_mla_decode_rank(%q: tensor<?x4x40xbf16>, %e: tensor<?x40xbf16>, %pages: tensor<?x40xbf16>, %table: tensor<?x?xi32>, %lens: tensor<?xi32>, %init: tensor<?x4x32xbf16>) -> tensor<?x4x32xbf16> {
  // expected-error @+1 {{expects queries [R, H, D], entries [R, D], cache [pages, page_size, D], block_table [R, max_pages], lengths [R] and init [R, H, C]}}
  %0 = dsc.paged_mla_decode %q, %e cache(%pages, %table, %lens) outs(%init) {scale = 0.25 : f64} : tensor<?x4x40xbf16>, tensor<?x40xbf16>, tensor<?x40xbf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?x4x32xbf16> -> tensor<?x4x32xbf16>
  return %0 : tensor<?x4x32xbf16>
}

// -----

func.func @causal_mla_prefill_mixed(%q: tensor<?x?x4x24xbf16>, %kv: memref<?x?x4x32xbf16>, %kr: tensor<?x?x8xbf16>, %init: tensor<?x?x4x16xbf16>) -> tensor<?x?x4x16xbf16> {
  // expected-error @+1 {{operands must be all ranked tensors or all memrefs}}
  %0 = dsc.causal_mla_prefill %q, %kv, %kr outs(%init) {scale = 0.25 : f64} : tensor<?x?x4x24xbf16>, memref<?x?x4x32xbf16>, tensor<?x?x8xbf16>, tensor<?x?x4x16xbf16> -> tensor<?x?x4x16xbf16>
  return %0 : tensor<?x?x4x16xbf16>
}

// -----

func.func @causal_mla_prefill_f32(%q: tensor<?x?x4x24xf32>, %kv: tensor<?x?x4x32xbf16>, %kr: tensor<?x?x8xbf16>, %init: tensor<?x?x4x16xbf16>) -> tensor<?x?x4x16xbf16> {
  // expected-error @+1 {{queries, kv, rope_keys and init must be bf16}}
  %0 = dsc.causal_mla_prefill %q, %kv, %kr outs(%init) {scale = 0.25 : f64} : tensor<?x?x4x24xf32>, tensor<?x?x4x32xbf16>, tensor<?x?x8xbf16>, tensor<?x?x4x16xbf16> -> tensor<?x?x4x16xbf16>
  return %0 : tensor<?x?x4x16xbf16>
}

// -----

func.func @causal_mla_prefill_rank(%q: tensor<?x4x24xbf16>, %kv: tensor<?x?x4x32xbf16>, %kr: tensor<?x?x8xbf16>, %init: tensor<?x?x4x16xbf16>) -> tensor<?x?x4x16xbf16> {
  // expected-error @+1 {{expects queries [B, S, H, dn + dr], kv [B, S, H, dn + dv], rope_keys [B, S, dr] and init [B, S, H, dv]}}
  %0 = dsc.causal_mla_prefill %q, %kv, %kr outs(%init) {scale = 0.25 : f64} : tensor<?x4x24xbf16>, tensor<?x?x4x32xbf16>, tensor<?x?x8xbf16>, tensor<?x?x4x16xbf16> -> tensor<?x?x4x16xbf16>
  return %0 : tensor<?x?x4x16xbf16>
}

// -----

func.func @causal_mla_prefill_widths(%q: tensor<?x?x4x24xbf16>, %kv: tensor<?x?x4x40xbf16>, %kr: tensor<?x?x8xbf16>, %init: tensor<?x?x4x16xbf16>) -> tensor<?x?x4x16xbf16> {
  // expected-error @+1 {{kv rows must be dn + dv = 16 + 16 wide (dn from queries of 24 less rope keys of 8), not 40}}
  %0 = dsc.causal_mla_prefill %q, %kv, %kr outs(%init) {scale = 0.25 : f64} : tensor<?x?x4x24xbf16>, tensor<?x?x4x40xbf16>, tensor<?x?x8xbf16>, tensor<?x?x4x16xbf16> -> tensor<?x?x4x16xbf16>
  return %0 : tensor<?x?x4x16xbf16>
}

// -----

func.func @causal_mla_prefill_dynamic_width(%q: tensor<?x?x4x?xbf16>, %kv: tensor<?x?x4x32xbf16>, %kr: tensor<?x?x8xbf16>, %init: tensor<?x?x4x16xbf16>) -> tensor<?x?x4x16xbf16> {
  // expected-error @+1 {{the head widths must be static}}
  %0 = dsc.causal_mla_prefill %q, %kv, %kr outs(%init) {scale = 0.25 : f64} : tensor<?x?x4x?xbf16>, tensor<?x?x4x32xbf16>, tensor<?x?x8xbf16>, tensor<?x?x4x16xbf16> -> tensor<?x?x4x16xbf16>
  return %0 : tensor<?x?x4x16xbf16>
}

// -----

func.func @causal_mla_prefill_heads(%q: tensor<?x?x4x24xbf16>, %kv: tensor<?x?x4x32xbf16>, %kr: tensor<?x?x8xbf16>, %init: tensor<?x?x2x16xbf16>) -> tensor<?x?x2x16xbf16> {
  // expected-error @+1 {{queries, kv, rope_keys and init must agree on B, S (and H)}}
  %0 = dsc.causal_mla_prefill %q, %kv, %kr outs(%init) {scale = 0.25 : f64} : tensor<?x?x4x24xbf16>, tensor<?x?x4x32xbf16>, tensor<?x?x8xbf16>, tensor<?x?x2x16xbf16> -> tensor<?x?x2x16xbf16>
  return %0 : tensor<?x?x2x16xbf16>
}

// -----

func.func @causal_mla_prefill_tokens(%q: tensor<2x5x4x24xbf16>, %kv: tensor<2x5x4x32xbf16>, %kr: tensor<2x6x8xbf16>, %init: tensor<2x5x4x16xbf16>) -> tensor<2x5x4x16xbf16> {
  // expected-error @+1 {{queries, kv, rope_keys and init must agree on B, S (and H)}}
  %0 = dsc.causal_mla_prefill %q, %kv, %kr outs(%init) {scale = 0.25 : f64} : tensor<2x5x4x24xbf16>, tensor<2x5x4x32xbf16>, tensor<2x6x8xbf16>, tensor<2x5x4x16xbf16> -> tensor<2x5x4x16xbf16>
  return %0 : tensor<2x5x4x16xbf16>
}

// -----

func.func @causal_mla_prefill_no_result(%q: tensor<?x?x4x24xbf16>, %kv: tensor<?x?x4x32xbf16>, %kr: tensor<?x?x8xbf16>, %init: tensor<?x?x4x16xbf16>) {
  // expected-error @+1 {{on tensors the results are the inits' types; on buffers there are none}}
  dsc.causal_mla_prefill %q, %kv, %kr outs(%init) {scale = 0.25 : f64} : tensor<?x?x4x24xbf16>, tensor<?x?x4x32xbf16>, tensor<?x?x8xbf16>, tensor<?x?x4x16xbf16>
  return
}

// -----

func.func @causal_mla_prefill_scale(%q: tensor<?x?x4x24xbf16>, %kv: tensor<?x?x4x32xbf16>, %kr: tensor<?x?x8xbf16>, %init: tensor<?x?x4x16xbf16>) -> tensor<?x?x4x16xbf16> {
  // expected-error @+1 {{scale must be positive}}
  %0 = dsc.causal_mla_prefill %q, %kv, %kr outs(%init) {scale = 0.0 : f64} : tensor<?x?x4x24xbf16>, tensor<?x?x4x32xbf16>, tensor<?x?x8xbf16>, tensor<?x?x4x16xbf16> -> tensor<?x?x4x16xbf16>
  return %0 : tensor<?x?x4x16xbf16>
}

// -----

func.func @causal_mla_prefill_no_heads(%q: tensor<?x?x0x24xbf16>, %kv: tensor<?x?x0x32xbf16>, %kr: tensor<?x?x8xbf16>, %init: tensor<?x?x0x16xbf16>) -> tensor<?x?x0x16xbf16> {
  // expected-error @+1 {{needs at least one head}}
  %0 = dsc.causal_mla_prefill %q, %kv, %kr outs(%init) {scale = 0.25 : f64} : tensor<?x?x0x24xbf16>, tensor<?x?x0x32xbf16>, tensor<?x?x8xbf16>, tensor<?x?x0x16xbf16> -> tensor<?x?x0x16xbf16>
  return %0 : tensor<?x?x0x16xbf16>
}

// -----

func.func @paged_mla_decode_scale(%q: tensor<?x4x40xbf16>, %e: tensor<?x40xbf16>, %pages: tensor<?x64x40xbf16>, %table: tensor<?x?xi32>, %lens: tensor<?xi32>, %init: tensor<?x4x32xbf16>) -> tensor<?x4x32xbf16> {
  // expected-error @+1 {{scale must be positive}}
  %0 = dsc.paged_mla_decode %q, %e cache(%pages, %table, %lens) outs(%init) {scale = -0.25 : f64} : tensor<?x4x40xbf16>, tensor<?x40xbf16>, tensor<?x64x40xbf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?x4x32xbf16> -> tensor<?x4x32xbf16>
  return %0 : tensor<?x4x32xbf16>
}

// -----

func.func @noaux_tc_route_mixed(%l: tensor<?x16xf32>, %b: memref<16xf32>, %i: tensor<?x4xi32>, %w: tensor<?x4xf32>) -> (tensor<?x4xi32>, tensor<?x4xf32>) {
  // expected-error @+1 {{operands must be all ranked tensors or all memrefs}}
  %0:2 = dsc.noaux_tc_route %l, %b outs(%i, %w) {n_group = 4 : i64, topk_group = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 2.5 : f64} : tensor<?x16xf32>, memref<16xf32>, tensor<?x4xi32>, tensor<?x4xf32> -> tensor<?x4xi32>, tensor<?x4xf32>
  return %0#0, %0#1 : tensor<?x4xi32>, tensor<?x4xf32>
}

// -----

func.func @noaux_tc_route_types(%l: tensor<?x16xf32>, %b: tensor<16xf32>, %i: tensor<?x4xi64>, %w: tensor<?x4xf32>) -> (tensor<?x4xi64>, tensor<?x4xf32>) {
  // expected-error @+1 {{logits, bias and weights must be f32, ids i32}}
  %0:2 = dsc.noaux_tc_route %l, %b outs(%i, %w) {n_group = 4 : i64, topk_group = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 2.5 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<?x4xi64>, tensor<?x4xf32> -> tensor<?x4xi64>, tensor<?x4xf32>
  return %0#0, %0#1 : tensor<?x4xi64>, tensor<?x4xf32>
}

// -----

func.func @noaux_tc_route_bias(%l: tensor<?x16xf32>, %b: tensor<8xf32>, %i: tensor<?x4xi32>, %w: tensor<?x4xf32>) -> (tensor<?x4xi32>, tensor<?x4xf32>) {
  // expected-error @+1 {{bias must have the logits' 16 experts}}
  %0:2 = dsc.noaux_tc_route %l, %b outs(%i, %w) {n_group = 4 : i64, topk_group = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 2.5 : f64} : tensor<?x16xf32>, tensor<8xf32>, tensor<?x4xi32>, tensor<?x4xf32> -> tensor<?x4xi32>, tensor<?x4xf32>
  return %0#0, %0#1 : tensor<?x4xi32>, tensor<?x4xf32>
}

// -----

func.func @noaux_tc_route_groups(%l: tensor<?x16xf32>, %b: tensor<16xf32>, %i: tensor<?x4xi32>, %w: tensor<?x4xf32>) -> (tensor<?x4xi32>, tensor<?x4xf32>) {
  // expected-error @+1 {{n_group must divide the 16 experts and topk_group be 1 to n_group}}
  %0:2 = dsc.noaux_tc_route %l, %b outs(%i, %w) {n_group = 3 : i64, topk_group = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 2.5 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<?x4xi32>, tensor<?x4xf32> -> tensor<?x4xi32>, tensor<?x4xf32>
  return %0#0, %0#1 : tensor<?x4xi32>, tensor<?x4xf32>
}

// -----

func.func @noaux_tc_route_top_k(%l: tensor<?x16xf32>, %b: tensor<16xf32>, %i: tensor<?x12xi32>, %w: tensor<?x12xf32>) -> (tensor<?x12xi32>, tensor<?x12xf32>) {
  // expected-error @+1 {{top_k must be 1 to 8 (the kept groups' experts, at most 32)}}
  %0:2 = dsc.noaux_tc_route %l, %b outs(%i, %w) {n_group = 4 : i64, topk_group = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 2.5 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<?x12xi32>, tensor<?x12xf32> -> tensor<?x12xi32>, tensor<?x12xf32>
  return %0#0, %0#1 : tensor<?x12xi32>, tensor<?x12xf32>
}

// -----

func.func @noaux_tc_route_scale(%l: tensor<?x16xf32>, %b: tensor<16xf32>, %i: tensor<?x4xi32>, %w: tensor<?x4xf32>) -> (tensor<?x4xi32>, tensor<?x4xf32>) {
  // expected-error @+1 {{routed_scaling_factor must be positive}}
  %0:2 = dsc.noaux_tc_route %l, %b outs(%i, %w) {n_group = 4 : i64, topk_group = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 0.0 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<?x4xi32>, tensor<?x4xf32> -> tensor<?x4xi32>, tensor<?x4xf32>
  return %0#0, %0#1 : tensor<?x4xi32>, tensor<?x4xf32>
}

// -----

func.func @noaux_tc_route_rows(%l: tensor<3x16xf32>, %b: tensor<16xf32>, %i: tensor<2x4xi32>, %w: tensor<3x4xf32>) -> (tensor<2x4xi32>, tensor<3x4xf32>) {
  // expected-error @+1 {{ids and weights must have the logits' T rows}}
  %0:2 = dsc.noaux_tc_route %l, %b outs(%i, %w) {n_group = 4 : i64, topk_group = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 2.5 : f64} : tensor<3x16xf32>, tensor<16xf32>, tensor<2x4xi32>, tensor<3x4xf32> -> tensor<2x4xi32>, tensor<3x4xf32>
  return %0#0, %0#1 : tensor<2x4xi32>, tensor<3x4xf32>
}

// -----

func.func @noaux_tc_route_warp(%l: tensor<?x256xf32>, %b: tensor<256xf32>, %i: tensor<?x40xi32>, %w: tensor<?x40xf32>) -> (tensor<?x40xi32>, tensor<?x40xf32>) {
  // expected-error @+1 {{top_k must be 1 to 32 (the kept groups' experts, at most 32)}}
  %0:2 = dsc.noaux_tc_route %l, %b outs(%i, %w) {n_group = 8 : i64, topk_group = 4 : i64, norm_topk_prob = true, routed_scaling_factor = 2.5 : f64} : tensor<?x256xf32>, tensor<256xf32>, tensor<?x40xi32>, tensor<?x40xf32> -> tensor<?x40xi32>, tensor<?x40xf32>
  return %0#0, %0#1 : tensor<?x40xi32>, tensor<?x40xf32>
}

// -----

func.func @rms_norm_rows_width(%x: tensor<?x6xf32>, %w: tensor<6xf32>, %y: tensor<?x6xf32>) -> tensor<?x6xf32> {
  // expected-error @+1 {{'dsc.rms_norm_rows' op the row width D must be static and a multiple of 4 (the kernel's vector width)}}
  %0 = dsc.rms_norm_rows %x, %w outs(%y) {epsilon = 1.0e-06 : f64} : tensor<?x6xf32>, tensor<6xf32>, tensor<?x6xf32> -> tensor<?x6xf32>
  return %0 : tensor<?x6xf32>
}

// -----

func.func @rms_norm_rows_type(%x: tensor<?x8xf16>, %w: tensor<8xf16>, %y: tensor<?x8xf16>) -> tensor<?x8xf16> {
  // expected-error @+1 {{'dsc.rms_norm_rows' op operands must be f32 or bf16, not 'f16'}}
  %0 = dsc.rms_norm_rows %x, %w outs(%y) {epsilon = 1.0e-06 : f64} : tensor<?x8xf16>, tensor<8xf16>, tensor<?x8xf16> -> tensor<?x8xf16>
  return %0 : tensor<?x8xf16>
}

// -----

func.func @add_rms_norm_rows_shapes(%x: tensor<?x8xf32>, %r: tensor<?x?x8xf32>, %w: tensor<8xf32>, %h: tensor<?x8xf32>, %y: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  // expected-error @+1 {{'dsc.add_rms_norm_rows' op row operands must be [..., 8], of one shape and element type}}
  %0:2 = dsc.add_rms_norm_rows %x, %r, %w outs(%h, %y) {epsilon = 1.0e-06 : f64} : tensor<?x8xf32>, tensor<?x?x8xf32>, tensor<8xf32>, tensor<?x8xf32>, tensor<?x8xf32> -> tensor<?x8xf32>, tensor<?x8xf32>
  return %0#0, %0#1 : tensor<?x8xf32>, tensor<?x8xf32>
}

// -----

func.func @add_rms_norm_rows_weight(%x: tensor<?x8xf32>, %w: tensor<8xbf16>, %h: tensor<?x8xf32>, %y: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  // expected-error @+1 {{'dsc.add_rms_norm_rows' op weight must be [D] of the rows' element type}}
  %0:2 = dsc.add_rms_norm_rows %x, %x, %w outs(%h, %y) {epsilon = 1.0e-06 : f64} : tensor<?x8xf32>, tensor<?x8xf32>, tensor<8xbf16>, tensor<?x8xf32>, tensor<?x8xf32> -> tensor<?x8xf32>, tensor<?x8xf32>
  return %0#0, %0#1 : tensor<?x8xf32>, tensor<?x8xf32>
}

// -----

func.func @rms_norm_rows_bf16_to_f32(%x: memref<?x8xbf16>, %w: memref<8xbf16>, %y: memref<?x8xf32>) {
  // expected-error @+1 {{'dsc.rms_norm_rows' op the normed rows must be [..., 8] of the rows' shape, of their element type or bf16 for f32 rows}}
  dsc.rms_norm_rows %x, %w outs(%y) {epsilon = 1.0e-06 : f64} : memref<?x8xbf16>, memref<8xbf16>, memref<?x8xf32>
  return
}

// -----

func.func @rms_norm_rows_epsilon(%x: memref<?x8xf32>, %w: memref<8xf32>, %y: memref<?x8xf32>) {
  // expected-error @+1 {{'dsc.rms_norm_rows' op epsilon must not be negative}}
  dsc.rms_norm_rows %x, %w outs(%y) {epsilon = -1.0 : f64} : memref<?x8xf32>, memref<8xf32>, memref<?x8xf32>
  return
}

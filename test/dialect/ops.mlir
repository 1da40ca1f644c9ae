// RUN: dsc-opt %s --split-input-file | FileCheck %s
// RUN: dsc-opt %s --split-input-file | dsc-opt --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @weights
func.func @weights() -> (tensor<64xf32>, tensor<16x32x64xf32>) {
  // CHECK: dsc.weight "model.norm.weight" : tensor<64xf32>
  %0 = dsc.weight "model.norm.weight" : tensor<64xf32>
  // CHECK: dsc.weight "model.layers.1.mlp.experts.{}.gate_proj.weight" {stack = 16 : i64} : tensor<16x32x64xf32>
  %1 = dsc.weight "model.layers.1.mlp.experts.{}.gate_proj.weight" {stack = 16 : i64} : tensor<16x32x64xf32>
  return %0, %1 : tensor<64xf32>, tensor<16x32x64xf32>
}

// -----

// CHECK-LABEL: func.func @embed
// CHECK-SAME: (%[[T:.*]]: tensor<256x64xf32>, %[[I:.*]]: tensor<?x?xi64>)
func.func @embed(%t: tensor<256x64xf32>, %ids: tensor<?x?xi64>) -> tensor<?x?x64xf32> {
  // CHECK: dsc.embed %[[T]], %[[I]] : (tensor<256x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %0 = dsc.embed %t, %ids : (tensor<256x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  return %0 : tensor<?x?x64xf32>
}

// -----

// CHECK-LABEL: func.func @rms_norm
func.func @rms_norm(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>) -> tensor<?x?x64xf32> {
  // CHECK: dsc.rms_norm %{{.*}}, %{{.*}} {epsilon = 9.9999999999999995E-7 : f64}
  %0 = dsc.rms_norm %x, %w {epsilon = 1.0e-06 : f64} : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  return %0 : tensor<?x?x64xf32>
}

// -----

// CHECK-LABEL: func.func @rope
func.func @rope(%x: tensor<?x?x4x8xf32>, %p: tensor<?x?xi64>) -> (tensor<?x?x4x8xf32>, tensor<?x?x4x8xf32>) {
  // CHECK: dsc.rope %{{.*}}, %{{.*}} {interleaved, theta = 1.000000e+04 : f64, yarn = #dsc.yarn<factor = 40.0, original_max_position = 4096, beta_fast = 32.0, beta_slow = 1.0, mscale = 0.707, mscale_all_dim = 0.707>}
  %0 = dsc.rope %x, %p {theta = 1.0e4 : f64, interleaved, yarn = #dsc.yarn<factor = 40.0, original_max_position = 4096, beta_fast = 32.0, beta_slow = 1.0, mscale = 0.707, mscale_all_dim = 0.707>} : (tensor<?x?x4x8xf32>, tensor<?x?xi64>) -> tensor<?x?x4x8xf32>
  // CHECK: dsc.rope %{{.*}}, %{{.*}} {theta = 1.000000e+04 : f64}
  %1 = dsc.rope %x, %p {theta = 1.0e4 : f64} : (tensor<?x?x4x8xf32>, tensor<?x?xi64>) -> tensor<?x?x4x8xf32>
  return %0, %1 : tensor<?x?x4x8xf32>, tensor<?x?x4x8xf32>
}

// -----

// An exporter's layout: [batch, heads, seq, d] rotated by positions shared
// by the batch and the heads, with the graph's frequency table.
// CHECK-LABEL: func.func @rope_frequencies
func.func @rope_frequencies(%x: tensor<?x4x?x8xf32>, %p: tensor<1x1x?xi64>, %f: tensor<4xf32>) -> tensor<?x4x?x8xf32> {
  // CHECK: dsc.rope %{{.*}}, %{{.*}} frequencies %{{.*}} : (tensor<?x4x?x8xf32>, tensor<1x1x?xi64>, tensor<4xf32>) -> tensor<?x4x?x8xf32>
  %0 = dsc.rope %x, %p frequencies %f : (tensor<?x4x?x8xf32>, tensor<1x1x?xi64>, tensor<4xf32>) -> tensor<?x4x?x8xf32>
  return %0 : tensor<?x4x?x8xf32>
}

// -----

// CHECK-LABEL: func.func @linear
func.func @linear(%x: tensor<?x?x64xf32>, %w: tensor<96x64xf32>, %q: tensor<96x64xf8E4M3FN>, %s: tensor<1x1xf32>) -> (tensor<?x?x96xf32>, tensor<?x?x96xf32>) {
  // CHECK: dsc.linear %{{.*}}, %{{.*}} : (tensor<?x?x64xf32>, tensor<96x64xf32>) -> tensor<?x?x96xf32>
  %0 = dsc.linear %x, %w : (tensor<?x?x64xf32>, tensor<96x64xf32>) -> tensor<?x?x96xf32>
  // CHECK: dsc.linear %{{.*}}, %{{.*}} scales %{{.*}} {block_size = array<i64: 128, 128>}
  %1 = dsc.linear %x, %q scales %s {block_size = array<i64: 128, 128>} : (tensor<?x?x64xf32>, tensor<96x64xf8E4M3FN>, tensor<1x1xf32>) -> tensor<?x?x96xf32>
  return %0, %1 : tensor<?x?x96xf32>, tensor<?x?x96xf32>
}

// -----

// CHECK-LABEL: func.func @gate
func.func @gate(%x: tensor<?x64xf32>, %w: tensor<16x64xf32>, %b: tensor<16xf32>) -> (tensor<?x4xf32>, tensor<?x4xi64>, tensor<?x4xf32>, tensor<?x4xi64>) {
  // CHECK: dsc.gate %{{.*}}, %{{.*}} bias %{{.*}} {n_group = 4 : i64, norm_topk_prob = true, routed_scaling_factor = 2.500000e+00 : f64, scoring = #dsc<scoring sigmoid>, top_k = 4 : i64, topk_group = 2 : i64, topk_method = #dsc<topk_method noaux_tc>}
  %0:2 = dsc.gate %x, %w bias %b {scoring = #dsc<scoring sigmoid>, topk_method = #dsc<topk_method noaux_tc>, top_k = 4 : i64, n_group = 4 : i64, topk_group = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 2.5 : f64} : (tensor<?x64xf32>, tensor<16x64xf32>, tensor<16xf32>) -> (tensor<?x4xf32>, tensor<?x4xi64>)
  // CHECK: dsc.gate %{{.*}}, %{{.*}} {{{.*}}scoring = #dsc<scoring softmax>{{.*}}topk_method = #dsc<topk_method greedy>}
  %1:2 = dsc.gate %x, %w {scoring = #dsc<scoring softmax>, topk_method = #dsc<topk_method greedy>, top_k = 4 : i64, n_group = 1 : i64, topk_group = 1 : i64, norm_topk_prob = false, routed_scaling_factor = 1.0 : f64} : (tensor<?x64xf32>, tensor<16x64xf32>) -> (tensor<?x4xf32>, tensor<?x4xi64>)
  return %0#0, %0#1, %1#0, %1#1 : tensor<?x4xf32>, tensor<?x4xi64>, tensor<?x4xf32>, tensor<?x4xi64>
}

// -----

// CHECK-LABEL: func.func @swiglu
func.func @swiglu(%g: tensor<?x128xf32>, %u: tensor<?x128xf32>) -> tensor<?x128xf32> {
  // CHECK: dsc.swiglu %{{.*}}, %{{.*}} : tensor<?x128xf32>
  %0 = dsc.swiglu %g, %u : tensor<?x128xf32>
  return %0 : tensor<?x128xf32>
}

// -----

// CHECK-LABEL: func.func @moe
func.func @moe(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) -> tensor<?x8xf32> {
  // CHECK: dsc.moe %{{.*}}, %{{.*}}, %{{.*}} experts(%{{.*}}, %{{.*}}, %{{.*}}) : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  %0 = dsc.moe %x, %w, %i experts(%g, %u, %d) : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// FP8 routed experts: their stacks as stored, the block scales after.
// CHECK-LABEL: func.func @moe_fp8
func.func @moe_fp8(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xf8E4M3FN>, %d: tensor<4x8x6xf8E4M3FN>, %gs: tensor<4x2x2xf32>, %ds: tensor<4x2x2xf32>) -> tensor<?x8xf32> {
  // CHECK: dsc.moe {{.*}} experts(%{{.*}}, %{{.*}}, %{{.*}}) scales(%{{.*}}, %{{.*}}, %{{.*}}) {expert_block_size = array<i64: 4, 4>}
  %0 = dsc.moe %x, %w, %i experts(%g, %g, %d) scales(%gs, %gs, %ds) {expert_block_size = array<i64: 4, 4>} : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf8E4M3FN>, tensor<4x6x8xf8E4M3FN>, tensor<4x8x6xf8E4M3FN>, tensor<4x2x2xf32>, tensor<4x2x2xf32>, tensor<4x2x2xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// CHECK-LABEL: func.func @moe_shared
func.func @moe_shared(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>, %sg: tensor<6x8xf8E4M3FN>, %sd: tensor<8x6xf8E4M3FN>, %s: tensor<2x2xf32>) -> tensor<?x8xf32> {
  // CHECK: dsc.moe {{.*}} experts(%{{.*}}, %{{.*}}, %{{.*}}) shared(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) {shared_block_size = array<i64: 4, 4>}
  %0 = dsc.moe %x, %w, %i experts(%g, %g, %d) shared(%sg, %sg, %sd, %s, %s, %s) {shared_block_size = array<i64: 4, 4>} : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>, tensor<6x8xf8E4M3FN>, tensor<6x8xf8E4M3FN>, tensor<8x6xf8E4M3FN>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// CHECK-LABEL: func.func @mla
func.func @mla(%qn: tensor<?x?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x?x32xf32>, %kp: tensor<?x?x8xf32>, %w: tensor<128x32xf32>, %q: tensor<128x32xf8E4M3FN>, %s: tensor<8x2xf32>) -> (tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>) {
  // CHECK: dsc.mla %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {form = #dsc<mla_form naive>, scale = 2.500000e-01 : f64}
  %0 = dsc.mla %qn, %qp, %c, %kp, %w {scale = 0.25 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf32>) -> tensor<?x?x4x16xf32>
  // CHECK: dsc.mla {{.*}} scales %{{.*}} {block_size = array<i64: 16, 16>, form = #dsc<mla_form absorbed>
  %1 = dsc.mla %qn, %qp, %c, %kp, %q scales %s {scale = 0.25 : f64, form = #dsc<mla_form absorbed>, block_size = array<i64: 16, 16>} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf8E4M3FN>, tensor<8x2xf32>) -> tensor<?x?x4x16xf32>
  return %0, %1 : tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>
}

// CHECK-LABEL: func.func @mla_masked
func.func @mla_masked(%qn: tensor<?x?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x?x32xf32>, %kp: tensor<?x?x8xf32>, %w: tensor<128x32xf32>, %m: tensor<?x1x?x?xf32>) -> tensor<?x?x4x16xf32> {
  // CHECK: dsc.mla %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} mask %{{.*}} {form = #dsc<mla_form naive>, scale = 2.500000e-01 : f64}
  %0 = dsc.mla %qn, %qp, %c, %kp, %w mask %m {scale = 0.25 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf32>, tensor<?x1x?x?xf32>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}

// CHECK-LABEL: func.func @mla_decode
func.func @mla_decode(%qn: tensor<?x1x4x16xf32>, %qp: tensor<?x1x4x8xf32>, %c: tensor<?x1x32xf32>, %kp: tensor<?x1x8xf32>, %w: tensor<128x32xf32>, %pages: tensor<?x64x40xf32>, %table: tensor<?x?xi64>, %past: tensor<?xi64>) -> tensor<?x1x4x16xf32> {
  // CHECK: dsc.mla_decode %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} cache(%{{.*}}, %{{.*}}, %{{.*}}) {scale = 2.500000e-01 : f64}
  %0 = dsc.mla_decode %qn, %qp, %c, %kp, %w cache(%pages, %table, %past) {scale = 0.25 : f64} : (tensor<?x1x4x16xf32>, tensor<?x1x4x8xf32>, tensor<?x1x32xf32>, tensor<?x1x8xf32>, tensor<128x32xf32>, tensor<?x64x40xf32>, tensor<?x?xi64>, tensor<?xi64>) -> tensor<?x1x4x16xf32>
  return %0 : tensor<?x1x4x16xf32>
}

// CHECK-LABEL: func.func @add_rms_norm
func.func @add_rms_norm(%x: tensor<?x?x8xf32>, %r: tensor<?x?x8xf32>, %w: tensor<8xf32>) -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>) {
  // CHECK: %{{.*}}, %{{.*}} = dsc.add_rms_norm %{{.*}}, %{{.*}}, %{{.*}} {epsilon = 9.9999999999999995E-7 : f64}
  %s, %n = dsc.add_rms_norm %x, %r, %w {epsilon = 1.0e-06 : f64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<8xf32>) -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>)
  return %s, %n : tensor<?x?x8xf32>, tensor<?x?x8xf32>
}

// -----

// CHECK-LABEL: func.func @topk
func.func @topk(%x: tensor<?x4x16xf32>, %i: tensor<?x8xi64>) -> (tensor<?x4x2xf32>, tensor<?x4x2xi64>, tensor<?x3xi64>) {
  // CHECK: dsc.topk %{{.*}} {k = 2 : i64} : (tensor<?x4x16xf32>) -> (tensor<?x4x2xf32>, tensor<?x4x2xi64>)
  %v, %j = dsc.topk %x {k = 2 : i64} : (tensor<?x4x16xf32>) -> (tensor<?x4x2xf32>, tensor<?x4x2xi64>)
  // CHECK: dsc.topk %{{.*}} {k = 3 : i64, smallest} : (tensor<?x8xi64>) -> (tensor<?x3xi64>, tensor<?x3xi64>)
  %w, %l = dsc.topk %i {k = 3 : i64, smallest} : (tensor<?x8xi64>) -> (tensor<?x3xi64>, tensor<?x3xi64>)
  return %v, %j, %l : tensor<?x4x2xf32>, tensor<?x4x2xi64>, tensor<?x3xi64>
}

// -----

// The kernel library's decode attention, on tensors (a result) and on
// buffers (none).
// CHECK-LABEL: func.func @paged_mla_decode
func.func @paged_mla_decode(%q: tensor<?x4x40xbf16>, %e: tensor<?x40xbf16>, %pages: tensor<?x64x40xbf16>, %table: tensor<?x?xi32>, %lens: tensor<?xi32>, %init: tensor<?x4x32xbf16>, %qb: memref<?x4x40xbf16>, %eb: memref<?x40xbf16>, %pb: memref<?x64x40xbf16>, %tb: memref<?x?xi32>, %lb: memref<?xi32>, %ob: memref<?x4x32xbf16>) -> tensor<?x4x32xbf16> {
  // CHECK: dsc.paged_mla_decode %{{.*}}, %{{.*}} cache(%{{.*}}, %{{.*}}, %{{.*}}) outs(%{{.*}}) {scale = 2.500000e-01 : f64} : tensor<?x4x40xbf16>, tensor<?x40xbf16>, tensor<?x64x40xbf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?x4x32xbf16> -> tensor<?x4x32xbf16>
  %0 = dsc.paged_mla_decode %q, %e cache(%pages, %table, %lens) outs(%init) {scale = 0.25 : f64} : tensor<?x4x40xbf16>, tensor<?x40xbf16>, tensor<?x64x40xbf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?x4x32xbf16> -> tensor<?x4x32xbf16>
  // CHECK: dsc.paged_mla_decode %{{.*}}, %{{.*}} cache(%{{.*}}, %{{.*}}, %{{.*}}) outs(%{{.*}}) {scale = 2.500000e-01 : f64} : memref<?x4x40xbf16>, memref<?x40xbf16>, memref<?x64x40xbf16>, memref<?x?xi32>, memref<?xi32>, memref<?x4x32xbf16>{{$}}
  dsc.paged_mla_decode %qb, %eb cache(%pb, %tb, %lb) outs(%ob) {scale = 0.25 : f64} : memref<?x4x40xbf16>, memref<?x40xbf16>, memref<?x64x40xbf16>, memref<?x?xi32>, memref<?xi32>, memref<?x4x32xbf16>
  return %0 : tensor<?x4x32xbf16>
}

// The kernel library's prompt attention, on tensors (a result) and on
// buffers (none).
// CHECK-LABEL: func.func @causal_mla_prefill
func.func @causal_mla_prefill(%q: tensor<?x?x4x24xbf16>, %kv: tensor<?x?x4x32xbf16>, %kr: tensor<?x?x8xbf16>, %init: tensor<?x?x4x16xbf16>, %qb: memref<?x?x4x24xbf16>, %kvb: memref<?x?x4x32xbf16>, %krb: memref<?x?x8xbf16>, %ob: memref<?x?x4x16xbf16>) -> tensor<?x?x4x16xbf16> {
  // CHECK: dsc.causal_mla_prefill %{{.*}}, %{{.*}}, %{{.*}} outs(%{{.*}}) {scale = 2.500000e-01 : f64} : tensor<?x?x4x24xbf16>, tensor<?x?x4x32xbf16>, tensor<?x?x8xbf16>, tensor<?x?x4x16xbf16> -> tensor<?x?x4x16xbf16>
  %0 = dsc.causal_mla_prefill %q, %kv, %kr outs(%init) {scale = 0.25 : f64} : tensor<?x?x4x24xbf16>, tensor<?x?x4x32xbf16>, tensor<?x?x8xbf16>, tensor<?x?x4x16xbf16> -> tensor<?x?x4x16xbf16>
  // CHECK: dsc.causal_mla_prefill %{{.*}}, %{{.*}}, %{{.*}} outs(%{{.*}}) {scale = 2.500000e-01 : f64} : memref<?x?x4x24xbf16>, memref<?x?x4x32xbf16>, memref<?x?x8xbf16>, memref<?x?x4x16xbf16>{{$}}
  dsc.causal_mla_prefill %qb, %kvb, %krb outs(%ob) {scale = 0.25 : f64} : memref<?x?x4x24xbf16>, memref<?x?x4x32xbf16>, memref<?x?x8xbf16>, memref<?x?x4x16xbf16>
  return %0 : tensor<?x?x4x16xbf16>
}

// The kernel library's router, on tensors (two results) and on buffers
// (none).
// CHECK-LABEL: func.func @noaux_tc_route
func.func @noaux_tc_route(%logits: tensor<?x16xf32>, %bias: tensor<16xf32>, %ids: tensor<?x4xi32>, %w: tensor<?x4xf32>, %lb: memref<?x16xf32>, %bb: memref<16xf32>, %ib: memref<?x4xi32>, %wb: memref<?x4xf32>) -> (tensor<?x4xi32>, tensor<?x4xf32>) {
  // CHECK: dsc.noaux_tc_route %{{.*}}, %{{.*}} outs(%{{.*}}, %{{.*}}) {n_group = 4 : i64, norm_topk_prob = true, routed_scaling_factor = 2.500000e+00 : f64, topk_group = 2 : i64} : tensor<?x16xf32>, tensor<16xf32>, tensor<?x4xi32>, tensor<?x4xf32> -> tensor<?x4xi32>, tensor<?x4xf32>
  %0:2 = dsc.noaux_tc_route %logits, %bias outs(%ids, %w) {n_group = 4 : i64, topk_group = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 2.5 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<?x4xi32>, tensor<?x4xf32> -> tensor<?x4xi32>, tensor<?x4xf32>
  // CHECK: dsc.noaux_tc_route %{{.*}}, %{{.*}} outs(%{{.*}}, %{{.*}}) {{.*}} : memref<?x16xf32>, memref<16xf32>, memref<?x4xi32>, memref<?x4xf32>{{$}}
  dsc.noaux_tc_route %lb, %bb outs(%ib, %wb) {n_group = 4 : i64, topk_group = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 2.5 : f64} : memref<?x16xf32>, memref<16xf32>, memref<?x4xi32>, memref<?x4xf32>
  return %0#0, %0#1 : tensor<?x4xi32>, tensor<?x4xf32>
}


// The kernel library's RMSNorms, on tensors (a result per init) and on
// buffers (none).
// CHECK-LABEL: func.func @norm_rows
func.func @norm_rows(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>, %xb: memref<?x64xbf16>, %wb: memref<64xbf16>, %yb: memref<?x64xbf16>, %c2: index, %c3: index) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
  // CHECK: dsc.rms_norm_rows %{{.*}}, %{{.*}} outs(%{{.*}}) {epsilon = 9.9999999999999995E-7 : f64} : tensor<?x?x64xf32>, tensor<64xf32>, tensor<?x?x64xf32> -> tensor<?x?x64xf32>
  %0 = dsc.rms_norm_rows %x, %w outs(%x) {epsilon = 1.0e-06 : f64} : tensor<?x?x64xf32>, tensor<64xf32>, tensor<?x?x64xf32> -> tensor<?x?x64xf32>
  // CHECK: dsc.add_rms_norm_rows %{{.*}}, %{{.*}}, %{{.*}} outs(%{{.*}}, %{{.*}}) {{.*}} -> tensor<?x?x64xf32>, tensor<?x?x64xf32>
  %1:2 = dsc.add_rms_norm_rows %x, %0, %w outs(%x, %x) {epsilon = 1.0e-06 : f64} : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32> -> tensor<?x?x64xf32>, tensor<?x?x64xf32>
  // CHECK: dsc.rms_norm_rows %{{.*}}, %{{.*}} outs(%{{.*}}) {{.*}} : memref<?x64xbf16>, memref<64xbf16>, memref<?x64xbf16>{{$}}
  dsc.rms_norm_rows %xb, %wb outs(%yb) {epsilon = 1.0e-06 : f64} : memref<?x64xbf16>, memref<64xbf16>, memref<?x64xbf16>
  // f32 rows, their normed rows stored as bf16.
  // CHECK: dsc.add_rms_norm_rows {{.*}} -> tensor<?x?x64xf32>, tensor<?x?x64xbf16>
  %e = tensor.empty(%c2, %c3) : tensor<?x?x64xbf16>
  %2:2 = dsc.add_rms_norm_rows %x, %0, %w outs(%x, %e) {epsilon = 1.0e-06 : f64} : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xbf16> -> tensor<?x?x64xf32>, tensor<?x?x64xbf16>
  return %0, %1#0, %1#1 : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>
}

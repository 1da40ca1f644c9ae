// RUN: dsc-opt %s --split-input-file --dsc-kv-cache -verify-diagnostics | FileCheck %s
// RUN: dsc-opt %s --split-input-file --dsc-kv-cache=cache-type=bf16 -verify-diagnostics | FileCheck %s --check-prefix=BF16
// RUN: not dsc-opt %s --split-input-file --dsc-kv-cache=cache-type=f16 2>&1 | FileCheck %s --check-prefix=BAD-TYPE
// BAD-TYPE: error: dsc-kv-cache: cache-type must be f32 or bf16, not 'f16'

// Two calls of one layer function with fused latent attention (H 2, dn 4,
// dr 2, dv 4, C 8: cache width 10). The layer gets a prefill variant that
// also returns its cache entry, and a decode variant that attends over the
// cache through dsc.mla_decode with rope positions offset by `past`.

// The original layer function is erased (see @forward below).
// CHECK-NOT: func.func private @layer(
// CHECK-LABEL: func.func private @layer_decode
// CHECK-SAME: %[[CACHE:[^:]*]]: tensor<2x?x64x10xf32>, %[[TABLE:[^:]*]]: tensor<?x?xi64>, %[[PAST:[^:]*]]: tensor<?xi64>, %[[FIRST:[^:]*]]: index)
// CHECK-SAME: -> (tensor<?x?x2x4xf32>, tensor<?x?x10xf32>)
// CHECK: %[[POS:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %[[PAST]] : tensor<?x?xi64>, tensor<?xi64>)
// CHECK: arith.addi
// CHECK: dsc.rope %{{.*}}, %[[POS]]
// CHECK: %[[LAYER:.*]] = arith.addi %[[FIRST]], %c0
// CHECK: %[[PAGES:.*]] = tensor.extract_slice %[[CACHE]][%[[LAYER]], 0, 0, 0] [1, %{{.*}}, 64, 10] [1, 1, 1, 1] : tensor<2x?x64x10xf32> to tensor<?x64x10xf32>
// CHECK: %[[OUT:.*]] = dsc.mla_decode {{.*}} cache(%[[PAGES]], %[[TABLE]], %[[PAST]]) {scale = 5.000000e-01 : f64}
// CHECK: tensor.insert_slice
// CHECK: %[[ENTRY:.*]] = tensor.insert_slice
// CHECK: return %[[OUT]], %[[ENTRY]]
// CHECK-NOT: dsc.mla {{.*}}form

// CHECK-LABEL: func.func private @layer_prefill
// CHECK-SAME: -> (tensor<?x?x2x4xf32>, tensor<?x?x10xf32>)
// CHECK: dsc.mla {{.*}}form = #dsc<mla_form naive>

// @forward calls the prefill variant too, dropping its entries: one copy
// of the layer to lower, not two.
// CHECK-LABEL: func.func @forward
// CHECK: %[[F0:.*]]:2 = call @layer_prefill(
// CHECK: %[[F1:.*]]:2 = call @layer_prefill(%[[F0]]#0,
// CHECK: return %[[F1]]#0 :

// CHECK-LABEL: func.func @decode(
// CHECK-SAME: {dsc.input = "tokens"}, %[[PAST:[^:]*]]: tensor<?xi64> {dsc.input = "past"}, %[[TABLE:[^:]*]]: tensor<?x?xi64> {dsc.input = "block_table"}, %[[CACHE:[^:]*]]: tensor<2x?x64x10xf32> {dsc.input = "kv_cache"})
// CHECK-SAME: -> (tensor<?x?x2x4xf32> {dsc.output = "logits"}, tensor<2x?x?x10xf32> {dsc.output = "latents"})
// CHECK-SAME: attributes {{{.*}}dsc.stores_cache_entries{{.*}}}
// CHECK: %[[L0:.*]]:2 = call @layer_decode({{.*}}, %[[CACHE]], %[[TABLE]], %[[PAST]], %c0{{.*}})
// CHECK: %[[L1:.*]]:2 = call @layer_decode(%[[L0]]#0, {{.*}}, %[[CACHE]], %[[TABLE]], %[[PAST]], %c1{{.*}})
// CHECK: tensor.insert_slice %[[L0]]#1 into %{{.*}}[0, 0, 0, 0]
// CHECK: %[[ALL:.*]] = tensor.insert_slice %[[L1]]#1 into %{{.*}}[1, 0, 0, 0]
// CHECK: return %[[L1]]#0, %[[ALL]]

// Prefill returns each prompt's logits at its last position only: the
// rows at `last_positions` (clamped into the sequence), [B, 1, ...].
// CHECK-LABEL: func.func @prefill(
// CHECK-SAME: {dsc.input = "tokens"}, %[[LAST:[^:]*]]: tensor<?xi64> {dsc.input = "last_positions"})
// CHECK-SAME: -> (tensor<?x1x2x4xf32> {dsc.output = "logits"}, tensor<2x?x?x10xf32> {dsc.output = "latents"})
// CHECK: call @layer_prefill(
// CHECK: %[[P1:.*]]:2 = call @layer_prefill(
// CHECK: %[[END:.*]] = arith.subi
// CHECK: %[[ROWS:.*]] = linalg.generic {{.*}} ins(%[[LAST]] : tensor<?xi64>) outs(%{{.*}} : tensor<?x1x2x4xf32>)
// CHECK: ^bb0(%[[IN:.*]]: i64,
// CHECK: %[[P:.*]] = arith.index_cast %[[IN]] : i64 to index
// CHECK: %[[ZERO:.*]] = arith.constant 0 : index
// CHECK: %[[HIGH:.*]] = arith.minsi %[[P]], %[[END]]
// CHECK: %[[AT:.*]] = arith.maxsi %[[HIGH]], %[[ZERO]]
// CHECK: %[[I0:.*]] = linalg.index 0
// CHECK: %[[I2:.*]] = linalg.index 2
// CHECK: %[[I3:.*]] = linalg.index 3
// CHECK: tensor.extract %[[P1]]#0[%[[I0]], %[[AT]], %[[I2]], %[[I3]]]
// CHECK: return %[[ROWS]], %{{.*}} : tensor<?x1x2x4xf32>, tensor<2x?x?x10xf32>

// cache-type=bf16: the cache and its pages are bf16; the entries returned
// stay f32 (the runtime rounds them when it stores them).
// BF16-LABEL: func.func private @layer_decode
// BF16-SAME: tensor<2x?x64x10xbf16>
// BF16-SAME: -> (tensor<?x?x2x4xf32>, tensor<?x?x10xf32>)
// BF16: tensor.extract_slice {{.*}} : tensor<2x?x64x10xbf16> to tensor<?x64x10xbf16>
// BF16: dsc.mla_decode {{.*}} tensor<?x64x10xbf16>
// BF16-LABEL: func.func @decode(
// BF16-SAME: tensor<2x?x64x10xbf16> {dsc.input = "kv_cache"})
// BF16-SAME: tensor<2x?x?x10xf32> {dsc.output = "latents"}
func.func private @layer(%qn: tensor<?x?x2x4xf32>, %qp: tensor<?x?x2x2xf32>, %c: tensor<?x?x8xf32>, %k: tensor<?x?x2xf32>, %pos: tensor<?x?xi64>, %w: tensor<16x8xf32>) -> tensor<?x?x2x4xf32> {
  %qr = dsc.rope %qp, %pos {theta = 1.0e4 : f64} : (tensor<?x?x2x2xf32>, tensor<?x?xi64>) -> tensor<?x?x2x2xf32>
  %kr = dsc.rope %k, %pos {theta = 1.0e4 : f64} : (tensor<?x?x2xf32>, tensor<?x?xi64>) -> tensor<?x?x2xf32>
  %o = dsc.mla %qn, %qr, %c, %kr, %w {scale = 0.5 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x2x4xf32>, tensor<?x?x2x2xf32>, tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<16x8xf32>) -> tensor<?x?x2x4xf32>
  return %o : tensor<?x?x2x4xf32>
}
func.func @forward(%t: tensor<?x?xi64>) -> tensor<?x?x2x4xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %t, %c0 : tensor<?x?xi64>
  %s = tensor.dim %t, %c1 : tensor<?x?xi64>
  %qn = tensor.empty(%b, %s) : tensor<?x?x2x4xf32>
  %qp = tensor.empty(%b, %s) : tensor<?x?x2x2xf32>
  %c = tensor.empty(%b, %s) : tensor<?x?x8xf32>
  %k = tensor.empty(%b, %s) : tensor<?x?x2xf32>
  %w = dsc.weight "kv_b" : tensor<16x8xf32>
  %0 = call @layer(%qn, %qp, %c, %k, %t, %w) : (tensor<?x?x2x4xf32>, tensor<?x?x2x2xf32>, tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<?x?xi64>, tensor<16x8xf32>) -> tensor<?x?x2x4xf32>
  %1 = call @layer(%0, %qp, %c, %k, %t, %w) : (tensor<?x?x2x4xf32>, tensor<?x?x2x2xf32>, tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<?x?xi64>, tensor<16x8xf32>) -> tensor<?x?x2x4xf32>
  return %1 : tensor<?x?x2x4xf32>
}

// -----

// negative_unfused: no fused latent attention anywhere (a --no-fusion
// compile): the module is left alone, generation recomputes.
// CHECK-LABEL: func.func @forward
// CHECK-NOT: @decode
// CHECK-NOT: @prefill
func.func private @layer(%h: tensor<?x8xf32>, %w: tensor<8xf32>) -> tensor<?x8xf32> {
  %0 = dsc.rms_norm %h, %w {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}
func.func @forward(%h: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %w = dsc.weight "w" : tensor<8xf32>
  %0 = call @layer(%h, %w) : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// negative_partly_fused: one layer's attention fused, the other's did not:
// a cache for some layers only would still recompute the rest, so there is
// none, with a warning.
// CHECK-LABEL: func.func @forward
// CHECK-NOT: @decode
func.func private @fused(%qn: tensor<?x?x2x4xf32>, %qp: tensor<?x?x2x2xf32>, %c: tensor<?x?x8xf32>, %k: tensor<?x?x2xf32>, %w: tensor<16x8xf32>) -> tensor<?x?x2x4xf32> {
  %o = dsc.mla %qn, %qp, %c, %k, %w {scale = 0.5 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x2x4xf32>, tensor<?x?x2x2xf32>, tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<16x8xf32>) -> tensor<?x?x2x4xf32>
  return %o : tensor<?x?x2x4xf32>
}
func.func private @unfused(%qn: tensor<?x?x2x4xf32>) -> tensor<?x?x2x4xf32> {
  return %qn : tensor<?x?x2x4xf32>
}
func.func @forward(%qn: tensor<?x?x2x4xf32>, %qp: tensor<?x?x2x2xf32>, %c: tensor<?x?x8xf32>, %k: tensor<?x?x2xf32>) -> tensor<?x?x2x4xf32> {
  %w = dsc.weight "kv_b" : tensor<16x8xf32>
  %0 = call @fused(%qn, %qp, %c, %k, %w) : (tensor<?x?x2x4xf32>, tensor<?x?x2x2xf32>, tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<16x8xf32>) -> tensor<?x?x2x4xf32>
  // expected-warning @below {{dsc-kv-cache: 'unfused' has no fused latent attention; the artifact gets no KV-cache entry points and generation recomputes every token}}
  %1 = call @unfused(%0) : (tensor<?x?x2x4xf32>) -> tensor<?x?x2x4xf32>
  return %1 : tensor<?x?x2x4xf32>
}

// -----

// Attention outside a layer function is not supported.
// expected-error @below {{dsc-kv-cache: latent attention directly in @forward; it must be in layer functions}}
func.func @forward(%qn: tensor<?x?x2x4xf32>, %qp: tensor<?x?x2x2xf32>, %c: tensor<?x?x8xf32>, %k: tensor<?x?x2xf32>) -> tensor<?x?x2x4xf32> {
  %w = dsc.weight "kv_b" : tensor<16x8xf32>
  %o = dsc.mla %qn, %qp, %c, %k, %w {scale = 0.5 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x2x4xf32>, tensor<?x?x2x2xf32>, tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<16x8xf32>) -> tensor<?x?x2x4xf32>
  return %o : tensor<?x?x2x4xf32>
}

// -----

// The entry points are derived once.
// expected-error @below {{dsc-kv-cache: the module already has @prefill or @decode}}
module {
  func.func @forward(%h: tensor<?x8xf32>) -> tensor<?x8xf32> {
    return %h : tensor<?x8xf32>
  }
  func.func @decode(%h: tensor<?x8xf32>) -> tensor<?x8xf32> {
    return %h : tensor<?x8xf32>
  }
}

// -----

// A layer function whose attention sits in a nested region cannot return
// its cache entry.
func.func private @layer(%qn: tensor<?x?x2x4xf32>, %qp: tensor<?x?x2x2xf32>, %c: tensor<?x?x8xf32>, %k: tensor<?x?x2xf32>, %w: tensor<16x8xf32>, %flag: i1) -> tensor<?x?x2x4xf32> {
  %r = scf.if %flag -> tensor<?x?x2x4xf32> {
    // expected-error @below {{dsc-kv-cache: latent attention must be f32, at the top level of its layer function, with one cache width for all layers}}
    %o = dsc.mla %qn, %qp, %c, %k, %w {scale = 0.5 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x2x4xf32>, tensor<?x?x2x2xf32>, tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<16x8xf32>) -> tensor<?x?x2x4xf32>
    scf.yield %o : tensor<?x?x2x4xf32>
  } else {
    scf.yield %qn : tensor<?x?x2x4xf32>
  }
  return %r : tensor<?x?x2x4xf32>
}
func.func @forward(%qn: tensor<?x?x2x4xf32>, %qp: tensor<?x?x2x2xf32>, %c: tensor<?x?x8xf32>, %k: tensor<?x?x2xf32>, %flag: i1) -> tensor<?x?x2x4xf32> {
  %w = dsc.weight "kv_b" : tensor<16x8xf32>
  %0 = call @layer(%qn, %qp, %c, %k, %w, %flag) : (tensor<?x?x2x4xf32>, tensor<?x?x2x2xf32>, tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<16x8xf32>, i1) -> tensor<?x?x2x4xf32>
  return %0 : tensor<?x?x2x4xf32>
}

// -----

// negative_graph_mask: attention masked by the graph (an exported graph's)
// says nothing about tokens to come: a warning, and no entry points.
// CHECK-LABEL: func.func @forward
// CHECK-NOT: @decode
func.func private @layer(%qn: tensor<?x?x2x4xf32>, %qp: tensor<?x?x2x2xf32>, %c: tensor<?x?x8xf32>, %k: tensor<?x?x2xf32>, %m: tensor<?x1x?x?xf32>, %w: tensor<16x8xf32>) -> tensor<?x?x2x4xf32> {
  // expected-warning @+1 {{dsc-kv-cache: latent attention masked by the graph (not causal by construction) cannot attend over a cache; the artifact gets no KV-cache entry points}}
  %o = dsc.mla %qn, %qp, %c, %k, %w mask %m {scale = 0.5 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x2x4xf32>, tensor<?x?x2x2xf32>, tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<16x8xf32>, tensor<?x1x?x?xf32>) -> tensor<?x?x2x4xf32>
  return %o : tensor<?x?x2x4xf32>
}
func.func @forward(%t: tensor<?x?xi64>, %qn: tensor<?x?x2x4xf32>, %qp: tensor<?x?x2x2xf32>, %c: tensor<?x?x8xf32>, %k: tensor<?x?x2xf32>, %m: tensor<?x1x?x?xf32>) -> tensor<?x?x2x4xf32> {
  %w = dsc.weight "kv_b" : tensor<16x8xf32>
  %0 = call @layer(%qn, %qp, %c, %k, %m, %w) : (tensor<?x?x2x4xf32>, tensor<?x?x2x2xf32>, tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<?x1x?x?xf32>, tensor<16x8xf32>) -> tensor<?x?x2x4xf32>
  return %0 : tensor<?x?x2x4xf32>
}

// -----

// The recovered rope of a decomposed import has [batch, seq, 1] positions
// (lined up with [batch, seq, heads] rows): they are offset per sequence
// all the same, along their first dimension.
// CHECK-LABEL: func.func private @layer_decode
// CHECK: %[[POS:.*]] = linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel", "parallel"]} ins(%{{.*}}, %{{.*}} : tensor<?x?x1xi64>, tensor<?xi64>)
// CHECK: dsc.rope %{{.*}}, %[[POS]] frequencies
func.func private @layer(%qn: tensor<?x?x2x4xf32>, %qp: tensor<?x?x2x2xf32>, %c: tensor<?x?x8xf32>, %k: tensor<?x?x2xf32>, %pos: tensor<?x?x1xi64>, %f: tensor<1xf32>, %w: tensor<16x8xf32>) -> tensor<?x?x2x4xf32> {
  %qr = dsc.rope %qp, %pos frequencies %f : (tensor<?x?x2x2xf32>, tensor<?x?x1xi64>, tensor<1xf32>) -> tensor<?x?x2x2xf32>
  %o = dsc.mla %qn, %qr, %c, %k, %w {scale = 0.5 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x2x4xf32>, tensor<?x?x2x2xf32>, tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<16x8xf32>) -> tensor<?x?x2x4xf32>
  return %o : tensor<?x?x2x4xf32>
}
func.func @forward(%t: tensor<?x?xi64>, %qn: tensor<?x?x2x4xf32>, %qp: tensor<?x?x2x2xf32>, %c: tensor<?x?x8xf32>, %k: tensor<?x?x2xf32>, %pos: tensor<?x?x1xi64>) -> tensor<?x?x2x4xf32> {
  %f = arith.constant dense<1.0> : tensor<1xf32>
  %w = dsc.weight "kv_b" : tensor<16x8xf32>
  %0 = call @layer(%qn, %qp, %c, %k, %pos, %f, %w) : (tensor<?x?x2x4xf32>, tensor<?x?x2x2xf32>, tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<?x?x1xi64>, tensor<1xf32>, tensor<16x8xf32>) -> tensor<?x?x2x4xf32>
  return %0 : tensor<?x?x2x4xf32>
}

// -----

// negative_shared_positions: positions shared by the whole batch (an
// exporter's [1, 1, seq] Range) cannot count from each sequence's past: a
// warning, and no entry points.
// CHECK-LABEL: func.func @forward({{.*}}tensor<1x?xi64>)
// CHECK-NOT: @decode
func.func private @layer(%qn: tensor<?x?x2x4xf32>, %qp: tensor<?x?x2x2xf32>, %c: tensor<?x?x8xf32>, %k: tensor<?x?x2xf32>, %pos: tensor<1x?xi64>, %f: tensor<1xf32>, %w: tensor<16x8xf32>) -> tensor<?x?x2x4xf32> {
  // expected-warning @+1 {{dsc-kv-cache: rope positions shared by the whole batch cannot count from each sequence's past; the artifact gets no KV-cache entry points}}
  %qr = dsc.rope %qp, %pos frequencies %f : (tensor<?x?x2x2xf32>, tensor<1x?xi64>, tensor<1xf32>) -> tensor<?x?x2x2xf32>
  %o = dsc.mla %qn, %qr, %c, %k, %w {scale = 0.5 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x2x4xf32>, tensor<?x?x2x2xf32>, tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<16x8xf32>) -> tensor<?x?x2x4xf32>
  return %o : tensor<?x?x2x4xf32>
}
func.func @forward(%t: tensor<?x?xi64>, %qn: tensor<?x?x2x4xf32>, %qp: tensor<?x?x2x2xf32>, %c: tensor<?x?x8xf32>, %k: tensor<?x?x2xf32>, %pos: tensor<1x?xi64>) -> tensor<?x?x2x4xf32> {
  %f = arith.constant dense<1.0> : tensor<1xf32>
  %w = dsc.weight "kv_b" : tensor<16x8xf32>
  %0 = call @layer(%qn, %qp, %c, %k, %pos, %f, %w) : (tensor<?x?x2x4xf32>, tensor<?x?x2x2xf32>, tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<1x?xi64>, tensor<1xf32>, tensor<16x8xf32>) -> tensor<?x?x2x4xf32>
  return %0 : tensor<?x?x2x4xf32>
}

// -----

// also_called: a layer function another function calls too stays; @forward
// still calls its prefill variant.
// CHECK-LABEL: func.func private @layer(
// CHECK-LABEL: func.func @other
// CHECK: call @layer(
// CHECK-LABEL: func.func @forward
// CHECK: %[[R:.*]]:2 = call @layer_prefill(
// CHECK: return %[[R]]#0
func.func private @layer(%qn: tensor<?x?x2x4xf32>, %qp: tensor<?x?x2x2xf32>, %c: tensor<?x?x8xf32>, %k: tensor<?x?x2xf32>, %pos: tensor<?x?xi64>, %w: tensor<16x8xf32>) -> tensor<?x?x2x4xf32> {
  %qr = dsc.rope %qp, %pos {theta = 1.0e4 : f64} : (tensor<?x?x2x2xf32>, tensor<?x?xi64>) -> tensor<?x?x2x2xf32>
  %o = dsc.mla %qn, %qr, %c, %k, %w {scale = 0.5 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x2x4xf32>, tensor<?x?x2x2xf32>, tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<16x8xf32>) -> tensor<?x?x2x4xf32>
  return %o : tensor<?x?x2x4xf32>
}
func.func @other(%qn: tensor<?x?x2x4xf32>, %qp: tensor<?x?x2x2xf32>, %c: tensor<?x?x8xf32>, %k: tensor<?x?x2xf32>, %t: tensor<?x?xi64>) -> tensor<?x?x2x4xf32> {
  %w = dsc.weight "kv_b" : tensor<16x8xf32>
  %0 = call @layer(%qn, %qp, %c, %k, %t, %w) : (tensor<?x?x2x4xf32>, tensor<?x?x2x2xf32>, tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<?x?xi64>, tensor<16x8xf32>) -> tensor<?x?x2x4xf32>
  return %0 : tensor<?x?x2x4xf32>
}
func.func @forward(%t: tensor<?x?xi64>) -> tensor<?x?x2x4xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %t, %c0 : tensor<?x?xi64>
  %s = tensor.dim %t, %c1 : tensor<?x?xi64>
  %qn = tensor.empty(%b, %s) : tensor<?x?x2x4xf32>
  %qp = tensor.empty(%b, %s) : tensor<?x?x2x2xf32>
  %c = tensor.empty(%b, %s) : tensor<?x?x8xf32>
  %k = tensor.empty(%b, %s) : tensor<?x?x2xf32>
  %w = dsc.weight "kv_b" : tensor<16x8xf32>
  %0 = call @layer(%qn, %qp, %c, %k, %t, %w) : (tensor<?x?x2x4xf32>, tensor<?x?x2x2xf32>, tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<?x?xi64>, tensor<16x8xf32>) -> tensor<?x?x2x4xf32>
  return %0 : tensor<?x?x2x4xf32>
}

// -----

// The final RMSNorm and the output head run on the gathered rows in
// @prefill: B rows, not B x S. @forward keeps every position's logits.
// CHECK-LABEL: func.func @forward(
// CHECK: %[[N:.*]] = dsc.rms_norm %{{.*}} -> tensor<?x?x2x4xf32>
// CHECK: dsc.linear %[[N]], %{{.*}} -> tensor<?x?x2x6xf32>
// CHECK-LABEL: func.func @prefill(
// CHECK-SAME: -> (tensor<?x1x2x6xf32> {dsc.output = "logits"}, tensor<1x?x?x10xf32> {dsc.output = "latents"})
// CHECK: %[[L:.*]]:2 = call @layer_prefill(
// CHECK-NOT: dsc.rms_norm
// CHECK: %[[ROWS:.*]] = linalg.generic
// CHECK: tensor.extract %[[L]]#0
// CHECK-NOT: dsc.rms_norm
// CHECK: %[[RN:.*]] = dsc.rms_norm %[[ROWS]], %{{.*}} : (tensor<?x1x2x4xf32>, tensor<4xf32>) -> tensor<?x1x2x4xf32>
// CHECK: %[[HEAD:.*]] = dsc.linear %[[RN]], %{{.*}} : (tensor<?x1x2x4xf32>, tensor<6x4xf32>) -> tensor<?x1x2x6xf32>
// CHECK: return %[[HEAD]],
func.func private @layer(%qn: tensor<?x?x2x4xf32>, %qp: tensor<?x?x2x2xf32>, %c: tensor<?x?x8xf32>, %k: tensor<?x?x2xf32>, %pos: tensor<?x?xi64>, %w: tensor<16x8xf32>) -> tensor<?x?x2x4xf32> {
  %qr = dsc.rope %qp, %pos {theta = 1.0e4 : f64} : (tensor<?x?x2x2xf32>, tensor<?x?xi64>) -> tensor<?x?x2x2xf32>
  %o = dsc.mla %qn, %qr, %c, %k, %w {scale = 0.5 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x2x4xf32>, tensor<?x?x2x2xf32>, tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<16x8xf32>) -> tensor<?x?x2x4xf32>
  return %o : tensor<?x?x2x4xf32>
}
func.func @forward(%t: tensor<?x?xi64>) -> tensor<?x?x2x6xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %t, %c0 : tensor<?x?xi64>
  %s = tensor.dim %t, %c1 : tensor<?x?xi64>
  %qn = tensor.empty(%b, %s) : tensor<?x?x2x4xf32>
  %qp = tensor.empty(%b, %s) : tensor<?x?x2x2xf32>
  %c = tensor.empty(%b, %s) : tensor<?x?x8xf32>
  %k = tensor.empty(%b, %s) : tensor<?x?x2xf32>
  %w = dsc.weight "kv_b" : tensor<16x8xf32>
  %0 = call @layer(%qn, %qp, %c, %k, %t, %w) : (tensor<?x?x2x4xf32>, tensor<?x?x2x2xf32>, tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<?x?xi64>, tensor<16x8xf32>) -> tensor<?x?x2x4xf32>
  %nw = dsc.weight "model.norm.weight" : tensor<4xf32>
  %n = dsc.rms_norm %0, %nw {epsilon = 1.0e-06 : f64} : (tensor<?x?x2x4xf32>, tensor<4xf32>) -> tensor<?x?x2x4xf32>
  %hw = dsc.weight "lm_head.weight" : tensor<6x4xf32>
  %h = dsc.linear %n, %hw : (tensor<?x?x2x4xf32>, tensor<6x4xf32>) -> tensor<?x?x2x6xf32>
  return %h : tensor<?x?x2x6xf32>
}

// -----

// The tail stops at an op that is not a norm or a linear layer (here a sum
// of a head's and the norm's rows, which also have other readers): the rows
// are gathered after it, and only the last head runs on them.
// CHECK-LABEL: func.func @prefill(
// CHECK: %[[N:.*]] = dsc.rms_norm %{{.*}} -> tensor<?x?x2x4xf32>
// CHECK: %[[ROWS:.*]] = linalg.generic
// CHECK: tensor.extract %{{.*}}
// CHECK: %[[HEAD:.*]] = dsc.linear %[[ROWS]], %{{.*}} -> tensor<?x1x2x4xf32>
// CHECK: return %[[HEAD]],
func.func private @layer(%qn: tensor<?x?x2x4xf32>, %qp: tensor<?x?x2x2xf32>, %c: tensor<?x?x8xf32>, %k: tensor<?x?x2xf32>, %pos: tensor<?x?xi64>, %w: tensor<16x8xf32>) -> tensor<?x?x2x4xf32> {
  %qr = dsc.rope %qp, %pos {theta = 1.0e4 : f64} : (tensor<?x?x2x2xf32>, tensor<?x?xi64>) -> tensor<?x?x2x2xf32>
  %o = dsc.mla %qn, %qr, %c, %k, %w {scale = 0.5 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x2x4xf32>, tensor<?x?x2x2xf32>, tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<16x8xf32>) -> tensor<?x?x2x4xf32>
  return %o : tensor<?x?x2x4xf32>
}
func.func @forward(%t: tensor<?x?xi64>) -> tensor<?x?x2x4xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %t, %c0 : tensor<?x?xi64>
  %s = tensor.dim %t, %c1 : tensor<?x?xi64>
  %qn = tensor.empty(%b, %s) : tensor<?x?x2x4xf32>
  %qp = tensor.empty(%b, %s) : tensor<?x?x2x2xf32>
  %c = tensor.empty(%b, %s) : tensor<?x?x8xf32>
  %k = tensor.empty(%b, %s) : tensor<?x?x2xf32>
  %w = dsc.weight "kv_b" : tensor<16x8xf32>
  %0 = call @layer(%qn, %qp, %c, %k, %t, %w) : (tensor<?x?x2x4xf32>, tensor<?x?x2x2xf32>, tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<?x?xi64>, tensor<16x8xf32>) -> tensor<?x?x2x4xf32>
  %nw = dsc.weight "model.norm.weight" : tensor<4xf32>
  %n = dsc.rms_norm %0, %nw {epsilon = 1.0e-06 : f64} : (tensor<?x?x2x4xf32>, tensor<4xf32>) -> tensor<?x?x2x4xf32>
  %hw = dsc.weight "lm_head.weight" : tensor<4x4xf32>
  %h = dsc.linear %n, %hw : (tensor<?x?x2x4xf32>, tensor<4x4xf32>) -> tensor<?x?x2x4xf32>
  %sum = arith.addf %h, %n : tensor<?x?x2x4xf32>
  %h2 = dsc.linear %sum, %hw : (tensor<?x?x2x4xf32>, tensor<4x4xf32>) -> tensor<?x?x2x4xf32>
  return %h2 : tensor<?x?x2x4xf32>
}

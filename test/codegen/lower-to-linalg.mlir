// RUN: dsc-opt %s --split-input-file --dsc-lower-to-linalg | FileCheck %s
// RUN: dsc-opt %s --split-input-file --dsc-lower-to-linalg=plain-attention | FileCheck %s --check-prefix=PLAIN
// RUN: dsc-opt %s --split-input-file --dsc-lower-to-linalg=key-row-loops | FileCheck %s --check-prefix=KEYROWS

// CHECK-LABEL: func.func @rms_norm
// CHECK-NOT: dsc.rms_norm
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: linalg.generic {{.*}}ins(%{{.*}}, %[[SUM]], %{{.*}} :
// CHECK: arith.divf %{{.*}}, %{{.*}} : f32
// CHECK: math.rsqrt
func.func @rms_norm(%x: tensor<?x64xf32>, %w: tensor<64xf32>) -> tensor<?x64xf32> {
  %0 = dsc.rms_norm %x, %w {epsilon = 1.0e-06 : f64} : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

// The YaRN-scaled inverse frequencies are folded into a constant at compile
// time; cos and sin are tabled once per position and pair ([B, S, 4]), not
// per element; adjacent pairs rotate together.
// CHECK-LABEL: func.func @rope
// CHECK: %[[FREQ:.*]] = arith.constant dense<[1.000000e+00, 2.500000e-02, 2.500000e-03, 2.500000e-04]> : tensor<4xf32>
// CHECK: %[[TABLES:.*]]:2 = linalg.generic {{.*}} ins(%{{.*}}, %[[FREQ]] : tensor<?x?xi64>, tensor<4xf32>)
// CHECK: math.cos
// CHECK: math.sin
// CHECK: -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>)
// CHECK: linalg.generic
// CHECK: arith.remui
// CHECK: tensor.extract %[[TABLES]]#0
// CHECK: tensor.extract %[[TABLES]]#1
// CHECK-NOT: math.cos
func.func @rope(%x: tensor<?x?x8xf32>, %p: tensor<?x?xi64>) -> tensor<?x?x8xf32> {
  %0 = dsc.rope %x, %p {theta = 1.0e4 : f64, interleaved, yarn = #dsc.yarn<factor = 4.0, original_max_position = 32, beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 1.0>} : (tensor<?x?x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

// With a frequency table the tables read it; a positions dimension of 1 is
// read at 0 whatever the row (the batch and heads share the positions).
// CHECK-LABEL: func.func @rope_frequencies
// CHECK: %[[C0:.*]] = arith.constant 0 : index
// CHECK: %[[TABLES:.*]]:2 = linalg.generic {{.*}} ins(%arg1, %arg2 : tensor<1x1x?xi64>, tensor<4xf32>)
// CHECK: -> (tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
// CHECK: linalg.generic
// CHECK: %[[S:.*]] = linalg.index 2 : index
// CHECK: tensor.extract %[[TABLES]]#0[%[[C0]], %[[C0]], %[[S]], %{{.*}}]
func.func @rope_frequencies(%x: tensor<?x4x?x8xf32>, %p: tensor<1x1x?xi64>, %f: tensor<4xf32>) -> tensor<?x4x?x8xf32> {
  %0 = dsc.rope %x, %p frequencies %f : (tensor<?x4x?x8xf32>, tensor<1x1x?xi64>, tensor<4xf32>) -> tensor<?x4x?x8xf32>
  return %0 : tensor<?x4x?x8xf32>
}

// -----

// CHECK-DAG: #[[ID3:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[SCALE:.*]] = affine_map<(d0, d1, d2) -> (d0 floordiv 2, d1)>
// CHECK-LABEL: func.func @linear_fp8
// Dequantize along whole column blocks: the weight [4, 8] as [4, 2, 4],
// the block scale [o / 2, block] fixed along the innermost loop.
// CHECK: %[[BLOCKS:.*]] = tensor.expand_shape %arg1 {{\[\[}}0], [1, 2]] output_shape [4, 2, 4]
// CHECK: linalg.generic {indexing_maps = [#[[ID3]], #[[SCALE]], #[[ID3]]]{{.*}} ins(%[[BLOCKS]], %arg2 : tensor<4x2x4xf8E4M3FN>, tensor<2x2xf32>)
// CHECK: arith.bitcast %{{.*}} : f8E4M3FN to i8
// CHECK: tensor.collapse_shape {{.*}} into tensor<4x8xf32>
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
func.func @linear_fp8(%x: tensor<?x8xf32>, %w: tensor<4x8xf8E4M3FN>, %s: tensor<2x2xf32>) -> tensor<?x4xf32> {
  %0 = dsc.linear %x, %w scales %s {block_size = array<i64: 2, 4>} : (tensor<?x8xf32>, tensor<4x8xf8E4M3FN>, tensor<2x2xf32>) -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

// CHECK-LABEL: func.func @embed
// CHECK: linalg.generic
// CHECK: arith.index_cast
// CHECK: arith.select
// CHECK: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<16x8xf32>
func.func @embed(%t: tensor<16x8xf32>, %ids: tensor<?x?xi64>) -> tensor<?x?x8xf32> {
  %0 = dsc.embed %t, %ids : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

// A bf16 table read as f32 (the CPU's, bound as a BF16 checkpoint stores
// it): each value widened as it is gathered.
// CHECK-LABEL: func.func @embed_bf16
// CHECK: linalg.generic
// CHECK: %[[V:.*]] = tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<16x8xbf16>
// CHECK: %[[W:.*]] = arith.extf %[[V]] : bf16 to f32
// CHECK: linalg.yield %[[W]] : f32
func.func @embed_bf16(%t: tensor<16x8xbf16>, %ids: tensor<?x?xi64>) -> tensor<?x?x8xf32> {
  %0 = dsc.embed %t, %ids : (tensor<16x8xbf16>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

// CHECK-LABEL: func.func @swiglu
// CHECK: linalg.generic
// CHECK: arith.negf
// CHECK: math.exp
// CHECK: arith.divf
// CHECK: arith.mulf
func.func @swiglu(%g: tensor<?x8xf32>, %u: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = dsc.swiglu %g, %u : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// Sigmoid router with correction bias and group limit: top-2-sum group
// scores, group top-k, then expert top-k, both through dsc.topk as
// argmax-and-mask loops.
// CHECK-LABEL: func.func @gate_v3
// CHECK: math.exp
// CHECK: tensor.expand_shape {{.*}} into tensor<?x4x4xf32>
// CHECK: arith.maximumf
// CHECK: scf.for {{.*}} to %c2
// CHECK: scf.for {{.*}} to %c4
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: arith.divf
func.func @gate_v3(%x: tensor<?x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> (tensor<?x4xf32>, tensor<?x4xi64>) {
  %0:2 = dsc.gate %x, %w bias %b {scoring = #dsc<scoring sigmoid>, topk_method = #dsc<topk_method noaux_tc>, top_k = 4 : i64, n_group = 4 : i64, topk_group = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 2.5 : f64} : (tensor<?x8xf32>, tensor<16x8xf32>, tensor<16xf32>) -> (tensor<?x4xf32>, tensor<?x4xi64>)
  return %0#0, %0#1 : tensor<?x4xf32>, tensor<?x4xi64>
}

// -----

// Softmax router, plain top-k, no normalisation, no group limit.
// CHECK-LABEL: func.func @gate_v2_lite
// CHECK-NOT: tensor.expand_shape
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: scf.for {{.*}} to %c6
func.func @gate_v2_lite(%x: tensor<?x8xf32>, %w: tensor<16x8xf32>) -> (tensor<?x6xf32>, tensor<?x6xi64>) {
  %0:2 = dsc.gate %x, %w {scoring = #dsc<scoring softmax>, topk_method = #dsc<topk_method greedy>, top_k = 6 : i64, n_group = 1 : i64, topk_group = 1 : i64, norm_topk_prob = false, routed_scaling_factor = 1.0 : f64} : (tensor<?x8xf32>, tensor<16x8xf32>) -> (tensor<?x6xf32>, tensor<?x6xi64>)
  return %0#0, %0#1 : tensor<?x6xf32>, tensor<?x6xi64>
}

// -----

// Sparse dispatch: count, place, gather, grouped GEMMs per expert over its
// contiguous rows (gate and up one generic each: one accumulator per loop
// nest, which LLVM vectorizes), SwiGLU, down projection, weighted combine.
// CHECK-LABEL: func.func @moe
// CHECK: scf.for
// CHECK: tensor.insert
// CHECK: scf.for
// CHECK: scf.for {{.*}} -> (tensor<16xi64>, tensor<?xi64>, tensor<?xf32>, tensor<?x4xi64>)
// CHECK: linalg.generic
// CHECK: scf.for {{.*}} -> (tensor<?x32xf32>, tensor<?x32xf32>)
// CHECK: tensor.extract_slice {{.*}} to tensor<?x64xf32>
// CHECK: %[[GATE:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<32x64xf32>)
// CHECK: tensor.insert_slice %[[GATE]]
// CHECK: %[[UP:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<32x64xf32>)
// CHECK: tensor.insert_slice %[[UP]]
// CHECK: math.exp
// CHECK: scf.for {{.*}} -> (tensor<?x64xf32>)
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
func.func @moe(%x: tensor<?x64xf32>, %w: tensor<?x4xf32>, %i: tensor<?x4xi64>, %g: tensor<16x32x64xf32>, %u: tensor<16x32x64xf32>, %d: tensor<16x64x32xf32>) -> tensor<?x64xf32> {
  %0 = dsc.moe %x, %w, %i experts(%g, %u, %d) : (tensor<?x64xf32>, tensor<?x4xf32>, tensor<?x4xi64>, tensor<16x32x64xf32>, tensor<16x32x64xf32>, tensor<16x64x32xf32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

// Shared experts: after the routed combine, the shared MLP of every token
// (its linears dequantize FP8 with their block scales), added.
// CHECK-LABEL: func.func @moe_shared
// CHECK: scf.for {{.*}} -> (tensor<?x64xf32>)
// CHECK: %[[ROUTED:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction", "parallel"]{{.*}} ins(%{{.*}} : tensor<?x4xi64>)
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<32x4x16xf8E4M3FN>, tensor<2x4xf32>)
// CHECK: } -> tensor<?x32xf32>
// CHECK: math.exp
// CHECK: } -> tensor<?x64xf32>
// CHECK: linalg.generic {{.*}} ins(%[[ROUTED]], %{{.*}} : tensor<?x64xf32>, tensor<?x64xf32>)
// CHECK: arith.addf
func.func @moe_shared(%x: tensor<?x64xf32>, %w: tensor<?x4xf32>, %i: tensor<?x4xi64>, %g: tensor<16x32x64xf32>, %u: tensor<16x32x64xf32>, %d: tensor<16x64x32xf32>, %sg: tensor<32x64xf8E4M3FN>, %sd: tensor<64x32xf8E4M3FN>, %s1: tensor<2x4xf32>, %s2: tensor<4x2xf32>) -> tensor<?x64xf32> {
  %0 = dsc.moe %x, %w, %i experts(%g, %u, %d) shared(%sg, %sg, %sd, %s1, %s1, %s2) {shared_block_size = array<i64: 16, 16>} : (tensor<?x64xf32>, tensor<?x4xf32>, tensor<?x4xi64>, tensor<16x32x64xf32>, tensor<16x32x64xf32>, tensor<16x64x32xf32>, tensor<32x64xf8E4M3FN>, tensor<32x64xf8E4M3FN>, tensor<64x32xf8E4M3FN>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<4x2xf32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

// FP8 routed experts: an expert with rows dequantizes its own matrices
// (along whole column blocks) inside its GEMM loop; one without is skipped.
// CHECK-LABEL: func.func @moe_fp8
// CHECK: scf.for {{.*}} -> (tensor<?x32xf32>, tensor<?x32xf32>)
// CHECK: %[[ANY:.*]] = arith.cmpi ne
// CHECK: scf.if %[[ANY]] -> (tensor<?x32xf32>, tensor<?x32xf32>)
// CHECK: tensor.extract_slice %arg3[%{{.*}}, 0, 0] [1, 32, 64] [1, 1, 1] : tensor<16x32x64xf8E4M3FN> to tensor<32x64xf8E4M3FN>
// CHECK: tensor.extract_slice %arg5[%{{.*}}, 0, 0] [1, 2, 4] [1, 1, 1] : tensor<16x2x4xf32> to tensor<2x4xf32>
// CHECK: tensor.expand_shape {{.*}} into tensor<32x4x16xf8E4M3FN>
// CHECK: } else {
// CHECK-NEXT: scf.yield %{{.*}}, %{{.*}} : tensor<?x32xf32>, tensor<?x32xf32>
// CHECK: scf.if %{{.*}} -> (tensor<?x64xf32>)
// CHECK: tensor.extract_slice %arg6
// CHECK-NOT: tensor<16x32x64xf32>
func.func @moe_fp8(%x: tensor<?x64xf32>, %w: tensor<?x4xf32>, %i: tensor<?x4xi64>, %g: tensor<16x32x64xf8E4M3FN>, %d: tensor<16x64x32xf8E4M3FN>, %gs: tensor<16x2x4xf32>, %ds: tensor<16x4x2xf32>) -> tensor<?x64xf32> {
  %0 = dsc.moe %x, %w, %i experts(%g, %g, %d) scales(%gs, %gs, %ds) {expert_block_size = array<i64: 16, 16>} : (tensor<?x64xf32>, tensor<?x4xf32>, tensor<?x4xi64>, tensor<16x32x64xf8E4M3FN>, tensor<16x32x64xf8E4M3FN>, tensor<16x64x32xf8E4M3FN>, tensor<16x2x4xf32>, tensor<16x2x4xf32>, tensor<16x4x2xf32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

// Naive: decompress per-head keys and values from the latent, then attend.
// The keys are copied transposed ([B, H, d, T] and [B, dr, T]) once; the
// queries go in blocks of 32, each over the keys up to its last row.
// CHECK-LABEL: func.func @mla_naive
// CHECK: } -> tensor<?x?x128xf32>
// CHECK: tensor.expand_shape {{.*}} into tensor<?x?x4x32xf32>
// CHECK: tensor.extract_slice {{.*}} to tensor<?x?x4x16xf32>
// CHECK: } -> tensor<?x4x16x?xf32>
// CHECK: } -> tensor<?x8x?xf32>
// CHECK: scf.for %[[START:.*]] = %c0 to %{{.*}} step %c32 iter_args
// CHECK: %[[ROWS:.*]] = arith.minui %{{.*}}, %c32
// CHECK: %[[KEYS:.*]] = arith.addi %[[START]], %[[ROWS]] : index
// CHECK: tensor.extract_slice %{{.*}}[0, 0, 0] [%{{.*}}, 8, %[[KEYS]]]
// CHECK: tensor.extract_slice %arg1[0, %[[START]], 0, 0] [%{{.*}}, %[[ROWS]], 4, 8]
// CHECK: linalg.index 2
// CHECK: arith.addi %{{.*}}, %[[START]] : index
// CHECK: arith.cmpi ugt
// CHECK: math.exp
// CHECK: tensor.insert_slice %{{.*}} into %{{.*}}[0, %[[START]], 0, 0]
// With plain-attention: the form the frontends produce, all at once.
// PLAIN-LABEL: func.func @mla_naive
// PLAIN-NOT: scf.for
// PLAIN-NOT: tensor<?x4x16x?xf32>
// PLAIN: math.exp
// PLAIN-NOT: scf.for
// PLAIN: return
func.func @mla_naive(%qn: tensor<?x?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x?x32xf32>, %kp: tensor<?x?x8xf32>, %w: tensor<128x32xf32>) -> tensor<?x?x4x16xf32> {
  %0 = dsc.mla %qn, %qp, %c, %kp, %w {scale = 0.25 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf32>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}

// -----

// With the graph's mask: no query blocks (the mask may show any key), and
// the mask [b, 0, i, j] is added to the scaled scores instead of the causal
// select.
// CHECK-LABEL: func.func @mla_masked
// CHECK-NOT: scf.for
// CHECK: %[[ROWS:.*]] = tensor.collapse_shape %arg5 {{\[}}[0, 1], [2], [3]] : tensor<?x1x?x?xf32> into tensor<?x?x?xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[ROWS]] : tensor<?x4x?x?xf32>, tensor<?x?x?xf32>)
// CHECK-NEXT: ^bb0
// CHECK-NEXT: arith.mulf
// CHECK-NEXT: arith.addf
// CHECK-NOT: arith.cmpi ugt
// CHECK: math.exp
func.func @mla_masked(%qn: tensor<?x?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x?x32xf32>, %kp: tensor<?x?x8xf32>, %w: tensor<128x32xf32>, %m: tensor<?x1x?x?xf32>) -> tensor<?x?x4x16xf32> {
  %0 = dsc.mla %qn, %qp, %c, %kp, %w mask %m {scale = 0.25 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf32>, tensor<?x1x?x?xf32>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}

// -----

// Absorbed: W_UK into the queries ([B, S, H, C]), attention over the latent
// shared by all heads, W_UV into the outputs; nothing is decompressed.
// CHECK-LABEL: func.func @mla_absorbed
// CHECK: tensor.expand_shape {{.*}} into tensor<4x32x32xf32>
// CHECK: tensor.extract_slice {{.*}}[0, 0, 0] [4, 16, 32] [1, 1, 1]
// CHECK: tensor.extract_slice {{.*}}[0, 16, 0] [4, 16, 32] [1, 1, 1]
// CHECK: } -> tensor<?x?x4x32xf32>
// CHECK: math.exp
// CHECK: } -> tensor<?x?x4x32xf32>
// CHECK: } -> tensor<?x?x4x16xf32>
// CHECK-NOT: tensor<?x?x128xf32>
func.func @mla_absorbed(%qn: tensor<?x?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x?x32xf32>, %kp: tensor<?x?x8xf32>, %w: tensor<128x32xf32>) -> tensor<?x?x4x16xf32> {
  %0 = dsc.mla %qn, %qp, %c, %kp, %w {scale = 0.25 : f64, form = #dsc<mla_form absorbed>} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf32>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}

// -----

// kv_b joined from separate halves (FuseExportedAbsorbedMla, for graphs that
// hold W_UK and W_UV as two weights): the absorbed form reads the halves
// themselves, and the join is left dead (canonicalize removes it).
// CHECK-LABEL: func.func @mla_absorbed_joined_halves
// CHECK-NOT: tensor.expand_shape {{.*}} into tensor<4x32x32xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %arg4 : tensor<?x?x4x16xf32>, tensor<4x16x32xf32>)
// CHECK: } -> tensor<?x?x4x32xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %arg5 : tensor<?x?x4x32xf32>, tensor<4x16x32xf32>)
// CHECK: } -> tensor<?x?x4x16xf32>
// RUN: dsc-opt %s --split-input-file --dsc-lower-to-linalg --canonicalize | FileCheck %s --check-prefix=JOINED
// JOINED-LABEL: func.func @mla_absorbed_joined_halves
// JOINED-NOT: tensor.insert_slice %arg{{[45]}}
// JOINED-NOT: tensor.collapse_shape {{.*}} into tensor<128x32xf32>
// JOINED: return
func.func @mla_absorbed_joined_halves(%qn: tensor<?x?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x?x32xf32>, %kp: tensor<?x?x8xf32>, %uk: tensor<4x16x32xf32>, %uv: tensor<4x16x32xf32>) -> tensor<?x?x4x16xf32> {
  %empty = tensor.empty() : tensor<4x32x32xf32>
  %first = tensor.insert_slice %uk into %empty[0, 0, 0] [4, 16, 32] [1, 1, 1] : tensor<4x16x32xf32> into tensor<4x32x32xf32>
  %both = tensor.insert_slice %uv into %first[0, 16, 0] [4, 16, 32] [1, 1, 1] : tensor<4x16x32xf32> into tensor<4x32x32xf32>
  %w = tensor.collapse_shape %both [[0, 1], [2]] : tensor<4x32x32xf32> into tensor<128x32xf32>
  %0 = dsc.mla %qn, %qp, %c, %kp, %w {scale = 0.25 : f64, form = #dsc<mla_form absorbed>} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf32>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}

// -----

// Decode: the keys are gathered from the pages of each sequence's block
// table (j < past[b]) and from the new tokens (the rest), then the absorbed
// attention runs with query i of sequence b at position past[b] + i.
// CHECK-LABEL: func.func @mla_decode
// CHECK: linalg.generic {{.*}}iterator_types = ["reduction"]{{.*}} ins(%[[PAST:[^ ]*]] : tensor<?xi64>)
// CHECK: arith.maxsi
// CHECK: %[[KEYS:.*]] = linalg.generic
// CHECK: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<?x?xi64>
// CHECK: %[[CACHED:.*]] = tensor.extract %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}] : tensor<?x64x40xf32>
// CHECK: arith.select %{{.*}}, %[[CACHED]], %{{.*}} : f32
// CHECK: } -> tensor<?x?x40xf32>
// CHECK-DAG: tensor.extract_slice %[[KEYS]][0, 0, 0] {{.*}} to tensor<?x?x32xf32>
// CHECK-DAG: tensor.extract_slice %[[KEYS]][0, 0, 32] {{.*}} to tensor<?x?x8xf32>
// CHECK: tensor.extract %[[PAST]]
// CHECK: arith.cmpi ugt
// CHECK: math.exp
// CHECK: } -> tensor<?x1x4x16xf32>
// With key-row-loops (CPU code), the keys are gathered a row at a time:
// loops over the sequences and the key positions carry the latent and the
// rope keys; each key takes its two rows whole from its cache page
// (columns 0..32, then 32..40, page table[b, j / 64], row j % 64) or from
// its new token (j - past[b]), and puts them in place. An f32 row is
// inserted as it is.
// KEYROWS-LABEL: func.func @mla_decode(
// KEYROWS-SAME: %[[C:[a-z0-9_]+]]: tensor<?x1x32xf32>, %[[KP:[a-z0-9_]+]]: tensor<?x1x8xf32>, %{{[a-z0-9_]+}}: tensor<128x32xf32>, %[[CACHE:[a-z0-9_]+]]: tensor<?x64x40xf32>, %[[TABLE:[a-z0-9_]+]]: tensor<?x?xi64>, %[[PAST:[a-z0-9_]+]]: tensor<?xi64>)
// KEYROWS-NOT: tensor<?x?x40xf32>
// KEYROWS: %[[KEYS:.*]]:2 = scf.for %[[B:.*]] = %{{.*}} iter_args({{.*}}) -> (tensor<?x?x32xf32>, tensor<?x?x8xf32>) {
// KEYROWS: %[[SEEN64:.*]] = tensor.extract %[[PAST]][%[[B]]] : tensor<?xi64>
// KEYROWS: %[[SEEN:.*]] = arith.index_cast %[[SEEN64]] : i64 to index
// KEYROWS: scf.for %[[J:.*]] = %{{.*}} iter_args(%[[LATENT:.*]] = %{{.*}}, %[[ROPE:.*]] = %{{.*}}) -> (tensor<?x?x32xf32>, tensor<?x?x8xf32>) {
// KEYROWS: %[[CACHED:.*]] = arith.cmpi slt, %[[J]], %[[SEEN]] : index
// KEYROWS: scf.if %[[CACHED]] -> (tensor<?x?x32xf32>, tensor<?x?x8xf32>) {
// KEYROWS: %[[SLOT:.*]] = arith.divui %[[J]], %c64 : index
// KEYROWS: %[[SLOTMAX:.*]] = arith.maxsi %[[SLOT]], %c0 : index
// KEYROWS: %[[SLOTIN:.*]] = arith.minsi %[[SLOTMAX]], %{{.*}} : index
// KEYROWS: %[[PAGE64:.*]] = tensor.extract %[[TABLE]][%[[B]], %[[SLOTIN]]] : tensor<?x?xi64>
// KEYROWS: %[[PAGE0:.*]] = arith.index_cast %[[PAGE64]] : i64 to index
// KEYROWS: %[[PAGEMAX:.*]] = arith.maxsi %[[PAGE0]], %c0 : index
// KEYROWS: %[[PAGE:.*]] = arith.minsi %[[PAGEMAX]], %{{.*}} : index
// KEYROWS: %[[ROW:.*]] = arith.remui %[[J]], %c64 : index
// KEYROWS: %[[CL:.*]] = tensor.extract_slice %[[CACHE]][%[[PAGE]], %[[ROW]], 0] [1, 1, 32] [1, 1, 1] : tensor<?x64x40xf32> to tensor<1x1x32xf32>
// KEYROWS: %[[L1:.*]] = tensor.insert_slice %[[CL]] into %[[LATENT]][%[[B]], %[[J]], 0] [1, 1, 32]
// KEYROWS: %[[CR:.*]] = tensor.extract_slice %[[CACHE]][%[[PAGE]], %[[ROW]], 32] [1, 1, 8] [1, 1, 1] : tensor<?x64x40xf32> to tensor<1x1x8xf32>
// KEYROWS: %[[R1:.*]] = tensor.insert_slice %[[CR]] into %[[ROPE]][%[[B]], %[[J]], 0] [1, 1, 8]
// KEYROWS: scf.yield %[[L1]], %[[R1]]
// KEYROWS: } else {
// KEYROWS: %[[AFTER:.*]] = arith.subi %[[J]], %[[SEEN]] : index
// KEYROWS: %[[TOKMAX:.*]] = arith.maxsi %[[AFTER]], %c0 : index
// KEYROWS: %[[TOKEN:.*]] = arith.minsi %[[TOKMAX]], %c0 : index
// KEYROWS: %[[NL:.*]] = tensor.extract_slice %[[C]][%[[B]], %[[TOKEN]], 0] [1, 1, 32] [1, 1, 1] : tensor<?x1x32xf32> to tensor<1x1x32xf32>
// KEYROWS: %[[L2:.*]] = tensor.insert_slice %[[NL]] into %[[LATENT]][%[[B]], %[[J]], 0] [1, 1, 32]
// KEYROWS: %[[NR:.*]] = tensor.extract_slice %[[KP]][%[[B]], %[[TOKEN]], 0] [1, 1, 8] [1, 1, 1] : tensor<?x1x8xf32> to tensor<1x1x8xf32>
// KEYROWS: %[[R2:.*]] = tensor.insert_slice %[[NR]] into %[[ROPE]][%[[B]], %[[J]], 0] [1, 1, 8]
// KEYROWS: scf.yield %[[L2]], %[[R2]]
// KEYROWS: linalg.generic {{.*}} ins(%{{.*}}, %[[KEYS]]#0 : tensor<?x1x4x32xf32>, tensor<?x?x32xf32>)
// KEYROWS: linalg.generic {{.*}} ins(%{{.*}}, %[[KEYS]]#1 : tensor<?x1x4x8xf32>, tensor<?x?x8xf32>)
// KEYROWS: math.exp
func.func @mla_decode(%qn: tensor<?x1x4x16xf32>, %qp: tensor<?x1x4x8xf32>, %c: tensor<?x1x32xf32>, %kp: tensor<?x1x8xf32>, %w: tensor<128x32xf32>, %pages: tensor<?x64x40xf32>, %table: tensor<?x?xi64>, %past: tensor<?xi64>) -> tensor<?x1x4x16xf32> {
  %0 = dsc.mla_decode %qn, %qp, %c, %kp, %w cache(%pages, %table, %past) {scale = 0.25 : f64} : (tensor<?x1x4x16xf32>, tensor<?x1x4x8xf32>, tensor<?x1x32xf32>, tensor<?x1x8xf32>, tensor<128x32xf32>, tensor<?x64x40xf32>, tensor<?x?xi64>, tensor<?xi64>) -> tensor<?x1x4x16xf32>
  return %0 : tensor<?x1x4x16xf32>
}

// -----

// A bf16 cache: each cached value is widened to f32 as it is gathered.
// CHECK-LABEL: func.func @mla_decode_bf16_cache
// CHECK: %[[CACHED:.*]] = tensor.extract %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}] : tensor<?x64x40xbf16>
// CHECK: %[[WIDE:.*]] = arith.extf %[[CACHED]] : bf16 to f32
// CHECK: arith.select %{{.*}}, %[[WIDE]], %{{.*}} : f32
// CHECK: } -> tensor<?x?x40xf32>
// A bf16 cache's rows are widened by an elementwise generic into place;
// the new tokens' f32 rows are inserted as they are.
// KEYROWS-LABEL: func.func @mla_decode_bf16_cache
// KEYROWS: scf.if
// KEYROWS: %[[ROW:.*]] = tensor.extract_slice %{{.*}}[%{{.*}}, %{{.*}}, 0] [1, 1, 32] [1, 1, 1] : tensor<?x64x40xbf16> to tensor<1x1x32xbf16>
// KEYROWS: %[[SLOT:.*]] = tensor.extract_slice %{{.*}}[%{{.*}}, %{{.*}}, 0] [1, 1, 32] [1, 1, 1] : tensor<?x?x32xf32> to tensor<1x1x32xf32>
// KEYROWS: %[[WIDE:.*]] = linalg.generic {{.*}} ins(%[[ROW]] : tensor<1x1x32xbf16>) outs(%[[SLOT]] : tensor<1x1x32xf32>)
// KEYROWS: arith.extf %{{.*}} : bf16 to f32
// KEYROWS: tensor.insert_slice %[[WIDE]] into
// KEYROWS: tensor<?x64x40xbf16> to tensor<1x1x8xbf16>
// KEYROWS: } else {
// KEYROWS-NOT: linalg.generic
// KEYROWS: scf.yield
func.func @mla_decode_bf16_cache(%qn: tensor<?x1x4x16xf32>, %qp: tensor<?x1x4x8xf32>, %c: tensor<?x1x32xf32>, %kp: tensor<?x1x8xf32>, %w: tensor<128x32xf32>, %pages: tensor<?x64x40xbf16>, %table: tensor<?x?xi64>, %past: tensor<?xi64>) -> tensor<?x1x4x16xf32> {
  %0 = dsc.mla_decode %qn, %qp, %c, %kp, %w cache(%pages, %table, %past) {scale = 0.25 : f64} : (tensor<?x1x4x16xf32>, tensor<?x1x4x8xf32>, tensor<?x1x32xf32>, tensor<?x1x8xf32>, tensor<128x32xf32>, tensor<?x64x40xbf16>, tensor<?x?xi64>, tensor<?xi64>) -> tensor<?x1x4x16xf32>
  return %0 : tensor<?x1x4x16xf32>
}

// -----

// add + RMSNorm: the sum, then the norm of the sum (one reduction, one
// elementwise generic), both returned.
// CHECK-LABEL: func.func @add_rms_norm
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} ins(%arg0, %arg1 : tensor<?x?x8xf32>, tensor<?x?x8xf32>)
// CHECK: arith.addf
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} ins(%[[SUM]] : tensor<?x?x8xf32>)
// CHECK: %[[NORM:.*]] = linalg.generic {{.*}} ins(%[[SUM]], %{{.*}}, %arg2 : tensor<?x?x8xf32>, tensor<?x?xf32>, tensor<8xf32>)
// CHECK: math.rsqrt
// CHECK: return %[[SUM]], %[[NORM]]
func.func @add_rms_norm(%x: tensor<?x?x8xf32>, %r: tensor<?x?x8xf32>, %w: tensor<8xf32>) -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>) {
  %s, %n = dsc.add_rms_norm %x, %r, %w {epsilon = 1.0e-06 : f64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<8xf32>) -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>)
  return %s, %n : tensor<?x?x8xf32>, tensor<?x?x8xf32>
}

// -----

// dsc.topk in general (here rank 3) by ranks: each element's rank in its
// row (larger, or equal at a lower position, counts before it), then output
// j is the element of rank j.
// CHECK-LABEL: func.func @topk
// CHECK: %[[RANKS:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%arg0, %arg0 : tensor<?x2x16xf32>, tensor<?x2x16xf32>)
// CHECK: arith.cmpf ogt
// CHECK: arith.cmpi ult
// CHECK: %[[PICKED:.*]]:2 = linalg.generic {{.*}} ins(%arg0, %[[RANKS]] : tensor<?x2x16xf32>, tensor<?x2x16xi64>)
// CHECK: -> (tensor<?x2x4xf32>, tensor<?x2x4xi64>)
// CHECK: return %[[PICKED]]#0, %[[PICKED]]#1
func.func @topk(%x: tensor<?x2x16xf32>) -> (tensor<?x2x4xf32>, tensor<?x2x4xi64>) {
  %v, %i = dsc.topk %x {k = 4 : i64} : (tensor<?x2x16xf32>) -> (tensor<?x2x4xf32>, tensor<?x2x4xi64>)
  return %v, %i : tensor<?x2x4xf32>, tensor<?x2x4xi64>
}

// -----

// Rows of f32, the largest: k rounds of argmax-and-mask. A taken entry
// becomes NaN, which argmax skips, so that a row of -inf still yields k
// distinct positions.
// CHECK-LABEL: func.func @topk_rows
// CHECK: %[[NAN:.*]] = arith.constant 0x7FC00000 : f32
// CHECK: scf.for {{.*}} to %c4
// CHECK: arith.cmpf ord
// CHECK: arith.select %{{.*}}, %[[NAN]], %{{.*}} : f32
func.func @topk_rows(%x: tensor<?x16xf32>) -> (tensor<?x4xf32>, tensor<?x4xi64>) {
  %v, %i = dsc.topk %x {k = 4 : i64} : (tensor<?x16xf32>) -> (tensor<?x4xf32>, tensor<?x4xi64>)
  return %v, %i : tensor<?x4xf32>, tensor<?x4xi64>
}

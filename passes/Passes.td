//===- Passes.td - Graph passes ----------------------------*- tablegen -*-===//

#ifndef DSC_PASSES_PASSES_TD
#define DSC_PASSES_PASSES_TD

include "mlir/Pass/PassBase.td"

def DscDedupFunctions : Pass<"dsc-dedup-functions", "ModuleOp"> {
  let summary = "Merge structurally identical private functions";
  let description = [{
    The importer emits one function per decoder layer. Layers of the same
    kind and shape are identical up to their weights (which are arguments),
    so this pass keeps one function per equivalence class and redirects the
    calls: codegen then emits each distinct layer's kernels once.

    Before: `@layer_1`, `@layer_2` with equal bodies, called from `@forward`.
    After: only `@layer_1`, called twice.
  }];
  let statistics = [
    Statistic<"numMerged", "merged", "Number of functions merged away">
  ];
}

def DscFuseElementwise : Pass<"dsc-fuse-elementwise"> {
  let summary = "Rewrite decomposed RMSNorm, SwiGLU and RoPE into dsc ops";
  let description = [{
    Frontends that do not know DeepSeek spell RMSNorm, SwiGLU and RoPE out
    as arithmetic. This pass finds them by what an elementwise generic's body
    computes, seen as a product of factors (any order of multiplications,
    division or multiplication by a reciprocal, casts around values):

    - `x * w * rsqrt(sum_sq / width + eps)` (or `/ sqrt(...)`), where
      `sum_sq` is a reduction generic summing `x * x` (or `x^2`) over the
      last dimension of the same `x` and `w` is indexed by the last
      dimension: `dsc.rms_norm %x, %w {epsilon}`;
    - `g / (1 + exp(-g)) * u` (`g * sigmoid(g) * u`), g and u same-shaped:
      `dsc.swiglu %g, %u`;
    - a residual add (an elementwise add of two same-shaped tensors) whose
      sum is normalised: `%sum, %normed = dsc.add_rms_norm %x, %r, %w`;
    - `cat(a * cos - b * sin, b * cos + a * sin)` (transformers' rope,
      whose `rotate_half` an exporter splits into two generics), cos and
      sin elementwise of the same angles `sitofp(positions) * freqs[i]`
      (through reshapes, and a slice of `cat(freqs, freqs)`), broadcast over
      the heads: `dsc.rope %ab, %positions frequencies %freqs` on
      `cat(a, b)`, its positions reshaped to line up with the rotated rows.
      The report has its own `rope` row.

    The forms are those linalg's elementwise fusion leaves (one reduction,
    one elementwise generic), which is also how `dsc-compile
    --import-decomposed` imports them; with `chains`, the pass first merges
    an op-by-op graph (the ONNX importer's) into that form. Near misses (no
    epsilon, a mean over another width, a sigmoid of another value, halves
    rotated by different angles) stay, with the reason in the report;
    functions without a candidate get no report row.
  }];
  let dependentDialects = ["::mlir::dsc::DscDialect",
                           "::mlir::linalg::LinalgDialect"];
  let options = [
    Option<"report", "report", "bool", /*default=*/"false",
           "Emit one remark per function with a candidate: fused, or why not">,
    Option<"chains", "chains", "bool", /*default=*/"false",
           "First merge chains of one-op elementwise generics (a frontend's "
           "op-by-op graph) into their elementwise or reduction consumers">
  ];
  let statistics = [
    Statistic<"numFused", "fused",
              "Number of norms, activations and rotations fused">
  ];
}

def DscFuseMoe : Pass<"dsc-fuse-moe"> {
  let summary = "Rewrite dense masked experts into dsc.moe (sparse dispatch)";
  let description = [{
    Finds the experts computation of the canonical graph in its dense masked
    formulation, where every expert runs on every token and a
    [tokens, experts] routing matrix, zero off the top-k, masks the sum:

    ```
    combine[t, e] = sum_j (indices[t, j] == e ? weights[t, j] : 0)
    g[e, t, w] = sum_d x[t, d] gate[e, w, d];  u likewise with up
    a = dsc.swiglu g, u
    y[t, d] = sum_{e, w} combine[t, e] * a[e, t, w] * down[e, d, w]
    ```

    and replaces `y` with `dsc.moe %x, %weights, %indices experts(gate, up,
    down)`, which runs only the chosen experts. FP8 stacks that the importer
    dequantizes whole go in as stored, with `scales(...)`.

    It also finds the experts as torch.onnx.export writes transformers'
    `batched_mm` (per (token, k) slot: GatherND copies of the expert's
    gate_up and down matrices, batched MatMuls on the token's repeated row,
    SwiGLU of the two gate_up halves, the routing weight, a ReduceSum over
    k), which becomes `dsc.moe` with the gate and up halves of the stacked
    gate_up matrices. When the routed sum is then
    added to a SwiGLU MLP of the same tokens (DeepSeek's shared experts:
    three `dsc.linear`, FP8 or not), that MLP is fused in too:
    `dsc.moe ... shared(gate, up, down[, their scales])`. Near misses (another
    activation, a routing matrix that is not a one-hot scatter of the top-k,
    different contraction maps) are left alone, with the reason reported
    through `notifyMatchFailure`. With `report`, each function gets a remark
    `fusion report: <function>: moe: <status>`, where the status is
    `fused`, `not fused: <reason>` or `no experts`; `dsc-compile
    --fusion-report` prints them as a table.

    Then the router feeding a fused `dsc.moe`, when it is written out
    (transformers' DeepseekV3TopkRouter as an exporter writes it, top-k as
    `dsc.topk`), becomes `dsc.gate`: `sigmoid(x W^T)` scores, an optional
    correction bias added for choosing, the groups scored by the sum of
    their top 2 (`noaux_tc`) or their maximum (`group_limited_greedy`), the
    best `topk_group` kept through a scattered [tokens, groups] mask
    broadcast over each group's experts and a -inf fill, `dsc.topk` of the
    result, the unbiased scores at the chosen experts, divided by their sum
    or not, times a constant. Its own `router` report row; softmax routers
    are not matched yet, and a 0.0 fill (older DeepSeek code, which chooses
    differently) is a near miss.
  }];
  let dependentDialects = ["::mlir::dsc::DscDialect"];
  let options = [
    Option<"report", "report", "bool", /*default=*/"false",
           "Emit one remark per function saying what fused, or why not">
  ];
  let statistics = [
    Statistic<"numFused", "fused",
              "Number of expert computations and routers fused">
  ];
}

def DscFuseMla : Pass<"dsc-fuse-mla"> {
  let summary = "Rewrite naive latent attention into dsc.mla";
  let description = [{
    Finds multi-head latent attention in the canonical graph's naive form:
    per-head keys and values decompressed from the latent by `kv_b_proj`
    (`dsc.linear`, reshaped to heads and split into k_nope and v), causal
    attention whose scores sum a no-rope part (q_nope . k_nope) and a rope
    part (q_pe . k_pe, one key head shared by all), scaled, masked and
    softmaxed. It is replaced by one `dsc.mla` on the latent.

    The form follows the cost rule of `dsc.mla` (see its description): with
    queries and keys the same sequence (prefill), `naive` when
    dn + dv < 2 C, else `absorbed`. `form=naive|absorbed` forces one (the
    tests run both against the references).

    It also finds the already-absorbed formulation (DeepSeek's reference
    inference code with `attn_impl = "absorb"`; `dsc-compile
    --import-attention absorbed`): q_nope times the W_UK half of the
    per-head view of kv_b, scores on the latent itself plus the rope part,
    the same causal softmax, values on the latent, and the latent-space
    output times the W_UV half of the same view.

    Before: `dsc.linear %latent, %kv_b`, expand_shape, two extract_slices,
    the score, mask, softmax and value contractions (or the absorbed
    contractions).
    After: `%o = dsc.mla %q_nope, %q_pe, %latent, %k_pe, %kv_b {...}`.
  }];
  let dependentDialects = ["::mlir::dsc::DscDialect"];
  let options = [
    Option<"form", "form", "std::string", /*default=*/"\"auto\"",
           "auto (by cost), naive or absorbed">,
    Option<"report", "report", "bool", /*default=*/"false",
           "Emit one remark per function saying what fused, or why not">
  ];
  let statistics = [
    Statistic<"numFused", "fused", "Number of attention blocks fused">
  ];
}

def DscKvCache : Pass<"dsc-kv-cache", "ModuleOp"> {
  let summary = "Add KV-cached prefill and decode entry points";
  let description = [{
    Fused latent attention (`dsc.mla`) needs only its latent and rope key
    from earlier tokens, so generation can cache those and never recompute
    a token. From `@forward(tokens) -> logits` (which stays) this pass
    derives two entry points:

    ```
    @prefill(tokens [B, S], last_positions [B])
        -> (logits [B, 1, V], latents [L, B, S, W])
    @decode(tokens [B, S], past [B], block_table [B, max_pages],
            cache [L, pages, page_size, W]) -> (logits, latents)
    ```

    where L counts the attention layers and W = kv_lora_rank +
    qk_rope_head_dim. Prefill's logits are each sequence's at
    `last_positions[b]` (clamped into the sequence) only: the rows are
    gathered before the final `dsc.rms_norm` and `dsc.linear` head when
    they end `@forward` row by row, which then run on B rows, not B x S.
    `latents` holds each new token's cache entry (its latent, then its
    rotated rope key) in f32. Prefill's are for the caller to store; `@decode` is marked `dsc.stores_cache_entries`: after
    bufferization, codegen's `dsc-store-cache-entries` makes it store its
    entries into the cache itself (the attention reads only the cached
    tokens before `past[b]`, so the store comes last). The cache's element
    type is `cache-type` (a bf16 cache halves its bytes; entries are
    rounded to nearest even when stored). `@decode` continues sequences whose
    first `past[b]` tokens are cached: its `dsc.mla` ops become
    `dsc.mla_decode` over the pages of the block table, and its rope
    positions are offset by `past[b]`. Layer functions get `_prefill` and
    `_decode` variants (the decode one takes the cache, the block table,
    `past` and its first layer index), so deduplicated layers stay shared.
    `@forward` calls the `_prefill` variants too and drops their entries,
    and a private layer function nothing else calls is erased: one copy of
    each layer for codegen to lower and LLVM to optimize, not two.

    Every call in `@forward` must reach latent attention through a layer
    function holding fused `dsc.mla` ops at its top level. Attention with a
    mask from the graph (an exported graph's) gets a warning and no cache. A model without
    fused attention is left unchanged (generation then recomputes); one
    where only some layers fused gets a warning naming the first that did
    not, and is left unchanged too.
  }];
  let dependentDialects = ["::mlir::dsc::DscDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::arith::ArithDialect"];
  let options = [
    Option<"pageSize", "page-size", "int64_t", /*default=*/"64",
           "Tokens per cache page">,
    Option<"cacheType", "cache-type", "std::string", /*default=*/"\"f32\"",
           "Element type of the cache: f32, or bf16 (half the bytes; the "
           "entries are rounded when stored and read back as f32)">
  ];
  let statistics = [
    Statistic<"numLayers", "layers", "Attention layers with a KV cache">
  ];
}

#endif // DSC_PASSES_PASSES_TD

//===- DscOps.td - Operations of the dsc dialect -----------*- tablegen -*-===//
//
// The model-level operations of the canonical pre-fusion graph. Each op's
// semantics is defined by its decomposition in codegen/LowerToLinalg.cpp; the
// verifiers check only facts local to the op.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_OPS_TD
#define DSC_OPS_TD

include "dialects/dsc/DscDialect.td"
include "dialects/dsc/DscAttrs.td"
include "mlir/IR/OpBase.td"
include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.td"
include "mlir/Interfaces/DestinationStyleOpInterface.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

/// Tensors the model computes on; f32 in the reference path, bf16/f16 later.
def Dsc_FloatTensor : RankedTensorOf<[F32, BF16, F16]>;
/// Weights as checkpoints store them: also FP8 (with block scales).
def Dsc_WeightTensor : RankedTensorOf<[F32, BF16, F16, F8E4M3FN]>;
/// Token ids and positions.
def Dsc_IndexTensor : RankedTensorOf<[I32, I64]>;

//===----------------------------------------------------------------------===//
// WeightOp
//===----------------------------------------------------------------------===//

def Dsc_WeightOp : Dsc_Op<"weight", [Pure]> {
  let summary = "a model parameter, bound from the checkpoint at load time";
  let description = [{
    Names one runtime parameter. The artifact's manifest records, for each
    parameter, the checkpoint tensors it is built from and how (cast,
    dequantize, stack), so weights are bound when the artifact is loaded,
    not baked into the compiled code.

    With `stack = N` the parameter stacks the N checkpoint tensors named by
    substituting `0 .. N-1` for `{}` in `name` along a new leading dimension
    (the experts of one MoE layer).

    ```mlir
    %w = dsc.weight "model.norm.weight" : tensor<7168xf32>
    %g = dsc.weight "model.layers.3.mlp.experts.{}.gate_proj.weight" {stack = 256 : i64}
        : tensor<256x2048x7168xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, OptionalAttr<I64Attr>:$stack);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// EmbedOp
//===----------------------------------------------------------------------===//

def Dsc_EmbedOp : Dsc_Op<"embed", [Pure]> {
  let summary = "token embedding lookup";
  let description = [{
    `result[i..., d] = table[ids[i...], d]`. Token ids outside
    `[0, vocab)` read row 0 (the runtime rejects them before they get here).
    The result has the table's element type, or f32 for a bf16 table
    (widened exactly: the CPU binds a BF16 checkpoint's table as stored,
    dsc-bf16-linear-weights{embedding-tables}).

    ```mlir
    %h = dsc.embed %table, %ids
        : (tensor<129280x7168xf32>, tensor<?x?xi64>) -> tensor<?x?x7168xf32>
    ```
  }];
  let arguments = (ins Dsc_FloatTensor:$table, Dsc_IndexTensor:$ids);
  let results = (outs Dsc_FloatTensor:$result);
  let assemblyFormat =
      "$table `,` $ids attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// RmsNormOp
//===----------------------------------------------------------------------===//

def Dsc_RmsNormOp : Dsc_Op<"rms_norm", [Pure]> {
  let summary = "root-mean-square normalisation over the last dimension";
  let description = [{
    `y = x * rsqrt(mean(x^2, -1) + epsilon) * weight`, computed in f32.

    ```mlir
    %y = dsc.rms_norm %x, %w {epsilon = 1.0e-06 : f64}
        : (tensor<?x?x7168xf32>, tensor<7168xf32>) -> tensor<?x?x7168xf32>
    ```
  }];
  let arguments = (ins Dsc_FloatTensor:$input, Dsc_FloatTensor:$weight,
                       F64Attr:$epsilon);
  let results = (outs Dsc_FloatTensor:$result);
  let assemblyFormat =
      "$input `,` $weight attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// AddRmsNormOp
//===----------------------------------------------------------------------===//

def Dsc_AddRmsNormOp : Dsc_Op<"add_rms_norm", [Pure]> {
  let summary = "residual add followed by RMSNorm of the sum";
  let description = [{
    `sum = input + residual` and `normed = rms_norm(sum, weight, epsilon)`
    in one op, as a decoder layer adds the attention output to its residual
    stream and normalises the result for the MLP. A kernel reads both
    operands once and writes both results (the kernel library's fused add
    + RMSNorm); `sum` continues the residual stream.

    ```mlir
    %sum, %normed = dsc.add_rms_norm %x, %res, %w {epsilon = 1.0e-06 : f64}
        : (tensor<?x?x7168xf32>, tensor<?x?x7168xf32>, tensor<7168xf32>)
        -> (tensor<?x?x7168xf32>, tensor<?x?x7168xf32>)
    ```
  }];
  let arguments = (ins Dsc_FloatTensor:$input, Dsc_FloatTensor:$residual,
                       Dsc_FloatTensor:$weight, F64Attr:$epsilon);
  let results = (outs Dsc_FloatTensor:$sum, Dsc_FloatTensor:$normed);
  let assemblyFormat = [{
    $input `,` $residual `,` $weight attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// RopeOp
//===----------------------------------------------------------------------===//

def Dsc_RopeOp : Dsc_Op<"rope", [Pure]> {
  let summary = "rotary position embedding with optional YaRN scaling";
  let description = [{
    Rotates pairs of the last dimension (size d, even) of `input` by the
    angles `positions * f_i`. With `interleaved` the pairs are adjacent,
    `(x[2i], x[2i+1])` (DeepSeek's checkpoints); without it they are the two
    halves, `(x[i], x[i + d/2])`.

    The frequencies are either `f_i = theta^(-2i/d)`, rescaled (frequencies
    and magnitude) by `yarn` as described by `#dsc.yarn`, or the given
    `frequencies` tensor ([d/2], f32): the inverse-frequency table an
    exporter wrote, YaRN already applied. Exactly one of `theta` and
    `frequencies` is present.

    `positions` lines up with the leading dimensions of `input`; each of its
    dimensions equals the input's or is 1 (shared by all rows there). The
    importer's [batch, seq] positions rotate [batch, seq, heads, d] inputs;
    an exporter's [1, 1, seq] rotate [batch, heads, seq, d].

    ```mlir
    %r = dsc.rope %q_pe, %pos {theta = 1.0e+04 : f64, interleaved,
                               yarn = #dsc.yarn<factor = 40.0, ...>}
        : (tensor<?x?x128x64xf32>, tensor<?x?xi64>) -> tensor<?x?x128x64xf32>
    %e = dsc.rope %k, %pos frequencies %inv
        : (tensor<?x1x?x64xf32>, tensor<1x1x?xi64>, tensor<32xf32>)
        -> tensor<?x1x?x64xf32>
    ```
  }];
  let arguments = (ins Dsc_FloatTensor:$input, Dsc_IndexTensor:$positions,
                       Optional<RankedTensorOf<[F32]>>:$frequencies,
                       OptionalAttr<F64Attr>:$theta, UnitAttr:$interleaved,
                       OptionalAttr<Dsc_YarnAttr>:$yarn);
  let results = (outs Dsc_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $positions (`frequencies` $frequencies^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let extraClassDeclaration = [{
    /// f_i = theta^(-2i/dim), i < dim/2, rescaled by YaRN when `yarn` is
    /// set: the frequencies of a rope with `theta`.
    static SmallVector<float> inverseFrequencies(int64_t dim, double theta,
                                                YarnAttr yarn);
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

def Dsc_LinearOp : Dsc_Op<"linear", [Pure]> {
  let summary = "x times the transpose of a [out, in] weight";
  let description = [{
    `y[..., o] = sum_i x[..., i] * weight[o, i]`, accumulated in f32.

    FP8 weights carry their block scales: with `scales` (f32,
    `[ceil(out/bm), ceil(in/bn)]`) and `block_size = array<i64: bm, bn>`, the
    weight is `weight[o, i] * scales[o / bm, i / bn]` (DeepSeek's
    `weight_scale_inv`).

    ```mlir
    %y = dsc.linear %x, %w : (tensor<?x?x7168xf32>, tensor<1536x7168xf32>)
        -> tensor<?x?x1536xf32>
    %z = dsc.linear %x, %q scales %s {block_size = array<i64: 128, 128>}
        : (tensor<?x?x7168xf32>, tensor<1536x7168xf8E4M3FN>, tensor<12x56xf32>)
        -> tensor<?x?x1536xf32>
    ```
  }];
  let arguments = (ins Dsc_FloatTensor:$input,
                       RankedTensorOf<[F32, BF16, F16, F8E4M3FN]>:$weight,
                       Optional<RankedTensorOf<[F32]>>:$scales,
                       OptionalAttr<DenseI64ArrayAttr>:$block_size);
  let results = (outs Dsc_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`scales` $scales^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// GateOp
//===----------------------------------------------------------------------===//

def Dsc_GateOp : Dsc_Op<"gate", [Pure]> {
  let summary = "mixture-of-experts router: scores, group limit, top-k";
  let description = [{
    For each token row of `input` ([tokens, hidden]):
    1. `logits = input * weight^T` ([tokens, experts]); `scores` =
       sigmoid or softmax of the logits (`scoring`), in f32.
    2. Selection scores = scores + `bias` when present (choosing only).
    3. `noaux_tc` and `group_limited_greedy` split the experts into `n_group`
       groups and keep the `topk_group` best groups (group score: sum of the
       top-2 selection scores for `noaux_tc`, the max for
       `group_limited_greedy`); the other experts are masked to -inf.
    4. The `top_k` experts with the highest selection scores are chosen.
    5. Their weights are the original scores, divided by their sum when
       `norm_topk_prob`, times `routed_scaling_factor`.

    Results: the routing weights ([tokens, top_k], f32) and the chosen
    expert indices ([tokens, top_k], i64), in descending selection order.

    ```mlir
    %w, %idx = dsc.gate %x, %gw bias %b {scoring = #dsc<scoring sigmoid>,
        topk_method = #dsc<topk_method noaux_tc>, top_k = 8 : i64,
        n_group = 8 : i64, topk_group = 4 : i64, norm_topk_prob = true,
        routed_scaling_factor = 2.5 : f64}
        : (tensor<?x7168xf32>, tensor<256x7168xf32>, tensor<256xf32>)
        -> (tensor<?x8xf32>, tensor<?x8xi64>)
    ```
  }];
  let arguments = (ins Dsc_FloatTensor:$input, Dsc_FloatTensor:$weight,
                       Optional<Dsc_FloatTensor>:$bias,
                       Dsc_ScoringFuncAttr:$scoring,
                       Dsc_TopkMethodAttr:$topk_method,
                       I64Attr:$top_k, I64Attr:$n_group, I64Attr:$topk_group,
                       BoolAttr:$norm_topk_prob,
                       F64Attr:$routed_scaling_factor);
  let results = (outs RankedTensorOf<[F32]>:$weights,
                      RankedTensorOf<[I64]>:$indices);
  let assemblyFormat = [{
    $input `,` $weight (`bias` $bias^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// TopkOp
//===----------------------------------------------------------------------===//

def Dsc_TopkOp : Dsc_Op<"topk", [Pure]> {
  let summary = "the k largest (or smallest) entries along the last dimension";
  let description = [{
    For each row (the last dimension) of `input`: its `k` largest entries
    (smallest with `smallest`) and their positions in the row, in that
    order; equal entries are taken lowest position first. This is ONNX's
    TopK on the last axis and torch.topk with `sorted=True`; the ONNX
    importer writes it for TopK nodes, and dsc-fuse-moe reads routers
    through it.

    ```mlir
    %v, %i = dsc.topk %scores {k = 8 : i64}
        : (tensor<?x256xf32>) -> (tensor<?x8xf32>, tensor<?x8xi64>)
    ```
  }];
  let arguments = (ins RankedTensorOf<[AnyFloat, AnySignlessInteger]>:$input,
                       I64Attr:$k, UnitAttr:$smallest);
  let results = (outs RankedTensorOf<[AnyFloat, AnySignlessInteger]>:$values,
                      RankedTensorOf<[I64]>:$indices);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// MlaOp
//===----------------------------------------------------------------------===//

def Dsc_MlaOp : Dsc_Op<"mla", [Pure, AttrSizedOperandSegments]> {
  let summary = "multi-head latent attention (causal, or masked by the graph)";
  let description = [{
    DeepSeek's attention from its compressed form. With H heads, per-head
    no-rope width dn, rope width dr, value width dv and latent width C:
    `q_nope` [B, S, H, dn], `q_pe` [B, S, H, dr] (rotated), `latent`
    [B, S, C] (the normalised compressed KV, `c_n`), `k_pe` [B, S, dr] (the
    rotated rope key, one head shared by all) and `kv_b` [H * (dn + dv), C],
    whose rows are per head the dn rows of W_UK then the dv rows of W_UV
    (FP8 with `scales` and `block_size` as for `dsc.linear`).

    `result[b, i, h] = sum_{j <= i} p[b, h, i, j] * W_UV[h] latent[b, j]`
    with `p = softmax_j(scale * (q_nope[b, i, h] . W_UK[h] latent[b, j] +
    q_pe[b, i, h] . k_pe[b, j]))`, [B, S, H, dv].

    With `mask` [B, 1, S, S] (f32, shared by the heads), the mask is the
    graph's: it is added to the scaled scores in place of the causal one,
    and j runs over all S keys (attention as an exported graph spells it,
    its mask computed from the input). Such attention has no KV cache.

    `form` chooses the computation. `naive` decompresses k_nope and v per
    head (2 S C H (dn + dv) FLOPs) then attends over width dn + dr + dv;
    `absorbed` multiplies W_UK into the queries and W_UV into the outputs
    (the same 2 S C H (dn + dv)) and attends over the latent itself, width
    2 C + dr. With queries and keys of the same length (prefill), naive is
    cheaper whenever dn + dv < 2 C (V3: 256 < 1024); decode over a latent
    cache needs the absorbed form, which never decompresses the cache.

    ```mlir
    %o = dsc.mla %qn, %qp, %c, %kp, %kvb {scale = 0.1352 : f64,
                                           form = #dsc<mla_form naive>}
        : (tensor<?x?x128x128xf32>, tensor<?x?x128x64xf32>,
           tensor<?x?x512xf32>, tensor<?x?x64xf32>, tensor<32768x512xf32>)
        -> tensor<?x?x128x128xf32>
    ```
  }];
  let arguments = (ins Dsc_FloatTensor:$q_nope, Dsc_FloatTensor:$q_pe,
                       Dsc_FloatTensor:$latent, Dsc_FloatTensor:$k_pe,
                       RankedTensorOf<[F32, BF16, F16, F8E4M3FN]>:$kv_b,
                       Optional<RankedTensorOf<[F32]>>:$scales,
                       Optional<RankedTensorOf<[F32]>>:$mask,
                       F64Attr:$scale, Dsc_MlaFormAttr:$form,
                       OptionalAttr<DenseI64ArrayAttr>:$block_size);
  let results = (outs Dsc_FloatTensor:$result);
  let assemblyFormat = [{
    $q_nope `,` $q_pe `,` $latent `,` $k_pe `,` $kv_b (`scales` $scales^)?
    (`mask` $mask^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// MlaDecodeOp
//===----------------------------------------------------------------------===//

def Dsc_MlaDecodeOp : Dsc_Op<"mla_decode", [Pure]> {
  let summary = "latent attention of new tokens over a paged latent KV cache";
  let description = [{
    `dsc.mla` for tokens that continue sequences whose earlier tokens are in
    a paged latent cache. Operands as for `dsc.mla` (the queries, latent
    and rope key of the S new tokens of each of B sequences), plus:

    - `cache` [pages, page_size, C + dr] (f32, or bf16 read as f32): one
      layer's pages; an entry is a token's latent followed by its rotated
      rope key;
    - `block_table` [B, max_pages] (i64): the pages of each sequence in
      order, position p at page `block_table[b, p / page_size]`, row
      `p % page_size`;
    - `past` [B] (i64): how many tokens of each sequence the cache holds.

    New token s of sequence b sits at position `past[b] + s` and attends
    to the cached positions `0 .. past[b] - 1` and to the new tokens
    `0 .. s`. The op reads the cache and never writes it: the new tokens'
    entries are the caller's to store (the runtime does, after the step).
    The computation is always the absorbed form, which works on the cached
    latent directly and never decompresses it.

    ```mlir
    %o = dsc.mla_decode %qn, %qp, %c, %kp, %kvb
        cache(%pages, %table, %past) {scale = 0.1352 : f64}
        : (tensor<?x?x128x128xf32>, tensor<?x?x128x64xf32>,
           tensor<?x?x512xf32>, tensor<?x?x64xf32>, tensor<32768x512xf32>,
           tensor<?x64x576xf32>, tensor<?x?xi64>, tensor<?xi64>)
        -> tensor<?x?x128x128xf32>
    ```
  }];
  let arguments = (ins Dsc_FloatTensor:$q_nope, Dsc_FloatTensor:$q_pe,
                       Dsc_FloatTensor:$latent, Dsc_FloatTensor:$k_pe,
                       RankedTensorOf<[F32, BF16, F16, F8E4M3FN]>:$kv_b,
                       Optional<RankedTensorOf<[F32]>>:$scales,
                       RankedTensorOf<[F32, BF16]>:$cache,
                       RankedTensorOf<[I64]>:$block_table,
                       RankedTensorOf<[I64]>:$past,
                       F64Attr:$scale,
                       OptionalAttr<DenseI64ArrayAttr>:$block_size);
  let results = (outs Dsc_FloatTensor:$result);
  let assemblyFormat = [{
    $q_nope `,` $q_pe `,` $latent `,` $k_pe `,` $kv_b (`scales` $scales^)?
    `cache` `(` $cache `,` $block_table `,` $past `)`
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// MoeOp
//===----------------------------------------------------------------------===//

def Dsc_MoeOp : Dsc_Op<"moe", [Pure, AttrSizedOperandSegments]> {
  let summary = "routed experts with sparse dispatch";
  let description = [{
    The routed experts of a mixture-of-experts layer, given the router's
    choice (`dsc.gate`'s results): for each token row t of `input`
    ([tokens, hidden]),
    `result[t] = sum_j weights[t, j] * expert_{indices[t, j]}(input[t])`
    where `expert_e(x) = down[e] (silu(gate[e] x) * up[e] x)` with the
    stacked projections `gate_proj`, `up_proj` ([experts, width, hidden])
    and `down_proj` ([experts, hidden, width]).

    Only the chosen experts run: the (token, j) slots are sorted by expert,
    each expert multiplies its contiguous run of gathered rows (a grouped
    GEMM, gate and up together), SwiGLU, then the down projection scaled by
    the routing weight, and each token sums its slots back. Compute grows
    with `top_k`, not with the expert count.

    FP8 routed experts (DeepSeek-V3's checkpoints) keep their FP8 stacks
    and list the block scales ([experts, ceil(rows / bm), ceil(cols / bn)]
    f32, `weight_scale_inv`) as `scales(gate_scales, up_scales,
    down_scales)` with `expert_block_size = array<i64: bm, bn>`: only the
    chosen experts' matrices are dequantized, not the whole stack.

    The shared experts, which every token runs (DeepSeek's
    `n_shared_experts`, concatenated along their width), are fused in with
    `shared(gate, up, down)`: [width_s, hidden], [width_s, hidden] and
    [hidden, width_s] matrices as for `dsc.linear`, adding
    `down (silu(gate x) * up x)` to each token. FP8 shared weights list
    their block scales after the three matrices, `shared(gate, up, down,
    gate_scales, up_scales, down_scales)`, with `shared_block_size`.

    ```mlir
    %y = dsc.moe %x, %w, %idx experts(%g, %u, %d) shared(%sg, %su, %sd)
        : (tensor<?x7168xf32>, tensor<?x8xf32>, tensor<?x8xi64>,
           tensor<256x2048x7168xf32>, tensor<256x2048x7168xf32>,
           tensor<256x7168x2048xf32>, tensor<2048x7168xf32>,
           tensor<2048x7168xf32>, tensor<7168x2048xf32>)
        -> tensor<?x7168xf32>
    ```
  }];
  let arguments = (ins Dsc_FloatTensor:$input,
                       RankedTensorOf<[F32]>:$weights,
                       RankedTensorOf<[I64]>:$indices,
                       Dsc_WeightTensor:$gate_proj, Dsc_WeightTensor:$up_proj,
                       Dsc_WeightTensor:$down_proj,
                       Variadic<RankedTensorOf<[F32]>>:$expert_scales,
                       OptionalAttr<DenseI64ArrayAttr>:$expert_block_size,
                       Variadic<RankedTensorOf<[F32, BF16, F16, F8E4M3FN]>>:$shared,
                       OptionalAttr<DenseI64ArrayAttr>:$shared_block_size);
  let results = (outs Dsc_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weights `,` $indices `experts` `(` $gate_proj `,` $up_proj `,`
    $down_proj `)` (`scales` `(` $expert_scales^ `)`)?
    (`shared` `(` $shared^ `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
  let extraClassDeclaration = [{
    /// Shared expert matrix `i` (0 gate, 1 up, 2 down) and its block scales
    /// (null when not FP8).
    Value getSharedMatrix(unsigned i) { return getShared()[i]; }
    Value getSharedScales(unsigned i) {
      return getShared().size() == 6 ? getShared()[3 + i] : Value();
    }
    /// The routed experts' block scales (0 gate, 1 up, 2 down); null when
    /// they are not FP8.
    Value getExpertScales(unsigned i) {
      return getExpertScales().empty() ? Value() : getExpertScales()[i];
    }
    /// Checks `shared` (part of the verifier).
    LogicalResult verifySharedExperts(int64_t hidden);
    /// Checks the routed experts' FP8 scales (part of the verifier).
    LogicalResult verifyExpertScales();
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// SwigluOp
//===----------------------------------------------------------------------===//

def Dsc_SwigluOp : Dsc_Op<"swiglu", [Pure, SameOperandsAndResultType]> {
  let summary = "silu(gate) * up";
  let description = [{
    The gated activation of DeepSeek's MLPs and experts:
    `result = gate * sigmoid(gate) * up`, elementwise.

    ```mlir
    %h = dsc.swiglu %g, %u : tensor<?x?x18432xf32>
    ```
  }];
  let arguments = (ins Dsc_FloatTensor:$gate, Dsc_FloatTensor:$up);
  let results = (outs Dsc_FloatTensor:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// PagedMlaDecodeOp
//===----------------------------------------------------------------------===//

def Dsc_PagedMlaDecodeOp : Dsc_Op<"paged_mla_decode", [
    DestinationStyleOpInterface,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "latent attention over a paged bf16 cache, as the kernel "
                "library's MLA decode computes it";
  let description = [{
    The attention step of `dsc.mla_decode` in the operand layout of the
    kernel library's decode kernels (`codegen/kernels/mla_decode_bf16*.mlir`),
    which `dsc-library-gemms` launches in its place. `dsc-lower-to-linalg`
    makes it on GPU targets (W_UK and W_UV stay around it as generated
    code). With R query rows (one per new token), H heads, key width D
    (latent C then rope) and value width C:

    - `queries` [R, H, D] (bf16): each head's absorbed query, q_nope . W_UK
      then q_pe;
    - `entries` [R, D] (bf16): row r's own cache entry, its latent then its
      rope key;
    - `cache` [pages, page_size, D] (bf16) and `block_table` [R, max_pages]
      (i32, every entry a page of `cache`): row r's positions, position p at
      page `block_table[r, p / page_size]`, row `p % page_size`;
    - `lengths` [R] (i32): row r attends to positions 0 .. lengths[r] - 1,
      the last of which is `entries[r]`; a length of 0 attends to nothing
      (a zero result).

    `init` [R, H, C] (bf16) receives `softmax(scale * q K^T) V`, K the
    entries of the positions, V their first C values.

    On tensors the op only reads `cache`. Its library lowering stores each
    row's entry at its position before the kernels read the cache: the
    decode step stores those entries there anyway
    (`dsc-store-cache-entries`), and no other op of the step reads them.
    So make it only in a decode step that stores its entries.

    On tensors it returns the result; on buffers (after bufferization) it
    writes `init`, declares a write of `cache` (its lowering's store) and
    returns nothing.

    ```mlir
    %o = dsc.paged_mla_decode %q, %e cache(%pages, %table, %lens)
        outs(%init) {scale = 0.1352 : f64}
        : tensor<?x128x576xbf16>, tensor<?x576xbf16>, tensor<?x64x576xbf16>,
          tensor<?x?xi32>, tensor<?xi32>, tensor<?x128x512xbf16>
        -> tensor<?x128x512xbf16>
    ```
  }];
  let arguments = (ins AnyShaped:$queries, AnyShaped:$entries,
                       AnyShaped:$cache, AnyShaped:$block_table,
                       AnyShaped:$lengths, AnyShaped:$init, F64Attr:$scale);
  let results = (outs Variadic<AnyRankedTensor>:$result);
  let assemblyFormat = [{
    $queries `,` $entries `cache` `(` $cache `,` $block_table `,` $lengths `)`
    `outs` `(` $init `)` attr-dict `:` type($queries) `,` type($entries) `,`
    type($cache) `,` type($block_table) `,` type($lengths) `,` type($init)
    (`->` type($result)^)?
  }];
  let extraClassDeclaration = [{
    MutableOperandRange getDpsInitsMutable() {
      return MutableOperandRange(getInitMutable());
    }
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// CausalMlaPrefillOp
//===----------------------------------------------------------------------===//

def Dsc_CausalMlaPrefillOp : Dsc_Op<"causal_mla_prefill", [
    DestinationStyleOpInterface,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "causal attention over decompressed latent keys and values, "
                "as the kernel library's MLA prefill computes it";
  let description = [{
    The attention step of `dsc.mla` in its naive form (a prompt: every
    head's keys and values decompressed by kv_b) in the operand layout of
    the kernel library's prefill kernels (`codegen/kernels/mla_prefill_bf16*.mlir`),
    which `dsc-library-gemms` launches in its place. `dsc-lower-to-linalg`
    makes it on GPU targets (the decompression GEMM stays around it). With B
    sequences of S tokens, H heads, no-rope width dn, rope width dr and value
    width dv:

    - `queries` [B, S, H, dn + dr] (bf16): each head's q_nope then q_pe;
    - `kv` [B, S, H, dn + dv] (bf16): kv_b's output per head, k_nope then v;
    - `rope_keys` [B, S, dr] (bf16): k_pe, shared by the heads.

    `init` [B, S, H, dv] (bf16) receives, for token i of sequence b and head
    h, `softmax_{j <= i}(scale * [q_nope | q_pe] . [k_nope_h[j] | k_pe[j]])`
    times `v_h`: causal attention within each sequence.

    On tensors it returns the result; on buffers (after bufferization) it
    writes `init` and returns nothing.

    ```mlir
    %o = dsc.causal_mla_prefill %q, %kv, %kr outs(%init) {scale = 0.1352 : f64}
        : tensor<?x?x128x192xbf16>, tensor<?x?x128x256xbf16>,
          tensor<?x?x64xbf16>, tensor<?x?x128x128xbf16>
        -> tensor<?x?x128x128xbf16>
    ```
  }];
  let arguments = (ins AnyShaped:$queries, AnyShaped:$kv, AnyShaped:$rope_keys,
                       AnyShaped:$init, F64Attr:$scale);
  let results = (outs Variadic<AnyRankedTensor>:$result);
  let assemblyFormat = [{
    $queries `,` $kv `,` $rope_keys `outs` `(` $init `)` attr-dict `:`
    type($queries) `,` type($kv) `,` type($rope_keys) `,` type($init)
    (`->` type($result)^)?
  }];
  let extraClassDeclaration = [{
    MutableOperandRange getDpsInitsMutable() {
      return MutableOperandRange(getInitMutable());
    }
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// NoauxTcRouteOp
//===----------------------------------------------------------------------===//

def Dsc_NoauxTcRouteOp : Dsc_Op<"noaux_tc_route", [
    DestinationStyleOpInterface,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "DeepSeek-V3's router after its GEMM, as the kernel "
                "library's moe_route computes it";
  let description = [{
    Steps 1 to 5 of `dsc.gate` with sigmoid scores and `noaux_tc` from the
    router's logits, in the operand layout of the kernel library's router
    (`codegen/kernels/moe_route*.mlir`), which `dsc-library-gemms` launches
    in its place. `dsc-lower-to-linalg` makes it on GPU targets (the router
    GEMM stays before it). With T tokens, E experts in `n_group` groups and
    K = top_k:

    - `logits` [T, E] (f32) and `bias` [E] (f32, e_score_correction_bias);
    - `ids` [T, K] (i32) receives the chosen experts in descending
      selection order (ties to the lower index), `weights` [T, K] (f32)
      their sigmoid scores, divided by their sum when `norm_topk_prob`,
      times `routed_scaling_factor`.

    On tensors it returns (ids, weights); on buffers it writes them and
    returns nothing.

    ```mlir
    %ids, %w = dsc.noaux_tc_route %logits, %bias outs(%i0, %w0)
        {n_group = 8 : i64, topk_group = 4 : i64, norm_topk_prob = true,
         routed_scaling_factor = 2.5 : f64}
        : tensor<?x256xf32>, tensor<256xf32>, tensor<?x8xi32>, tensor<?x8xf32>
        -> tensor<?x8xi32>, tensor<?x8xf32>
    ```
  }];
  let arguments = (ins AnyShaped:$logits, AnyShaped:$bias, AnyShaped:$ids,
                       AnyShaped:$weights, I64Attr:$n_group,
                       I64Attr:$topk_group, BoolAttr:$norm_topk_prob,
                       F64Attr:$routed_scaling_factor);
  let results = (outs Variadic<AnyRankedTensor>:$result);
  let assemblyFormat = [{
    $logits `,` $bias `outs` `(` $ids `,` $weights `)` attr-dict `:`
    type($logits) `,` type($bias) `,` type($ids) `,` type($weights)
    (`->` type($result)^)?
  }];
  let extraClassDeclaration = [{
    MutableOperandRange getDpsInitsMutable() {
      return MutableOperandRange(getOperation(), 2, 2);
    }
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// RmsNormRowsOp and AddRmsNormRowsOp
//===----------------------------------------------------------------------===//

def Dsc_RmsNormRowsOp : Dsc_Op<"rms_norm_rows", [
    DestinationStyleOpInterface,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "RMSNorm of each row, as the kernel library's rmsnorm "
                "kernels compute it";
  let description = [{
    `dsc.rms_norm` over rows of D values in the operand layout of the
    kernel library's RMSNorm (`codegen/kernels/rmsnorm_f32.mlir`,
    `add_rmsnorm_bf16.mlir`), which `dsc-library-gemms` launches in its
    place. `dsc-lower-to-linalg{library-norm}` makes it on GPU targets.

    - `input` [..., D] and `weight` [D], f32 or bf16 (one type for all);
    - `init` (the input's shape) receives `input * rsqrt(mean(input^2) + epsilon) *
      weight` per row, the statistics in f32 (bf16: the normalized row
      rounded before the weight, as transformers' bf16 model does). With
      f32 rows `init` may be bf16: the f32 result rounded to nearest even
      once, as it is stored (`dsc-fuse-linalg-elementwise` folds a GEMM
      input's rounding into the op).

    D is static and a multiple of 4 (the kernel's vector width). On tensors
    it returns the result; on buffers it writes `init` and returns nothing.

    ```mlir
    %y = dsc.rms_norm_rows %x, %w outs(%init) {epsilon = 1.0e-06 : f64}
        : tensor<?x?x7168xf32>, tensor<7168xf32>, tensor<?x?x7168xf32>
        -> tensor<?x?x7168xf32>
    ```
  }];
  let arguments = (ins AnyShaped:$input, AnyShaped:$weight, AnyShaped:$init,
                       F64Attr:$epsilon);
  let results = (outs Variadic<AnyRankedTensor>:$result);
  let assemblyFormat = [{
    $input `,` $weight `outs` `(` $init `)` attr-dict `:`
    type($input) `,` type($weight) `,` type($init) (`->` type($result)^)?
  }];
  let extraClassDeclaration = [{
    MutableOperandRange getDpsInitsMutable() {
      return MutableOperandRange(getInitMutable());
    }
  }];
  let hasVerifier = 1;
}

def Dsc_AddRmsNormRowsOp : Dsc_Op<"add_rms_norm_rows", [
    DestinationStyleOpInterface,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "residual add and RMSNorm of each row, as the kernel "
                "library's add_rmsnorm kernels compute it";
  let description = [{
    `dsc.add_rms_norm` over rows of D values in the operand layout of the
    kernel library's fused add + RMSNorm, which `dsc-library-gemms`
    launches in its place (one kernel reads both rows once and writes both
    results). `dsc-lower-to-linalg{library-norm}` makes it on GPU targets.

    - `input`, `residual` [..., D] and `weight` [D], f32 or bf16 (one type
      for all);
    - `sum` (the input's shape) receives `input + residual` (the residual
      stream; rounded when bf16), `normed` (likewise) its RMSNorm as in
      `dsc.rms_norm_rows` (with f32 rows `normed` may be bf16, as `init`
      there).

    D is static and a multiple of 4. On tensors it returns (sum, normed);
    on buffers it writes them and returns nothing.

    ```mlir
    %h, %y = dsc.add_rms_norm_rows %x, %res, %w outs(%h0, %y0)
        {epsilon = 1.0e-06 : f64}
        : tensor<?x?x7168xf32>, tensor<?x?x7168xf32>, tensor<7168xf32>,
          tensor<?x?x7168xf32>, tensor<?x?x7168xf32>
        -> tensor<?x?x7168xf32>, tensor<?x?x7168xf32>
    ```
  }];
  let arguments = (ins AnyShaped:$input, AnyShaped:$residual,
                       AnyShaped:$weight, AnyShaped:$sum, AnyShaped:$normed,
                       F64Attr:$epsilon);
  let results = (outs Variadic<AnyRankedTensor>:$result);
  let assemblyFormat = [{
    $input `,` $residual `,` $weight `outs` `(` $sum `,` $normed `)`
    attr-dict `:` type($input) `,` type($residual) `,` type($weight) `,`
    type($sum) `,` type($normed) (`->` type($result)^)?
  }];
  let extraClassDeclaration = [{
    MutableOperandRange getDpsInitsMutable() {
      return MutableOperandRange(getOperation(), 3, 2);
    }
  }];
  let hasVerifier = 1;
}

#endif // DSC_OPS_TD

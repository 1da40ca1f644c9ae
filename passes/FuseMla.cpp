//===- FuseMla.cpp - Naive latent attention to dsc.mla --------------------===//

#include "passes/Passes.h"

#include "dialects/dsc/DscOps.h"
#include "passes/FusionDriver.h"
#include "passes/LinalgMatchers.h"

#include "dialects/dsc/TensorMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

#define DEBUG_TYPE "dsc-fuse-mla"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCFUSEMLA
#include "passes/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {

constexpr StringLiteral kNotACandidate = "not an attention value contraction";

/// The scale of a `select(j > i, -inf, x * scale)` causal-mask generic.
std::optional<double> matchCausalMask(linalg::GenericOp op) {
  if (!bodyHas<arith::SelectOp>(op) || !bodyHas<arith::CmpIOp>(op))
    return std::nullopt;
  for (arith::CmpIOp cmp : op.getRegion().front().getOps<arith::CmpIOp>()) {
    auto j = cmp.getLhs().getDefiningOp<linalg::IndexOp>();
    auto i = cmp.getRhs().getDefiningOp<linalg::IndexOp>();
    if (cmp.getPredicate() != arith::CmpIPredicate::ugt || !i || !j ||
        i.getDim() != 2 || j.getDim() != 3)
      return std::nullopt;
  }
  for (arith::MulFOp mul : op.getRegion().front().getOps<arith::MulFOp>())
    if (auto cst = mul.getRhs().getDefiningOp<arith::ConstantOp>())
      if (auto value = dyn_cast<FloatAttr>(cst.getValue()))
        return value.getValueAsDouble();
  return std::nullopt;
}

/// The scaled, causally masked softmax of attention scores that sum a
/// no-rope part and a rope part with one key shared by all heads:
/// `probs = softmax(mask(scale * (nope + qPe . kPe)))`.
struct ScoreChain {
  /// The rope part, `score[b, h, i, j] += q_pe[b, i, h, r] * k_pe[b, j, r]`
  /// accumulated onto the no-rope part (its init).
  linalg::GenericOp rope;
  double scale;
};

FailureOr<ScoreChain> matchScoreChain(Value probs, PatternRewriter &rewriter,
                                      Operation *root) {
  // Softmax: divide(exp(masked - max), sum).
  linalg::GenericOp normalize = definingGeneric(probs, 2);
  linalg::GenericOp exps =
      normalize ? definingGeneric(normalize.getDpsInputs()[0], 1) : nullptr;
  linalg::GenericOp shifted =
      exps ? definingGeneric(exps.getDpsInputs()[0], 2) : nullptr;
  if (!normalize || !exps || !shifted || !bodyHas<arith::DivFOp>(normalize) ||
      !bodyHas<math::ExpOp>(exps) || !bodyHas<arith::SubFOp>(shifted))
    return rewriter.notifyMatchFailure(root, "probabilities are not a softmax");
  linalg::GenericOp masked = definingGeneric(shifted.getDpsInputs()[0], 1);
  std::optional<double> scale = masked ? matchCausalMask(masked) : std::nullopt;
  if (!scale)
    return rewriter.notifyMatchFailure(
        root, "scores are not scaled and causally masked");
  linalg::GenericOp rope = definingGeneric(masked.getDpsInputs()[0], 2);
  if (!rope ||
      !hasStructure(rope, 5, {{0, 2, 1, 4}, {0, 3, 4}, {0, 1, 2, 3}}, {4}) ||
      !bodyIs<arith::MulFOp, arith::AddFOp>(rope))
    return rewriter.notifyMatchFailure(
        root, "no rope score part with a key shared by all heads");
  return ScoreChain{rope, *scale};
}

/// The form the cost rule picks unless `form` forces one. Prefill (queries =
/// keys): naive iff dn + dv < 2 C.
MlaForm chooseForm(StringRef form, int64_t dn, int64_t dv, int64_t c) {
  return form == "naive"      ? MlaForm::Naive
         : form == "absorbed" ? MlaForm::Absorbed
         : dn + dv < 2 * c    ? MlaForm::Naive
                              : MlaForm::Absorbed;
}

struct FuseNaiveMla : OpRewritePattern<linalg::GenericOp> {
  FuseNaiveMla(MLIRContext *ctx, StringRef form)
      : OpRewritePattern(ctx), form(form) {}

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    // out[b, i, h, e] = sum_j p[b, h, i, j] * v[b, j, h, e]
    if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
        !hasStructure(op, 5, {{0, 2, 1, 4}, {0, 4, 2, 3}, {0, 1, 2, 3}}, {4}))
      return rewriter.notifyMatchFailure(op, kNotACandidate);
    if (!isZeroFilled(op.getDpsInits()[0]) ||
        !bodyIs<arith::MulFOp, arith::AddFOp>(op))
      return rewriter.notifyMatchFailure(
          op, "value contraction is not a zero-initialized multiply-add");
    Value probs = op.getDpsInputs()[0], v = op.getDpsInputs()[1];

    // Values: a slice of the heads view of kv_b_proj applied to the latent.
    auto vSlice = matchSliceLast(v);
    if (!vSlice)
      return rewriter.notifyMatchFailure(op, "values are not a head slice");
    auto [perHead, vOffset, dv] = *vSlice;
    auto expand = perHead.getDefiningOp<tensor::ExpandShapeOp>();
    auto kvb = expand ? expand.getSrc().getDefiningOp<LinearOp>() : LinearOp();
    if (!kvb)
      return rewriter.notifyMatchFailure(
          op, "values are not decompressed from a latent by a linear layer");

    FailureOr<ScoreChain> chain = matchScoreChain(probs, rewriter, op);
    if (failed(chain))
      return failure();
    linalg::GenericOp rope = chain->rope;
    linalg::GenericOp nope = definingGeneric(rope.getDpsInits()[0], 2);
    if (!nope ||
        !hasStructure(nope, 5, {{0, 2, 1, 4}, {0, 3, 1, 4}, {0, 1, 2, 3}},
                      {4}) ||
        !isZeroFilled(nope.getDpsInits()[0]))
      return rewriter.notifyMatchFailure(op, "no per-head no-rope score part");
    auto kSlice = matchSliceLast(nope.getDpsInputs()[1]);
    if (!kSlice || std::get<0>(*kSlice) != perHead ||
        std::get<1>(*kSlice) != 0 || vOffset != std::get<2>(*kSlice))
      return rewriter.notifyMatchFailure(
          op, "keys and values are not the two halves of one decompression");

    Value qNope = nope.getDpsInputs()[0], qPe = rope.getDpsInputs()[0],
          kPe = rope.getDpsInputs()[1], latent = kvb.getInput();
    if (cast<ShapedType>(latent.getType()).getRank() != 3)
      return rewriter.notifyMatchFailure(op, "latent is not [batch, seq, C]");

    int64_t dn = std::get<2>(*kSlice);
    int64_t c = cast<ShapedType>(latent.getType()).getShape().back();
    auto mla = MlaOp::create(
        rewriter, op.getLoc(), op.getResultTypes()[0], qNope, qPe, latent, kPe,
        kvb.getWeight(), kvb.getScales(), /*mask=*/Value(),
        rewriter.getF64FloatAttr(chain->scale),
        MlaFormAttr::get(rewriter.getContext(), chooseForm(form, dn, dv, c)),
        kvb.getBlockSizeAttr());
    rewriter.replaceOp(op, mla.getResult());
    return success();
  }

  std::string form;
};

/// `x[:, offset : offset + rows, :]` of the per-head view
/// `expand_shape(kv_b [H * (dn + dv), C]) : [H, dn + dv, C]`: returns
/// (kv_b, the view, offset, rows).
std::optional<std::tuple<Value, Value, int64_t, int64_t>>
matchKvBSlab(Value v) {
  auto slice = v.getDefiningOp<tensor::ExtractSliceOp>();
  if (!slice || !slice.hasUnitStride() || slice.getSourceType().getRank() != 3)
    return std::nullopt;
  ArrayRef<int64_t> offsets = slice.getStaticOffsets();
  ArrayRef<int64_t> sizes = slice.getStaticSizes();
  auto view = slice.getSource().getDefiningOp<tensor::ExpandShapeOp>();
  if (offsets[0] != 0 || offsets[2] != 0 || ShapedType::isDynamic(offsets[1]) ||
      ShapedType::isDynamic(sizes[1]) || !view ||
      view.getSrcType().getRank() != 2 ||
      view.getReassociationIndices() !=
          SmallVector<ReassociationIndices>{{0, 1}, {2}} ||
      sizes[0] != view.getResultType().getDimSize(0) ||
      sizes[2] != view.getResultType().getDimSize(2))
    return std::nullopt;
  return std::make_tuple(view.getSrc(), view.getResult(), offsets[1], sizes[1]);
}

/// The already-absorbed formulation (DeepSeek's reference inference code
/// with `attn_impl = "absorb"`): the queries times W_UK, the scores on the
/// latent itself, the latent-space output times W_UV. Rooted at the W_UV
/// contraction.
struct FuseAbsorbedMla : OpRewritePattern<linalg::GenericOp> {
  FuseAbsorbedMla(MLIRContext *ctx, StringRef form)
      : OpRewritePattern(ctx), form(form) {}

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    // out[b, s, h, v] = sum_c oLat[b, s, h, c] * W_UV[h, v, c]
    if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
        !hasStructure(op, 5, {{0, 1, 2, 4}, {2, 3, 4}, {0, 1, 2, 3}}, {4}) ||
        !isZeroFilled(op.getDpsInits()[0]) ||
        !bodyIs<arith::MulFOp, arith::AddFOp>(op))
      return rewriter.notifyMatchFailure(op, kNotACandidate);
    auto uv = matchKvBSlab(op.getDpsInputs()[1]);
    if (!uv)
      return rewriter.notifyMatchFailure(
          op, "output projection is not a per-head slab of kv_b");
    auto [kvb, view, dn, dv] = *uv;

    // oLat[b, i, h, c] = sum_j p[b, h, i, j] * latent[b, j, c]
    linalg::GenericOp values = definingGeneric(op.getDpsInputs()[0], 2);
    if (!values ||
        !hasStructure(values, 5, {{0, 2, 1, 4}, {0, 4, 3}, {0, 1, 2, 3}},
                      {4}) ||
        !isZeroFilled(values.getDpsInits()[0]) ||
        !bodyIs<arith::MulFOp, arith::AddFOp>(values))
      return rewriter.notifyMatchFailure(
          op, "no attention over values shared by all heads");
    Value latent = values.getDpsInputs()[1];
    FailureOr<ScoreChain> chain =
        matchScoreChain(values.getDpsInputs()[0], rewriter, op);
    if (failed(chain))
      return failure();
    // score[b, h, i, j] = sum_c qLat[b, i, h, c] * latent[b, j, c]
    linalg::GenericOp nope = definingGeneric(chain->rope.getDpsInits()[0], 2);
    if (!nope ||
        !hasStructure(nope, 5, {{0, 2, 1, 4}, {0, 3, 4}, {0, 1, 2, 3}}, {4}) ||
        !isZeroFilled(nope.getDpsInits()[0]) ||
        nope.getDpsInputs()[1] != latent)
      return rewriter.notifyMatchFailure(
          op, "scores and values do not use the same latent");
    // qLat[b, s, h, c] = sum_n qNope[b, s, h, n] * W_UK[h, n, c]
    linalg::GenericOp absorb = definingGeneric(nope.getDpsInputs()[0], 2);
    auto uk = absorb ? matchKvBSlab(absorb.getDpsInputs()[1]) : std::nullopt;
    if (!absorb ||
        !hasStructure(absorb, 5, {{0, 1, 2, 4}, {2, 4, 3}, {0, 1, 2, 3}},
                      {4}) ||
        !isZeroFilled(absorb.getDpsInits()[0]) ||
        !bodyIs<arith::MulFOp, arith::AddFOp>(absorb) || !uk ||
        std::get<1>(*uk) != view || std::get<2>(*uk) != 0 ||
        std::get<3>(*uk) != dn ||
        cast<ShapedType>(view.getType()).getDimSize(1) != dn + dv)
      return rewriter.notifyMatchFailure(
          op, "queries are not multiplied by the W_UK half of the same kv_b");

    Value qNope = absorb.getDpsInputs()[0], qPe = chain->rope.getDpsInputs()[0],
          kPe = chain->rope.getDpsInputs()[1];
    auto latentType = cast<ShapedType>(latent.getType());
    auto kvbType = cast<ShapedType>(kvb.getType());
    if (latentType.getRank() != 3 || !kvbType.getElementType().isF32())
      return rewriter.notifyMatchFailure(
          op, "latent is not [batch, seq, C] or kv_b is not f32");
    int64_t c = latentType.getShape().back();
    auto mla = MlaOp::create(
        rewriter, op.getLoc(), op.getResultTypes()[0], qNope, qPe, latent, kPe,
        kvb, /*scales=*/Value(), /*mask=*/Value(),
        rewriter.getF64FloatAttr(chain->scale),
        MlaFormAttr::get(rewriter.getContext(), chooseForm(form, dn, dv, c)),
        DenseI64ArrayAttr());
    rewriter.replaceOp(op, mla.getResult());
    return success();
  }

  std::string form;
};

//===----------------------------------------------------------------------===//
// Latent attention as exporters write it
//===----------------------------------------------------------------------===//

/// The source of `v` when a copy generic with input map `(d0..d3) ->
/// exprs` (and an identity output map) makes it: a transpose or broadcast.
Value copySource(Value v, ArrayRef<AffineExpr> exprs) {
  linalg::GenericOp copy = definingGeneric(v, 1);
  if (!copy || !isCopy(copy) || copy.getNumLoops() != exprs.size())
    return Value();
  SmallVector<AffineMap> maps = copy.getIndexingMapsArray();
  MLIRContext *ctx = v.getContext();
  if (maps[0] != AffineMap::get(exprs.size(), 0, exprs, ctx) ||
      !maps[1].isIdentity())
    return Value();
  return copy.getDpsInputs()[0];
}

/// Values decompressed from a latent per head, as exporters write them:
/// v = kvT[..., dn : dn + dv], kvT[b, h, s, :] = kv[b, s, h, :], kv a view
/// of `linear` (a contraction) applied to an RMS-normalized latent.
struct DecompressedValue {
  Value kvT, kv;
  linalg::GenericOp linear;
  RmsNormOp latent;
  int64_t dn, dv;
};
std::optional<DecompressedValue> matchDecompressedValue(Value v) {
  auto slice = matchSliceLast(v);
  if (!slice || std::get<1>(*slice) == 0)
    return std::nullopt;
  auto [kvT, dn, dv] = *slice;
  MLIRContext *ctx = v.getContext();
  Value kv =
      copySource(kvT, {getAffineDimExpr(0, ctx), getAffineDimExpr(2, ctx),
                       getAffineDimExpr(1, ctx), getAffineDimExpr(3, ctx)});
  linalg::GenericOp linear =
      kv ? definingGeneric(throughReshapes(kv), 2) : linalg::GenericOp();
  auto latent =
      linear && isMultiplyAccumulate(linear)
          ? throughReshapes(linear.getDpsInputs()[0]).getDefiningOp<RmsNormOp>()
          : RmsNormOp();
  if (!latent)
    return std::nullopt;
  return DecompressedValue{kvT, kv, linear, latent, dn, dv};
}

/// `x` of layout [batch, heads, seq, d] in dsc.mla's [batch, seq, heads, d]:
/// the source of the transposing copy that made it (or the same slice of
/// it), else a transpose.
Value sequenceMajor(TensorMath &m, Value x) {
  MLIRContext *ctx = x.getContext();
  AffineExpr d0, d1, d2, d3;
  bindDims(ctx, d0, d1, d2, d3);
  if (Value source = copySource(x, {d0, d2, d1, d3}))
    return source;
  // x = T(source)[0:S0, 0:S1, 0:S2, o:o+S3] is source[0:S0, 0:S2, 0:S1,
  // o:o+S3] transposed: the same slice of the source, sizes swapped.
  if (auto slice = x.getDefiningOp<tensor::ExtractSliceOp>();
      slice && matchSliceLast(x))
    if (Value source = copySource(slice.getSource(), {d0, d2, d1, d3})) {
      SmallVector<OpFoldResult> offsets = slice.getMixedOffsets();
      SmallVector<OpFoldResult> sizes = slice.getMixedSizes();
      std::swap(offsets[1], offsets[2]);
      std::swap(sizes[1], sizes[2]);
      return tensor::ExtractSliceOp::create(m.builder(), m.getLoc(), source,
                                            offsets, sizes,
                                            slice.getMixedStrides());
    }
  return m.transposed(x, {0, 2, 1, 3});
}

/// The generic whose result `probs` is the softmax of (softmaxInput), or
/// null.
linalg::GenericOp matchExportedSoftmax(Value probs) {
  Value x = softmaxInput(probs);
  auto input = x ? x.getDefiningOp<linalg::GenericOp>() : linalg::GenericOp();
  return input && input->getNumResults() == 1 ? input : linalg::GenericOp();
}

/// Attention scores scaled and masked by the graph's mask, as exporters
/// write them: `masked[b, h, i, j] = (s0 [+ s1]) * scale + mask[b, 0, i, j]`,
/// the score parts read elementwise, the scale a positive constant.
struct MaskedScores {
  SmallVector<Value> parts;
  double scale;
  Value mask;
};
std::optional<MaskedScores> matchMaskedScores(linalg::GenericOp masked) {
  unsigned inputs = masked.getNumDpsInputs();
  if (!isElementwise(masked) || masked.getNumLoops() != 4 || inputs < 2 ||
      inputs > 3)
    return std::nullopt;
  MLIRContext *ctx = masked.getContext();
  AffineExpr d0, d1, d2, d3;
  bindDims(ctx, d0, d1, d2, d3);
  AffineMap maskMap =
      AffineMap::get(4, 0, {d0, getAffineConstantExpr(0, ctx), d2, d3}, ctx);
  SmallVector<AffineMap> maps = masked.getIndexingMapsArray();
  for (unsigned i = 0; i + 1 < inputs; ++i)
    if (!maps[i].isIdentity())
      return std::nullopt;
  Value mask = masked.getDpsInputs()[inputs - 1];
  auto maskType = dyn_cast<RankedTensorType>(mask.getType());
  if (maps[inputs - 1] != maskMap || !maskType || maskType.getDimSize(1) != 1 ||
      !maskType.getElementType().isF32())
    return std::nullopt;

  // yield(scaled + mask), scaled = sum * scale, sum = in0 [+ in1].
  auto isInput = [&](Value v, unsigned index) {
    auto in = inputOf(masked, v);
    return in && in->first == index;
  };
  auto add = peel(yieldedValue(masked)).getDefiningOp<arith::AddFOp>();
  if (!add)
    return std::nullopt;
  Value scaled = isInput(add.getRhs(), inputs - 1)   ? add.getLhs()
                 : isInput(add.getLhs(), inputs - 1) ? add.getRhs()
                                                     : Value();
  Product product = scaled ? productOf(scaled) : Product();
  if (!scaled || product.numerators.size() != 2 ||
      !product.denominators.empty())
    return std::nullopt;
  std::optional<double> scale = constantOf(product.numerators[1]);
  Value sum = product.numerators[0];
  if (!scale) {
    scale = constantOf(product.numerators[0]);
    sum = product.numerators[1];
  }
  if (!scale || !(*scale > 0.0))
    return std::nullopt;
  bool summed = inputs == 2 ? isInput(sum, 0) : [&] {
    auto parts = peel(sum).getDefiningOp<arith::AddFOp>();
    return parts &&
           ((isInput(parts.getLhs(), 0) && isInput(parts.getRhs(), 1)) ||
            (isInput(parts.getLhs(), 1) && isInput(parts.getRhs(), 0)));
  }();
  if (!summed)
    return std::nullopt;
  MaskedScores out{{}, *scale, mask};
  for (unsigned i = 0; i + 1 < inputs; ++i)
    out.parts.push_back(masked.getDpsInputs()[i]);
  return out;
}

/// torch.onnx.export of transformers' eager DeepSeek attention, after
/// import: [batch, heads, seq] layout throughout,
///   q = cat(q_nope, rope(q_pe))                      [B, H, S, dn + dr]
///   k = cat(k_nope, broadcast(rope(k_pe)))           via a [dn + dr, H, S,
///       B] buffer (the ScatterNDs) transposed back
///   scores = q . k^T, scaled, plus the graph's mask  [B, 1, S, S]
///   out = softmax(scores) . v                        [B, H, S, dv]
/// with k_nope and v the two halves of kv_b applied to the normalized
/// latent (its weight stored transposed, [C, H * (dn + dv)]). Rewritten to
/// dsc.mla with the mask; the result transposed back to [B, H, S, dv].
struct FuseExportedMla : OpRewritePattern<linalg::GenericOp> {
  FuseExportedMla(MLIRContext *ctx, StringRef form)
      : OpRewritePattern(ctx, /*benefit=*/2), form(form) {}

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    // out[b, h, i, e] = sum_j p[b, h, i, j] * v[b, h, j, e]
    // out[b, h, i, e] = sum_j p[b, h, i, j] * v[b, h, j, e], the values
    // decompressed from a latent (else this is no latent attention).
    std::optional<DecompressedValue> values =
        op.getNumDpsInputs() == 2 && op.getNumDpsInits() == 1
            ? matchDecompressedValue(op.getDpsInputs()[1])
            : std::nullopt;
    if (!values ||
        !hasStructure(op, 5, {{0, 1, 2, 4}, {0, 1, 4, 3}, {0, 1, 2, 3}}, {4}) ||
        !isMultiplyAccumulate(op) || !isZeroFilled(op.getDpsInits()[0]))
      return rewriter.notifyMatchFailure(op, kNotACandidate);
    MLIRContext *ctx = getContext();
    AffineExpr d0, d1, d2, d3;
    bindDims(ctx, d0, d1, d2, d3);
    AffineExpr zero = getAffineConstantExpr(0, ctx);

    // The decompression: kv a per-head view of latent . W, W [C, H (dn +
    // dv)] (kv_b stored transposed).
    auto [kvT, kv, linear, latent, dn, dv] = *values;
    auto kvView = kv.getDefiningOp<tensor::ExpandShapeOp>();
    Value weight = linear.getDpsInputs()[1];
    auto weightType = dyn_cast<RankedTensorType>(weight.getType());
    // out[..., n] = sum_k in[..., k] * w[k, n], k the last loop.
    auto onLastDim = [&](linalg::GenericOp g) {
      unsigned n = g.getNumLoops();
      if (n < 2 || !isZeroFilled(g.getDpsInits()[0]) ||
          g.getNumReductionLoops() != 1)
        return false;
      SmallVector<AffineMap> maps = g.getIndexingMapsArray();
      SmallVector<AffineExpr> lead;
      for (unsigned d = 0; d + 2 < n; ++d)
        lead.push_back(getAffineDimExpr(d, ctx));
      SmallVector<AffineExpr> in = lead, out = lead;
      in.push_back(getAffineDimExpr(n - 1, ctx));
      out.push_back(getAffineDimExpr(n - 2, ctx));
      return maps[0] == AffineMap::get(n, 0, in, ctx) &&
             maps[1] == AffineMap::get(n, 0,
                                       {getAffineDimExpr(n - 1, ctx),
                                        getAffineDimExpr(n - 2, ctx)},
                                       ctx) &&
             maps[2] == AffineMap::get(n, 0, out, ctx);
    };
    if (!kvView || !weightType || weightType.getRank() != 2 ||
        !onLastDim(linear) ||
        cast<RankedTensorType>(kv.getType()).getDimSize(3) != dn + dv ||
        weightType.getDimSize(1) !=
            cast<RankedTensorType>(kv.getType()).getDimSize(2) * (dn + dv))
      return rewriter.notifyMatchFailure(
          op, "values are not the second half of a per-head view of the "
              "latent times a [C, H * (dn + dv)] weight");

    // probs = softmax(scores * scale + mask[b, 0, i, j]).
    linalg::GenericOp masked = matchExportedSoftmax(op.getDpsInputs()[0]);
    if (!masked)
      return rewriter.notifyMatchFailure(op, "probabilities are not a softmax");
    std::optional<MaskedScores> scaled = matchMaskedScores(masked);
    if (!scaled || scaled->parts.size() != 1 ||
        cast<RankedTensorType>(scaled->mask.getType()).getRank() != 4)
      return rewriter.notifyMatchFailure(
          op, "scores are not scaled and masked by a [batch, 1, seq, seq] "
              "mask");
    auto [parts, scale, mask] = *scaled;

    // scores[b, h, i, j] = sum_k q[b, h, i, k] * kT[b, h, k, j]
    linalg::GenericOp scores = definingGeneric(parts[0], 2);
    if (!scores ||
        !hasStructure(scores, 5, {{0, 1, 2, 4}, {0, 1, 4, 3}, {0, 1, 2, 3}},
                      {4}) ||
        !isMultiplyAccumulate(scores) || !isZeroFilled(scores.getDpsInits()[0]))
      return rewriter.notifyMatchFailure(op, "no query-key product");
    auto q = matchConcat(scores.getDpsInputs()[0], 3);
    Value qNopeT = q ? std::get<0>(*q) : Value();
    auto qNopeSlice = qNopeT ? matchSliceLast(qNopeT) : std::nullopt;
    Value qHeads = qNopeSlice
                       ? copySource(std::get<0>(*qNopeSlice), {d0, d2, d1, d3})
                       : Value();
    if (!q || !qNopeSlice || !qHeads || std::get<1>(*qNopeSlice) != 0 ||
        std::get<2>(*q) != dn)
      return rewriter.notifyMatchFailure(
          op, "queries are not the no-rope half of a per-head view and a "
              "rope part, concatenated");
    Value qRopeT = std::get<1>(*q);
    int64_t dr = cast<RankedTensorType>(qRopeT.getType()).getDimSize(3);

    // kT[b, h, k, j] = buf[k, h, j, b], buf = cat(kNopeT, kRopeT) along k,
    // kNopeT[k, h, j, b] = kvT[b, h, j, k] (k < dn),
    // kRopeT[r, h, j, b] = kPe[b, 0, j, r] (broadcast over the heads).
    Value buffer = copySource(scores.getDpsInputs()[1], {d2, d1, d3, d0});
    auto k = buffer ? matchConcat(buffer, 0) : std::nullopt;
    Value kNope = k ? copySource(std::get<0>(*k), {d3, d1, d2, d0}) : Value();
    auto kNopeSlice = kNope ? matchSliceLast(kNope) : std::nullopt;
    Value kPe = k ? copySource(std::get<1>(*k), {d3, zero, d2, d0}) : Value();
    if (!k || !kNopeSlice || std::get<0>(*kNopeSlice) != kvT ||
        std::get<1>(*kNopeSlice) != 0 || std::get<2>(*kNopeSlice) != dn ||
        std::get<2>(*k) != dn || !kPe ||
        cast<RankedTensorType>(kPe.getType()).getDimSize(3) != dr)
      return rewriter.notifyMatchFailure(
          op, "keys are not the no-rope half of the same decompression and "
              "a rope key shared by all heads, concatenated");

    // dsc.mla's operands, in its [batch, seq, heads] layout.
    Location loc = op.getLoc();
    TensorMath m(rewriter, loc);
    Value qNope = m.sliceLast(qHeads, 0, dn);
    Value qPe = sequenceMajor(m, qRopeT);
    Value kPeRows = tensor::CollapseShapeOp::create(
        rewriter, loc, kPe,
        SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}});
    Value kvb = m.transposed(weight, {1, 0});
    Value normed = latent.getResult();
    int64_t c = cast<RankedTensorType>(normed.getType()).getDimSize(2);
    auto resultType = RankedTensorType::get(
        {ShapedType::kDynamic, ShapedType::kDynamic,
         cast<RankedTensorType>(qHeads.getType()).getDimSize(2), dv},
        rewriter.getF32Type());
    auto mla = MlaOp::create(
        rewriter, loc, resultType, qNope, qPe, normed, kPeRows, kvb,
        /*scales=*/Value(), mask, rewriter.getF64FloatAttr(scale),
        MlaFormAttr::get(ctx, chooseForm(form, dn, dv, c)),
        DenseI64ArrayAttr());
    // Back to [batch, heads, seq, dv] for the graph's users.
    Value out = m.transposed(mla.getResult(), {0, 2, 1, 3});
    rewriter.replaceOp(
        op, tensor::CastOp::create(rewriter, loc, op.getResultTypes()[0], out));
    return success();
  }

  std::string form;
};

/// torch.onnx.export of the absorbed formulation in transformers' [batch,
/// heads, seq] layout (test/fixtures/onnx/export_tiny_v3.py --attention
/// absorbed), after import:
///   qLat = qNope . W_UK[h]                         [B, H, S, C]
///   scores = (qLat . c^T + qPe . kPe^T) * scale + the graph's mask
///   out = (softmax(scores) . c) . W_UV[h]^T        [B, H, S, dv]
/// with c the normalized latent shared by all heads and W_UK [H, dn, C],
/// W_UV [H, dv, C] the halves of kv_b's per-head view (an exporter folds
/// the view and slices of kv_b into two weights). Rooted at the W_UV
/// contraction; rewritten to dsc.mla with kv_b joined from the halves
/// (TensorMath::joinKvB, which the absorbed lowering sees through) and the
/// result transposed back.
struct FuseExportedAbsorbedMla : OpRewritePattern<linalg::GenericOp> {
  FuseExportedAbsorbedMla(MLIRContext *ctx, StringRef form)
      : OpRewritePattern(ctx), form(form) {}

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    // out[b, h, i, v] = sum_c oLat[b, h, i, c] * W_UV[h, v, c]
    if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
        !hasStructure(op, 5, {{0, 1, 2, 4}, {1, 3, 4}, {0, 1, 2, 3}}, {4}) ||
        !isMultiplyAccumulate(op) || !isZeroFilled(op.getDpsInits()[0]))
      return rewriter.notifyMatchFailure(op, kNotACandidate);
    Value wUV = op.getDpsInputs()[1];
    // oLat[b, h, i, c] = sum_j p[b, h, i, j] * latent[b, j, c]
    linalg::GenericOp values = definingGeneric(op.getDpsInputs()[0], 2);
    if (!values ||
        !hasStructure(values, 5, {{0, 1, 2, 4}, {0, 4, 3}, {0, 1, 2, 3}},
                      {4}) ||
        !isMultiplyAccumulate(values) || !isZeroFilled(values.getDpsInits()[0]))
      return rewriter.notifyMatchFailure(op, kNotACandidate);
    Value latent = values.getDpsInputs()[1];

    linalg::GenericOp masked = matchExportedSoftmax(values.getDpsInputs()[0]);
    if (!masked)
      return rewriter.notifyMatchFailure(op, "probabilities are not a softmax");
    std::optional<MaskedScores> scaled = matchMaskedScores(masked);
    if (!scaled || scaled->parts.size() != 2)
      return rewriter.notifyMatchFailure(
          op, "scores are not a latent part and a rope part, scaled and "
              "masked by a [batch, 1, seq, seq] mask");
    // part[b, h, i, j] = sum_k q[b, h, i, k] * keys[b, j, k], one of them
    // on the latent itself.
    auto keyProduct = [](Value part) {
      linalg::GenericOp g = definingGeneric(part, 2);
      return g &&
                     hasStructure(g, 5, {{0, 1, 2, 4}, {0, 3, 4}, {0, 1, 2, 3}},
                                  {4}) &&
                     isMultiplyAccumulate(g) && isZeroFilled(g.getDpsInits()[0])
                 ? g
                 : linalg::GenericOp();
    };
    linalg::GenericOp nope = keyProduct(scaled->parts[0]),
                      rope = keyProduct(scaled->parts[1]);
    if (nope && rope && rope.getDpsInputs()[1] == latent)
      std::swap(nope, rope);
    if (!nope || !rope || nope.getDpsInputs()[1] != latent ||
        rope.getDpsInputs()[1] == latent)
      return rewriter.notifyMatchFailure(
          op, "scores and values do not use the same latent");
    // qLat[b, h, s, c] = sum_n qNope[b, h, s, n] * W_UK[h, n, c]
    linalg::GenericOp absorb = definingGeneric(nope.getDpsInputs()[0], 2);
    Value wUK = absorb ? absorb.getDpsInputs()[1] : Value();
    auto ukType =
        wUK ? dyn_cast<RankedTensorType>(wUK.getType()) : RankedTensorType();
    auto uvType = dyn_cast<RankedTensorType>(wUV.getType());
    if (!absorb ||
        !hasStructure(absorb, 5, {{0, 1, 2, 4}, {1, 4, 3}, {0, 1, 2, 3}},
                      {4}) ||
        !isMultiplyAccumulate(absorb) ||
        !isZeroFilled(absorb.getDpsInits()[0]) || !ukType || !uvType ||
        !ukType.hasStaticShape() || !uvType.hasStaticShape() ||
        ukType.getElementType() != uvType.getElementType() ||
        ukType.getDimSize(0) != uvType.getDimSize(0) ||
        ukType.getDimSize(2) != uvType.getDimSize(2))
      return rewriter.notifyMatchFailure(
          op, "queries are not multiplied by a per-head [H, dn, C] W_UK "
              "matching the output's W_UV");

    Value qNopeT = absorb.getDpsInputs()[0], qPeT = rope.getDpsInputs()[0],
          kPe = rope.getDpsInputs()[1];
    auto latentType = cast<RankedTensorType>(latent.getType());
    auto maskType = cast<RankedTensorType>(scaled->mask.getType());
    if (latentType.getRank() != 3 ||
        cast<RankedTensorType>(kPe.getType()).getRank() != 3 ||
        !ukType.getElementType().isF32() || maskType.getRank() != 4)
      return rewriter.notifyMatchFailure(
          op, "latent or rope key is not [batch, seq, d], or W_UK is not f32");

    Location loc = op.getLoc();
    TensorMath m(rewriter, loc);
    int64_t heads = ukType.getDimSize(0), dn = ukType.getDimSize(1),
            dv = uvType.getDimSize(1), c = ukType.getDimSize(2);
    auto resultType = RankedTensorType::get(
        {ShapedType::kDynamic, ShapedType::kDynamic, heads, dv},
        rewriter.getF32Type());
    auto mla = MlaOp::create(
        rewriter, loc, resultType, sequenceMajor(m, qNopeT),
        sequenceMajor(m, qPeT), latent, kPe, m.joinKvB(wUK, wUV),
        /*scales=*/Value(), scaled->mask,
        rewriter.getF64FloatAttr(scaled->scale),
        MlaFormAttr::get(getContext(), chooseForm(form, dn, dv, c)),
        DenseI64ArrayAttr());
    Value out = m.transposed(mla.getResult(), {0, 2, 1, 3});
    rewriter.replaceOp(
        op, tensor::CastOp::create(rewriter, loc, op.getResultTypes()[0], out));
    return success();
  }

  std::string form;
};

struct DscFuseMlaPass : mlir::dsc::impl::DscFuseMlaBase<DscFuseMlaPass> {
  using DscFuseMlaBase::DscFuseMlaBase;

  void runOnOperation() override {
    if (form != "auto" && form != "naive" && form != "absorbed") {
      getOperation()->emitError("dsc-fuse-mla: form must be auto, naive or "
                                "absorbed, not '")
          << form << "'";
      return signalPassFailure();
    }
    RewritePatternSet set(&getContext());
    set.add<FuseNaiveMla, FuseAbsorbedMla, FuseExportedMla,
            FuseExportedAbsorbedMla>(&getContext(), form);
    FrozenRewritePatternSet patterns(std::move(set));
    FusionSpec spec{"mla", "no attention", kNotACandidate, countOps<MlaOp>};
    FailureOr<unsigned> fused =
        applyFusionPatterns(getOperation(), patterns, spec, report);
    if (failed(fused))
      return signalPassFailure();
    numFused += *fused;
  }
};

} // namespace

//===- FuseMla.cpp - Naive latent attention to dsc.mla --------------------===//

#include "passes/Passes.h"

#include "dialects/dsc/DscOps.h"
#include "passes/FusionDriver.h"
#include "passes/LinalgMatchers.h"

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

/// `x[..., offset : offset + size]` of a static-offset slice on the last
/// dimension only: returns (x, offset, size).
std::optional<std::tuple<Value, int64_t, int64_t>> matchSliceLast(Value v) {
  auto slice = v.getDefiningOp<tensor::ExtractSliceOp>();
  if (!slice || !slice.hasUnitStride())
    return std::nullopt;
  ArrayRef<int64_t> offsets = slice.getStaticOffsets();
  ArrayRef<int64_t> sizes = slice.getStaticSizes();
  for (int64_t o : offsets.drop_back())
    if (o != 0)
      return std::nullopt;
  if (ShapedType::isDynamic(offsets.back()) ||
      ShapedType::isDynamic(sizes.back()))
    return std::nullopt;
  return std::make_tuple(slice.getSource(), offsets.back(), sizes.back());
}

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

    // Softmax: divide(exp(masked - max), sum).
    linalg::GenericOp normalize = definingGeneric(probs, 2);
    linalg::GenericOp exps =
        normalize ? definingGeneric(normalize.getDpsInputs()[0], 1) : nullptr;
    linalg::GenericOp shifted =
        exps ? definingGeneric(exps.getDpsInputs()[0], 2) : nullptr;
    if (!normalize || !exps || !shifted || !bodyHas<arith::DivFOp>(normalize) ||
        !bodyHas<math::ExpOp>(exps) || !bodyHas<arith::SubFOp>(shifted))
      return rewriter.notifyMatchFailure(op, "probabilities are not a softmax");
    linalg::GenericOp masked = definingGeneric(shifted.getDpsInputs()[0], 1);
    std::optional<double> scale =
        masked ? matchCausalMask(masked) : std::nullopt;
    if (!scale)
      return rewriter.notifyMatchFailure(
          op, "scores are not scaled and causally masked");

    // Scores: q_nope . k_nope (per head) + q_pe . k_pe (one shared head).
    linalg::GenericOp rope = definingGeneric(masked.getDpsInputs()[0], 2);
    if (!rope ||
        !hasStructure(rope, 5, {{0, 2, 1, 4}, {0, 3, 4}, {0, 1, 2, 3}}, {4}) ||
        !bodyIs<arith::MulFOp, arith::AddFOp>(rope))
      return rewriter.notifyMatchFailure(
          op, "no rope score part with a key shared by all heads");
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
    MlaForm chosen = form == "naive"      ? MlaForm::Naive
                     : form == "absorbed" ? MlaForm::Absorbed
                     // Prefill (queries = keys): naive iff dn + dv < 2 C.
                     : dn + dv < 2 * c ? MlaForm::Naive
                                       : MlaForm::Absorbed;
    auto mla = MlaOp::create(rewriter, op.getLoc(), op.getResultTypes()[0],
                             qNope, qPe, latent, kPe, kvb.getWeight(),
                             kvb.getScales(), rewriter.getF64FloatAttr(*scale),
                             MlaFormAttr::get(rewriter.getContext(), chosen),
                             kvb.getBlockSizeAttr());
    rewriter.replaceOp(op, mla.getResult());
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
    set.add<FuseNaiveMla>(&getContext(), form);
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

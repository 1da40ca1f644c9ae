//===- FuseMoe.cpp - Dense masked experts to dsc.moe ----------------------===//

#include "passes/Passes.h"

#include "dialects/dsc/DscOps.h"
#include "passes/FusionDriver.h"
#include "passes/LinalgMatchers.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/StringExtras.h"

#define DEBUG_TYPE "dsc-fuse-moe"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCFUSEMOE
#include "passes/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {

/// `g[e, t, w] = sum_d x[t, d] * w[e, w, d]`: returns (x, w) or nothing.
std::optional<std::pair<Value, Value>> matchExpertProjection(Value value) {
  auto op = value.getDefiningOp<linalg::GenericOp>();
  if (!op || op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      !hasStructure(op, 4, {{1, 3}, {0, 2, 3}, {0, 1, 2}}, {3}) ||
      !isZeroFilled(op.getDpsInits()[0]) ||
      !bodyIs<arith::MulFOp, arith::AddFOp>(op))
    return std::nullopt;
  return std::make_pair(op.getDpsInputs()[0], op.getDpsInputs()[1]);
}

/// The first check: is this generic the masked down projection at all? Its
/// failure is not a near miss, so the report does not list it.
constexpr StringLiteral kNotACandidate = "not a masked down projection";

struct FuseDenseMaskedExperts : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    // y[t, d] = sum_{e, w} combine[t, e] * act[e, t, w] * down[e, d, w].
    if (op.getNumDpsInputs() != 3 || op.getNumDpsInits() != 1 ||
        !hasStructure(op, 4, {{0, 2}, {2, 0, 3}, {2, 1, 3}, {0, 1}}, {2, 3}))
      return rewriter.notifyMatchFailure(op, kNotACandidate);
    if (!isZeroFilled(op.getDpsInits()[0]) ||
        !bodyIs<arith::MulFOp, arith::MulFOp, arith::AddFOp>(op))
      return rewriter.notifyMatchFailure(
          op, "down projection is not a zero-initialized multiply-accumulate");
    Value combine = op.getDpsInputs()[0], act = op.getDpsInputs()[1],
          down = op.getDpsInputs()[2];

    auto swiglu = act.getDefiningOp<SwigluOp>();
    if (!swiglu)
      return rewriter.notifyMatchFailure(op, "expert activation is not SwiGLU");
    auto gateProj = matchExpertProjection(swiglu.getGate());
    auto upProj = matchExpertProjection(swiglu.getUp());
    if (!gateProj || !upProj)
      return rewriter.notifyMatchFailure(
          op, "gate/up are not per-expert projections of the tokens");
    if (gateProj->first != upProj->first)
      return rewriter.notifyMatchFailure(
          op, "gate and up project different inputs");

    // combine[t, e] = sum_j (indices[t, j] == e ? weights[t, j] : 0).
    auto scatter = combine.getDefiningOp<linalg::GenericOp>();
    if (!scatter || scatter.getNumDpsInputs() != 2 ||
        !hasStructure(scatter, 3, {{0, 2}, {0, 2}, {0, 1}}, {2}) ||
        !isZeroFilled(scatter.getDpsInits()[0]))
      return rewriter.notifyMatchFailure(
          op, "routing matrix is not a scatter of top-k weights");
    bool selects = false, comparesExpert = false;
    for (Operation &bodyOp : scatter.getRegion().front()) {
      selects |= isa<arith::SelectOp>(bodyOp);
      if (auto cmp = dyn_cast<arith::CmpIOp>(bodyOp))
        comparesExpert |= cmp.getPredicate() == arith::CmpIPredicate::eq;
    }
    if (!selects || !comparesExpert)
      return rewriter.notifyMatchFailure(
          op, "routing matrix does not select weights by expert index");
    Value indices = scatter.getDpsInputs()[0],
          weights = scatter.getDpsInputs()[1];
    if (!cast<ShapedType>(indices.getType()).getElementType().isInteger(64))
      return rewriter.notifyMatchFailure(op, "expert indices are not i64");

    Value x = gateProj->first;
    auto moe =
        MoeOp::create(rewriter, op.getLoc(), op.getResultTypes()[0], x, weights,
                      indices, gateProj->second, upProj->second, down);
    rewriter.replaceOp(op, moe.getResult());
    return success();
  }
};

struct DscFuseMoePass : mlir::dsc::impl::DscFuseMoeBase<DscFuseMoePass> {
  using DscFuseMoeBase::DscFuseMoeBase;

  void runOnOperation() override {
    RewritePatternSet set(&getContext());
    populateFuseMoePatterns(set);
    FrozenRewritePatternSet patterns(std::move(set));
    FusionSpec spec{"moe", "no experts", kNotACandidate, countOps<MoeOp>};
    FailureOr<unsigned> fused =
        applyFusionPatterns(getOperation(), patterns, spec, report);
    if (failed(fused))
      return signalPassFailure();
    numFused += *fused;
  }
};

} // namespace

void mlir::dsc::populateFuseMoePatterns(RewritePatternSet &patterns) {
  patterns.add<FuseDenseMaskedExperts>(patterns.getContext());
}

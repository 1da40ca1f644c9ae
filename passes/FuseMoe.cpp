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

    // FP8 stacks dequantized whole (as imported) go into dsc.moe as they
    // are stored, with their scales: it dequantizes only the chosen
    // experts. Stacks that are not all dequantized alike stay f32.
    SmallVector<Value> stacks = {gateProj->second, upProj->second, down};
    SmallVector<std::optional<Dequantized>> dequantized;
    for (Value stack : stacks)
      dequantized.push_back(matchDequantize(stack));
    SmallVector<Value> scales;
    DenseI64ArrayAttr block;
    auto &first = dequantized.front();
    if (llvm::all_of(dequantized, [&](const std::optional<Dequantized> &d) {
          return d &&
                 isa<Float8E4M3FNType>(
                     cast<RankedTensorType>(d->weight.getType())
                         .getElementType()) &&
                 d->bm == first->bm && d->bn == first->bn;
        })) {
      for (unsigned i = 0; i < 3; ++i) {
        stacks[i] = dequantized[i]->weight;
        scales.push_back(dequantized[i]->scales);
      }
      block = rewriter.getDenseI64ArrayAttr({first->bm, first->bn});
    }

    Value x = gateProj->first;
    auto moe = MoeOp::create(rewriter, op.getLoc(), op.getResultTypes()[0], x,
                             weights, indices, stacks[0], stacks[1], stacks[2],
                             scales, block, ValueRange(), DenseI64ArrayAttr());
    rewriter.replaceOp(op, moe.getResult());
    return success();
  }
};

/// The shared experts added to the routed ones: `moe + down(swiglu(gate x,
/// up x))` with three `dsc.linear` of the MoE input becomes one `dsc.moe
/// ... shared(gate, up, down)`.
struct FuseSharedExperts : OpRewritePattern<MoeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MoeOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getShared().empty() || !op->hasOneUse())
      return rewriter.notifyMatchFailure(op, kNotACandidate);
    // sum = add(moe, shared) (either order), elementwise.
    auto add = dyn_cast<linalg::GenericOp>(*op->getUsers().begin());
    if (!add || add.getNumDpsInputs() != 2 || add.getNumDpsInits() != 1 ||
        !hasStructure(add, 2, {{0, 1}, {0, 1}, {0, 1}}, {}) ||
        !bodyIs<arith::AddFOp>(add))
      return rewriter.notifyMatchFailure(op, kNotACandidate);
    Value other = add.getDpsInputs()[add.getDpsInputs()[0] == op.getResult()];
    auto down = other.getDefiningOp<LinearOp>();
    auto act = down ? down.getInput().getDefiningOp<SwigluOp>() : SwigluOp();
    auto gate = act ? act.getGate().getDefiningOp<LinearOp>() : LinearOp();
    auto up = act ? act.getUp().getDefiningOp<LinearOp>() : LinearOp();
    if (!gate || !up || gate.getInput() != op.getInput() ||
        up.getInput() != op.getInput())
      return rewriter.notifyMatchFailure(
          op, "the routed experts' sum is not added to a SwiGLU MLP of the "
              "same tokens (shared experts)");
    SmallVector<LinearOp> linears = {gate, up, down};
    bool quantized = llvm::all_of(
        linears, [](LinearOp l) { return l.getScales() != nullptr; });
    bool plain = llvm::none_of(
        linears, [](LinearOp l) { return l.getScales() != nullptr; });
    if ((!quantized && !plain) ||
        (quantized && (gate.getBlockSizeAttr() != up.getBlockSizeAttr() ||
                       gate.getBlockSizeAttr() != down.getBlockSizeAttr())))
      return rewriter.notifyMatchFailure(
          op, "shared experts mix FP8 and plain weights or block sizes");
    SmallVector<Value> shared;
    for (LinearOp l : linears)
      shared.push_back(l.getWeight());
    if (quantized)
      for (LinearOp l : linears)
        shared.push_back(l.getScales());
    auto fused = MoeOp::create(
        rewriter, op.getLoc(), add.getResultTypes()[0], op.getInput(),
        op.getWeights(), op.getIndices(), op.getGateProj(), op.getUpProj(),
        op.getDownProj(), op.getExpertScales(), op.getExpertBlockSizeAttr(),
        shared, quantized ? gate.getBlockSizeAttr() : DenseI64ArrayAttr());
    rewriter.replaceOp(add, fused.getResult());
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
  patterns.add<FuseDenseMaskedExperts, FuseSharedExperts>(
      patterns.getContext());
}

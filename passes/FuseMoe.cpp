//===- FuseMoe.cpp - Dense masked experts to dsc.moe ----------------------===//

#include "passes/Passes.h"

#include "dialects/dsc/DscOps.h"
#include "passes/FusionDriver.h"
#include "passes/LinalgMatchers.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
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
      !isZeroFilled(op.getDpsInits()[0]) || !isMultiplyAccumulate(op))
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

/// `c[s, r, n] = sum_k a[s, r, k] * b[s, k, n]` (a batched MatMul, one
/// matrix per slot), zero-initialized: returns (a, b) or nothing.
std::optional<std::pair<Value, Value>> matchBatchedMatmul(Value value) {
  linalg::GenericOp op = definingGeneric(value, 2);
  if (!op || !hasStructure(op, 4, {{0, 1, 3}, {0, 3, 2}, {0, 1, 2}}, {3}) ||
      !isZeroFilled(op.getDpsInits()[0]) || !isMultiplyAccumulate(op))
    return std::nullopt;
  return std::make_pair(op.getDpsInputs()[0], op.getDpsInputs()[1]);
}

/// Whether `expert` is the index `read`, cast to index, with only the
/// bounds handling a gather applies: clamping to [0, experts - 1]
/// (maxsi/minsi with constants) and wrapping negative indices (select
/// between the index and the index + experts).
bool isExpertIndex(Value expert, Value read, int64_t experts) {
  if (expert == read)
    return true;
  Operation *def = expert.getDefiningOp();
  if (!def)
    return false;
  if (auto cast = dyn_cast<arith::IndexCastOp>(def))
    return isExpertIndex(cast.getIn(), read, experts);
  if (isa<arith::MaxSIOp, arith::MinSIOp>(def)) {
    for (unsigned i = 0; i < 2; ++i) {
      std::optional<int64_t> bound = getConstantIntValue(def->getOperand(i));
      if (bound && (*bound == 0 || *bound == experts - 1))
        return isExpertIndex(def->getOperand(1 - i), read, experts);
    }
    return false;
  }
  if (auto add = dyn_cast<arith::AddIOp>(def)) {
    for (unsigned i = 0; i < 2; ++i)
      if (isConstantIntValue(add->getOperand(i), experts))
        return isExpertIndex(add->getOperand(1 - i), read, experts);
    return false;
  }
  if (auto select = dyn_cast<arith::SelectOp>(def))
    return isExpertIndex(select.getTrueValue(), read, experts) &&
           isExpertIndex(select.getFalseValue(), read, experts);
  return false;
}

/// A copy of one stacked expert matrix per slot (an exporter's GatherND of
/// the stack): `out[s, r, c] = stack[index[s], r, c]`, the expert index
/// read from `index[s, 0]` (clamped, negative indices wrapped: nothing
/// else). Returns (stack, index) or nothing.
std::optional<std::pair<Value, Value>> matchExpertGather(Value value) {
  auto op = value.getDefiningOp<linalg::GenericOp>();
  if (!op || op.getNumDpsInputs() != 0 || op.getNumDpsInits() != 1 ||
      op.getNumLoops() != 3 || op.getNumReductionLoops() != 0)
    return std::nullopt;
  Block &body = op.getRegion().front();
  auto element =
      body.getTerminator()->getOperand(0).getDefiningOp<tensor::ExtractOp>();
  auto isLoop = [](Value v, int64_t dim) {
    auto index = v.getDefiningOp<linalg::IndexOp>();
    return index && int64_t(index.getDim()) == dim;
  };
  if (!element || element.getIndices().size() != 3 ||
      !isLoop(element.getIndices()[1], 1) ||
      !isLoop(element.getIndices()[2], 2) ||
      element.getTensor().getParentRegion() == &op.getRegion())
    return std::nullopt;
  // The one other read: the slot's expert index.
  tensor::ExtractOp index;
  for (auto read : body.getOps<tensor::ExtractOp>()) {
    if (read == element)
      continue;
    if (index)
      return std::nullopt;
    index = read;
  }
  auto stackType = cast<RankedTensorType>(element.getTensor().getType());
  if (!index || index.getIndices().empty() ||
      !isLoop(index.getIndices()[0], 0) ||
      !llvm::all_of(index.getIndices().drop_front(),
                    [](Value v) { return isConstantIntValue(v, 0); }) ||
      index.getTensor().getParentRegion() == &op.getRegion() ||
      !stackType.hasStaticShape() ||
      !isExpertIndex(element.getIndices()[0], index.getResult(),
                     stackType.getDimSize(0)))
    return std::nullopt;
  return std::make_pair(element.getTensor(), index.getTensor());
}

/// The experts as an exporter writes them from transformers' `batched_mm`:
/// every (token, k) slot gathers copies of its expert's matrices and runs a
/// batched MatMul on its own row:
///
/// ```
/// xs = repeat each token's row top_k times            [N*K, H]
/// gu[s] = gate_up[idx[s]] . xs[s]    (GatherND, MatMul) [N*K, 2W]
/// a = swiglu(gu[:, :W], gu[:, W:])
/// y[s] = down[idx[s]] . a[s] * w[s]                    [N*K, H]
/// out[t] = sum_k y[t*K + k]                            (ReduceSum)
/// ```
///
/// The root is the sum over k. It becomes `dsc.moe` with the gate and up
/// halves of the stacked gate_up matrices.
struct FuseGatheredExperts : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    // out[t, d] = sum_k y[t, k, d].
    if (op.getNumDpsInputs() != 1 || op.getNumDpsInits() != 1 ||
        !hasStructure(op, 3, {{0, 1, 2}, {0, 2}}, {1}) ||
        !isZeroFilled(op.getDpsInits()[0]) || !isSum(op))
      return rewriter.notifyMatchFailure(op, kNotACandidate);
    auto slotsType = cast<RankedTensorType>(op.getDpsInputs()[0].getType());
    int64_t topK = slotsType.getDimSize(1);
    // y[s, d] = down_out[s, d] * w[s, 0].
    linalg::GenericOp weighted =
        definingGeneric(throughReshapes(op.getDpsInputs()[0]), 2);
    if (!weighted || weighted.getNumLoops() != 2 ||
        weighted.getNumReductionLoops() != 0 || !isProduct(weighted) ||
        ShapedType::isDynamic(topK))
      return rewriter.notifyMatchFailure(op, kNotACandidate);
    MLIRContext *ctx = op.getContext();
    AffineMap rows = AffineMap::getMultiDimIdentityMap(2, ctx);
    AffineMap column = AffineMap::get(
        2, 0, {getAffineDimExpr(0, ctx), getAffineConstantExpr(0, ctx)}, ctx);
    SmallVector<AffineMap> maps = weighted.getIndexingMapsArray();
    if (maps[0] != rows || maps[1] != column || maps[2] != rows)
      return rewriter.notifyMatchFailure(
          op, "slot outputs are not scaled by one routing weight per slot");
    auto down = matchBatchedMatmul(throughReshapes(weighted.getDpsInputs()[0]));
    auto downGather = down ? matchExpertGather(down->first) : std::nullopt;
    auto act = down ? throughReshapes(down->second).getDefiningOp<SwigluOp>()
                    : SwigluOp();
    if (!downGather || !act)
      return rewriter.notifyMatchFailure(
          op, "slot outputs are not a gathered down projection of SwiGLU");
    // SwiGLU of the two halves of one gate_up product.
    auto gateHalf = act.getGate().getDefiningOp<tensor::ExtractSliceOp>();
    auto upHalf = act.getUp().getDefiningOp<tensor::ExtractSliceOp>();
    auto halfAt = [](tensor::ExtractSliceOp slice) -> std::optional<int64_t> {
      if (!slice || slice.getStaticOffsets().size() != 2 ||
          slice.getStaticOffsets()[0] != 0 || !slice.hasUnitStride())
        return std::nullopt;
      return slice.getStaticOffsets()[1];
    };
    auto gateUp =
        gateHalf && upHalf && gateHalf.getSource() == upHalf.getSource()
            ? matchBatchedMatmul(throughReshapes(gateHalf.getSource()))
            : std::nullopt;
    auto gateUpGather =
        gateUp ? matchExpertGather(gateUp->first) : std::nullopt;
    if (!gateUpGather)
      return rewriter.notifyMatchFailure(
          op, "SwiGLU is not of a gathered gate_up projection");
    auto stackType = cast<RankedTensorType>(gateUpGather->first.getType());
    int64_t experts = stackType.getDimSize(0), hidden = stackType.getDimSize(2);
    int64_t width = stackType.getDimSize(1) / 2;
    if (!stackType.hasStaticShape() || stackType.getDimSize(1) != 2 * width ||
        halfAt(gateHalf) != 0 || halfAt(upHalf) != width)
      return rewriter.notifyMatchFailure(
          op, "gate and up are not the two halves of the gate_up matrices");
    // Both gathers read the same slot indices, and the slots' weights are
    // one per slot: [N, K] tensors flattened to [N * K] (then [N * K, 1]).
    auto perToken = [](Value slots) -> Value {
      Value flat = viewOfRank(slots, 1);
      return flat ? viewOfRank(flat, 2) : Value();
    };
    Value indices = perToken(gateUpGather->second);
    Value weights = perToken(weighted.getDpsInputs()[1]);
    auto indicesType =
        indices ? dyn_cast<RankedTensorType>(indices.getType()) : nullptr;
    auto weightsType =
        weights ? dyn_cast<RankedTensorType>(weights.getType()) : nullptr;
    if (!indices || perToken(downGather->second) != indices || !indicesType ||
        indicesType.getRank() != 2 || indicesType.getDimSize(1) != topK ||
        !indicesType.getElementType().isInteger(64) || !weightsType ||
        weightsType.getShape() != indicesType.getShape() ||
        !weightsType.getElementType().isF32())
      return rewriter.notifyMatchFailure(
          op, "the experts' indices and weights are not [tokens, top_k]");
    // The slots' rows: each token's row repeated top_k times, slot
    // t * top_k + k being token t's row ([N, 1, H] broadcast to [N, K, H]).
    linalg::GenericOp repeat =
        definingGeneric(throughReshapes(gateUp->second), 1);
    AffineMap firstRow =
        AffineMap::get(3, 0,
                       {getAffineDimExpr(0, ctx), getAffineConstantExpr(0, ctx),
                        getAffineDimExpr(2, ctx)},
                       ctx);
    auto isCopy = [](linalg::GenericOp g) {
      Block &body = g.getRegion().front();
      return body.without_terminator().empty() &&
             body.getTerminator()->getOperand(0) == body.getArgument(0);
    };
    Value x = repeat ? viewOfRank(repeat.getDpsInputs()[0], 2) : Value();
    auto xType = x ? dyn_cast<RankedTensorType>(x.getType()) : nullptr;
    if (!repeat || repeat.getNumReductionLoops() != 0 ||
        repeat.getIndexingMapsArray()[0] != firstRow ||
        !repeat.getIndexingMapsArray()[1].isIdentity() || !isCopy(repeat) ||
        cast<RankedTensorType>(repeat.getDpsInputs()[0].getType())
                .getDimSize(1) != 1 ||
        cast<RankedTensorType>(repeat.getResultTypes()[0]).getDimSize(1) !=
            topK ||
        !xType || xType != op.getResultTypes()[0] ||
        xType.getDimSize(1) != hidden)
      return rewriter.notifyMatchFailure(
          op, "the slots' inputs are not each token's row repeated top_k "
              "times");
    auto downType = cast<RankedTensorType>(downGather->first.getType());
    if (downType.getShape() != ArrayRef<int64_t>{experts, hidden, width})
      return rewriter.notifyMatchFailure(
          op, "the down matrices do not match gate_up");

    Location loc = op.getLoc();
    auto half = [&](int64_t offset) -> Value {
      SmallVector<OpFoldResult> offsets = {rewriter.getIndexAttr(0),
                                           rewriter.getIndexAttr(offset),
                                           rewriter.getIndexAttr(0)};
      SmallVector<OpFoldResult> sizes = {rewriter.getIndexAttr(experts),
                                         rewriter.getIndexAttr(width),
                                         rewriter.getIndexAttr(hidden)};
      SmallVector<OpFoldResult> strides(3, rewriter.getIndexAttr(1));
      return tensor::ExtractSliceOp::create(
          rewriter, loc,
          RankedTensorType::get({experts, width, hidden},
                                stackType.getElementType()),
          gateUpGather->first, offsets, sizes, strides);
    };
    auto moe = MoeOp::create(rewriter, loc, op.getResultTypes()[0], x, weights,
                             indices, half(0), half(width), downGather->first,
                             ValueRange(), DenseI64ArrayAttr(), ValueRange(),
                             DenseI64ArrayAttr());
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
  patterns.add<FuseDenseMaskedExperts, FuseGatheredExperts, FuseSharedExperts>(
      patterns.getContext());
}

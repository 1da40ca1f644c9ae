//===- FuseMoe.cpp - Dense masked experts to dsc.moe ----------------------===//

#include "passes/Passes.h"

#include "dialects/dsc/DscOps.h"
#include "dialects/dsc/TensorMath.h"
#include "passes/FusionDriver.h"
#include "passes/LinalgMatchers.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
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

Value unclamped(Value v);

/// The routing matrix of dense masked experts, `combine[t, e] = sum_j
/// (indices[t, j] == e ? weights[t, j] : 0)` (the top-k weights scattered
/// into zeros, the index wrapped and clamped or not): returns (indices,
/// weights).
FailureOr<std::pair<Value, Value>>
matchRoutingScatter(Value combine, PatternRewriter &rewriter, Operation *root) {
  auto scatter = combine.getDefiningOp<linalg::GenericOp>();
  if (!scatter || scatter.getNumDpsInputs() != 2 ||
      !hasStructure(scatter, 3, {{0, 2}, {0, 2}, {0, 1}}, {2}) ||
      !isZeroFilled(scatter.getDpsInits()[0]))
    return rewriter.notifyMatchFailure(
        root, "routing matrix is not a scatter of top-k weights");
  // Body: select(indices == e, weights, out) or out + select(indices == e,
  // weights, 0), e the expert (loop 1).
  Block &body = scatter.getRegion().front();
  Value yielded = peel(yieldedValue(scatter));
  auto select = yielded.getDefiningOp<arith::SelectOp>();
  if (auto add = yielded.getDefiningOp<arith::AddFOp>()) {
    for (auto [acc, term] : {std::pair(add.getLhs(), add.getRhs()),
                             std::pair(add.getRhs(), add.getLhs())})
      if (peel(acc) == body.getArgument(2))
        if (auto s = peel(term).getDefiningOp<arith::SelectOp>();
            s && constantOf(s.getFalseValue()) == 0.0)
          select = s;
  } else if (select && peel(select.getFalseValue()) != body.getArgument(2)) {
    select = arith::SelectOp();
  }
  auto cmp = select ? select.getCondition().getDefiningOp<arith::CmpIOp>()
                    : arith::CmpIOp();
  bool byIndex = false;
  if (cmp && cmp.getPredicate() == arith::CmpIPredicate::eq &&
      peel(select.getTrueValue()) == body.getArgument(1))
    for (auto [a, b] : {std::pair(cmp.getLhs(), cmp.getRhs()),
                        std::pair(cmp.getRhs(), cmp.getLhs())}) {
      auto column = unclamped(b).getDefiningOp<linalg::IndexOp>();
      byIndex |=
          unclamped(a) == body.getArgument(0) && column && column.getDim() == 1;
    }
  if (!byIndex)
    return rewriter.notifyMatchFailure(
        root, "routing matrix does not select weights by expert index");
  Value indices = scatter.getDpsInputs()[0],
        weights = scatter.getDpsInputs()[1];
  if (!cast<ShapedType>(indices.getType()).getElementType().isInteger(64))
    return rewriter.notifyMatchFailure(root, "expert indices are not i64");
  return std::make_pair(indices, weights);
}

/// SwiGLU of the two halves of one product along its last dimension (an
/// exporter's split of a gate_up projection): returns (the product, the
/// half width).
std::optional<std::pair<Value, int64_t>> swigluHalves(SwigluOp act) {
  auto gate = act ? matchSliceLast(act.getGate()) : std::nullopt;
  auto up = act ? matchSliceLast(act.getUp()) : std::nullopt;
  if (!gate || !up || std::get<0>(*gate) != std::get<0>(*up))
    return std::nullopt;
  Value product = std::get<0>(*gate);
  int64_t width = std::get<2>(*gate);
  if (std::get<1>(*gate) != 0 || std::get<1>(*up) != width ||
      std::get<2>(*up) != width ||
      cast<RankedTensorType>(product.getType()).getShape().back() != 2 * width)
    return std::nullopt;
  return std::make_pair(product, width);
}

/// Rows [offset, offset + width) of each matrix of a stack [E, 2W, H] of
/// gate_up matrices: its gate (offset 0) or up (offset W) half.
Value stackHalf(PatternRewriter &rewriter, Location loc, Value stack,
                int64_t offset, int64_t width) {
  auto type = cast<RankedTensorType>(stack.getType());
  int64_t experts = type.getDimSize(0), hidden = type.getDimSize(2);
  SmallVector<OpFoldResult> offsets = {rewriter.getIndexAttr(0),
                                       rewriter.getIndexAttr(offset),
                                       rewriter.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes = {rewriter.getIndexAttr(experts),
                                     rewriter.getIndexAttr(width),
                                     rewriter.getIndexAttr(hidden)};
  SmallVector<OpFoldResult> strides(3, rewriter.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(
      rewriter, loc,
      RankedTensorType::get({experts, width, hidden}, type.getElementType()),
      stack, offsets, sizes, strides);
}

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

    FailureOr<std::pair<Value, Value>> routing =
        matchRoutingScatter(combine, rewriter, op);
    if (failed(routing))
      return failure();
    auto [indices, weights] = *routing;

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
    auto halves = swigluHalves(act);
    if (!halves)
      return rewriter.notifyMatchFailure(
          op, "gate and up are not the two halves of the gate_up matrices");
    auto gateUp = matchBatchedMatmul(throughReshapes(halves->first));
    auto gateUpGather =
        gateUp ? matchExpertGather(gateUp->first) : std::nullopt;
    if (!gateUpGather)
      return rewriter.notifyMatchFailure(
          op, "SwiGLU is not of a gathered gate_up projection");
    auto stackType = cast<RankedTensorType>(gateUpGather->first.getType());
    int64_t experts = stackType.getDimSize(0), hidden = stackType.getDimSize(2);
    int64_t width = halves->second;
    if (!stackType.hasStaticShape() || stackType.getDimSize(1) != 2 * width)
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
    Value stack = gateUpGather->first;
    auto moe = MoeOp::create(
        rewriter, loc, op.getResultTypes()[0], x, weights, indices,
        stackHalf(rewriter, loc, stack, 0, width),
        stackHalf(rewriter, loc, stack, width, width), downGather->first,
        ValueRange(), DenseI64ArrayAttr(), ValueRange(), DenseI64ArrayAttr());
    rewriter.replaceOp(op, moe.getResult());
    return success();
  }
};

/// The dense masked experts as an exporter writes a model that computes
/// them that way (test/fixtures/onnx/export_tiny_v3.py --experts dense), in
/// the [tokens, experts] layout:
///
/// ```
/// gu[t, e, n] = sum_d x[t, d] * gate_up[e, n, d]     [T, E, 2W]
/// a = swiglu(gu[..., :W], gu[..., W:])
/// y[t, e, d] = sum_w a[t, e, w] * down[e, d, w]     [T, E, H]
/// out[t, d] = sum_e combine[t, e] * y[t, e, d]
/// ```
///
/// with `combine` the top-k weights scattered into [T, E]. The root is the
/// combination; it becomes `dsc.moe` with the gate and up halves of the
/// stacked gate_up matrices.
struct FuseExportedDenseExperts : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    // out[t, d] = sum_e combine[t, e] * y[t, e, d], y a per-expert down
    // projection (else this is no experts computation).
    auto isContraction = [](linalg::GenericOp g) {
      return g && g.getNumDpsInputs() == 2 && g.getNumDpsInits() == 1 &&
             isMultiplyAccumulate(g) && isZeroFilled(g.getDpsInits()[0]);
    };
    linalg::GenericOp down =
        isContraction(op) &&
                hasStructure(op, 3, {{0, 2}, {0, 2, 1}, {0, 1}}, {2})
            ? definingGeneric(op.getDpsInputs()[1], 2)
            : linalg::GenericOp();
    if (!isContraction(down) ||
        !hasStructure(down, 4, {{0, 1, 3}, {1, 2, 3}, {0, 1, 2}}, {3}))
      return rewriter.notifyMatchFailure(op, kNotACandidate);

    auto act = down.getDpsInputs()[0].getDefiningOp<SwigluOp>();
    if (!act)
      return rewriter.notifyMatchFailure(op, "expert activation is not SwiGLU");
    // gu[t, e, n] = sum_d x[t, d] * gate_up[e, n, d], split in halves.
    auto halves = swigluHalves(act);
    if (!halves)
      return rewriter.notifyMatchFailure(
          op, "gate and up are not the two halves of one gate_up projection");
    linalg::GenericOp gateUp = definingGeneric(halves->first, 2);
    if (!isContraction(gateUp) ||
        !hasStructure(gateUp, 4, {{0, 3}, {1, 2, 3}, {0, 1, 2}}, {3}))
      return rewriter.notifyMatchFailure(
          op, "SwiGLU is not of a per-expert gate_up projection of the tokens");
    Value x = gateUp.getDpsInputs()[0], stack = gateUp.getDpsInputs()[1],
          downStack = down.getDpsInputs()[1];
    auto stackType = cast<RankedTensorType>(stack.getType());
    auto downType = cast<RankedTensorType>(downStack.getType());
    int64_t experts = stackType.getDimSize(0), hidden = stackType.getDimSize(2),
            width = halves->second;
    if (!stackType.hasStaticShape() ||
        downType.getShape() != ArrayRef<int64_t>{experts, hidden, width} ||
        x.getType() != op.getResultTypes()[0])
      return rewriter.notifyMatchFailure(
          op, "the down matrices or the tokens do not match gate_up");

    FailureOr<std::pair<Value, Value>> routing =
        matchRoutingScatter(op.getDpsInputs()[0], rewriter, op);
    if (failed(routing))
      return failure();
    auto [indices, weights] = *routing;

    Location loc = op.getLoc();
    auto moe = MoeOp::create(rewriter, loc, op.getResultTypes()[0], x, weights,
                             indices, stackHalf(rewriter, loc, stack, 0, width),
                             stackHalf(rewriter, loc, stack, width, width),
                             downStack, ValueRange(), DenseI64ArrayAttr(),
                             ValueRange(), DenseI64ArrayAttr());
    rewriter.replaceOp(op, moe.getResult());
    return success();
  }
};

/// One expert's matrix read out of a stack, `out[r, c] = stack[e, r, c]`
/// for a constant `e` (an exporter's Gather of the stack at a constant, as
/// imported): returns (stack, e).
std::optional<std::pair<Value, int64_t>> matchExpertMatrix(Value v) {
  auto op = v.getDefiningOp<linalg::GenericOp>();
  if (!op || op.getNumDpsInputs() != 0 || op.getNumDpsInits() != 1 ||
      !isElementwise(op) || op.getNumLoops() != 2)
    return std::nullopt;
  auto extract = yieldedValue(op).getDefiningOp<tensor::ExtractOp>();
  if (!extract || extract.getIndices().size() != 3 ||
      extract.getTensor().getParentRegion() == &op.getRegion())
    return std::nullopt;
  APInt expert;
  auto stackType = cast<RankedTensorType>(extract.getTensor().getType());
  if (!matchPattern(extract.getIndices()[0], m_ConstantInt(&expert)) ||
      cast<RankedTensorType>(op.getResultTypes()[0]).getShape() !=
          stackType.getShape().drop_front())
    return std::nullopt;
  for (unsigned d = 0; d < 2; ++d) {
    auto index = extract.getIndices()[d + 1].getDefiningOp<linalg::IndexOp>();
    if (!index || index.getDim() != d)
      return std::nullopt;
  }
  return std::make_pair(extract.getTensor(), expert.getSExtValue());
}

/// `x . m^T`, `out[t, n] = sum_d x[t, d] * m[n, d]`, zero-initialized:
/// returns (x, m).
std::optional<std::pair<Value, Value>> matchLinear(Value v) {
  linalg::GenericOp op = definingGeneric(v, 2);
  if (!op || !hasStructure(op, 3, {{0, 2}, {1, 2}, {0, 1}}, {2}) ||
      !isMultiplyAccumulate(op) || !isZeroFilled(op.getDpsInits()[0]))
    return std::nullopt;
  return std::make_pair(op.getDpsInputs()[0], op.getDpsInputs()[1]);
}

/// A token's routing weight for expert `e`, `w[t] = sum_k weights[t, k] *
/// (indices[t, k] == e)`: returns (weights, indices, e).
std::optional<std::tuple<Value, Value, int64_t>> matchExpertWeight(Value v) {
  linalg::GenericOp op = definingGeneric(v, 2);
  if (!op || !hasStructure(op, 2, {{0, 1}, {0, 1}, {0}}, {1}) ||
      !isMultiplyAccumulate(op) || !isZeroFilled(op.getDpsInits()[0]))
    return std::nullopt;
  for (unsigned which : {0u, 1u}) {
    // hit[t, k] = float(indices[t, k] == e), as uitofp or a select.
    linalg::GenericOp hit = definingGeneric(op.getDpsInputs()[which], 1);
    if (!hit || !isElementwise(hit) ||
        !hit.getIndexingMapsArray()[0].isIdentity())
      continue;
    Value flag = peel(yieldedValue(hit));
    if (auto cast = flag.getDefiningOp<arith::UIToFPOp>())
      flag = cast.getIn();
    else if (auto select = flag.getDefiningOp<arith::SelectOp>();
             select && constantOf(select.getTrueValue()) == 1.0 &&
             constantOf(select.getFalseValue()) == 0.0)
      flag = select.getCondition();
    auto cmp = flag.getDefiningOp<arith::CmpIOp>();
    if (!cmp || cmp.getPredicate() != arith::CmpIPredicate::eq)
      continue;
    Value arg = hit.getRegion().getArgument(0);
    APInt expert;
    for (auto [a, c] : {std::pair(cmp.getLhs(), cmp.getRhs()),
                        std::pair(cmp.getRhs(), cmp.getLhs())})
      if (a == arg && matchPattern(c, m_ConstantInt(&expert)))
        return std::make_tuple(op.getDpsInputs()[1 - which],
                               hit.getDpsInputs()[0], expert.getSExtValue());
  }
  return std::nullopt;
}

/// The addends of `v` through nested addf.
void collectAddends(Value v, SmallVectorImpl<Value> &terms) {
  if (auto add = peel(v).getDefiningOp<arith::AddFOp>()) {
    collectAddends(add.getLhs(), terms);
    collectAddends(add.getRhs(), terms);
    return;
  }
  terms.push_back(v);
}

/// `x . W`, `out[..., n] = sum_k x[..., k] * w[k, n]` with W [in, out] (as
/// an exported MatMul stores it), zero-initialized: returns (x, w).
std::optional<std::pair<Value, Value>> matchMatMul(Value v) {
  linalg::GenericOp op = definingGeneric(v, 2);
  if (!op || op.getNumLoops() < 2 || !isMultiplyAccumulate(op) ||
      !isZeroFilled(op.getDpsInits()[0]))
    return std::nullopt;
  unsigned n = op.getNumLoops();
  SmallVector<unsigned> lead = iota(n - 2), in = lead, out = lead;
  in.push_back(n - 1);
  out.push_back(n - 2);
  if (!hasStructure(op, n, {in, {n - 1, n - 2}, out}, {n - 1}))
    return std::nullopt;
  return std::make_pair(op.getDpsInputs()[0], op.getDpsInputs()[1]);
}

/// A projection of tokens by a matrix: `x . m^T` (m [out, in], as
/// nn.Linear holds it) or `x . m` (m [in, out], as an exported MatMul
/// stores it): returns (x, m, whether m is [in, out]).
std::optional<std::tuple<Value, Value, bool>> matchProjection(Value v) {
  if (auto linear = matchLinear(v))
    return std::make_tuple(linear->first, linear->second, false);
  if (auto matmul = matchMatMul(v))
    return std::make_tuple(matmul->first, matmul->second, true);
  return std::nullopt;
}

/// One term of an unrolled loop over the experts: `w[:, None] * y` with
/// `w` the tokens' routing weight for one expert and `y` its SwiGLU MLP of
/// the tokens. Its matrices are read out of stacks (`gateUp` [E, 2W, H],
/// `down` [E, H, W]), or are the expert's own (`gate`, `up`, `ownDown`,
/// [in, out] when `transposed`).
struct ExpertTerm {
  Value x, weights, indices;
  int64_t expert = -1;
  Value gateUp, down;
  int64_t width = 0;
  Value gate, up, ownDown;
  bool transposed = false;

  bool stacked() const { return static_cast<bool>(gateUp); }
  bool sameSources(const ExpertTerm &other) const {
    if (x != other.x || weights != other.weights || indices != other.indices ||
        stacked() != other.stacked())
      return false;
    if (stacked())
      return gateUp == other.gateUp && down == other.down &&
             width == other.width;
    return gate.getType() == other.gate.getType() &&
           up.getType() == other.up.getType() &&
           ownDown.getType() == other.ownDown.getType() &&
           transposed == other.transposed;
  }
};
std::optional<ExpertTerm> matchExpertTerm(Value w, Value y) {
  auto route = matchExpertWeight(w);
  auto downProj = matchProjection(y);
  if (!route || !downProj)
    return std::nullopt;
  auto [weights, indices, expert] = *route;
  auto [act, downMatrix, downTransposed] = *downProj;
  auto swiglu = act.getDefiningOp<SwigluOp>();
  if (!swiglu)
    return std::nullopt;
  // Stacked: SwiGLU of the halves of x . gate_up[e]^T, down[e].
  if (auto halves = swigluHalves(swiglu)) {
    auto gateUpProj = matchLinear(halves->first);
    auto gateUpMatrix =
        gateUpProj ? matchExpertMatrix(gateUpProj->second) : std::nullopt;
    auto downOfStack =
        downTransposed ? std::nullopt : matchExpertMatrix(downMatrix);
    if (!gateUpMatrix || !downOfStack)
      return std::nullopt;
    // The routing weight, gate_up and down of one expert (-1 when not).
    if (gateUpMatrix->second != expert || downOfStack->second != expert)
      expert = -1;
    ExpertTerm term;
    term.x = gateUpProj->first;
    term.weights = weights;
    term.indices = indices;
    term.expert = expert;
    term.gateUp = gateUpMatrix->first;
    term.down = downOfStack->first;
    term.width = halves->second;
    return term;
  }
  // The expert's own matrices: SwiGLU of x . gate and x . up, then down,
  // all stored the same way round.
  auto gateProj = matchProjection(swiglu.getGate());
  auto upProj = matchProjection(swiglu.getUp());
  if (!gateProj || !upProj || std::get<0>(*gateProj) != std::get<0>(*upProj) ||
      std::get<2>(*gateProj) != downTransposed ||
      std::get<2>(*upProj) != downTransposed ||
      matchExpertMatrix(std::get<1>(*gateProj)))
    return std::nullopt;
  ExpertTerm term;
  term.x = std::get<0>(*gateProj);
  term.weights = weights;
  term.indices = indices;
  term.expert = expert;
  term.gate = std::get<1>(*gateProj);
  term.up = std::get<1>(*upProj);
  term.ownDown = downMatrix;
  term.transposed = downTransposed;
  return term;
}

/// How many experts the router behind `indices` chooses among, when it is
/// a top-k or a gate here.
std::optional<int64_t> routedExperts(Value indices) {
  if (auto topk = indices.getDefiningOp<TopkOp>())
    return topk.getInput().getType().getShape().back();
  if (auto gate = indices.getDefiningOp<GateOp>())
    return gate.getWeight().getType().getDimSize(0);
  return std::nullopt;
}

/// `matrices` ([R, C] each, or [C, R] when `transposed`) stacked in order:
/// [N, R, C]. Work on weights alone, which dsc-compile folds.
Value stackMatrices(TensorMath &m, ArrayRef<Value> matrices, bool transposed) {
  OpBuilder &b = m.builder();
  SmallVector<Value> rows;
  for (Value matrix : matrices)
    rows.push_back(transposed ? m.transposed(matrix, {1, 0}) : matrix);
  auto type = cast<RankedTensorType>(rows.front().getType());
  int64_t r = type.getDimSize(0), c = type.getDimSize(1);
  Value stack = m.empty(
      {b.getIndexAttr(rows.size()), b.getIndexAttr(r), b.getIndexAttr(c)},
      type.getElementType());
  SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), b.getIndexAttr(r),
                                     b.getIndexAttr(c)};
  SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
  for (auto [e, row] : llvm::enumerate(rows)) {
    SmallVector<OpFoldResult> offsets = {b.getIndexAttr(e), b.getIndexAttr(0),
                                         b.getIndexAttr(0)};
    stack = tensor::InsertSliceOp::create(b, m.getLoc(), row, stack, offsets,
                                          sizes, strides);
  }
  return stack;
}

/// The experts as an exporter writes a static loop over them
/// (test/fixtures/onnx/export_tiny_v3.py --experts loop), unrolled:
///
/// ```
/// for e in 0 .. E-1:
///   w_e[t] = sum_k weights[t, k] * (indices[t, k] == e)
///   gu = x . gate_up[e]^T; a = swiglu(gu[:, :W], gu[:, W:])
///   out += w_e[:, None] * (a . down[e]^T)
/// ```
///
/// with gate_up[e] and down[e] read out of the stacks, or with each
/// expert's own gate, up and down matrices (as DeepSeek's own modeling code
/// holds its experts, `--experts modules`), which become stacks (work on
/// the weights alone, folded at compile time). After elementwise chains
/// merge, the sum is one generic over every expert's terms (the root). Every
/// expert must appear once, all reading the same tokens, routing and stacks; it
/// becomes `dsc.moe`, which runs only the chosen experts.
struct FuseExpertLoop : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    // out[t, d] = [zero +] sum_e w_e[t] * y_e[t, d]: at least two products
    // of a per-token weight and an expert's output (else not a candidate).
    if (!isElementwise(op) || op.getNumLoops() != 2 || op.getNumDpsInputs() < 4)
      return rewriter.notifyMatchFailure(op, kNotACandidate);
    MLIRContext *ctx = getContext();
    AffineMap perToken = AffineMap::get(2, 0, getAffineDimExpr(0, ctx), ctx);
    SmallVector<Value> terms;
    collectAddends(yieldedValue(op), terms);
    SmallVector<std::pair<Value, Value>> products; // (w_e, y_e)
    unsigned zeros = 0;
    for (Value term : terms) {
      auto in = inputOf(op, term);
      if (in && in->second.isIdentity() &&
          isZeroFilled(op.getDpsInputs()[in->first])) {
        ++zeros;
        continue;
      }
      auto mul = peel(term).getDefiningOp<arith::MulFOp>();
      auto lhs = mul ? inputOf(op, mul.getLhs()) : std::nullopt;
      auto rhs = mul ? inputOf(op, mul.getRhs()) : std::nullopt;
      if (!lhs || !rhs)
        return rewriter.notifyMatchFailure(op, kNotACandidate);
      if (lhs->second != perToken)
        std::swap(lhs, rhs);
      if (lhs->second != perToken || !rhs->second.isIdentity())
        return rewriter.notifyMatchFailure(op, kNotACandidate);
      products.emplace_back(op.getDpsInputs()[lhs->first],
                            op.getDpsInputs()[rhs->first]);
    }
    if (products.size() < 2 || zeros > 1 ||
        !matchProjection(products.front().second))
      return rewriter.notifyMatchFailure(op, kNotACandidate);

    // Each product: an expert's SwiGLU MLP (its matrices read out of two
    // stacks, or its own), weighted by the tokens' routing weight for it.
    std::optional<ExpertTerm> first;
    SmallVector<std::optional<ExpertTerm>> byExpert(products.size());
    for (auto [w, y] : products) {
      std::optional<ExpertTerm> term = matchExpertTerm(w, y);
      if (!term)
        return rewriter.notifyMatchFailure(
            op, "a term is not an expert's SwiGLU MLP (gate and up, or the "
                "halves of gate_up, then down) weighted by the tokens' "
                "routing weight for it");
      if (!first)
        first = term;
      if (!term->sameSources(*first))
        return rewriter.notifyMatchFailure(
            op, "the experts' terms read different tokens, routing or "
                "stacks");
      int64_t e = term->expert;
      if (e < 0 || e >= static_cast<int64_t>(byExpert.size()) || byExpert[e])
        return rewriter.notifyMatchFailure(
            op, "a term's routing weight, gate_up and down are of different "
                "experts, or an expert appears twice");
      byExpert[e] = term;
    }
    // Every expert 0 .. E-1 once (E terms), E the router's and the
    // stacks' count.
    int64_t experts = products.size();
    std::optional<int64_t> routed = routedExperts(first->indices);
    if ((first->stacked() &&
         cast<RankedTensorType>(first->gateUp.getType()).getDimSize(0) !=
             experts) ||
        (routed && *routed != experts))
      return rewriter.notifyMatchFailure(
          op, "the terms do not cover every expert of the stacks and the "
              "router once");
    Value x = first->x, weights = first->weights, indices = first->indices;
    Location loc = op.getLoc();
    TensorMath m(rewriter, loc);
    Value gate, up, down;
    int64_t width = first->width;
    if (first->stacked()) {
      gate = stackHalf(rewriter, loc, first->gateUp, 0, width);
      up = stackHalf(rewriter, loc, first->gateUp, width, width);
      down = first->down;
    } else {
      SmallVector<Value> gates, ups, downs;
      for (const std::optional<ExpertTerm> &term : byExpert) {
        gates.push_back(term->gate);
        ups.push_back(term->up);
        downs.push_back(term->ownDown);
      }
      auto gateType = cast<RankedTensorType>(first->gate.getType());
      if (!gateType.hasStaticShape() ||
          !cast<RankedTensorType>(first->ownDown.getType()).hasStaticShape())
        return rewriter.notifyMatchFailure(
            op, "the experts' own matrices are not static");
      width = gateType.getDimSize(first->transposed ? 1 : 0);
      gate = stackMatrices(m, gates, first->transposed);
      up = stackMatrices(m, ups, first->transposed);
      down = stackMatrices(m, downs, first->transposed);
    }
    auto gateType = cast<RankedTensorType>(gate.getType());
    auto downType = cast<RankedTensorType>(down.getType());
    auto indicesType = cast<RankedTensorType>(indices.getType());
    int64_t hidden = gateType.getDimSize(2);
    if (!gateType.hasStaticShape() || gate.getType() != up.getType() ||
        gateType.getDimSize(1) != width ||
        downType.getShape() != ArrayRef<int64_t>{experts, hidden, width} ||
        x.getType() != op.getResultTypes()[0] ||
        !indicesType.getElementType().isInteger(64) ||
        cast<RankedTensorType>(weights.getType()).getShape() !=
            indicesType.getShape())
      return rewriter.notifyMatchFailure(
          op, "the stacks, tokens or routing do not match one another");

    auto moe =
        MoeOp::create(rewriter, loc, op.getResultTypes()[0], x, weights,
                      indices, gate, up, down, ValueRange(),
                      DenseI64ArrayAttr(), ValueRange(), DenseI64ArrayAttr());
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

/// The shared experts as an exporter writes them: a SwiGLU MLP of the MoE's
/// tokens (in the graph's [batch, seq] view), its weights stored [in, out],
/// added with the routed experts' sum (in that view) in one elementwise
/// sum, the residual often a third term. Becomes `dsc.moe ... shared(...)`
/// with the weights transposed to [out, in] (work on the weights alone,
/// which dsc-compile folds into the artifact), and the sum without the
/// shared term.
struct FuseExportedSharedExperts : OpRewritePattern<MoeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MoeOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getShared().empty() || !op->hasOneUse())
      return rewriter.notifyMatchFailure(op, kNotACandidate);
    // The routed sum, viewed as the graph's tokens, read by a sum of inputs.
    Operation *user = *op->getUsers().begin();
    Value routed = op.getResult();
    if (isa<tensor::ReshapeOp, tensor::ExpandShapeOp>(user) &&
        user->hasOneUse()) {
      routed = user->getResult(0);
      user = *user->getUsers().begin();
    }
    // A plain f32 sum: n - 1 additions of the n inputs, each once, no casts.
    auto sum = dyn_cast<linalg::GenericOp>(user);
    auto isF32 = [](Value v) {
      return cast<ShapedType>(v.getType()).getElementType().isF32();
    };
    if (!sum || !isElementwise(sum) || sum.getNumDpsInputs() < 2 ||
        !llvm::all_of(sum->getOperands(), isF32) ||
        !llvm::all_of(sum.getRegion().front().without_terminator(),
                      [](Operation &o) { return isa<arith::AddFOp>(o); }) ||
        static_cast<int64_t>(std::distance(
            sum.getRegion().front().without_terminator().begin(),
            sum.getRegion().front().without_terminator().end())) !=
            sum.getNumDpsInputs() - 1)
      return rewriter.notifyMatchFailure(op, kNotACandidate);
    SmallVector<Value> terms;
    collectAddends(yieldedValue(sum), terms);
    SmallVector<unsigned> inputs;
    for (Value term : terms) {
      auto in = inputOf(sum, term);
      if (!isa<BlockArgument>(term) || !in || !in->second.isIdentity() ||
          llvm::is_contained(inputs, in->first))
        return rewriter.notifyMatchFailure(op, kNotACandidate);
      inputs.push_back(in->first);
    }
    if (static_cast<int64_t>(inputs.size()) != sum.getNumDpsInputs())
      return rewriter.notifyMatchFailure(op, kNotACandidate);

    // One other term: down(swiglu(x . Wg, x . Wu)), x the MoE's tokens.
    Value tokens = throughReshapes(op.getInput());
    std::optional<unsigned> shared;
    Value gate, up, down;
    for (unsigned i : inputs) {
      Value term = sum.getDpsInputs()[i];
      auto downProj = term != routed ? matchMatMul(term) : std::nullopt;
      auto act =
          downProj ? downProj->first.getDefiningOp<SwigluOp>() : SwigluOp();
      auto gateProj = act ? matchMatMul(act.getGate()) : std::nullopt;
      auto upProj = act ? matchMatMul(act.getUp()) : std::nullopt;
      if (!gateProj || !upProj || throughReshapes(gateProj->first) != tokens ||
          throughReshapes(upProj->first) != tokens)
        continue;
      shared = i;
      gate = gateProj->second;
      up = upProj->second;
      down = downProj->second;
      break;
    }
    if (!llvm::is_contained(sum.getDpsInputs(), routed) || !shared)
      return rewriter.notifyMatchFailure(
          op, "the routed experts' sum is not added to a SwiGLU MLP of the "
              "same tokens (shared experts)");
    auto type = [](Value v) { return cast<RankedTensorType>(v.getType()); };
    int64_t hidden = type(op.getInput()).getShape().back();
    int64_t width = type(gate).getDimSize(1);
    if (!type(gate).hasStaticShape() || !type(down).hasStaticShape() ||
        type(gate) != type(up) || type(gate).getDimSize(0) != hidden ||
        type(down).getShape() != ArrayRef<int64_t>{width, hidden} ||
        !type(gate).getElementType().isF32() ||
        !type(down).getElementType().isF32())
      return rewriter.notifyMatchFailure(
          op, "the shared experts' weights are not f32 [hidden, width] and "
              "[width, hidden]");

    // The fused op goes where the sum was: the shared weights may be
    // defined after the routed experts (the routed sum's view moves along).
    Location loc = op.getLoc();
    rewriter.setInsertionPoint(sum);
    TensorMath m(rewriter, loc);
    SmallVector<Value> weights = {m.transposed(gate, {1, 0}),
                                  m.transposed(up, {1, 0}),
                                  m.transposed(down, {1, 0})};
    auto fused = MoeOp::create(
        rewriter, loc, op.getType(), op.getInput(), op.getWeights(),
        op.getIndices(), op.getGateProj(), op.getUpProj(), op.getDownProj(),
        op.getExpertScales(), op.getExpertBlockSizeAttr(), weights,
        DenseI64ArrayAttr());
    Operation *view =
        routed.getDefiningOp() == op ? nullptr : routed.getDefiningOp();
    Value routedNow = fused.getResult();
    if (view) {
      IRMapping mapping;
      mapping.map(op.getResult(), fused.getResult());
      routedNow = rewriter.clone(*view, mapping)->getResult(0);
    }
    // The sum without the shared term.
    SmallVector<Value> kept;
    for (auto [i, input] : llvm::enumerate(sum.getDpsInputs()))
      if (i != *shared)
        kept.push_back(input == routed ? routedNow : input);
    unsigned rank = type(sum.getResult(0)).getRank();
    SmallVector<SmallVector<unsigned>> maps(kept.size() + 1, iota(rank));
    Value without = m.generic(kept, sum.getDpsInits()[0], rank, maps, {},
                              [&](OpBuilder &nb, Location l, ValueRange a) {
                                // a: the kept inputs, then the output.
                                Value total = a[0];
                                for (Value next : a.slice(1, kept.size() - 1))
                                  total =
                                      arith::AddFOp::create(nb, l, total, next);
                                linalg::YieldOp::create(nb, l, total);
                              })[0];
    rewriter.replaceOp(sum, without);
    if (view)
      rewriter.eraseOp(view);
    rewriter.eraseOp(op);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Router
//===----------------------------------------------------------------------===//

/// The first check: do the experts' weights come from a computation at all
/// (not from dsc.gate, or an argument)? Not a near miss otherwise.
constexpr StringLiteral kNotARouter = "routing not computed here";

/// `v` without the wrap and clamp an importer puts around an index it reads
/// (`select(i < 0, i + n, i)`, `max(i, 0)`, `min(i, n - 1)`, casts): the
/// identity on the in-range indices a top-k yields.
Value unclamped(Value v) {
  while (Operation *op = v.getDefiningOp()) {
    if (isa<arith::IndexCastOp>(op)) {
      v = op->getOperand(0);
    } else if (isa<arith::MinSIOp, arith::MaxSIOp>(op) &&
               matchPattern(op->getOperand(1), m_Constant())) {
      v = op->getOperand(0);
    } else if (auto select = dyn_cast<arith::SelectOp>(op)) {
      auto wrapped = select.getTrueValue().getDefiningOp<arith::AddIOp>();
      auto negative = select.getCondition().getDefiningOp<arith::CmpIOp>();
      if (!wrapped || !negative ||
          negative.getPredicate() != arith::CmpIPredicate::slt ||
          negative.getLhs() != select.getFalseValue() ||
          wrapped.getLhs() != select.getFalseValue() ||
          !matchPattern(negative.getRhs(), m_Zero()))
        break;
      v = select.getFalseValue();
    } else {
      break;
    }
  }
  return v;
}

/// `scores[t, index[t, j]]`: a generic over `index` ([T, K]) reading
/// `scores` in its own row at the index's column. Returns `scores`.
Value matchGatherColumns(Value v, Value index) {
  auto op = v.getDefiningOp<linalg::GenericOp>();
  if (!op || op.getNumDpsInputs() != 1 || !isElementwise(op) ||
      op.getDpsInputs()[0] != index ||
      !op.getMatchingIndexingMap(op.getDpsInputOperand(0)).isIdentity())
    return {};
  auto extract = yieldedValue(op).getDefiningOp<tensor::ExtractOp>();
  if (!extract || extract.getIndices().size() != 2)
    return {};
  auto row = extract.getIndices()[0].getDefiningOp<linalg::IndexOp>();
  if (!row || row.getDim() != 0 ||
      unclamped(extract.getIndices()[1]) != op.getRegion().getArgument(0))
    return {};
  return extract.getTensor();
}

/// The input of a reduction over the last of `rank` dimensions: a sum from
/// zero, or with `max` a maximum from -inf.
Value reducedRows(Value v, unsigned rank, bool max) {
  auto op = v.getDefiningOp<linalg::GenericOp>();
  SmallVector<unsigned> all = iota(rank), lead(all.begin(), all.end() - 1);
  if (!op || op.getNumDpsInputs() != 1 ||
      !hasStructure(op, rank, {all, lead}, {rank - 1}))
    return {};
  if (!max)
    return isZeroFilled(op.getDpsInits()[0]) && isSum(op) ? op.getDpsInputs()[0]
                                                          : Value();
  auto fill = op.getDpsInits()[0].getDefiningOp<linalg::FillOp>();
  std::optional<double> init =
      fill ? constantOf(fill.getInputs()[0]) : std::nullopt;
  if (!init || !std::isinf(*init) || *init > 0 ||
      (!bodyIs<arith::MaximumFOp>(op) && !bodyIs<arith::MaxNumFOp>(op)))
    return {};
  return op.getDpsInputs()[0];
}

/// `1 / (1 + exp(-x))`, elementwise: returns x.
Value sigmoidInput(Value v) {
  auto op = v.getDefiningOp<linalg::GenericOp>();
  if (!op || op.getNumDpsInputs() != 1 || !isElementwise(op))
    return {};
  Product p = productOf(yieldedValue(op));
  auto denom = p.numerators.empty() && p.denominators.size() == 1
                   ? peel(p.denominators[0]).getDefiningOp<arith::AddFOp>()
                   : arith::AddFOp();
  Value e = denom ? addendOf(denom, 1.0) : Value();
  auto exp = e ? peel(e).getDefiningOp<math::ExpOp>() : math::ExpOp();
  auto in = exp ? inputOf(op, op.getRegion().getArgument(0)) : std::nullopt;
  if (!in || !in->second.isIdentity() ||
      !isNegationOf(exp.getOperand(), op.getRegion().getArgument(0)))
    return {};
  return op.getDpsInputs()[0];
}

/// What the router chooses by: `scores + bias` (bias [E] per column), or
/// the scores themselves.
std::pair<Value, Value> unbiased(Value selection) {
  auto op = selection.getDefiningOp<linalg::GenericOp>();
  if (op && op.getNumDpsInputs() == 2 && isElementwise(op) &&
      bodyIs<arith::AddFOp>(op) &&
      hasStructure(op, 2, {{0, 1}, {1}, {0, 1}}, {}))
    return {op.getDpsInputs()[0], op.getDpsInputs()[1]};
  return {selection, Value()};
}

/// `select(mask != 0, x, fill)` elementwise, `fill` a constant: returns
/// (mask, x, fill).
std::optional<std::tuple<Value, Value, double>> matchMaskedFill(Value v) {
  auto op = v.getDefiningOp<linalg::GenericOp>();
  if (!op || op.getNumDpsInputs() != 2 || !isElementwise(op))
    return std::nullopt;
  auto select = yieldedValue(op).getDefiningOp<arith::SelectOp>();
  if (!select)
    return std::nullopt;
  // The condition, through negations (`xor c, true`: masked_fill's ~mask).
  Value condition = select.getCondition();
  bool negated = false;
  while (auto xorOp = condition.getDefiningOp<arith::XOrIOp>()) {
    if (!matchPattern(xorOp.getRhs(), m_One()))
      break;
    condition = xorOp.getLhs();
    negated = !negated;
  }
  auto cmp = condition.getDefiningOp<arith::CmpFOp>();
  if (!cmp || constantOf(cmp.getRhs()) != 0.0)
    return std::nullopt;
  if (cmp.getPredicate() == arith::CmpFPredicate::OEQ)
    negated = !negated;
  else if (cmp.getPredicate() != arith::CmpFPredicate::UNE &&
           cmp.getPredicate() != arith::CmpFPredicate::ONE)
    return std::nullopt;
  Value kept = select.getTrueValue(), dropped = select.getFalseValue();
  if (negated)
    std::swap(kept, dropped);
  std::optional<double> fill = constantOf(dropped);
  auto mask = inputOf(op, cmp.getLhs()), x = inputOf(op, kept);
  if (!fill || !mask || !x || !mask->second.isIdentity() ||
      !x->second.isIdentity())
    return std::nullopt;
  return std::make_tuple(op.getDpsInputs()[mask->first],
                         op.getDpsInputs()[x->first], *fill);
}

/// `mask[t, g] = 1 if g is among index[t, :]` (a scatter of ones into
/// zeros): returns index.
Value scatteredOnes(Value v) {
  auto op = v.getDefiningOp<linalg::GenericOp>();
  if (!op || op.getNumDpsInputs() != 1 ||
      !hasStructure(op, 3, {{0, 2}, {0, 1}}, {2}) ||
      !isZeroFilled(op.getDpsInits()[0]))
    return {};
  Block &body = op.getRegion().front();
  auto select = yieldedValue(op).getDefiningOp<arith::SelectOp>();
  auto cmp = select ? select.getCondition().getDefiningOp<arith::CmpIOp>()
                    : arith::CmpIOp();
  if (!cmp || cmp.getPredicate() != arith::CmpIPredicate::eq ||
      constantOf(select.getTrueValue()) != 1.0 ||
      select.getFalseValue() != body.getArgument(1))
    return {};
  for (auto [a, b] : {std::pair(cmp.getLhs(), cmp.getRhs()),
                      std::pair(cmp.getRhs(), cmp.getLhs())}) {
    auto column = unclamped(b).getDefiningOp<linalg::IndexOp>();
    if (unclamped(a) == body.getArgument(0) && column && column.getDim() == 1)
      return op.getDpsInputs()[0];
  }
  return {};
}

/// The top-k op whose `result` this is, and which result.
std::pair<TopkOp, unsigned> topkOf(Value v) {
  auto result = dyn_cast_if_present<OpResult>(v);
  auto op = result ? dyn_cast<TopkOp>(result.getOwner()) : TopkOp();
  return {op, op ? result.getResultNumber() : 0};
}

/// A router written out (transformers' DeepseekV3TopkRouter, as an exporter
/// writes it), feeding dsc.moe its weights and indices:
///   logits = x W^T; scores = sigmoid(logits); sel = scores + bias;
///   [noaux_tc] groups = sum(topk(sel as [T, G, E/G], 2).values);
///   [group_limited_greedy] groups = max(sel as [T, G, E/G]);
///   kept = topk(groups, topk_group).indices, scattered into a [T, G]
///   mask, broadcast over each group's experts; sel = masked_fill(sel, -inf);
///   indices = topk(sel, K).indices; w = scores[indices];
///   weights = w / sum(w) * scale (or w * scale).
/// becomes one dsc.gate.
struct FuseRouter : OpRewritePattern<MoeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MoeOp op,
                                PatternRewriter &rewriter) const override {
    Value weights = op.getWeights(), indices = op.getIndices();
    auto [choice, which] = topkOf(indices);
    if (!choice || which != 1)
      return rewriter.notifyMatchFailure(op, kNotARouter);

    // Weights: the chosen scores, normalised by their sum, scaled.
    double scale = 1.0;
    bool normalised = false;
    Value chosen = weights;
    if (auto final = weights.getDefiningOp<linalg::GenericOp>();
        final && isElementwise(final) &&
        !matchGatherColumns(weights, indices)) {
      Product p = productOf(yieldedValue(final));
      AffineMap perRow =
          AffineMap::get(2, 0, getAffineDimExpr(0, getContext()), getContext());
      Value picked, sum;
      for (Value f : p.numerators) {
        if (std::optional<double> c = constantOf(f))
          scale *= *c;
        else if (auto in = inputOf(final, f);
                 in && !picked && in->second.isIdentity())
          picked = final.getDpsInputs()[in->first];
        else
          return rewriter.notifyMatchFailure(
              op, "routing weights are not the chosen scores scaled");
      }
      for (Value f : p.denominators) {
        // transformers divides by `sum + 1e-20`: below f32's resolution of
        // any sum of scores, so the sum itself.
        if (auto add = peel(f).getDefiningOp<arith::AddFOp>())
          for (auto [term, other] : {std::pair(add.getLhs(), add.getRhs()),
                                     std::pair(add.getRhs(), add.getLhs())})
            if (std::optional<double> c = constantOf(term);
                c && *c >= 0.0 && *c <= 1e-12)
              f = other;
        auto in = inputOf(final, f);
        if (!in || sum || in->second != perRow)
          return rewriter.notifyMatchFailure(
              op, "routing weights are divided by something not their sum");
        sum = final.getDpsInputs()[in->first];
      }
      if (sum && reducedRows(sum, 2, /*max=*/false) != picked)
        return rewriter.notifyMatchFailure(
            op, "routing weights are divided by something not their sum");
      normalised = static_cast<bool>(sum);
      chosen = picked;
    }
    Value scores = matchGatherColumns(chosen, indices);
    auto [valuesOf, valuesWhich] = topkOf(chosen);
    // torch.topk(scores, k): both results.
    bool fromValues = valuesOf == choice && valuesWhich == 0;
    if (fromValues)
      scores = choice.getInput();
    if (!scores)
      return rewriter.notifyMatchFailure(
          op, "routing weights are not the scores at the chosen experts");

    // The choice: top-k of the (group-masked, biased) scores.
    Value selection = choice.getInput();
    TopkMethod method = TopkMethod::Greedy;
    int64_t groups = 1, keptGroups = 1;
    std::optional<double> fill;
    if (auto masked = matchMaskedFill(selection)) {
      auto [mask, biased, value] = *masked;
      fill = value;
      // mask[t, e] = groupMask[t, e / (E / G)]: a broadcast over each
      // group's experts.
      auto spread = throughReshapes(mask).getDefiningOp<linalg::GenericOp>();
      MLIRContext *ctx = getContext();
      auto unitLast =
          AffineMap::get(3, 0,
                         {getAffineDimExpr(0, ctx), getAffineDimExpr(1, ctx),
                          getAffineConstantExpr(0, ctx)},
                         ctx);
      Value groupMask = spread && isCopy(spread) && isElementwise(spread) &&
                                spread.getNumLoops() == 3 &&
                                spread.getIndexingMapsArray()[0] == unitLast
                            ? throughReshapes(spread.getDpsInputs()[0])
                            : Value();
      Value kept = groupMask ? scatteredOnes(groupMask) : Value();
      auto [keep, keepWhich] = topkOf(kept);
      if (!keep || keepWhich != 1)
        return rewriter.notifyMatchFailure(
            op, "experts are masked by something other than the best "
                "groups' top-k");
      auto spreadType = cast<RankedTensorType>(spread.getType(0));
      groups = spreadType.getDimSize(1);
      keptGroups = keep.getK();
      Value groupScores = keep.getInput();
      Value perGroup;
      if (Value twoBest = reducedRows(groupScores, 3, /*max=*/false)) {
        auto [best, bestWhich] = topkOf(twoBest);
        if (best && bestWhich == 0 && best.getK() == 2) {
          perGroup = best.getInput();
          method = TopkMethod::NoauxTc;
        }
      } else if (Value grouped = reducedRows(groupScores, 3, /*max=*/true)) {
        perGroup = grouped;
        method = TopkMethod::GroupLimitedGreedy;
      }
      if (!perGroup || throughReshapes(perGroup) != biased ||
          throughReshapes(mask) != spread.getResult(0) ||
          cast<RankedTensorType>(perGroup.getType()).getDimSize(1) != groups)
        return rewriter.notifyMatchFailure(
            op, "group scores are neither the sum of each group's top 2 nor "
                "its maximum of the selection scores");
      selection = biased;
      // The values of a top-k of the masked scores are the scores at the
      // chosen experts.
      if (fromValues)
        scores = selection;
    }
    auto [unbiasedScores, bias] = unbiased(selection);
    if (unbiasedScores != scores)
      return rewriter.notifyMatchFailure(
          op, "experts are chosen by something other than the weights' "
              "scores (plus a bias, masked to -inf outside the kept groups)");
    ScoringFunc scoring = ScoringFunc::Sigmoid;
    Value logits = sigmoidInput(scores);
    if (!logits) {
      logits = softmaxInput(scores);
      scoring = ScoringFunc::Softmax;
    }
    // x [T, D] times the router weight, [E, D] or [D, E] (transposed).
    auto matmul = logits ? matchProjection(logits) : std::nullopt;
    if (!matmul ||
        cast<RankedTensorType>(std::get<0>(*matmul).getType()).getRank() != 2)
      return rewriter.notifyMatchFailure(
          op, "scores are not the sigmoid or the softmax of the hidden "
              "states times a router weight");
    // Masked experts are filled with -inf, so that they are never chosen.
    // transformers' V2 router fills softmax scores with 0.0 instead: the
    // same choice, as softmax scores are positive (a score that underflows
    // to 0 can tie with a masked expert; its weight is 0 either way). With
    // sigmoid scores and a bias, selection scores can be negative, and a 0
    // fill (older DeepSeek code) chooses differently.
    if (fill && !(std::isinf(*fill) && *fill < 0) &&
        !(*fill == 0.0 && scoring == ScoringFunc::Softmax && !bias))
      return rewriter.notifyMatchFailure(
          op, "experts outside the kept groups are not masked to -inf (nor "
              "softmax scores to 0)");
    auto [input, gateWeight, transposed] = *matmul;
    if (cast<RankedTensorType>(weights.getType()).getElementType() !=
        rewriter.getF32Type())
      return rewriter.notifyMatchFailure(op, "routing weights are not f32");

    TensorMath m(rewriter, op.getLoc());
    if (transposed)
      gateWeight = m.transposed(gateWeight, {1, 0});
    auto gate = GateOp::create(
        rewriter, op.getLoc(), weights.getType(), indices.getType(), input,
        gateWeight, bias, ScoringFuncAttr::get(getContext(), scoring),
        TopkMethodAttr::get(getContext(), method),
        rewriter.getI64IntegerAttr(choice.getK()),
        rewriter.getI64IntegerAttr(groups),
        rewriter.getI64IntegerAttr(keptGroups),
        rewriter.getBoolAttr(normalised), rewriter.getF64FloatAttr(scale));
    rewriter.modifyOpInPlace(op, [&] {
      op.getWeightsMutable().assign(gate.getWeights());
      op.getIndicesMutable().assign(gate.getIndices());
    });
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

    // The routers feeding the fused experts.
    RewritePatternSet routerSet(&getContext());
    routerSet.add<FuseRouter>(&getContext());
    FusionSpec routerSpec{"router", "", kNotARouter, countOps<GateOp>};
    fused = applyFusionPatterns(getOperation(),
                                FrozenRewritePatternSet(std::move(routerSet)),
                                routerSpec, report);
    if (failed(fused))
      return signalPassFailure();
    numFused += *fused;
  }
};

} // namespace

void mlir::dsc::populateFuseMoePatterns(RewritePatternSet &patterns) {
  patterns.add<FuseDenseMaskedExperts, FuseExportedDenseExperts,
               FuseGatheredExperts, FuseExpertLoop, FuseSharedExperts,
               FuseExportedSharedExperts>(patterns.getContext());
}

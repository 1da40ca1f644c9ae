//===- FuseElementwise.cpp - Decomposed RMSNorm and SwiGLU to dsc ops -----===//
//
// Frontends that do not know DeepSeek (an ONNX exporter, or the importer's
// --import-decomposed) spell RMSNorm and SwiGLU out as arithmetic. After
// linalg's elementwise fusion each becomes one elementwise generic (plus,
// for RMSNorm, the sum-of-squares reduction it reads), whatever the order
// of its multiplications or the way it divides. The patterns here look at
// what that generic's body computes, as a product of factors, rather than
// at the ops it is made of.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialects/dsc/DscOps.h"
#include "passes/FusionDriver.h"
#include "passes/LinalgMatchers.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cstdio>
#include <cstdlib>

#define DEBUG_TYPE "dsc-fuse-elementwise"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCFUSEELEMENTWISE
#include "passes/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {

constexpr StringLiteral kNotACandidate = "not a normalisation or activation";

/// `v` without float extensions and truncations around it.
Value peel(Value v) {
  while (Operation *op = v.getDefiningOp()) {
    if (!isa<arith::ExtFOp, arith::TruncFOp>(op))
      break;
    v = op->getOperand(0);
  }
  return v;
}

/// The float constant `v` is, if it is one.
std::optional<double> constantOf(Value v) {
  if (auto cst = peel(v).getDefiningOp<arith::ConstantOp>())
    if (auto attr = dyn_cast<FloatAttr>(cst.getValue()))
      return attr.getValueAsDouble();
  return std::nullopt;
}

/// The decimal with the fewest digits that rounds to the same f32 as
/// `value`: an epsilon written as 1e-6 in f64 comes back from an f32
/// constant as 9.99999997e-7, and its attribute should say 1e-06 again.
double shortestOf(double value) {
  float single = static_cast<float>(value);
  for (int digits = 1; digits <= 9; ++digits) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.*g", digits, value);
    double candidate = std::strtod(text, nullptr);
    if (static_cast<float>(candidate) == single)
      return candidate;
  }
  return value;
}

/// `v` as a product: the factors it multiplies and the ones it divides by,
/// through any nesting of mulf and divf. Constant factors of 1 are dropped.
struct Product {
  SmallVector<Value> numerators, denominators;
};

void flatten(Value v, bool inverted, Product &out) {
  v = peel(v);
  if (auto mul = v.getDefiningOp<arith::MulFOp>()) {
    flatten(mul.getLhs(), inverted, out);
    flatten(mul.getRhs(), inverted, out);
    return;
  }
  if (auto div = v.getDefiningOp<arith::DivFOp>()) {
    flatten(div.getLhs(), inverted, out);
    flatten(div.getRhs(), !inverted, out);
    return;
  }
  if (constantOf(v) == 1.0)
    return;
  (inverted ? out.denominators : out.numerators).push_back(v);
}

Product productOf(Value v) {
  Product p;
  flatten(v, false, p);
  return p;
}

/// Whether `v` is the negation of `x`: negf x, 0 - x or x * -1.
bool isNegationOf(Value v, Value x) {
  v = peel(v);
  if (auto neg = v.getDefiningOp<arith::NegFOp>())
    return peel(neg.getOperand()) == x;
  if (auto sub = v.getDefiningOp<arith::SubFOp>())
    return constantOf(sub.getLhs()) == 0.0 && peel(sub.getRhs()) == x;
  if (auto mul = v.getDefiningOp<arith::MulFOp>())
    return (constantOf(mul.getRhs()) == -1.0 && peel(mul.getLhs()) == x) ||
           (constantOf(mul.getLhs()) == -1.0 && peel(mul.getRhs()) == x);
  return false;
}

/// The operand of `add` other than the constant `c`, if one is `c`.
Value addendOf(arith::AddFOp add, double c) {
  if (constantOf(add.getLhs()) == c)
    return add.getRhs();
  if (constantOf(add.getRhs()) == c)
    return add.getLhs();
  return {};
}

/// Block argument `v` of `op`'s body as (operand index, its indexing map).
std::optional<std::pair<unsigned, AffineMap>> inputOf(linalg::GenericOp op,
                                                      Value v) {
  auto arg = dyn_cast<BlockArgument>(peel(v));
  if (!arg || arg.getOwner() != &op.getRegion().front() ||
      arg.getArgNumber() >= op.getNumDpsInputs())
    return std::nullopt;
  OpOperand *operand = op.getDpsInputOperand(arg.getArgNumber());
  return std::make_pair(arg.getArgNumber(), op.getMatchingIndexingMap(operand));
}

/// An all-parallel generic with one identity-mapped result.
bool isElementwise(linalg::GenericOp op) {
  return op.getNumDpsInits() == 1 &&
         op.getNumLoops() == op.getNumParallelLoops() &&
         op.getMatchingIndexingMap(op.getDpsInitOperand(0)).isIdentity();
}

Value yieldedValue(linalg::GenericOp op) {
  return cast<linalg::YieldOp>(op.getRegion().front().getTerminator())
      .getOperand(0);
}

/// `sum_last(x * x)` (or of `x^2` by math.powf/math.fpowi): the value it
/// squares and sums, if `op` is that reduction over the last dimension.
Value sumOfSquaresInput(linalg::GenericOp op) {
  unsigned rank = op.getNumLoops();
  if (op.getNumDpsInputs() != 1 || op.getNumDpsInits() != 1 ||
      op.getNumReductionLoops() != 1 ||
      op.getIteratorTypesArray()[rank - 1] != utils::IteratorType::reduction ||
      !isZeroFilled(op.getDpsInits()[0]) ||
      !op.getMatchingIndexingMap(op.getDpsInputOperand(0)).isIdentity())
    return {};
  auto add = peel(yieldedValue(op)).getDefiningOp<arith::AddFOp>();
  if (!add)
    return {};
  Block &body = op.getRegion().front();
  Value acc = body.getArgument(1), x = body.getArgument(0);
  Value square = peel(add.getLhs()) == acc   ? add.getRhs()
                 : peel(add.getRhs()) == acc ? add.getLhs()
                                             : Value();
  if (!square)
    return {};
  square = peel(square);
  bool squares = false;
  if (auto mul = square.getDefiningOp<arith::MulFOp>())
    squares = peel(mul.getLhs()) == x && peel(mul.getRhs()) == x;
  if (auto pow = square.getDefiningOp<math::PowFOp>())
    squares = peel(pow.getLhs()) == x && constantOf(pow.getRhs()) == 2.0;
  if (auto pow = square.getDefiningOp<math::FPowIOp>()) {
    IntegerAttr two;
    squares = peel(pow.getLhs()) == x &&
              matchPattern(pow.getRhs(), m_Constant(&two)) && two.getInt() == 2;
  }
  return squares ? op.getDpsInputs()[0] : Value();
}

/// `x * w * rsqrt(mean(x^2) + eps)` in any arrangement, where mean(x^2) is
/// the sum of squares over the last dimension (a reduction generic) divided
/// by the width: dsc.rms_norm.
struct FuseRmsNorm : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    if (!isElementwise(op) || op.getNumLoops() < 2)
      return rewriter.notifyMatchFailure(op, kNotACandidate);
    unsigned rank = op.getNumLoops();
    Product p = productOf(yieldedValue(op));
    // The inverse root: rsqrt(a) among the factors, or sqrt(a) among the
    // divisors.
    Value radicand;
    SmallVector<Value> rest;
    for (Value f : p.numerators) {
      if (auto rsqrt = f.getDefiningOp<math::RsqrtOp>(); rsqrt && !radicand)
        radicand = rsqrt.getOperand();
      else
        rest.push_back(f);
    }
    for (Value f : p.denominators) {
      auto sqrt = f.getDefiningOp<math::SqrtOp>();
      if (!sqrt || radicand)
        return rewriter.notifyMatchFailure(op, kNotACandidate);
      radicand = sqrt.getOperand();
    }
    if (!radicand || rest.size() != 2)
      return rewriter.notifyMatchFailure(op, kNotACandidate);
    // x (identity map) and w (indexed by the last dimension only).
    Value input, weight;
    for (Value f : rest) {
      auto in = inputOf(op, f);
      if (!in)
        return rewriter.notifyMatchFailure(op, kNotACandidate);
      if (in->second.isIdentity())
        input = op.getDpsInputs()[in->first];
      else if (in->second.getNumResults() == 1 &&
               in->second.getResult(0) == rewriter.getAffineDimExpr(rank - 1))
        weight = op.getDpsInputs()[in->first];
    }
    if (!input || !weight)
      return rewriter.notifyMatchFailure(op, kNotACandidate);

    // radicand = sum / width + eps (or sum * (1 / width) + eps).
    auto add = peel(radicand).getDefiningOp<arith::AddFOp>();
    std::optional<double> eps;
    Value mean;
    if (add) {
      for (auto [term, other] : {std::pair(add.getLhs(), add.getRhs()),
                                 std::pair(add.getRhs(), add.getLhs())})
        if (std::optional<double> c = constantOf(term); c && *c > 0.0) {
          eps = c;
          mean = other;
        }
    }
    if (!eps)
      return rewriter.notifyMatchFailure(
          op, "normalisation has no positive epsilon added under the root");
    Product m = productOf(mean);
    double scale = 1.0;
    Value sum;
    for (Value f : m.numerators) {
      if (std::optional<double> c = constantOf(f))
        scale *= *c;
      else if (!sum)
        sum = f;
      else
        return rewriter.notifyMatchFailure(op, "root of something not a mean");
    }
    for (Value f : m.denominators) {
      std::optional<double> c = constantOf(f);
      if (!c)
        return rewriter.notifyMatchFailure(op, "root of something not a mean");
      scale /= *c;
    }
    auto sumArg = sum ? inputOf(op, sum) : std::nullopt;
    SmallVector<AffineExpr> lead;
    for (unsigned d = 0; d + 1 < rank; ++d)
      lead.push_back(rewriter.getAffineDimExpr(d));
    if (!sumArg || sumArg->second.getResults() != ArrayRef(lead))
      return rewriter.notifyMatchFailure(
          op, "the mean is not per row (over the last dimension)");
    auto reduction =
        op.getDpsInputs()[sumArg->first].getDefiningOp<linalg::GenericOp>();
    Value squared = reduction ? sumOfSquaresInput(reduction) : Value();
    if (squared != input)
      return rewriter.notifyMatchFailure(
          op, "the mean is not of the squares of the normalised input");
    int64_t width = cast<ShapedType>(input.getType()).getShape().back();
    if (ShapedType::isDynamic(width) ||
        std::abs(scale * static_cast<double>(width) - 1.0) > 1e-6)
      return rewriter.notifyMatchFailure(
          op, "the sum of squares is not divided by the row width");
    auto type = cast<RankedTensorType>(op.getResultTypes()[0]);
    if (cast<RankedTensorType>(input.getType()) != type ||
        cast<RankedTensorType>(weight.getType()).getRank() != 1)
      return rewriter.notifyMatchFailure(
          op, "normalisation changes the element type or its weight is not "
              "a vector");
    rewriter.replaceOpWithNewOp<RmsNormOp>(
        op, type, input, weight, rewriter.getF64FloatAttr(shortestOf(*eps)));
    return success();
  }
};

/// `g / (1 + exp(-g)) * u` (`g * sigmoid(g) * u`) in any arrangement, g and
/// u identity-mapped inputs of one shape: dsc.swiglu.
struct FuseSwiglu : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    if (!isElementwise(op))
      return rewriter.notifyMatchFailure(op, kNotACandidate);
    Product p = productOf(yieldedValue(op));
    if (p.numerators.size() != 2 || p.denominators.size() != 1)
      return rewriter.notifyMatchFailure(op, kNotACandidate);
    auto denom = peel(p.denominators[0]).getDefiningOp<arith::AddFOp>();
    Value expValue = denom ? addendOf(denom, 1.0) : Value();
    auto exp =
        expValue ? peel(expValue).getDefiningOp<math::ExpOp>() : math::ExpOp();
    if (!exp)
      return rewriter.notifyMatchFailure(op, kNotACandidate);
    auto g = inputOf(op, p.numerators[0]), u = inputOf(op, p.numerators[1]);
    if (!g || !u)
      return rewriter.notifyMatchFailure(op, kNotACandidate);
    if (!isNegationOf(exp.getOperand(), peel(p.numerators[0])))
      std::swap(g, u);
    Block &body = op.getRegion().front();
    if (!isNegationOf(exp.getOperand(), body.getArgument(g->first)))
      return rewriter.notifyMatchFailure(
          op, "the sigmoid is not of one of the multiplied inputs");
    Value gate = op.getDpsInputs()[g->first], up = op.getDpsInputs()[u->first];
    auto type = cast<RankedTensorType>(op.getResultTypes()[0]);
    if (!g->second.isIdentity() || !u->second.isIdentity() ||
        gate.getType() != type || up.getType() != type)
      return rewriter.notifyMatchFailure(
          op, "gate and up are not same-shaped elementwise inputs");
    rewriter.replaceOpWithNewOp<SwigluOp>(op, type, gate, up);
    return success();
  }
};

/// A residual add whose sum is normalised: `s = x + r; y = rms_norm(s)`
/// becomes `s, y = dsc.add_rms_norm x, r`, one pass over both operands.
struct FuseAddRmsNorm : OpRewritePattern<RmsNormOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(RmsNormOp op,
                                PatternRewriter &rewriter) const override {
    auto add = op.getInput().getDefiningOp<linalg::GenericOp>();
    if (!add || !isElementwise(add) || add.getNumDpsInputs() != 2 ||
        !bodyIs<arith::AddFOp>(add))
      return rewriter.notifyMatchFailure(op, kNotACandidate);
    Block &body = add.getRegion().front();
    auto sum = cast<arith::AddFOp>(body.front());
    Value lhs = add.getDpsInputs()[0], rhs = add.getDpsInputs()[1];
    auto type = op.getType();
    if (!llvm::all_of(add.getIndexingMapsArray(),
                      [](AffineMap m) { return m.isIdentity(); }) ||
        lhs.getType() != type || rhs.getType() != type ||
        !llvm::is_contained({sum.getLhs(), sum.getRhs()},
                            body.getArgument(0)) ||
        !llvm::is_contained({sum.getLhs(), sum.getRhs()}, body.getArgument(1)))
      return rewriter.notifyMatchFailure(
          op, "the normalised sum is not of two same-shaped tensors");
    auto fused = AddRmsNormOp::create(rewriter, op.getLoc(), type, type, lhs,
                                      rhs, op.getWeight(), op.getEpsilon());
    rewriter.replaceOp(add, fused.getSum());
    rewriter.replaceOp(op, fused.getNormed());
    return success();
  }
};

/// The fusions under `root`: each dsc.rms_norm and dsc.swiglu, and each
/// dsc.add_rms_norm twice (it replaces a norm, fused or not, and fuses the
/// add into it), so that the difference before and after counts each
/// rewrite once.
unsigned countFusedElementwise(Operation *root) {
  return countOps<RmsNormOp>(root) + countOps<SwigluOp>(root) +
         2 * countOps<AddRmsNormOp>(root);
}

struct DscFuseElementwisePass
    : mlir::dsc::impl::DscFuseElementwiseBase<DscFuseElementwisePass> {
  using DscFuseElementwiseBase::DscFuseElementwiseBase;

  /// Merges chains of one-op generics (a frontend's op-by-op graph) the way
  /// linalg's elementwise fusion does, but only into elementwise consumers
  /// and single-input reductions: a producer merged into a contraction
  /// would be recomputed for every term of its sum.
  LogicalResult fuseElementwiseChains() {
    RewritePatternSet set(&getContext());
    linalg::populateElementwiseOpsFusionPatterns(set, [](OpOperand *operand) {
      auto producer = operand->get().getDefiningOp<linalg::GenericOp>();
      auto consumer = dyn_cast<linalg::GenericOp>(operand->getOwner());
      if (!producer || !consumer || !producer->hasOneUse() ||
          producer.getNumLoops() != producer.getNumParallelLoops())
        return false;
      return consumer.getNumLoops() == consumer.getNumParallelLoops() ||
             consumer.getNumDpsInputs() == 1;
    });
    return applyPatternsGreedily(getOperation(), std::move(set));
  }

  void runOnOperation() override {
    if (chains && failed(fuseElementwiseChains()))
      return signalPassFailure();
    RewritePatternSet set(&getContext());
    set.add<FuseRmsNorm, FuseSwiglu, FuseAddRmsNorm>(&getContext());
    FrozenRewritePatternSet patterns(std::move(set));
    // Functions without a candidate get no report row.
    FusionSpec spec{"norm/act", "", kNotACandidate, countFusedElementwise};
    FailureOr<unsigned> fused =
        applyFusionPatterns(getOperation(), patterns, spec, report);
    if (failed(fused))
      return signalPassFailure();
    numFused += *fused;
  }
};

} // namespace

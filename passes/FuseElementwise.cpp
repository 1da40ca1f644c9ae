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
#include "dialects/dsc/TensorMath.h"
#include "passes/FusionDriver.h"
#include "passes/LinalgMatchers.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
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

//===----------------------------------------------------------------------===//
// RoPE
//===----------------------------------------------------------------------===//

constexpr StringLiteral kNotARotation = "not a rotation";

/// `v` through reshapes that keep its last dimension.
Value throughRowReshapes(Value v) {
  int64_t width = cast<RankedTensorType>(v.getType()).getShape().back();
  while (Value source = reshapeSource(v)) {
    if (cast<RankedTensorType>(source.getType()).getShape().back() != width)
      break;
    v = source;
  }
  return v;
}

/// What a value inserted into `v` holds at `[offset, offset + size)` of the
/// last dimension: the source of the last insertion covering exactly that
/// range (and, as far as the types tell, all of the leading dimensions),
/// through insertions elsewhere.
Value insertedAt(Value v, int64_t offset, int64_t size) {
  while (auto insert = v.getDefiningOp<tensor::InsertSliceOp>()) {
    if (!insert.hasUnitStride() ||
        insert.getSourceType().getRank() != insert.getType().getRank() ||
        insert.getSourceType().getShape().drop_back() !=
            insert.getType().getShape().drop_back())
      return {};
    int64_t from = insert.getStaticOffsets().back();
    int64_t width = insert.getSourceType().getShape().back();
    if (ShapedType::isDynamic(from) || ShapedType::isDynamic(width))
      return {};
    if (from == offset && width == size &&
        llvm::all_of(insert.getStaticOffsets().drop_back(),
                     [](int64_t o) { return o == 0; }))
      return insert.getSource();
    if (from < offset + size && offset < from + width)
      return {};
    v = insert.getDest();
  }
  return {};
}

/// A rotation's angles: `positions[...] * frequencies[i]`, one generic.
struct Angles {
  /// The generic's result, which identifies the angles.
  Value value;
  /// Its positions (integers, indexed by the leading loops, then units)
  /// and frequencies ([d/2] f32, indexed by the last loop).
  Value positions, frequencies;
};

std::optional<Angles> matchAngles(Value v) {
  auto op = v.getDefiningOp<linalg::GenericOp>();
  if (!op || !isElementwise(op) || op.getNumDpsInputs() != 2)
    return std::nullopt;
  Product p = productOf(yieldedValue(op));
  if (p.numerators.size() != 2 || !p.denominators.empty())
    return std::nullopt;
  Value posArg, freqArg;
  for (Value f : p.numerators) {
    if (auto convert = f.getDefiningOp<arith::SIToFPOp>())
      posArg = convert.getIn();
    else
      freqArg = f;
  }
  auto pos = posArg ? inputOf(op, posArg) : std::nullopt;
  auto freq = freqArg ? inputOf(op, freqArg) : std::nullopt;
  if (!pos || !freq)
    return std::nullopt;
  unsigned rank = op.getNumLoops();
  MLIRContext *ctx = op.getContext();
  Value positions = op.getDpsInputs()[pos->first];
  Value frequencies = op.getDpsInputs()[freq->first];
  auto posType = cast<RankedTensorType>(positions.getType());
  auto freqType = cast<RankedTensorType>(frequencies.getType());
  if (freq->second !=
          AffineMap::get(rank, 0, getAffineDimExpr(rank - 1, ctx)) ||
      freqType.getRank() != 1 || !freqType.getElementType().isF32() ||
      pos->second.getNumResults() < rank - 1)
    return std::nullopt;
  for (auto [d, expr] : llvm::enumerate(pos->second.getResults())) {
    bool lead = d + 1 < rank && expr == getAffineDimExpr(d, ctx);
    bool unit = d + 1 >= rank && posType.getDimSize(d) == 1 &&
                isa<AffineConstantExpr>(expr) &&
                cast<AffineConstantExpr>(expr).getValue() == 0;
    if (!lead && !unit)
      return std::nullopt;
  }
  return Angles{op.getResult(0), positions, frequencies};
}

/// The angles whose cosine (or sine) `table` holds: `cos(angles)`,
/// through reshapes and a slice of the last dimension (before or after the
/// cosine) that picks one copy out of a concatenation (transformers'
/// `cat(freqs, freqs)`).
std::optional<Angles> matchTable(Value table, bool cosine) {
  std::optional<std::pair<int64_t, int64_t>> range;
  auto slice = [&](Value v) {
    v = throughRowReshapes(v);
    if (auto s = matchSliceLast(v); s && !range) {
      range = {std::get<1>(*s), std::get<2>(*s)};
      v = throughRowReshapes(std::get<0>(*s));
    }
    return v;
  };
  auto trig = slice(table).getDefiningOp<linalg::GenericOp>();
  if (!trig || !isElementwise(trig) || trig.getNumDpsInputs() != 1)
    return std::nullopt;
  Product p = productOf(yieldedValue(trig));
  Operation *op = p.numerators.size() == 1 && p.denominators.empty()
                      ? peel(p.numerators[0]).getDefiningOp()
                      : nullptr;
  if (!op || !(cosine ? isa<math::CosOp>(op) : isa<math::SinOp>(op)))
    return std::nullopt;
  auto in = inputOf(trig, op->getOperand(0));
  if (!in || !in->second.isIdentity())
    return std::nullopt;
  Value angles = slice(trig.getDpsInputs()[0]);
  if (range)
    angles = insertedAt(angles, range->first, range->second);
  return angles ? matchAngles(angles) : std::nullopt;
}

/// `x * cos -/+ partner * sin`, one elementwise generic: x and partner
/// are its inputs read elementwise, cos and sin tables of the same angles
/// read through `tableMap` (a broadcast over the heads).
struct RotatedHalf {
  Value x, partner, table;
  AffineMap tableMap;
  Angles angles;
  bool subtracts;
};

std::optional<RotatedHalf> matchRotatedHalf(Value v) {
  auto op = v.getDefiningOp<linalg::GenericOp>();
  if (!op || !isElementwise(op) || op.getNumDpsInputs() != 4)
    return std::nullopt;
  Operation *combine = peel(yieldedValue(op)).getDefiningOp();
  if (!isa_and_nonnull<arith::SubFOp, arith::AddFOp>(combine))
    return std::nullopt;
  // Each term: an input read elementwise times a cos or sin table.
  struct Term {
    Value data, table;
    AffineMap tableMap;
    std::optional<Angles> angles;
    bool cosine;
  };
  auto termOf = [&](Value t) -> std::optional<Term> {
    auto mul = peel(t).getDefiningOp<arith::MulFOp>();
    auto l = mul ? inputOf(op, mul.getLhs()) : std::nullopt;
    auto r = mul ? inputOf(op, mul.getRhs()) : std::nullopt;
    if (!l || !r)
      return std::nullopt;
    for (auto [data, table] : {std::pair(*l, *r), std::pair(*r, *l)}) {
      if (!data.second.isIdentity())
        continue;
      Value tableValue = op.getDpsInputs()[table.first];
      for (bool cosine : {true, false}) {
        if (std::optional<Angles> angles = matchTable(tableValue, cosine))
          return Term{op.getDpsInputs()[data.first], tableValue, table.second,
                      angles, cosine};
      }
    }
    return std::nullopt;
  };
  auto lhs = termOf(combine->getOperand(0));
  auto rhs = termOf(combine->getOperand(1));
  bool subtracts = isa<arith::SubFOp>(combine);
  // x * cos first when subtracting; either order when adding.
  if (lhs && rhs && !subtracts && !lhs->cosine)
    std::swap(lhs, rhs);
  if (!lhs || !rhs || !lhs->cosine || rhs->cosine ||
      lhs->angles->value != rhs->angles->value ||
      lhs->tableMap != rhs->tableMap ||
      lhs->table.getType() != rhs->table.getType())
    return std::nullopt;
  return RotatedHalf{lhs->data,     rhs->data,    lhs->table,
                     lhs->tableMap, *lhs->angles, subtracts};
}

/// The shape positions need to line up with the rows a table read through
/// `map` serves (loops [0, rank - 1)): the table's size where it varies
/// along a loop, 1 where it is shared. Empty when the map is not such a
/// broadcast.
SmallVector<OpFoldResult> positionSizes(PatternRewriter &rewriter, Value table,
                                        AffineMap map) {
  unsigned rank = map.getNumDims();
  auto type = cast<RankedTensorType>(table.getType());
  if (map.getNumResults() == 0 ||
      map.getResults().back() != rewriter.getAffineDimExpr(rank - 1))
    return {};
  TensorMath m(rewriter, table.getLoc());
  SmallVector<OpFoldResult> tableSizes = m.sizes(table);
  SmallVector<OpFoldResult> out(rank - 1, rewriter.getIndexAttr(1));
  int64_t last = -1;
  for (auto [k, expr] : llvm::enumerate(map.getResults().drop_back())) {
    if (auto dim = dyn_cast<AffineDimExpr>(expr);
        dim && static_cast<int64_t>(dim.getPosition()) > last &&
        dim.getPosition() + 1 < rank) {
      last = dim.getPosition();
      out[last] = tableSizes[k];
      continue;
    }
    auto cst = dyn_cast<AffineConstantExpr>(expr);
    if (!cst || cst.getValue() != 0 || type.getDimSize(k) != 1)
      return {};
  }
  return out;
}

/// `a` and `b` as one tensor: the tensor whose two halves they are, else
/// their concatenation.
Value pairsOf(TensorMath &m, Value a, Value b, int64_t half) {
  auto first = matchSliceLast(a), second = matchSliceLast(b);
  if (first && second && std::get<0>(*first) == std::get<0>(*second) &&
      std::get<1>(*first) == 0 && std::get<1>(*second) == half) {
    Value whole = std::get<0>(*first);
    auto slice = a.getDefiningOp<tensor::ExtractSliceOp>();
    SmallVector<OpFoldResult> wholeSizes = m.sizes(whole);
    wholeSizes.back() = m.builder().getIndexAttr(half);
    if (cast<RankedTensorType>(whole.getType()).getShape().back() == 2 * half &&
        llvm::all_of(llvm::zip(slice.getMixedSizes(), wholeSizes),
                     [](auto pair) {
                       return isEqualConstantIntOrValue(std::get<0>(pair),
                                                        std::get<1>(pair));
                     }))
      return whole;
  }
  return m.concatLast(a, b);
}

/// `cat(a cos - b sin, b cos + a sin)` with cos and sin tables of
/// `positions * frequencies` (transformers' DeepSeek rope, as an exporter
/// writes it): dsc.rope of `cat(a, b)` (the halves form) with those
/// frequencies. Where a and b are the even and odd elements of a vector
/// (rope_interleave), the rope is the interleaved one followed by the
/// graph's own permutation; the concatenation spells both.
struct FuseRope : OpRewritePattern<tensor::InsertSliceOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(tensor::InsertSliceOp op,
                                PatternRewriter &rewriter) const override {
    auto type = cast<RankedTensorType>(op.getType());
    auto concat = matchConcat(op, type.getRank() - 1);
    if (!concat)
      return rewriter.notifyMatchFailure(op, kNotARotation);
    auto [low, high, split] = *concat;
    std::optional<RotatedHalf> first = matchRotatedHalf(low);
    std::optional<RotatedHalf> second = matchRotatedHalf(high);
    if (!first && !second)
      return rewriter.notifyMatchFailure(op, kNotARotation);
    if (!first || !second || !first->subtracts || second->subtracts ||
        first->x != second->partner || first->partner != second->x)
      return rewriter.notifyMatchFailure(
          op, "not a rotation of pairs: the halves are not `a cos - b sin` "
              "and `b cos + a sin` of the same a and b");
    if (first->angles.value != second->angles.value ||
        first->tableMap != second->tableMap)
      return rewriter.notifyMatchFailure(
          op, "the halves rotate by different angles");
    auto freqType = cast<RankedTensorType>(first->angles.frequencies.getType());
    auto pairType = cast<RankedTensorType>(first->x.getType());
    if (2 * split != type.getShape().back() ||
        freqType.getDimSize(0) != split ||
        pairType != first->partner.getType() ||
        pairType.getElementType() != type.getElementType())
      return rewriter.notifyMatchFailure(
          op, "the frequencies do not cover the rotated pairs");
    SmallVector<OpFoldResult> sizes =
        positionSizes(rewriter, first->table, first->tableMap);
    TensorMath m(rewriter, op.getLoc());
    Value positions = sizes.empty()
                          ? Value()
                          : m.withUnitDims(first->angles.positions, sizes);
    if (!positions)
      return rewriter.notifyMatchFailure(
          op, "the angles' positions do not line up with the rotated rows");
    Value pairs = pairsOf(m, first->x, first->partner, split);
    rewriter.replaceOpWithNewOp<RopeOp>(op, type, pairs, positions,
                                        first->angles.frequencies, FloatAttr(),
                                        UnitAttr(), YarnAttr());
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

    RewritePatternSet ropeSet(&getContext());
    ropeSet.add<FuseRope>(&getContext());
    FusionSpec ropeSpec{"rope", "", kNotARotation, countOps<RopeOp>};
    fused = applyFusionPatterns(getOperation(),
                                FrozenRewritePatternSet(std::move(ropeSet)),
                                ropeSpec, report);
    if (failed(fused))
      return signalPassFailure();
    numFused += *fused;
  }
};

} // namespace

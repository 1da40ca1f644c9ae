//===- LinalgMatchers.cpp - Recognizing linalg.generic shapes -------------===//

#include "passes/LinalgMatchers.h"

#include "mlir/Dialect/Math/IR/Math.h"

#include "dialects/dsc/TensorMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Matchers.h"

#include <functional>

using namespace mlir;
using namespace mlir::dsc;

bool mlir::dsc::hasStructure(linalg::GenericOp op, unsigned numLoops,
                             ArrayRef<SmallVector<unsigned>> maps,
                             ArrayRef<unsigned> reductions) {
  if (op.getNumLoops() != numLoops ||
      op.getIndexingMapsArray().size() != maps.size())
    return false;
  for (auto [map, dims] : llvm::zip_equal(op.getIndexingMapsArray(), maps)) {
    if (map.getNumResults() != dims.size())
      return false;
    for (auto [expr, d] : llvm::zip_equal(map.getResults(), dims))
      if (expr != getAffineDimExpr(d, op.getContext()))
        return false;
  }
  for (auto [i, type] : llvm::enumerate(op.getIteratorTypesArray()))
    if ((type == utils::IteratorType::reduction) !=
        llvm::is_contained(reductions, i))
      return false;
  return true;
}

bool mlir::dsc::isZeroFilled(Value value) {
  // linalg.fill, or a generic without inputs yielding the constant (an
  // exporter's ConstantOfShape or zeros_like).
  Value filler;
  if (auto fill = value.getDefiningOp<linalg::FillOp>())
    filler = fill.getInputs()[0];
  else if (auto gen = value.getDefiningOp<linalg::GenericOp>();
           gen && gen.getNumDpsInputs() == 0 && gen.getNumDpsInits() == 1)
    filler = yieldedValue(gen);
  auto cst =
      filler ? filler.getDefiningOp<arith::ConstantOp>() : arith::ConstantOp();
  auto attr = cst ? dyn_cast<FloatAttr>(cst.getValue()) : FloatAttr();
  return attr && attr.getValue().isZero();
}

linalg::GenericOp mlir::dsc::definingGeneric(Value value, unsigned numInputs) {
  auto op = value.getDefiningOp<linalg::GenericOp>();
  if (!op || op.getNumDpsInputs() != numInputs || op.getNumDpsInits() != 1)
    return {};
  return op;
}

namespace {
/// Whether `op` (a binary op) has operands {a, b} in either order.
bool hasOperands(Operation *op, Value a, Value b) {
  return op && op->getNumOperands() == 2 &&
         ((op->getOperand(0) == a && op->getOperand(1) == b) ||
          (op->getOperand(0) == b && op->getOperand(1) == a));
}

/// The single value the body yields, if the body has exactly `numOps` ops
/// before its yield.
Value yielded(linalg::GenericOp op, size_t numOps) {
  Block &body = op.getRegion().front();
  auto ops = body.without_terminator();
  if (size_t(std::distance(ops.begin(), ops.end())) != numOps ||
      body.getTerminator()->getNumOperands() != 1)
    return Value();
  return body.getTerminator()->getOperand(0);
}

/// Adds the leaves of a tree of `arith.mulf` rooted at `value` to `leaves`.
void collectFactors(Value value, SmallVectorImpl<Value> &leaves) {
  if (auto mul = value.getDefiningOp<arith::MulFOp>()) {
    collectFactors(mul.getLhs(), leaves);
    collectFactors(mul.getRhs(), leaves);
    return;
  }
  leaves.push_back(value);
}
} // namespace

bool mlir::dsc::isMultiplyAccumulate(linalg::GenericOp op, bool widened) {
  Block &body = op.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  if (yield.getValues().size() != 1)
    return false;
  auto add = yield.getValues()[0].getDefiningOp<arith::AddFOp>();
  Value out = body.getArguments().back();
  if (!add || (add.getLhs() != out && add.getRhs() != out))
    return false;
  SmallVector<Value> factors;
  collectFactors(add.getLhs() == out ? add.getRhs() : add.getLhs(), factors);
  // A widened factor stands for the input it widens, and its extf counts
  // among the body's ops.
  size_t extensions = 0;
  if (widened)
    for (Value &factor : factors)
      if (auto ext = factor.getDefiningOp<arith::ExtFOp>()) {
        factor = ext.getIn();
        ++extensions;
      }
  // The body holds the multiplications, the extensions, the addition and
  // the yield only.
  if (body.getOperations().size() != factors.size() + extensions + 1)
    return false;
  if (!llvm::all_of(factors, [&](Value v) {
        auto arg = dyn_cast<BlockArgument>(v);
        return arg && arg.getOwner() == &body;
      }))
    return false;
  llvm::sort(factors, [](Value x, Value y) {
    return cast<BlockArgument>(x).getArgNumber() <
           cast<BlockArgument>(y).getArgNumber();
  });
  SmallVector<Value> inputs(body.getArguments().drop_back());
  return factors == inputs;
}

bool mlir::dsc::isCopy(linalg::GenericOp op) {
  return op.getNumDpsInputs() == 1 &&
         yielded(op, 0) == op.getRegion().front().getArgument(0);
}

bool mlir::dsc::isProduct(linalg::GenericOp op) {
  Block &body = op.getRegion().front();
  Value result = yielded(op, 1);
  return result && body.getNumArguments() == 3 &&
         hasOperands(result.getDefiningOp<arith::MulFOp>(), body.getArgument(0),
                     body.getArgument(1));
}

bool mlir::dsc::isSum(linalg::GenericOp op) {
  Block &body = op.getRegion().front();
  Value result = yielded(op, 1);
  return result && body.getNumArguments() == 2 &&
         hasOperands(result.getDefiningOp<arith::AddFOp>(), body.getArgument(0),
                     body.getArgument(1));
}

std::optional<mlir::dsc::Dequantized> mlir::dsc::matchDequantize(Value value) {
  linalg::GenericOp op = definingGeneric(value, 1);
  if (!op)
    return std::nullopt;
  auto type = cast<RankedTensorType>(value.getType());
  unsigned rank = type.getRank();
  SmallVector<unsigned> identity = iota(rank);
  if (rank < 2 || !type.getElementType().isF32() ||
      !hasStructure(op, rank, {identity, identity}, {}))
    return std::nullopt;
  // yield(mulf(f32(in), tensor.extract %scales[i0, ..., r / bm, c / bn]))
  Block &body = op.getRegion().front();
  auto mul = body.getTerminator()->getOperand(0).getDefiningOp<arith::MulFOp>();
  if (!mul)
    return std::nullopt;
  // f32(in): computed from the input element alone (an extf, or the bit
  // arithmetic that decodes FP8 where extf is not lowered).
  Value in = body.getArgument(0);
  // The expression must reach `in` and nothing else but constants.
  std::function<bool(Value)> isInput = [&](Value v) {
    if (v == in)
      return true;
    Operation *def = v.getDefiningOp();
    if (!def || def->getParentRegion() != &op.getRegion() ||
        isa<linalg::IndexOp, tensor::ExtractOp>(def) ||
        def->getNumRegions() != 0 || def->getNumOperands() == 0)
      return false;
    bool reachesInput = false;
    for (Value operand : def->getOperands()) {
      if (matchPattern(operand, m_Constant()))
        continue;
      if (!isInput(operand))
        return false;
      reachesInput = true;
    }
    return reachesInput;
  };
  Value lhs = mul.getLhs(), rhs = mul.getRhs();
  if (!isInput(lhs))
    std::swap(lhs, rhs);
  auto extract = rhs.getDefiningOp<tensor::ExtractOp>();
  if (!isInput(lhs) || !extract ||
      extract.getTensor().getParentRegion() == &op.getRegion() ||
      extract.getIndices().size() != rank)
    return std::nullopt;
  auto loopIndex = [](Value v) -> std::optional<int64_t> {
    if (auto index = v.getDefiningOp<linalg::IndexOp>())
      return index.getDim();
    return std::nullopt;
  };
  // Index d / block, with a constant block: the block.
  auto blockOf = [&](Value v, unsigned d) -> std::optional<int64_t> {
    auto div = v.getDefiningOp<arith::DivUIOp>();
    if (!div || loopIndex(div.getLhs()) != int64_t(d))
      return std::nullopt;
    std::optional<int64_t> block = getConstantIntValue(div.getRhs());
    if (!block || *block <= 0)
      return std::nullopt;
    return block;
  };
  ValueRange at = extract.getIndices();
  for (unsigned d = 0; d + 2 < rank; ++d)
    if (loopIndex(at[d]) != int64_t(d))
      return std::nullopt;
  std::optional<int64_t> bm = blockOf(at[rank - 2], rank - 2);
  std::optional<int64_t> bn = blockOf(at[rank - 1], rank - 1);
  if (!bm || !bn)
    return std::nullopt;
  return Dequantized{op.getDpsInputs()[0], extract.getTensor(), *bm, *bn};
}

Value mlir::dsc::reshapeSource(Value value) {
  if (auto reshape = value.getDefiningOp<tensor::ReshapeOp>())
    return reshape.getSource();
  if (auto expand = value.getDefiningOp<tensor::ExpandShapeOp>())
    return expand.getSrc();
  if (auto collapse = value.getDefiningOp<tensor::CollapseShapeOp>())
    return collapse.getSrc();
  return Value();
}

Value mlir::dsc::throughReshapes(Value value) {
  while (Value source = reshapeSource(value))
    value = source;
  return value;
}

Value mlir::dsc::viewOfRank(Value value, int64_t rank) {
  for (; value; value = reshapeSource(value))
    if (cast<RankedTensorType>(value.getType()).getRank() == rank)
      return value;
  return Value();
}

std::optional<std::tuple<Value, int64_t, int64_t>>
mlir::dsc::matchSliceLast(Value v, int64_t stride) {
  auto slice = v.getDefiningOp<tensor::ExtractSliceOp>();
  if (!slice || slice.getSourceType().getRank() != slice.getType().getRank())
    return std::nullopt;
  ArrayRef<int64_t> offsets = slice.getStaticOffsets();
  ArrayRef<int64_t> sizes = slice.getStaticSizes();
  ArrayRef<int64_t> strides = slice.getStaticStrides();
  for (auto [o, s] : llvm::zip(offsets.drop_back(), strides.drop_back()))
    if (o != 0 || s != 1)
      return std::nullopt;
  if (strides.back() != stride || ShapedType::isDynamic(offsets.back()) ||
      ShapedType::isDynamic(sizes.back()))
    return std::nullopt;
  return std::make_tuple(slice.getSource(), offsets.back(), sizes.back());
}

std::optional<std::tuple<Value, Value, int64_t>>
mlir::dsc::matchConcat(Value v, unsigned dim) {
  auto second = v.getDefiningOp<tensor::InsertSliceOp>();
  // An identity copy between the two (an exporter's no-op Expand) is
  // looked through.
  Value dest = second ? second.getDest() : Value();
  while (dest) {
    linalg::GenericOp copy = definingGeneric(dest, 1);
    if (!copy || !isCopy(copy) ||
        !llvm::all_of(copy.getIndexingMapsArray(),
                      [](AffineMap map) { return map.isIdentity(); }))
      break;
    dest = copy.getDpsInputs()[0];
  }
  auto first = dest ? dest.getDefiningOp<tensor::InsertSliceOp>()
                    : tensor::InsertSliceOp();
  if (!first || !first.hasUnitStride() || !second.hasUnitStride())
    return std::nullopt;
  ArrayRef<int64_t> o1 = first.getStaticOffsets(),
                    o2 = second.getStaticOffsets();
  for (unsigned d = 0; d < o1.size(); ++d)
    if (o1[d] != 0 || (d != dim && o2[d] != 0))
      return std::nullopt;
  auto type = cast<RankedTensorType>(v.getType());
  int64_t split = first.getSourceType().getDimSize(dim);
  if (ShapedType::isDynamic(split) || o2[dim] != split ||
      type.isDynamicDim(dim) ||
      split + second.getSourceType().getDimSize(dim) != type.getDimSize(dim))
    return std::nullopt;
  return std::make_tuple(first.getSource(), second.getSource(), split);
}

Value mlir::dsc::peel(Value v) {
  while (Operation *op = v.getDefiningOp()) {
    if (!isa<arith::ExtFOp, arith::TruncFOp>(op))
      break;
    v = op->getOperand(0);
  }
  return v;
}

std::optional<double> mlir::dsc::constantOf(Value v) {
  if (auto cst = peel(v).getDefiningOp<arith::ConstantOp>())
    if (auto attr = dyn_cast<FloatAttr>(cst.getValue()))
      return attr.getValueAsDouble();
  return std::nullopt;
}

static void flatten(Value v, bool inverted, Product &out) {
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

Product mlir::dsc::productOf(Value v) {
  Product p;
  flatten(v, false, p);
  return p;
}

bool mlir::dsc::isNegationOf(Value v, Value x) {
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

Value mlir::dsc::addendOf(arith::AddFOp add, double c) {
  if (constantOf(add.getLhs()) == c)
    return add.getRhs();
  if (constantOf(add.getRhs()) == c)
    return add.getLhs();
  return {};
}

std::optional<std::pair<unsigned, AffineMap>>
mlir::dsc::inputOf(linalg::GenericOp op, Value v) {
  auto arg = dyn_cast<BlockArgument>(peel(v));
  if (!arg || arg.getOwner() != &op.getRegion().front() ||
      arg.getArgNumber() >= op.getNumDpsInputs())
    return std::nullopt;
  OpOperand *operand = op.getDpsInputOperand(arg.getArgNumber());
  return std::make_pair(arg.getArgNumber(), op.getMatchingIndexingMap(operand));
}

/// The generic computing `row` when it reduces its one input over the last
/// dimension, written to the leading ones.
static linalg::GenericOp lastDimReduction(Value row) {
  linalg::GenericOp reduce = definingGeneric(row, 1);
  if (!reduce || reduce.getNumLoops() < 1)
    return {};
  unsigned rank = reduce.getNumLoops();
  SmallVector<unsigned> all = iota(rank), lead(all.begin(), all.end() - 1);
  return hasStructure(reduce, rank, {all, lead}, {rank - 1})
             ? reduce
             : linalg::GenericOp();
}

/// Whether `op` is elementwise over its `rank` loops with `v` (in its body)
/// computing `in0 <OpTy> in1`, in1 one value per row (the leading dims).
template <typename OpTy>
static bool combinesWithRow(linalg::GenericOp op, Value v) {
  unsigned rank = op.getNumLoops();
  SmallVector<unsigned> all = iota(rank), lead(all.begin(), all.end() - 1);
  auto combine = peel(v).getDefiningOp<OpTy>();
  auto lhs = combine ? inputOf(op, combine.getLhs()) : std::nullopt;
  auto rhs = combine ? inputOf(op, combine.getRhs()) : std::nullopt;
  return rank >= 1 && hasStructure(op, rank, {all, lead, all}, {}) && lhs &&
         lhs->first == 0 && rhs && rhs->first == 1;
}

Value mlir::dsc::softmaxInput(Value probs) {
  // probs = exps / sum(exps), the sum over the last dimension.
  linalg::GenericOp normalize = definingGeneric(probs, 2);
  if (!normalize ||
      !combinesWithRow<arith::DivFOp>(normalize, yieldedValue(normalize)))
    return {};
  Value exps = normalize.getDpsInputs()[0];
  linalg::GenericOp sum = lastDimReduction(normalize.getDpsInputs()[1]);
  if (!sum || !isSum(sum) || sum.getDpsInputs()[0] != exps ||
      !isZeroFilled(sum.getDpsInits()[0]))
    return {};
  // exps = exp(x - m), m one value per row: in one generic, or the
  // exponential of a subtraction. (Any m gives the same softmax; the max
  // keeps it finite.)
  linalg::GenericOp shifted = definingGeneric(exps, 2);
  if (shifted) {
    auto exp = peel(yieldedValue(shifted)).getDefiningOp<math::ExpOp>();
    if (!exp || !combinesWithRow<arith::SubFOp>(shifted, exp.getOperand()))
      return {};
  } else {
    linalg::GenericOp exp = definingGeneric(exps, 1);
    auto body = exp ? peel(yieldedValue(exp)).getDefiningOp<math::ExpOp>()
                    : math::ExpOp();
    auto in = body ? inputOf(exp, body.getOperand()) : std::nullopt;
    shifted = in && in->second.isIdentity() && isElementwise(exp)
                  ? definingGeneric(exp.getDpsInputs()[0], 2)
                  : linalg::GenericOp();
    if (!shifted ||
        !combinesWithRow<arith::SubFOp>(shifted, yieldedValue(shifted)))
      return {};
  }
  Value x = shifted.getDpsInputs()[0];
  linalg::GenericOp max = lastDimReduction(shifted.getDpsInputs()[1]);
  if (!max ||
      (!bodyIs<arith::MaximumFOp>(max) && !bodyIs<arith::MaxNumFOp>(max)) ||
      max.getDpsInputs()[0] != x)
    return {};
  return x;
}

bool mlir::dsc::isElementwise(linalg::GenericOp op) {
  return op.getNumDpsInits() == 1 &&
         op.getNumLoops() == op.getNumParallelLoops() &&
         op.getMatchingIndexingMap(op.getDpsInitOperand(0)).isIdentity();
}

Value mlir::dsc::yieldedValue(linalg::GenericOp op) {
  return cast<linalg::YieldOp>(op.getRegion().front().getTerminator())
      .getOperand(0);
}

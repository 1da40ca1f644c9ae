//===- LowerToLinalg.cpp - dsc ops to linalg on tensors -------------------===//
//
// The reference semantics of every dsc op, as plain linalg/tensor/arith/math
// on tensors. Codegen runs this first; the result is what both the CPU and
// the GPU lowerings start from.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
#include "dialects/dsc/DscOps.h"
#include "dialects/dsc/TensorMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>
#include <limits>

#define DEBUG_TYPE "dsc-lower-to-linalg"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCLOWERTOLINALG
#include "codegen/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

/// Converts an f32 scalar to `type` (a float type).
Value fromF32(OpBuilder &b, Location loc, Value v, Type type) {
  if (type == b.getF32Type())
    return v;
  return arith::TruncFOp::create(b, loc, type, v);
}

/// `value` (a float tensor: f32, or bf16 from the library's kernels)
/// converted to the element type of `type`, through f32.
Value castTo(TensorMath &m, Value value, ShapedType type) {
  Type eltType = type.getElementType();
  if (eltType == getElementTypeOrSelf(value))
    return value;
  return m.map(value, eltType, [&](OpBuilder &b, Location l, ValueRange a) {
    linalg::YieldOp::create(
        b, l, fromF32(b, l, TensorMath(b, l).toF32(a[0]), eltType));
  });
}

//===----------------------------------------------------------------------===//
// rms_norm
//===----------------------------------------------------------------------===//

/// Why the kernel library's f32 RMSNorm kernels cannot take rows `x` with
/// weight `w` (dsc.rms_norm_rows' form); empty when they can. (Its bf16
/// ones round the normalized row before the weight, as transformers' bf16
/// model does, which dsc.rms_norm does not.)
std::string normNotOnLibrary(Value x, Value w) {
  auto type = cast<RankedTensorType>(x.getType());
  if (!type.getElementType().isF32())
    return "its rows are not f32 (the library's bf16 RMSNorm rounds the "
           "normalized row before the weight)";
  auto weightType = cast<RankedTensorType>(w.getType());
  if (!weightType.getElementType().isF32())
    return "its weight is not f32";
  int64_t width = type.getShape().back();
  if (ShapedType::isDynamic(width) || width % 4 ||
      weightType.getDimSize(0) != width)
    return "its row width is not a static multiple of 4";
  return "";
}

/// dsc.rms_norm. With `library` (a GPU), f32 rows the kernel library's
/// RMSNorm takes become dsc.rms_norm_rows, which dsc-library-gemms
/// launches: one kernel where the generated code makes a (split) sum of
/// squares and a normalization (the same f32 arithmetic, summed in another
/// order).
struct LowerRmsNorm : OpRewritePattern<RmsNormOp> {
  LowerRmsNorm(MLIRContext *context, bool library)
      : OpRewritePattern(context), library(library) {}
  bool library;
  LogicalResult matchAndRewrite(RmsNormOp op,
                                PatternRewriter &rewriter) const override {
    TensorMath m(rewriter, op.getLoc());
    if (library) {
      std::string why = normNotOnLibrary(op.getInput(), op.getWeight());
      if (why.empty()) {
        Value init =
            m.empty(m.sizes(op.getInput()), op.getType().getElementType());
        rewriter.replaceOp(
            op, RmsNormRowsOp::create(rewriter, op.getLoc(),
                                      TypeRange{init.getType()}, op.getInput(),
                                      op.getWeight(), init, op.getEpsilonAttr())
                    .getResult());
        return success();
      }
      op.emitRemark("RMSNorm left as generated code: ") << why;
    }
    rewriter.replaceOp(op, m.rmsNorm(op.getInput(), op.getWeight(),
                                     op.getEpsilon().convertToDouble()));
    return success();
  }
};

/// dsc.add_rms_norm; with `library`, dsc.add_rms_norm_rows where the
/// library's fused add + RMSNorm takes the rows (as LowerRmsNorm).
struct LowerAddRmsNorm : OpRewritePattern<AddRmsNormOp> {
  LowerAddRmsNorm(MLIRContext *context, bool library)
      : OpRewritePattern(context), library(library) {}
  bool library;
  LogicalResult matchAndRewrite(AddRmsNormOp op,
                                PatternRewriter &rewriter) const override {
    TensorMath m(rewriter, op.getLoc());
    if (library) {
      std::string why = normNotOnLibrary(op.getInput(), op.getWeight());
      if (why.empty()) {
        auto type = op.getSum().getType();
        SmallVector<OpFoldResult> sizes = m.sizes(op.getInput());
        Value sumInit = m.empty(sizes, type.getElementType());
        Value normedInit = m.empty(sizes, type.getElementType());
        rewriter.replaceOp(op,
                           AddRmsNormRowsOp::create(
                               rewriter, op.getLoc(), TypeRange{type, type},
                               op.getInput(), op.getResidual(), op.getWeight(),
                               sumInit, normedInit, op.getEpsilonAttr())
                               .getResults());
        return success();
      }
      op.emitRemark("RMSNorm left as generated code: ") << why;
    }
    Value sum = m.add(op.getInput(), op.getResidual());
    rewriter.replaceOp(op, {sum, m.rmsNorm(sum, op.getWeight(),
                                           op.getEpsilon().convertToDouble())});
    return success();
  }
};

//===----------------------------------------------------------------------===//
// rope
//===----------------------------------------------------------------------===//

struct LowerRope : OpRewritePattern<RopeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RopeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    TensorMath m(rewriter, loc);
    auto type = op.getInput().getType();
    unsigned rank = type.getRank();
    int64_t dim = type.getShape().back();
    auto posType = op.getPositions().getType();
    unsigned posRank = posType.getRank();
    Value freqTensor = op.getFrequencies();
    if (!freqTensor)
      freqTensor = m.f32Vector(RopeOp::inverseFrequencies(
          dim, op.getTheta()->convertToDouble(), op.getYarnAttr()));
    double magnitude =
        op.getYarnAttr() ? op.getYarnAttr().getAttentionFactor() : 1.0;
    bool interleaved = op.getInterleaved();
    Value input = op.getInput();
    Type eltType = type.getElementType();
    SmallVector<unsigned> all = iota(rank);
    // cos and sin (times the YaRN magnitude) per position and pair, once:
    // not once per head and element.
    SmallVector<OpFoldResult> tableSizes = m.sizes(op.getPositions());
    tableSizes.push_back(rewriter.getIndexAttr(dim / 2));
    Type f32 = rewriter.getF32Type();
    SmallVector<unsigned> tableAll = iota(posRank + 1);
    SmallVector<unsigned> tablePos(tableAll.begin(), tableAll.end() - 1);
    ValueRange tables =
        m.generic({op.getPositions(), freqTensor},
                  {m.empty(tableSizes, f32), m.empty(tableSizes, f32)},
                  posRank + 1, {tablePos, {posRank}, tableAll, tableAll}, {},
                  [&](OpBuilder &b, Location l, ValueRange a) {
                    TensorMath s(b, l);
                    Value pos =
                        arith::SIToFPOp::create(b, l, b.getF32Type(), a[0]);
                    Value angle = arith::MulFOp::create(b, l, pos, a[1]);
                    Value cos = math::CosOp::create(b, l, angle);
                    Value sin = math::SinOp::create(b, l, angle);
                    if (magnitude != 1.0) {
                      cos = arith::MulFOp::create(b, l, cos, s.f32(magnitude));
                      sin = arith::MulFOp::create(b, l, sin, s.f32(magnitude));
                    }
                    linalg::YieldOp::create(b, l, ValueRange{cos, sin});
                  });
    Value cosTable = tables[0], sinTable = tables[1];
    Value init = m.empty(m.sizes(input), eltType);
    Value result = m.generic(
        {input}, init, rank, {all, all}, {},
        [&](OpBuilder &b, Location l, ValueRange a) {
          TensorMath s(b, l);
          SmallVector<Value> idx;
          for (unsigned d = 0; d < rank; ++d)
            idx.push_back(linalg::IndexOp::create(b, l, d));
          Value j = idx.back();
          Value half = s.index(dim / 2);
          Value two = s.index(2);
          // Pair index i, whether this is the first of the pair, and
          // the partner element.
          Value i, isFirst, partner;
          if (interleaved) {
            i = arith::DivUIOp::create(b, l, j, two);
            Value rem = arith::RemUIOp::create(b, l, j, two);
            isFirst = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, rem,
                                            s.index(0));
            Value odd = arith::AddIOp::create(b, l, j, s.index(1));
            Value even = arith::SubIOp::create(b, l, j, s.index(1));
            partner = arith::SelectOp::create(b, l, isFirst, odd, even);
          } else {
            i = arith::RemUIOp::create(b, l, j, half);
            isFirst =
                arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult, j, half);
            Value up = arith::AddIOp::create(b, l, j, half);
            Value down = arith::SubIOp::create(b, l, j, half);
            partner = arith::SelectOp::create(b, l, isFirst, up, down);
          }
          // A positions dimension of 1 is shared by all rows there.
          SmallVector<Value> at;
          for (unsigned d = 0; d < posRank; ++d)
            at.push_back(posType.getDimSize(d) == 1 ? s.index(0) : idx[d]);
          at.push_back(i);
          Value cos = tensor::ExtractOp::create(b, l, cosTable, at);
          Value sin = tensor::ExtractOp::create(b, l, sinTable, at);
          idx.back() = partner;
          Value other = s.toF32(tensor::ExtractOp::create(b, l, input, idx));
          // first: x*cos - partner*sin; second: x*cos + partner*sin.
          Value negSin = arith::NegFOp::create(b, l, sin);
          Value signedSin = arith::SelectOp::create(b, l, isFirst, negSin, sin);
          Value y = arith::AddFOp::create(
              b, l, arith::MulFOp::create(b, l, s.toF32(a[0]), cos),
              arith::MulFOp::create(b, l, other, signedSin));
          linalg::YieldOp::create(b, l, fromF32(b, l, y, eltType));
        })[0];
    rewriter.replaceOp(op, result);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// linear
//===----------------------------------------------------------------------===//

/// A block-scaled weight in f32, or `elementType`
/// (TensorMath::dequantizeByBlocks), with the block size of an op's
/// `block_size` attribute.
Value dequantize(TensorMath &m, Value weight, Value scales,
                 ArrayRef<int64_t> block, Type elementType = {}) {
  return m.dequantizeByBlocks(weight, scales, block[0], block[1], elementType);
}

/// A block-scaled weight dequantized to bf16 for a library GEMM; the
/// elementwise op that does it marked kLibraryDequantizeAttr (with the
/// block size) when it is dequantizeByBlocks' one op over the weight's
/// blocks (not its fallback through f32).
Value dequantizeForGemm(TensorMath &m, Value weight, Value scales,
                        ArrayRef<int64_t> block) {
  OpBuilder &b = m.builder();
  Value bf16 = dequantize(m, weight, scales, block, b.getBF16Type());
  auto collapse = bf16.getDefiningOp<tensor::CollapseShapeOp>();
  if (auto op = collapse ? collapse.getSrc().getDefiningOp<linalg::GenericOp>()
                         : linalg::GenericOp())
    op->setAttr(kLibraryDequantizeAttr, b.getDenseI64ArrayAttr(block));
  return bf16;
}

/// Whether the library's GEMM reads `weight` (bf16 as bound, or block-scaled
/// with `scales`, dequantized to bf16 for it or read as e4m3).
bool readByLibraryGemm(Value weight, Value scales) {
  return scales || getElementTypeOrSelf(weight).isBF16();
}

/// `value` rounded to bf16 (to nearest even), the input a tensor-core GEMM
/// takes; `value` itself when it is bf16 already.
Value roundedToBf16(TensorMath &m, Value value) {
  Type bf16 = m.builder().getBF16Type();
  if (cast<ShapedType>(value.getType()).getElementType() == bf16)
    return value;
  return m.map(value, bf16, [&](OpBuilder &b, Location l, ValueRange a) {
    Value f32 = TensorMath(b, l).toF32(a[0]);
    linalg::YieldOp::create(b, l, fromF32(b, l, f32, bf16));
  });
}

/// `silu(gate) * up` in f32, rounded once to bf16: a tensor-core GEMM's
/// input, as one op marked `kLibrarySwigluAttr` (dsc-library-gemms fuses
/// it with the GEMMs of `gate` and `up` when it can).
Value swigluToBf16(TensorMath &m, Value gate, Value up) {
  OpBuilder &b = m.builder();
  Value act = m.swiglu(gate, up, b.getBF16Type());
  auto op = act.getDefiningOp<linalg::GenericOp>();
  // A buffer of its own: the fused kernel reads the GEMMs' input while it
  // writes the result, so bufferization must not put the result where the
  // input was (an empty tensor CSE'd with the input's rounding one lets
  // it, when the shapes match).
  if (auto empty = op.getDpsInits()[0].getDefiningOp<tensor::EmptyOp>()) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(op);
    op.getDpsInitsMutable()[0].set(
        bufferization::AllocTensorOp::create(b, op.getLoc(), empty.getType(),
                                             empty.getDynamicSizes())
            .getResult());
  }
  op->setAttr(kLibrarySwigluAttr, b.getUnitAttr());
  return act;
}

/// With `bf16Inputs`, a linear layer with a bf16 weight, or a block-scaled
/// one dequantized to bf16, first rounds its input to bf16, as a
/// tensor-core GEMM takes it, and its GEMM (bf16 x bf16, f32 sums) carries
/// `kLibraryGemmAttr`: on a GPU,
/// dsc-library-gemms runs it as the kernel library's GEMM; on the CPU it
/// computes what that kernel does (the same roundings; another summation
/// order). An f32 `dsc.swiglu` input (a dense MLP's or shared expert's
/// down projection) is computed and rounded in one marked op
/// (swigluToBf16), the same values.
struct LowerLinear : OpRewritePattern<LinearOp> {
  LowerLinear(MLIRContext *context, bool bf16Inputs)
      : OpRewritePattern(context), bf16Inputs(bf16Inputs) {}
  bool bf16Inputs;

  LogicalResult matchAndRewrite(LinearOp op,
                                PatternRewriter &rewriter) const override {
    TensorMath m(rewriter, op.getLoc());
    Value weight = op.getWeight();
    Value input = op.getInput();
    // A block-scaled (FP8) weight runs on tensor cores too, dequantized to
    // bf16 first (each call: the runtime holds no derived weights), as
    // DeepSeek's reference code does for its absorbed attention; a GPU's
    // GEMM of few rows reads the e4m3 weight itself (dsc-library-gemms).
    bool tensorCores = bf16Inputs && readByLibraryGemm(weight, op.getScales());
    if (Value scales = op.getScales())
      weight = tensorCores
                   ? dequantizeForGemm(m, weight, scales, *op.getBlockSize())
                   : dequantize(m, weight, scales, *op.getBlockSize());
    auto swiglu = input.getDefiningOp<SwigluOp>();
    if (tensorCores && swiglu && getElementTypeOrSelf(input).isF32())
      input = swigluToBf16(m, swiglu.getGate(), swiglu.getUp());
    else if (tensorCores)
      input = roundedToBf16(m, input);
    Value result = m.matmulTransposed(input, weight);
    if (tensorCores)
      result.getDefiningOp()->setAttr(kLibraryGemmAttr, rewriter.getUnitAttr());
    rewriter.replaceOp(op, castTo(m, result, op.getType()));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// embed
//===----------------------------------------------------------------------===//

struct LowerEmbed : OpRewritePattern<EmbedOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(EmbedOp op,
                                PatternRewriter &rewriter) const override {
    TensorMath m(rewriter, op.getLoc());
    Value table = op.getTable();
    int64_t vocab = op.getTable().getType().getDimSize(0);
    int64_t hidden = op.getTable().getType().getDimSize(1);
    unsigned rank = op.getType().getRank();
    SmallVector<OpFoldResult> outSizes = m.sizes(op.getIds());
    outSizes.push_back(rewriter.getIndexAttr(hidden));
    Value init = m.empty(outSizes, op.getType().getElementType());
    SmallVector<unsigned> all = iota(rank);
    SmallVector<unsigned> idsMap(all.begin(), all.end() - 1);
    Value result = m.generic(
        op.getIds(), init, rank, {idsMap, all}, {},
        [&](OpBuilder &b, Location l, ValueRange a) {
          TensorMath s(b, l);
          Value id = arith::IndexCastOp::create(b, l, b.getIndexType(), a[0]);
          // Out-of-range ids read row 0 instead of out of bounds.
          Value ok = arith::AndIOp::create(
              b, l,
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::sge, id,
                                    s.index(0)),
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, id,
                                    s.index(vocab)));
          id = arith::SelectOp::create(b, l, ok, id, s.index(0));
          Value d = linalg::IndexOp::create(b, l, rank - 1);
          Value value =
              tensor::ExtractOp::create(b, l, table, ValueRange{id, d});
          // A bf16 table read as f32: widened exactly.
          if (value.getType() != op.getType().getElementType())
            value = arith::ExtFOp::create(b, l, op.getType().getElementType(),
                                          value);
          linalg::YieldOp::create(b, l, value);
        })[0];
    rewriter.replaceOp(op, result);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// swiglu
//===----------------------------------------------------------------------===//

struct LowerSwiglu : OpRewritePattern<SwigluOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SwigluOp op,
                                PatternRewriter &rewriter) const override {
    TensorMath m(rewriter, op.getLoc());
    rewriter.replaceOp(op, m.swiglu(op.getGate(), op.getUp()));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// gate
//===----------------------------------------------------------------------===//

/// Per row of `x` ([rows, n], f32): the maximum and its (lowest) index,
/// NaN entries (the ones topK took already) skipped. A row of -inf still
/// yields its first entry that is not NaN.
std::pair<Value, Value> argmaxLastDim(TensorMath &m, Value x) {
  OpBuilder &b = m.builder();
  SmallVector<OpFoldResult> rows = {m.sizes(x)[0]};
  Value maxInit = m.filled(rows, b.getF32Type(), kNegInf);
  Value idxInit = m.filled(rows, b.getI64Type(), -1);
  ValueRange r = m.generic(
      x, {maxInit, idxInit}, 2, {{0, 1}, {0}, {0}}, {1},
      [](OpBuilder &nb, Location l, ValueRange a) {
        Value col = arith::IndexCastOp::create(
            nb, l, nb.getI64Type(), linalg::IndexOp::create(nb, l, 1));
        Value none = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt,
                                           a[2], TensorMath(nb, l).i64(0));
        Value number =
            arith::CmpFOp::create(nb, l, arith::CmpFPredicate::ORD, a[0], a[0]);
        Value better = arith::OrIOp::create(
            nb, l,
            arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT, a[0], a[1]),
            arith::AndIOp::create(nb, l, none, number));
        linalg::YieldOp::create(
            nb, l,
            ValueRange{arith::SelectOp::create(nb, l, better, a[0], a[1]),
                       arith::SelectOp::create(nb, l, better, col, a[2])});
      });
  return {r[0], r[1]};
}

/// Sets x[row, idx[row]] to NaN: taken.
Value maskChosen(TensorMath &m, Value x, Value idx) {
  Value init = m.empty(m.sizes(x), m.builder().getF32Type());
  return m.generic(
      {x, idx}, init, 2, {{0, 1}, {0}, {0, 1}}, {},
      [](OpBuilder &nb, Location l, ValueRange a) {
        TensorMath s(nb, l);
        Value col = arith::IndexCastOp::create(
            nb, l, nb.getI64Type(), linalg::IndexOp::create(nb, l, 1));
        Value hit =
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, col, a[1]);
        linalg::YieldOp::create(
            nb, l,
            arith::SelectOp::create(
                nb, l, hit, s.f32(std::numeric_limits<double>::quiet_NaN()),
                a[0])
                .getResult());
      })[0];
}

/// The `k` largest entries per row of `x` ([rows, n]), as (values, indices)
/// tensors [rows, k] in descending order: k rounds of argmax-and-mask.
std::pair<Value, Value> topK(TensorMath &m, Value x, int64_t k) {
  OpBuilder &b = m.builder();
  Location loc = m.getLoc();
  Value rows = tensor::DimOp::create(b, loc, x, 0);
  SmallVector<OpFoldResult> outSizes = {rows, b.getIndexAttr(k)};
  Value values = m.empty(outSizes, b.getF32Type());
  Value indices = m.empty(outSizes, b.getI64Type());
  auto loop = scf::ForOp::create(
      b, loc, m.index(0), m.index(k), m.index(1),
      ValueRange{x, values, indices},
      [&](OpBuilder &nb, Location l, Value iv, ValueRange iter) {
        TensorMath s(nb, l);
        auto [maxV, maxI] = argmaxLastDim(s, iter[0]);
        Value masked = maskChosen(s, iter[0], maxI);
        auto insertColumn = [&](Value column, Value into) {
          auto colType = cast<RankedTensorType>(column.getType());
          auto expanded = tensor::ExpandShapeOp::create(
              nb, l,
              RankedTensorType::get({colType.getDimSize(0), 1},
                                    colType.getElementType()),
              column, SmallVector<ReassociationIndices>{{0, 1}});
          SmallVector<OpFoldResult> offsets = {nb.getIndexAttr(0), iv};
          SmallVector<OpFoldResult> sizes = {rows, nb.getIndexAttr(1)};
          SmallVector<OpFoldResult> strides(2, nb.getIndexAttr(1));
          return tensor::InsertSliceOp::create(nb, l, expanded, into, offsets,
                                               sizes, strides)
              .getResult();
        };
        scf::YieldOp::create(nb, l,
                             ValueRange{masked, insertColumn(maxV, iter[1]),
                                        insertColumn(maxI, iter[2])});
      });
  return {loop.getResult(1), loop.getResult(2)};
}

/// dsc.topk by ranks: each element's rank in its row (how many entries
/// come before it: larger, or equal at a lower position), then output j of
/// a row is the element of rank j. Quadratic in the row width, for any rank
/// and element type; dsc.gate's own top-k (k rounds of argmax) is the one
/// the model's routers run.
struct LowerTopk : OpRewritePattern<TopkOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TopkOp op, PatternRewriter &b) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    TensorMath m(b, loc);
    Value x = op.getInput();
    auto xt = op.getInput().getType();
    int64_t rank = xt.getRank(), k = op.getK();
    bool largest = !op.getSmallest();
    // k rounds of argmax-and-mask where they apply (rows of f32, the
    // largest): on the tiny fixtures' routers they are as fast as ranks or
    // faster (tiny-v3 prefill 0.21 against 0.33 ms with ranks for its 16
    // experts), and at V3's 256 experts ranks would cost 32x the
    // comparisons.
    if (largest && rank == 2 && xt.getElementType().isF32()) {
      auto [values, indices] = topK(m, x, k);
      b.replaceOp(op, {values, indices});
      return success();
    }
    Type elt = xt.getElementType(), i64 = b.getI64Type();
    bool isFloat = isa<FloatType>(elt);
    SmallVector<OpFoldResult> xs = m.sizes(x);
    // 1. The rank of every element in its row: how many come before it
    //    (larger, or equal at a lower index; ties go to the lower index).
    SmallVector<AffineExpr> self, other;
    for (int64_t d = 0; d < rank; ++d) {
      self.push_back(b.getAffineDimExpr(d));
      other.push_back(b.getAffineDimExpr(d == rank - 1 ? rank : d));
    }
    SmallVector<utils::IteratorType> iterators(rank + 1,
                                               utils::IteratorType::parallel);
    iterators.back() = utils::IteratorType::reduction;
    Value ranks =
        linalg::GenericOp::create(
            b, loc, TypeRange{RankedTensorType::get(xt.getShape(), i64)},
            ValueRange{x, x}, ValueRange{m.filled(xs, i64, 0.0)},
            ArrayRef<AffineMap>{AffineMap::get(rank + 1, 0, self, ctx),
                                AffineMap::get(rank + 1, 0, other, ctx),
                                AffineMap::get(rank + 1, 0, self, ctx)},
            iterators,
            [&](OpBuilder &nb, Location l, ValueRange a) {
              Value pos = linalg::IndexOp::create(nb, l, rank - 1);
              Value otherPos = linalg::IndexOp::create(nb, l, rank);
              // The other entry comes before this one: it is larger
              // (smaller), or equal at a lower position.
              Value entry = a[0], otherEntry = a[1];
              Value ordered, equal;
              if (isFloat) {
                ordered =
                    arith::CmpFOp::create(nb, l,
                                          largest ? arith::CmpFPredicate::OGT
                                                  : arith::CmpFPredicate::OLT,
                                          otherEntry, entry);
                equal = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OEQ,
                                              otherEntry, entry);
              } else {
                ordered =
                    arith::CmpIOp::create(nb, l,
                                          largest ? arith::CmpIPredicate::sgt
                                                  : arith::CmpIPredicate::slt,
                                          otherEntry, entry);
                equal = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq,
                                              otherEntry, entry);
              }
              Value lower = arith::CmpIOp::create(
                  nb, l, arith::CmpIPredicate::ult, otherPos, pos);
              Value before = arith::OrIOp::create(
                  nb, l, ordered, arith::AndIOp::create(nb, l, equal, lower));
              Value one =
                  arith::ExtUIOp::create(nb, l, nb.getI64Type(), before);
              linalg::YieldOp::create(
                  nb, l, arith::AddIOp::create(nb, l, a[2], one).getResult());
            })
            .getResult(0);
    // 2. Output j of a row is the element whose rank is j.
    SmallVector<OpFoldResult> outSizes = xs;
    outSizes.back() = b.getIndexAttr(k);
    SmallVector<AffineExpr> outExprs, readExprs;
    for (int64_t d = 0; d < rank; ++d) {
      outExprs.push_back(b.getAffineDimExpr(d));
      readExprs.push_back(b.getAffineDimExpr(d == rank - 1 ? rank : d));
    }
    SmallVector<Value> inits = {m.filled(outSizes, elt, 0.0),
                                m.filled(outSizes, i64, 0.0)};
    auto picked = linalg::GenericOp::create(
        b, loc, TypeRange{inits[0].getType(), inits[1].getType()},
        ValueRange{x, ranks}, inits,
        ArrayRef<AffineMap>{AffineMap::get(rank + 1, 0, readExprs, ctx),
                            AffineMap::get(rank + 1, 0, readExprs, ctx),
                            AffineMap::get(rank + 1, 0, outExprs, ctx),
                            AffineMap::get(rank + 1, 0, outExprs, ctx)},
        iterators, [&](OpBuilder &nb, Location l, ValueRange a) {
          Value j = arith::IndexCastOp::create(
              nb, l, nb.getI64Type(), linalg::IndexOp::create(nb, l, rank - 1));
          Value m = arith::IndexCastOp::create(
              nb, l, nb.getI64Type(), linalg::IndexOp::create(nb, l, rank));
          Value hit =
              arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, a[1], j);
          linalg::YieldOp::create(
              nb, l,
              ValueRange{arith::SelectOp::create(nb, l, hit, a[0], a[2]),
                         arith::SelectOp::create(nb, l, hit, m, a[3])});
        });
    b.replaceOp(op, picked.getResults());
    return success();
  }
};

/// The indices of the `k` largest entries of each row of `x` ([rows, n]
/// f32), as dsc.topk (which the greedy driver lowers next, choosing the
/// algorithm by the row width).
Value topkIndices(TensorMath &m, Value x, int64_t k) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> shape(type.getShape());
  shape.back() = k;
  OpBuilder &b = m.builder();
  return TopkOp::create(b, m.getLoc(),
                        RankedTensorType::get(shape, type.getElementType()),
                        RankedTensorType::get(shape, b.getI64Type()), x,
                        b.getI64IntegerAttr(k), UnitAttr())
      .getIndices();
}

/// dsc.gate. With `library` (a GPU), a router the kernel library has
/// (sigmoid scores, noaux_tc, the bias in f32, its expert and group counts,
/// top_k <= 32: notOnLibrary) is its GEMM, then dsc.noaux_tc_route, which
/// computes steps 1 to 5 in f32 as this lowering does, but for the weights'
/// arithmetic: their sum in another order, and w * (scale / sum) rather
/// than w / sum * scale (a few f32 roundings apart).
struct LowerGate : OpRewritePattern<GateOp> {
  LowerGate(MLIRContext *context, bool library)
      : OpRewritePattern(context), library(library) {}
  bool library;
  LogicalResult matchAndRewrite(GateOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    TensorMath m(rewriter, loc);
    Type f32 = rewriter.getF32Type();
    int64_t experts = op.getWeight().getType().getDimSize(0);
    int64_t groups = op.getNGroup();
    int64_t perGroup = experts / groups;
    Value logits = m.matmulTransposed(op.getInput(), op.getWeight());
    if (library) {
      std::string why = notOnLibrary(op, logits);
      if (why.empty()) {
        auto [weights, indices] = libraryRoute(m, op, logits);
        rewriter.replaceOp(op, {weights, indices});
        return success();
      }
      op.emitRemark("router left as generated code: ") << why;
    }

    // 1. Scores, in f32.
    Value scores;
    if (op.getScoring() == ScoringFunc::Sigmoid) {
      scores = m.sigmoid(logits);
    } else {
      scores = m.softmaxLastDim(logits);
    }

    // 2. Selection scores: biased for choosing only.
    Value select = scores;
    if (Value bias = op.getBias())
      select = m.generic(
          {scores, bias}, m.empty(m.sizes(scores), f32), 2,
          {{0, 1}, {1}, {0, 1}}, {},
          [](OpBuilder &b, Location l, ValueRange a) {
            Value bf = TensorMath(b, l).toF32(a[1]);
            linalg::YieldOp::create(
                b, l, arith::AddFOp::create(b, l, a[0], bf).getResult());
          })[0];

    // 3. Group limit: keep the topk_group best groups, mask the rest.
    if (op.getTopkMethod() != TopkMethod::Greedy && groups > 1)
      select = limitGroups(m, select, groups, perGroup, op.getTopkGroup(),
                           op.getTopkMethod() == TopkMethod::NoauxTc);

    // 4. Top-k by selection score.
    Value indices = topkIndices(m, select, op.getTopK());

    // 5. Weights: the original scores at the chosen experts.
    SmallVector<OpFoldResult> kSizes = m.sizes(indices);
    Value weights = m.gatherColumns(scores, indices);
    double scaling = op.getRoutedScalingFactor().convertToDouble();
    if (op.getNormTopkProb()) {
      Value sum = m.sumLastDim(weights);
      weights = m.generic(
          {weights, sum}, m.empty(kSizes, f32), 2, {{0, 1}, {0}, {0, 1}}, {},
          [&](OpBuilder &b, Location l, ValueRange a) {
            Value w = arith::DivFOp::create(b, l, a[0], a[1]);
            linalg::YieldOp::create(
                b, l,
                arith::MulFOp::create(b, l, w, TensorMath(b, l).f32(scaling))
                    .getResult());
          })[0];
    } else if (scaling != 1.0) {
      weights =
          m.map(weights, f32, [&](OpBuilder &b, Location l, ValueRange a) {
            linalg::YieldOp::create(
                b, l,
                arith::MulFOp::create(b, l, a[0], TensorMath(b, l).f32(scaling))
                    .getResult());
          });
    }
    rewriter.replaceOp(op, {weights, indices});
    return success();
  }

  /// Why the kernel library's router cannot run `op` (see the struct);
  /// empty when it can.
  static std::string notOnLibrary(GateOp op, Value logits) {
    Value bias = op.getBias();
    int64_t experts = op.getWeight().getType().getDimSize(0);
    int64_t groups = op.getNGroup(), kept = op.getTopkGroup();
    if (op.getScoring() != ScoringFunc::Sigmoid ||
        op.getTopkMethod() != TopkMethod::NoauxTc)
      return "the library's router is V3's (sigmoid scores, noaux_tc)";
    if (!bias || !getElementTypeOrSelf(bias).isF32())
      return "no f32 e_score_correction_bias";
    if (cast<ShapedType>(logits.getType()).getRank() != 2)
      return "the tokens are not one dimension";
    if (!libraryHasMoeRoute(experts, groups))
      return ("no router for " + Twine(experts) + " experts in " +
              Twine(groups) + " groups")
          .str();
    if (kept > groups || static_cast<int64_t>(op.getTopK()) >
                             std::min<int64_t>(32, kept * (experts / groups)))
      return "top_k above 32 or the kept groups' experts";
    return "";
  }

  /// dsc.noaux_tc_route of `logits`: the weights and the indices (widened
  /// from the kernel's i32).
  static std::pair<Value, Value> libraryRoute(TensorMath &m, GateOp op,
                                              Value logits) {
    OpBuilder &b = m.builder();
    SmallVector<OpFoldResult> sizes = m.sizes(logits);
    sizes.back() = b.getIndexAttr(op.getTopK());
    Value ids = m.empty(sizes, b.getI32Type());
    Value weights = m.empty(sizes, b.getF32Type());
    auto route = NoauxTcRouteOp::create(
        b, m.getLoc(), TypeRange{ids.getType(), weights.getType()}, logits,
        op.getBias(), ids, weights, op.getNGroupAttr(), op.getTopkGroupAttr(),
        op.getNormTopkProbAttr(), op.getRoutedScalingFactorAttr());
    Value indices = m.map(
        route.getResult()[0], b.getI64Type(),
        [](OpBuilder &nb, Location l, ValueRange a) {
          linalg::YieldOp::create(
              nb, l,
              arith::ExtSIOp::create(nb, l, nb.getI64Type(), a[0]).getResult());
        });
    return {route.getResult()[1], indices};
  }

  /// Masks to -inf the experts outside the `keep` best of `groups` groups.
  /// A group's score is the sum of its top-2 selection scores (`topTwo`) or
  /// its maximum.
  static Value limitGroups(TensorMath &m, Value select, int64_t groups,
                           int64_t perGroup, int64_t keep, bool topTwo) {
    OpBuilder &b = m.builder();
    Location loc = m.getLoc();
    Type f32 = b.getF32Type();
    auto type = cast<RankedTensorType>(select.getType());
    auto grouped = tensor::ExpandShapeOp::create(
        b, loc,
        RankedTensorType::get({type.getDimSize(0), groups, perGroup}, f32),
        select, SmallVector<ReassociationIndices>{{0}, {1, 2}});
    SmallVector<OpFoldResult> groupSizes = m.sizes(grouped);
    groupSizes.pop_back();
    Value first = m.filled(groupSizes, f32, kNegInf);
    Value second = m.filled(groupSizes, f32, kNegInf);
    ValueRange best = m.generic(
        grouped.getResult(), {first, second}, 3, {{0, 1, 2}, {0, 1}, {0, 1}},
        {2}, [](OpBuilder &nb, Location l, ValueRange a) {
          Value v = a[0], m1 = a[1], m2 = a[2];
          Value above =
              arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT, v, m1);
          Value newM1 = arith::SelectOp::create(nb, l, above, v, m1);
          Value newM2 = arith::SelectOp::create(
              nb, l, above, m1, arith::MaximumFOp::create(nb, l, m2, v));
          linalg::YieldOp::create(nb, l, ValueRange{newM1, newM2});
        });
    Value groupScore = best[0];
    if (topTwo)
      groupScore = m.map(
          {best[0], best[1]}, f32, [](OpBuilder &nb, Location l, ValueRange a) {
            linalg::YieldOp::create(
                nb, l, arith::AddFOp::create(nb, l, a[0], a[1]).getResult());
          });
    Value keptGroups = topkIndices(m, groupScore, keep);
    // Mask: expert e of group g survives iff g is among the kept groups.
    Value maskedInit = m.empty(m.sizes(grouped), f32);
    Value masked = m.generic(
        grouped.getResult(), maskedInit, 3, {{0, 1, 2}, {0, 1, 2}}, {},
        [&](OpBuilder &nb, Location l, ValueRange a) {
          TensorMath s(nb, l);
          Value row = linalg::IndexOp::create(nb, l, 0);
          Value g = arith::IndexCastOp::create(
              nb, l, nb.getI64Type(), linalg::IndexOp::create(nb, l, 1));
          Value kept = arith::ConstantIntOp::create(nb, l, 0, 1);
          for (int64_t j = 0; j < keep; ++j) {
            Value chosen = tensor::ExtractOp::create(
                nb, l, keptGroups, ValueRange{row, s.index(j)});
            kept = arith::OrIOp::create(
                nb, l, kept,
                arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, g,
                                      chosen));
          }
          linalg::YieldOp::create(
              nb, l,
              arith::SelectOp::create(nb, l, kept, a[0], s.f32(kNegInf))
                  .getResult());
        })[0];
    return tensor::CollapseShapeOp::create(
        b, loc, type, masked, SmallVector<ReassociationIndices>{{0}, {1, 2}});
  }
};

//===----------------------------------------------------------------------===//
// mla
//===----------------------------------------------------------------------===//

/// `first` [..., n] and `second` [..., m] (the same leading sizes, static
/// last ones) joined along the last dimension into [..., n + m], as bf16:
/// the row layout of the kernel library's attention operands.
Value joinedBf16(TensorMath &m, Value first, Value second) {
  OpBuilder &b = m.builder();
  int64_t split = cast<ShapedType>(first.getType()).getShape().back();
  int64_t width = split + cast<ShapedType>(second.getType()).getShape().back();
  SmallVector<OpFoldResult> sizes = m.sizes(first);
  sizes.back() = b.getIndexAttr(width);
  unsigned rank = sizes.size();
  Type bf16 = b.getBF16Type();
  return m.generic(
      {}, m.empty(sizes, bf16), rank, {iota(rank)}, {},
      [&](OpBuilder &nb, Location l, ValueRange) {
        TensorMath s(nb, l);
        SmallVector<Value> at;
        for (unsigned i = 0; i < rank; ++i)
          at.push_back(linalg::IndexOp::create(nb, l, i));
        Value w = at.back();
        Value inFirst = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult,
                                              w, s.index(split));
        at.back() = arith::MinUIOp::create(nb, l, w, s.index(split - 1));
        Value x = tensor::ExtractOp::create(nb, l, first, at);
        at.back() = arith::SubIOp::create(
            nb, l, arith::MaxUIOp::create(nb, l, w, s.index(split)),
            s.index(split));
        Value y = tensor::ExtractOp::create(nb, l, second, at);
        Value v =
            arith::SelectOp::create(nb, l, inFirst, s.toF32(x), s.toF32(y));
        linalg::YieldOp::create(nb, l, fromF32(nb, l, v, bf16));
      })[0];
}

/// `op`'s W_UK and W_UV (TensorMath::splitKvB), kv_b dequantized first
/// when it is FP8: to f32, or with `bf16` to bf16 (as DeepSeek's reference
/// code dequantizes kv_b for its absorbed attention), the operand type of
/// the library's batched GEMM, marked so that dsc-library-gemms can have
/// its e4m3 forms read kv_b as stored instead.
template <typename Op>
std::pair<Value, Value> absorptionWeights(TensorMath &m, Op op,
                                          bool bf16 = false) {
  Value kvb = op.getKvB();
  if (Value scales = op.getScales())
    kvb = bf16 ? dequantizeForGemm(m, kvb, scales, *op.getBlockSize())
               : dequantize(m, kvb, scales, *op.getBlockSize());
  auto qType = op.getQNope().getType();
  return m.splitKvB(kvb, qType.getDimSize(2), qType.getDimSize(3),
                    op.getType().getDimSize(3));
}

/// `op`'s absorbed form over the given keys (TensorMath::absorbedAttention).
template <typename Op>
Value absorbedAttention(TensorMath &m, Op op, Value latentKeys, Value ropeKeys,
                        Value past, const AttentionLayout &layout = {},
                        Value mask = {}) {
  auto [wUK, wUV] = absorptionWeights(m, op);
  return m.absorbedAttention(op.getQNope(), op.getQPe(), latentKeys, ropeKeys,
                             wUK, wUV, op.getScale().convertToDouble(), past,
                             layout, mask);
}

/// How dsc.mla computes its attention (TensorMath.h): every query reads
/// every earlier key, so the keys are transposed once for all of them, and
/// queries go in blocks of 32 so that the masked half of the scores is
/// skipped (at 128 tokens, 5/8 of the work remains).
constexpr AttentionLayout kPrefillLayout{/*transposeKeys=*/true,
                                         /*queryBlock=*/32};

/// How the CPU computes decode attention where a GPU runs the kernel
/// library's MLA decode: each probability's numerator exp(s - max) rounded
/// to bf16 before P V, as the kernel does (its sum not). The kernel rounds
/// against its split's running maximum, so the two round the same values
/// only where all of a row's tokens are in one split with the maximum in
/// its first tile: in practice, contexts of at most one 32-token tile.
/// Past that they differ by a bf16 rounding of some probabilities.
constexpr AttentionLayout kLibraryDecodeLayout{/*transposeKeys=*/false,
                                               /*queryBlock=*/0,
                                               /*bf16Probabilities=*/true};

/// dsc.mla's attention. The naive form (a prompt's: each head's keys and
/// values decompressed by kv_b) of widths the kernel library has
/// (notOnLibrary, with a bf16 or block-scaled kv_b) runs on the library when
/// `library` is set: the decompression on its GEMM (the latent rounded to
/// bf16; an FP8 kv_b dequantized to bf16 for it, as a linear layer's), the
/// attention as dsc.causal_mla_prefill over the queries, keys and values
/// rounded to bf16. With `bf16Inputs` alone (a CPU checking a GPU's
/// numerics) it computes the same roundings: those operands, the
/// probabilities' numerators (as the kernel rounds them against its
/// running maximum: the same values for prompts of one 64-token tile) and
/// the result.
struct LowerMla : OpRewritePattern<MlaOp> {
  LowerMla(MLIRContext *context, const AttentionLayout &layout, bool library,
           bool bf16Inputs)
      : OpRewritePattern(context), layout(layout), library(library),
        bf16Inputs(bf16Inputs) {}
  AttentionLayout layout;
  bool library, bf16Inputs;
  LogicalResult matchAndRewrite(MlaOp op,
                                PatternRewriter &rewriter) const override {
    TensorMath m(rewriter, op.getLoc());
    if (library || bf16Inputs) {
      std::string why = notOnLibrary(op);
      if (why.empty()) {
        rewriter.replaceOp(
            op, castTo(m, libraryAttention(m, op, library), op.getType()));
        return success();
      }
      if (library)
        op.emitRemark("attention left as generated code: ") << why;
    }
    auto qType = op.getQNope().getType();
    int64_t dn = qType.getDimSize(3), dv = op.getType().getDimSize(3);
    Value result;
    if (op.getForm() == MlaForm::Naive) {
      // Per head k_nope (dn) and v (dv) from the latent.
      Value perHead = decompressed(m, op, /*likeLibrary=*/false);
      result = m.causalAttention(
          op.getQNope(), m.sliceLast(perHead, 0, dn), op.getQPe(), op.getKPe(),
          m.sliceLast(perHead, dn, dv), op.getScale().convertToDouble(),
          Value(), layout, op.getMask());
    } else {
      result = absorbedAttention(m, op, op.getLatent(), op.getKPe(), Value(),
                                 layout, op.getMask());
    }
    rewriter.replaceOp(op, castTo(m, result, op.getType()));
    return success();
  }

  /// Why the kernel library's MLA prefill cannot run `op`'s attention
  /// (it takes the naive form with the causal mask, a kv_b the library's
  /// GEMM reads and widths it has); empty when it can.
  static std::string notOnLibrary(MlaOp op) {
    int64_t dn = op.getQNope().getType().getDimSize(3),
            dr = op.getKPe().getType().getDimSize(2),
            dv = op.getType().getDimSize(3);
    if (op.getForm() != MlaForm::Naive)
      return "the absorbed form (the library's MLA prefill takes the naive "
             "one)";
    if (op.getMask())
      return "the graph's own mask";
    if (!readByLibraryGemm(op.getKvB(), op.getScales()))
      return "kv_b is neither bf16 nor block-scaled";
    if (!libraryHasMlaPrefill(dn, dr, dv))
      return ("no MLA prefill for no-rope " + Twine(dn) + ", rope " +
              Twine(dr) + " and value " + Twine(dv))
          .str();
    return "";
  }

  /// kv_b's decompression of the latent, per head: [B, S, H, dn + dv], each
  /// head's k_nope then v. In f32; or `likeLibrary`, as the library's GEMM
  /// computes it (the latent rounded to bf16, an FP8 kv_b dequantized to
  /// bf16, the GEMM marked) and rounded to bf16, as the prefill kernel
  /// reads it.
  static Value decompressed(TensorMath &m, MlaOp op, bool likeLibrary) {
    OpBuilder &b = m.builder();
    Value kvb = op.getKvB(), latent = op.getLatent();
    if (Value scales = op.getScales())
      kvb = likeLibrary ? dequantizeForGemm(m, kvb, scales, *op.getBlockSize())
                        : dequantize(m, kvb, scales, *op.getBlockSize());
    if (likeLibrary)
      latent = roundedToBf16(m, latent);
    Value sums = m.matmulTransposed(latent, kvb);
    if (likeLibrary) {
      sums.getDefiningOp()->setAttr(kLibraryGemmAttr, b.getUnitAttr());
      sums = roundedToBf16(m, sums);
    }
    auto type = cast<RankedTensorType>(sums.getType());
    int64_t heads = op.getQNope().getType().getDimSize(2);
    return tensor::ExpandShapeOp::create(
        b, m.getLoc(),
        RankedTensorType::get({type.getDimSize(0), type.getDimSize(1), heads,
                               type.getDimSize(2) / heads},
                              type.getElementType()),
        sums, SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
  }

  /// The naive form with the library's roundings (see the struct), bf16:
  /// on the library (dsc.causal_mla_prefill) when `onLibrary`, else
  /// computed here.
  Value libraryAttention(TensorMath &m, MlaOp op, bool onLibrary) const {
    OpBuilder &b = m.builder();
    Location loc = m.getLoc();
    int64_t dn = op.getQNope().getType().getDimSize(3),
            dv = op.getType().getDimSize(3);
    Type bf16 = b.getBF16Type();
    Value kv = decompressed(m, op, /*likeLibrary=*/true);
    // The kernel reads the rope keys as one contiguous buffer: k_pe already
    // in bf16 (a view of kv_a's output, in a bf16 graph) is copied.
    Value ropeKeys = op.getKPe();
    ropeKeys = getElementTypeOrSelf(ropeKeys) == bf16
                   ? bufferization::AllocTensorOp::create(
                         b, loc, op.getKPe().getType(), ValueRange{}, ropeKeys)
                         .getResult()
                   : roundedToBf16(m, ropeKeys);
    double scale = op.getScale().convertToDouble();
    if (!onLibrary) {
      AttentionLayout rounded = layout;
      rounded.bf16Probabilities = true;
      Value out = m.causalAttention(
          roundedToBf16(m, op.getQNope()), m.sliceLast(kv, 0, dn),
          roundedToBf16(m, op.getQPe()), ropeKeys, m.sliceLast(kv, dn, dv),
          scale, Value(), rounded);
      return roundedToBf16(m, out);
    }
    SmallVector<OpFoldResult> sizes = m.sizes(op.getQNope());
    sizes.back() = b.getIndexAttr(dv);
    Value init = m.empty(sizes, bf16);
    return CausalMlaPrefillOp::create(b, loc, TypeRange{init.getType()},
                                      joinedBf16(m, op.getQNope(), op.getQPe()),
                                      kv, ropeKeys, init, op.getScaleAttr())
        .getResult()[0];
  }
};

/// Where decode attention's keys come from: `op`'s cache [pages, P, C + dr]
/// through its block table, and its new tokens. Key j of sequence b is
/// cached entry j (page table[b, j / P], row j % P) when j < past[b], else
/// new token j - past[b]. Every index is clamped, so a bad block table
/// cannot read outside the cache; rows past a sequence's own past[b] + S
/// repeat its last new token (the causal mask hides them).
struct KeySources {
  /// `op`'s sources; T = `keyCount` keys for each of `batch` sequences.
  /// With `roundFresh`, the new tokens' keys are rounded to bf16, as the
  /// library's cache stores them.
  KeySources(MlaDecodeOp op, Value pages, Value tablePages, Value batch,
             Value keyCount, Value newTokens, bool roundFresh)
      : latent(op.getLatent()), kPe(op.getKPe()), cache(op.getCache()),
        table(op.getBlockTable()), past(op.getPast()), pages(pages),
        tablePages(tablePages), batch(batch), keyCount(keyCount),
        newTokens(newTokens), pageSize(op.getCache().getType().getDimSize(1)),
        roundFresh(roundFresh) {}

  Value latent, kPe; // [B, S, C], [B, S, dr]
  Value cache, table, past, pages, tablePages, batch, keyCount, newTokens;
  int64_t pageSize;
  bool roundFresh;

  /// `min(max(v, 0), upper - 1)`, so -1 when upper is 0. A decode step has
  /// at least one new token; a table or cache without pages (nothing
  /// cached) gives -1, which gatherByRows never reads (no key is cached)
  /// and gatherByElements reads but does not choose.
  static Value clamp(OpBuilder &b, Location loc, Value v, Value upper) {
    Value last = arith::SubIOp::create(
        b, loc, upper, arith::ConstantIndexOp::create(b, loc, 1));
    Value low = arith::MaxSIOp::create(
        b, loc, v, arith::ConstantIndexOp::create(b, loc, 0));
    return arith::MinSIOp::create(b, loc, low, last);
  }
  static int64_t width(Value keys) {
    return cast<RankedTensorType>(keys.getType()).getDimSize(2);
  }
  /// past[bi] as an index.
  Value seen(OpBuilder &b, Location loc, Value bi) const {
    return arith::IndexCastOp::create(
        b, loc, b.getIndexType(),
        tensor::ExtractOp::create(b, loc, past, ValueRange{bi}));
  }
  /// The cache's page and row of key j of sequence bi.
  std::pair<Value, Value> cachedAt(OpBuilder &b, Location loc, Value bi,
                                   Value j) const {
    Value size = arith::ConstantIndexOp::create(b, loc, pageSize);
    Value slot =
        clamp(b, loc, arith::DivUIOp::create(b, loc, j, size), tablePages);
    Value page = clamp(
        b, loc,
        arith::IndexCastOp::create(
            b, loc, b.getIndexType(),
            tensor::ExtractOp::create(b, loc, table, ValueRange{bi, slot})),
        pages);
    return {page, arith::RemUIOp::create(b, loc, j, size)};
  }
  /// The new token of key j of a sequence that has seen `seen` tokens.
  Value freshAt(OpBuilder &b, Location loc, Value j, Value seen) const {
    return clamp(b, loc, arith::SubIOp::create(b, loc, j, seen), newTokens);
  }
  /// A new token's key element `v` in f32, rounded like the library's.
  Value freshValue(OpBuilder &b, Location loc, Value v) const {
    TensorMath s(b, loc);
    v = s.toF32(v);
    return roundFresh ? s.toF32(fromF32(b, loc, v, b.getBF16Type())) : v;
  }

  /// The latent keys [B, T, C] and the rope keys [B, T, dr] as one
  /// generic over [B, T, C + dr], each element choosing its source: a GPU
  /// kernel of a thread per element (the sizes from shapes alone, with
  /// fixed shapes), sliced.
  std::pair<Value, Value> gatherByElements(TensorMath &m) const {
    OpBuilder &b = m.builder();
    int64_t c = width(latent), dr = width(kPe);
    SmallVector<OpFoldResult> sizes = {batch, keyCount, b.getIndexAttr(c + dr)};
    Value keys = m.generic(
        {}, m.empty(sizes, b.getF32Type()), 3, {{0, 1, 2}}, {},
        [&](OpBuilder &nb, Location l, ValueRange) {
          TensorMath s(nb, l);
          Value bi = linalg::IndexOp::create(nb, l, 0);
          Value j = linalg::IndexOp::create(nb, l, 1);
          Value w = linalg::IndexOp::create(nb, l, 2);
          Value seenHere = seen(nb, l, bi);
          auto [page, row] = cachedAt(nb, l, bi, j);
          Value cached = s.toF32(tensor::ExtractOp::create(
              nb, l, cache, ValueRange{page, row, w}));
          Value token = freshAt(nb, l, j, seenHere);
          Value isLatent = arith::CmpIOp::create(
              nb, l, arith::CmpIPredicate::ult, w, s.index(c));
          Value fromLatent = tensor::ExtractOp::create(
              nb, l, latent,
              ValueRange{bi, token,
                         arith::MinUIOp::create(nb, l, w, s.index(c - 1))});
          Value rope = clamp(nb, l, arith::SubIOp::create(nb, l, w, s.index(c)),
                             s.index(dr));
          Value fromRope = tensor::ExtractOp::create(
              nb, l, kPe, ValueRange{bi, token, rope});
          Value fresh = freshValue(nb, l,
                                   arith::SelectOp::create(nb, l, isLatent,
                                                           s.toF32(fromLatent),
                                                           s.toF32(fromRope)));
          Value isCached = arith::CmpIOp::create(
              nb, l, arith::CmpIPredicate::slt, j, seenHere);
          linalg::YieldOp::create(
              nb, l,
              arith::SelectOp::create(nb, l, isCached, cached, fresh)
                  .getResult());
        })[0];
    return {m.sliceLast(keys, 0, c), m.sliceLast(keys, c, dr)};
  }

  /// The same keys gathered a row at a time by host loops (CPU code): each
  /// key's source is chosen once, then its latent and rope rows are copied
  /// over contiguous memory, which LLVM vectorizes. (In the generic, the
  /// table's and `past`'s loads stay in the innermost loop, since they
  /// might alias the keys it writes: a scalar loop, 9% of a CPU decode step
  /// at a 2048-token context.)
  std::pair<Value, Value> gatherByRows(TensorMath &m) const {
    OpBuilder &b = m.builder();
    Location loc = m.getLoc();
    int64_t c = width(latent), dr = width(kPe);
    Type f32 = b.getF32Type();
    Value zero = m.index(0), one = m.index(1);
    SmallVector<Value> init = {
        m.empty({batch, keyCount, b.getIndexAttr(c)}, f32),
        m.empty({batch, keyCount, b.getIndexAttr(dr)}, f32)};
    auto sequences = scf::ForOp::create(
        b, loc, zero, batch, one, init,
        [&](OpBuilder &ob, Location ol, Value bi, ValueRange outer) {
          Value seenHere = seen(ob, ol, bi);
          auto positions = scf::ForOp::create(
              ob, ol, zero, keyCount, one, outer,
              [&](OpBuilder &nb, Location l, Value j, ValueRange keys) {
                Value isCached = arith::CmpIOp::create(
                    nb, l, arith::CmpIPredicate::slt, j, seenHere);
                auto rows = scf::IfOp::create(
                    nb, l, isCached,
                    [&](OpBuilder &tb, Location tl) {
                      auto [page, row] = cachedAt(tb, tl, bi, j);
                      scf::YieldOp::create(
                          tb, tl,
                          ValueRange{copyRow(tb, tl, cache, {page, row}, 0, c,
                                             keys[0], bi, j, /*round=*/false),
                                     copyRow(tb, tl, cache, {page, row}, c, dr,
                                             keys[1], bi, j, /*round=*/false)});
                    },
                    [&](OpBuilder &tb, Location tl) {
                      Value token = freshAt(tb, tl, j, seenHere);
                      scf::YieldOp::create(
                          tb, tl,
                          ValueRange{copyRow(tb, tl, latent, {bi, token}, 0, c,
                                             keys[0], bi, j, roundFresh),
                                     copyRow(tb, tl, kPe, {bi, token}, 0, dr,
                                             keys[1], bi, j, roundFresh)});
                    });
                scf::YieldOp::create(nb, l, rows.getResults());
              });
          scf::YieldOp::create(ob, ol, positions.getResults());
        });
    return {sequences.getResult(0), sequences.getResult(1)};
  }

private:
  /// Elements `column .. column + width` of `from`'s row `at` (its first
  /// two indices) into row (bi, j) of `keys` [B, T, width], in place, in
  /// f32 (rounded as freshValue with `round`). A row in f32 already is
  /// inserted as it is (a copy); another goes through an elementwise
  /// generic.
  Value copyRow(OpBuilder &b, Location loc, Value from, ValueRange at,
                int64_t column, int64_t width, Value keys, Value bi, Value j,
                bool round) const {
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), b.getIndexAttr(1),
                                       b.getIndexAttr(width)};
    SmallVector<OpFoldResult> unit(3, b.getIndexAttr(1));
    Value row = tensor::ExtractSliceOp::create(
        b, loc, from, {at[0], at[1], b.getIndexAttr(column)}, sizes, unit);
    SmallVector<OpFoldResult> target = {bi, j, b.getIndexAttr(0)};
    Type type = cast<RankedTensorType>(from.getType()).getElementType();
    if (round || !type.isF32()) {
      Value slot =
          tensor::ExtractSliceOp::create(b, loc, keys, target, sizes, unit);
      row = TensorMath(b, loc).generic(
          row, slot, 3, {{0, 1, 2}, {0, 1, 2}}, {},
          [&](OpBuilder &nb, Location l, ValueRange a) {
            Value v =
                round ? freshValue(nb, l, a[0]) : TensorMath(nb, l).toF32(a[0]);
            linalg::YieldOp::create(nb, l, v);
          })[0];
    }
    return tensor::InsertSliceOp::create(b, loc, row, keys, target, sizes,
                                         unit);
  }
};

/// Absorbed attention over T = max(past) + S keys of each sequence: its
/// cached entries (through its block table), then its new tokens' latent
/// and rope key (KeySources), gathered per element (a GPU kernel) or, with
/// `keyRowLoops`, per row (KeySources::gatherByRows, CPU code).
///
/// With `fixedShapes`, T = (block table width) * page size + S instead:
/// the sizes then follow from the arguments' shapes alone, never from
/// `past`'s values, so the host code reads nothing the GPU holds (a decode
/// step it can capture into a CUDA graph). The table covers every cached
/// entry, so T >= past[b] + S still; the extra keys are masked.
///
/// Attention the kernel library can run (libraryRuns: a bf16 cache of
/// widths and a page size it has) is dsc.paged_mla_decode instead when
/// `library` and `fixedShapes` are set (libraryAttention()). Otherwise,
/// with `bf16Inputs`, this form rounds such attention as the library does:
/// q_nope (with a bf16 kv_b, FP8 ones dequantized to bf16), the absorbed
/// queries, the new tokens' keys (as the cache stores them), the
/// probabilities' numerators (kLibraryDecodeLayout) and the latent outputs
/// to bf16.
struct LowerMlaDecode : OpRewritePattern<MlaDecodeOp> {
  LowerMlaDecode(MLIRContext *context, bool fixedShapes, bool library,
                 bool bf16Inputs, bool keyRowLoops)
      : OpRewritePattern(context), fixedShapes(fixedShapes), library(library),
        bf16Inputs(bf16Inputs), keyRowLoops(keyRowLoops) {}
  bool fixedShapes, library, bf16Inputs, keyRowLoops;
  LogicalResult matchAndRewrite(MlaDecodeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    TensorMath m(rewriter, loc);
    OpBuilder &b = rewriter;
    if (library && fixedShapes && libraryRuns(op)) {
      Value result = libraryAttention(op, m);
      rewriter.replaceOp(op, castTo(m, result, op.getType()));
      return success();
    }
    bool roundLikeLibrary = bf16Inputs && libraryRuns(op);
    Type i64 = b.getI64Type();
    int64_t pageSize = op.getCache().getType().getDimSize(1);
    Value cache = op.getCache(), table = op.getBlockTable(),
          past = op.getPast();

    Value newTokens = tensor::DimOp::create(b, loc, op.getLatent(), 1);
    Value pages = tensor::DimOp::create(b, loc, cache, 0);
    Value tablePages = tensor::DimOp::create(b, loc, table, 1);
    // T = max(past) + S, or the table's capacity + S.
    Value keysBefore;
    if (fixedShapes) {
      keysBefore = arith::MulIOp::create(b, loc, tablePages, m.index(pageSize));
    } else {
      Value longest = m.generic(
          past, m.filled({}, i64, 0.0), 1, {{0}, {}}, {0},
          [](OpBuilder &nb, Location l, ValueRange a) {
            linalg::YieldOp::create(
                nb, l, arith::MaxSIOp::create(nb, l, a[0], a[1]).getResult());
          })[0];
      keysBefore = arith::IndexCastOp::create(
          b, loc, b.getIndexType(),
          tensor::ExtractOp::create(b, loc, longest, ValueRange{}));
    }
    Value keyCount = arith::AddIOp::create(b, loc, keysBefore, newTokens);
    Value batch = tensor::DimOp::create(b, loc, op.getLatent(), 0);

    KeySources keys(op, pages, tablePages, batch, keyCount, newTokens,
                    roundLikeLibrary);
    auto [latentKeys, ropeKeys] =
        keyRowLoops ? keys.gatherByRows(m) : keys.gatherByElements(m);
    // One new token per step reads each key once: a transposed copy of the
    // keys would cost as much as the scores (the default layout).
    Value result;
    if (roundLikeLibrary) {
      auto [wUK, wUV] = absorptionWeights(m, op, /*bf16=*/true);
      Value outLatent = m.causalAttention(
          roundedToBf16(
              m, m.absorbQueries(productInput(m, op.getQNope(), wUK), wUK)),
          latentKeys, roundedToBf16(m, op.getQPe()), ropeKeys, latentKeys,
          op.getScale().convertToDouble(), past, kLibraryDecodeLayout);
      result = m.projectValues(roundedToBf16(m, outLatent), wUV);
    } else {
      result = absorbedAttention(m, op, latentKeys, ropeKeys, past);
    }
    rewriter.replaceOp(op, castTo(m, result, op.getType()));
    return success();
  }

  /// Whether the kernel library's MLA decode can run `op`'s attention
  /// (dsc-compile's note says why not, when it cannot).
  static bool libraryRuns(MlaDecodeOp op) {
    return op.getCache().getType().getElementType().isBF16() &&
           op.getCache().getType().getDimSize(1) == kLibraryMlaPageSize &&
           libraryHasMlaDecode(op.getLatent().getType().getDimSize(2),
                               op.getKPe().getType().getDimSize(2)) &&
           !ShapedType::isDynamic(op.getQNope().getType().getDimSize(2));
  }

  /// `x`, an operand of a per-head product with `w`, rounded to bf16 when
  /// `w` is bf16: the product then runs on the library's batched GEMM
  /// (onLibrary), whose operands are bf16; the CPU rounds the same.
  static Value productInput(TensorMath &m, Value x, Value w) {
    return cast<ShapedType>(w.getType()).getElementType().isBF16()
               ? roundedToBf16(m, x)
               : x;
  }

  /// `product` (TensorMath::absorbQueries or projectValues: inputs bf16)
  /// marked for the kernel library's batched GEMM when its weight `w` is
  /// bf16 too (kv_b bound as bf16 by dsc-bf16-linear-weights, or an FP8
  /// kv_b dequantized to bf16 by absorptionWeights).
  static Value onLibrary(Value product, Value w) {
    if (cast<ShapedType>(w.getType()).getElementType().isBF16())
      product.getDefiningOp()->setAttr(kLibraryBatchedGemmAttr,
                                       UnitAttr::get(product.getContext()));
    return product;
  }

  /// The absorbed attention of `op` with its attention step as
  /// dsc.paged_mla_decode, the operands in the kernel library's layout.
  /// The R = B * S new tokens are the op's rows:
  ///   queries [R, H, C + dr] = (bf16(q_nope) . W_UK, q_pe), rounded to
  ///   bf16;
  ///   entries [R, C + dr] = (latent, k_pe), rounded to bf16 as the cache
  ///   stores them;
  ///   block_table [R, max_pages] (i32): the row's sequence's, each page
  ///   clamped into the cache (as this lowering's other form clamps);
  ///   lengths [R] (i32): past[b] + s + 1, or 0 when the table has no page
  ///   for the token's own position (the runtime's padding rows, page -1);
  /// then W_UV times the result (bf16, as the library's combine writes it).
  /// Both per-head products run on the library's batched GEMM
  /// (onLibrary). `op` must be one the library runs (libraryRuns).
  static Value libraryAttention(MlaDecodeOp op, TensorMath &m) {
    OpBuilder &b = m.builder();
    Location loc = m.getLoc();
    int64_t c = op.getLatent().getType().getDimSize(2);
    int64_t heads = op.getQNope().getType().getDimSize(2),
            dv = op.getType().getDimSize(3);
    int64_t pageSize = op.getCache().getType().getDimSize(1);
    Type bf16 = b.getBF16Type(), i32 = b.getI32Type();
    auto [wUK, wUV] = absorptionWeights(m, op, /*bf16=*/true);
    Value qLat = onLibrary(
        m.absorbQueries(productInput(m, op.getQNope(), wUK), wUK), wUK);

    auto rowsOf = [&](Value v, unsigned rank) {
      SmallVector<ReassociationIndices> groups = {{0, 1}};
      for (unsigned i = 2; i < rank; ++i)
        groups.push_back({i});
      return tensor::CollapseShapeOp::create(b, loc, v, groups).getResult();
    };
    Value queries = rowsOf(joinedBf16(m, qLat, op.getQPe()), 4);
    Value entries = rowsOf(joinedBf16(m, op.getLatent(), op.getKPe()), 3);

    Value table = op.getBlockTable(), past = op.getPast();
    Value batch = tensor::DimOp::create(b, loc, op.getLatent(), 0);
    Value newTokens = tensor::DimOp::create(b, loc, op.getLatent(), 1);
    Value rows = arith::MulIOp::create(b, loc, batch, newTokens);
    Value tablePages = tensor::DimOp::create(b, loc, table, 1);
    Value pages = tensor::DimOp::create(b, loc, op.getCache(), 0);
    // Page `slot` of row r's sequence (r / S), and whether it is a page of
    // the cache.
    auto pageOf = [&](OpBuilder &nb, Location l, Value r, Value slot) {
      TensorMath s(nb, l);
      Value seq = arith::DivUIOp::create(nb, l, r, newTokens);
      Value inTable = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult,
                                            slot, tablePages);
      Value clampedSlot = arith::MinUIOp::create(
          nb, l, slot, arith::SubIOp::create(nb, l, tablePages, s.index(1)));
      Value page = arith::IndexCastOp::create(
          nb, l, nb.getIndexType(),
          tensor::ExtractOp::create(nb, l, table,
                                    ValueRange{seq, clampedSlot}));
      Value last = arith::SubIOp::create(nb, l, pages, s.index(1));
      Value valid = arith::AndIOp::create(
          nb, l, inTable,
          arith::AndIOp::create(
              nb, l,
              arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sge, page,
                                    s.index(0)),
              arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sle, page,
                                    last)));
      Value clamped = arith::MinSIOp::create(
          nb, l, arith::MaxSIOp::create(nb, l, page, s.index(0)), last);
      return std::make_pair(clamped, valid);
    };
    Value rowTable = m.generic(
        {}, m.empty({rows, tablePages}, i32), 2, {{0, 1}}, {},
        [&](OpBuilder &nb, Location l, ValueRange) {
          Value r = linalg::IndexOp::create(nb, l, 0);
          Value slot = linalg::IndexOp::create(nb, l, 1);
          Value page = pageOf(nb, l, r, slot).first;
          linalg::YieldOp::create(
              nb, l, arith::IndexCastOp::create(nb, l, i32, page).getResult());
        })[0];
    Value lengths = m.generic(
        {}, m.empty({rows}, i32), 1, {{0}}, {},
        [&](OpBuilder &nb, Location l, ValueRange) {
          TensorMath s(nb, l);
          Value r = linalg::IndexOp::create(nb, l, 0);
          Value seq = arith::DivUIOp::create(nb, l, r, newTokens);
          Value token = arith::RemUIOp::create(nb, l, r, newTokens);
          Value seen = arith::IndexCastOp::create(
              nb, l, nb.getIndexType(),
              tensor::ExtractOp::create(nb, l, past, ValueRange{seq}));
          Value position = arith::AddIOp::create(nb, l, seen, token);
          Value slot =
              arith::DivUIOp::create(nb, l, position, s.index(pageSize));
          Value valid = pageOf(nb, l, r, slot).second;
          Value length = arith::AddIOp::create(nb, l, position, s.index(1));
          Value chosen =
              arith::SelectOp::create(nb, l, valid, length, s.index(0));
          linalg::YieldOp::create(
              nb, l,
              arith::IndexCastOp::create(nb, l, i32, chosen).getResult());
        })[0];
    Value init =
        m.empty({rows, b.getIndexAttr(heads), b.getIndexAttr(c)}, bf16);
    Value attended =
        PagedMlaDecodeOp::create(b, loc, TypeRange{init.getType()}, queries,
                                 entries, op.getCache(), rowTable, lengths,
                                 init, op.getScaleAttr())
            .getResult()[0];
    // W_UV times the result: [R, H, dv], then as [B, S, H, dv], its rows
    // read by index (an expand_shape of R into [B, S], both dynamic,
    // crashes MLIR 22's expand-strided-metadata).
    Value values = onLibrary(m.projectValues(attended, wUV), wUV);
    Type f32 = b.getF32Type();
    return m.generic(
        {},
        m.empty({batch, newTokens, b.getIndexAttr(heads), b.getIndexAttr(dv)},
                f32),
        4, {{0, 1, 2, 3}}, {}, [&](OpBuilder &nb, Location l, ValueRange) {
          Value seq = linalg::IndexOp::create(nb, l, 0);
          Value token = linalg::IndexOp::create(nb, l, 1);
          Value r = arith::AddIOp::create(
              nb, l, arith::MulIOp::create(nb, l, seq, newTokens), token);
          linalg::YieldOp::create(
              nb, l,
              tensor::ExtractOp::create(
                  nb, l, values,
                  ValueRange{r, linalg::IndexOp::create(nb, l, 2),
                             linalg::IndexOp::create(nb, l, 3)})
                  .getResult());
        })[0];
  }
};

//===----------------------------------------------------------------------===//
// moe
//===----------------------------------------------------------------------===//

/// Sparse dispatch on tensors. With N = tokens * top_k slots:
///   1. count the slots of each expert, and prefix-sum the counts into each
///      expert's first row in expert-sorted order;
///   2. place every slot at its expert's next free row, remembering its
///      token, routing weight and row;
///   3. gather the slots' input rows ([N, hidden], expert-sorted);
///   4. per expert, one GEMM over its contiguous rows computes gate and up
///      together, then SwiGLU, then per expert the down projection;
///   5. each token sums its top_k rows, scaled by the routing weights.
/// The sequential slot loops are O(N); the GEMMs are O(N * width * hidden),
/// independent of the expert count.
///
/// With `fixedShapes`, the routed experts are computed per slot instead
/// (gatheredExperts): no host loop and no size that depends on the routing.
///
/// With `bf16Inputs` and bf16 expert stacks, or e4m3 ones with block
/// scales (each weight bf16(w * scale)), the routed experts' GEMMs take
/// their inputs rounded to bf16, as tensor-core GEMMs do; with
/// `fixedShapes` too, each per-slot GEMM carries `kLibraryGroupedGemmAttr`
/// (an e4m3 stack's, its block size) and the SwiGLU between them
/// `kLibrarySwigluAttr`, for dsc-library-gemms.
struct LowerMoe : OpRewritePattern<MoeOp> {
  LowerMoe(MLIRContext *context, bool fixedShapes, bool bf16Inputs)
      : OpRewritePattern(context), fixedShapes(fixedShapes),
        bf16Inputs(bf16Inputs) {}
  bool fixedShapes, bf16Inputs;

  LogicalResult matchAndRewrite(MoeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    TensorMath m(rewriter, loc);
    // Tensor cores take bf16 stacks, and e4m3 ones with block scales (each
    // weight times its scale rounded to bf16, as a linear layer's
    // dequantized weight is).
    bool fp8 = !op.getExpertScales().empty();
    bool tensorCores = bf16Inputs;
    for (Value stack : {op.getGateProj(), op.getUpProj(), op.getDownProj()}) {
      Type type = getElementTypeOrSelf(stack);
      tensorCores =
          tensorCores && (fp8 ? isa<Float8E4M3FNType>(type) : type.isBF16());
    }
    Value combined = fixedShapes ? gatheredExperts(op, m, tensorCores)
                                 : sortedExperts(op, m, tensorCores);
    // The shared experts, which every token runs: dsc ops of their own,
    // lowered by their patterns in turn.
    if (!op.getShared().empty()) {
      Type f32 = rewriter.getF32Type();
      DenseI64ArrayAttr block = op.getSharedBlockSizeAttr();
      auto linear = [&](Value in, unsigned i) -> Value {
        auto w = cast<RankedTensorType>(op.getSharedMatrix(i).getType());
        auto type =
            RankedTensorType::get({ShapedType::kDynamic, w.getDimSize(0)}, f32);
        Value scales = op.getSharedScales(i);
        return LinearOp::create(rewriter, loc, type, in, op.getSharedMatrix(i),
                                scales, scales ? block : DenseI64ArrayAttr());
      };
      Value g = linear(op.getInput(), 0), u = linear(op.getInput(), 1);
      Value act = SwigluOp::create(rewriter, loc, g.getType(), g, u);
      combined = m.add(combined, linear(act, 2));
    }
    rewriter.replaceOp(op, castTo(m, combined, op.getType()));
    return success();
  }

  /// The routed experts per slot: slot (t, j) multiplies token t's row by
  /// the matrices of expert indices[t, j], read through the index (FP8
  /// stacks dequantized element by element; with `tensorCores`, each
  /// weight rounded to bf16), and token t sums its slots weighted. The FLOPs of
  /// sparse dispatch, summed in the same order (the same f32 results), with
  /// fixed shapes: [tokens, top_k, width] and [tokens, top_k, hidden]
  /// intermediates and no loop on the host. Each slot reads its expert's
  /// matrices itself, where dispatch reads them once per expert: the generated
  /// GPU kernels are simple anyway, and the kernel library's grouped GEMM is
  /// the fast path: with `tensorCores`, the inputs are rounded to bf16 and
  /// dsc-library-gemms replaces each marked per-slot GEMM with the library's
  /// dispatch and grouped GEMM.
  static Value gatheredExperts(MoeOp op, TensorMath &m, bool tensorCores) {
    OpBuilder &b = m.builder();
    Location loc = m.getLoc();
    Type f32 = b.getF32Type();
    auto gateType = op.getGateProj().getType();
    int64_t experts = gateType.getDimSize(0), width = gateType.getDimSize(1),
            hidden = gateType.getDimSize(2);
    int64_t topK = op.getWeights().getType().getDimSize(1);
    Value x = op.getInput(), indices = op.getIndices();
    Value tokens = tensor::DimOp::create(b, loc, x, 0);
    std::optional<ArrayRef<int64_t>> block = op.getExpertBlockSize();
    // Element [n, i] of the expert's matrix `which` in f32, the expert from
    // its routing index (clamped: a malformed index stays in the stack).
    auto expertElement = [&](OpBuilder &nb, Location l, unsigned which,
                             Value stacked, Value index, Value n,
                             Value i) -> Value {
      TensorMath s(nb, l);
      Value e = arith::IndexCastOp::create(nb, l, nb.getIndexType(), index);
      e = arith::MinSIOp::create(nb, l,
                                 arith::MaxSIOp::create(nb, l, e, s.index(0)),
                                 s.index(experts - 1));
      Value w = s.toF32(
          tensor::ExtractOp::create(nb, l, stacked, ValueRange{e, n, i}));
      Value scales = op.getExpertScales(which);
      if (!scales)
        return w;
      Value bn = arith::DivUIOp::create(nb, l, n, s.index((*block)[0]));
      Value bi = arith::DivUIOp::create(nb, l, i, s.index((*block)[1]));
      Value scale = s.toF32(
          tensor::ExtractOp::create(nb, l, scales, ValueRange{e, bn, bi}));
      Value dequantized = arith::MulFOp::create(nb, l, w, scale);
      return tensorCores ? s.toF32(s.fromF32(dequantized, nb.getBF16Type()))
                         : dequantized;
    };
    // out[t, j, n] = sum_i in(t, j)[i] * W_e[n, i], loops (t, j, n, i).
    // `perSlot`: the input is [tokens, top_k, cols] rather than the tokens.
    auto slotGemm = [&](Value in, bool perSlot, unsigned which, Value stacked,
                        int64_t rows) -> Value {
      SmallVector<OpFoldResult> size = {tokens, b.getIndexAttr(topK),
                                        b.getIndexAttr(rows)};
      SmallVector<unsigned> inMap = perSlot ? SmallVector<unsigned>{0, 1, 3}
                                            : SmallVector<unsigned>{0, 3};
      Value out = m.generic(
          {in, indices}, m.filled(size, f32, 0.0), 4,
          {inMap, {0, 1}, {0, 1, 2}}, {3},
          [&](OpBuilder &nb, Location l, ValueRange a) {
            Value n = linalg::IndexOp::create(nb, l, 2);
            Value i = linalg::IndexOp::create(nb, l, 3);
            Value w = expertElement(nb, l, which, stacked, a[1], n, i);
            Value product =
                arith::MulFOp::create(nb, l, TensorMath(nb, l).toF32(a[0]), w);
            linalg::YieldOp::create(
                nb, l, arith::AddFOp::create(nb, l, a[2], product).getResult());
          })[0];
      // An e4m3 stack's GEMM carries its block size.
      if (tensorCores)
        out.getDefiningOp()->setAttr(
            kLibraryGroupedGemmAttr,
            block ? Attribute(b.getDenseI64ArrayAttr(*block))
                  : b.getUnitAttr());
      return out;
    };
    Value in = tensorCores ? roundedToBf16(m, x) : x;
    Value gate = slotGemm(in, false, 0, op.getGateProj(), width);
    Value up = slotGemm(in, false, 1, op.getUpProj(), width);
    // With tensor cores, the down projection's bf16 input in one op, for
    // dsc-library-gemms to fuse with the gate and up GEMMs.
    Value act = tensorCores ? swigluToBf16(m, gate, up) : m.swiglu(gate, up);
    Value down = slotGemm(act, true, 2, op.getDownProj(), hidden);
    // y[t, d] = sum_j weights[t, j] * down[t, j, d], loops (t, d, j).
    // With tensor cores marked, for dsc-library-gemms to read the down
    // GEMM's rows where its kernel wrote them.
    SmallVector<OpFoldResult> tdSize = {tokens, b.getIndexAttr(hidden)};
    Value combined = m.generic(
        {op.getWeights(), down}, m.filled(tdSize, f32, 0.0), 3,
        {{0, 2}, {0, 2, 1}, {0, 1}}, {2},
        [](OpBuilder &nb, Location l, ValueRange a) {
          linalg::YieldOp::create(
              nb, l,
              arith::AddFOp::create(nb, l, a[2],
                                    arith::MulFOp::create(nb, l, a[0], a[1]))
                  .getResult());
        })[0];
    if (tensorCores)
      combined.getDefiningOp()->setAttr(kLibraryCombineAttr, b.getUnitAttr());
    return combined;
  }

  /// Sparse dispatch (the type's comment), the routed sum [tokens, hidden].
  /// With `tensorCores`, the GEMMs' inputs are rounded to bf16.
  static Value sortedExperts(MoeOp op, TensorMath &m, bool tensorCores) {
    OpBuilder &b = m.builder();
    Location loc = m.getLoc();
    Type f32 = b.getF32Type(), i64 = b.getI64Type();
    auto gateType = op.getGateProj().getType();
    int64_t experts = gateType.getDimSize(0), width = gateType.getDimSize(1),
            hidden = gateType.getDimSize(2);
    int64_t topK = op.getWeights().getType().getDimSize(1);
    Value x = op.getInput();
    if (tensorCores)
      x = roundedToBf16(m, x);
    Value tokens = tensor::DimOp::create(b, loc, x, 0);
    Value slots = arith::MulIOp::create(b, loc, tokens, m.index(topK));
    Value zero = m.index(0), one = m.index(1);
    auto toIndex = [](OpBuilder &nb, Location l, Value v) -> Value {
      return arith::IndexCastOp::create(nb, l, nb.getIndexType(), v);
    };
    auto toI64 = [](OpBuilder &nb, Location l, Value v) -> Value {
      return arith::IndexCastOp::create(nb, l, nb.getI64Type(), v);
    };
    // The expert of slot p (token p / top_k, choice p % top_k), clamped so
    // a malformed index can never address outside the expert tables.
    auto expertOf = [&](OpBuilder &nb, Location l, Value p) {
      TensorMath s(nb, l);
      Value t = arith::DivUIOp::create(nb, l, p, s.index(topK));
      Value j = arith::RemUIOp::create(nb, l, p, s.index(topK));
      Value e = toIndex(
          nb, l,
          tensor::ExtractOp::create(nb, l, op.getIndices(), ValueRange{t, j}));
      e = arith::MaxSIOp::create(nb, l, e, s.index(0));
      e = arith::MinSIOp::create(nb, l, e, s.index(experts - 1));
      return std::make_tuple(t, j, e);
    };

    // 1. Slots per expert, and each expert's first sorted row.
    SmallVector<OpFoldResult> eSize = {b.getIndexAttr(experts)};
    Value counts =
        scf::ForOp::create(
            b, loc, zero, slots, one, m.filled(eSize, i64, 0),
            [&](OpBuilder &nb, Location l, Value p, ValueRange iter) {
              Value e = std::get<2>(expertOf(nb, l, p));
              Value c = tensor::ExtractOp::create(nb, l, iter[0], e);
              Value next =
                  arith::AddIOp::create(nb, l, c, TensorMath(nb, l).i64(1));
              scf::YieldOp::create(
                  nb, l,
                  tensor::InsertOp::create(nb, l, next, iter[0], e)
                      .getResult());
            })
            .getResult(0);
    Value starts =
        scf::ForOp::create(
            b, loc, zero, m.index(experts - 1), one,
            ValueRange{m.filled(eSize, i64, 0)},
            [&](OpBuilder &nb, Location l, Value e, ValueRange iter) {
              Value next =
                  arith::AddIOp::create(nb, l, e, TensorMath(nb, l).index(1));
              Value sum = arith::AddIOp::create(
                  nb, l, tensor::ExtractOp::create(nb, l, iter[0], e),
                  tensor::ExtractOp::create(nb, l, counts, e));
              scf::YieldOp::create(
                  nb, l,
                  tensor::InsertOp::create(nb, l, sum, iter[0], next)
                      .getResult());
            })
            .getResult(0);

    // 2. Each slot's sorted row; the token and weight of each row.
    SmallVector<OpFoldResult> nSize = {slots};
    SmallVector<OpFoldResult> tkSize = {tokens, b.getIndexAttr(topK)};
    auto placed = scf::ForOp::create(
        b, loc, zero, slots, one,
        ValueRange{starts, m.empty(nSize, i64), m.empty(nSize, f32),
                   m.empty(tkSize, i64)},
        [&](OpBuilder &nb, Location l, Value p, ValueRange iter) {
          auto [t, j, e] = expertOf(nb, l, p);
          Value row = tensor::ExtractOp::create(nb, l, iter[0], e);
          Value rowIndex = toIndex(nb, l, row);
          Value nextFree = tensor::InsertOp::create(
              nb, l,
              arith::AddIOp::create(nb, l, row, TensorMath(nb, l).i64(1)),
              iter[0], e);
          Value weight = tensor::ExtractOp::create(nb, l, op.getWeights(),
                                                   ValueRange{t, j});
          Value rowToken = tensor::InsertOp::create(nb, l, toI64(nb, l, t),
                                                    iter[1], rowIndex);
          Value rowWeight =
              tensor::InsertOp::create(nb, l, weight, iter[2], rowIndex);
          Value slotRow =
              tensor::InsertOp::create(nb, l, row, iter[3], ValueRange{t, j});
          scf::YieldOp::create(
              nb, l, ValueRange{nextFree, rowToken, rowWeight, slotRow});
        });
    Value rowToken = placed.getResult(1), rowWeight = placed.getResult(2),
          slotRow = placed.getResult(3);

    // 3. Gather: xs[r, d] = x[rowToken[r], d].
    SmallVector<OpFoldResult> ndSize = {slots, b.getIndexAttr(hidden)};
    Value gathered = m.generic(
        rowToken, m.empty(ndSize, getElementTypeOrSelf(x)), 2, {{0}, {0, 1}},
        {}, [&](OpBuilder &nb, Location l, ValueRange a) {
          Value t = toIndex(nb, l, a[0]);
          Value d = linalg::IndexOp::create(nb, l, 1);
          linalg::YieldOp::create(
              nb, l,
              tensor::ExtractOp::create(nb, l, x, ValueRange{t, d})
                  .getResult());
        })[0];

    // 4. Grouped GEMMs over each expert's contiguous rows.
    auto expertRows = [&](OpBuilder &nb, Location l, Value e) {
      Value start = toIndex(nb, l, tensor::ExtractOp::create(nb, l, starts, e));
      Value count = toIndex(nb, l, tensor::ExtractOp::create(nb, l, counts, e));
      return std::make_pair(start, count);
    };
    auto rows = [&](OpBuilder &nb, Location l, Value src, Value start,
                    Value count, int64_t cols) -> Value {
      SmallVector<OpFoldResult> offsets = {start, nb.getIndexAttr(0)};
      SmallVector<OpFoldResult> sizes = {count, nb.getIndexAttr(cols)};
      SmallVector<OpFoldResult> strides(2, nb.getIndexAttr(1));
      return tensor::ExtractSliceOp::create(nb, l, src, offsets, sizes,
                                            strides);
    };
    auto putRows = [&](OpBuilder &nb, Location l, Value src, Value into,
                       Value start, Value count, int64_t cols) -> Value {
      SmallVector<OpFoldResult> offsets = {start, nb.getIndexAttr(0)};
      SmallVector<OpFoldResult> sizes = {count, nb.getIndexAttr(cols)};
      SmallVector<OpFoldResult> strides(2, nb.getIndexAttr(1));
      return tensor::InsertSliceOp::create(nb, l, src, into, offsets, sizes,
                                           strides);
    };
    auto expertMatrix = [&](OpBuilder &nb, Location l, Value stacked, Value e,
                            int64_t r, int64_t c) -> Value {
      SmallVector<OpFoldResult> offsets = {e, nb.getIndexAttr(0),
                                           nb.getIndexAttr(0)};
      SmallVector<OpFoldResult> sizes = {nb.getIndexAttr(1), nb.getIndexAttr(r),
                                         nb.getIndexAttr(c)};
      SmallVector<OpFoldResult> strides(3, nb.getIndexAttr(1));
      auto type = RankedTensorType::get(
          {r, c}, cast<RankedTensorType>(stacked.getType()).getElementType());
      return tensor::ExtractSliceOp::create(nb, l, type, stacked, offsets,
                                            sizes, strides);
    };
    // Expert e's matrix of a stack, dequantized when the stack is FP8: only
    // the experts that have rows pay for it.
    std::optional<ArrayRef<int64_t>> block = op.getExpertBlockSize();
    auto expertWeight = [&](OpBuilder &nb, Location l, unsigned which,
                            Value stacked, Value e, int64_t r,
                            int64_t c) -> Value {
      Value w = expertMatrix(nb, l, stacked, e, r, c);
      Value scales = op.getExpertScales(which);
      if (!scales)
        return w;
      int64_t bm = (*block)[0], bn = (*block)[1];
      Value expertScales =
          expertMatrix(nb, l, scales, e, (r + bm - 1) / bm, (c + bn - 1) / bn);
      TensorMath s(nb, l);
      return dequantize(s, w, expertScales, *block,
                        tensorCores ? nb.getBF16Type() : Type());
    };
    // Runs `body` for an expert with rows; one without keeps `iter`.
    auto ifAnyRows =
        [&](OpBuilder &nb, Location l, Value count, ValueRange iter,
            function_ref<SmallVector<Value>(OpBuilder &, Location)> body) {
          Value any = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ne,
                                            count, TensorMath(nb, l).index(0));
          auto guarded = scf::IfOp::create(
              nb, l, any,
              [&](OpBuilder &tb, Location tl) {
                scf::YieldOp::create(tb, tl, body(tb, tl));
              },
              [&](OpBuilder &eb, Location el) {
                scf::YieldOp::create(eb, el, iter);
              });
          scf::YieldOp::create(nb, l, guarded.getResults());
        };
    // rows(into)[r, n] += in[r, k] * w[n, k] over an expert's rows (loops
    // r, n, k), put back into `into`. One GEMM per projection: a single
    // accumulator per loop nest is what LLVM's vectorizer handles.
    auto expertGemm = [&](OpBuilder &nb, Location l, Value in, Value w,
                          Value into, Value start, Value count,
                          int64_t cols) -> Value {
      Value out = TensorMath(nb, l).generic(
          {in, w}, rows(nb, l, into, start, count, cols), 3,
          {{0, 2}, {1, 2}, {0, 1}}, {2},
          [](OpBuilder &bb, Location ll, ValueRange a) {
            TensorMath s(bb, ll);
            Value product =
                arith::MulFOp::create(bb, ll, s.toF32(a[0]), s.toF32(a[1]));
            linalg::YieldOp::create(
                bb, ll,
                arith::AddFOp::create(bb, ll, a[2], product).getResult());
          })[0];
      return putRows(nb, l, out, into, start, count, cols);
    };
    // Each expert's GEMMs accumulate into its own rows of the zero-filled
    // loop tensors (init = the slice they are put back into), so that
    // bufferization writes them in place: no per-expert buffer and copy.
    SmallVector<OpFoldResult> nwSize = {slots, b.getIndexAttr(width)};
    auto gateUp = scf::ForOp::create(
        b, loc, zero, m.index(experts), one,
        ValueRange{m.filled(nwSize, f32, 0.0), m.filled(nwSize, f32, 0.0)},
        [&](OpBuilder &nb, Location l, Value e, ValueRange iter) {
          auto [start, count] = expertRows(nb, l, e);
          ifAnyRows(nb, l, count, iter, [&](OpBuilder &tb, Location tl) {
            Value xe = rows(tb, tl, gathered, start, count, hidden);
            Value wg =
                expertWeight(tb, tl, 0, op.getGateProj(), e, width, hidden);
            Value wu =
                expertWeight(tb, tl, 1, op.getUpProj(), e, width, hidden);
            return SmallVector<Value>{
                expertGemm(tb, tl, xe, wg, iter[0], start, count, width),
                expertGemm(tb, tl, xe, wu, iter[1], start, count, width)};
          });
        });
    Value act = SwigluOp::create(b, loc, gateUp.getResult(0).getType(),
                                 gateUp.getResult(0), gateUp.getResult(1));
    if (tensorCores)
      act = roundedToBf16(m, act);
    Value down =
        scf::ForOp::create(
            b, loc, zero, m.index(experts), one,
            ValueRange{m.filled(ndSize, f32, 0.0)},
            [&](OpBuilder &nb, Location l, Value e, ValueRange iter) {
              auto [start, count] = expertRows(nb, l, e);
              ifAnyRows(nb, l, count, iter, [&](OpBuilder &tb, Location tl) {
                Value ae = rows(tb, tl, act, start, count, width);
                Value wd =
                    expertWeight(tb, tl, 2, op.getDownProj(), e, hidden, width);
                return SmallVector<Value>{
                    expertGemm(tb, tl, ae, wd, iter[0], start, count, hidden)};
              });
            })
            .getResult(0);

    // 5. Combine: y[t, d] = sum_j w(row) * down[row, d], row = slotRow[t, j].
    //    Loops (t, j, d): d innermost, so that each pick adds a contiguous
    //    row (a vector loop), not one gathered element per pick.
    SmallVector<OpFoldResult> tdSize = {tokens, b.getIndexAttr(hidden)};
    Value combined = m.generic(
        slotRow, m.filled(tdSize, f32, 0.0), 3, {{0, 1}, {0, 2}}, {1},
        [&](OpBuilder &nb, Location l, ValueRange a) {
          Value row = toIndex(nb, l, a[0]);
          Value d = linalg::IndexOp::create(nb, l, 2);
          Value w = tensor::ExtractOp::create(nb, l, rowWeight, row);
          Value v = tensor::ExtractOp::create(nb, l, down, ValueRange{row, d});
          linalg::YieldOp::create(
              nb, l,
              arith::AddFOp::create(nb, l, a[1],
                                    arith::MulFOp::create(nb, l, w, v))
                  .getResult());
        })[0];
    return combined;
  }
};

struct DscLowerToLinalgPass
    : mlir::dsc::impl::DscLowerToLinalgBase<DscLowerToLinalgPass> {
  using Base::Base;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    DscLowerToLinalgOptions options;
    options.plainAttention = plainAttention;
    options.fixedShapes = fixedShapes;
    options.bf16LinearInputs = bf16LinearInputs;
    options.libraryAttention = libraryAttention;
    options.libraryRouter = libraryRouter;
    options.libraryNorm = libraryNorm;
    options.keyRowLoops = keyRowLoops;
    populateDscToLinalgPatterns(patterns, options);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    // Every dsc op except the weights and the kernel library's ops must be
    // gone.
    WalkResult left = getOperation()->walk([](Operation *op) {
      if (isa<DscDialect>(op->getDialect()) && !isa<WeightOp>(op) &&
          !isLibraryOp(op)) {
        op->emitOpError("has no lowering to linalg");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace

void mlir::dsc::populateDscToLinalgPatterns(
    RewritePatternSet &patterns, const DscLowerToLinalgOptions &options) {
  MLIRContext *context = patterns.getContext();
  patterns.add<LowerRope, LowerTopk, LowerEmbed, LowerSwiglu>(context);
  patterns.add<LowerRmsNorm, LowerAddRmsNorm>(context, options.libraryNorm);
  patterns.add<LowerGate>(context, options.libraryRouter);
  patterns.add<LowerLinear>(context, options.bf16LinearInputs);
  patterns.add<LowerMlaDecode>(context, options.fixedShapes,
                               options.libraryAttention,
                               options.bf16LinearInputs, options.keyRowLoops);
  patterns.add<LowerMoe>(context, options.fixedShapes,
                         options.bf16LinearInputs);
  patterns.add<LowerMla>(
      context, options.plainAttention ? AttentionLayout() : kPrefillLayout,
      options.libraryAttention, options.bf16LinearInputs);
}

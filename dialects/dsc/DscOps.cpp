//===- DscOps.cpp - Operations of the dsc dialect -------------------------===//
//
// Verifiers check facts local to one op: ranks, the sizes that must agree,
// and attribute ranges. Dynamic sizes agree with anything.
//
//===----------------------------------------------------------------------===//

#include "dialects/dsc/DscOps.h"

#include "mlir/Dialect/Bufferization/IR/DstBufferizableOpInterfaceImpl.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <cmath>

using namespace mlir;
using namespace mlir::dsc;

#define GET_OP_CLASSES
#include "dialects/dsc/DscOps.cpp.inc"

/// Whether two sizes can be equal at run time.
static bool sizesAgree(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

/// Whether two shapes can be equal at run time.
static bool shapesAgree(ArrayRef<int64_t> a, ArrayRef<int64_t> b) {
  if (a.size() != b.size())
    return false;
  for (auto [x, y] : llvm::zip_equal(a, b))
    if (!sizesAgree(x, y))
      return false;
  return true;
}

static int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// Whether `block` is a block size: [rows, cols], both positive.
static bool isBlockSize(std::optional<ArrayRef<int64_t>> block) {
  return block && block->size() == 2 && (*block)[0] > 0 && (*block)[1] > 0;
}

/// How many of `tensors` hold FP8 (e4m3) values.
static unsigned countFp8(ArrayRef<Value> tensors) {
  return llvm::count_if(tensors, [](Value t) {
    return isa<Float8E4M3FNType>(
        cast<RankedTensorType>(t.getType()).getElementType());
  });
}

//===----------------------------------------------------------------------===//
// WeightOp
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  auto type = cast<RankedTensorType>(getType());
  if (!type.hasStaticShape())
    return emitOpError("weight '") << getName() << "' must have a static shape";
  if (getName().empty())
    return emitOpError("weight name must not be empty");
  bool hasPlaceholder = getName().contains("{}");
  if (std::optional<int64_t> stack = getStack()) {
    if (*stack <= 0)
      return emitOpError("stack count must be positive, got ") << *stack;
    if (!hasPlaceholder)
      return emitOpError("stacked weight name must contain '{}'");
    if (type.getRank() < 1 || type.getDimSize(0) != *stack)
      return emitOpError("stacked weight must have a leading dimension of ")
             << *stack;
  } else if (hasPlaceholder) {
    return emitOpError("weight name contains '{}' but has no stack count");
  }
  return success();
}

//===----------------------------------------------------------------------===//
// EmbedOp
//===----------------------------------------------------------------------===//

LogicalResult EmbedOp::verify() {
  auto table = getTable().getType();
  auto ids = getIds().getType();
  auto result = getResult().getType();
  if (table.getRank() != 2)
    return emitOpError("table must be rank 2 [vocab, hidden], got rank ")
           << table.getRank();
  if (!table.hasStaticShape())
    return emitOpError("table must have a static shape");
  SmallVector<int64_t> expected(ids.getShape());
  expected.push_back(table.getDimSize(1));
  if (!shapesAgree(result.getShape(), expected))
    return emitOpError("result shape must be the ids shape followed by the "
                       "hidden size ")
           << table.getDimSize(1);
  // A bf16 table may be read as f32 (widened exactly: a BF16 checkpoint's
  // table as it is stored).
  if (result.getElementType() != table.getElementType() &&
      !(table.getElementType().isBF16() && result.getElementType().isF32()))
    return emitOpError("result element type must match the table's (or be "
                       "f32 for a bf16 table)");
  return success();
}

//===----------------------------------------------------------------------===//
// RmsNormOp
//===----------------------------------------------------------------------===//

LogicalResult RmsNormOp::verify() {
  auto input = getInput().getType();
  auto weight = getWeight().getType();
  if (input.getRank() < 1)
    return emitOpError("input must have rank >= 1");
  if (weight.getRank() != 1 ||
      !sizesAgree(weight.getDimSize(0), input.getShape().back()))
    return emitOpError("weight must be a vector of the input's last "
                       "dimension size ")
           << input.getShape().back();
  if (getResult().getType() != input)
    return emitOpError("result type must equal the input type");
  if (!(getEpsilon().convertToDouble() > 0.0))
    return emitOpError("epsilon must be positive");
  return success();
}

//===----------------------------------------------------------------------===//
// AddRmsNormOp
//===----------------------------------------------------------------------===//

LogicalResult AddRmsNormOp::verify() {
  auto input = getInput().getType();
  auto weight = getWeight().getType();
  if (getResidual().getType() != input || getSum().getType() != input ||
      getNormed().getType() != input)
    return emitOpError("input, residual and both results must have one type");
  if (input.getRank() < 1 || weight.getRank() != 1 ||
      !sizesAgree(weight.getDimSize(0), input.getShape().back()))
    return emitOpError("weight must be a vector of the input's last "
                       "dimension size ")
           << input.getShape().back();
  if (!(getEpsilon().convertToDouble() > 0.0))
    return emitOpError("epsilon must be positive");
  return success();
}

//===----------------------------------------------------------------------===//
// RopeOp
//===----------------------------------------------------------------------===//

LogicalResult RopeOp::verify() {
  auto input = getInput().getType();
  auto positions = getPositions().getType();
  if (input.getRank() < positions.getRank() + 1)
    return emitOpError("input rank must exceed the positions rank");
  for (auto [p, x] :
       llvm::zip(positions.getShape(),
                 input.getShape().take_front(positions.getRank())))
    if (p != 1 && !sizesAgree(p, x))
      return emitOpError("each positions dimension must be 1 or match the "
                         "input's leading dimension");
  int64_t dim = input.getShape().back();
  if (ShapedType::isDynamic(dim) || dim % 2 != 0)
    return emitOpError("rotated dimension must be static and even, got ")
           << (ShapedType::isDynamic(dim) ? std::string("?")
                                          : std::to_string(dim));
  if (getResult().getType() != input)
    return emitOpError("result type must equal the input type");
  if (static_cast<bool>(getTheta()) == static_cast<bool>(getFrequencies()))
    return emitOpError("needs exactly one of theta and frequencies");
  if (getFrequencies()) {
    if (getYarn())
      return emitOpError("yarn rescales theta's frequencies; a frequencies "
                         "table already has it applied");
    auto table = getFrequencies().getType();
    if (table.getRank() != 1 || table.getDimSize(0) != dim / 2)
      return emitOpError("frequencies must be [")
             << dim / 2 << "] (half the rotated dimension), got " << table;
  } else if (!(getTheta()->convertToDouble() > 1.0)) {
    return emitOpError("theta must be greater than 1");
  }
  return success();
}

SmallVector<float> RopeOp::inverseFrequencies(int64_t dim, double theta,
                                              YarnAttr yarn) {
  SmallVector<float> freqs;
  for (int64_t i = 0; i < dim / 2; ++i)
    freqs.push_back(static_cast<float>(
        std::pow(theta, -2.0 * i / static_cast<double>(dim))));
  if (!yarn)
    return freqs;
  double factor = yarn.getFactor().convertToDouble();
  double orig = static_cast<double>(yarn.getOriginalMaxPosition());
  auto correctionDim = [&](double rotations) {
    return dim * std::log(orig / (rotations * 2.0 * llvm::numbers::pi)) /
           (2.0 * std::log(theta));
  };
  double low = std::floor(correctionDim(yarn.getBetaFast().convertToDouble()));
  double high = std::ceil(correctionDim(yarn.getBetaSlow().convertToDouble()));
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dim - 1));
  if (low == high)
    high += 0.001;
  for (int64_t i = 0; i < dim / 2; ++i) {
    double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
    double smooth = 1.0 - ramp;
    double f = freqs[i];
    freqs[i] = static_cast<float>(f / factor * (1.0 - smooth) + f * smooth);
  }
  return freqs;
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::verify() {
  auto input = getInput().getType();
  auto weight = getWeight().getType();
  auto result = getResult().getType();
  if (weight.getRank() != 2)
    return emitOpError("weight must be rank 2 [out, in], got rank ")
           << weight.getRank();
  if (input.getRank() < 1 ||
      !sizesAgree(input.getShape().back(), weight.getDimSize(1)))
    return emitOpError("input's last dimension must equal the weight's in "
                       "dimension ")
           << weight.getDimSize(1);
  SmallVector<int64_t> expected(input.getShape().drop_back());
  expected.push_back(weight.getDimSize(0));
  if (!shapesAgree(result.getShape(), expected))
    return emitOpError("result shape must be the input's leading dimensions "
                       "followed by the weight's out dimension ")
           << weight.getDimSize(0);
  if (result.getElementType() != input.getElementType())
    return emitOpError("result element type must match the input's");

  bool isFp8 = isa<Float8E4M3FNType>(weight.getElementType());
  if (!getScales()) {
    if (isFp8)
      return emitOpError("f8E4M3FN weight requires block scales");
    if (getBlockSize())
      return emitOpError("block_size given without scales");
    return success();
  }
  std::optional<ArrayRef<int64_t>> block = getBlockSize();
  if (!isBlockSize(block))
    return emitOpError("scales require block_size = array<i64: rows, cols> "
                       "with positive entries");
  auto scales = getScales().getType();
  if (!weight.hasStaticShape())
    return emitOpError("a block-scaled weight must have a static shape");
  SmallVector<int64_t> scaleShape = {
      ceilDiv(weight.getDimSize(0), (*block)[0]),
      ceilDiv(weight.getDimSize(1), (*block)[1])};
  if (!shapesAgree(scales.getShape(), scaleShape))
    return emitOpError("scales must have shape [")
           << scaleShape[0] << ", " << scaleShape[1]
           << "] for the weight and block size";
  return success();
}

//===----------------------------------------------------------------------===//
// GateOp
//===----------------------------------------------------------------------===//

LogicalResult TopkOp::verify() {
  auto input = getInput().getType();
  if (input.getRank() < 1)
    return emitOpError("input must have rank >= 1");
  int64_t k = getK(), width = input.getShape().back();
  if (k < 1 || (!ShapedType::isDynamic(width) && k > width))
    return emitOpError("k must be in [1, ")
           << (ShapedType::isDynamic(width) ? std::string("row width")
                                            : std::to_string(width))
           << "], got " << k;
  SmallVector<int64_t> expected(input.getShape());
  expected.back() = k;
  for (auto result : {getValues().getType(), getIndices().getType()})
    if (!shapesAgree(result.getShape(), expected))
      return emitOpError("results must be the input shape with k as the last "
                         "dimension");
  if (getValues().getType().getElementType() != input.getElementType())
    return emitOpError("values must have the input's element type");
  return success();
}

LogicalResult GateOp::verify() {
  auto input = getInput().getType();
  auto weight = getWeight().getType();
  if (input.getRank() != 2)
    return emitOpError("input must be rank 2 [tokens, hidden]");
  if (weight.getRank() != 2 || !weight.hasStaticShape())
    return emitOpError("weight must be a static [experts, hidden] matrix");
  if (!sizesAgree(input.getDimSize(1), weight.getDimSize(1)))
    return emitOpError("input hidden size must equal the weight's ")
           << weight.getDimSize(1);
  int64_t experts = weight.getDimSize(0);
  if (Value bias = getBias()) {
    auto biasType = cast<RankedTensorType>(bias.getType());
    if (biasType.getRank() != 1 || biasType.getDimSize(0) != experts)
      return emitOpError("bias must be a vector of ") << experts << " experts";
  }
  int64_t topK = getTopK(), groups = getNGroup(), keep = getTopkGroup();
  if (groups <= 0 || experts % groups != 0)
    return emitOpError("n_group ")
           << groups << " must be positive and divide the expert count "
           << experts;
  if (keep <= 0 || keep > groups)
    return emitOpError("topk_group ")
           << keep << " must be in [1, " << groups << "]";
  if (getTopkMethod() == TopkMethod::Greedy && keep != groups && groups != 1)
    return emitOpError("greedy routing does not limit groups; expected "
                       "topk_group == n_group");
  int64_t reachable =
      getTopkMethod() == TopkMethod::Greedy ? experts : keep * experts / groups;
  if (topK <= 0 || topK > reachable)
    return emitOpError("top_k ") << topK << " must be in [1, " << reachable
                                 << "] (the experts in the kept groups)";
  if (getTopkMethod() == TopkMethod::NoauxTc && experts / groups < 2)
    return emitOpError("noaux_tc scores groups by their top-2 experts; "
                       "groups need at least 2 experts");
  if (!(getRoutedScalingFactor().convertToDouble() > 0.0))
    return emitOpError("routed_scaling_factor must be positive");
  SmallVector<int64_t> shape = {input.getDimSize(0), topK};
  if (!shapesAgree(getWeights().getType().getShape(), shape) ||
      !shapesAgree(getIndices().getType().getShape(), shape))
    return emitOpError("results must have shape [tokens, ") << topK << "]";
  return success();
}

//===----------------------------------------------------------------------===//
// MoeOp
//===----------------------------------------------------------------------===//

LogicalResult MoeOp::verify() {
  auto input = getInput().getType();
  auto gate = getGateProj().getType();
  auto up = getUpProj().getType();
  auto down = getDownProj().getType();
  if (input.getRank() != 2)
    return emitOpError("input must be rank 2 [tokens, hidden]");
  if (gate.getRank() != 3 || !gate.hasStaticShape() || up != gate)
    return emitOpError("gate_proj and up_proj must be equal static "
                       "[experts, width, hidden] tensors");
  int64_t experts = gate.getDimSize(0), width = gate.getDimSize(1),
          hidden = gate.getDimSize(2);
  if (down.getRank() != 3 ||
      down.getShape() != ArrayRef<int64_t>{experts, hidden, width})
    return emitOpError("down_proj must have shape [")
           << experts << ", " << hidden << ", " << width << "]";
  if (!sizesAgree(input.getDimSize(1), hidden))
    return emitOpError("input hidden size must be ") << hidden;
  auto weights = getWeights().getType();
  auto indices = getIndices().getType();
  if (weights.getRank() != 2 ||
      !shapesAgree(weights.getShape(), indices.getShape()))
    return emitOpError("weights and indices must both be [tokens, top_k]");
  if (!sizesAgree(weights.getDimSize(0), input.getDimSize(0)))
    return emitOpError("weights must have one row per input token");
  if (!shapesAgree(getType().getShape(), input.getShape()))
    return emitOpError("result shape must equal the input shape");
  if (failed(verifyExpertScales()))
    return failure();
  return verifySharedExperts(hidden);
}

LogicalResult MoeOp::verifyExpertScales() {
  size_t count = getExpertScales().size();
  unsigned fp8 = countFp8({getGateProj(), getUpProj(), getDownProj()});
  if (count != 0 && count != 3)
    return emitOpError("scales takes the gate, up and down block scales (3 "
                       "operands), not ")
           << count;
  if (fp8 != (count == 3 ? 3u : 0u))
    return emitOpError("FP8 experts (all three stacks) need their three "
                       "block scales, and only FP8 ones have scales");
  if (count == 0) {
    if (getExpertBlockSize())
      return emitOpError("expert_block_size without expert scales");
    return success();
  }
  std::optional<ArrayRef<int64_t>> block = getExpertBlockSize();
  if (!isBlockSize(block))
    return emitOpError("expert scales require expert_block_size = "
                       "array<i64: rows, cols> with positive entries");
  Value stacks[] = {getGateProj(), getUpProj(), getDownProj()};
  for (unsigned i = 0; i < 3; ++i) {
    auto stack = cast<RankedTensorType>(stacks[i].getType());
    auto scales = cast<RankedTensorType>(getExpertScales(i).getType());
    SmallVector<int64_t> want = {stack.getDimSize(0),
                                 ceilDiv(stack.getDimSize(1), (*block)[0]),
                                 ceilDiv(stack.getDimSize(2), (*block)[1])};
    if (!shapesAgree(scales.getShape(), want))
      return emitOpError("expert scales ")
             << i << " must be f32 [" << want[0] << ", " << want[1] << ", "
             << want[2] << "]";
  }
  return success();
}

LogicalResult MoeOp::verifySharedExperts(int64_t hidden) {
  size_t count = getShared().size();
  if (count == 0)
    return success();
  if (count != 3 && count != 6)
    return emitOpError("shared takes gate, up and down, then their scales "
                       "when FP8 (3 or 6 operands), not ")
           << count;
  auto gate = cast<RankedTensorType>(getSharedMatrix(0).getType());
  auto up = cast<RankedTensorType>(getSharedMatrix(1).getType());
  auto down = cast<RankedTensorType>(getSharedMatrix(2).getType());
  if (gate.getRank() != 2 || !gate.hasStaticShape() ||
      gate.getShape() != up.getShape() || gate.getDimSize(1) != hidden)
    return emitOpError("shared gate and up must be static [width, ")
           << hidden << "] matrices";
  int64_t width = gate.getDimSize(0);
  if (down.getShape() != ArrayRef<int64_t>{hidden, width})
    return emitOpError("shared down must have shape [")
           << hidden << ", " << width << "]";
  unsigned fp8 =
      countFp8({getSharedMatrix(0), getSharedMatrix(1), getSharedMatrix(2)});
  if (fp8 != (count == 6 ? 3u : 0u))
    return emitOpError("FP8 shared experts (all three matrices) need their "
                       "three block scales, and only FP8 ones have scales");
  if (count == 3)
    return success();
  std::optional<ArrayRef<int64_t>> block = getSharedBlockSize();
  if (!isBlockSize(block))
    return emitOpError("shared scales require shared_block_size = "
                       "array<i64: rows, cols> with positive entries");
  for (unsigned i = 0; i < 3; ++i) {
    auto matrix = cast<RankedTensorType>(getSharedMatrix(i).getType());
    auto scales = cast<RankedTensorType>(getSharedScales(i).getType());
    SmallVector<int64_t> want = {ceilDiv(matrix.getDimSize(0), (*block)[0]),
                                 ceilDiv(matrix.getDimSize(1), (*block)[1])};
    if (!scales.getElementType().isF32() ||
        !shapesAgree(scales.getShape(), want))
      return emitOpError("shared scales ")
             << i << " must be f32 [" << want[0] << ", " << want[1] << "]";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// MlaOp
//===----------------------------------------------------------------------===//

/// The checks `dsc.mla` and `dsc.mla_decode` share: the queries, the new
/// tokens' latent and rope key, kv_b and its scales, and the result.
template <typename Op> static LogicalResult verifyLatentAttention(Op op) {
  auto qNope = op.getQNope().getType(), qPe = op.getQPe().getType();
  auto latent = op.getLatent().getType(), kPe = op.getKPe().getType();
  auto kvb = op.getKvB().getType();
  if (qNope.getRank() != 4 || qPe.getRank() != 4)
    return op.emitOpError("queries must be rank 4 [batch, seq, heads, width]");
  if (latent.getRank() != 3 || kPe.getRank() != 3)
    return op.emitOpError("latent and k_pe must be rank 3 [batch, seq, width]");
  if (kvb.getRank() != 2 || !kvb.hasStaticShape())
    return op.emitOpError("kv_b must be a static [heads * (dn + dv), latent] "
                          "matrix");
  int64_t heads = qNope.getDimSize(2), dn = qNope.getDimSize(3),
          dr = qPe.getDimSize(3), c = latent.getDimSize(2);
  if (ShapedType::isDynamic(heads) || ShapedType::isDynamic(dn) ||
      ShapedType::isDynamic(dr) || ShapedType::isDynamic(c))
    return op.emitOpError("heads and widths must be static");
  if (!shapesAgree(qPe.getShape().take_front(3),
                   qNope.getShape().take_front(3)))
    return op.emitOpError("q_pe must have the batch, seq and heads of q_nope");
  if (!sizesAgree(kPe.getDimSize(2), dr))
    return op.emitOpError("k_pe width must be the rope width ") << dr;
  if (!shapesAgree(kPe.getShape().take_front(2),
                   latent.getShape().take_front(2)) ||
      !shapesAgree(latent.getShape().take_front(2),
                   qNope.getShape().take_front(2)))
    return op.emitOpError("queries, latent and k_pe must share batch and seq");
  int64_t dv = op.getType().getRank() == 4 ? op.getType().getDimSize(3) : -1;
  if (op.getType().getRank() != 4 ||
      !shapesAgree(op.getType().getShape().take_front(3),
                   qNope.getShape().take_front(3)) ||
      ShapedType::isDynamic(dv))
    return op.emitOpError(
        "result must be [batch, seq, heads, dv] with a static "
        "dv");
  if (kvb.getDimSize(1) != c || kvb.getDimSize(0) != heads * (dn + dv))
    return op.emitOpError("kv_b must have shape [")
           << heads * (dn + dv) << ", " << c
           << "] (heads * (dn + dv), latent width)";
  if (!(op.getScale().convertToDouble() > 0.0))
    return op.emitOpError("scale must be positive");
  bool isFp8 = isa<Float8E4M3FNType>(kvb.getElementType());
  if (!op.getScales()) {
    if (isFp8)
      return op.emitOpError("f8E4M3FN kv_b requires block scales");
    return success();
  }
  std::optional<ArrayRef<int64_t>> block = op.getBlockSize();
  if (!isBlockSize(block))
    return op.emitOpError("scales require block_size = array<i64: rows, cols> "
                          "with positive entries");
  SmallVector<int64_t> scaleShape = {ceilDiv(kvb.getDimSize(0), (*block)[0]),
                                     ceilDiv(kvb.getDimSize(1), (*block)[1])};
  if (!shapesAgree(op.getScales().getType().getShape(), scaleShape))
    return op.emitOpError("scales must have shape [")
           << scaleShape[0] << ", " << scaleShape[1] << "]";
  return success();
}

LogicalResult MlaOp::verify() {
  if (failed(verifyLatentAttention(*this)))
    return failure();
  if (Value mask = getMask()) {
    auto type = cast<RankedTensorType>(mask.getType());
    auto q = getQNope().getType();
    if (type.getRank() != 4 || type.getDimSize(1) != 1 ||
        !sizesAgree(type.getDimSize(0), q.getDimSize(0)) ||
        !sizesAgree(type.getDimSize(2), q.getDimSize(1)) ||
        !sizesAgree(type.getDimSize(3), q.getDimSize(1)))
      return emitOpError("mask must be [batch, 1, seq, seq]");
  }
  return success();
}

//===----------------------------------------------------------------------===//
// MlaDecodeOp
//===----------------------------------------------------------------------===//

LogicalResult MlaDecodeOp::verify() {
  if (failed(verifyLatentAttention(*this)))
    return failure();
  auto cache = getCache().getType(), table = getBlockTable().getType(),
       past = getPast().getType();
  int64_t width =
      getLatent().getType().getDimSize(2) + getKPe().getType().getDimSize(2);
  if (cache.getRank() != 3 || ShapedType::isDynamic(cache.getDimSize(1)) ||
      cache.getDimSize(1) < 1 || cache.getDimSize(2) != width)
    return emitOpError("cache must be [pages, page_size, ")
           << width << "] (latent + rope width) with a static page size";
  if (table.getRank() != 2 || past.getRank() != 1)
    return emitOpError("block_table must be [batch, max_pages] and past "
                       "[batch]");
  int64_t batch = getQNope().getType().getDimSize(0);
  if (!sizesAgree(table.getDimSize(0), batch) ||
      !sizesAgree(past.getDimSize(0), batch))
    return emitOpError("block_table and past must have one row per "
                       "sequence of the batch");
  return success();
}

//===----------------------------------------------------------------------===//
// PagedMlaDecodeOp
//===----------------------------------------------------------------------===//

/// The form every kernel library op takes (dsc.paged_mla_decode,
/// dsc.causal_mla_prefill, dsc.noaux_tc_route, the norm rows ops): on ranked
/// tensors, with a result of each init's type, or on memrefs, with none.
static LogicalResult verifyLibraryOpForm(DestinationStyleOpInterface op) {
  bool onTensors = isa<RankedTensorType>(op.getDpsInits().front().getType());
  for (Value operand : op->getOperands())
    if (isa<RankedTensorType>(operand.getType()) != onTensors ||
        !cast<ShapedType>(operand.getType()).hasRank())
      return op->emitOpError(
          "operands must be all ranked tensors or all memrefs");
  if (onTensors ? op->getResultTypes() != op.getDpsInits().getTypes()
                : op->getNumResults() != 0)
    return op->emitOpError("on tensors the results are the inits' types; on "
                           "buffers there are none");
  return success();
}

LogicalResult PagedMlaDecodeOp::verify() {
  auto type = [](Value v) { return cast<ShapedType>(v.getType()); };
  ShapedType queries = type(getQueries()), entries = type(getEntries()),
             cache = type(getCache()), table = type(getBlockTable()),
             lengths = type(getLengths()), init = type(getInit());
  if (failed(verifyLibraryOpForm(*this)))
    return failure();
  if (queries.getRank() != 3 || entries.getRank() != 2 ||
      cache.getRank() != 3 || table.getRank() != 2 || lengths.getRank() != 1 ||
      init.getRank() != 3)
    return emitOpError("expects queries [R, H, D], entries [R, D], cache "
                       "[pages, page_size, D], block_table [R, max_pages], "
                       "lengths [R] and init [R, H, C]");
  for (ShapedType t : {queries, entries, cache, init})
    if (!t.getElementType().isBF16())
      return emitOpError("queries, entries, cache and init must be bf16");
  for (ShapedType t : {table, lengths})
    if (!t.getElementType().isInteger(32))
      return emitOpError("block_table and lengths must be i32");
  int64_t width = queries.getDimSize(2), rows = queries.getDimSize(0);
  if (ShapedType::isDynamic(width) || ShapedType::isDynamic(init.getDimSize(2)))
    return emitOpError("the key width D and value width C must be static");
  if (!sizesAgree(entries.getDimSize(1), width) ||
      !sizesAgree(cache.getDimSize(2), width))
    return emitOpError("entries and cache rows must be D = ")
           << width << " wide, as the queries";
  if (init.getDimSize(2) >= width)
    return emitOpError("the value width C must be below the key width D");
  if (ShapedType::isDynamic(cache.getDimSize(1)))
    return emitOpError("the cache's page size must be static");
  for (int64_t n : {entries.getDimSize(0), table.getDimSize(0),
                    lengths.getDimSize(0), init.getDimSize(0)})
    if (!sizesAgree(n, rows))
      return emitOpError("entries, block_table, lengths and init must have "
                         "the queries' R rows");
  if (!sizesAgree(init.getDimSize(1), queries.getDimSize(1)))
    return emitOpError("init must have the queries' heads");
  if (!(getScale().convertToDouble() > 0))
    return emitOpError("scale must be positive");
  return success();
}

// The kernel library's ops (dsc.paged_mla_decode, dsc.causal_mla_prefill,
// dsc.noaux_tc_route, dsc.rms_norm_rows, dsc.add_rms_norm_rows) bufferize
// alike: every operand but the inits is read,
// each init is written whole (never read) and is its result's buffer.

/// On buffers, `op` reads its inputs and writes its inits; on tensors it is
/// pure.
template <typename Op>
static void libraryOpEffects(
    Op op, SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
               &effects) {
  if (!op.hasPureBufferSemantics())
    return;
  for (OpOperand *input : op.getDpsInputOperands())
    effects.emplace_back(MemoryEffects::Read::get(), input,
                         SideEffects::DefaultResource::get());
  for (OpOperand &init : op.getDpsInitsMutable())
    effects.emplace_back(MemoryEffects::Write::get(), &init,
                         SideEffects::DefaultResource::get());
}

namespace {
/// The library ops' bufferization (an external model, attached by
/// attachLibraryOpModels): the destination-style one, but an init is not
/// read.
template <typename Op>
struct LibraryOpBufferization
    : bufferization::DstBufferizableOpInterfaceExternalModel<
          LibraryOpBufferization<Op>, Op> {
  bool bufferizesToMemoryRead(Operation *op, OpOperand &operand,
                              const bufferization::AnalysisState &) const {
    return !cast<DestinationStyleOpInterface>(op).isDpsInit(&operand);
  }

  /// The op on its operands' buffers, writing its inits'.
  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const bufferization::BufferizationOptions &options,
                          bufferization::BufferizationState &state) const {
    auto libraryOp = cast<Op>(op);
    SmallVector<Value> buffers;
    for (Value operand : op->getOperands()) {
      FailureOr<Value> buffer =
          bufferization::getBuffer(rewriter, operand, options, state);
      if (failed(buffer))
        return failure();
      buffers.push_back(*buffer);
    }
    SmallVector<Value> results;
    for (OpOperand &init : libraryOp.getDpsInitsMutable())
      results.push_back(buffers[init.getOperandNumber()]);
    rewriter.setInsertionPoint(op);
    Op::create(rewriter, op->getLoc(), TypeRange{}, buffers, op->getAttrs());
    bufferization::replaceOpWithBufferizedValues(rewriter, op, results);
    return success();
  }
};
} // namespace

namespace {
/// The kernel library's ops: one list for their shared bufferization and
/// for isLibraryOp.
template <typename... Ops> struct LibraryOpList {
  static void attachModels(MLIRContext &context) {
    (Ops::template attachInterface<LibraryOpBufferization<Ops>>(context), ...);
  }
  static bool contains(Operation *op) { return isa<Ops...>(op); }
};
using LibraryOps =
    LibraryOpList<PagedMlaDecodeOp, CausalMlaPrefillOp, NoauxTcRouteOp,
                  RmsNormRowsOp, AddRmsNormRowsOp>;
} // namespace

void mlir::dsc::attachLibraryOpModels(MLIRContext &context) {
  LibraryOps::attachModels(context);
}

bool mlir::dsc::isLibraryOp(Operation *op) { return LibraryOps::contains(op); }

void PagedMlaDecodeOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  libraryOpEffects(*this, effects);
  // Its lowering may write the rows' entries into the cache.
  if (hasPureBufferSemantics())
    effects.emplace_back(MemoryEffects::Write::get(), &getCacheMutable(),
                         SideEffects::DefaultResource::get());
}

//===----------------------------------------------------------------------===//
// CausalMlaPrefillOp
//===----------------------------------------------------------------------===//

LogicalResult CausalMlaPrefillOp::verify() {
  auto type = [](Value v) { return cast<ShapedType>(v.getType()); };
  ShapedType queries = type(getQueries()), kv = type(getKv()),
             ropeKeys = type(getRopeKeys()), init = type(getInit());
  if (failed(verifyLibraryOpForm(*this)))
    return failure();
  if (queries.getRank() != 4 || kv.getRank() != 4 || ropeKeys.getRank() != 3 ||
      init.getRank() != 4)
    return emitOpError("expects queries [B, S, H, dn + dr], kv [B, S, H, "
                       "dn + dv], rope_keys [B, S, dr] and init [B, S, H, dv]");
  for (ShapedType t : {queries, kv, ropeKeys, init})
    if (!t.getElementType().isBF16())
      return emitOpError("queries, kv, rope_keys and init must be bf16");
  int64_t dqk = queries.getDimSize(3), dr = ropeKeys.getDimSize(2),
          dv = init.getDimSize(3), dkv = kv.getDimSize(3);
  if (llvm::any_of(ArrayRef<int64_t>{dqk, dr, dv, dkv}, ShapedType::isDynamic))
    return emitOpError("the head widths must be static");
  if (queries.getDimSize(2) == 0)
    return emitOpError("needs at least one head");
  if (!(getScale().convertToDouble() > 0))
    return emitOpError("scale must be positive");
  if (dr >= dqk || dv <= 0 || dkv != dqk - dr + dv)
    return emitOpError("kv rows must be dn + dv = ")
           << dqk - dr << " + " << dv << " wide (dn from queries of " << dqk
           << " less rope keys of " << dr << "), not " << dkv;
  for (unsigned d = 0; d < 3; ++d)
    if (!sizesAgree(kv.getDimSize(d), queries.getDimSize(d)) ||
        !sizesAgree(init.getDimSize(d), queries.getDimSize(d)) ||
        (d < 2 && !sizesAgree(ropeKeys.getDimSize(d), queries.getDimSize(d))))
      return emitOpError("queries, kv, rope_keys and init must agree on B, "
                         "S (and H)");
  return success();
}

void CausalMlaPrefillOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  libraryOpEffects(*this, effects);
}

//===----------------------------------------------------------------------===//
// NoauxTcRouteOp
//===----------------------------------------------------------------------===//

LogicalResult NoauxTcRouteOp::verify() {
  auto type = [](Value v) { return cast<ShapedType>(v.getType()); };
  ShapedType logits = type(getLogits()), bias = type(getBias()),
             ids = type(getIds()), weights = type(getWeights());
  if (failed(verifyLibraryOpForm(*this)))
    return failure();
  if (logits.getRank() != 2 || bias.getRank() != 1 || ids.getRank() != 2 ||
      weights.getRank() != 2)
    return emitOpError("expects logits [T, E], bias [E], ids [T, K] and "
                       "weights [T, K]");
  if (!logits.getElementType().isF32() || !bias.getElementType().isF32() ||
      !weights.getElementType().isF32() || !ids.getElementType().isInteger(32))
    return emitOpError("logits, bias and weights must be f32, ids i32");
  int64_t experts = logits.getDimSize(1), topK = ids.getDimSize(1);
  if (ShapedType::isDynamic(experts) || ShapedType::isDynamic(topK) ||
      topK != weights.getDimSize(1))
    return emitOpError("the experts E and top_k K must be static, K the same "
                       "for ids and weights");
  if (!sizesAgree(bias.getDimSize(0), experts))
    return emitOpError("bias must have the logits' ") << experts << " experts";
  for (int64_t n : {ids.getDimSize(0), weights.getDimSize(0)})
    if (!sizesAgree(n, logits.getDimSize(0)))
      return emitOpError("ids and weights must have the logits' T rows");
  int64_t groups = getNGroup(), keep = getTopkGroup();
  if (groups <= 0 || experts % groups || keep <= 0 || keep > groups)
    return emitOpError("n_group must divide the ")
           << experts << " experts and topk_group be 1 to n_group";
  // The kernel keeps pick j in lane j of a warp.
  int64_t most = std::min<int64_t>(32, keep * (experts / groups));
  if (topK <= 0 || topK > most)
    return emitOpError("top_k must be 1 to ")
           << most << " (the kept groups' experts, at most 32)";
  if (!(getRoutedScalingFactor().convertToDouble() > 0))
    return emitOpError("routed_scaling_factor must be positive");
  return success();
}

void NoauxTcRouteOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  libraryOpEffects(*this, effects);
}

//===----------------------------------------------------------------------===//
// RmsNormRowsOp and AddRmsNormRowsOp
//===----------------------------------------------------------------------===//

/// The RMSNorm ops' operands: `rows` and `normed` [..., D] of one shape,
/// the rows (and the weight [D]) f32 or bf16, `normed` of their type or,
/// for f32 rows, bf16 (rounded as it is stored); D static and a multiple
/// of 4, epsilon not negative.
static LogicalResult verifyNormRows(DestinationStyleOpInterface op,
                                    ValueRange rows, Value normed, Value weight,
                                    double epsilon) {
  if (failed(verifyLibraryOpForm(op)))
    return failure();
  auto type = [](Value v) { return cast<ShapedType>(v.getType()); };
  ShapedType first = type(rows.front()), w = type(weight);
  Type elt = first.getElementType();
  if (!elt.isF32() && !elt.isBF16())
    return op->emitOpError("operands must be f32 or bf16, not ") << elt;
  if (w.getRank() != 1 || w.getElementType() != elt)
    return op->emitOpError("weight must be [D] of the rows' element type");
  int64_t width = w.getDimSize(0);
  if (ShapedType::isDynamic(width) || width <= 0 || width % 4)
    return op->emitOpError("the row width D must be static and a multiple "
                           "of 4 (the kernel's vector width)");
  auto sameRows = [&](ShapedType t) {
    bool agree = t.getRank() == first.getRank() && t.getRank() >= 1 &&
                 sizesAgree(t.getShape().back(), width);
    for (int64_t d = 0; agree && d + 1 < t.getRank(); ++d)
      agree = sizesAgree(t.getDimSize(d), first.getDimSize(d));
    return agree;
  };
  for (Value row : rows)
    if (!sameRows(type(row)) || type(row).getElementType() != elt)
      return op->emitOpError("row operands must be [..., ")
             << width << "], of one shape and element type";
  Type normedElt = type(normed).getElementType();
  if (!sameRows(type(normed)) ||
      !(normedElt == elt || (elt.isF32() && normedElt.isBF16())))
    return op->emitOpError("the normed rows must be [..., ")
           << width << "] of the rows' shape, of their element type or bf16 "
           << "for f32 rows";
  if (!(epsilon >= 0))
    return op->emitOpError("epsilon must not be negative");
  return success();
}

LogicalResult RmsNormRowsOp::verify() {
  return verifyNormRows(*this, {getInput()}, getInit(), getWeight(),
                        getEpsilon().convertToDouble());
}

void RmsNormRowsOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  libraryOpEffects(*this, effects);
}

LogicalResult AddRmsNormRowsOp::verify() {
  return verifyNormRows(*this, {getInput(), getResidual(), getSum()},
                        getNormed(), getWeight(),
                        getEpsilon().convertToDouble());
}

void AddRmsNormRowsOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  libraryOpEffects(*this, effects);
}

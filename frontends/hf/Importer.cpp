//===- Importer.cpp - Hugging Face checkpoint importer --------------------===//

#include "frontends/hf/Importer.h"

#include "dialects/dsc/DscOps.h"
#include "dialects/dsc/TensorMath.h"
#include "runtime/support/Safetensors.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SetVector.h"

#include <cmath>
#include <filesystem>
#include <limits>

using namespace mlir;
using namespace mlir::dsc;

namespace dsc::hf {
namespace {

constexpr int64_t kDyn = ShapedType::kDynamic;

/// A weight a layer function takes as an argument; `@forward` binds it.
struct WeightSpec {
  std::string name;
  RankedTensorType type;
  std::optional<int64_t> stack;
};

/// Builds the canonical graph of one checkpoint.
class Importer {
public:
  Importer(MLIRContext &ctx, const ModelConfig &config,
           const st::Checkpoint *checkpoint, std::string configPath,
           const ImportOptions &options)
      : ctx(ctx), cfg(config), options(options), ckpt(checkpoint),
        configPath(std::move(configPath)), b(&ctx),
        loc(FileLineColLoc::get(&ctx, this->configPath, 0, 0)) {}

  absl::StatusOr<OwningOpRef<ModuleOp>> run();

private:
  //===--------------------------------------------------------------------===//
  // Weights
  //===--------------------------------------------------------------------===//

  /// The storage type of a checkpoint tensor as the graph sees it: f32, or
  /// f8E4M3FN for FP8 linear weights. Checks existence and shape.
  Type checkTensor(const std::string &name, ArrayRef<int64_t> shape,
                   bool quantizable);
  /// Whether the checkpoint stores tensor `name` (each of a stack's
  /// `stack` tensors) as BF16.
  bool storedAsBf16(const std::string &name,
                    std::optional<int64_t> stack) const;
  /// A weight of the current function: a `dsc.weight` in `@forward`, a new
  /// argument in a layer function.
  Value weight(const std::string &name, ArrayRef<int64_t> shape,
               bool quantizable = false,
               std::optional<int64_t> stack = std::nullopt);
  /// `dsc.linear` with the weight `name` ([out, in]) and its FP8 scales.
  /// DeepSeek quantizes the linears of attention and the MLPs, never the
  /// output head.
  Value linear(Value x, const std::string &name, int64_t out, int64_t in,
               bool quantizable = true);
  /// A stacked expert projection as f32 [experts, out, in], dequantized
  /// from FP8 when the checkpoint stores it so.
  Value expertWeights(const std::string &pattern, int64_t experts, int64_t out,
                      int64_t in);
  /// f32 `w * scales` of an FP8 weight [..., out, in] with block scales
  /// [..., ceil(out / bm), ceil(in / bn)].
  Value dequantize(Value w, Value scales);

  //===--------------------------------------------------------------------===//
  // Graph pieces
  //===--------------------------------------------------------------------===//

  Value rmsNorm(Value x, const std::string &name, int64_t width);
  /// dsc.swiglu, or its arithmetic with ImportOptions::decomposed.
  Value swiglu(Value gate, Value up);
  Value rope(Value x, Value positions);
  Value mlp(Value x, const std::string &prefix, int64_t width);
  Value attention(Value x, Value positions, const std::string &prefix);
  Value moe(Value x, const std::string &prefix);
  /// The router's (weights, indices) for tokens `xt` [T, D]: dsc.gate, or
  /// with ImportOptions::decomposed the router written out as transformers
  /// computes it (routerDecomposed).
  std::pair<Value, Value> router(Value xt, Value gateW, Value bias,
                                 ScoringFunc scoring, TopkMethod method,
                                 int64_t k, int64_t groups, int64_t keep);
  std::pair<Value, Value> routerDecomposed(Value xt, Value gateW, Value bias,
                                           ScoringFunc scoring,
                                           TopkMethod method, int64_t k,
                                           int64_t groups, int64_t keep);
  /// Causal softmax(q k^T * scale) v on decompressed per-head K/V.
  Value causalAttention(Value qNope, Value qPe, Value kNope, Value kPe, Value v,
                        double scale);
  func::FuncOp buildLayer(int64_t index);

  RankedTensorType tensor(ArrayRef<int64_t> shape, Type elt = {}) {
    return RankedTensorType::get(shape, elt ? elt : b.getF32Type());
  }
  /// Shape of `v` with its last dimension replaced.
  RankedTensorType withLastDim(Value v, int64_t last) {
    auto t = cast<RankedTensorType>(v.getType());
    SmallVector<int64_t> shape(t.getShape());
    shape.back() = last;
    return tensor(shape, t.getElementType());
  }
  Value fail(std::string message) {
    if (error.ok())
      error = absl::InvalidArgumentError(std::move(message));
    return {};
  }

  MLIRContext &ctx;
  const ModelConfig &cfg;
  const ImportOptions &options;
  /// The YaRN parameters of every rope, when the config has them.
  YarnAttr yarn;
  const st::Checkpoint *ckpt;
  std::string configPath;
  OpBuilder b;
  Location loc;
  absl::Status error;
  /// The weights whose every tensor the checkpoint stores as BF16 (a
  /// stack's every expert), in import order: the module's
  /// `dsc.bf16_stored`, which a target may bind as bf16 exactly.
  llvm::SetVector<StringRef> bf16Stored;
  /// Non-null while building a layer function.
  Block *layerBlock = nullptr;
  std::vector<WeightSpec> layerWeights;
};

std::string joinShape(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    absl::StrAppend(&s, i ? ", " : "", shape[i]);
  return s + "]";
}

Type Importer::checkTensor(const std::string &name, ArrayRef<int64_t> shape,
                           bool quantizable) {
  Type f32 = b.getF32Type();
  if (!ckpt)
    return quantizable && cfg.fp8Block ? Type(b.getType<Float8E4M3FNType>())
                                       : f32;
  const st::TensorInfo *t = ckpt->find(name);
  if (!t) {
    fail(absl::StrCat(ckpt->directory(), ": missing tensor '", name, "'"));
    return f32;
  }
  if (std::vector<int64_t>(shape.begin(), shape.end()) != t->shape) {
    fail(absl::StrCat(t->file, ": tensor '", name, "' has shape ",
                      joinShape(t->shape), ", expected ", joinShape(shape),
                      " from ", configPath));
    return f32;
  }
  switch (t->dtype) {
  case st::DType::F32:
  case st::DType::BF16:
  case st::DType::F16:
    return f32;
  case st::DType::F8_E4M3:
    if (quantizable)
      return b.getType<Float8E4M3FNType>();
    [[fallthrough]];
  default:
    fail(absl::StrCat(t->file, ": tensor '", name, "' has dtype ",
                      std::string(st::dtypeName(t->dtype)),
                      quantizable ? "; expected F32, BF16, F16 or F8_E4M3"
                                  : "; expected F32, BF16 or F16"));
    return f32;
  }
}

bool Importer::storedAsBf16(const std::string &name,
                            std::optional<int64_t> stack) const {
  auto bf16 = [&](const std::string &tensor) {
    const st::TensorInfo *t = ckpt->find(tensor);
    return t && t->dtype == st::DType::BF16;
  };
  if (!stack)
    return bf16(name);
  for (int64_t j = 0; j < *stack; ++j)
    if (!bf16(absl::StrReplaceAll(name, {{"{}", absl::StrCat(j)}})))
      return false;
  return true;
}

Value Importer::weight(const std::string &name, ArrayRef<int64_t> shape,
                       bool quantizable, std::optional<int64_t> stack) {
  Type elt;
  SmallVector<int64_t> fullShape;
  if (stack) {
    // Every expert must be present with the same shape and storage type.
    fullShape.push_back(*stack);
    for (int64_t j = 0; j < *stack && error.ok(); ++j) {
      Type t = checkTensor(absl::StrReplaceAll(name, {{"{}", absl::StrCat(j)}}),
                           shape, quantizable);
      if (elt && t != elt)
        fail(absl::StrCat(ckpt ? ckpt->directory() : configPath, ": tensor '",
                          absl::StrReplaceAll(name, {{"{}", absl::StrCat(j)}}),
                          "' has a different dtype than expert 0"));
      elt = t;
    }
  } else {
    elt = checkTensor(name, shape, quantizable);
  }
  fullShape.append(shape.begin(), shape.end());
  auto type = tensor(fullShape, elt);
  if (ckpt && error.ok() && storedAsBf16(name, stack))
    bf16Stored.insert(b.getStringAttr(name).getValue());
  if (layerBlock) {
    layerWeights.push_back({name, type, stack});
    return layerBlock->addArgument(type, loc);
  }
  auto op =
      WeightOp::create(b, loc, type, b.getStringAttr(name),
                       stack ? b.getI64IntegerAttr(*stack) : IntegerAttr());
  return op.getResult();
}

Value Importer::linear(Value x, const std::string &name, int64_t out,
                       int64_t in, bool quantizable) {
  Value w = weight(name, {out, in}, quantizable);
  RankedTensorType resultType = withLastDim(x, out);
  if (!isa<Float8E4M3FNType>(
          cast<RankedTensorType>(w.getType()).getElementType()))
    return LinearOp::create(b, loc, resultType, x, w, Value(),
                            DenseI64ArrayAttr());
  auto [bm, bn] =
      cfg.fp8Block.value_or(std::make_pair<int64_t, int64_t>(128, 128));
  Value scales =
      weight(name + "_scale_inv", {(out + bm - 1) / bm, (in + bn - 1) / bn});
  return LinearOp::create(b, loc, resultType, x, w, scales,
                          b.getDenseI64ArrayAttr({bm, bn}));
}

Value Importer::expertWeights(const std::string &pattern, int64_t experts,
                              int64_t out, int64_t in) {
  Value w = weight(pattern, {out, in}, /*quantizable=*/true, experts);
  if (!isa<Float8E4M3FNType>(
          cast<RankedTensorType>(w.getType()).getElementType()))
    return w;
  auto [bm, bn] =
      cfg.fp8Block.value_or(std::make_pair<int64_t, int64_t>(128, 128));
  Value scales =
      weight(pattern + "_scale_inv", {(out + bm - 1) / bm, (in + bn - 1) / bn},
             /*quantizable=*/false, experts);
  return dequantize(w, scales);
}

Value Importer::dequantize(Value w, Value scales) {
  auto [bm, bn] =
      cfg.fp8Block.value_or(std::make_pair<int64_t, int64_t>(128, 128));
  return TensorMath(b, loc).dequantize(w, scales, bm, bn);
}

Value Importer::rmsNorm(Value x, const std::string &name, int64_t width) {
  Value w = weight(name, {width});
  if (options.decomposed)
    return TensorMath(b, loc).rmsNorm(x, w, cfg.rmsNormEps);
  return RmsNormOp::create(b, loc, x.getType(), x, w,
                           b.getF64FloatAttr(cfg.rmsNormEps));
}

Value Importer::swiglu(Value gate, Value up) {
  if (options.decomposed)
    return TensorMath(b, loc).swiglu(gate, up);
  return SwigluOp::create(b, loc, gate.getType(), gate, up);
}

Value Importer::rope(Value x, Value positions) {
  // YaRN's magnitude (1 unless mscale and mscale_all_dim differ) scales
  // the tables; the decomposed form has no place for it.
  if (options.decomposed && (!yarn || yarn.getAttentionFactor() == 1.0)) {
    int64_t dim = cast<RankedTensorType>(x.getType()).getShape().back();
    TensorMath m(b, loc);
    Value table =
        m.f32Vector(RopeOp::inverseFrequencies(dim, cfg.ropeTheta, yarn));
    return m.ropeDecomposed(x, positions, table, cfg.ropeInterleave);
  }
  return RopeOp::create(b, loc, x.getType(), x, positions, Value(),
                        b.getF64FloatAttr(cfg.ropeTheta),
                        cfg.ropeInterleave ? b.getUnitAttr() : UnitAttr(),
                        yarn);
}

Value Importer::mlp(Value x, const std::string &prefix, int64_t width) {
  int64_t d = cfg.hiddenSize;
  Value gate = linear(x, prefix + "gate_proj.weight", width, d);
  Value up = linear(x, prefix + "up_proj.weight", width, d);
  return linear(swiglu(gate, up), prefix + "down_proj.weight", d, width);
}

Value Importer::attention(Value x, Value positions, const std::string &prefix) {
  TensorMath m(b, loc);
  int64_t d = cfg.hiddenSize, h = cfg.numHeads, dn = cfg.qkNopeHeadDim,
          dr = cfg.qkRopeHeadDim, dv = cfg.vHeadDim, c = cfg.kvLoraRank;
  // Queries: [B, S, H, dn + dr].
  Value q;
  if (cfg.qLoraRank) {
    int64_t r = *cfg.qLoraRank;
    Value qa = linear(x, prefix + "q_a_proj.weight", r, d);
    qa = rmsNorm(qa, prefix + "q_a_layernorm.weight", r);
    q = linear(qa, prefix + "q_b_proj.weight", h * cfg.qHeadDim(), r);
  } else {
    q = linear(x, prefix + "q_proj.weight", h * cfg.qHeadDim(), d);
  }
  auto heads = [&](Value t, int64_t perHead) -> Value {
    return tensor::ExpandShapeOp::create(
        b, loc, tensor({kDyn, kDyn, h, perHead}), t,
        SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
  };
  q = heads(q, cfg.qHeadDim());
  auto sliceLast = [&](Value x, int64_t offset, int64_t size) {
    return m.sliceLast(x, offset, size);
  };
  Value qNope = sliceLast(q, 0, dn);
  Value qPe = rope(sliceLast(q, dn, dr), positions);
  // The compressed latent and the shared rope key: [B, S, C + dr].
  Value kv = linear(x, prefix + "kv_a_proj_with_mqa.weight", c + dr, d);
  Value latent =
      rmsNorm(sliceLast(kv, 0, c), prefix + "kv_a_layernorm.weight", c);
  Value kPe = rope(sliceLast(kv, c, dr), positions);
  double scale = 1.0 / std::sqrt(static_cast<double>(dn + dr));
  if (yarn)
    scale *= yarn.getSoftmaxScaleFactor();
  Value o;
  if (options.absorbedAttention) {
    // Absorbed: W_UK into the queries, attention on the latent, W_UV into
    // the outputs.
    std::string name = prefix + "kv_b_proj.weight";
    Value kvb = weight(name, {h * (dn + dv), c}, /*quantizable=*/true);
    if (isa<Float8E4M3FNType>(
            cast<RankedTensorType>(kvb.getType()).getElementType())) {
      auto [bm, bn] =
          cfg.fp8Block.value_or(std::make_pair<int64_t, int64_t>(128, 128));
      kvb = dequantize(
          kvb, weight(name + "_scale_inv",
                      {(h * (dn + dv) + bm - 1) / bm, (c + bn - 1) / bn}));
    }
    auto [wUK, wUV] = m.splitKvB(kvb, h, dn, dv);
    o = m.absorbedAttention(qNope, qPe, latent, kPe, wUK, wUV, scale);
  } else {
    // Decompress: per head k_nope (dn) and v (dv).
    Value kvb = heads(
        linear(latent, prefix + "kv_b_proj.weight", h * (dn + dv), c), dn + dv);
    o = m.causalAttention(qNope, sliceLast(kvb, 0, dn), qPe, kPe,
                          sliceLast(kvb, dn, dv), scale);
  }
  o = tensor::CollapseShapeOp::create(
      b, loc, o, SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
  return linear(o, prefix + "o_proj.weight", d, h * dv);
}

std::pair<Value, Value> Importer::router(Value xt, Value gateW, Value bias,
                                         ScoringFunc scoring, TopkMethod method,
                                         int64_t k, int64_t groups,
                                         int64_t keep) {
  if (options.decomposed)
    return routerDecomposed(xt, gateW, bias, scoring, method, k, groups, keep);
  auto gate = GateOp::create(
      b, loc, tensor({kDyn, k}), tensor({kDyn, k}, b.getI64Type()), xt, gateW,
      bias, ScoringFuncAttr::get(&ctx, scoring),
      TopkMethodAttr::get(&ctx, method), b.getI64IntegerAttr(k),
      b.getI64IntegerAttr(groups), b.getI64IntegerAttr(keep),
      b.getBoolAttr(cfg.normTopkProb),
      b.getF64FloatAttr(cfg.routedScalingFactor));
  return {gate.getWeights(), gate.getIndices()};
}

/// transformers' DeepseekV3TopkRouter (sigmoid scores) or
/// DeepseekV2TopkRouter (softmax scores), op by op (what `dsc-fuse-moe`'s
/// FuseRouter recovers into dsc.gate):
///   scores = sigmoid(x W^T) or softmax(x W^T); sel = scores [+ bias];
///   with groups: grouped = sel as [T, G, E/G], group scores the sum of
///   each group's top 2 (noaux_tc) or its maximum; the best `keep` groups
///   scattered into a [T, G] mask, broadcast over the groups' experts,
///   sel = masked_fill(sel, -inf where the mask is 0; V2: 0.0);
///   indices = topk(sel, k); weights = scores.gather(indices) (V2 and
///   ungrouped: the top-k's own values), / (sum + 1e-20) when normalised,
///   * routed_scaling_factor.
std::pair<Value, Value>
Importer::routerDecomposed(Value xt, Value gateW, Value bias,
                           ScoringFunc scoring, TopkMethod method, int64_t k,
                           int64_t groups, int64_t keep) {
  TensorMath m(b, loc);
  Type f32 = b.getF32Type(), i64 = b.getI64Type();
  int64_t experts = cast<RankedTensorType>(gateW.getType()).getDimSize(0);
  auto topk = [&](Value x, int64_t n) {
    auto type = cast<RankedTensorType>(x.getType());
    SmallVector<int64_t> shape(type.getShape());
    shape.back() = n;
    return TopkOp::create(b, loc, tensor(shape), tensor(shape, i64), x,
                          b.getI64IntegerAttr(n), UnitAttr());
  };
  auto elementwise =
      [&](ValueRange inputs,
          function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
        return m.map(inputs, f32, [&](OpBuilder &nb, Location l, ValueRange a) {
          linalg::YieldOp::create(nb, l, body(nb, l, a));
        });
      };

  bool softmax = scoring == ScoringFunc::Softmax;
  // V2's router (softmax, no bias) fills dropped groups with 0.0 and takes
  // its top-k's values as the weights; V3's masks to -inf and gathers the
  // unbiased scores. A softmax router with a bias gets V3's form, which
  // dsc.gate computes.
  bool v2Style = softmax && !bias;
  Value logits = m.matmulTransposed(xt, gateW);
  Value scores = softmax ? m.softmaxLastDim(logits) : m.sigmoid(logits);
  Value select = scores;
  if (bias)
    select = m.generic(
        {scores, bias}, m.empty(m.sizes(scores), f32), 2, {{0, 1}, {1}, {0, 1}},
        {}, [](OpBuilder &nb, Location l, ValueRange a) {
          linalg::YieldOp::create(
              nb, l, arith::AddFOp::create(nb, l, a[0], a[1]).getResult());
        })[0];

  if (method != TopkMethod::Greedy && groups > 1) {
    int64_t perGroup = experts / groups;
    OpFoldResult rows = m.sizes(select)[0];
    Value grouped = tensor::ExpandShapeOp::create(
        b, loc, tensor({kDyn, groups, perGroup}), select,
        SmallVector<ReassociationIndices>{{0}, {1, 2}},
        SmallVector<OpFoldResult>{rows, b.getIndexAttr(groups),
                                  b.getIndexAttr(perGroup)});
    Value groupScores = method == TopkMethod::NoauxTc
                            ? m.sumLastDim(topk(grouped, 2).getValues())
                            : m.maxLastDim(grouped);
    Value kept = topk(groupScores, keep).getIndices();
    // groupMask[t, g] = 1 where g is among kept[t, :].
    Value groupMask = m.generic(
        kept, m.filled({rows, b.getIndexAttr(groups)}, f32, 0.0), 3,
        {{0, 2}, {0, 1}}, {2}, [](OpBuilder &nb, Location l, ValueRange a) {
          Value g = arith::IndexCastOp::create(
              nb, l, nb.getI64Type(), linalg::IndexOp::create(nb, l, 1));
          Value hit =
              arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, a[0], g);
          linalg::YieldOp::create(
              nb, l,
              arith::SelectOp::create(nb, l, hit, TensorMath(nb, l).f32(1.0),
                                      a[1])
                  .getResult());
        })[0];
    // Broadcast over each group's experts, then back to [T, E].
    Value unit = tensor::ExpandShapeOp::create(
        b, loc, tensor({kDyn, groups, 1}), groupMask,
        SmallVector<ReassociationIndices>{{0}, {1, 2}},
        SmallVector<OpFoldResult>{rows, b.getIndexAttr(groups),
                                  b.getIndexAttr(1)});
    MLIRContext *c = &ctx;
    AffineMap unitLast =
        AffineMap::get(3, 0,
                       {getAffineDimExpr(0, c), getAffineDimExpr(1, c),
                        getAffineConstantExpr(0, c)},
                       c);
    Value spread =
        linalg::GenericOp::create(
            b, loc, tensor({kDyn, groups, perGroup}), unit,
            m.empty({rows, b.getIndexAttr(groups), b.getIndexAttr(perGroup)},
                    f32),
            ArrayRef<AffineMap>{unitLast,
                                AffineMap::getMultiDimIdentityMap(3, c)},
            SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
            [](OpBuilder &nb, Location l, ValueRange a) {
              linalg::YieldOp::create(nb, l, a[0]);
            })
            .getResult(0);
    Value mask = tensor::CollapseShapeOp::create(
        b, loc, spread, SmallVector<ReassociationIndices>{{0}, {1, 2}});
    select =
        m.map({mask, select}, f32, [](OpBuilder &nb, Location l, ValueRange a) {
          TensorMath s(nb, l);
          Value keepIt = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::UNE,
                                               a[0], s.f32(0.0));
          linalg::YieldOp::create(
              nb, l,
              arith::SelectOp::create(
                  nb, l, keepIt, a[1],
                  s.f32(-std::numeric_limits<double>::infinity()))
                  .getResult());
        });
  }

  TopkOp choice = topk(select, k);
  Value weights = choice.getValues();
  if (select != scores && !v2Style)
    weights = m.gatherColumns(scores, choice.getIndices()); // scores.gather
  // (weights / (sum + 1e-20)) * scale, or weights * scale.
  double scaling = cfg.routedScalingFactor;
  if (cfg.normTopkProb) {
    Value sum = m.sumLastDim(weights);
    weights = m.generic(
        {weights, sum}, m.empty(m.sizes(weights), f32), 2,
        {{0, 1}, {0}, {0, 1}}, {},
        [&](OpBuilder &nb, Location l, ValueRange a) {
          TensorMath s(nb, l);
          Value denominator = arith::AddFOp::create(nb, l, a[1], s.f32(1e-20));
          Value w = arith::DivFOp::create(nb, l, a[0], denominator);
          linalg::YieldOp::create(
              nb, l,
              arith::MulFOp::create(nb, l, w, s.f32(scaling)).getResult());
        })[0];
  } else {
    weights = elementwise(weights, [&](OpBuilder &nb, Location l,
                                       ValueRange a) {
      return arith::MulFOp::create(nb, l, a[0], TensorMath(nb, l).f32(scaling))
          .getResult();
    });
  }
  return {weights, choice.getIndices()};
}

Value Importer::moe(Value x, const std::string &prefix) {
  TensorMath m(b, loc);
  Type f32 = b.getF32Type();
  int64_t d = cfg.hiddenSize, e = cfg.nRoutedExperts, k = cfg.numExpertsPerTok,
          w = cfg.moeIntermediateSize;
  SmallVector<OpFoldResult> xSizes = m.sizes(x);
  // Tokens as rows: [T, D].
  Value xt = tensor::CollapseShapeOp::create(
      b, loc, x, SmallVector<ReassociationIndices>{{0, 1}, {2}});
  Value gateW = weight(prefix + "gate.weight", {e, d});
  Value bias;
  if (cfg.topkMethod == "noaux_tc")
    bias = weight(prefix + "gate.e_score_correction_bias", {e});
  auto scoring = cfg.scoringFunc == "sigmoid" ? ScoringFunc::Sigmoid
                                              : ScoringFunc::Softmax;
  auto method = cfg.topkMethod == "noaux_tc" ? TopkMethod::NoauxTc
                : cfg.topkMethod == "group_limited_greedy"
                    ? TopkMethod::GroupLimitedGreedy
                    : TopkMethod::Greedy;
  int64_t groups = method == TopkMethod::Greedy ? 1 : cfg.nGroup;
  int64_t keep = method == TopkMethod::Greedy ? 1 : cfg.topkGroup;
  auto [routingWeights, routingIndices] =
      router(xt, gateW, bias, scoring, method, k, groups, keep);
  // Dense routing weights [T, E]: zero for experts a token does not use.
  SmallVector<OpFoldResult> te = {m.sizes(xt)[0], b.getIndexAttr(e)};
  Value combine = m.generic(
      {routingIndices, routingWeights}, m.filled(te, f32, 0.0), 3,
      {{0, 2}, {0, 2}, {0, 1}}, {2},
      [](OpBuilder &nb, Location l, ValueRange a) {
        TensorMath s(nb, l);
        Value expert = arith::IndexCastOp::create(
            nb, l, nb.getI64Type(), linalg::IndexOp::create(nb, l, 1));
        Value hit = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, a[0],
                                          expert);
        Value add = arith::SelectOp::create(nb, l, hit, a[1], s.f32(0.0));
        linalg::YieldOp::create(
            nb, l, arith::AddFOp::create(nb, l, a[2], add).getResult());
      })[0];
  // Every expert on every token, [E, T, W]; the combine weights zero the
  // unused ones. (Sparse dispatch is the MoE fusion's job.)
  std::string ex = prefix + "experts.{}.";
  Value wg = expertWeights(ex + "gate_proj.weight", e, w, d);
  Value wu = expertWeights(ex + "up_proj.weight", e, w, d);
  Value wd = expertWeights(ex + "down_proj.weight", e, d, w);
  SmallVector<OpFoldResult> etw = {b.getIndexAttr(e), te[0], b.getIndexAttr(w)};
  auto dot = [](OpBuilder &nb, Location l, ValueRange a) {
    TensorMath s(nb, l);
    Value p = arith::MulFOp::create(nb, l, s.toF32(a[0]), s.toF32(a[1]));
    linalg::YieldOp::create(nb, l,
                            arith::AddFOp::create(nb, l, p, a[2]).getResult());
  };
  // Loops (e, t, w, d).
  Value g = m.generic({xt, wg}, m.filled(etw, f32, 0.0), 4,
                      {{1, 3}, {0, 2, 3}, {0, 1, 2}}, {3}, dot)[0];
  Value u = m.generic({xt, wu}, m.filled(etw, f32, 0.0), 4,
                      {{1, 3}, {0, 2, 3}, {0, 1, 2}}, {3}, dot)[0];
  Value act = swiglu(g, u);
  // Loops (t, d, e, w): y[t, d] = sum_e combine[t, e] sum_w act[e, t, w] wd[e,
  // d, w]
  SmallVector<OpFoldResult> td = {te[0], b.getIndexAttr(d)};
  Value y =
      m.generic({combine, act, wd}, m.filled(td, f32, 0.0), 4,
                {{0, 2}, {2, 0, 3}, {2, 1, 3}, {0, 1}}, {2, 3},
                [](OpBuilder &nb, Location l, ValueRange a) {
                  TensorMath s(nb, l);
                  Value p = arith::MulFOp::create(nb, l, a[1], s.toF32(a[2]));
                  p = arith::MulFOp::create(nb, l, a[0], p);
                  linalg::YieldOp::create(
                      nb, l, arith::AddFOp::create(nb, l, p, a[3]).getResult());
                })[0];
  if (cfg.nSharedExperts > 0)
    y = m.add(y, mlp(xt, prefix + "shared_experts.",
                     cfg.nSharedExperts * cfg.moeIntermediateSize));
  // Back to [B, S, D]. (An expand_shape with two dynamic sizes in one group
  // crashes MLIR 22's expand-strided-metadata, so copy with index math.)
  Value seqLen = getValueOrCreateConstantIndexOp(b, loc, xSizes[1]);
  return m.generic(
      {}, m.empty(xSizes, f32), 3, {{0, 1, 2}}, {},
      [&](OpBuilder &nb, Location l, ValueRange) {
        Value bi = linalg::IndexOp::create(nb, l, 0);
        Value si = linalg::IndexOp::create(nb, l, 1);
        Value di = linalg::IndexOp::create(nb, l, 2);
        Value t = arith::AddIOp::create(
            nb, l, arith::MulIOp::create(nb, l, bi, seqLen), si);
        linalg::YieldOp::create(
            nb, l,
            tensor::ExtractOp::create(nb, l, y, ValueRange{t, di}).getResult());
      })[0];
}

func::FuncOp Importer::buildLayer(int64_t index) {
  std::string prefix = absl::StrCat("model.layers.", index, ".");
  auto hidden = tensor({kDyn, kDyn, cfg.hiddenSize});
  auto positions = tensor({kDyn, kDyn}, b.getI64Type());
  // The layer and its ops carry its checkpoint prefix as their location, so
  // diagnostics and reports name the layer.
  Location fileLoc = loc;
  llvm::scope_exit restoreLoc([&] { loc = fileLoc; });
  loc = NameLoc::get(b.getStringAttr(prefix.substr(0, prefix.size() - 1)),
                     fileLoc);
  auto fn =
      func::FuncOp::create(b, loc, absl::StrCat("layer_", index),
                           b.getFunctionType({hidden, positions}, {hidden}));
  fn.setPrivate();
  Block *block = fn.addEntryBlock();
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(block);
  layerBlock = block;
  layerWeights.clear();
  Value h = block->getArgument(0), pos = block->getArgument(1);
  TensorMath m(b, loc);
  Value x = rmsNorm(h, prefix + "input_layernorm.weight", cfg.hiddenSize);
  h = m.add(h, attention(x, pos, prefix + "self_attn."));
  x = rmsNorm(h, prefix + "post_attention_layernorm.weight", cfg.hiddenSize);
  Value ffn = cfg.isMoeLayer(index)
                  ? moe(x, prefix + "mlp.")
                  : mlp(x, prefix + "mlp.", cfg.intermediateSize);
  h = m.add(h, ffn);
  func::ReturnOp::create(b, loc, h);
  fn.setFunctionType(b.getFunctionType(block->getArgumentTypes(), {hidden}));
  layerBlock = nullptr;
  return fn;
}

absl::StatusOr<OwningOpRef<ModuleOp>> Importer::run() {
  if (cfg.yarn) {
    // The config parser checked these values; getChecked keeps a bad one
    // from ever reaching the IR.
    yarn = YarnAttr::getChecked(
        [&] { return emitError(loc); }, &ctx, APFloat(cfg.yarn->factor),
        cfg.yarn->originalMaxPosition, APFloat(cfg.yarn->betaFast),
        APFloat(cfg.yarn->betaSlow), APFloat(cfg.yarn->mscale),
        APFloat(cfg.yarn->mscaleAllDim));
    if (!yarn)
      return absl::InvalidArgumentError(
          absl::StrCat(configPath, ": invalid rope scaling parameters"));
  }
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  module->getOperation()->setAttr("dsc.model",
                                  b.getStringAttr(cfg.architecture));
  if (cfg.maxPositions)
    module->getOperation()->setAttr("dsc.max_positions",
                                    b.getI64IntegerAttr(*cfg.maxPositions));
  b.setInsertionPointToEnd(module->getBody());
  int64_t d = cfg.hiddenSize, vocab = cfg.vocabSize;
  auto tokensType = tensor({kDyn, kDyn}, b.getI64Type());
  auto logitsType = tensor({kDyn, kDyn, vocab});
  auto forward = func::FuncOp::create(
      b, loc, "forward", b.getFunctionType({tokensType}, {logitsType}));
  Block *entry = forward.addEntryBlock();
  // Layer functions go before @forward.
  std::vector<std::pair<func::FuncOp, std::vector<WeightSpec>>> layers;
  for (int64_t i = 0; i < cfg.numLayers && error.ok(); ++i) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(forward);
    func::FuncOp fn = buildLayer(i);
    layers.push_back({fn, layerWeights});
  }
  if (!error.ok())
    return error;

  b.setInsertionPointToStart(entry);
  TensorMath m(b, loc);
  Value tokens = entry->getArgument(0);
  // Positions 0..S-1 for every sequence of the batch.
  Value positions = m.generic(
      {}, m.empty(m.sizes(tokens), b.getI64Type()), 2, {{0, 1}}, {},
      [](OpBuilder &nb, Location l, ValueRange) {
        Value s = linalg::IndexOp::create(nb, l, 1);
        linalg::YieldOp::create(
            nb, l,
            arith::IndexCastOp::create(nb, l, nb.getI64Type(), s).getResult());
      })[0];
  Value table = weight("model.embed_tokens.weight", {vocab, d});
  Value h = EmbedOp::create(b, loc, tensor({kDyn, kDyn, d}), table, tokens);
  for (auto &[fn, specs] : layers) {
    SmallVector<Value> args = {h, positions};
    for (const WeightSpec &w : specs)
      args.push_back(WeightOp::create(b, loc, w.type, b.getStringAttr(w.name),
                                      w.stack ? b.getI64IntegerAttr(*w.stack)
                                              : IntegerAttr()));
    h = func::CallOp::create(b, loc, fn, args).getResult(0);
  }
  h = rmsNorm(h, "model.norm.weight", d);
  std::string head =
      cfg.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight";
  Value logits = linear(h, head, vocab, d, /*quantizable=*/false);
  func::ReturnOp::create(b, loc, logits);
  if (!error.ok())
    return error;
  if (!bf16Stored.empty()) {
    SmallVector<Attribute> names;
    for (StringRef name : bf16Stored)
      names.push_back(b.getStringAttr(name));
    module->getOperation()->setAttr("dsc.bf16_stored", b.getArrayAttr(names));
  }
  if (failed(verify(*module)))
    return absl::InternalError(absl::StrCat(
        configPath, ": the imported graph failed to verify "
                    "(a compiler bug; see the diagnostics above)"));
  return module;
}

} // namespace

absl::StatusOr<OwningOpRef<ModuleOp>>
importCheckpoint(MLIRContext &context, const std::string &dir,
                 const ImportOptions &options) {
  context.loadDialect<DscDialect, func::FuncDialect, arith::ArithDialect,
                      linalg::LinalgDialect, tensor::TensorDialect,
                      math::MathDialect, scf::SCFDialect>();
  std::string configPath =
      (std::filesystem::path(dir) / "config.json").string();
  absl::StatusOr<ModelConfig> config = loadModelConfig(configPath);
  if (!config.ok())
    return config.status();
  std::unique_ptr<st::Checkpoint> checkpoint;
  if (!options.shapesOnly) {
    absl::StatusOr<std::unique_ptr<st::Checkpoint>> opened =
        st::Checkpoint::open(dir);
    if (!opened.ok())
      return opened.status();
    checkpoint = std::move(*opened);
  }
  Importer importer(context, *config, checkpoint.get(), configPath, options);
  return importer.run();
}

void registerImporterDialects(DialectRegistry &registry) {
  registry.insert<DscDialect, func::FuncDialect, arith::ArithDialect,
                  linalg::LinalgDialect, tensor::TensorDialect,
                  math::MathDialect, scf::SCFDialect>();
}

} // namespace dsc::hf

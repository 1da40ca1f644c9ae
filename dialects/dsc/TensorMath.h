//===- TensorMath.h - Builders for plain tensor math ------------*- C++ -*-===//
//
// Small helpers that build `linalg` on tensors with dynamic sizes. The
// frontends use them for the canonical graph's attention and experts math,
// and the dsc decompositions use them for each op's reference semantics, so
// both describe computations the same way.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_DIALECTS_DSC_TENSORMATH_H
#define DSC_DIALECTS_DSC_TENSORMATH_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/Builders.h"

namespace mlir::dsc {

/// How TensorMath::causalAttention computes its result (the default: the
/// plain form the frontends produce and the fusion passes match).
struct AttentionLayout {
  /// Copy each key to [batch, (heads,) width, keys] first, so that the
  /// scores' products run along the keys, contiguous in both the keys and
  /// the scores (on the CPU: vector FMAs with no horizontal sums). The copy
  /// pays off when many queries read each key, as in a prefill.
  bool transposeKeys = false;
  /// When non-zero (and without `past`), queries go in blocks of this many
  /// rows, each over the keys up to its last row only: the masked half of
  /// the causal scores, softmax and value products is never computed.
  int64_t queryBlock = 0;
  /// Round each probability's numerator exp(s - max) to bf16 before the
  /// value products, its sum kept in f32: as the kernel library's flash
  /// kernels compute P V (FlashMLA's numerics), for the CPU to compute what
  /// a GPU does.
  bool bf16Probabilities = false;
};

/// The dimension list [0, rank): an identity indexing map for
/// TensorMath::generic.
SmallVector<unsigned> iota(unsigned rank);

/// Builds linalg-on-tensors computations at one location.
class TensorMath {
public:
  using BodyFn = function_ref<void(OpBuilder &, Location, ValueRange)>;

  TensorMath(OpBuilder &builder, Location loc) : b(builder), loc(loc) {}

  OpBuilder &builder() { return b; }
  Location getLoc() { return loc; }

  /// The sizes of a ranked tensor: static ones as attributes, dynamic ones
  /// as the values its producer was given (else `tensor.dim` values).
  SmallVector<OpFoldResult> sizes(Value tensor);
  /// x * y, folded where either is a constant.
  OpFoldResult mul(OpFoldResult x, OpFoldResult y);
  /// `tensor.empty` of the given sizes.
  Value empty(ArrayRef<OpFoldResult> sizes, Type elementType);
  /// A tensor of the given sizes filled with a float or integer constant.
  Value filled(ArrayRef<OpFoldResult> sizes, Type elementType, double value);

  /// `linalg.generic` over `numLoops` loops. Each map lists, per operand
  /// (inputs, then outputs), the loop dimensions indexing it; `reductions`
  /// lists the reduction loops.
  ValueRange generic(ValueRange inputs, ValueRange outputs, unsigned numLoops,
                     ArrayRef<SmallVector<unsigned>> maps,
                     ArrayRef<unsigned> reductions, BodyFn body);
  /// An elementwise map over same-shaped tensors (inputs may be broadcast
  /// along leading dims by giving their maps explicitly via `generic`).
  Value map(ValueRange inputs, Type resultElementType, BodyFn body);

  /// `x[..., k] * w[n, k]^T -> [..., n]`, accumulating in f32. `w` may have
  /// any float element type; it is extended to f32 element by element.
  Value matmulTransposed(Value x, Value w);
  /// Sum over the last dimension, keeping the leading ones.
  Value sumLastDim(Value x);
  /// Maximum over the last dimension, keeping the leading ones.
  Value maxLastDim(Value x);
  /// Softmax over the last dimension of an f32 tensor (max-subtracted);
  /// with `bf16Numerators`, each exp(x - max) rounded to bf16 before it is
  /// divided by their sum (which is not).
  Value softmaxLastDim(Value x, bool bf16Numerators = false);
  /// `x` with its dimensions permuted, as a copy: `out[l...] = x[l[read[0]],
  /// ..., l[read[n - 1]]]` (dimension k of `x` is read along loop
  /// `read[k]` of the result).
  Value transposed(Value x, ArrayRef<unsigned> read);
  /// `x[..., offset : offset + size]`, static offset and size.
  Value sliceLast(Value x, int64_t offset, int64_t size);
  /// `x` restricted to `[offset, offset + size)` along `dim`.
  Value sliceDim(Value x, unsigned dim, OpFoldResult offset, OpFoldResult size);
  /// `first` and `second` concatenated along `dim` (static sizes there).
  Value concat(Value first, Value second, unsigned dim);
  /// `first` and `second` concatenated along the last dimension.
  Value concatLast(Value first, Value second);
  /// `x` reshaped to `sizes` by adding or dropping dimensions of size 1
  /// only: the others stay, in order. Null when they differ.
  Value withUnitDims(Value x, ArrayRef<OpFoldResult> sizes);
  /// Causal attention with a query split in two parts:
  /// `softmax((qA . kA + qB . kB) * scale, causal) . v`, in f32. Queries are
  /// [batch, seq, heads, *]; each key and the value is either per head
  /// ([batch, seq, heads, *]) or shared by all heads ([batch, seq, *], as
  /// MLA's rope key and latent are). The result is
  /// [batch, seq, heads, value width].
  ///
  /// With `past` ([batch] i64), the keys and values ([batch, keys, ...])
  /// may be longer than the queries: query i of sequence b sits at position
  /// `past[b] + i` and sees the keys at positions `0 .. past[b] + i`.
  /// Without it, keys and queries are the same positions.
  ///
  /// With `mask` ([batch, 1, seq, seq] f32, shared by the heads), it is
  /// added to the scaled scores in place of the causal mask (a mask the
  /// graph computed); not with `past`.
  ///
  /// `layout` changes how the same result is computed (AttentionLayout).
  Value causalAttention(Value qA, Value kA, Value qB, Value kB, Value v,
                        double scale, Value past = {},
                        const AttentionLayout &layout = {}, Value mask = {});
  /// RMSNorm over the last dimension: `x * rsqrt(mean(x^2) + eps) * w`,
  /// computed in f32 (a sum-of-squares reduction, then one elementwise
  /// generic), the result in `x`'s element type.
  Value rmsNorm(Value x, Value w, double eps);
  /// `1 / (1 + exp(-x))` elementwise, in f32.
  Value sigmoid(Value x);
  /// `x[r, indices[r, j]]` ([R, N] read at [R, K] i64 column indices): a
  /// gather of each row's chosen columns, in f32.
  Value gatherColumns(Value x, Value indices);
  /// SwiGLU: `g / (1 + exp(-g)) * u` (silu(g) * u) elementwise, computed in
  /// f32, the result in `elementType` (rounded once), by default `g`'s.
  Value swiglu(Value g, Value u, Type elementType = {});
  /// Rotary embedding spelled out as transformers' DeepSeek code computes
  /// it (and so as an ONNX export of it reads): angles `positions[b, s] *
  /// frequencies[i]` ([batch, seq] i64 times [d/2] f32), their cos and sin
  /// tables, `x` ([batch, seq, (heads,) d]) split into its pairs' first
  /// and second elements `a` and `b` (stride 2 with `interleaved`, else the
  /// two halves), and `cat(a cos - b sin, b cos + a sin)`. The result holds
  /// the rotated pairs' first elements, then their second ones: with
  /// `interleaved`, a permutation of dsc.rope's result (the same one for
  /// queries and keys, so the same scores).
  Value ropeDecomposed(Value x, Value positions, Value frequencies,
                       bool interleaved);
  /// An FP8 (or any float) weight [..., out, in] times its block scales
  /// [..., ceil(out / bm), ceil(in / bn)] (DeepSeek's weight_scale_inv), as
  /// f32; leading dimensions (the experts of a stack) index both alike.
  Value dequantize(Value weight, Value scales, int64_t bm, int64_t bn);
  /// The same, computed along whole column blocks: the columns are split
  /// into [C / bn, bn] so that the scale is fixed along the innermost loop,
  /// which then vectorizes (the scale a broadcast, not a gather). For
  /// codegen; falls back to dequantize() when the shape is dynamic or bn
  /// does not divide the columns. With `elementType` bf16, each product is
  /// rounded to bf16 (in the fallback, after it).
  Value dequantizeByBlocks(Value weight, Value scales, int64_t bm, int64_t bn,
                           Type elementType = {});
  /// MLA's kv_b [heads * (dn + dv), C] split per head into W_UK
  /// [heads, dn, C] and W_UV [heads, dv, C]; when `joinKvB` made kv_b, the
  /// halves it joined.
  std::pair<Value, Value> splitKvB(Value kvb, int64_t heads, int64_t dn,
                                   int64_t dv);
  /// The inverse: kv_b [heads * (dn + dv), C] from W_UK [heads, dn, C] and
  /// W_UV [heads, dv, C] (for graphs that hold the halves separately).
  Value joinKvB(Value wUK, Value wUV);
  /// W_UK [H, dn, C] multiplied into the queries `qNope` [..., H, dn]
  /// (e.g. [B, S, H, dn]): [..., H, C] in f32.
  Value absorbQueries(Value qNope, Value wUK);
  /// W_UV [H, dv, C] multiplied into attention's latent outputs
  /// `outLatent` [..., H, C]: [..., H, dv] in f32.
  Value projectValues(Value outLatent, Value wUV);
  /// Latent attention in its absorbed form: W_UK multiplied into the
  /// queries (`qNope` [B, S, H, dn] to [B, S, H, C]), causal attention over
  /// the latent keys and values shared by all heads (`latentKeys` [B, T, C],
  /// with `qPe` . `ropeKeys` [B, T, dr] added to the scores), and W_UV
  /// multiplied into the outputs: [B, S, H, dv]. `past`, `layout` and
  /// `mask` as for causalAttention.
  Value absorbedAttention(Value qNope, Value qPe, Value latentKeys,
                          Value ropeKeys, Value wUK, Value wUV, double scale,
                          Value past = {}, const AttentionLayout &layout = {},
                          Value mask = {});
  /// Elementwise a + b of same-shaped tensors.
  Value add(Value lhs, Value rhs);

  /// Scalar constants.
  Value f32(double value);
  /// A constant 1-D f32 tensor of `values`.
  Value f32Vector(ArrayRef<float> values);
  Value i64(int64_t value);
  Value index(int64_t value);
  /// Extends or truncates a float scalar to f32.
  Value toF32(Value scalar);
  /// An f32 scalar truncated to `type` (a float type).
  Value fromF32(Value scalar, Type type);

private:
  /// causalAttention's scores, mask, softmax and value products for the
  /// queries given, the first at position `firstQuery` (an index; null: 0)
  /// plus `past[b]`; the keys and probabilities as `layout` says.
  Value attentionRows(Value qA, Value kA, Value qB, Value kB, Value v,
                      double scale, Value past, Value firstQuery,
                      const AttentionLayout &layout, Value mask = {});

  OpBuilder &b;
  Location loc;
};

} // namespace mlir::dsc

#endif // DSC_DIALECTS_DSC_TENSORMATH_H

//===- LinalgMatchers.h - Recognizing linalg.generic shapes -----*- C++ -*-===//
//
// Small predicates the fusion patterns use to recognize the canonical
// graph's linalg.generic ops: their loop structure, their initial value and
// the kinds of ops in their bodies.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_PASSES_LINALGMATCHERS_H
#define DSC_PASSES_LINALGMATCHERS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir::dsc {

/// Whether `op` has exactly these indexing maps (each a list of loop
/// dimensions, inputs then outputs) and these reduction loops.
bool hasStructure(linalg::GenericOp op, unsigned numLoops,
                  ArrayRef<SmallVector<unsigned>> maps,
                  ArrayRef<unsigned> reductions);

/// Whether `value` is a tensor filled with the float constant 0 (by
/// linalg.fill or an input-less generic).
bool isZeroFilled(Value value);

/// Whether the body consists of ops of exactly the kinds `OpTys`, in order,
/// before its yield.
template <typename... OpTys> bool bodyIs(linalg::GenericOp op) {
  Block &body = op.getRegion().front();
  auto ops = body.without_terminator();
  if (static_cast<size_t>(std::distance(ops.begin(), ops.end())) !=
      sizeof...(OpTys))
    return false;
  auto it = ops.begin();
  return (isa<OpTys>(*it++) && ...);
}

/// Whether the body is exactly `yield(out + in0 * in1 * ...)`: every input a
/// factor once, in any order and association (a contraction, possibly with
/// scale factors). With `widened`, a factor may also be an input widened by
/// `arith.extf` (a bf16 weight read by f32 code).
bool isMultiplyAccumulate(linalg::GenericOp op, bool widened = false);
/// Whether the body is exactly `yield(in0)`: a copy (a transpose or a
/// broadcast, by its indexing maps).
bool isCopy(linalg::GenericOp op);
/// Whether the body is exactly `yield(in0 * in1)` (either order).
bool isProduct(linalg::GenericOp op);
/// Whether the body is exactly `yield(in0 + out)` (either order): a sum.
bool isSum(linalg::GenericOp op);

/// Whether the body contains an op of kind `OpTy`.
template <typename OpTy> bool bodyHas(linalg::GenericOp op) {
  return !op.getRegion().front().getOps<OpTy>().empty();
}

/// The generic defining `value`, with `numInputs` inputs and one output, or
/// null.
linalg::GenericOp definingGeneric(Value value, unsigned numInputs);

/// A block-scaled weight dequantized to f32 (TensorMath::dequantize):
/// `out[..., r, c] = f32(weight[..., r, c]) * scales[..., r / bm, c / bn]`.
struct Dequantized {
  Value weight, scales;
  int64_t bm, bn;
};
/// The dequantization computing `value`, if it is one.
std::optional<Dequantized> matchDequantize(Value value);

/// `x[..., offset : offset + size * stride : stride]`, a slice with static
/// offset and size on the last dimension only (the others start at 0 with
/// unit stride; the rank is kept): returns (x, offset, size).
std::optional<std::tuple<Value, int64_t, int64_t>>
matchSliceLast(Value v, int64_t stride = 1);

/// `v` = `b` inserted at `split` along `dim` into `a` inserted at 0 (into
/// anything): a concatenation of `a` and `b`, the way a frontend writes
/// torch.cat. Returns (a, b, split).
std::optional<std::tuple<Value, Value, int64_t>> matchConcat(Value v,
                                                             unsigned dim);

/// The tensor a shape-only op (tensor.reshape, expand_shape,
/// collapse_shape: row-major reinterpretations) defining `value` reads, or
/// null.
Value reshapeSource(Value value);
/// `value` with shape-only ops looked through.
Value throughReshapes(Value value);
/// The first view of `value` of rank `rank` through shape-only ops, or
/// null.
Value viewOfRank(Value value, int64_t rank);

//===----------------------------------------------------------------------===//
// Reading a generic's body as arithmetic
//===----------------------------------------------------------------------===//

/// `v` without float extensions and truncations around it.
Value peel(Value v);
/// The float constant `v` is, if it is one.
std::optional<double> constantOf(Value v);

/// `v` as a product: the factors it multiplies and the ones it divides by,
/// through any nesting of mulf and divf. Constant factors of 1 are dropped.
struct Product {
  SmallVector<Value> numerators, denominators;
};
Product productOf(Value v);

/// Whether `v` is the negation of `x`: negf x, 0 - x or x * -1.
bool isNegationOf(Value v, Value x);
/// The operand of `add` other than the constant `c`, if one is `c`.
Value addendOf(arith::AddFOp add, double c);

/// Block argument `v` of `op`'s body (through float casts) as (operand
/// index, its indexing map), if it is an input's.
std::optional<std::pair<unsigned, AffineMap>> inputOf(linalg::GenericOp op,
                                                      Value v);
/// `x` when `probs` is its softmax over the last dimension as
/// TensorMath::softmaxLastDim writes it (and frontends' Softmax ops import):
/// `exps / sum(exps)`, `exps = exp(x - max(x))`, the subtraction and the
/// exponential in one generic or two.
Value softmaxInput(Value probs);
/// An all-parallel generic with one identity-mapped result.
bool isElementwise(linalg::GenericOp op);
/// The first value the body yields.
Value yieldedValue(linalg::GenericOp op);

} // namespace mlir::dsc

#endif // DSC_PASSES_LINALGMATCHERS_H

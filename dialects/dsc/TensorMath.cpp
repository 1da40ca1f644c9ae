//===- TensorMath.cpp - Builders for plain tensor math --------------------===//

#include "dialects/dsc/TensorMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

using namespace mlir;
using namespace mlir::dsc;

SmallVector<unsigned> mlir::dsc::iota(unsigned rank) {
  SmallVector<unsigned> dims;
  for (unsigned d = 0; d < rank; ++d)
    dims.push_back(d);
  return dims;
}

SmallVector<OpFoldResult> TensorMath::sizes(Value tensor) {
  // A run-time size is read from the op that states it (the sizes of the
  // `tensor.empty` behind a linalg op, the output shape of an
  // expand_shape, ...), so that one size stays one SSA value through the
  // graph: the importers compare sizes by value (the ONNX one cancels them
  // in reshapes), and fewer `tensor.dim` ops are left to fold.
  auto type = cast<RankedTensorType>(tensor.getType());
  SmallVector<OpFoldResult> out;
  Operation *def = tensor.getDefiningOp();
  if (type.hasStaticShape()) {
  } else if (auto dps = dyn_cast_or_null<DestinationStyleOpInterface>(def)) {
    out = sizes(dps.getTiedOpOperand(cast<OpResult>(tensor))->get());
  } else if (auto empty = dyn_cast_or_null<tensor::EmptyOp>(def)) {
    out = empty.getMixedSizes();
  } else if (auto expand = dyn_cast_or_null<tensor::ExpandShapeOp>(def)) {
    out = expand.getMixedOutputShape();
  } else if (auto collapse = dyn_cast_or_null<tensor::CollapseShapeOp>(def)) {
    SmallVector<OpFoldResult> in = sizes(collapse.getSrc());
    for (const ReassociationIndices &group :
         collapse.getReassociationIndices()) {
      OpFoldResult product = b.getIndexAttr(1);
      for (int64_t d : group)
        product = mul(product, in[d]);
      out.push_back(product);
    }
  } else if (auto slice = dyn_cast_or_null<tensor::ExtractSliceOp>(def);
             slice && slice.getSourceType().getRank() == type.getRank()) {
    out = slice.getMixedSizes();
  } else if (auto cast = dyn_cast_or_null<tensor::CastOp>(def)) {
    out = sizes(cast.getSource());
  } else if (auto reshape = dyn_cast_or_null<tensor::ReshapeOp>(def)) {
    if (auto shape = reshape.getShape().getDefiningOp<tensor::FromElementsOp>())
      out = getAsOpFoldResult(shape.getElements());
  } else if (auto arg = dyn_cast<BlockArgument>(tensor)) {
    // The first `tensor.dim` of the argument at the top of its block, if
    // there is one before the insertion point.
    Block *insertion = b.getInsertionBlock();
    for (int64_t d = 0; d < type.getRank(); ++d) {
      out.push_back(b.getIndexAttr(type.getDimSize(d)));
      if (!type.isDynamicDim(d))
        continue;
      for (Operation *user : arg.getUsers()) {
        auto dim = dyn_cast<tensor::DimOp>(user);
        if (dim && dim->getBlock() == arg.getOwner() &&
            dim.getConstantIndex() == d &&
            (insertion != dim->getBlock() ||
             b.getInsertionPoint() == insertion->end() ||
             dim->isBeforeInBlock(&*b.getInsertionPoint()))) {
          out.back() = dim.getResult();
          break;
        }
      }
      if (isa<Attribute>(out.back()))
        out.back() = tensor::DimOp::create(b, loc, tensor, d).getResult();
    }
  }
  if (out.size() != size_t(type.getRank()))
    out = tensor::getMixedSizes(b, loc, tensor);
  // The type may know more than the producer states.
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (!type.isDynamicDim(d))
      out[d] = b.getIndexAttr(type.getDimSize(d));
  return out;
}

OpFoldResult TensorMath::mul(OpFoldResult x, OpFoldResult y) {
  std::optional<int64_t> cx = getConstantIntValue(x),
                         cy = getConstantIntValue(y);
  if (cx && cy)
    return b.getIndexAttr(*cx * *cy);
  if (cx == 1)
    return y;
  if (cy == 1)
    return x;
  return arith::MulIOp::create(b, loc,
                               getValueOrCreateConstantIndexOp(b, loc, x),
                               getValueOrCreateConstantIndexOp(b, loc, y))
      .getResult();
}

Value TensorMath::empty(ArrayRef<OpFoldResult> sizes, Type elementType) {
  return tensor::EmptyOp::create(b, loc, sizes, elementType);
}

Value TensorMath::filled(ArrayRef<OpFoldResult> sizes, Type elementType,
                         double value) {
  TypedAttr attr;
  if (isa<FloatType>(elementType))
    attr = b.getFloatAttr(elementType, value);
  else
    attr = b.getIntegerAttr(elementType, static_cast<int64_t>(value));
  Value scalar = arith::ConstantOp::create(b, loc, attr);
  return linalg::FillOp::create(b, loc, scalar, empty(sizes, elementType))
      .getResult(0);
}

ValueRange TensorMath::generic(ValueRange inputs, ValueRange outputs,
                               unsigned numLoops,
                               ArrayRef<SmallVector<unsigned>> maps,
                               ArrayRef<unsigned> reductions, BodyFn body) {
  SmallVector<AffineMap> affineMaps;
  for (ArrayRef<unsigned> dims : maps) {
    SmallVector<AffineExpr> exprs;
    for (unsigned d : dims)
      exprs.push_back(b.getAffineDimExpr(d));
    affineMaps.push_back(AffineMap::get(numLoops, 0, exprs, b.getContext()));
  }
  SmallVector<utils::IteratorType> iterators(numLoops,
                                             utils::IteratorType::parallel);
  for (unsigned r : reductions)
    iterators[r] = utils::IteratorType::reduction;
  SmallVector<Type> resultTypes(outputs.getTypes());
  auto op = linalg::GenericOp::create(b, loc, resultTypes, inputs, outputs,
                                      affineMaps, iterators, body);
  return op.getResults();
}

Value TensorMath::map(ValueRange inputs, Type resultElementType, BodyFn body) {
  auto type = cast<RankedTensorType>(inputs.front().getType());
  unsigned rank = type.getRank();
  SmallVector<SmallVector<unsigned>> maps(inputs.size() + 1, iota(rank));
  Value init = empty(sizes(inputs.front()), resultElementType);
  return generic(inputs, init, rank, maps, {}, body)[0];
}

Value TensorMath::matmulTransposed(Value x, Value w) {
  auto xType = cast<RankedTensorType>(x.getType());
  auto wType = cast<RankedTensorType>(w.getType());
  unsigned lead = xType.getRank() - 1;
  // Loops: the leading dims of x, then n, then the reduction k.
  unsigned n = lead, k = lead + 1, numLoops = lead + 2;
  SmallVector<unsigned> xMap, outMap;
  for (unsigned d = 0; d < lead; ++d) {
    xMap.push_back(d);
    outMap.push_back(d);
  }
  xMap.push_back(k);
  outMap.push_back(n);
  SmallVector<OpFoldResult> outSizes = sizes(x);
  outSizes.back() = b.getIndexAttr(wType.getDimSize(0));
  Value init = filled(outSizes, b.getF32Type(), 0.0);
  return generic({x, w}, init, numLoops, {xMap, {n, k}, outMap}, {k},
                 [&](OpBuilder &nb, Location l, ValueRange args) {
                   TensorMath m(nb, l);
                   Value prod = arith::MulFOp::create(nb, l, m.toF32(args[0]),
                                                      m.toF32(args[1]));
                   Value sum = arith::AddFOp::create(nb, l, prod, args[2]);
                   linalg::YieldOp::create(nb, l, sum);
                 })[0];
}

/// Dimension lists of a rank-`rank` tensor: all of them, and all but the
/// last.
static std::pair<SmallVector<unsigned>, SmallVector<unsigned>>
allAndLeading(unsigned rank) {
  SmallVector<unsigned> all = iota(rank);
  return {all, SmallVector<unsigned>(all.begin(), all.end() - 1)};
}

/// Reduces the last dimension of `x` with `combine(element, accumulator)`,
/// starting from `initial`.
template <typename CombineOp>
static Value reduceLastDim(TensorMath &m, Value x, double initial) {
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  auto [all, lead] = allAndLeading(rank);
  SmallVector<OpFoldResult> outSizes = m.sizes(x);
  outSizes.pop_back();
  Value init = m.filled(outSizes, type.getElementType(), initial);
  return m.generic(
      x, init, rank, {all, lead}, {rank - 1},
      [](OpBuilder &nb, Location l, ValueRange args) {
        linalg::YieldOp::create(
            nb, l, CombineOp::create(nb, l, args[0], args[1]).getResult());
      })[0];
}

Value TensorMath::sumLastDim(Value x) {
  return reduceLastDim<arith::AddFOp>(*this, x, 0.0);
}

Value TensorMath::maxLastDim(Value x) {
  return reduceLastDim<arith::MaximumFOp>(
      *this, x, -std::numeric_limits<double>::infinity());
}

/// `combine(x, rowValue)` for every element, `rowValue` broadcast along the
/// last dimension.
template <typename CombineOp>
static Value combineWithRow(TensorMath &m, Value x, Value row) {
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  auto [all, lead] = allAndLeading(rank);
  return m.generic(
      {x, row}, m.empty(m.sizes(x), type.getElementType()), rank,
      {all, lead, all}, {}, [](OpBuilder &nb, Location l, ValueRange a) {
        linalg::YieldOp::create(
            nb, l, CombineOp::create(nb, l, a[0], a[1]).getResult());
      })[0];
}

Value TensorMath::softmaxLastDim(Value x, bool bf16Numerators) {
  Value shifted = combineWithRow<arith::SubFOp>(*this, x, maxLastDim(x));
  Type eltType = cast<RankedTensorType>(x.getType()).getElementType();
  Value exps =
      map(shifted, eltType, [](OpBuilder &nb, Location l, ValueRange a) {
        linalg::YieldOp::create(nb, l,
                                math::ExpOp::create(nb, l, a[0]).getResult());
      });
  Value numerators = exps;
  if (bf16Numerators)
    numerators =
        map(exps, eltType, [&](OpBuilder &nb, Location l, ValueRange a) {
          TensorMath s(nb, l);
          linalg::YieldOp::create(nb, l,
                                  s.toF32(s.fromF32(a[0], nb.getBF16Type())));
        });
  return combineWithRow<arith::DivFOp>(*this, numerators, sumLastDim(exps));
}

Value TensorMath::transposed(Value x, ArrayRef<unsigned> read) {
  SmallVector<OpFoldResult> xs = sizes(x), outSizes(xs.size());
  SmallVector<unsigned> all;
  for (auto [k, loop] : llvm::enumerate(read)) {
    outSizes[loop] = xs[k];
    all.push_back(k);
  }
  Type eltType = cast<RankedTensorType>(x.getType()).getElementType();
  return generic(x, empty(outSizes, eltType), read.size(),
                 {SmallVector<unsigned>(read), all}, {},
                 [](OpBuilder &nb, Location l, ValueRange a) {
                   linalg::YieldOp::create(nb, l, a[0]);
                 })[0];
}

Value TensorMath::sliceLast(Value x, int64_t offset, int64_t size) {
  unsigned rank = cast<RankedTensorType>(x.getType()).getRank();
  return sliceDim(x, rank - 1, b.getIndexAttr(offset), b.getIndexAttr(size));
}

Value TensorMath::sliceDim(Value x, unsigned dim, OpFoldResult offset,
                           OpFoldResult size) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<OpFoldResult> sliceSizes = sizes(x);
  SmallVector<OpFoldResult> offsets(sliceSizes.size(), b.getIndexAttr(0));
  SmallVector<OpFoldResult> strides(sliceSizes.size(), b.getIndexAttr(1));
  offsets[dim] = offset;
  sliceSizes[dim] = size;
  SmallVector<int64_t> shape(type.getShape());
  std::optional<int64_t> staticSize = getConstantIntValue(size);
  shape[dim] = staticSize ? *staticSize : ShapedType::kDynamic;
  return tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), x, offsets,
      sliceSizes, strides);
}

Value TensorMath::concat(Value first, Value second, unsigned dim) {
  auto type = cast<RankedTensorType>(first.getType());
  int64_t split = type.getDimSize(dim);
  SmallVector<OpFoldResult> total = sizes(first);
  total[dim] = b.getIndexAttr(
      split + cast<RankedTensorType>(second.getType()).getDimSize(dim));
  Value out = empty(total, type.getElementType());
  SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
  SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
  out = tensor::InsertSliceOp::create(b, loc, first, out, offsets, sizes(first),
                                      strides);
  offsets[dim] = b.getIndexAttr(split);
  return tensor::InsertSliceOp::create(b, loc, second, out, offsets,
                                       sizes(second), strides);
}

Value TensorMath::concatLast(Value first, Value second) {
  return concat(first, second,
                cast<RankedTensorType>(first.getType()).getRank() - 1);
}

/// Groups of consecutive dimensions of `shape`, each holding one dimension
/// not statically 1 and the unit ones before it (the last group also those
/// after it), with those dimensions; no groups when all are units.
static std::pair<SmallVector<ReassociationIndices>, SmallVector<int64_t>>
groupUnitDims(ArrayRef<int64_t> shape) {
  SmallVector<ReassociationIndices> groups;
  SmallVector<int64_t> kept;
  ReassociationIndices pending;
  for (int64_t d = 0, e = shape.size(); d < e; ++d) {
    pending.push_back(d);
    if (shape[d] == 1)
      continue;
    groups.push_back(std::move(pending));
    pending.clear();
    kept.push_back(shape[d]);
  }
  if (!groups.empty())
    groups.back().append(pending.begin(), pending.end());
  return {groups, kept};
}

Value TensorMath::withUnitDims(Value x, ArrayRef<OpFoldResult> target) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> targetShape;
  for (OpFoldResult size : target)
    targetShape.push_back(
        getConstantIntValue(size).value_or(ShapedType::kDynamic));
  auto [from, fromKept] = groupUnitDims(type.getShape());
  auto [to, toKept] = groupUnitDims(targetShape);
  if (fromKept.size() != toKept.size())
    return {};
  for (auto [p, q] : llvm::zip_equal(fromKept, toKept))
    if (!ShapedType::isDynamic(p) && !ShapedType::isDynamic(q) && p != q)
      return {};
  if (type.getShape() == ArrayRef(targetShape))
    return x;
  // Through the kept dimensions alone; each group has at most one run-time
  // size (an expand_shape group with two is not lowered reliably).
  SmallVector<int64_t> keptShape(fromKept);
  for (auto [k, q] : llvm::enumerate(toKept))
    if (ShapedType::isDynamic(keptShape[k]))
      keptShape[k] = q;
  Value kept = x;
  if (keptShape.size() != static_cast<size_t>(type.getRank()))
    kept = tensor::CollapseShapeOp::create(
        b, loc, RankedTensorType::get(keptShape, type.getElementType()), x,
        from);
  if (keptShape.size() == targetShape.size())
    return kept;
  return tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(targetShape, type.getElementType()), kept,
      to, target);
}

/// `OpTy` (a unary float op) of each element of `x`.
template <typename OpTy> static Value elementwise(TensorMath &m, Value x) {
  Type eltType = cast<RankedTensorType>(x.getType()).getElementType();
  return m.map(x, eltType, [](OpBuilder &nb, Location l, ValueRange a) {
    linalg::YieldOp::create(nb, l, OpTy::create(nb, l, a[0]).getResult());
  });
}

Value TensorMath::ropeDecomposed(Value x, Value positions, Value frequencies,
                                 bool interleaved) {
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  int64_t half = type.getShape().back() / 2;
  Type f32 = b.getF32Type();
  // angles[b, s, i] = positions[b, s] * frequencies[i], then cos and sin.
  SmallVector<OpFoldResult> tableSizes = sizes(positions);
  unsigned posRank = tableSizes.size();
  tableSizes.push_back(b.getIndexAttr(half));
  auto [tableAll, tableLead] = allAndLeading(posRank + 1);
  Value angles =
      generic({positions, frequencies}, empty(tableSizes, f32), posRank + 1,
              {tableLead, {posRank}, tableAll}, {},
              [](OpBuilder &nb, Location l, ValueRange a) {
                Value pos =
                    arith::SIToFPOp::create(nb, l, nb.getF32Type(), a[0]);
                linalg::YieldOp::create(
                    nb, l, arith::MulFOp::create(nb, l, pos, a[1]).getResult());
              })[0];
  Value cos = elementwise<math::CosOp>(*this, angles);
  Value sin = elementwise<math::SinOp>(*this, angles);

  // The pairs' first and second elements.
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
  SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
  SmallVector<OpFoldResult> halfSizes = sizes(x);
  halfSizes.back() = b.getIndexAttr(half);
  strides.back() = b.getIndexAttr(interleaved ? 2 : 1);
  SmallVector<int64_t> halfShape(type.getShape());
  halfShape.back() = half;
  auto halfType = RankedTensorType::get(halfShape, type.getElementType());
  auto element = [&](int64_t first) {
    offsets.back() = b.getIndexAttr(first);
    return tensor::ExtractSliceOp::create(b, loc, halfType, x, offsets,
                                          halfSizes, strides)
        .getResult();
  };
  Value first = element(0), second = element(interleaved ? 1 : half);

  // The tables are shared by the heads.
  auto [all, lead] = allAndLeading(rank);
  SmallVector<unsigned> table(all.begin(), all.begin() + posRank);
  table.push_back(rank - 1);
  auto rotate = [&](Value v, Value partner, bool subtract) {
    return generic(
        {v, cos, partner, sin}, empty(sizes(v), type.getElementType()), rank,
        {all, table, all, table, all}, {},
        [&](OpBuilder &nb, Location l, ValueRange a) {
          TensorMath s(nb, l);
          Value c = arith::MulFOp::create(nb, l, s.toF32(a[0]), a[1]);
          Value p = arith::MulFOp::create(nb, l, s.toF32(a[2]), a[3]);
          Value y = subtract ? arith::SubFOp::create(nb, l, c, p).getResult()
                             : arith::AddFOp::create(nb, l, c, p).getResult();
          linalg::YieldOp::create(nb, l, s.fromF32(y, type.getElementType()));
        })[0];
  };
  return concatLast(rotate(first, second, true), rotate(second, first, false));
}

namespace {
bool isPerHead(Value t) {
  return cast<RankedTensorType>(t.getType()).getRank() == 4;
}
} // namespace

Value TensorMath::causalAttention(Value qA, Value kA, Value qB, Value kB,
                                  Value v, double scale, Value past,
                                  const AttentionLayout &layout, Value mask) {
  if (layout.transposeKeys) {
    // k[b, j, h, d] -> kT[b, h, d, j] (loops b, h, d, j), or k[b, j, d]
    // -> kT[b, d, j] (loops b, d, j).
    auto transpose = [&](Value k) {
      return isPerHead(k) ? transposed(k, {0, 3, 1, 2})
                          : transposed(k, {0, 2, 1});
    };
    kA = transpose(kA);
    kB = transpose(kB);
  }
  // A mask from the graph may show any key to any query: no blocks.
  if (!layout.queryBlock || past || mask)
    return attentionRows(qA, kA, qB, kB, v, scale, past, Value(), layout, mask);

  // Blocks of queries [start, start + rows), each over keys [0, start +
  // rows): the keys past a block's last query are masked for all its rows.
  SmallVector<OpFoldResult> qs = sizes(qA);
  Value seq = getValueOrCreateConstantIndexOp(b, loc, qs[1]);
  Value block = index(layout.queryBlock);
  // Every row is written by its block.
  Value out = empty({qs[0], qs[1], qs[2], sizes(v).back()}, b.getF32Type());
  auto loop = scf::ForOp::create(
      b, loc, index(0), seq, block, ValueRange{out},
      [&](OpBuilder &nb, Location l, Value start, ValueRange acc) {
        TensorMath s(nb, l);
        Value rows = arith::MinUIOp::create(
            nb, l, block, arith::SubIOp::create(nb, l, seq, start));
        Value keys = arith::AddIOp::create(nb, l, start, rows);
        auto keysOf = [&](Value k) {
          unsigned rank = cast<RankedTensorType>(k.getType()).getRank();
          unsigned keyDim = layout.transposeKeys ? rank - 1 : 1;
          return s.sliceDim(k, keyDim, nb.getIndexAttr(0), keys);
        };
        Value rowsOut =
            s.attentionRows(s.sliceDim(qA, 1, start, rows), keysOf(kA),
                            s.sliceDim(qB, 1, start, rows), keysOf(kB),
                            s.sliceDim(v, 1, nb.getIndexAttr(0), keys), scale,
                            Value(), start, layout);
        SmallVector<OpFoldResult> offsets(4, nb.getIndexAttr(0));
        offsets[1] = start;
        SmallVector<OpFoldResult> strides(4, nb.getIndexAttr(1));
        Value updated = tensor::InsertSliceOp::create(
            nb, l, rowsOut, acc[0], offsets, s.sizes(rowsOut), strides);
        scf::YieldOp::create(nb, l, updated);
      });
  return loop.getResult(0);
}

Value TensorMath::attentionRows(Value qA, Value kA, Value qB, Value kB, Value v,
                                double scale, Value past, Value firstQuery,
                                const AttentionLayout &layout, Value mask) {
  bool keysTransposed = layout.transposeKeys;
  Type f32 = b.getF32Type();
  SmallVector<OpFoldResult> qs = sizes(qA);
  auto multiplyAdd = [](OpBuilder &nb, Location l, ValueRange a) {
    TensorMath s(nb, l);
    Value p = arith::MulFOp::create(nb, l, s.toF32(a[0]), s.toF32(a[1]));
    linalg::YieldOp::create(nb, l,
                            arith::AddFOp::create(nb, l, p, a[2]).getResult());
  };
  // Loops (b, h, i, j, d): score[b, h, i, j] += q[b, i, h, d] * k[b, j, (h,) d]
  // (or kT[b, (h,) d, j]).
  unsigned rankA = cast<RankedTensorType>(kA.getType()).getRank();
  unsigned keyDim = keysTransposed ? rankA - 1 : 1;
  Value scores = filled({qs[0], qs[2], qs[1], sizes(kA)[keyDim]}, f32, 0.0);
  for (auto [q, k] : {std::make_pair(qA, kA), std::make_pair(qB, kB)}) {
    SmallVector<unsigned> kMap;
    if (keysTransposed)
      kMap = isPerHead(k) ? SmallVector<unsigned>{0, 1, 4, 3}
                          : SmallVector<unsigned>{0, 4, 3};
    else
      kMap = isPerHead(k) ? SmallVector<unsigned>{0, 3, 1, 4}
                          : SmallVector<unsigned>{0, 3, 4};
    scores = generic({q, k}, scores, 5, {{0, 2, 1, 4}, kMap, {0, 1, 2, 3}}, {4},
                     multiplyAdd)[0];
  }
  Value masked;
  if (mask) {
    // Scale, and add the graph's mask [b, 0, i, j].
    Value rows = tensor::CollapseShapeOp::create(
        b, loc, mask, SmallVector<ReassociationIndices>{{0, 1}, {2}, {3}});
    masked = generic(
        {scores, rows}, empty(sizes(scores), f32), 4,
        {{0, 1, 2, 3}, {0, 2, 3}, {0, 1, 2, 3}}, {},
        [&](OpBuilder &nb, Location l, ValueRange a) {
          TensorMath s(nb, l);
          Value scaled = arith::MulFOp::create(nb, l, a[0], s.f32(scale));
          linalg::YieldOp::create(
              nb, l, arith::AddFOp::create(nb, l, scaled, a[1]).getResult());
        })[0];
  } else {
    // Scale, and mask the future: position j > i is not visible from i.
    masked = map(scores, f32, [&](OpBuilder &nb, Location l, ValueRange a) {
      TensorMath s(nb, l);
      Value i = linalg::IndexOp::create(nb, l, 2);
      Value j = linalg::IndexOp::create(nb, l, 3);
      if (firstQuery)
        i = arith::AddIOp::create(nb, l, i, firstQuery);
      if (past) {
        // Query i is at position past[b] + i.
        Value seen = tensor::ExtractOp::create(
            nb, l, past, ValueRange{linalg::IndexOp::create(nb, l, 0)});
        i = arith::AddIOp::create(
            nb, l, i,
            arith::IndexCastOp::create(nb, l, nb.getIndexType(), seen));
      }
      Value future =
          arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ugt, j, i);
      Value scaled = arith::MulFOp::create(nb, l, a[0], s.f32(scale));
      linalg::YieldOp::create(
          nb, l,
          arith::SelectOp::create(
              nb, l, future, s.f32(-std::numeric_limits<double>::infinity()),
              scaled)
              .getResult());
    });
  }
  Value probs = softmaxLastDim(masked, layout.bf16Probabilities);
  // Loops (b, i, h, e, j): out[b, i, h, e] += p[b, h, i, j] * v[b, j, (h,) e]
  SmallVector<OpFoldResult> outSizes = {qs[0], qs[1], qs[2], sizes(v).back()};
  SmallVector<unsigned> vMap = isPerHead(v) ? SmallVector<unsigned>{0, 4, 2, 3}
                                            : SmallVector<unsigned>{0, 4, 3};
  return generic({probs, v}, filled(outSizes, f32, 0.0), 5,
                 {{0, 2, 1, 4}, vMap, {0, 1, 2, 3}}, {4}, multiplyAdd)[0];
}

Value TensorMath::rmsNorm(Value x, Value w, double eps) {
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  int64_t width = type.getShape().back();
  auto [all, lead] = allAndLeading(rank);
  SmallVector<OpFoldResult> leadSizes = sizes(x);
  leadSizes.pop_back();
  Value sumSq =
      generic(x, filled(leadSizes, b.getF32Type(), 0.0), rank, {all, lead},
              {rank - 1}, [](OpBuilder &nb, Location l, ValueRange a) {
                Value v = TensorMath(nb, l).toF32(a[0]);
                Value sq = arith::MulFOp::create(nb, l, v, v);
                linalg::YieldOp::create(
                    nb, l, arith::AddFOp::create(nb, l, sq, a[1]).getResult());
              })[0];
  Type eltType = type.getElementType();
  return generic({x, sumSq, w}, empty(sizes(x), eltType), rank,
                 {all, lead, {rank - 1}, all}, {},
                 [&](OpBuilder &nb, Location l, ValueRange a) {
                   TensorMath s(nb, l);
                   Value mean = arith::DivFOp::create(
                       nb, l, a[1], s.f32(static_cast<double>(width)));
                   Value inv = math::RsqrtOp::create(
                       nb, l, arith::AddFOp::create(nb, l, mean, s.f32(eps)));
                   Value y = arith::MulFOp::create(nb, l, s.toF32(a[0]), inv);
                   y = arith::MulFOp::create(nb, l, y, s.toF32(a[2]));
                   linalg::YieldOp::create(nb, l, s.fromF32(y, eltType));
                 })[0];
}

Value TensorMath::sigmoid(Value x) {
  return map(x, b.getF32Type(), [](OpBuilder &nb, Location l, ValueRange a) {
    TensorMath s(nb, l);
    Value e = math::ExpOp::create(nb, l, arith::NegFOp::create(nb, l, a[0]));
    linalg::YieldOp::create(
        nb, l,
        arith::DivFOp::create(nb, l, s.f32(1.0),
                              arith::AddFOp::create(nb, l, s.f32(1.0), e))
            .getResult());
  });
}

Value TensorMath::gatherColumns(Value x, Value indices) {
  return generic(
      indices, empty(sizes(indices), b.getF32Type()), 2, {{0, 1}, {0, 1}}, {},
      [&](OpBuilder &nb, Location l, ValueRange a) {
        Value row = linalg::IndexOp::create(nb, l, 0);
        Value col = arith::IndexCastOp::create(nb, l, nb.getIndexType(), a[0]);
        linalg::YieldOp::create(
            nb, l,
            tensor::ExtractOp::create(nb, l, x, ValueRange{row, col})
                .getResult());
      })[0];
}

Value TensorMath::swiglu(Value g, Value u, Type elementType) {
  Type eltType = elementType
                     ? elementType
                     : cast<RankedTensorType>(g.getType()).getElementType();
  return map({g, u}, eltType, [&](OpBuilder &nb, Location l, ValueRange a) {
    TensorMath s(nb, l);
    Value gate = s.toF32(a[0]);
    Value negG = arith::NegFOp::create(nb, l, gate);
    Value denom = arith::AddFOp::create(nb, l, s.f32(1.0),
                                        math::ExpOp::create(nb, l, negG));
    Value silu = arith::DivFOp::create(nb, l, gate, denom);
    Value y = arith::MulFOp::create(nb, l, silu, s.toF32(a[1]));
    linalg::YieldOp::create(nb, l, s.fromF32(y, eltType));
  });
}

Value TensorMath::dequantize(Value weight, Value scales, int64_t bm,
                             int64_t bn) {
  unsigned rank = cast<RankedTensorType>(weight.getType()).getRank();
  auto [all, lead] = allAndLeading(rank);
  return generic(
      weight, empty(sizes(weight), b.getF32Type()), rank, {all, all}, {},
      [&](OpBuilder &nb, Location l, ValueRange a) {
        TensorMath s(nb, l);
        SmallVector<Value> at;
        for (unsigned d = 0; d + 2 < rank; ++d)
          at.push_back(linalg::IndexOp::create(nb, l, d));
        at.push_back(arith::DivUIOp::create(
            nb, l, linalg::IndexOp::create(nb, l, rank - 2), s.index(bm)));
        at.push_back(arith::DivUIOp::create(
            nb, l, linalg::IndexOp::create(nb, l, rank - 1), s.index(bn)));
        Value scale = tensor::ExtractOp::create(nb, l, scales, at);
        linalg::YieldOp::create(
            nb, l,
            arith::MulFOp::create(nb, l, s.toF32(a[0]), scale).getResult());
      })[0];
}

Value TensorMath::dequantizeByBlocks(Value weight, Value scales, int64_t bm,
                                     int64_t bn, Type elementType) {
  Type f32 = b.getF32Type();
  if (!elementType)
    elementType = f32;
  auto type = cast<RankedTensorType>(weight.getType());
  unsigned rank = type.getRank();
  int64_t cols = type.getShape().back();
  if (!type.hasStaticShape() || cols % bn != 0) {
    Value dequantized = dequantize(weight, scales, bm, bn);
    if (elementType == f32)
      return dequantized;
    return map(dequantized, elementType,
               [&](OpBuilder &nb, Location l, ValueRange a) {
                 linalg::YieldOp::create(
                     nb, l, TensorMath(nb, l).fromF32(a[0], elementType));
               });
  }
  // [..., R, C] -> [..., R, C / bn, bn]: loops (..., r, cb, ci) with the
  // scale [..., r floordiv bm, cb] fixed along the innermost loop.
  SmallVector<int64_t> shape(type.getShape());
  shape.back() = cols / bn;
  shape.push_back(bn);
  SmallVector<ReassociationIndices> grouping;
  for (unsigned d = 0; d + 1 < rank; ++d)
    grouping.push_back({d});
  grouping.push_back({rank - 1, rank});
  Value blocks = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), weight,
      grouping);
  unsigned loops = rank + 1;
  MLIRContext *ctx = b.getContext();
  SmallVector<AffineExpr> scaleAt;
  for (unsigned d = 0; d + 2 < rank; ++d)
    scaleAt.push_back(getAffineDimExpr(d, ctx));
  scaleAt.push_back(getAffineDimExpr(rank - 2, ctx).floorDiv(bm));
  scaleAt.push_back(getAffineDimExpr(rank - 1, ctx));
  AffineMap identity = AffineMap::getMultiDimIdentityMap(loops, ctx);
  SmallVector<AffineMap> maps = {
      identity, AffineMap::get(loops, 0, scaleAt, ctx), identity};
  SmallVector<utils::IteratorType> iterators(loops,
                                             utils::IteratorType::parallel);
  // A weight dequantized for a GEMM (not f32) gets a buffer of its own:
  // identical empty tensors would be CSE'd into one, and bufferization
  // would then reuse one layer's gate weight for its up weight, which a
  // fused gate-and-up kernel must read together.
  auto blockType = RankedTensorType::get(shape, elementType);
  Value init = elementType == f32
                   ? empty(getAsIndexOpFoldResult(ctx, shape), elementType)
                   : bufferization::AllocTensorOp::create(b, loc, blockType,
                                                          ValueRange{})
                         .getResult();
  auto op = linalg::GenericOp::create(
      b, loc, TypeRange{blockType}, ValueRange{blocks, scales},
      ValueRange{init}, maps, iterators,
      [&](OpBuilder &nb, Location l, ValueRange a) {
        TensorMath s(nb, l);
        Value w = arith::MulFOp::create(nb, l, s.toF32(a[0]), a[1]);
        linalg::YieldOp::create(nb, l, s.fromF32(w, elementType));
      });
  return tensor::CollapseShapeOp::create(
      b, loc, RankedTensorType::get(type.getShape(), elementType),
      op.getResult(0), grouping);
}

Value TensorMath::joinKvB(Value wUK, Value wUV) {
  auto type = cast<RankedTensorType>(wUK.getType());
  int64_t rows = type.getDimSize(0) *
                 (type.getDimSize(1) +
                  cast<RankedTensorType>(wUV.getType()).getDimSize(1));
  return tensor::CollapseShapeOp::create(
      b, loc,
      RankedTensorType::get({rows, type.getDimSize(2)}, type.getElementType()),
      concat(wUK, wUV, 1), SmallVector<ReassociationIndices>{{0, 1}, {2}});
}

/// The halves `joinKvB` joined into `kvb`, when it did.
static std::optional<std::pair<Value, Value>>
joinedHalves(Value kvb, int64_t heads, int64_t dn, int64_t dv) {
  auto collapse = kvb.getDefiningOp<tensor::CollapseShapeOp>();
  auto second = collapse
                    ? collapse.getSrc().getDefiningOp<tensor::InsertSliceOp>()
                    : tensor::InsertSliceOp();
  auto first = second ? second.getDest().getDefiningOp<tensor::InsertSliceOp>()
                      : tensor::InsertSliceOp();
  if (!first || !first.getDest().getDefiningOp<tensor::EmptyOp>() ||
      collapse.getReassociationIndices() !=
          SmallVector<ReassociationIndices>{{0, 1}, {2}})
    return std::nullopt;
  int64_t c = collapse.getResultType().getDimSize(1);
  auto isSlab = [&](tensor::InsertSliceOp slice, int64_t offset, int64_t rows) {
    return slice.hasUnitStride() && slice.getSourceType().getRank() == 3 &&
           slice.getStaticOffsets() == ArrayRef<int64_t>{0, offset, 0} &&
           slice.getStaticSizes() == ArrayRef<int64_t>{heads, rows, c} &&
           slice.getSourceType().hasStaticShape();
  };
  if (!isSlab(first, 0, dn) || !isSlab(second, dn, dv))
    return std::nullopt;
  return std::make_pair(first.getSource(), second.getSource());
}

std::pair<Value, Value> TensorMath::splitKvB(Value kvb, int64_t heads,
                                             int64_t dn, int64_t dv) {
  // Halves joined for dsc.mla are read where they are, so the join itself
  // dies.
  if (auto halves = joinedHalves(kvb, heads, dn, dv))
    return *halves;
  auto type = cast<RankedTensorType>(kvb.getType());
  int64_t c = type.getDimSize(1);
  Value perHead = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get({heads, dn + dv, c}, type.getElementType()),
      kvb, SmallVector<ReassociationIndices>{{0, 1}, {2}});
  auto slab = [&](int64_t offset, int64_t rows) -> Value {
    SmallVector<OpFoldResult> offsets = {
        b.getIndexAttr(0), b.getIndexAttr(offset), b.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(heads),
                                       b.getIndexAttr(rows), b.getIndexAttr(c)};
    SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
    return tensor::ExtractSliceOp::create(b, loc, perHead, offsets, sizes,
                                          strides);
  };
  return {slab(0, dn), slab(dn, dv)};
}

/// Per head, x [..., H, n] times W's slab of head h, summed over n into
/// [..., H, width]: loops (..., h, o, n), W [H, n, width] or, `byOutput`,
/// [H, width, n]; f32 sums.
static Value perHeadProduct(TensorMath &m, Value x, Value w, int64_t width,
                            bool byOutput) {
  OpBuilder &b = m.builder();
  SmallVector<OpFoldResult> sizes = m.sizes(x);
  unsigned rank = sizes.size(), h = rank - 2, o = rank - 1, n = rank;
  SmallVector<unsigned> xMap, outMap;
  for (unsigned d = 0; d < h; ++d) {
    xMap.push_back(d);
    outMap.push_back(d);
  }
  xMap.append({h, n});
  outMap.append({h, o});
  SmallVector<unsigned> wMap = byOutput ? SmallVector<unsigned>{h, o, n}
                                        : SmallVector<unsigned>{h, n, o};
  sizes.back() = b.getIndexAttr(width);
  return m.generic(
      {x, w}, m.filled(sizes, b.getF32Type(), 0.0), rank + 1,
      {xMap, wMap, outMap}, {n}, [](OpBuilder &nb, Location l, ValueRange a) {
        TensorMath s(nb, l);
        Value p = arith::MulFOp::create(nb, l, s.toF32(a[0]), s.toF32(a[1]));
        linalg::YieldOp::create(
            nb, l, arith::AddFOp::create(nb, l, p, a[2]).getResult());
      })[0];
}

Value TensorMath::absorbQueries(Value qNope, Value wUK) {
  // qLat[..., h, c] += qNope[..., h, n] W_UK[h, n, c]
  return perHeadProduct(*this, qNope, wUK,
                        cast<RankedTensorType>(wUK.getType()).getDimSize(2),
                        /*byOutput=*/false);
}

Value TensorMath::projectValues(Value outLatent, Value wUV) {
  // out[..., h, v] += oLat[..., h, c] W_UV[h, v, c]
  return perHeadProduct(*this, outLatent, wUV,
                        cast<RankedTensorType>(wUV.getType()).getDimSize(1),
                        /*byOutput=*/true);
}

Value TensorMath::absorbedAttention(Value qNope, Value qPe, Value latentKeys,
                                    Value ropeKeys, Value wUK, Value wUV,
                                    double scale, Value past,
                                    const AttentionLayout &layout, Value mask) {
  Value outLatent =
      causalAttention(absorbQueries(qNope, wUK), latentKeys, qPe, ropeKeys,
                      latentKeys, scale, past, layout, mask);
  return projectValues(outLatent, wUV);
}

Value TensorMath::add(Value lhs, Value rhs) {
  Type elt = cast<RankedTensorType>(lhs.getType()).getElementType();
  return map({lhs, rhs}, elt, [](OpBuilder &nb, Location l, ValueRange a) {
    linalg::YieldOp::create(
        nb, l, arith::AddFOp::create(nb, l, a[0], a[1]).getResult());
  });
}

Value TensorMath::f32(double value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

Value TensorMath::f32Vector(ArrayRef<float> values) {
  auto type = RankedTensorType::get({static_cast<int64_t>(values.size())},
                                    b.getF32Type());
  return arith::ConstantOp::create(b, loc,
                                   DenseElementsAttr::get(type, values));
}

Value TensorMath::i64(int64_t value) {
  return arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(value));
}

Value TensorMath::index(int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

/// Decodes an f8E4M3FN scalar to f32 with integer arithmetic. LLVM has no
/// 8-bit float type and MLIR 22 has no lowering for arith.extf from it (on
/// either CPU or NVVM), so the bits are taken apart by hand: sign, 4-bit
/// exponent (bias 7), 3-bit mantissa; exponent 0 is subnormal (m * 2^-9),
/// S.1111.111 is NaN, and there are no infinities.
static Value decodeF8E4M3FN(OpBuilder &b, Location loc, Value scalar) {
  Type i8 = b.getI8Type(), i32 = b.getI32Type(), f32 = b.getF32Type();
  auto c32 = [&](int64_t v) {
    return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
  };
  Value bits = arith::ExtUIOp::create(
      b, loc, i32, arith::BitcastOp::create(b, loc, i8, scalar));
  Value sign = arith::ShLIOp::create(
      b, loc, arith::ShRUIOp::create(b, loc, bits, c32(7)), c32(31));
  Value exponent = arith::AndIOp::create(
      b, loc, arith::ShRUIOp::create(b, loc, bits, c32(3)), c32(15));
  Value mantissa = arith::AndIOp::create(b, loc, bits, c32(7));
  // Normal: f32 exponent e - 7 + 127, mantissa bits at the top.
  Value normal = arith::OrIOp::create(
      b, loc,
      arith::ShLIOp::create(
          b, loc, arith::AddIOp::create(b, loc, exponent, c32(120)), c32(23)),
      arith::ShLIOp::create(b, loc, mantissa, c32(20)));
  Value normalF = arith::BitcastOp::create(b, loc, f32, normal);
  Value subnormalF = arith::MulFOp::create(
      b, loc, arith::UIToFPOp::create(b, loc, f32, mantissa),
      arith::ConstantOp::create(b, loc, b.getF32FloatAttr(1.0f / 512.0f)));
  Value isSubnormal =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, exponent, c32(0));
  Value magnitude =
      arith::SelectOp::create(b, loc, isSubnormal, subnormalF, normalF);
  Value isNan = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::eq,
      arith::AndIOp::create(b, loc, bits, c32(0x7f)), c32(0x7f));
  magnitude = arith::SelectOp::create(
      b, loc, isNan,
      arith::ConstantOp::create(
          b, loc, b.getF32FloatAttr(std::numeric_limits<float>::quiet_NaN())),
      magnitude);
  Value signedBits = arith::OrIOp::create(
      b, loc, arith::BitcastOp::create(b, loc, i32, magnitude), sign);
  return arith::BitcastOp::create(b, loc, f32, signedBits);
}

Value TensorMath::toF32(Value scalar) {
  Type type = scalar.getType();
  Type f32Type = b.getF32Type();
  if (type == f32Type)
    return scalar;
  if (isa<Float8E4M3FNType>(type))
    return decodeF8E4M3FN(b, loc, scalar);
  if (cast<FloatType>(type).getWidth() < 32)
    return arith::ExtFOp::create(b, loc, f32Type, scalar);
  return arith::TruncFOp::create(b, loc, f32Type, scalar);
}

Value TensorMath::fromF32(Value scalar, Type type) {
  if (type == b.getF32Type())
    return scalar;
  return arith::TruncFOp::create(b, loc, type, scalar);
}

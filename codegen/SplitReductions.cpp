//===- SplitReductions.cpp - Long reductions in two parallel stages -------===//
//
// A GPU's generated kernels give each output of a reduction one thread that
// sums its whole extent in order: RMSNorm's sum of squares over
// DeepSeek-V3's 7168 hidden values is 7168 dependent steps on each of a
// decode's 64 threads, the rest of the GPU idle. Split, the same sum is
// `parts` partial sums per output, each over a strided slice (neighbouring
// threads read neighbouring values), then a sum of the parts: two short
// chains over many threads.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"

#include "mlir/Analysis/SliceAnalysis.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"

#define DEBUG_TYPE "dsc-split-reductions"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCSPLITREDUCTIONS
#include "codegen/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {

// Fewer parts than this are not worth a second launch and a buffer.
constexpr int64_t kFewestParts = 4;

/// The number of parts to split a reduction of static `extent` into: the
/// largest divisor of `extent` that leaves each part at least `minPart`
/// values, at most `maxParts`; 1 when there is none of kFewestParts or
/// more.
int64_t partsFor(int64_t extent, int64_t minPart, int64_t maxParts) {
  for (int64_t parts = std::min(maxParts, extent / minPart);
       parts >= kFewestParts; --parts)
    if (extent % parts == 0)
      return parts;
  return 1;
}

/// The static extent of `op`'s one reduction loop and the op that folds
/// each value into the accumulator, if `op` is a reduction this pass
/// splits: inputs read through projected permutations, at least one of
/// them along the reduction (a sum of squares reads one, a GEMM's dot
/// products two), one float output that is not read along it, not an op
/// the kernel library takes (a marked GEMM or combine), a combiner linalg can
/// name (one add, mul, min or max into the accumulator), a body that does
/// not read its loop indices. Floats only: an integer sum reordered could
/// overflow where the ordered one did not.
std::optional<std::pair<int64_t, Operation *>>
splittable(linalg::GenericOp op) {
  if (!op.hasPureTensorSemantics() || op.getNumDpsInputs() < 1 ||
      op.getNumDpsInits() != 1 || op.getNumReductionLoops() != 1 ||
      hasLibraryMark(op) || !op.getBody()->getOps<linalg::IndexOp>().empty() ||
      !isa<FloatType>(getElementTypeOrSelf(op.getDpsInits()[0].getType())))
    return std::nullopt;
  SmallVector<unsigned> reductionDims;
  op.getReductionDims(reductionDims);
  AffineExpr r = getAffineDimExpr(reductionDims.front(), op.getContext());
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  AffineMap outMap = maps.back();
  ArrayRef<AffineMap> inMaps = ArrayRef(maps).drop_back();
  if (!llvm::all_of(
          maps, [](AffineMap map) { return map.isProjectedPermutation(); }) ||
      llvm::none_of(inMaps,
                    [&](AffineMap map) {
                      return map.getResultPosition(r).has_value();
                    }) ||
      outMap.getResultPosition(r))
    return std::nullopt;
  // Each input read along the reduction has its extent statically (an
  // input of size `?` there cannot be expanded into static parts).
  for (auto [input, map] : llvm::zip(op.getDpsInputs(), inMaps))
    if (std::optional<unsigned> at = map.getResultPosition(r);
        at && cast<ShapedType>(input.getType()).isDynamicDim(*at))
      return std::nullopt;
  SmallVector<Operation *> combiners;
  if (!matchReduction(op.getRegionOutputArgs(), 0, combiners) ||
      combiners.size() != 1 || !arith::getNeutralElement(combiners.front()))
    return std::nullopt;
  int64_t extent = op.getStaticLoopRanges()[reductionDims.front()];
  if (ShapedType::isDynamic(extent))
    return std::nullopt;
  return std::make_pair(extent, combiners.front());
}

/// The most parts `op`'s reduction of `extent` values may be split into:
/// its partial sums [outputs..., parts] take at most `extent` values for
/// each point of the output's dynamic dimensions (a token, say), as many
/// as one reduced row. A sum of squares (an output row per token) is not
/// limited; a GEMM's dot products into N static columns are, to
/// extent / N parts, so that a prefill's partial sums of the router's
/// logits stay as small as its hidden states.
int64_t mostParts(linalg::GenericOp op, int64_t extent) {
  int64_t outputs = 1;
  for (int64_t size :
       cast<RankedTensorType>(op.getDpsInits()[0].getType()).getShape())
    if (!ShapedType::isDynamic(size))
      outputs *= size;
  return extent / outputs;
}

/// Replaces `op` (splittable, its reduction of `extent` values in `parts`
/// parts) with the partial sums and their sum.
void split(linalg::GenericOp op, Operation *combiner, int64_t extent,
           int64_t parts) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  MLIRContext *ctx = op.getContext();
  SmallVector<unsigned> reductionDims;
  op.getReductionDims(reductionDims);
  unsigned n = op.getNumLoops(), r = reductionDims.front();
  // Stage 1: the op's loops with the part p inserted before the reduction
  // (the op's loop r, now the index q within a part; a parallel loop must
  // come before it to be mapped to threads), over the input with its
  // reduced dimension expanded into [extent / parts, parts]: value
  // q * parts + p.
  SmallVector<AffineExpr> moved;
  for (unsigned d = 0; d < n; ++d)
    moved.push_back(getAffineDimExpr(d < r ? d : d + 1, ctx));
  AffineExpr p = getAffineDimExpr(r, ctx);
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  AffineMap outMap = maps.back().replaceDimsAndSymbols(moved, {}, n + 1, 0);
  // Each input read along the reduction, its reduced dimension expanded
  // into [extent / parts, parts]; the others as they are.
  SmallVector<Value> inputs;
  SmallVector<AffineMap> inMaps;
  for (auto [input, map] : llvm::zip(op.getDpsInputs(), maps)) {
    AffineMap inMap = map.replaceDimsAndSymbols(moved, {}, n + 1, 0);
    std::optional<unsigned> at =
        map.getResultPosition(getAffineDimExpr(r, ctx));
    if (!at) {
      inputs.push_back(input);
      inMaps.push_back(inMap);
      continue;
    }
    auto inType = cast<RankedTensorType>(input.getType());
    SmallVector<AffineExpr> inExprs = llvm::to_vector(inMap.getResults());
    inExprs.insert(inExprs.begin() + *at + 1, p);
    SmallVector<ReassociationIndices> groups;
    SmallVector<OpFoldResult> expandedSizes;
    SmallVector<OpFoldResult> inSizes = tensor::getMixedSizes(b, loc, input);
    for (unsigned i = 0, e = inType.getRank(); i < e; ++i) {
      int64_t next = expandedSizes.size();
      if (i == *at) {
        groups.push_back({next, next + 1});
        expandedSizes.append(
            {b.getIndexAttr(extent / parts), b.getIndexAttr(parts)});
        continue;
      }
      groups.push_back({next});
      expandedSizes.push_back(inSizes[i]);
    }
    SmallVector<int64_t> expandedShape;
    SmallVector<Value> dynamicSizes;
    dispatchIndexOpFoldResults(expandedSizes, dynamicSizes, expandedShape);
    inputs.push_back(tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get(expandedShape, inType.getElementType()),
        input, groups, expandedSizes));
    inMaps.push_back(AffineMap::get(n + 1, 0, inExprs, ctx));
  }
  SmallVector<AffineExpr> partialExprs = llvm::to_vector(outMap.getResults());
  partialExprs.push_back(p);
  AffineMap partialMap = AffineMap::get(n + 1, 0, partialExprs, ctx);
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  iterators.insert(iterators.begin() + r, utils::IteratorType::parallel);

  Value init = op.getDpsInits()[0];
  auto initType = cast<RankedTensorType>(init.getType());
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, init);
  sizes.push_back(b.getIndexAttr(parts));
  Value neutral =
      arith::ConstantOp::create(b, loc, *arith::getNeutralElement(combiner));
  Value partialInit =
      linalg::FillOp::create(
          b, loc, neutral,
          tensor::EmptyOp::create(b, loc, sizes, initType.getElementType())
              .getResult())
          .getResult(0);
  inMaps.push_back(partialMap);
  auto partial = linalg::GenericOp::create(
      b, loc, partialInit.getType(), inputs, partialInit, inMaps, iterators);
  IRMapping same;
  op.getRegion().cloneInto(&partial.getRegion(), same);

  // Stage 2: the parts folded into the op's init by the same combiner.
  unsigned rank = initType.getRank();
  SmallVector<utils::IteratorType> sumIterators(rank,
                                                utils::IteratorType::parallel);
  sumIterators.push_back(utils::IteratorType::reduction);
  auto sum = linalg::GenericOp::create(
      b, loc, initType, partial.getResult(0), init,
      ArrayRef<AffineMap>{
          AffineMap::getMultiDimIdentityMap(rank + 1, ctx),
          AffineMap::getMultiDimMapWithTargets(
              rank + 1, llvm::to_vector(llvm::seq(0u, rank)), ctx)},
      sumIterators, [&](OpBuilder &nb, Location l, ValueRange args) {
        Value acc = op.getRegionOutputArgs()[0];
        IRMapping map;
        for (Value operand : combiner->getOperands())
          map.map(operand, operand == acc ? args[1] : args[0]);
        Operation *folded = nb.clone(*combiner, map);
        linalg::YieldOp::create(nb, l, folded->getResults());
      });
  op->replaceAllUsesWith(sum->getResults());
  op.erase();
}

struct DscSplitReductionsPass
    : mlir::dsc::impl::DscSplitReductionsBase<DscSplitReductionsPass> {
  using Base::Base;
  void runOnOperation() override {
    if (minPart < 1 || maxParts < 1) {
      getOperation().emitError("dsc-split-reductions: min-part and "
                               "max-parts must be at least 1");
      return signalPassFailure();
    }
    SmallVector<std::tuple<linalg::GenericOp, Operation *, int64_t, int64_t>>
        chosen;
    getOperation().walk([&](linalg::GenericOp op) {
      auto found = splittable(op);
      if (!found || found->first < minExtent)
        return;
      int64_t parts =
          partsFor(found->first, minPart,
                   std::min<int64_t>(maxParts, mostParts(op, found->first)));
      if (parts > 1)
        chosen.push_back({op, found->second, found->first, parts});
    });
    for (auto [op, combiner, extent, parts] : chosen)
      split(op, combiner, extent, parts);
  }
};

} // namespace

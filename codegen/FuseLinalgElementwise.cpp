//===- FuseLinalgElementwise.cpp - Elementwise chains as one op -----------===//
//
// dsc-lower-to-linalg writes each step of an op's decomposition as its own
// linalg.generic (an elementwise op, then the rounding of its result to
// bf16 for a GEMM, say). On a GPU every generic becomes a kernel, a launch
// and a round trip of its result through global memory; a decode step is
// hundreds of them. Fused, a chain of elementwise generics is one, and a
// generic that gathers a cheap one's elements (tensor.extract: RoPE's
// rotation, concatenations) computes them itself. Only generated code is
// fused: an op the kernel library takes (marked `dsc.library_*`, Passes.h)
// keeps the form dsc-library-gemms matches, and a reduction keeps its
// inputs (fused into it, a producer would run once per reduced element). A
// library RMSNorm whose normed rows only a GEMM's rounding to bf16 reads
// stores them as bf16 itself, and a fill moves next to the reduction whose
// init it is (dsc-fuse-parallel-loops then makes the two one kernel).
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
#include "dialects/dsc/DscOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/SmallVectorExtras.h"

#define DEBUG_TYPE "dsc-fuse-linalg-elementwise"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCFUSELINALGELEMENTWISE
#include "codegen/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {

/// A generic whose loops are all parallel and that carries no library
/// mark: one output element per iteration, computed from inputs read
/// there.
bool isFusableElementwise(Operation *op) {
  auto generic = dyn_cast_or_null<linalg::GenericOp>(op);
  return generic && generic.hasPureTensorSemantics() &&
         generic.getNumLoops() == generic.getNumParallelLoops() &&
         !hasLibraryMark(generic);
}

/// Whether an elementwise producer's body may be computed again for each
/// time a reader reads an element: a reader that broadcasts it, or one that
/// gathers its elements (tensor.extract; the concatenation of RoPE's
/// rotated columns with the query's others reads both sides for every
/// column and selects one). Arithmetic recomputed costs less than the
/// launch and the round trip through memory it saves; a transcendental
/// (RoPE's cos/sin table) recomputed for each of 128 heads does not.
bool isCheapToRecompute(linalg::GenericOp producer) {
  return !producer.getBody()
              ->walk([](Operation *op) {
                return isa<math::MathDialect>(op->getDialect())
                           ? WalkResult::interrupt()
                           : WalkResult::advance();
              })
              .wasInterrupted();
}

/// The elementwise generic whose body holds `use` directly, if the use is
/// the tensor a tensor.extract in that body reads.
linalg::GenericOp gatheringReader(OpOperand &use) {
  auto extract = dyn_cast<tensor::ExtractOp>(use.getOwner());
  if (!extract)
    return {};
  auto reader = dyn_cast<linalg::GenericOp>(extract->getParentOp());
  return isFusableElementwise(reader) ? reader : linalg::GenericOp();
}

/// Whether an element of `result` can be computed where it is gathered
/// (FuseIntoGather): the producer's loop indices follow from the element's
/// (its output maps are permutations), each input index is one of them
/// (projected permutations), and its body has no regions (a linalg.index
/// nested in one would not be remapped).
bool isGatherable(OpResult result) {
  auto producer = cast<linalg::GenericOp>(result.getOwner());
  return producer.getIndexingMapMatchingResult(result).isPermutation() &&
         llvm::all_of(
             producer.getIndexingMapsArray(),
             [](AffineMap map) { return map.isProjectedPermutation(); }) &&
         llvm::none_of(producer.getBody()->getOperations(),
                       [](Operation &op) { return op.getNumRegions() > 0; });
}

/// The reader of `use` when it is an elementwise generic (unmarked) that
/// reads it as an input; else null.
linalg::GenericOp elementwiseInputReader(OpOperand &use) {
  auto consumer = dyn_cast<linalg::GenericOp>(use.getOwner());
  if (!isFusableElementwise(consumer) || !consumer.isDpsInput(&use))
    return nullptr;
  return consumer;
}

/// Whether `use`, a reader of an elementwise producer's result, takes the
/// producer into itself: an elementwise generic in the producer's block
/// (not recomputed in a loop) reading it as an input through a
/// permutation, or, where the producer is cheap to recompute, through a
/// broadcast (which computes an element again for every element it is
/// broadcast to) or a tensor.extract in its body.
bool readerFuses(linalg::GenericOp producer, OpOperand &use) {
  if (linalg::GenericOp reader = gatheringReader(use))
    return reader->getBlock() == producer->getBlock() &&
           isCheapToRecompute(producer) &&
           isGatherable(cast<OpResult>(use.get()));
  linalg::GenericOp consumer = elementwiseInputReader(use);
  if (!consumer || consumer->getBlock() != producer->getBlock())
    return false;
  AffineMap map = consumer.getMatchingIndexingMap(&use);
  return map.isPermutation() ||
         (map.isProjectedPermutation() && isCheapToRecompute(producer));
}

/// Whether an elementwise, unmarked producer fuses into all its readers, so
/// that it goes away.
bool fusesIntoAllReaders(Operation *op) {
  auto producer = dyn_cast_or_null<linalg::GenericOp>(op);
  return isFusableElementwise(producer) &&
         llvm::all_of(producer->getUses(), [&](OpOperand &use) {
           return readerFuses(producer, use);
         });
}

/// Whether the producer of `operand`, an input of an elementwise generic,
/// fuses into it (upstream's conditions, and `fusesIntoAllReaders`).
bool fuses(OpOperand *operand) {
  return fusesIntoAllReaders(operand->get().getDefiningOp()) &&
         linalg::areElementwiseOpsFusable(operand);
}

/// Fuses a producer into an elementwise generic (upstream's
/// fuseElementwiseOps) where `fuses` allows it. Upstream's
/// populateElementwiseOpsFusionPatterns would also add patterns that
/// rewrite every generic, the kernel library's marked ones included (a
/// SwiGLU's init made a tensor.empty, a splat input folded into a body
/// that loses the mark).
struct FuseElementwise : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(linalg::GenericOp consumer,
                                PatternRewriter &rewriter) const override {
    for (OpOperand &operand : consumer->getOpOperands()) {
      if (!fuses(&operand))
        continue;
      Operation *producer = operand.get().getDefiningOp();
      FailureOr<linalg::ElementwiseOpFusionResult> fused =
          linalg::fuseElementwiseOps(rewriter, &operand);
      if (failed(fused))
        continue;
      // The consumer's results from the fused op; the producer's other
      // consumers keep reading it (each fuses it in turn, then it is dead).
      for (auto [original, replacement] : fused->replacements)
        if (original.getDefiningOp() != producer)
          rewriter.replaceAllUsesWith(original, replacement);
      rewriter.eraseOp(consumer);
      return success();
    }
    return failure();
  }
};

/// Whether the collapse_shape that `operand`, an input of an elementwise
/// generic, reads stands between it and an elementwise generic that only
/// the collapse reads: then upstream's reshape propagation gives the
/// reader the producer's shape (the collapse moves to its result), and the
/// two fuse. The W_UV product's copy to [batch, tokens, heads, dv] and its
/// rounding to bf16 for o_proj, which reads it as [batch, tokens, heads *
/// dv], become one kernel so.
bool collapseSeparatesElementwise(OpOperand *operand) {
  linalg::GenericOp consumer = elementwiseInputReader(*operand);
  auto collapse = operand->get().getDefiningOp<tensor::CollapseShapeOp>();
  if (!consumer || !collapse || !collapse->hasOneUse() ||
      !consumer.getMatchingIndexingMap(operand).isPermutation())
    return false;
  Operation *producer = collapse.getSrc().getDefiningOp();
  return isFusableElementwise(producer) &&
         producer->getBlock() == consumer->getBlock() && producer->hasOneUse();
}

/// A tensor.extract, in an elementwise generic's body, of an element that
/// an elementwise generic computes: the producer's body is cloned in its
/// place, its loop indices the extract's indices through the producer's
/// output map, its inputs extracted at their maps' indices. The gathers
/// that RoPE's rotation, the query's concatenation and a MoE layer's
/// residual add are written with would otherwise each read a separate
/// kernel's result. The producer's maps are permutations (its output's:
/// the loop indices follow from the element's) or projections of them
/// (its inputs': each index one of the loop indices).
struct FuseIntoGather : OpRewritePattern<tensor::ExtractOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tensor::ExtractOp extract,
                                PatternRewriter &rewriter) const override {
    auto result = dyn_cast<OpResult>(extract.getTensor());
    if (!result || !gatheringReader(extract->getOpOperand(0)) ||
        !fusesIntoAllReaders(result.getOwner()))
      return failure();
    // (fusesIntoAllReaders: every gathering reader's producer isGatherable.)
    auto producer = cast<linalg::GenericOp>(result.getOwner());
    AffineMap outputMap = producer.getIndexingMapMatchingResult(result);

    // The loop indices: the element's indices, in the output map's order.
    SmallVector<Value> loops(producer.getNumLoops());
    for (auto [index, expr] :
         llvm::zip_equal(extract.getIndices(), outputMap.getResults()))
      loops[cast<AffineDimExpr>(expr).getPosition()] = index;
    auto indicesOf = [&](AffineMap map) {
      return llvm::map_to_vector(map.getResults(), [&](AffineExpr expr) {
        return loops[cast<AffineDimExpr>(expr).getPosition()];
      });
    };

    rewriter.setInsertionPoint(extract);
    Location loc = extract.getLoc();
    Block &body = *producer.getBody();
    IRMapping mapping;
    for (OpOperand &operand : producer->getOpOperands()) {
      BlockArgument arg = producer.getMatchingBlockArgument(&operand);
      if (arg.use_empty())
        continue;
      Value value = operand.get();
      if (isa<RankedTensorType>(value.getType()))
        value = tensor::ExtractOp::create(
            rewriter, loc, value,
            indicesOf(producer.getMatchingIndexingMap(&operand)));
      mapping.map(arg, value);
    }
    for (Operation &op : body.without_terminator()) {
      if (auto index = dyn_cast<linalg::IndexOp>(op)) {
        mapping.map(index.getResult(), loops[index.getDim()]);
        continue;
      }
      rewriter.clone(op, mapping);
    }
    Value element = body.getTerminator()->getOperand(result.getResultNumber());
    rewriter.replaceOp(extract, mapping.lookupOrDefault(element));
    return success();
  }
};

/// The rounding to bf16 of a library RMSNorm's f32 normed rows (a generic
/// of identity maps whose body is `yield truncf(in)`), when nothing else
/// reads them: the norm stores them as bf16 itself (add_rmsnorm_f32_bf16,
/// rmsnorm_f32_bf16), rounded to nearest even as truncf rounds.
struct FoldRoundingIntoNorm : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    if (!isFusableElementwise(op) || op.getNumDpsInputs() != 1 ||
        op.getNumDpsInits() != 1 ||
        !llvm::all_of(op.getIndexingMapsArray(),
                      [](AffineMap map) { return map.isIdentity(); }))
      return failure();
    Block &body = *op.getBody();
    auto trunc = dyn_cast<arith::TruncFOp>(&body.front());
    if (!trunc || body.getOperations().size() != 2 ||
        trunc.getIn() != body.getArgument(0) || !trunc.getType().isBF16() ||
        !trunc.getIn().getType().isF32() || trunc.getRoundingmodeAttr() ||
        body.getTerminator()->getOperand(0) != trunc.getResult())
      return failure();
    auto normed = dyn_cast<OpResult>(op.getDpsInputs()[0]);
    if (!normed || !normed.hasOneUse())
      return failure();
    Operation *norm = normed.getOwner();
    auto plain = dyn_cast<RmsNormRowsOp>(norm);
    auto add = dyn_cast<AddRmsNormRowsOp>(norm);
    // The normed rows: the plain norm's one result, the add's second.
    if (!(plain || (add && normed.getResultNumber() == 1)))
      return failure();
    Value rows = plain ? plain.getInput() : add.getInput();
    // The new init, before the norm: the rounding's type, its dynamic
    // sizes the rows' (the rounding's own init may come after the norm).
    auto type = cast<RankedTensorType>(op.getResultTypes()[0]);
    rewriter.setInsertionPoint(norm);
    Location loc = norm->getLoc();
    SmallVector<OpFoldResult> sizes;
    for (auto [d, size] : llvm::enumerate(type.getShape()))
      sizes.push_back(ShapedType::isDynamic(size)
                          ? tensor::getMixedSize(rewriter, loc, rows, d)
                          : OpFoldResult(rewriter.getIndexAttr(size)));
    Value init =
        tensor::EmptyOp::create(rewriter, loc, sizes, type.getElementType());
    if (plain) {
      auto folded = RmsNormRowsOp::create(rewriter, loc, TypeRange{type},
                                          plain.getInput(), plain.getWeight(),
                                          init, plain.getEpsilonAttr());
      rewriter.replaceOp(op, folded.getResults());
    } else {
      auto folded = AddRmsNormRowsOp::create(
          rewriter, loc, TypeRange{add.getSum().getType(), type},
          add.getInput(), add.getResidual(), add.getWeight(), add.getSum(),
          init, add.getEpsilonAttr());
      rewriter.replaceAllUsesWith(add->getResult(0), folded->getResult(0));
      rewriter.replaceOp(op, folded->getResult(1));
    }
    rewriter.eraseOp(norm);
    return success();
  }
};

/// A linalg.fill with one reader moves to just before it. A generated
/// reduction's init is such a fill; after bufferization the two are loops
/// over the same elements, which dsc-fuse-parallel-loops makes one kernel
/// when they are adjacent (the router's split logits put the fill of their
/// sum's init before the partial sums).
struct SinkFill : OpRewritePattern<linalg::FillOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(linalg::FillOp fill,
                                PatternRewriter &rewriter) const override {
    if (!fill->hasOneUse())
      return failure();
    Operation *reader = *fill->getUsers().begin();
    if (reader->getBlock() != fill->getBlock())
      return failure();
    // Already there when only other fills of the same reader stand between
    // (two fills that moved before the reader in turn would swap forever).
    for (Operation *op = fill->getNextNode(); op != reader;
         op = op->getNextNode()) {
      auto other = dyn_cast<linalg::FillOp>(op);
      if (!other || !other->hasOneUse() ||
          *other->getUsers().begin() != reader) {
        rewriter.moveOpBefore(fill, reader);
        return success();
      }
    }
    return failure();
  }
};

struct DscFuseLinalgElementwisePass
    : mlir::dsc::impl::DscFuseLinalgElementwiseBase<
          DscFuseLinalgElementwisePass> {
  void runOnOperation() override {
    // The collapses move first: a reader that takes the producer's shape
    // is a new op, and the producer's dead collapse, until erased, is a
    // reader that FuseElementwise cannot fuse. The sizes of the reader's
    // new init are tensor.dims of the producer's result, readers too until
    // they read the producer's init instead.
    RewritePatternSet reshapes(&getContext());
    linalg::populateFoldReshapeOpsByExpansionPatterns(
        reshapes, collapseSeparatesElementwise);
    RewritePatternSet fusions(&getContext());
    fusions
        .add<FuseElementwise, FuseIntoGather, FoldRoundingIntoNorm, SinkFill>(
            &getContext());
    memref::populateResolveRankedShapedTypeResultDimsPatterns(fusions);
    tensor::DimOp::getCanonicalizationPatterns(fusions, &getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(reshapes))) ||
        failed(applyPatternsGreedily(getOperation(), std::move(fusions))))
      return signalPassFailure();
  }
};

} // namespace

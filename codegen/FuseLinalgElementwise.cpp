//===- FuseLinalgElementwise.cpp - Elementwise chains as one op -----------===//
//
// dsc-lower-to-linalg writes each step of an op's decomposition as its own
// linalg.generic (an elementwise op, then the rounding of its result to
// bf16 for a GEMM, say). On a GPU every generic becomes a kernel, a launch
// and a round trip of its result through global memory; a decode step is
// hundreds of them. Fused, a chain of elementwise generics is one (most of
// the model's are not chains: library ops, reshapes and gathers through
// tensor.extract separate them). Only generated code is fused: an op the
// kernel library takes (marked `dsc.library_*`, Passes.h) keeps the form
// dsc-library-gemms matches, and a reduction keeps its inputs (fused into
// it, a producer would run once per reduced element). A library RMSNorm
// whose normed rows only a GEMM's rounding to bf16 reads stores them as
// bf16 itself.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
#include "dialects/dsc/DscOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

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

/// Whether the producer of `operand` fuses into its consumer: both
/// elementwise and unmarked, in one block (not recomputed in a loop), the
/// consumer reading each produced element once (a permutation: a broadcast
/// would compute it again for every element it is broadcast to), and every
/// user of the producer a consumer it fuses into alike, so that the
/// producer goes away.
bool fuses(OpOperand *operand) {
  Operation *producer = operand->get().getDefiningOp();
  if (!isFusableElementwise(producer) ||
      !linalg::areElementwiseOpsFusable(operand))
    return false;
  return llvm::all_of(producer->getUses(), [&](OpOperand &use) {
    auto consumer = dyn_cast<linalg::GenericOp>(use.getOwner());
    return isFusableElementwise(consumer) &&
           consumer->getBlock() == producer->getBlock() &&
           consumer.isDpsInput(&use) &&
           consumer.getMatchingIndexingMap(&use).isPermutation();
  });
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

struct DscFuseLinalgElementwisePass
    : mlir::dsc::impl::DscFuseLinalgElementwiseBase<
          DscFuseLinalgElementwisePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseElementwise, FoldRoundingIntoNorm>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace

//===- FuseParallelLoops.cpp - Adjacent parallel loops as one kernel ------===//
//
// After convert-linalg-to-parallel-loops every linalg op is an scf.parallel,
// and on a GPU every scf.parallel is a kernel. A generated reduction's init
// is a linalg.fill: a loop of its own over the reduction's output
// elements, a launch that writes the zeros the reduction then reads (three
// of them in each of V3's MoE layers: the router's split logits, their sum,
// the experts' combine). Two adjacent loops over the same iteration space
// fuse when their bodies only load and store and no element that one writes
// is touched by the other but at the same iteration (the same memref,
// indexed by the same induction variables). Upstream's
// naivelyFuseParallelOps checks reads after writes only, and ignores ops
// other than loads and stores; this pass checks writes after writes too
// and fuses nothing with other effects. What keeps such pairs apart here
// is the allocation of the second loop's output, which bufferization
// places between them, and bounds computed apart: allocations and ops
// without memory effects between two loops move before the first, and
// bounds compare by how they are computed. A fused reduction then starts
// from the fill's value instead of loading it back.
//
//===----------------------------------------------------------------------===//

#include "codegen/Buffers.h"
#include "codegen/Passes.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#define DEBUG_TYPE "dsc-fuse-parallel-loops"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCFUSEPARALLELLOOPS
#include "codegen/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {

/// A dimension of a collapse_shape as the product of its source's
/// (memref.collapse_shape has no reifyResultShapes in MLIR 22). A
/// reduction's loop over the rows of [batch * tokens, hidden] and the fill
/// of its output, bounded by the allocation's size, then have bounds
/// computed alike (`sameIndex`).
struct DimOfCollapse : OpRewritePattern<memref::DimOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(memref::DimOp dim,
                                PatternRewriter &rewriter) const override {
    auto collapse = dim.getSource().getDefiningOp<memref::CollapseShapeOp>();
    std::optional<int64_t> index = dim.getConstantIndex();
    if (!collapse || !index)
      return failure();
    // A copy of the groups (returned by value: a range over an element of
    // the temporary would outlive it).
    SmallVector<ReassociationIndices> groups =
        collapse.getReassociationIndices();
    if (*index < 0 || *index >= static_cast<int64_t>(groups.size()))
      return failure();
    Location loc = dim.getLoc();
    Value product;
    for (int64_t d : groups[*index]) {
      Value size = memref::DimOp::create(rewriter, loc, collapse.getSrc(), d);
      product =
          product ? arith::MulIOp::create(rewriter, loc, product, size) : size;
    }
    rewriter.replaceOp(dim, product);
    return success();
  }
};

/// Whether `op` may move before a loop it follows: an allocation (new
/// memory, which the loop cannot have touched) or an op without memory
/// effects or regions. `gatherLoops` passes only loops without results, so
/// nothing that follows them reads a value they define.
bool movesBeforeLoop(Operation &op) {
  return op.getNumRegions() == 0 && !op.hasTrait<OpTrait::IsTerminator>() &&
         (isa<memref::AllocOp>(op) || isMemoryEffectFree(&op));
}

/// Moves what `movesBeforeLoop` allows that stands between scf.parallel
/// ops of `block` (without results) before the first of them, in order (an
/// op's operands are defined before that loop or moved before it already),
/// so that the loops are adjacent.
void gatherLoops(Block &block) {
  scf::ParallelOp first;
  for (Operation &op : llvm::make_early_inc_range(block)) {
    auto loop = dyn_cast<scf::ParallelOp>(op);
    if (loop && loop.getNumResults() == 0) {
      if (!first)
        first = loop;
      continue;
    }
    if (first && !loop && movesBeforeLoop(op))
      op.moveBefore(first);
    else
      first = {};
  }
}

/// Whether the indices `a` and `b` are equal because they are computed
/// alike: the same value, equal constants, or the same integer arithmetic
/// (or memref.dim) of such operands. Overflow flags do not count
/// (lower-affine marks its products nsw, the allocations' sizes are plain
/// products of the same dims). `depth` bounds the search.
bool sameIndex(Value a, Value b, int depth = 4) {
  if (a == b)
    return true;
  APInt x, y;
  if (matchPattern(a, m_ConstantInt(&x)) && matchPattern(b, m_ConstantInt(&y)))
    return x.getBitWidth() == y.getBitWidth() && x == y;
  Operation *u = a.getDefiningOp(), *v = b.getDefiningOp();
  if (!u || !v || depth == 0 || u->getName() != v->getName() ||
      !isa<arith::AddIOp, arith::SubIOp, arith::MulIOp, arith::DivUIOp,
           arith::CeilDivUIOp, memref::DimOp>(u))
    return false;
  return llvm::all_of_zip(
      u->getOperands(), v->getOperands(),
      [&](Value p, Value q) { return sameIndex(p, q, depth - 1); });
}

/// A load or a store in a loop's body, at any depth.
struct Access {
  Value memref;
  ValueRange indices;
  bool write;
};

/// The loads and stores of `loop`'s body, or nothing if any other op in it
/// has memory effects of its own.
std::optional<SmallVector<Access>> accessesOf(scf::ParallelOp loop) {
  SmallVector<Access> accesses;
  WalkResult walk = loop.getBody()->walk([&](Operation *op) {
    if (auto load = dyn_cast<memref::LoadOp>(op))
      accesses.push_back({load.getMemRef(), load.getIndices(), false});
    else if (auto store = dyn_cast<memref::StoreOp>(op))
      accesses.push_back({store.getMemRef(), store.getIndices(), true});
    else if (!isMemoryEffectFree(op) &&
             !op->hasTrait<OpTrait::HasRecursiveMemoryEffects>())
      return WalkResult::interrupt();
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return std::nullopt;
  return accesses;
}

/// Whether `a` in loop `first` and `b` in loop `second` touch one element
/// at the same iteration: the same memref, each index the same value
/// (defined outside both loops) or the two loops' same induction variable.
bool sameElement(const Access &a, scf::ParallelOp first, const Access &b,
                 scf::ParallelOp second) {
  if (a.memref != b.memref || a.indices.size() != b.indices.size())
    return false;
  return llvm::all_of_zip(a.indices, b.indices, [&](Value x, Value y) {
    if (x == y)
      return true;
    auto ix = dyn_cast<BlockArgument>(x), iy = dyn_cast<BlockArgument>(y);
    return ix && iy && ix.getOwner() == first.getBody() &&
           iy.getOwner() == second.getBody() &&
           ix.getArgNumber() == iy.getArgNumber();
  });
}

/// Whether `second`, directly after `first`, may run in `first`'s loop:
/// bounds computed alike, no results, bodies that only load and store, and
/// no element that one writes and the other touches at another iteration
/// (Buffers.h's `mayAlias` says which memrefs may share elements).
bool fusable(scf::ParallelOp first, scf::ParallelOp second) {
  if (first.getNumResults() || second.getNumResults() ||
      first->getNumOperands() != second->getNumOperands() ||
      !llvm::all_of_zip(first->getOperands(), second->getOperands(),
                        [](Value a, Value b) { return sameIndex(a, b); }))
    return false;
  std::optional<SmallVector<Access>> one = accessesOf(first);
  std::optional<SmallVector<Access>> two = accessesOf(second);
  if (!one || !two)
    return false;
  for (const Access &a : *one)
    for (const Access &b : *two)
      if ((a.write || b.write) && mayAlias(a.memref, b.memref) &&
          !sameElement(a, first, b, second))
        return false;
  return true;
}

/// Moves `second`'s body to the end of `first`'s, on `first`'s induction
/// variables, and erases `second`.
void fuse(scf::ParallelOp first, scf::ParallelOp second) {
  for (auto [from, to] :
       llvm::zip_equal(second.getInductionVars(), first.getInductionVars()))
    from.replaceAllUsesWith(to);
  Block &into = *first.getBody(), &from = *second.getBody();
  into.getOperations().splice(into.getTerminator()->getIterator(),
                              from.getOperations(), from.begin(),
                              from.getTerminator()->getIterator());
  second.erase();
}

/// Fuses each scf.parallel of `block` with the ones after it while
/// `fusable` allows.
void fuseLoops(Block &block) {
  for (Operation &op : block) {
    auto loop = dyn_cast<scf::ParallelOp>(op);
    if (!loop)
      continue;
    while (auto next = dyn_cast_or_null<scf::ParallelOp>(loop->getNextNode())) {
      if (!fusable(loop, next))
        break;
      fuse(loop, next);
    }
  }
}

/// In a loop's body, a load of the element that a store before it stored
/// reads the stored value, when only ops without memory effects (or other
/// stores: the latest one counts) stand between. A fused reduction so
/// starts from its fill's constant instead of loading it back.
void forwardStores(scf::ParallelOp loop) {
  memref::StoreOp last;
  for (Operation &op :
       llvm::make_early_inc_range(loop.getBody()->without_terminator())) {
    if (auto store = dyn_cast<memref::StoreOp>(op)) {
      last = store;
      continue;
    }
    auto load = dyn_cast<memref::LoadOp>(op);
    if (load && last && load.getMemRef() == last.getMemRef() &&
        llvm::equal(load.getIndices(), last.getIndices())) {
      load.replaceAllUsesWith(last.getValueToStore());
      load.erase();
      continue;
    }
    if (!isMemoryEffectFree(&op))
      last = {};
  }
}

struct DscFuseParallelLoopsPass
    : mlir::dsc::impl::DscFuseParallelLoopsBase<DscFuseParallelLoopsPass> {
  void runOnOperation() override {
    // Bounds in forms `sameIndex` compares: dims of reshapes and
    // allocations folded to the sizes they come from, affine ops lowered to
    // arith (as lower-affine, later in the pipeline, would).
    RewritePatternSet patterns(&getContext());
    patterns.add<DimOfCollapse>(&getContext());
    populateAffineToStdConversionPatterns(patterns);
    memref::DimOp::getCanonicalizationPatterns(patterns, &getContext());
    memref::populateResolveRankedShapedTypeResultDimsPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();

    SmallVector<Block *> blocks;
    getOperation()->walk([&](Block *block) { blocks.push_back(block); });
    for (Block *block : blocks) {
      gatherLoops(*block);
      fuseLoops(*block);
    }
    getOperation()->walk(forwardStores);
  }
};

} // namespace

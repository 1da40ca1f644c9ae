//===- PromoteAccumulators.cpp - Loop accumulators in registers -----------===//
//
// convert-linalg-to-(parallel-)loops writes a reduction as a loop that
// loads its output element, adds one term and stores it back, each
// iteration. LLVM keeps that element in memory unless it can prove that no
// other pointer of the loop reaches it, which it cannot for a kernel's or
// an entry point's memref arguments. On a GPU that made each step of a
// generated reduction a round trip through global memory: the router's
// gate logits (a dot product over V3's 7168 hidden values for each token
// and expert) were 7168 dependent load-store pairs per thread. Here the
// element is loaded once before the loop, carried in an iter_arg and
// stored once after it: the same operations in the same order, so every
// result is bit-identical.
//
//===----------------------------------------------------------------------===//

#include "codegen/Buffers.h"
#include "codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define DEBUG_TYPE "dsc-promote-accumulators"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCPROMOTEACCUMULATORS
#include "codegen/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {

/// A load and a store of one element of `memref` in a loop's body, at
/// indices the loop does not change, the load first.
struct Accumulator {
  memref::LoadOp load;
  memref::StoreOp store;
};

/// Whether `op` (inside the loop, not the accumulator's load or store) may
/// read or write memory that `memref` views. Unknown effects count.
bool touches(Operation *op, Value memref) {
  if (isMemoryEffectFree(op))
    return false;
  auto effecting = dyn_cast<MemoryEffectOpInterface>(op);
  if (!effecting)
    return !op->hasTrait<OpTrait::HasRecursiveMemoryEffects>();
  SmallVector<MemoryEffects::EffectInstance> effects;
  effecting.getEffects(effects);
  return llvm::any_of(effects, [&](const MemoryEffects::EffectInstance &e) {
    return !e.getValue() || mayAlias(e.getValue(), memref);
  });
}

/// The accumulators of `loop`: each a load and store directly in its body,
/// of the same element (memref and indices defined outside the loop), the
/// load before the store, and nothing else in the loop reading or writing
/// memory that element's buffer may share.
SmallVector<Accumulator> accumulators(scf::ForOp loop) {
  SmallVector<Accumulator> found;
  Block *body = loop.getBody();
  for (auto store : body->getOps<memref::StoreOp>()) {
    Value memref = store.getMemRef();
    if (!loop.isDefinedOutsideOfLoop(memref) ||
        !llvm::all_of(store.getIndices(), [&](Value index) {
          return loop.isDefinedOutsideOfLoop(index);
        }))
      continue;
    memref::LoadOp load;
    for (auto candidate : body->getOps<memref::LoadOp>())
      if (candidate.getMemRef() == memref &&
          llvm::equal(candidate.getIndices(), store.getIndices()) &&
          candidate->isBeforeInBlock(store)) {
        load = candidate;
        break;
      }
    if (!load)
      continue;
    WalkResult other = body->walk([&](Operation *op) {
      if (op == load || op == store || !touches(op, memref))
        return WalkResult::advance();
      return WalkResult::interrupt();
    });
    if (!other.wasInterrupted())
      found.push_back({load, store});
  }
  return found;
}

/// Whether `loop` is known to run at least once: its bounds constants
/// that make one iteration or more.
bool runsAtLeastOnce(scf::ForOp loop) {
  std::optional<APInt> trips = loop.getStaticTripCount();
  return trips && !trips->isZero();
}

/// Carries `accumulators` of `loop` in iter_args: each loaded before the
/// loop, its value after the loop stored. A loop that may run no
/// iterations (bounds known at run time only) goes into an `scf.if` of
/// lb < ub first, so that nothing is loaded or stored where the loop did
/// neither; such a loop with results of its own is left alone.
void promote(RewriterBase &rewriter, scf::ForOp loop,
             MutableArrayRef<Accumulator> accumulators) {
  if (!runsAtLeastOnce(loop)) {
    if (loop.getNumResults())
      return;
    rewriter.setInsertionPoint(loop);
    Value runs =
        arith::CmpIOp::create(rewriter, loop.getLoc(),
                              loop.getUnsignedCmp() ? arith::CmpIPredicate::ult
                                                    : arith::CmpIPredicate::slt,
                              loop.getLowerBound(), loop.getUpperBound());
    auto guard = scf::IfOp::create(rewriter, loop.getLoc(), runs,
                                   /*withElseRegion=*/false);
    rewriter.moveOpBefore(loop, guard.thenBlock()->getTerminator());
  }
  rewriter.setInsertionPoint(loop);
  SmallVector<Value> inits;
  for (Accumulator &acc : accumulators)
    inits.push_back(memref::LoadOp::create(rewriter, acc.load.getLoc(),
                                           acc.load.getMemRef(),
                                           acc.load.getIndices()));
  FailureOr<LoopLikeOpInterface> promoted =
      cast<LoopLikeOpInterface>(loop.getOperation())
          .replaceWithAdditionalYields(
              rewriter, inits, /*replaceInitOperandUsesInLoop=*/false,
              [&](OpBuilder &, Location, ArrayRef<BlockArgument>) {
                return llvm::map_to_vector(accumulators, [](Accumulator &acc) {
                  return acc.store.getValueToStore();
                });
              });
  // scf.for always takes more iter_args.
  auto newLoop = cast<scf::ForOp>(promoted->getOperation());
  unsigned first = newLoop.getNumRegionIterArgs() - accumulators.size();
  rewriter.setInsertionPointAfter(newLoop);
  for (auto [i, acc] : llvm::enumerate(accumulators)) {
    rewriter.replaceAllUsesWith(acc.load.getResult(),
                                newLoop.getRegionIterArgs()[first + i]);
    memref::StoreOp::create(rewriter, acc.store.getLoc(),
                            newLoop.getResults()[first + i],
                            acc.store.getMemRef(), acc.store.getIndices());
    rewriter.eraseOp(acc.store);
    rewriter.eraseOp(acc.load);
  }
}

struct DscPromoteAccumulatorsPass
    : mlir::dsc::impl::DscPromoteAccumulatorsBase<DscPromoteAccumulatorsPass> {
  void runOnOperation() override {
    // Innermost loops first: an outer loop's body then holds the inner
    // loop's load and store (at indices the outer loop may change).
    SmallVector<scf::ForOp> loops;
    getOperation().walk([&](scf::ForOp loop) { loops.push_back(loop); });
    IRRewriter rewriter(&getContext());
    for (scf::ForOp loop : loops) {
      SmallVector<Accumulator> found = accumulators(loop);
      if (!found.empty())
        promote(rewriter, loop, found);
    }
  }
};

} // namespace

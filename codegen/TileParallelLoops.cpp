//===- TileParallelLoops.cpp - Parallel loops tiled for GPU threads -------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/IR/Matchers.h"

#define DEBUG_TYPE "dsc-tile-parallel-loops"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCTILEPARALLELLOOPS
#include "codegen/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {
/// The static trip count of dimension `d` of `loop`, if known.
std::optional<int64_t> staticTripCount(scf::ParallelOp loop, unsigned d) {
  APInt lb, ub, step;
  if (!matchPattern(loop.getLowerBound()[d], m_ConstantInt(&lb)) ||
      !matchPattern(loop.getUpperBound()[d], m_ConstantInt(&ub)) ||
      !matchPattern(loop.getStep()[d], m_ConstantInt(&step)) ||
      step.getSExtValue() <= 0)
    return std::nullopt;
  int64_t s = step.getSExtValue();
  return (ub.getSExtValue() - lb.getSExtValue() + s - 1) / s;
}

struct DscTileParallelLoopsPass
    : mlir::dsc::impl::DscTileParallelLoopsBase<DscTileParallelLoopsPass> {
  using Base::Base;
  void runOnOperation() override {
    if (threads < 1) {
      getOperation().emitError("dsc-tile-parallel-loops: threads must be at "
                               "least 1");
      return signalPassFailure();
    }
    SmallVector<scf::ParallelOp> outermost;
    getOperation().walk([&](scf::ParallelOp loop) {
      if (!loop->getParentOfType<scf::ParallelOp>())
        outermost.push_back(loop);
    });
    for (scf::ParallelOp loop : outermost) {
      unsigned rank = loop.getNumLoops();
      int64_t tile = threads;
      if (std::optional<int64_t> trip = staticTripCount(loop, rank - 1)) {
        int64_t enough = 1;
        while (enough < *trip)
          enough *= 2;
        tile = std::min<int64_t>(tile, enough);
      }
      if (tile == 1)
        continue;
      SmallVector<int64_t> sizes(rank, 1);
      sizes.back() = tile;
      scf::tileParallelLoop(loop, sizes, /*noMinMaxBounds=*/true);
    }
  }
};
} // namespace

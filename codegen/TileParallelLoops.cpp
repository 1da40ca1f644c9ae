//===- TileParallelLoops.cpp - Parallel loops tiled for GPU threads -------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
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

/// A loop dimension's mapping to `p`.
gpu::ParallelLoopDimMappingAttr dimMapping(MLIRContext *ctx, gpu::Processor p) {
  AffineMap identity = AffineMap::getMultiDimIdentityMap(1, ctx);
  return gpu::ParallelLoopDimMappingAttr::get(ctx, p, identity, identity);
}

/// Maps the parallel loops directly in `body` (and theirs) to sequential
/// loops in the kernel, as gpu-map-parallel-loops maps loops past the
/// threads (it does not descend into loops already mapped).
LogicalResult mapNestedSequential(Block &body) {
  for (auto nested : body.getOps<scf::ParallelOp>()) {
    SmallVector<gpu::ParallelLoopDimMappingAttr> map(
        nested.getNumLoops(),
        dimMapping(nested.getContext(), gpu::Processor::Sequential));
    if (failed(gpu::setMappingAttr(nested, map)) ||
        failed(mapNestedSequential(*nested.getBody())))
      return failure();
  }
  return success();
}

/// Maps a loop nest to the GPU: the tile's `points` (when tiled) to
/// threads, the innermost dimension to thread x (neighbouring threads,
/// neighbouring elements), and `blocks` to blocks. A grid has up to
/// 2^31 - 1 blocks along x but 65535 along y and z, so x takes the
/// dimension likeliest to be long: a static one past 65535, else the
/// innermost of unknown extent (prefill's tokens, or tokens times experts
/// per token), else the longest; the others take y and z innermost first,
/// and run sequentially past three. `blockTrips` are the blocks' trip
/// counts where known.
LogicalResult mapToGpu(scf::ParallelOp blocks, scf::ParallelOp points,
                       ArrayRef<std::optional<int64_t>> blockTrips) {
  using gpu::Processor;
  MLIRContext *ctx = blocks.getContext();
  unsigned rank = blocks.getNumLoops();
  std::optional<unsigned> unknown, longest;
  int64_t longestTrip = -1;
  for (unsigned d = 0; d < rank; ++d) {
    std::optional<int64_t> trip = blockTrips[d];
    if (!trip)
      unknown = d;
    else if (*trip > longestTrip)
      std::tie(longest, longestTrip) = std::make_pair(d, *trip);
  }
  unsigned x = longestTrip > 65535 || !unknown ? *longest : *unknown;
  SmallVector<gpu::ParallelLoopDimMappingAttr> blockMap(
      rank, dimMapping(ctx, Processor::Sequential));
  blockMap[x] = dimMapping(ctx, Processor::BlockX);
  Processor next[] = {Processor::BlockY, Processor::BlockZ};
  unsigned used = 0;
  for (unsigned d = rank; d-- > 0;)
    if (d != x && used < 2)
      blockMap[d] = dimMapping(ctx, next[used++]);
  bool mapped = succeeded(gpu::setMappingAttr(blocks, blockMap));
  Block *inner = blocks.getBody();
  if (points) {
    SmallVector<gpu::ParallelLoopDimMappingAttr> pointMap(
        points.getNumLoops(), dimMapping(ctx, Processor::Sequential));
    pointMap.back() = dimMapping(ctx, Processor::ThreadX);
    mapped = mapped && succeeded(gpu::setMappingAttr(points, pointMap));
    inner = points.getBody();
  }
  if (!mapped || failed(mapNestedSequential(*inner)))
    return blocks.emitError("dsc-tile-parallel-loops: cannot map the loop "
                            "to blocks and threads");
  return success();
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
      SmallVector<int64_t> sizes(rank, 1);
      sizes.back() = tile;
      SmallVector<std::optional<int64_t>> blockTrips;
      for (unsigned d = 0; d < rank; ++d) {
        std::optional<int64_t> trip = staticTripCount(loop, d);
        blockTrips.push_back(
            trip ? std::optional<int64_t>((*trip + sizes[d] - 1) / sizes[d])
                 : std::nullopt);
      }
      // A loop of one thread per block stays as it is, mapped to blocks.
      scf::ParallelOp blocks = loop, points;
      if (tile > 1)
        std::tie(blocks, points) =
            scf::tileParallelLoop(loop, sizes, /*noMinMaxBounds=*/true);
      if (failed(mapToGpu(blocks, points, blockTrips)))
        return signalPassFailure();
    }
  }
};
} // namespace

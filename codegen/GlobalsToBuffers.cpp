//===- GlobalsToBuffers.cpp - Constant globals copied into buffers --------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

#define DEBUG_TYPE "dsc-globals-to-buffers"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCGLOBALSTOBUFFERS
#include "codegen/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {
struct DscGlobalsToBuffersPass
    : mlir::dsc::impl::DscGlobalsToBuffersBase<DscGlobalsToBuffersPass> {
  void runOnOperation() override {
    SmallVector<memref::GetGlobalOp> globals;
    getOperation().walk(
        [&](memref::GetGlobalOp global) { globals.push_back(global); });
    for (memref::GetGlobalOp global : globals) {
      auto type = cast<MemRefType>(global.getType());
      // A strided or dynamic global would need a layout-preserving copy;
      // bufferized constants are always static with the identity layout.
      if (!type.hasStaticShape() || !type.getLayout().isIdentity()) {
        global.emitOpError("cannot be copied to a device buffer: the global "
                           "needs a static shape and the identity layout");
        return signalPassFailure();
      }
      OpBuilder b(global->getContext());
      b.setInsertionPointAfter(global);
      Location loc = global.getLoc();
      auto buffer = memref::AllocOp::create(b, loc, type);
      global.getResult().replaceAllUsesWith(buffer.getResult());
      // buffer[i...] = global[i...], the global read inside the loop body:
      // the loop becomes a kernel and the global moves into its module, so
      // the host code copies nothing.
      // A scalar is filled through a one-element view: a loop of no
      // dimensions would stay on the host.
      unsigned rank = type.getRank();
      Value target = buffer.getResult();
      if (rank == 0)
        target = memref::ExpandShapeOp::create(
            b, loc, MemRefType::get({1}, type.getElementType()), target,
            ArrayRef<ReassociationIndices>{});
      unsigned loops = std::max(rank, 1u);
      SmallVector<utils::IteratorType> parallel(loops,
                                                utils::IteratorType::parallel);
      linalg::GenericOp::create(
          b, loc, TypeRange(), ValueRange(), target,
          b.getMultiDimIdentityMap(loops), parallel,
          [&](OpBuilder &nb, Location l, ValueRange) {
            SmallVector<Value> indices;
            for (unsigned d = 0; d < rank; ++d)
              indices.push_back(linalg::IndexOp::create(nb, l, d));
            Value source =
                memref::GetGlobalOp::create(nb, l, type, global.getNameAttr());
            linalg::YieldOp::create(
                nb, l,
                memref::LoadOp::create(nb, l, source, indices).getResult());
          });
      global.erase();
    }
  }
};
} // namespace

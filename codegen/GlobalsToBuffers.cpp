//===- GlobalsToBuffers.cpp - Constant globals copied into buffers --------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
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
      memref::CopyOp::create(b, loc, global.getResult(), buffer.getResult());
    }
  }
};
} // namespace

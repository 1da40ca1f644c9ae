//===- Buffers.cpp - What a memref value views ----------------------------===//

#include "codegen/Buffers.h"

#include "dialects/dsc/DscOps.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

using namespace mlir;

Value mlir::dsc::rootBuffer(Value value) {
  while (true) {
    if (auto metadata =
            value.getDefiningOp<memref::ExtractStridedMetadataOp>()) {
      value = metadata.getSource();
      continue;
    }
    auto view = value.getDefiningOp<ViewLikeOpInterface>();
    if (!view || view.getViewSource() == value)
      return value;
    value = view.getViewSource();
  }
}

bool mlir::dsc::escapes(Value buffer) {
  for (OpOperand &use : buffer.getUses()) {
    Operation *user = use.getOwner();
    if (auto view = dyn_cast<ViewLikeOpInterface>(user);
        view && view.getViewSource() == buffer) {
      if (llvm::any_of(user->getResults(), escapes))
        return true;
      continue;
    }
    if (auto store = dyn_cast<memref::StoreOp>(user)) {
      if (&use != &store.getMemrefMutable())
        return true;
      continue;
    }
    if (!isa<memref::LoadOp, memref::DimOp, memref::DeallocOp, memref::CopyOp,
             linalg::LinalgOp, gpu::LaunchFuncOp>(user) &&
        !isLibraryOp(user))
      return true;
  }
  return false;
}

bool mlir::dsc::mayAlias(Value a, Value b) {
  Value ra = rootBuffer(a), rb = rootBuffer(b);
  auto isPrivate = [](Value root) {
    return root.getDefiningOp<memref::AllocOp>() && !escapes(root);
  };
  return ra == rb || !(isPrivate(ra) || isPrivate(rb));
}

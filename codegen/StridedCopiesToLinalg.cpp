//===- StridedCopiesToLinalg.cpp - Strided memref.copy as loops -----------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

#define DEBUG_TYPE "dsc-strided-copies-to-linalg"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCSTRIDEDCOPIESTOLINALG
#include "codegen/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {
bool isContiguous(Value buffer) {
  return cast<MemRefType>(buffer.getType()).getLayout().isIdentity();
}

struct DscStridedCopiesToLinalgPass
    : mlir::dsc::impl::DscStridedCopiesToLinalgBase<
          DscStridedCopiesToLinalgPass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation().walk([&](memref::CopyOp copy) {
      if (allCopies || !isContiguous(copy.getSource()) ||
          !isContiguous(copy.getTarget()))
        copies.push_back(copy);
    });
    for (memref::CopyOp copy : copies) {
      OpBuilder b(copy);
      linalg::CopyOp::create(b, copy.getLoc(), copy.getSource(),
                             copy.getTarget());
      copy.erase();
    }
  }
};
} // namespace

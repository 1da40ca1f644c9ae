//===- ReassociateReductions.cpp - Reorderable float reductions -----------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

#define DEBUG_TYPE "dsc-reassociate-reductions"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCREASSOCIATEREDUCTIONS
#include "codegen/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {
struct DscReassociateReductionsPass
    : mlir::dsc::impl::DscReassociateReductionsBase<
          DscReassociateReductionsPass> {
  void runOnOperation() override {
    auto flags = arith::FastMathFlagsAttr::get(
        &getContext(),
        arith::FastMathFlags::reassoc | arith::FastMathFlags::contract);
    getOperation().walk([&](linalg::GenericOp op) {
      if (op.getNumReductionLoops() == 0)
        return;
      op.getRegion().walk([&](Operation *inner) {
        if (isa<arith::AddFOp, arith::MulFOp, arith::SubFOp>(inner))
          inner->setAttr("fastmath", flags);
      });
    });
  }
};
} // namespace

//===- DropOutputResults.cpp - Entry points return nothing ----------------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/BitVector.h"

#define DEBUG_TYPE "dsc-drop-output-results"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCDROPOUTPUTRESULTS
#include "codegen/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {
struct DscDropOutputResultsPass
    : mlir::dsc::impl::DscDropOutputResultsBase<DscDropOutputResultsPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (!func.isPublic() || func.isExternal() || func.getNumResults() == 0)
        continue;
      // Every return must hand back the dsc.output arguments, in order.
      auto isOutputArg = [&](Value v) {
        auto arg = dyn_cast<BlockArgument>(v);
        return arg && arg.getOwner()->isEntryBlock() &&
               arg.getParentRegion() == &func.getBody() &&
               func.getArgAttr(arg.getArgNumber(), "dsc.output");
      };
      SmallVector<func::ReturnOp> returns;
      bool allOutputs = true;
      func.walk([&](func::ReturnOp ret) {
        returns.push_back(ret);
        allOutputs &= llvm::all_of(ret.getOperands(), isOutputArg);
      });
      if (!allOutputs) {
        func.emitError("entry point results are not its output arguments "
                       "after bufferization");
        return signalPassFailure();
      }
      for (func::ReturnOp ret : returns)
        ret->setOperands({});
      llvm::BitVector all(func.getNumResults(), true);
      if (failed(func.eraseResults(all)))
        return signalPassFailure();
    }
  }
};
} // namespace

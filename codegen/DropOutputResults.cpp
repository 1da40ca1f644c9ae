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
      SmallVector<BlockArgument> outputs;
      for (BlockArgument arg : func.getArguments())
        if (func.getArgAttr(arg.getArgNumber(), "dsc.output"))
          outputs.push_back(arg);
      SmallVector<func::ReturnOp> returns;
      bool allOutputs = true;
      func.walk([&](func::ReturnOp ret) {
        returns.push_back(ret);
        allOutputs &= ret.getNumOperands() == outputs.size() &&
                      llvm::equal(ret.getOperands(), outputs);
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

//===- WeightsToArguments.cpp - dsc.weight to entry-point arguments -------===//

#include "codegen/Passes.h"
#include "dialects/dsc/DscOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#define DEBUG_TYPE "dsc-weights-to-arguments"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCWEIGHTSTOARGUMENTS
#include "codegen/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {
struct DscWeightsToArgumentsPass
    : mlir::dsc::impl::DscWeightsToArgumentsBase<DscWeightsToArgumentsPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isPublic() && !func.isExternal()) {
        func->setAttr("llvm.emit_c_interface", UnitAttr::get(&getContext()));
        // Inputs belong to the caller.
        for (unsigned i = 0; i < func.getNumArguments(); ++i)
          func.setArgAttr(i, "bufferization.writable",
                          BoolAttr::get(&getContext(), false));
      }
      SmallVector<WeightOp> weights;
      func.walk([&](WeightOp op) { weights.push_back(op); });
      if (weights.empty())
        continue;
      if (func.isPrivate() || func.isExternal()) {
        weights.front().emitOpError(
            "weights must live in public entry functions, not in '")
            << func.getSymName() << "'";
        return signalPassFailure();
      }
      // One argument per distinct (name, type).
      llvm::MapVector<std::pair<StringRef, Type>, BlockArgument> args;
      Block &entry = func.getBody().front();
      for (WeightOp op : weights) {
        auto key = std::make_pair(op.getName(), op.getType());
        auto it = args.find(key);
        if (it == args.end()) {
          unsigned index = func.getNumArguments();
          SmallVector<NamedAttribute> attrs = {NamedAttribute(
              StringAttr::get(&getContext(), "dsc.weight"), op.getNameAttr())};
          // Weights may be mapped read-only (embedded in the artifact):
          // bufferization must never write into them.
          attrs.push_back(NamedAttribute(
              StringAttr::get(&getContext(), "bufferization.writable"),
              BoolAttr::get(&getContext(), false)));
          if (op.getStackAttr())
            attrs.push_back(
                NamedAttribute(StringAttr::get(&getContext(), "dsc.stack"),
                               op.getStackAttr()));
          if (failed(func.insertArgument(
                  index, op.getType(),
                  DictionaryAttr::get(&getContext(), attrs), op.getLoc())))
            return signalPassFailure();
          it = args.insert({key, entry.getArgument(index)}).first;
          ++numWeights;
        }
        op.getResult().replaceAllUsesWith(it->second);
        op.erase();
      }
    }
  }
};
} // namespace

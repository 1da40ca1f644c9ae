//===- OutputsToArguments.cpp - Entry-point results into caller buffers ---===//

#include "codegen/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"

#define DEBUG_TYPE "dsc-outputs-to-arguments"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCOUTPUTSTOARGUMENTS
#include "codegen/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {
struct DscOutputsToArgumentsPass
    : mlir::dsc::impl::DscOutputsToArgumentsBase<DscOutputsToArgumentsPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (!func.isPublic() || func.isExternal())
        continue;
      if (!llvm::all_of(func.getResultTypes(), llvm::IsaPred<TensorType>)) {
        func.emitError("entry point results must be tensors");
        return signalPassFailure();
      }
      SmallVector<Value> outputs;
      for (Type type : func.getResultTypes()) {
        unsigned index = func.getNumArguments();
        auto attrs = DictionaryAttr::get(
            ctx, {NamedAttribute(StringAttr::get(ctx, "bufferization.writable"),
                                 BoolAttr::get(ctx, true)),
                  NamedAttribute(StringAttr::get(ctx, "dsc.output"),
                                 UnitAttr::get(ctx))});
        if (failed(func.insertArgument(index, type, attrs, func.getLoc())))
          return signalPassFailure();
        outputs.push_back(func.getArgument(index));
      }
      func.walk([&](func::ReturnOp ret) {
        OpBuilder b(ret);
        SmallVector<Value> results;
        for (auto [value, out] : llvm::zip_equal(ret.getOperands(), outputs)) {
          results.push_back(bufferization::MaterializeInDestinationOp::create(
                                b, ret.getLoc(), value, out)
                                .getResult());
        }
        ret->setOperands(results);
      });
    }
  }
};
} // namespace

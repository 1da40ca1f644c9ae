//===- PackEntryPoints.cpp - One packed C signature per entry point -------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"

#define DEBUG_TYPE "dsc-pack-entry-points"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCPACKENTRYPOINTS
#include "codegen/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {
constexpr StringLiteral kCInterfacePrefix = "_mlir_ciface_";

struct DscPackEntryPointsPass
    : mlir::dsc::impl::DscPackEntryPointsBase<DscPackEntryPointsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<LLVM::LLVMFuncOp> ifaces;
    for (auto fn : module.getOps<LLVM::LLVMFuncOp>())
      if (fn.getName().starts_with(kCInterfacePrefix) && !fn.isExternal())
        ifaces.push_back(fn);
    auto ptrType = LLVM::LLVMPointerType::get(&getContext());
    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToEnd(module.getBody());
    for (LLVM::LLVMFuncOp iface : ifaces) {
      LLVM::LLVMFunctionType type = iface.getFunctionType();
      if (!llvm::all_of(type.getParams(),
                        [&](Type t) { return t == ptrType; }) ||
          !isa<LLVM::LLVMVoidType>(type.getReturnType())) {
        iface.emitError("entry point must take only descriptor pointers and "
                        "return nothing (use out-params)");
        return signalPassFailure();
      }
      std::string name =
          ("dsc_entry_" + iface.getName().drop_front(kCInterfacePrefix.size()))
              .str();
      Location loc = iface.getLoc();
      auto wrapper = LLVM::LLVMFuncOp::create(
          b, loc, name,
          LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(&getContext()),
                                      {ptrType}));
      Block *body = wrapper.addEntryBlock(b);
      OpBuilder wb = OpBuilder::atBlockBegin(body);
      SmallVector<Value> args;
      for (unsigned i = 0; i < type.getNumParams(); ++i) {
        Value slot = LLVM::GEPOp::create(
            wb, loc, ptrType, ptrType, body->getArgument(0),
            ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(i)});
        args.push_back(LLVM::LoadOp::create(wb, loc, ptrType, slot));
      }
      LLVM::CallOp::create(wb, loc, iface, args);
      LLVM::ReturnOp::create(wb, loc, ValueRange{});
    }
  }
};
} // namespace

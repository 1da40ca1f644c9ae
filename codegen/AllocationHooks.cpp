//===- AllocationHooks.cpp - Allocations through replaceable hooks --------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"

#define DEBUG_TYPE "dsc-allocation-hooks"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCALLOCATIONHOOKS
#include "codegen/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {

/// One allocation entry point of MLIR's generic-function lowering, the hook
/// that serves it, and the libc function the hook starts out as.
struct Hook {
  StringLiteral generic, hook, libc;
};

constexpr Hook kHooks[] = {
    {"_mlir_memref_to_llvm_alloc", "dsc_alloc_hook", "malloc"},
    {"_mlir_memref_to_llvm_aligned_alloc", "dsc_aligned_alloc_hook",
     "aligned_alloc"},
    {"_mlir_memref_to_llvm_free", "dsc_free_hook", "free"},
};

struct DscAllocationHooksPass
    : mlir::dsc::impl::DscAllocationHooksBase<DscAllocationHooksPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto ptrType = LLVM::LLVMPointerType::get(&getContext());
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    for (const Hook &hook : kHooks) {
      auto generic = module.lookupSymbol<LLVM::LLVMFuncOp>(hook.generic);
      if (!generic || !generic.isExternal())
        continue;
      Location loc = generic.getLoc();
      LLVM::LLVMFunctionType type = generic.getFunctionType();
      // The libc function, with the generic entry point's signature.
      auto libc = module.lookupSymbol<LLVM::LLVMFuncOp>(hook.libc);
      if (!libc)
        libc = LLVM::LLVMFuncOp::create(b, loc, hook.libc, type);
      // An exported, writable function pointer initialized to libc.
      auto global = createHookGlobal(b, loc, hook.hook, [&](OpBuilder &ib) {
        return LLVM::AddressOfOp::create(ib, loc, libc).getResult();
      });
      // The generic entry point calls through the pointer.
      Block *body = generic.addEntryBlock(b);
      OpBuilder fb = OpBuilder::atBlockBegin(body);
      Value slot = LLVM::AddressOfOp::create(fb, loc, global);
      Value target = LLVM::LoadOp::create(fb, loc, ptrType, slot);
      SmallVector<Value> operands = {target};
      llvm::append_range(operands, body->getArguments());
      auto call = LLVM::CallOp::create(fb, loc, type, operands);
      if (isa<LLVM::LLVMVoidType>(type.getReturnType()))
        LLVM::ReturnOp::create(fb, loc, ValueRange{});
      else
        LLVM::ReturnOp::create(fb, loc, call.getResult());
      b.setInsertionPointToEnd(module.getBody());
    }
  }
};
} // namespace

LLVM::GlobalOp
mlir::dsc::createHookGlobal(OpBuilder &b, Location loc, StringRef name,
                            function_ref<Value(OpBuilder &)> initial) {
  auto global = LLVM::GlobalOp::create(
      b, loc, LLVM::LLVMPointerType::get(b.getContext()),
      /*isConstant=*/false, LLVM::Linkage::External, name, Attribute());
  OpBuilder::InsertionGuard guard(b);
  OpBuilder ib =
      OpBuilder::atBlockBegin(b.createBlock(&global.getInitializerRegion()));
  LLVM::ReturnOp::create(ib, loc, initial(ib));
  return global;
}

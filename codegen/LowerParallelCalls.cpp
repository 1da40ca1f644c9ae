//===- LowerParallelCalls.cpp - Column ranges through a parallel-for hook -===//
//
// dsc-parallelize-contractions leaves, per large contraction, a function
// marked `dsc.parallel_for = grain` that calls `@columns(args..., 0,
// extent)`. Here, in the LLVM dialect, that call becomes one through an
// exported hook the runtime may point at its thread pool:
//
//   hook(context, @task, frame, extent, grain)
//
// `frame` holds the call's arguments (memref descriptors expanded to their
// fields) on the caller's stack; `@task(frame, begin, end)` loads them and
// calls `@columns(args..., begin, end)`. The hook starts out serial.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"

#define DEBUG_TYPE "dsc-lower-parallel-calls"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCLOWERPARALLELCALLS
#include "codegen/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {

constexpr StringLiteral kHook = "dsc_parallel_for_hook";
constexpr StringLiteral kContext = "dsc_parallel_for_context";
constexpr StringLiteral kSerial = "dsc_parallel_for_serial";

struct DscLowerParallelCallsPass
    : mlir::dsc::impl::DscLowerParallelCallsBase<DscLowerParallelCallsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<LLVM::LLVMFuncOp> marked;
    for (auto fn : module.getOps<LLVM::LLVMFuncOp>()) {
      fn->removeAttr(kParallelColumnsAttr);
      if (fn->hasAttr(kParallelForAttr))
        marked.push_back(fn);
    }
    if (marked.empty())
      return;
    MLIRContext *ctx = &getContext();
    ptrType = LLVM::LLVMPointerType::get(ctx);
    i64 = IntegerType::get(ctx, 64);
    voidType = LLVM::LLVMVoidType::get(ctx);
    // task(frame, begin, end) and hook(context, task, frame, extent, grain).
    taskType = LLVM::LLVMFunctionType::get(voidType, {ptrType, i64, i64});
    hookType = LLVM::LLVMFunctionType::get(
        voidType, {ptrType, ptrType, ptrType, i64, i64});
    if (failed(declareHook(module)))
      return signalPassFailure();
    SymbolTable symbols(module);
    for (LLVM::LLVMFuncOp fn : marked)
      if (failed(lower(module, fn, symbols)))
        return signalPassFailure();
  }

private:
  /// `@dsc_parallel_for_serial`, and the exported hook (initialized to it)
  /// and context (null).
  LogicalResult declareHook(ModuleOp module) {
    for (StringRef name : {kHook, kContext, kSerial})
      if (module.lookupSymbol(name))
        return module.emitError() << "dsc-lower-parallel-calls: the module "
                                     "already defines '"
                                  << name << "'";
    Location loc = module.getLoc();
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    // The serial hook: task(frame, 0, extent).
    auto serial = LLVM::LLVMFuncOp::create(b, loc, kSerial, hookType,
                                           LLVM::Linkage::Internal);
    {
      Block *body = serial.addEntryBlock(b);
      OpBuilder fb = OpBuilder::atBlockBegin(body);
      Value zero = LLVM::ConstantOp::create(fb, loc, i64, 0);
      LLVM::CallOp::create(fb, loc, taskType,
                           ValueRange{body->getArgument(1),
                                      body->getArgument(2), zero,
                                      body->getArgument(3)});
      LLVM::ReturnOp::create(fb, loc, ValueRange{});
    }
    b.setInsertionPointToEnd(module.getBody());
    createHookGlobal(b, loc, kHook, [&](OpBuilder &ib) {
      return LLVM::AddressOfOp::create(ib, loc, serial).getResult();
    });
    createHookGlobal(b, loc, kContext, [&](OpBuilder &ib) {
      return LLVM::ZeroOp::create(ib, loc, ptrType).getResult();
    });
    return success();
  }

  LogicalResult lower(ModuleOp module, LLVM::LLVMFuncOp fn,
                      SymbolTable &symbols) {
    auto grain = dyn_cast<IntegerAttr>(fn->getAttr(kParallelForAttr));
    if (!grain || grain.getInt() < 1)
      return fn.emitError("'dsc.parallel_for' must be a positive integer");
    SmallVector<LLVM::CallOp> calls;
    fn.walk([&](LLVM::CallOp call) { calls.push_back(call); });
    auto malformed = [&] {
      return fn.emitError("'dsc.parallel_for' function must make one direct "
                          "call whose last two arguments are 0 and the "
                          "extent (i64)");
    };
    if (calls.size() != 1 || !calls.front().getCallee())
      return malformed();
    LLVM::CallOp call = calls.front();
    OperandRange operands = call.getArgOperands();
    if (operands.size() < 2 || operands.back().getType() != i64 ||
        !matchPattern(operands[operands.size() - 2], m_Zero()))
      return malformed();
    auto callee = module.lookupSymbol<LLVM::LLVMFuncOp>(*call.getCallee());
    if (!callee)
      return call.emitError("callee is not an LLVM function of the module");
    Location loc = call.getLoc();
    ValueRange args = operands.drop_back(2);
    SmallVector<Type> fields(args.getTypes());
    auto frameType = LLVM::LLVMStructType::getLiteral(&getContext(), fields);

    // @NAME_task(frame, begin, end): the arguments back, then the call.
    // (Detached, then inserted: renamed should the name be taken.)
    OpBuilder b(&getContext());
    auto task = LLVM::LLVMFuncOp::create(b, loc, (fn.getName() + "_task").str(),
                                         taskType, LLVM::Linkage::Internal);
    symbols.insert(task);
    {
      Block *body = task.addEntryBlock(b);
      OpBuilder tb = OpBuilder::atBlockBegin(body);
      SmallVector<Value> loaded;
      for (auto [i, type] : llvm::enumerate(fields)) {
        Value field = LLVM::GEPOp::create(
            tb, loc, ptrType, frameType, body->getArgument(0),
            ArrayRef<LLVM::GEPArg>{0, int32_t(i)});
        loaded.push_back(LLVM::LoadOp::create(tb, loc, type, field));
      }
      loaded.push_back(body->getArgument(1));
      loaded.push_back(body->getArgument(2));
      LLVM::CallOp::create(tb, loc, callee, loaded);
      LLVM::ReturnOp::create(tb, loc, ValueRange{});
    }

    // In `fn`: the frame, then the hook's call in place of the call.
    b.setInsertionPointToStart(&fn.getBody().front());
    Value one = LLVM::ConstantOp::create(b, loc, i64, 1);
    Value frame = LLVM::AllocaOp::create(b, loc, ptrType, frameType, one);
    b.setInsertionPoint(call);
    for (auto [i, arg] : llvm::enumerate(args)) {
      Value field = LLVM::GEPOp::create(b, loc, ptrType, frameType, frame,
                                        ArrayRef<LLVM::GEPArg>{0, int32_t(i)});
      LLVM::StoreOp::create(b, loc, arg, field);
    }
    Value hook = LLVM::LoadOp::create(
        b, loc, ptrType, LLVM::AddressOfOp::create(b, loc, ptrType, kHook));
    Value context = LLVM::LoadOp::create(
        b, loc, ptrType, LLVM::AddressOfOp::create(b, loc, ptrType, kContext));
    Value taskAddress = LLVM::AddressOfOp::create(b, loc, task);
    Value grainValue = LLVM::ConstantOp::create(b, loc, i64, grain.getInt());
    LLVM::CallOp::create(b, loc, hookType,
                         ValueRange{hook, context, taskAddress, frame,
                                    operands.back(), grainValue});
    call.erase();
    fn->removeAttr(kParallelForAttr);
    return success();
  }

  Type ptrType, i64, voidType;
  LLVM::LLVMFunctionType taskType, hookType;
};

} // namespace

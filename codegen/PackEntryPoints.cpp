//===- PackEntryPoints.cpp - One packed C signature per entry point -------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"

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
    // A function called from several places (a layer body shared by all
    // layers of its kind: 58 for DeepSeek-V3's MoE layers) stays out of
    // line; inlining would copy it per call site and make LLVM's compile
    // time grow with the layer count.
    llvm::DenseMap<StringRef, unsigned> callSites;
    module.walk([&](LLVM::CallOp call) {
      if (std::optional<StringRef> callee = call.getCallee())
        ++callSites[*callee];
    });
    for (auto fn : module.getOps<LLVM::LLVMFuncOp>())
      if (!fn.isExternal() && callSites.lookup(fn.getName()) > 1)
        fn.setNoInline(true);
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
      StringRef name = iface.getName().drop_front(kCInterfacePrefix.size());
      Location loc = iface.getLoc();
      auto entry = LLVM::LLVMFuncOp::create(
          b, loc, ("dsc_entry_" + name).str(),
          LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(&getContext()),
                                      {ptrType}));
      Block *body = entry.addEntryBlock(b);
      OpBuilder eb = OpBuilder::atBlockBegin(body);
      // Descriptor pointer i comes from argv[i].
      IRMapping mapping;
      for (unsigned i = 0; i < type.getNumParams(); ++i) {
        Value slot = LLVM::GEPOp::create(
            eb, loc, ptrType, ptrType, body->getArgument(0),
            ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(i)});
        mapping.map(iface.getArgument(i),
                    LLVM::LoadOp::create(eb, loc, ptrType, slot));
      }
      if (succeeded(mergeBody(iface, name, entry, eb, mapping)))
        continue;
      // Fallback: call the C interface function with the loaded pointers.
      SmallVector<Value> args;
      for (BlockArgument arg : iface.getArguments())
        args.push_back(mapping.lookup(arg));
      LLVM::CallOp::create(eb, loc, iface, args);
      LLVM::ReturnOp::create(eb, loc, ValueRange{});
    }
  }

  /// Builds the entry point's body from the C interface function and the
  /// function it wraps, without the call between them: `_mlir_ciface_NAME`
  /// unpacks each descriptor and calls NAME with every field as a separate
  /// argument (thousands for DeepSeek-V3, whose weights are arguments), and
  /// LLVM's instruction selection is quadratic in that call's size. So the
  /// unpacking is cloned into `entry` and NAME's blocks are moved after it.
  LogicalResult mergeBody(LLVM::LLVMFuncOp iface, StringRef name,
                          LLVM::LLVMFuncOp entry, OpBuilder &eb,
                          IRMapping &mapping) {
    ModuleOp module = getOperation();
    auto callee = module.lookupSymbol<LLVM::LLVMFuncOp>(name);
    if (!callee || callee.isExternal() || !iface.getBody().hasOneBlock())
      return failure();
    std::optional<SymbolTable::UseRange> uses =
        SymbolTable::getSymbolUses(callee, module);
    if (!uses || std::distance(uses->begin(), uses->end()) != 1)
      return failure();
    Block &ifaceBlock = iface.getBody().front();
    LLVM::CallOp call;
    for (Operation &op : ifaceBlock) {
      auto c = dyn_cast<LLVM::CallOp>(op);
      if (c && c.getCallee() == name) {
        if (call)
          return failure();
        call = c;
      } else if (call && !isa<LLVM::ReturnOp>(op)) {
        return failure(); // Work after the call: keep the plain wrapper.
      }
    }
    if (!call || call.getNumResults() != 0)
      return failure();
    for (Operation &op : ifaceBlock.without_terminator())
      if (&op != call.getOperation())
        eb.clone(op, mapping);
    SmallVector<Value> args;
    for (Value v : call.getArgOperands())
      args.push_back(mapping.lookupOrDefault(v));
    Block *calleeEntry = &callee.getBody().front();
    entry.getBody().getBlocks().splice(entry.getBody().end(),
                                       callee.getBody().getBlocks());
    LLVM::BrOp::create(eb, call.getLoc(), args, calleeEntry);
    iface.erase();
    callee.erase();
    return success();
  }
};
} // namespace

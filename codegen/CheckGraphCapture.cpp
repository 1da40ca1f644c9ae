//===- CheckGraphCapture.cpp - Which GPU entry points a graph can hold ----===//
//
// A CUDA graph records the kernels a host function launches, with their
// arguments, and replays them without the host function. That is only the
// same computation when the host code itself neither reads what kernels
// computed (a size, a loop bound, a branch taken from device data) nor
// writes what kernels read (the replay would not repeat the write). This
// pass finds, per entry point, whether its host code (the entry and every
// function it calls) touches any buffer a kernel uses, and records the
// entry points that do not in the module's `dsc.graph_capturable`.
//
// Buffers the host may use freely are the ones no kernel sees: allocations
// whose uses, through views and calls, are host loads and stores,
// deallocations and metadata queries (the ownership flags and pointer lists
// of MLIR's buffer deallocation are such). Everything else counts as
// device data: arguments of entry points (inputs, outputs, weights, cache),
// globals, and any allocation a launch takes or that is passed on in a way
// the analysis does not follow. It denies by default: an op it does not
// know (no memory effects, an external call, a raw pointer) that takes a
// buffer counts as an access. The one exception is an external function
// declared `dsc.metadata_only` (kMetadataOnlyAttr: the runtime's TMA
// descriptors), which reads its buffers' addresses and sizes only.
//
//===----------------------------------------------------------------------===//

#include "codegen/Buffers.h"
#include "codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMTypes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#define DEBUG_TYPE "dsc-check-graph-capture"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCCHECKGRAPHCAPTURE
#include "codegen/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {

bool isBufferLike(Type type) {
  return isa<BaseMemRefType, LLVM::LLVMPointerType>(type);
}

/// Deny by default: an op counts as reading or writing the buffers among
/// its operands unless it is known not to, or its memory effects say which
/// buffers it touches (then those are checked).
class HostAccessAnalysis {
public:
  explicit HostAccessAnalysis(ModuleOp module)
      : symbols(module), users(symbolTables, module) {}

  /// The first host op of `fn` or of a function it calls that reads or
  /// writes a buffer a kernel uses (or that might), or null. Once per
  /// function: a step calls each layer function once per layer. A call
  /// back into a function still being analysed (recursion) counts as an
  /// access: an answer assumed there would be kept.
  Operation *firstDeviceAccess(func::FuncOp fn) {
    auto [it, inserted] = functionAccess.try_emplace(fn, fn);
    if (!inserted)
      return it->second; // Known, or in progress: fn itself.
    Operation *found = nullptr;
    fn.walk([&](Operation *op) {
      found = deviceAccess(op);
      return found ? WalkResult::interrupt() : WalkResult::advance();
    });
    functionAccess[fn] = found;
    return found;
  }

private:
  /// `op` if it (its nested ops are walked apart) may read or write a
  /// buffer a kernel uses, or the op that does in a function it calls;
  /// else null.
  Operation *deviceAccess(Operation *op) {
    if (op->getParentOfType<gpu::GPUModuleOp>() ||
        isa<gpu::GPUModuleOp, gpu::LaunchFuncOp>(op))
      return nullptr;
    if (auto call = dyn_cast<func::CallOp>(op)) {
      auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
      if (callee && !callee.isExternal())
        return firstDeviceAccess(callee);
      // The runtime's functions that read buffers' metadata only (a TMA
      // descriptor's address and sizes).
      if (callee && callee->hasAttr(kMetadataOnlyAttr))
        return nullptr;
      // An external function may do anything, also with the globals.
      return op;
    }
    return accessesDeviceData(op) ? op : nullptr;
  }

  /// Whether `op`, not a call, may read or write a buffer a kernel uses.
  bool accessesDeviceData(Operation *op) {
    // Ops that hand buffers on without touching them.
    if (isa<func::ReturnOp, scf::YieldOp, scf::ConditionOp, cf::BranchOp,
            cf::CondBranchOp, memref::DeallocOp, memref::DimOp,
            memref::ExtractStridedMetadataOp,
            memref::ExtractAlignedPointerAsIndexOp, ViewLikeOpInterface>(op))
      return false;
    auto effects = dyn_cast<MemoryEffectOpInterface>(op);
    if (!effects) {
      if (op->hasTrait<OpTrait::HasRecursiveMemoryEffects>())
        return false; // Its nested ops are walked.
      return llvm::any_of(op->getOperandTypes(), isBufferLike);
    }
    SmallVector<MemoryEffects::EffectInstance> list;
    effects.getEffects(list);
    for (const MemoryEffects::EffectInstance &effect : list) {
      if (!isa<MemoryEffects::Read, MemoryEffects::Write>(effect.getEffect()))
        continue;
      Value buffer = effect.getValue();
      // Memory it cannot name, or a raw pointer: assume the worst.
      if (!buffer || !isa<BaseMemRefType>(buffer.getType()))
        return true;
      if (!isHostOnly(rootBuffer(buffer)))
        return true;
    }
    return false;
  }

  /// Whether `root` is a buffer no kernel sees.
  bool isHostOnly(Value root) {
    if (auto arg = dyn_cast<BlockArgument>(root)) {
      // An argument of a private function: host-only when every caller
      // passes a host-only buffer.
      auto fn = dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp());
      if (!fn || fn.isPublic() || arg.getOwner() != &fn.getBody().front())
        return false;
      if (auto it = hostOnlyArguments.find(arg); it != hostOnlyArguments.end())
        return it->second;
      // Recursion back to this argument assumes the worst (the answer is
      // kept).
      hostOnlyArguments[arg] = false;
      bool result = llvm::all_of(users.getUsers(fn), [&](Operation *user) {
        auto call = dyn_cast<func::CallOp>(user);
        return call &&
               isHostOnly(rootBuffer(call.getOperand(arg.getArgNumber())));
      });
      result = result && usedOnHostOnly(arg);
      hostOnlyArguments[arg] = result;
      return result;
    }
    if (!isa_and_nonnull<memref::AllocOp, memref::AllocaOp>(
            root.getDefiningOp()))
      return false;
    return usedOnHostOnly(root);
  }

  /// Whether every use of `buffer` (through views and calls) is a host
  /// load, store, deallocation or metadata query: allowed uses only, so
  /// that a buffer passed on any other way (a launch, a return, a loop or
  /// branch operand, a select, an external call) counts as device data.
  bool usedOnHostOnly(Value buffer) {
    if (auto it = hostOnly.find(buffer); it != hostOnly.end())
      return it->second;
    hostOnly[buffer] = true; // Recursion through calls assumes the best.
    bool result = true;
    for (OpOperand &use : buffer.getUses()) {
      Operation *user = use.getOwner();
      if (isa<memref::LoadOp, memref::DeallocOp, memref::DimOp>(user))
        continue;
      // The address, as long as no kernel gets it.
      if (auto pointer =
              dyn_cast<memref::ExtractAlignedPointerAsIndexOp>(user)) {
        if (reachesKernel(pointer.getResult()))
          result = false;
        if (!result)
          break;
        continue;
      }
      // The base buffer: another view.
      if (auto metadata = dyn_cast<memref::ExtractStridedMetadataOp>(user)) {
        if (!usedOnHostOnly(metadata.getBaseBuffer()))
          result = false;
        if (!result)
          break;
        continue;
      }
      if (auto store = dyn_cast<memref::StoreOp>(user);
          store && store.getMemRef() == buffer)
        continue;
      if (auto call = dyn_cast<func::CallOp>(user)) {
        auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
        result = callee && !callee.isExternal() &&
                 usedOnHostOnly(callee.getArgument(use.getOperandNumber()));
      } else if (auto view = dyn_cast<ViewLikeOpInterface>(user);
                 view && view.getViewSource() == buffer) {
        for (Value viewResult : user->getResults())
          if (isa<BaseMemRefType>(viewResult.getType()) &&
              !usedOnHostOnly(viewResult))
            result = false;
      } else {
        result = false;
      }
      if (!result)
        break;
    }
    hostOnly[buffer] = result;
    return result;
  }

  /// Whether the integer `value` (an address) can reach a kernel: as a
  /// launch operand, through arithmetic, or stored into a buffer that is
  /// not a host allocation.
  bool reachesKernel(Value value) {
    SmallVector<Value> worklist = {value};
    llvm::SmallPtrSet<Value, 8> seen;
    while (!worklist.empty()) {
      Value v = worklist.pop_back_val();
      if (!seen.insert(v).second)
        continue;
      for (Operation *user : v.getUsers()) {
        if (isa<gpu::LaunchFuncOp, func::CallOp, func::ReturnOp>(user))
          return true;
        if (auto store = dyn_cast<memref::StoreOp>(user)) {
          if (!isa_and_nonnull<memref::AllocOp, memref::AllocaOp>(
                  rootBuffer(store.getMemRef()).getDefiningOp()))
            return true;
          continue;
        }
        if (isa<arith::ArithDialect>(user->getDialect()))
          llvm::append_range(worklist, user->getResults());
        else if (!isa<memref::LoadOp>(user) && user->getNumResults())
          return true; // Somewhere the analysis does not follow.
      }
    }
    return false;
  }

  SymbolTable symbols;
  SymbolTableCollection symbolTables;
  // The calls of each function, found once (a walk of the module per query
  // made this pass half of DeepSeek-V3's GPU compile).
  SymbolUserMap users;
  llvm::DenseMap<Value, bool> hostOnly, hostOnlyArguments;
  llvm::DenseMap<Operation *, Operation *> functionAccess;
};

struct DscCheckGraphCapturePass
    : mlir::dsc::impl::DscCheckGraphCaptureBase<DscCheckGraphCapturePass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    HostAccessAnalysis analysis(module);
    SmallVector<Attribute> capturable;
    for (auto fn : module.getOps<func::FuncOp>()) {
      if (!fn.isPublic() || fn.isExternal())
        continue;
      Operation *access = analysis.firstDeviceAccess(fn);
      if (!access) {
        capturable.push_back(fn.getSymNameAttr());
        if (report)
          fn.emitRemark() << "entry point '" << fn.getSymName()
                          << "' can be captured into a CUDA graph";
        continue;
      }
      ++numNotCapturable;
      if (report) {
        InFlightDiagnostic diag =
            fn.emitRemark() << "entry point '" << fn.getSymName()
                            << "' cannot be captured into a CUDA graph: its "
                               "host code accesses a buffer the kernels use";
        diag.attachNote(access->getLoc())
            << "'" << access->getName() << "' here";
      }
    }
    module->setAttr("dsc.graph_capturable",
                    ArrayAttr::get(&getContext(), capturable));
  }
};

} // namespace

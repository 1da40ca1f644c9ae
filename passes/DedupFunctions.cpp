//===- DedupFunctions.cpp - Merge identical functions ---------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/Support/DebugLog.h"

#define DEBUG_TYPE "dsc-dedup-functions"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCDEDUPFUNCTIONS
#include "passes/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {
/// Whether two functions compute the same thing: same type, equivalent
/// bodies (locations and value names aside).
bool equivalent(func::FuncOp a, func::FuncOp b) {
  if (a.getFunctionType() != b.getFunctionType() ||
      a.getAllArgAttrs() != b.getAllArgAttrs())
    return false;
  return OperationEquivalence::isRegionEquivalentTo(
      &a.getBody(), &b.getBody(), OperationEquivalence::IgnoreLocations);
}

struct DscDedupFunctionsPass
    : mlir::dsc::impl::DscDedupFunctionsBase<DscDedupFunctionsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // Analysis first: map each private function to its representative.
    SmallVector<func::FuncOp> representatives;
    SmallVector<std::pair<func::FuncOp, func::FuncOp>> merges;
    for (auto fn : module.getOps<func::FuncOp>()) {
      if (!fn.isPrivate() || fn.isExternal())
        continue;
      auto it = llvm::find_if(representatives, [&](func::FuncOp rep) {
        return equivalent(rep, fn);
      });
      if (it == representatives.end())
        representatives.push_back(fn);
      else
        merges.push_back({fn, *it});
    }
    // Then rewrite.
    for (auto [dup, rep] : merges) {
      LDBG() << "merging @" << dup.getSymName() << " into @"
             << rep.getSymName();
      if (failed(SymbolTable::replaceAllSymbolUses(
              dup.getSymNameAttr(), rep.getSymNameAttr(), module)))
        return signalPassFailure();
      dup.erase();
      ++numMerged;
    }
  }
};
} // namespace

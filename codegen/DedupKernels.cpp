//===- DedupKernels.cpp - Merge identical outlined GPU kernels ------------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/OperationSupport.h"
#include "llvm/Support/DebugLog.h"

#define DEBUG_TYPE "dsc-dedup-kernels"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCDEDUPKERNELS
#include "codegen/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {

/// The single kernel of an outlined module, or null.
gpu::GPUFuncOp soleKernel(gpu::GPUModuleOp module) {
  auto funcs = module.getOps<gpu::GPUFuncOp>();
  if (std::distance(funcs.begin(), funcs.end()) != 1)
    return {};
  gpu::GPUFuncOp fn = *funcs.begin();
  return fn.isKernel() ? fn : gpu::GPUFuncOp();
}

bool equivalent(gpu::GPUFuncOp a, gpu::GPUFuncOp b) {
  return a.getFunctionType() == b.getFunctionType() &&
         a.getKnownBlockSizeAttr() == b.getKnownBlockSizeAttr() &&
         a.getKnownGridSizeAttr() == b.getKnownGridSizeAttr() &&
         OperationEquivalence::isRegionEquivalentTo(
             &a.getBody(), &b.getBody(), OperationEquivalence::IgnoreLocations);
}

struct DscDedupKernelsPass
    : mlir::dsc::impl::DscDedupKernelsBase<DscDedupKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // Analysis: each duplicate module's representative kernel.
    SmallVector<gpu::GPUFuncOp> representatives;
    llvm::DenseMap<StringAttr, gpu::GPUFuncOp> replacement;
    SmallVector<gpu::GPUModuleOp> duplicates;
    for (auto gpuModule : module.getOps<gpu::GPUModuleOp>()) {
      gpu::GPUFuncOp kernel = soleKernel(gpuModule);
      if (!kernel)
        continue;
      auto it = llvm::find_if(representatives, [&](gpu::GPUFuncOp rep) {
        return equivalent(rep, kernel);
      });
      if (it == representatives.end()) {
        representatives.push_back(kernel);
        continue;
      }
      LDBG() << "kernel module @" << gpuModule.getSymName() << " duplicates @"
             << it->getName();
      replacement[gpuModule.getSymNameAttr()] = *it;
      duplicates.push_back(gpuModule);
    }
    // Rewrite: retarget launches, drop the duplicates.
    module.walk([&](gpu::LaunchFuncOp launch) {
      auto it = replacement.find(launch.getKernelModuleName());
      if (it == replacement.end())
        return;
      gpu::GPUFuncOp rep = it->second;
      auto repModule = rep->getParentOfType<gpu::GPUModuleOp>();
      SmallVector<FlatSymbolRefAttr> nested = {
          FlatSymbolRefAttr::get(rep.getNameAttr())};
      launch.setKernelAttr(
          SymbolRefAttr::get(repModule.getSymNameAttr(), nested));
    });
    for (gpu::GPUModuleOp dup : duplicates) {
      dup.erase();
      ++numMerged;
    }
  }
};
} // namespace

//===- dsc-opt.cpp - mlir-opt with the dsc dialect and passes -------------===//

#include "codegen/Passes.h"
#include "dialects/dsc/DscDialect.h"
#include "passes/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::dsc::registerGraphPipelines();
  mlir::dsc::registerCodegenPipelines();

  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  // gpu-module-to-binary translates kernels through LLVM IR.
  mlir::registerAllToLLVMIRTranslations(registry);
  registry.insert<mlir::dsc::DscDialect>();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv,
                        "dsc optimizer driver: the dsc dialect, its passes and "
                        "pipelines on top of mlir-opt\n",
                        registry));
}

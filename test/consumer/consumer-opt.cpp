//===- consumer-opt.cpp - A third-party opt tool with dsc registered ------===//

#include "codegen/Passes.h"
#include "dialects/dsc/DscDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::dsc::registerGraphPipelines();
  mlir::dsc::registerCodegenPipelines();
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  registry.insert<mlir::dsc::DscDialect>();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "consumer of the dsc package\n", registry));
}

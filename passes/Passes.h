//===- Passes.h - Graph passes and pipelines --------------------*- C++ -*-===//

#ifndef DSC_PASSES_PASSES_H
#define DSC_PASSES_PASSES_H

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace mlir::dsc {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// The graph-level pipeline run after import: cleanup and deduplication.
/// (Fusion passes join it as they arrive.)
void buildGraphPipeline(OpPassManager &pm);

/// Registers the graph passes and the `dsc-graph` pipeline.
void registerGraphPipelines();

} // namespace mlir::dsc

#endif // DSC_PASSES_PASSES_H

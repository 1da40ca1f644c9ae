//===- Passes.h - Graph passes and pipelines --------------------*- C++ -*-===//

#ifndef DSC_PASSES_PASSES_H
#define DSC_PASSES_PASSES_H

#include "dialects/dsc/DscDialect.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include <string>

namespace mlir {
class RewritePatternSet;
} // namespace mlir

namespace mlir::dsc {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// Adds the dense-masked-experts to dsc.moe fusion pattern.
void populateFuseMoePatterns(RewritePatternSet &patterns);

/// Options of the graph pipeline.
struct GraphOptions {
  /// Run the fusion passes (off: the canonical graph is compiled as is,
  /// the baseline fusion is measured against).
  bool fuse = true;
  /// Have the fusion passes emit a remark per function saying what fused,
  /// or why not (`dsc-compile --fusion-report`).
  bool report = false;
  /// The dsc.mla form: "auto" (by cost), "naive" or "absorbed".
  std::string mlaForm = "auto";
  /// Derive the KV-cached `@prefill` and `@decode` entry points
  /// (dsc-kv-cache) after fusion.
  bool kvCache = false;
  /// The cache's element type: "f32" or "bf16".
  std::string kvCacheType = "f32";
  /// Merge chains of one-op elementwise generics before matching norms and
  /// activations (graphs from the ONNX importer).
  bool elementwiseChains = false;
};

/// The graph-level pipeline run after import: cleanup, fusion and
/// deduplication.
void buildGraphPipeline(OpPassManager &pm, const GraphOptions &options = {});

/// Registers the graph passes and the `dsc-graph` pipeline.
void registerGraphPipelines();

} // namespace mlir::dsc

#endif // DSC_PASSES_PASSES_H

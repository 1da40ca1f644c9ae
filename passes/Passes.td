//===- Passes.td - Graph passes ----------------------------*- tablegen -*-===//

#ifndef DSC_PASSES_PASSES_TD
#define DSC_PASSES_PASSES_TD

include "mlir/Pass/PassBase.td"

def DscDedupFunctions : Pass<"dsc-dedup-functions", "ModuleOp"> {
  let summary = "Merge structurally identical private functions";
  let description = [{
    The importer emits one function per decoder layer. Layers of the same
    kind and shape are identical up to their weights (which are arguments),
    so this pass keeps one function per equivalence class and redirects the
    calls: codegen then emits each distinct layer's kernels once.

    Before: `@layer_1`, `@layer_2` with equal bodies, called from `@forward`.
    After: only `@layer_1`, called twice.
  }];
  let statistics = [
    Statistic<"numMerged", "merged", "Number of functions merged away">
  ];
}

#endif // DSC_PASSES_PASSES_TD

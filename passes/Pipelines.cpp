//===- Pipelines.cpp - Graph pipelines ------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::dsc;

void mlir::dsc::buildGraphPipeline(OpPassManager &pm,
                                   const GraphOptions &options) {
  // 1. Fold shapes and constants the importer left behind.
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // 2. Fusion: norms and activations, latent attention, sparse expert
  //    dispatch.
  if (options.fuse) {
    // Norms and activations first: the experts' pattern expects dsc.swiglu.
    DscFuseElementwiseOptions fuseElementwise;
    fuseElementwise.report = options.report;
    fuseElementwise.chains = options.elementwiseChains;
    pm.addPass(createDscFuseElementwise(fuseElementwise));
    DscFuseMlaOptions fuseMla;
    fuseMla.form = options.mlaForm;
    fuseMla.report = options.report;
    pm.addPass(createDscFuseMla(fuseMla));
    DscFuseMoeOptions fuseMoe;
    fuseMoe.report = options.report;
    pm.addPass(createDscFuseMoe(fuseMoe));
    pm.addPass(createCanonicalizerPass());
  }
  // 3. One function per distinct layer.
  pm.addPass(createDscDedupFunctions());
  // 4. Entry points that generate through a latent KV cache.
  if (options.fuse && options.kvCache) {
    DscKvCacheOptions kvCache;
    kvCache.cacheType = options.kvCacheType;
    pm.addPass(createDscKvCache(kvCache));
  }
}

void mlir::dsc::registerGraphPipelines() {
  registerDscGraphPasses();
  PassPipelineRegistration<>(
      "dsc-graph", "Graph pipeline after import: cleanup, fusion, dedup",
      [](OpPassManager &pm) { buildGraphPipeline(pm); });
}

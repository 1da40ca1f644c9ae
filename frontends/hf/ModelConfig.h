//===- ModelConfig.h - DeepSeek config.json ---------------------*- C++ -*-===//
//
// The model facts of a Hugging Face `config.json` of the DeepSeek family
// (V2, V2-Lite, V2.5, V3, V3.1, R1), validated. LLVM-free so the runtime and
// tools can share it.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_FRONTENDS_HF_MODELCONFIG_H
#define DSC_FRONTENDS_HF_MODELCONFIG_H

#include "absl/status/statusor.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dsc::hf {

/// YaRN rope scaling (`rope_scaling` / `rope_parameters` with type yarn).
struct YarnConfig {
  double factor = 1.0;
  int64_t originalMaxPosition = 4096;
  double betaFast = 32.0;
  double betaSlow = 1.0;
  double mscale = 1.0;
  double mscaleAllDim = 0.0;
};

/// Everything the importer needs to know about a DeepSeek model.
struct ModelConfig {
  std::string architecture; // e.g. DeepseekV3ForCausalLM
  int64_t vocabSize = 0;
  int64_t hiddenSize = 0;
  int64_t intermediateSize = 0;
  int64_t moeIntermediateSize = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  std::optional<int64_t> qLoraRank; // absent: plain q_proj
  int64_t kvLoraRank = 0;
  int64_t qkNopeHeadDim = 0;
  int64_t qkRopeHeadDim = 0;
  int64_t vHeadDim = 0;
  int64_t nRoutedExperts = 0;
  int64_t nSharedExperts = 0;
  int64_t numExpertsPerTok = 0;
  int64_t nGroup = 1;
  int64_t topkGroup = 1;
  double routedScalingFactor = 1.0;
  std::string scoringFunc = "softmax"; // sigmoid | softmax
  std::string topkMethod = "greedy"; // greedy | group_limited_greedy | noaux_tc
  bool normTopkProb = false;
  int64_t firstKDenseReplace = 0;
  int64_t moeLayerFreq = 1;
  double rmsNormEps = 1e-6;
  double ropeTheta = 10000.0;
  bool ropeInterleave = true;
  std::optional<YarnConfig> yarn;
  bool tieWordEmbeddings = false;
  /// `max_position_embeddings`: the longest sequence the model serves.
  std::optional<int64_t> maxPositions;
  /// FP8 block size from `quantization_config.weight_block_size`, when set.
  std::optional<std::pair<int64_t, int64_t>> fp8Block;

  /// Whether layer `i` uses the mixture of experts (else the dense MLP).
  bool isMoeLayer(int64_t i) const {
    return nRoutedExperts > 0 && i >= firstKDenseReplace &&
           i % moeLayerFreq == 0;
  }
  int64_t qHeadDim() const { return qkNopeHeadDim + qkRopeHeadDim; }
};

/// Parses and validates `config.json` text; `path` names it in errors.
/// Unknown keys are errors unless they are known not to affect the model.
absl::StatusOr<ModelConfig> parseModelConfig(std::string_view text,
                                             const std::string &path);

/// Reads and parses the file at `path`.
absl::StatusOr<ModelConfig> loadModelConfig(const std::string &path);

} // namespace dsc::hf

#endif // DSC_FRONTENDS_HF_MODELCONFIG_H

//===- ModelConfig.cpp - DeepSeek config.json -----------------------------===//

#include "frontends/hf/ModelConfig.h"

#include "runtime/support/Json.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

namespace dsc::hf {
namespace {

using json::Value;

/// Keys that describe training, tokenisation or the HF runtime and do not
/// change what the model computes.
const std::set<std::string_view> kIgnoredKeys = {"attention_dropout",
                                                 "auto_map",
                                                 "bos_token_id",
                                                 "dtype",
                                                 "model_type",
                                                 "num_nextn_predict_layers",
                                                 "eos_token_id",
                                                 "ep_size",
                                                 "hidden_act",
                                                 "initializer_range",
                                                 "output_router_logits",
                                                 "pad_token_id",
                                                 "pretraining_tp",
                                                 "seq_aux",
                                                 "torch_dtype",
                                                 "transformers_version",
                                                 "use_cache",
                                                 "aux_loss_alpha",
                                                 "num_key_value_heads",
                                                 "head_dim",
                                                 "qk_head_dim",
                                                 "attention_bias",
                                                 "mlp_bias",
                                                 "router_aux_loss_coef",
                                                 "_name_or_path",
                                                 "generation_config",
                                                 "rope_scaling_type"};

/// Keys the importer reads.
const std::set<std::string_view> kModelKeys = {"architectures",
                                               "max_position_embeddings",
                                               "vocab_size",
                                               "hidden_size",
                                               "intermediate_size",
                                               "moe_intermediate_size",
                                               "num_hidden_layers",
                                               "num_attention_heads",
                                               "q_lora_rank",
                                               "kv_lora_rank",
                                               "qk_nope_head_dim",
                                               "qk_rope_head_dim",
                                               "v_head_dim",
                                               "n_routed_experts",
                                               "n_shared_experts",
                                               "num_experts_per_tok",
                                               "n_group",
                                               "topk_group",
                                               "routed_scaling_factor",
                                               "scoring_func",
                                               "topk_method",
                                               "norm_topk_prob",
                                               "first_k_dense_replace",
                                               "moe_layer_freq",
                                               "rms_norm_eps",
                                               "rope_theta",
                                               "rope_interleave",
                                               "rope_scaling",
                                               "rope_parameters",
                                               "tie_word_embeddings",
                                               "num_nextn_predict_layers",
                                               "quantization_config"};

const std::set<std::string_view> kArchitectures = {"DeepseekV3ForCausalLM",
                                                   "DeepseekV2ForCausalLM"};

std::string joinNames(const std::set<std::string_view> &names) {
  std::string out;
  for (std::string_view n : names)
    out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

/// Reads typed keys of one JSON object; the first failure sticks.
class Reader {
public:
  Reader(const Value &object, std::string path, std::string prefix = "")
      : object(object), path(std::move(path)), prefix(std::move(prefix)) {}

  absl::Status status() const { return error; }

  const Value *get(std::string_view key, bool required) {
    const Value *v = object.find(key);
    if ((!v || v->isNull()) && required)
      fail(key, "is missing");
    return v && !v->isNull() ? v : nullptr;
  }

  void integer(std::string_view key, int64_t &out, bool required,
               int64_t min = 0) {
    if (const Value *v = get(key, required)) {
      if (!v->isInteger())
        return fail(key, "must be an integer");
      if (v->getInt() < min)
        return fail(key,
                    absl::StrCat("must be >= ", min, ", got ", v->getInt()));
      out = v->getInt();
    }
  }

  void number(std::string_view key, double &out, bool required) {
    if (const Value *v = get(key, required)) {
      if (!v->isNumber())
        return fail(key, "must be a number");
      out = v->getDouble();
    }
  }

  void boolean(std::string_view key, bool &out, bool required) {
    if (const Value *v = get(key, required)) {
      if (!v->isBool())
        return fail(key, "must be true or false");
      out = v->getBool();
    }
  }

  void string(std::string_view key, std::string &out, bool required) {
    if (const Value *v = get(key, required)) {
      if (!v->isString())
        return fail(key, "must be a string");
      out = v->getString();
    }
  }

  void fail(std::string_view key, std::string_view what) {
    if (error.ok())
      error = absl::InvalidArgumentError(absl::StrCat(
          path, ": key '", prefix, std::string(key), "' ", std::string(what)));
  }

private:
  const Value &object;
  std::string path;
  std::string prefix;
  absl::Status error;
};

/// Rejects keys of a nested block that this compiler does not understand:
/// an unread key (a typo, or a newer option) could change the model.
absl::Status checkKnownKeys(const Value &block,
                            const std::set<std::string_view> &known,
                            const std::string &path,
                            std::string_view blockKey) {
  for (const auto &[key, value] : block.getObject())
    if (!known.count(key))
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": unknown key '", std::string(blockKey), ".", key,
                       "' (not a key this compiler understands)"));
  return absl::OkStatus();
}

absl::Status parseRope(const Value &root, Reader &r, ModelConfig &c,
                       const std::string &path) {
  // Newer configs: `rope_parameters` {rope_type, rope_theta, ...};
  // older ones: `rope_scaling` {type, ...} with top-level `rope_theta`.
  const Value *params = root.find("rope_parameters");
  std::string blockKey = "rope_parameters";
  if (!params || params->isNull()) {
    params = root.find("rope_scaling");
    blockKey = "rope_scaling";
  }
  r.number("rope_theta", c.ropeTheta, /*required=*/false);
  if (!params || params->isNull())
    return r.status();
  if (!params->isObject())
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": key '", blockKey, "' must be an object"));
  static const std::set<std::string_view> kRopeKeys = {
      "type",
      "rope_type",
      "rope_theta",
      "factor",
      "original_max_position_embeddings",
      "beta_fast",
      "beta_slow",
      "mscale",
      "mscale_all_dim"};
  if (absl::Status s = checkKnownKeys(*params, kRopeKeys, path, blockKey);
      !s.ok())
    return s;
  Reader p(*params, path, blockKey + ".");
  p.number("rope_theta", c.ropeTheta, /*required=*/false);
  std::string type;
  if (params->find("rope_type"))
    p.string("rope_type", type, true);
  else
    p.string("type", type, true);
  if (!p.status().ok())
    return p.status();
  if (type == "default")
    return absl::OkStatus();
  if (type != "yarn")
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": key '", blockKey, ".type' is '", type,
        "'; only 'yarn' and 'default' rope scaling are supported"));
  YarnConfig y;
  p.number("factor", y.factor, true);
  p.integer("original_max_position_embeddings", y.originalMaxPosition, true, 1);
  p.number("beta_fast", y.betaFast, false);
  p.number("beta_slow", y.betaSlow, false);
  p.number("mscale", y.mscale, false);
  p.number("mscale_all_dim", y.mscaleAllDim, false);
  if (!p.status().ok())
    return p.status();
  auto invalid = [&](std::string_view key, std::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": key '", blockKey,
                                                   ".", std::string(key), "' ",
                                                   std::string(what)));
  };
  if (!(y.factor >= 1.0))
    return invalid("factor", absl::StrCat("must be >= 1, got ", y.factor));
  if (!(y.betaFast > 0.0) || !std::isfinite(y.betaFast))
    return invalid("beta_fast", "must be a positive number");
  if (!(y.betaSlow > 0.0) || !std::isfinite(y.betaSlow))
    return invalid("beta_slow", "must be a positive number");
  if (!std::isfinite(y.mscale))
    return invalid("mscale", "must be finite");
  if (!std::isfinite(y.mscaleAllDim))
    return invalid("mscale_all_dim", "must be finite");
  c.yarn = y;
  return absl::OkStatus();
}

absl::Status parseQuantization(const Value &root, ModelConfig &c,
                               const std::string &path) {
  const Value *q = root.find("quantization_config");
  if (!q || q->isNull())
    return absl::OkStatus();
  if (!q->isObject())
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": key 'quantization_config' must be an object"));
  static const std::set<std::string_view> kQuantizationKeys = {
      "quant_method", "fmt", "activation_scheme", "weight_block_size"};
  if (absl::Status s =
          checkKnownKeys(*q, kQuantizationKeys, path, "quantization_config");
      !s.ok())
    return s;
  Reader r(*q, path, "quantization_config.");
  std::string method, fmt = "e4m3";
  r.string("quant_method", method, true);
  r.string("fmt", fmt, false);
  if (!r.status().ok())
    return r.status();
  if (method != "fp8" || fmt != "e4m3")
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": key 'quantization_config.quant_method' is '", method, "' (",
        fmt, "); only fp8 e4m3 block quantization is supported"));
  std::pair<int64_t, int64_t> block = {128, 128};
  if (const Value *b = q->find("weight_block_size")) {
    if (!b->isArray() || b->getArray().size() != 2 ||
        !b->getArray()[0].isInteger() || !b->getArray()[1].isInteger() ||
        b->getArray()[0].getInt() <= 0 || b->getArray()[1].getInt() <= 0)
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": key 'quantization_config.weight_block_size' "
                             "must be two positive integers"));
    block = {b->getArray()[0].getInt(), b->getArray()[1].getInt()};
  }
  c.fp8Block = block;
  return absl::OkStatus();
}

} // namespace

absl::StatusOr<ModelConfig> parseModelConfig(std::string_view text,
                                             const std::string &path) {
  absl::StatusOr<Value> parsed = json::parse(text);
  if (!parsed.ok())
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", parsed.status().message()));
  const Value &root = *parsed;
  if (!root.isObject())
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": expected a JSON object"));
  for (const auto &[key, value] : root.getObject())
    if (!kIgnoredKeys.count(key) && !kModelKeys.count(key))
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": unknown key '", key,
                       "' (not a DeepSeek config key this compiler knows)"));

  ModelConfig c;
  const Value *arch = root.find("architectures");
  if (!arch || !arch->isArray() || arch->getArray().size() != 1 ||
      !arch->getArray()[0].isString())
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": key 'architectures' must be a list of one string"));
  c.architecture = arch->getArray()[0].getString();
  if (!kArchitectures.count(c.architecture))
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": key 'architectures': unsupported architecture '",
                     c.architecture,
                     "' (expected one of: ", joinNames(kArchitectures), ")"));

  Reader r(root, path);
  r.integer("vocab_size", c.vocabSize, true, 1);
  r.integer("hidden_size", c.hiddenSize, true, 1);
  r.integer("intermediate_size", c.intermediateSize, true, 1);
  r.integer("num_hidden_layers", c.numLayers, true, 1);
  r.integer("num_attention_heads", c.numHeads, true, 1);
  if (r.get("q_lora_rank", false)) {
    int64_t rank = 0;
    r.integer("q_lora_rank", rank, true, 1);
    c.qLoraRank = rank;
  }
  r.integer("kv_lora_rank", c.kvLoraRank, true, 1);
  r.integer("qk_nope_head_dim", c.qkNopeHeadDim, true, 1);
  r.integer("qk_rope_head_dim", c.qkRopeHeadDim, true, 2);
  r.integer("v_head_dim", c.vHeadDim, true, 1);
  r.integer("n_routed_experts", c.nRoutedExperts, false, 0);
  bool moe = c.nRoutedExperts > 0;
  r.integer("moe_intermediate_size", c.moeIntermediateSize, moe, 1);
  // The router keys are required for MoE models: their defaults differ
  // between DeepseekV2Config and DeepseekV3Config, and a silently defaulted
  // router computes a different model.
  r.integer("n_shared_experts", c.nSharedExperts, moe, 0);
  r.integer("num_experts_per_tok", c.numExpertsPerTok, moe, 1);
  r.integer("n_group", c.nGroup, moe, 1);
  r.integer("topk_group", c.topkGroup, moe, 1);
  r.number("routed_scaling_factor", c.routedScalingFactor, moe);
  r.string("scoring_func", c.scoringFunc, false);
  r.string("topk_method", c.topkMethod, moe);
  r.boolean("norm_topk_prob", c.normTopkProb, moe);
  r.integer("first_k_dense_replace", c.firstKDenseReplace, moe, 0);
  r.integer("moe_layer_freq", c.moeLayerFreq, false, 1);
  if (r.get("max_position_embeddings", false)) {
    int64_t positions = 0;
    r.integer("max_position_embeddings", positions, true, 1);
    c.maxPositions = positions;
  }
  r.number("rms_norm_eps", c.rmsNormEps, false);
  r.boolean("rope_interleave", c.ropeInterleave, false);
  r.boolean("tie_word_embeddings", c.tieWordEmbeddings, false);
  if (!r.status().ok())
    return r.status();
  // transformers' DeepseekV3 always scores with a sigmoid (its config has no
  // scoring_func); DeepseekV2Config defaults to softmax.
  if (c.architecture == "DeepseekV3ForCausalLM" && !root.find("scoring_func"))
    c.scoringFunc = "sigmoid";
  if (c.scoringFunc != "sigmoid" && c.scoringFunc != "softmax")
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": key 'scoring_func' is '", c.scoringFunc,
                     "' (expected sigmoid or softmax)"));
  if (c.topkMethod != "greedy" && c.topkMethod != "group_limited_greedy" &&
      c.topkMethod != "noaux_tc")
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": key 'topk_method' is '", c.topkMethod,
                     "' (expected greedy, group_limited_greedy or noaux_tc)"));
  if (moe) {
    if (c.nRoutedExperts % c.nGroup != 0)
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": key 'n_group' (", c.nGroup,
          ") must divide n_routed_experts (", c.nRoutedExperts, ")"));
    if (c.topkGroup > c.nGroup)
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": key 'topk_group' (", c.topkGroup,
                       ") exceeds n_group (", c.nGroup, ")"));
    bool limitsGroups = c.topkMethod != "greedy";
    int64_t reachable = limitsGroups
                            ? c.topkGroup * (c.nRoutedExperts / c.nGroup)
                            : c.nRoutedExperts;
    if (c.numExpertsPerTok > reachable)
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": key 'num_experts_per_tok' (", c.numExpertsPerTok,
          ") exceeds the ", reachable, " experts the router can choose from",
          limitsGroups ? " (topk_group * n_routed_experts / n_group)" : ""));
    if (c.topkMethod == "noaux_tc" && c.nRoutedExperts / c.nGroup < 2)
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": key 'n_group' (", c.nGroup,
          "): noaux_tc scores each group by its top-2 experts, so groups "
          "need at least 2 of the ",
          c.nRoutedExperts, " experts"));
    if (!(c.routedScalingFactor > 0))
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": key 'routed_scaling_factor' must be positive, got ",
          c.routedScalingFactor));
  }
  if (c.qkRopeHeadDim % 2 != 0)
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": key 'qk_rope_head_dim' must be even, got ", c.qkRopeHeadDim));
  if (!(c.rmsNormEps > 0))
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": key 'rms_norm_eps' must be positive"));
  if (absl::Status s = parseRope(root, r, c, path); !s.ok())
    return s;
  if (!(c.ropeTheta > 1))
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": key 'rope_theta' must be greater than 1, got ", c.ropeTheta));
  if (absl::Status s = parseQuantization(root, c, path); !s.ok())
    return s;
  return c;
}

absl::StatusOr<ModelConfig> loadModelConfig(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::NotFoundError(absl::StrCat(path, ": cannot open file"));
  std::ostringstream text;
  text << in.rdbuf();
  return parseModelConfig(text.str(), path);
}

} // namespace dsc::hf

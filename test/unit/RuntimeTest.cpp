//===- RuntimeTest.cpp - Tests for the runtime C API ----------------------===//
//
// Runs artifacts whose host code is RuntimeTestModel.c (path in
// DSC_TEST_FAKE_MODEL) through the public C API, and compares with the same
// model computed here.
//
//===----------------------------------------------------------------------===//

#include "dsc/runtime.h"
#include "test/unit/TempDirTest.h"

#include "runtime/WeightBinder.h"
#include "runtime/artifact/Artifact.h"
#include "runtime/support/HostCpu.h"
#include "runtime/support/Json.h"
#include "runtime/support/Safetensors.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#ifndef DSC_TEST_FAKE_MODEL
#error "DSC_TEST_FAKE_MODEL must name the built RuntimeTestModel.c library"
#endif

using namespace dsc;

namespace {

constexpr int64_t kVocab = 8;

struct ArtifactDeleter {
  void operator()(dsc_artifact_t *a) const { dsc_artifact_release(a); }
};
struct SessionDeleter {
  void operator()(dsc_session_t *s) const { dsc_session_release(s); }
};
using ArtifactPtr = std::unique_ptr<dsc_artifact_t, ArtifactDeleter>;
using SessionPtr = std::unique_ptr<dsc_session_t, SessionDeleter>;

/// Expects `status` to be OK; frees it.
void expectOk(dsc_status_t status) {
  EXPECT_EQ(status, nullptr) << dsc_status_message(status);
  dsc_status_free(status);
}

/// Expects a failure with `code` whose one-line message contains `needle`;
/// frees it and returns the message.
std::string expectError(dsc_status_t status, dsc_status_code_t code,
                        const std::string &needle) {
  EXPECT_NE(status, nullptr);
  std::string message = dsc_status_message(status);
  EXPECT_EQ(dsc_status_code(status), code) << message;
  EXPECT_NE(message.find(needle), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  dsc_status_free(status);
  return message;
}

float embedValue(int64_t i, int64_t j) {
  return static_cast<float>((i * 3 + j * 5) % 7 - 3);
}
float bias0(int64_t v) { return 0.5f * static_cast<float>(v % 3); }
float bias1(int64_t v) { return -0.5f * static_cast<float>(v % 2); }

/// RuntimeTestModel.c's formula for one unpadded sequence: [seq, vocab].
std::vector<float> referenceLogits(const std::vector<int64_t> &tokens) {
  std::vector<float> logits;
  for (size_t s = 0; s < tokens.size(); ++s)
    for (int64_t v = 0; v < kVocab; ++v) {
      float count = static_cast<float>(
          std::count(tokens.begin(), tokens.begin() + s + 1, v));
      logits.push_back(embedValue(tokens[s], v) + bias0(v) + bias1(v) +
                       0.25f * count);
    }
  return logits;
}

/// Greedy generation on one sequence, recomputing from scratch.
std::vector<int64_t> referenceGenerate(std::vector<int64_t> tokens,
                                       int64_t steps) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < steps; ++i) {
    std::vector<float> logits = referenceLogits(tokens);
    const float *last = logits.data() + (tokens.size() - 1) * kVocab;
    int64_t next = std::max_element(last, last + kVocab) - last;
    out.push_back(next);
    tokens.push_back(next);
  }
  return out;
}

/// What to put in a test artifact.
struct ArtifactSpec {
  bool embedWeights = false;
  std::string source;
  std::string symbol = "dsc_entry_forward";
  bool cpuTarget = true;
  std::string hostCode; // default: the fake model
  std::string hostCpu;  // the manifest's host_cpu; none when empty
  /// The graph_capturable member of an sm_90a target (no kernels, no host
  /// code); no such target when null.
  json::Value graphCapturable;
  /// That target's bf16_params; none when null.
  json::Value bf16Params;
  /// With embedWeights: the "section_dtype" of params by index in the
  /// args (1 the table, 3 the e4m3 marker), their sections packed as bf16
  /// when it is "bf16" and `packAsBf16`.
  std::map<size_t, std::string> sectionDtypes;
  bool packAsBf16 = true;
};

class RuntimeTest : public dsc::testing::TempDirTest {
protected:
  void SetUp() override {
    TempDirTest::SetUp();
    if (HasFatalFailure())
      return;
    checkpointDir = dir + "/ckpt";
    std::filesystem::create_directory(checkpointDir);

    std::vector<uint8_t> embed, b0, b1;
    for (int64_t i = 0; i < kVocab; ++i)
      for (int64_t j = 0; j < kVocab; ++j) {
        // The values are small integers: exact in bf16.
        float f = embedValue(i, j);
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        embed.push_back(static_cast<uint8_t>(bits >> 16));
        embed.push_back(static_cast<uint8_t>(bits >> 24));
      }
    for (int64_t v = 0; v < kVocab; ++v) {
      float x = bias0(v), y = bias1(v);
      b0.insert(b0.end(), reinterpret_cast<uint8_t *>(&x),
                reinterpret_cast<uint8_t *>(&x) + 4);
      b1.insert(b1.end(), reinterpret_cast<uint8_t *>(&y),
                reinterpret_cast<uint8_t *>(&y) + 4);
    }
    std::vector<uint8_t> marker = {0x38, 1, 2, 3, 4, 5, 6, 0xC0};
    ASSERT_TRUE(st::writeFile(
                    checkpointDir + "/model.safetensors",
                    {{"embed.weight", st::DType::BF16, {kVocab, kVocab}, embed},
                     {"layers.0.bias", st::DType::F32, {kVocab}, b0},
                     {"layers.1.bias", st::DType::F32, {kVocab}, b1},
                     {"marker", st::DType::F8_E4M3, {kVocab}, marker}})
                    .ok());

    std::ifstream in(DSC_TEST_FAKE_MODEL, std::ios::binary);
    fakeModel.assign(std::istreambuf_iterator<char>(in), {});
    ASSERT_FALSE(fakeModel.empty()) << "cannot read " << DSC_TEST_FAKE_MODEL;
  }

  /// Writes an artifact for the fake model and returns its path.
  std::string writeArtifact(const std::string &name,
                            const ArtifactSpec &spec = {}) {
    auto args = json::Value::array();
    args.push(json::Value::object()
                  .set("role", "input")
                  .set("name", "tokens")
                  .set("dtype", "i64")
                  .set("shape", json::Value::array().push(-1).push(-1)));
    args.push(
        json::Value::object()
            .set("role", "param")
            .set("name", "embed.weight")
            .set("dtype", "f32")
            .set("shape", json::Value::array().push(kVocab).push(kVocab)));
    args.push(json::Value::object()
                  .set("role", "param")
                  .set("name", "layers.{}.bias")
                  .set("dtype", "f32")
                  .set("shape", json::Value::array().push(2).push(kVocab))
                  .set("stack", 2));
    args.push(json::Value::object()
                  .set("role", "param")
                  .set("name", "marker")
                  .set("dtype", "f8e4m3")
                  .set("shape", json::Value::array().push(kVocab)));
    args.push(
        json::Value::object()
            .set("role", "output")
            .set("name", "logits")
            .set("dtype", "f32")
            .set("shape", json::Value::array().push(-1).push(-1).push(kVocab)));

    artifact::Writer writer;
    if (spec.embedWeights) {
      auto checkpoint = st::Checkpoint::open(checkpointDir);
      EXPECT_TRUE(checkpoint.ok()) << checkpoint.status();
      auto &list = const_cast<json::Value::ArrayStorage &>(args.getArray());
      for (size_t i = 1; i <= 3; ++i) {
        auto param = runtime::ParamSpec::fromJson(list[i]);
        EXPECT_TRUE(param.ok()) << param.status();
        if (auto it = spec.sectionDtypes.find(i);
            it != spec.sectionDtypes.end()) {
          list[i].set("section_dtype", it->second);
          if (it->second == "bf16" && spec.packAsBf16 &&
              param->dtype == runtime::ElementType::F32)
            param->dtype = runtime::ElementType::BF16;
        }
        std::vector<uint8_t> bytes(param->numBytes());
        EXPECT_TRUE(
            runtime::packParam(**checkpoint, *param, bytes.data()).ok());
        std::string section = "weights/" + std::to_string(i);
        writer.addSection(section, std::move(bytes));
        list[i].set("section", section);
      }
    }
    auto targets = json::Value::array();
    if (spec.cpuTarget) {
      const std::string &code =
          spec.hostCode.empty() ? fakeModel : spec.hostCode;
      writer.addSection("cpu/host.so", code.data(), code.size());
      auto target = json::Value::object()
                        .set("name", "cpu")
                        .set("kind", "host-shared-object")
                        .set("section", "cpu/host.so");
      if (!spec.hostCpu.empty())
        target.set("host_cpu", spec.hostCpu);
      targets.push(std::move(target));
    }
    if (!spec.graphCapturable.isNull()) {
      auto target = json::Value::object()
                        .set("name", "sm_90a")
                        .set("kind", "ptx")
                        .set("kernels", json::Value::array())
                        .set("graph_capturable", spec.graphCapturable);
      if (!spec.bf16Params.isNull())
        target.set("bf16_params", spec.bf16Params);
      targets.push(std::move(target));
    }
    auto manifest =
        json::Value::object()
            .set("format", "dscx")
            .set("version", dsc::artifact::kManifestVersion)
            .set("compiler", "dsc test")
            .set("model", json::Value::object()
                              .set("architecture", "Fake")
                              .set("vocab_size", kVocab)
                              .set("source", spec.source))
            .set("weights",
                 json::Value::object().set("embedded", spec.embedWeights))
            .set("entry_points",
                 json::Value::array().push(json::Value::object()
                                               .set("name", "forward")
                                               .set("symbol", spec.symbol)
                                               .set("args", std::move(args))))
            .set("targets", std::move(targets));
    std::string text = manifest.dump();
    writer.addSection("manifest.json", text.data(), text.size());
    std::string path = dir + "/" + name;
    absl::Status status = writer.write(path);
    EXPECT_TRUE(status.ok()) << status;
    return path;
  }

  ArtifactPtr open(const std::string &path) {
    dsc_artifact_t *artifact = nullptr;
    expectOk(dsc_artifact_open(path.c_str(), &artifact));
    return ArtifactPtr(artifact);
  }

  /// A session on `path`, binding from `weightsDir` when not empty.
  SessionPtr session(const std::string &path,
                     const std::string &weightsDir = "") {
    ArtifactPtr artifact = open(path);
    dsc_session_options_t options = {};
    if (!weightsDir.empty())
      options.weights_dir = weightsDir.c_str();
    dsc_session_t *session = nullptr;
    expectOk(dsc_session_create(artifact.get(), &options, &session));
    return SessionPtr(session);
  }

  /// dsc_session_create's error for `path` with `options`.
  dsc_status_t createError(const std::string &path,
                           const dsc_session_options_t *options) {
    ArtifactPtr artifact = open(path);
    dsc_session_t *session = nullptr;
    dsc_status_t status = dsc_session_create(artifact.get(), options, &session);
    EXPECT_EQ(session, nullptr);
    dsc_session_release(session);
    return status;
  }

  std::string checkpointDir;
  std::string fakeModel;
};

TEST_F(RuntimeTest, StatusOfNullIsOk) {
  EXPECT_EQ(dsc_status_code(nullptr), DSC_STATUS_OK);
  EXPECT_STREQ(dsc_status_message(nullptr), "");
  dsc_status_free(nullptr);
  dsc_artifact_release(nullptr);
  dsc_session_release(nullptr);
}

TEST_F(RuntimeTest, ArtifactErrors) {
  dsc_artifact_t *artifact = nullptr;
  std::string missing = dir + "/missing.dscx";
  expectError(dsc_artifact_open(missing.c_str(), &artifact),
              DSC_STATUS_NOT_FOUND, missing + ": cannot open");
  EXPECT_EQ(artifact, nullptr);
  std::ofstream(dir + "/text.dscx") << "hello";
  expectError(dsc_artifact_open((dir + "/text.dscx").c_str(), &artifact),
              DSC_STATUS_INVALID_ARGUMENT, "not a dsc artifact (bad magic)");
  expectError(dsc_artifact_open(nullptr, &artifact),
              DSC_STATUS_INVALID_ARGUMENT, "path must not be null");
}

TEST_F(RuntimeTest, ManifestText) {
  ArtifactPtr artifact = open(writeArtifact("m.dscx"));
  auto manifest = json::parse(dsc_artifact_manifest(artifact.get()));
  ASSERT_TRUE(manifest.ok());
  EXPECT_EQ(manifest->find("compiler")->getString(), "dsc test");
}

TEST_F(RuntimeTest, ForwardMatchesReference) {
  SessionPtr s = session(writeArtifact("m.dscx"), checkpointDir);
  EXPECT_EQ(dsc_session_vocab_size(s.get()), kVocab);
  std::vector<std::vector<int64_t>> rows = {{1, 2, 3, 3}, {7, 0, 5, 5}};
  std::vector<int64_t> tokens;
  for (auto &row : rows)
    tokens.insert(tokens.end(), row.begin(), row.end());
  std::vector<float> logits(2 * 4 * kVocab);
  expectOk(dsc_session_forward(s.get(), tokens.data(), 2, 4, logits.data()));
  for (size_t b = 0; b < rows.size(); ++b) {
    std::vector<float> expected = referenceLogits(rows[b]);
    EXPECT_EQ(std::vector<float>(logits.begin() + b * 4 * kVocab,
                                 logits.begin() + (b + 1) * 4 * kVocab),
              expected)
        << "row " << b;
  }
}

// The host module's parallel-for hook runs on the session's threads: the
// same logits on 1, 2 and 5 threads (more threads than rows too), and the
// stats say how many threads ran how many parallel calls.
TEST_F(RuntimeTest, ThreadsRunTheParallelForHook) {
  std::string path = writeArtifact("m.dscx");
  std::vector<int64_t> tokens = {1, 2, 3, 3, 7, 0, 5, 5};
  std::vector<float> expected;
  for (int threads : {1, 2, 5}) {
    ArtifactPtr artifact = open(path);
    dsc_session_options_t options = {};
    options.weights_dir = checkpointDir.c_str();
    options.threads = threads;
    dsc_session_t *raw = nullptr;
    expectOk(dsc_session_create(artifact.get(), &options, &raw));
    SessionPtr s(raw);
    std::vector<float> logits(2 * 4 * kVocab);
    expectOk(dsc_session_forward(s.get(), tokens.data(), 2, 4, logits.data()));
    expectOk(dsc_session_forward(s.get(), tokens.data(), 1, 1, logits.data()));
    expectOk(dsc_session_forward(s.get(), tokens.data(), 2, 4, logits.data()));
    if (expected.empty())
      expected = logits;
    EXPECT_EQ(logits, expected) << threads << " threads";
    dsc_thread_stats_t stats = {};
    dsc_session_thread_stats(s.get(), &stats);
    EXPECT_EQ(stats.threads, threads);
    // The single-row call runs on the calling thread alone.
    EXPECT_EQ(stats.parallel_regions, threads > 1 ? 2 : 0);
  }
  EXPECT_EQ(expected, [&] {
    std::vector<float> both = referenceLogits({1, 2, 3, 3});
    std::vector<float> second = referenceLogits({7, 0, 5, 5});
    both.insert(both.end(), second.begin(), second.end());
    return both;
  }());
  dsc_thread_stats_t none = {7, 7};
  dsc_session_thread_stats(nullptr, &none);
  EXPECT_EQ(none.threads, 1);
  EXPECT_EQ(none.parallel_regions, 0);
  dsc_session_thread_stats(nullptr, nullptr);

  dsc_session_options_t options = {};
  options.weights_dir = checkpointDir.c_str();
  options.threads = -1;
  expectError(createError(path, &options), DSC_STATUS_INVALID_ARGUMENT,
              "threads must be in [0, 1024] (0: one per core), not -1");
  options.threads = 1025;
  expectError(createError(path, &options), DSC_STATUS_INVALID_ARGUMENT,
              "threads must be in [0, 1024] (0: one per core), not 1025");
}

TEST_F(RuntimeTest, BindsFromTheManifestSource) {
  ArtifactSpec spec;
  spec.source = checkpointDir;
  SessionPtr s = session(writeArtifact("m.dscx", spec));
  int64_t tokens[] = {3};
  float logits[kVocab];
  expectOk(dsc_session_forward(s.get(), tokens, 1, 1, logits));
  EXPECT_EQ(std::vector<float>(logits, logits + kVocab), referenceLogits({3}));
}

TEST_F(RuntimeTest, GenerateWithDifferentPromptLengths) {
  SessionPtr s = session(writeArtifact("m.dscx"), checkpointDir);
  std::vector<std::vector<int64_t>> prompts = {{1, 2, 3}, {5}, {7, 7, 0, 4, 6}};
  const int64_t steps = 6;
  std::vector<const int64_t *> data;
  std::vector<int64_t> lengths;
  for (auto &p : prompts) {
    data.push_back(p.data());
    lengths.push_back(p.size());
  }
  std::vector<int64_t> generated(prompts.size() * steps, -1);
  std::vector<float> prefill(prompts.size() * kVocab);
  std::vector<std::pair<int64_t, int64_t>> progress;
  auto record = [](void *user, int64_t step, int64_t total) {
    static_cast<std::vector<std::pair<int64_t, int64_t>> *>(user)->push_back(
        {step, total});
  };
  expectOk(dsc_session_generate(s.get(), data.data(), lengths.data(),
                                prompts.size(), steps, generated.data(),
                                prefill.data(), record, &progress));
  for (size_t b = 0; b < prompts.size(); ++b) {
    EXPECT_EQ(std::vector<int64_t>(generated.begin() + b * steps,
                                   generated.begin() + (b + 1) * steps),
              referenceGenerate(prompts[b], steps))
        << "prompt " << b;
    std::vector<float> logits = referenceLogits(prompts[b]);
    EXPECT_EQ(std::vector<float>(prefill.begin() + b * kVocab,
                                 prefill.begin() + (b + 1) * kVocab),
              std::vector<float>(logits.end() - kVocab, logits.end()))
        << "prompt " << b;
  }
  ASSERT_EQ(progress.size(), size_t(steps));
  for (int64_t i = 0; i < steps; ++i)
    EXPECT_EQ(progress[i], std::make_pair(i + 1, steps));
}

TEST_F(RuntimeTest, GenerateBreaksTiesTowardsTheLowestId) {
  SessionPtr s = session(writeArtifact("m.dscx"), checkpointDir);
  // Find a prompt token whose logits have a tie for the maximum.
  for (int64_t t = 0; t < kVocab; ++t) {
    std::vector<float> logits = referenceLogits({t});
    float best = *std::max_element(logits.begin(), logits.end());
    if (std::count(logits.begin(), logits.end(), best) < 2)
      continue;
    int64_t prompt[] = {t}, length = 1, next = -1;
    const int64_t *prompts[] = {prompt};
    expectOk(dsc_session_generate(s.get(), prompts, &length, 1, 1, &next,
                                  nullptr, nullptr, nullptr));
    EXPECT_EQ(next,
              std::find(logits.begin(), logits.end(), best) - logits.begin());
    return;
  }
  GTEST_SKIP() << "no tie in the test model";
}

TEST_F(RuntimeTest, PrefillOnlyWithZeroNewTokens) {
  SessionPtr s = session(writeArtifact("m.dscx"), checkpointDir);
  int64_t prompt[] = {4, 2}, length = 2;
  const int64_t *prompts[] = {prompt};
  std::vector<float> prefill(kVocab);
  expectOk(dsc_session_generate(s.get(), prompts, &length, 1, 0, nullptr,
                                prefill.data(), nullptr, nullptr));
  std::vector<float> logits = referenceLogits({4, 2});
  EXPECT_EQ(prefill, std::vector<float>(logits.end() - kVocab, logits.end()));
}

TEST_F(RuntimeTest, EmbeddedWeightsNeedNoCheckpoint) {
  ArtifactSpec spec;
  spec.embedWeights = true;
  spec.source = checkpointDir;
  std::string path = writeArtifact("embedded.dscx", spec);
  std::filesystem::remove_all(checkpointDir);
  SessionPtr s = session(path);
  int64_t tokens[] = {6, 1, 1};
  std::vector<float> logits(3 * kVocab);
  expectOk(dsc_session_forward(s.get(), tokens, 1, 3, logits.data()));
  EXPECT_EQ(logits, referenceLogits({6, 1, 1}));
}

// An f32 param embedded as bf16 (as dsc-compile does for one every target
// takes as bf16) is widened for a target that takes it as f32: the same
// logits, its values being bf16 ones. Another section_dtype is an error.
TEST_F(RuntimeTest, Bf16SectionsOfF32ParamsAreWidened) {
  ArtifactSpec spec;
  spec.embedWeights = true;
  spec.sectionDtypes = {{1, "bf16"}};
  SessionPtr s = session(writeArtifact("bf16-section.dscx", spec));
  int64_t tokens[] = {6, 1, 1};
  std::vector<float> logits(3 * kVocab);
  expectOk(dsc_session_forward(s.get(), tokens, 1, 3, logits.data()));
  EXPECT_EQ(logits, referenceLogits({6, 1, 1}));

  spec.sectionDtypes = {{1, "f16"}};
  expectError(createError(writeArtifact("f16-section.dscx", spec), nullptr),
              DSC_STATUS_INVALID_ARGUMENT,
              "'section_dtype' must be \"bf16\", for an f32 param");
  // Not for an e4m3 param.
  spec.sectionDtypes = {{3, "bf16"}};
  expectError(createError(writeArtifact("e4m3-section.dscx", spec), nullptr),
              DSC_STATUS_INVALID_ARGUMENT,
              "'section_dtype' must be \"bf16\", for an f32 param");
  // A section marked bf16 that holds f32 values is twice the size.
  spec.sectionDtypes = {{1, "bf16"}};
  spec.packAsBf16 = false;
  expectError(createError(writeArtifact("f32-marked.dscx", spec), nullptr),
              DSC_STATUS_INVALID_ARGUMENT,
              "section 'weights/1' holds 256 bytes but param 'embed.weight' "
              "needs 128");
}

TEST_F(RuntimeTest, SessionOutlivesItsArtifactHandle) {
  ArtifactSpec spec;
  spec.embedWeights = true;
  ArtifactPtr artifact = open(writeArtifact("embedded.dscx", spec));
  dsc_session_t *raw = nullptr;
  expectOk(dsc_session_create(artifact.get(), nullptr, &raw));
  SessionPtr s(raw);
  artifact.reset();
  int64_t tokens[] = {2};
  float logits[kVocab];
  expectOk(dsc_session_forward(s.get(), tokens, 1, 1, logits));
  EXPECT_EQ(std::vector<float>(logits, logits + kVocab), referenceLogits({2}));
}

TEST_F(RuntimeTest, ManySessionsAtOnce) {
  // Each loads its own copy of the host code; recycled descriptor numbers
  // must not make the loader hand back an earlier library.
  std::string path = writeArtifact("m.dscx");
  std::vector<SessionPtr> sessions;
  for (int i = 0; i < 3; ++i)
    sessions.push_back(session(path, checkpointDir));
  sessions.erase(sessions.begin());
  sessions.push_back(session(path, checkpointDir));
  for (SessionPtr &s : sessions) {
    int64_t tokens[] = {5};
    float logits[kVocab];
    expectOk(dsc_session_forward(s.get(), tokens, 1, 1, logits));
    EXPECT_EQ(std::vector<float>(logits, logits + kVocab),
              referenceLogits({5}));
  }
}

TEST_F(RuntimeTest, RejectsBadTokens) {
  SessionPtr s = session(writeArtifact("m.dscx"), checkpointDir);
  int64_t good[] = {1, 2}, bad[] = {kVocab}, negative[] = {3, -1};
  const int64_t *prompts[] = {good, bad};
  int64_t lengths[] = {2, 1};
  int64_t generated[4];
  expectError(dsc_session_generate(s.get(), prompts, lengths, 2, 2, generated,
                                   nullptr, nullptr, nullptr),
              DSC_STATUS_INVALID_ARGUMENT,
              "prompt 1, position 0: token id 8 is outside the vocabulary "
              "[0, 8)");
  const int64_t *negativePrompts[] = {negative};
  expectError(dsc_session_generate(s.get(), negativePrompts, lengths, 1, 2,
                                   generated, nullptr, nullptr, nullptr),
              DSC_STATUS_INVALID_ARGUMENT, "prompt 0, position 1: token id -1");
  float logits[2 * kVocab];
  expectError(dsc_session_forward(s.get(), negative, 1, 2, logits),
              DSC_STATUS_INVALID_ARGUMENT,
              "token id -1 at batch row 0, position 1 is outside the "
              "vocabulary [0, 8)");
}

TEST_F(RuntimeTest, RejectsBadShapes) {
  SessionPtr s = session(writeArtifact("m.dscx"), checkpointDir);
  int64_t prompt[] = {1}, zero = 0, one = 1, generated[2];
  const int64_t *prompts[] = {prompt};
  expectError(dsc_session_generate(s.get(), prompts, &one, 0, 2, generated,
                                   nullptr, nullptr, nullptr),
              DSC_STATUS_INVALID_ARGUMENT, "at least one prompt");
  expectError(dsc_session_generate(s.get(), prompts, &zero, 1, 2, generated,
                                   nullptr, nullptr, nullptr),
              DSC_STATUS_INVALID_ARGUMENT, "prompt 0 is empty");
  expectError(dsc_session_generate(s.get(), prompts, &one, 1, -1, generated,
                                   nullptr, nullptr, nullptr),
              DSC_STATUS_INVALID_ARGUMENT, "must not be negative");
  float logits[kVocab];
  expectError(dsc_session_forward(s.get(), prompt, 0, 1, logits),
              DSC_STATUS_INVALID_ARGUMENT, "must be at least 1");
  expectError(dsc_session_forward(s.get(), prompt, int64_t(1) << 40,
                                  int64_t(1) << 40, logits),
              DSC_STATUS_INVALID_ARGUMENT, "too large");
  expectError(dsc_session_forward(nullptr, prompt, 1, 1, logits),
              DSC_STATUS_INVALID_ARGUMENT, "session must not be null");
}

TEST_F(RuntimeTest, DeviceErrors) {
  std::string path = writeArtifact("m.dscx");
  dsc_session_options_t options = {};
  options.weights_dir = checkpointDir.c_str();
  options.device = "tpu";
  expectError(createError(path, &options), DSC_STATUS_INVALID_ARGUMENT,
              "unknown device 'tpu' (expected cpu or cuda)");
  options.device = "cuda";
  dsc_status_t status = createError(path, &options);
  // Which of the two depends on the machine; both say what to do.
  if (dsc_status_code(status) == DSC_STATUS_UNAVAILABLE)
    expectError(status, DSC_STATUS_UNAVAILABLE,
                "no CUDA driver on this machine (libcuda.so.1");
  else
    expectError(status, DSC_STATUS_FAILED_PRECONDITION,
                "the CUDA backend is not implemented yet (see issue #5); use "
                "--device cpu");
}

TEST_F(RuntimeTest, WeightErrors) {
  // No weights anywhere.
  std::string path = writeArtifact("m.dscx");
  expectError(createError(path, nullptr), DSC_STATUS_FAILED_PRECONDITION,
              "the weights are not embedded and the manifest names no "
              "checkpoint");
  // The checkpoint the artifact names is gone.
  ArtifactSpec spec;
  spec.source = dir + "/moved";
  expectError(createError(writeArtifact("moved.dscx", spec), nullptr),
              DSC_STATUS_NOT_FOUND, "if it moved, pass the weights directory");
  // A checkpoint without one of the tensors.
  std::string other = dir + "/other";
  std::filesystem::create_directory(other);
  ASSERT_TRUE(
      st::writeFile(other + "/model.safetensors",
                    {{"embed.weight", st::DType::F32, {1}, {0, 0, 0, 0}}})
          .ok());
  dsc_session_options_t options = {};
  options.weights_dir = other.c_str();
  expectError(createError(path, &options), DSC_STATUS_INVALID_ARGUMENT,
              "tensor 'embed.weight' has shape [1], the artifact expects [8, "
              "8]");
}

TEST_F(RuntimeTest, HostCodeErrors) {
  dsc_session_options_t options = {};
  options.weights_dir = checkpointDir.c_str();
  ArtifactSpec noSymbol;
  noSymbol.symbol = "dsc_entry_nothing";
  expectError(createError(writeArtifact("sym.dscx", noSymbol), &options),
              DSC_STATUS_FAILED_PRECONDITION,
              "the host code does not export 'dsc_entry_nothing'");
  ArtifactSpec garbage;
  garbage.hostCode = "not an ELF file";
  std::string message =
      expectError(createError(writeArtifact("garbage.dscx", garbage), &options),
                  DSC_STATUS_FAILED_PRECONDITION,
                  "section 'cpu/host.so': cannot load the host code: ");
  // The entry points a GPU target's graphs may hold: names, or the
  // manifest is refused.
  ArtifactSpec badGraphs;
  badGraphs.graphCapturable = json::Value::array().push(7);
  expectError(createError(writeArtifact("graphs.dscx", badGraphs), &options),
              DSC_STATUS_INVALID_ARGUMENT,
              "targets[1].graph_capturable[0]: must be an entry point's name");
  badGraphs.graphCapturable = json::Value("forward");
  expectError(createError(writeArtifact("graphs2.dscx", badGraphs), &options),
              DSC_STATUS_INVALID_ARGUMENT,
              "targets[1]: \"graph_capturable\" must be an array");
  // The params a target takes as bf16: names too.
  ArtifactSpec badBf16;
  badBf16.graphCapturable = json::Value::array();
  badBf16.bf16Params = json::Value::array().push(json::Value::array());
  expectError(createError(writeArtifact("bf16.dscx", badBf16), &options),
              DSC_STATUS_INVALID_ARGUMENT,
              "targets[1].bf16_params[0]: must be a param's name");
  ArtifactSpec goodGraphs;
  goodGraphs.graphCapturable = json::Value::array().push("forward");
  session(writeArtifact("graphs3.dscx", goodGraphs), checkpointDir);
  ArtifactSpec badLevel;
  badLevel.hostCpu = "x86-64-v9";
  expectError(createError(writeArtifact("level.dscx", badLevel), &options),
              DSC_STATUS_INVALID_ARGUMENT, "unknown host_cpu 'x86-64-v9'");
  // Code of a level this CPU lacks is refused before it is loaded; the
  // levels it has load.
  for (std::string_view level : dsc::kHostCpuLevels) {
    ArtifactSpec spec;
    spec.hostCpu = std::string(level);
    std::string path = writeArtifact(spec.hostCpu + ".dscx", spec);
    if (dsc::hostCpuSupports(level)) {
      session(path, checkpointDir);
      continue;
    }
    expectError(createError(path, &options), DSC_STATUS_FAILED_PRECONDITION,
                "the host code is compiled for " + spec.hostCpu);
  }
  ArtifactSpec noCpu;
  noCpu.cpuTarget = false;
  expectError(createError(writeArtifact("nocpu.dscx", noCpu), &options),
              DSC_STATUS_FAILED_PRECONDITION, "recompile with --target cpu");
}

} // namespace

//===- Session.h - A loaded model ready to run ------------------*- C++ -*-===//
//
// A session is one artifact bound to its weights and its device code. The C
// API (include/dsc/runtime.h) is a thin layer over this class.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_RUNTIME_SESSION_H
#define DSC_RUNTIME_SESSION_H

#include "runtime/AlignedBuffer.h"
#include "runtime/HostModule.h"
#include "runtime/Manifest.h"
#include "runtime/MemRefDescriptor.h"
#include "runtime/artifact/Artifact.h"
#include "runtime/cuda/CudaDevice.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace dsc::runtime {

/// How to create a session.
struct SessionOptions {
  /// The checkpoint directory to bind the weights from. When empty: the
  /// weights embedded in the artifact if it has them, otherwise the
  /// checkpoint the artifact was compiled from (the manifest's
  /// model.source).
  std::string weightsDir;
  /// "cpu" or "cuda".
  std::string device = "cpu";
  /// Bytes the compiled code may allocate at once during a call (attention
  /// scores, expert activations, ...); 0: as much as the machine gives.
  uint64_t workspaceLimit = 0;
};

/// A model ready to run. Not thread-safe: one call at a time per session.
class Session {
public:
  /// Called after each generation step with the number of steps done and
  /// the total.
  using ProgressFn = std::function<void(int64_t step, int64_t total)>;

  /// Checks the device, reads the manifest, loads the host code of the
  /// `cpu` target and binds every parameter of `forward`. The session
  /// keeps `artifact` alive: embedded weights are used in place from its
  /// mapping.
  static absl::StatusOr<std::unique_ptr<Session>>
  create(std::shared_ptr<const artifact::Artifact> artifact,
         const SessionOptions &options);

  ~Session();

  /// The number of logits per token.
  int64_t vocabSize() const { return vocab; }
  /// The artifact target whose code runs: "cpu", "sm_90a", "sm_80".
  const std::string &target() const { return targetName; }
  /// The device the session runs on: "cpu" or the GPU's name.
  std::string deviceName() const { return gpu ? gpu->name() : "cpu"; }

  /// Runs `forward` on `tokens` [batch, seq] (row-major), writing `logits`
  /// [batch, seq, vocab]. Token ids outside [0, vocab) are an
  /// InvalidArgumentError naming the batch row and position.
  absl::Status forward(const int64_t *tokens, int64_t batch, int64_t seq,
                       float *logits);

  /// Greedy generation for `batch` prompts of possibly different lengths:
  /// writes `maxNewTokens` tokens per prompt to `generated` [batch,
  /// maxNewTokens] and, when `prefillLogits` is not null, the logits at each
  /// prompt's last token to `prefillLogits` [batch, vocab]. Each step
  /// recomputes `forward` on all sequences right-padded with token 0 to the
  /// longest, then takes every sequence's logits at its own last position
  /// (causal attention makes the padding invisible to real positions) and
  /// picks the argmax, the lowest id on ties.
  absl::Status generate(const int64_t *const *prompts,
                        const int64_t *promptLengths, int64_t batch,
                        int64_t maxNewTokens, int64_t *generated,
                        float *prefillLogits, const ProgressFn &progress);

private:
  explicit Session(std::shared_ptr<const artifact::Artifact> artifact)
      : artifact(std::move(artifact)) {}

  absl::Status checkSignature();
  /// Loads the host code of `targetName`; for a GPU target also binds its
  /// GPU runtime imports and loads its kernel modules.
  absl::Status loadHostCode();
  /// Picks the GPU target of the artifact that runs on `gpu`.
  absl::Status chooseGpuTarget();
  absl::Status bindParams(const SessionOptions &options);
  /// Checks `batch` and `seq` against the compiled shapes and that the
  /// logits fit in memory.
  absl::Status checkDimensions(int64_t batch, int64_t seq) const;
  /// Calls the compiled `forward`; the caller has checked the dimensions
  /// and the token ids. Fails only when the compiled code runs out of
  /// memory (or past the workspace limit).
  absl::Status run(const int64_t *tokens, int64_t batch, int64_t seq,
                   float *logits);

  std::shared_ptr<const artifact::Artifact> artifact;
  Manifest manifest;
  const EntryPoint *forwardEntry = nullptr;
  /// Indices of the token input and the logits output in forward's args.
  size_t tokensIndex = 0, logitsIndex = 0;
  int64_t vocab = 0;
  /// Bytes the compiled code may hold at once during a call; 0: no limit.
  uint64_t workspaceLimit = 0;
  std::string targetName = "cpu";
  /// The GPU of a cuda session; declared before the host module so that it
  /// outlives the module's kernels and the parameters in its memory.
  std::unique_ptr<cuda::CudaDevice> gpu;
  std::unique_ptr<HostModule> hostModule;
  /// The GPU host code's `dsc_gpu_modules_unload`, run on release.
  void (*unloadGpuModules)() = nullptr;
  void (*entry)(void **argv) = nullptr;
  /// Params that could not be used in place (on a GPU: all of them, in
  /// the device's memory, freed with the device).
  std::vector<AlignedBuffer> paramBuffers;
  /// One per argument of forward; the params' are set once by bindParams.
  std::vector<MemRefDescriptor> descriptors;
};

} // namespace dsc::runtime

#endif // DSC_RUNTIME_SESSION_H

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
#include "runtime/KvCache.h"
#include "runtime/Manifest.h"
#include "runtime/MemRefDescriptor.h"
#include "runtime/ThreadPool.h"
#include "runtime/artifact/Artifact.h"
#include "runtime/cuda/CudaDevice.h"
#include "runtime/support/StitchedMapping.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace dsc::st {
class Checkpoint;
} // namespace dsc::st

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
  /// Tokens the KV cache holds over all sequences of a generation (rounded
  /// up to whole pages), allocated when the session is created. 0: the
  /// default, kDefaultKvCacheTokens; negative: no cache, generation
  /// recomputes the whole sequence per token. Artifacts without the
  /// `prefill` and `decode` entry points always recompute.
  int64_t kvCacheTokens = 0;
  /// On a GPU, replay decode steps from CUDA graphs (one per batch-size and
  /// block-table bucket) when the artifact's decode step can be captured.
  bool cudaGraphs = true;
  /// Pad every decode step to its bucket as the graphs do, graphs or not
  /// (to check that padding leaves the real rows' results unchanged).
  bool padDecodeBuckets = false;
  /// Nonzero: bind every weight with random values from this seed
  /// (fillRandomParam) instead of a checkpoint or the embedded weights.
  uint64_t randomWeightsSeed = 0;
  /// Threads the CPU code's large contractions run on (the calling one
  /// included); 0: one per core this process may run on. GPU sessions
  /// ignore it.
  int threads = 0;

  static constexpr int64_t kDefaultKvCacheTokens = 4096;
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

  /// Where generation copies the logits it picks tokens from; either may
  /// be null.
  struct GenerationLogits {
    /// [batch, vocab]: at each prompt's last token.
    float *prefill = nullptr;
    /// [batch, maxNewTokens, vocab]: the logits step t picked token t from.
    float *steps = nullptr;
  };

  /// Greedy generation for `batch` prompts of possibly different lengths:
  /// writes `maxNewTokens` tokens per prompt to `generated` [batch,
  /// maxNewTokens], and the logits `logits` asks for. Argmax picks the
  /// lowest id on ties.
  ///
  /// With a KV cache (kvCache() is not null), `prefill` runs the prompts
  /// (right-padded to the longest; causal attention makes the padding
  /// invisible) and stores their cache entries, then each further token is
  /// one `decode` call over the cache: no token is computed twice. The
  /// pages for every sequence's final length are reserved first, so a
  /// generation that does not fit fails before it starts. Without a cache,
  /// each step recomputes `forward` on all sequences.
  absl::Status generate(const int64_t *const *prompts,
                        const int64_t *promptLengths, int64_t batch,
                        int64_t maxNewTokens, int64_t *generated,
                        GenerationLogits logits, const ProgressFn &progress);

  /// The KV cache generation uses, or null when it recomputes.
  const KvCache *kvCache() const { return cache.get(); }

  /// Decode steps through CUDA graphs: graphs recorded, and steps replayed
  /// from them (the recording's own step included).
  struct GraphCounts {
    bool enabled = false;
    int64_t captured = 0;
    int64_t replayed = 0;
    /// Buckets whose recording failed; their steps ran without a graph.
    int64_t unrecorded = 0;
    /// Decode steps run padded to their bucket (with a graph or with
    /// SessionOptions::padDecodeBuckets).
    int64_t padded = 0;
  };
  GraphCounts graphCounts() const { return graphStats; }

  /// How the params were bound: read where they are stored (the artifact's
  /// embedded sections, or the checkpoint's mapping on the CPU: no copy),
  /// or packed into memory of the session's own (converted, gathered from
  /// scattered tensors, on a GPU, or random).
  struct WeightCounts {
    int64_t inPlace = 0;
    int64_t inPlaceBytes = 0;
    int64_t packed = 0;
    int64_t packedBytes = 0;
    /// Of the in-place params, the stacks whose experts' pages are mapped
    /// back to back (stitchSlices), and the bytes of theirs copied.
    int64_t stitched = 0;
    int64_t stitchedCopiedBytes = 0;
  };
  WeightCounts weightCounts() const { return weightStats; }

  /// The threads the CPU code runs on (1 without a pool: on a GPU, with
  /// SessionOptions::threads 1, or for host code compiled without the
  /// parallel-for hook), and its calls that ran on more than one.
  struct ThreadCounts {
    int threads = 1;
    int64_t parallelRegions = 0;
  };
  ThreadCounts threadCounts() const {
    return {pool ? pool->threads() : 1, pool ? pool->parallelRegions() : 0};
  }

private:
  /// One entry point of the artifact, ready to call.
  struct Call {
    const EntryPoint *entry = nullptr;
    void (*fn)(void **argv) = nullptr;
    /// One per argument; the params' are set once by bindParams.
    std::vector<MemRefDescriptor> descriptors;

    /// The index of the input or output argument called `name`, or -1.
    int indexOf(ArgRole role, std::string_view name) const;
  };
  /// A tensor a call reads or writes, in host memory (staged through the
  /// GPU's memory on a cuda session) or already where the device reads
  /// it.
  struct CallTensor {
    int index;
    void *data;
    std::vector<int64_t> shape;
    size_t elementSize;
    bool isOutput = false;
    bool onDevice = false;

    size_t bytes() const {
      size_t n = elementSize;
      for (int64_t d : shape)
        n *= size_t(d);
      return n;
    }
  };

  explicit Session(std::shared_ptr<const artifact::Artifact> artifact)
      : artifact(std::move(artifact)) {}

  absl::Status checkSignature();
  /// Finds `prefill` and `decode`, checks their signatures and the cache
  /// geometry they agree on; false when the artifact has neither.
  absl::StatusOr<bool> checkKvCacheSignatures();
  /// Loads the host code of `targetName`; for a GPU target also binds its
  /// GPU runtime imports and loads its kernel modules.
  absl::Status loadHostCode(int threads);
  /// Picks the GPU target of the artifact that runs on `gpu`.
  absl::Status chooseGpuTarget();
  /// Binds the params of every entry point, each distinct one once.
  absl::Status bindParams(const SessionOptions &options);
  /// Binds one param: its data, in place or packed into memory of its own
  /// (random values when `randomSeed` is nonzero).
  absl::StatusOr<const void *> bindParam(const Argument &arg, bool fromSections,
                                         const st::Checkpoint *checkpoint,
                                         uint64_t randomSeed);
  /// Memory that lives as long as the session (params, the KV cache), where
  /// its code reads it: the GPU's memory or an aligned host buffer.
  absl::StatusOr<void *> allocateLongLived(size_t bytes,
                                           const std::string &what);
  /// Allocates the KV cache storage for `tokens` tokens.
  absl::Status createKvCache(int64_t tokens);
  /// Checks `batch` and `seq` against the compiled shapes and that the
  /// logits fit in memory.
  absl::Status checkDimensions(int64_t batch, int64_t seq) const;
  /// Calls `call` with `tensors` bound to their arguments. Fails only when
  /// the compiled code runs out of memory (or past the workspace limit).
  absl::Status invoke(Call &call, const std::vector<CallTensor> &tensors);
  /// One decode step through the cache (logits [batch, 1, vocab], latents
  /// [layers, batch, 1, width] to host memory): a plain call, or a replay of
  /// the CUDA graph of its bucket.
  absl::Status decodeStep(const int64_t *tokens, const int64_t *past,
                          const std::vector<int64_t> &table, int64_t batch,
                          int64_t tablePages, float *logits, float *latents);
  /// decodeStep's call with the batch padded to `rows` and the block table
  /// to `pages` per row: through the bucket's CUDA graph when
  /// `recordingFailed` is given (set when the failure was the recording's),
  /// else a plain call.
  absl::Status runDecode(const int64_t *tokens, const int64_t *past,
                         const std::vector<int64_t> &table, int64_t batch,
                         int64_t tablePages, int64_t rows, int64_t pages,
                         float *logits, float *latents, bool *recordingFailed);
  /// invoke() through the CUDA graph recorded for `key`, recording it on
  /// first use: the tensors are staged in buffers kept with the graph, at
  /// the addresses its kernels were recorded with. `recordingFailed` says
  /// whether a failure happened while recording.
  absl::Status invokeRecorded(Call &call,
                              const std::vector<CallTensor> &tensors,
                              std::pair<int64_t, int64_t> key,
                              bool &recordingFailed);
  /// Calls `forward`; the caller has checked the dimensions and the ids.
  absl::Status run(const int64_t *tokens, int64_t batch, int64_t seq,
                   float *logits);
  /// generate() by recomputing `forward`, or through the KV cache.
  absl::Status generateByRecomputing(
      const int64_t *const *prompts, const int64_t *promptLengths,
      int64_t batch, int64_t longestPrompt, int64_t steps, int64_t maxNewTokens,
      int64_t *generated, GenerationLogits record, const ProgressFn &progress);
  absl::Status generateWithCache(const int64_t *const *prompts,
                                 const int64_t *promptLengths, int64_t batch,
                                 int64_t longestPrompt, int64_t steps,
                                 int64_t maxNewTokens, int64_t *generated,
                                 GenerationLogits record,
                                 const ProgressFn &progress);
  /// Greedy pick from `row`, the logits of sequence b at `step`: records
  /// the token in `generated` and the row where `record` asks.
  absl::StatusOr<int64_t> takeToken(const float *row, int64_t b, int64_t step,
                                    int64_t maxNewTokens, int64_t *generated,
                                    GenerationLogits record);

  std::shared_ptr<const artifact::Artifact> artifact;
  Manifest manifest;
  Call forwardCall, prefillCall, decodeCall;
  int64_t vocab = 0;
  /// The cache geometry of `decode`; layers is 0 without one.
  KvCacheShape cacheShape;
  /// Bytes the compiled code may hold at once during a call; 0: no limit.
  uint64_t workspaceLimit = 0;
  std::string targetName = "cpu";
  /// The blocks of the compiled code's allocations on the CPU, kept from
  /// call to call.
  std::unique_ptr<CachingHeapAllocator> hostBlocks;
  /// The GPU of a cuda session; declared before the host module so that it
  /// outlives the module's kernels and the parameters in its memory.
  std::unique_ptr<cuda::CudaDevice> gpu;
  std::unique_ptr<HostModule> hostModule;
  /// The threads of the host code's parallel-for hook, on the CPU.
  std::unique_ptr<ThreadPool> pool;
  /// The GPU host code's `dsc_gpu_modules_unload`, run on release.
  void (*unloadGpuModules)() = nullptr;
  /// Host memory of allocateLongLived: params that could not be used in
  /// place and the KV cache's storage, on the CPU.
  std::vector<AlignedBuffer> sessionBuffers;
  /// Expert stacks read in place from the checkpoint's pages, mapped back
  /// to back (stitchSlices), on the CPU.
  std::vector<StitchedMapping> stitchedParams;
  std::unique_ptr<KvCache> cache;

  /// A recorded decode step and the buffers its kernels read and write:
  /// one per staged tensor (null for one already on the device, whose
  /// address is kept to check it has not moved).
  struct RecordedStep {
    std::unique_ptr<cuda::CudaGraph> graph;
    std::vector<void *> staging;
    std::vector<void *> inPlace;
    ~RecordedStep();
    cuda::CudaDevice *device = nullptr;
  };
  /// By (batch bucket, block-table bucket). Declared after `gpu`: the
  /// graphs go first (~Session clears them before the modules unload).
  std::map<std::pair<int64_t, int64_t>, std::unique_ptr<RecordedStep>>
      recordedSteps;
  /// The target's manifest lists decode as capturable.
  bool decodeCapturable = false;
  bool graphsForDecode = false;
  bool padDecode = false;
  /// Buckets whose recording failed (out of memory): they run launch by
  /// launch.
  std::set<std::pair<int64_t, int64_t>> unrecordable;
  /// The artifact's prefill returns each sequence's logits at its
  /// `last_positions` input only ([B, 1, V]), not at every position.
  bool prefillLastPositions = false;
  GraphCounts graphStats;
  WeightCounts weightStats;
  /// The checkpoint whose mapping params are read from in place (null when
  /// none is).
  std::unique_ptr<st::Checkpoint> mappedCheckpoint;
};

} // namespace dsc::runtime

#endif // DSC_RUNTIME_SESSION_H

//===- Runtime.cpp - The dsc runtime C API --------------------------------===//
//
// A thin layer over dsc::runtime::Session: it converts absl statuses to
// dsc_status_t and keeps C++ exceptions (std::bad_alloc from a container)
// from crossing into C callers.
//
//===----------------------------------------------------------------------===//

#include "dsc/runtime.h"

#include "runtime/Session.h"
#include "runtime/artifact/Artifact.h"

#include "absl/strings/str_cat.h"

#include <new>
#include <string>

struct dsc_status_s {
  dsc_status_code_t code;
  std::string message;
};

struct dsc_artifact_s {
  /// Shared with the sessions: embedded weights are used in place.
  std::shared_ptr<const dsc::artifact::Artifact> artifact;
};

struct dsc_session_s {
  std::unique_ptr<dsc::runtime::Session> session;
  std::string deviceName;
};

namespace {

dsc_status_code_t toCode(absl::StatusCode code) {
  switch (code) {
  case absl::StatusCode::kOk:
    return DSC_STATUS_OK;
  case absl::StatusCode::kInvalidArgument:
  case absl::StatusCode::kOutOfRange:
  case absl::StatusCode::kDataLoss:
    return DSC_STATUS_INVALID_ARGUMENT;
  case absl::StatusCode::kNotFound:
    return DSC_STATUS_NOT_FOUND;
  case absl::StatusCode::kFailedPrecondition:
  case absl::StatusCode::kUnimplemented:
  case absl::StatusCode::kPermissionDenied:
  case absl::StatusCode::kAlreadyExists:
    return DSC_STATUS_FAILED_PRECONDITION;
  case absl::StatusCode::kResourceExhausted:
    return DSC_STATUS_RESOURCE_EXHAUSTED;
  case absl::StatusCode::kUnavailable:
  case absl::StatusCode::kDeadlineExceeded:
  case absl::StatusCode::kAborted:
  case absl::StatusCode::kCancelled:
    return DSC_STATUS_UNAVAILABLE;
  default:
    return DSC_STATUS_INTERNAL;
  }
}

/// Returned when not even a status can be allocated: a null status would
/// mean success.
dsc_status_s outOfMemory{DSC_STATUS_RESOURCE_EXHAUSTED, "out of memory"};

dsc_status_t makeStatus(dsc_status_code_t code, std::string message) {
  dsc_status_t status = new (std::nothrow) dsc_status_s{code, {}};
  if (!status)
    return &outOfMemory;
  status->message = std::move(message);
  return status;
}

dsc_status_t makeStatus(const absl::Status &status) {
  if (status.ok())
    return nullptr;
  return makeStatus(toCode(status.code()), std::string(status.message()));
}

/// Runs `body` (returning absl::Status) and converts its result; C++
/// exceptions become statuses instead of terminating the C caller.
template <typename Body> dsc_status_t guarded(Body &&body) {
  try {
    return makeStatus(body());
  } catch (const std::bad_alloc &) {
    return &outOfMemory;
  } catch (const std::exception &e) {
    return makeStatus(DSC_STATUS_INTERNAL,
                      std::string("internal error: ") + e.what());
  }
}

absl::Status nullArgument(const char *name) {
  return absl::InvalidArgumentError(std::string(name) + " must not be null");
}

} // namespace

extern "C" {

dsc_status_code_t dsc_status_code(dsc_status_t status) {
  return status ? status->code : DSC_STATUS_OK;
}

const char *dsc_status_message(dsc_status_t status) {
  return status ? status->message.c_str() : "";
}

void dsc_status_free(dsc_status_t status) {
  if (status != &outOfMemory)
    delete status;
}

dsc_status_t dsc_artifact_open(const char *path, dsc_artifact_t **out) {
  return guarded([&]() -> absl::Status {
    if (!path)
      return nullArgument("path");
    if (!out)
      return nullArgument("out");
    *out = nullptr;
    absl::StatusOr<std::unique_ptr<dsc::artifact::Artifact>> artifact =
        dsc::artifact::Artifact::open(path);
    if (!artifact.ok())
      return artifact.status();
    *out = new dsc_artifact_s{std::move(*artifact)};
    return absl::OkStatus();
  });
}

void dsc_artifact_release(dsc_artifact_t *artifact) { delete artifact; }

const char *dsc_artifact_manifest(const dsc_artifact_t *artifact) {
  return artifact ? artifact->artifact->manifestText().c_str() : "";
}

dsc_status_t dsc_session_create(dsc_artifact_t *artifact,
                                const dsc_session_options_t *options,
                                dsc_session_t **out) {
  return guarded([&]() -> absl::Status {
    if (!artifact)
      return nullArgument("artifact");
    if (!out)
      return nullArgument("out");
    *out = nullptr;
    dsc::runtime::SessionOptions sessionOptions;
    if (options && options->weights_dir)
      sessionOptions.weightsDir = options->weights_dir;
    if (options && options->device)
      sessionOptions.device = options->device;
    if (options) {
      sessionOptions.workspaceLimit = options->workspace_limit_bytes;
      sessionOptions.kvCacheTokens = options->kv_cache_tokens;
      sessionOptions.cudaGraphs = !options->disable_cuda_graphs;
      sessionOptions.padDecodeBuckets = options->pad_decode_buckets != 0;
      sessionOptions.randomWeightsSeed = options->random_weights_seed;
      if (options->threads < 0 ||
          options->threads > dsc::runtime::ThreadPool::kMaxThreads)
        return absl::InvalidArgumentError(absl::StrCat(
            "threads must be in [0, ", dsc::runtime::ThreadPool::kMaxThreads,
            "] (0: one per core), not ", options->threads));
      sessionOptions.threads = options->threads;
    }
    absl::StatusOr<std::unique_ptr<dsc::runtime::Session>> session =
        dsc::runtime::Session::create(artifact->artifact, sessionOptions);
    if (!session.ok())
      return session.status();
    std::string deviceName = (*session)->deviceName();
    *out = new dsc_session_s{std::move(*session), std::move(deviceName)};
    return absl::OkStatus();
  });
}

void dsc_session_release(dsc_session_t *session) { delete session; }

int64_t dsc_session_vocab_size(const dsc_session_t *session) {
  return session ? session->session->vocabSize() : 0;
}

const char *dsc_session_device_name(const dsc_session_t *session) {
  return session ? session->deviceName.c_str() : "";
}

const char *dsc_session_target(const dsc_session_t *session) {
  return session ? session->session->target().c_str() : "";
}

void dsc_session_decode_stats(const dsc_session_t *session,
                              dsc_decode_stats_t *stats) {
  if (!stats)
    return;
  dsc::runtime::Session::GraphCounts counts;
  if (session)
    counts = session->session->graphCounts();
  stats->cuda_graphs = counts.enabled ? 1 : 0;
  stats->graphs_recorded = counts.captured;
  stats->steps_replayed = counts.replayed;
  stats->buckets_unrecorded = counts.unrecorded;
  stats->steps_padded = counts.padded;
}

void dsc_session_weight_stats(const dsc_session_t *session,
                              dsc_weight_stats_t *stats) {
  if (!stats)
    return;
  dsc::runtime::Session::WeightCounts counts;
  if (session)
    counts = session->session->weightCounts();
  stats->params_in_place = counts.inPlace;
  stats->bytes_in_place = counts.inPlaceBytes;
  stats->params_packed = counts.packed;
  stats->bytes_packed = counts.packedBytes;
  stats->params_stitched = counts.stitched;
  stats->bytes_copied_stitched = counts.stitchedCopiedBytes;
}

void dsc_session_thread_stats(const dsc_session_t *session,
                              dsc_thread_stats_t *stats) {
  if (!stats)
    return;
  dsc::runtime::Session::ThreadCounts counts;
  if (session)
    counts = session->session->threadCounts();
  stats->threads = counts.threads;
  stats->parallel_regions = counts.parallelRegions;
}

int64_t dsc_session_kv_cache_tokens(const dsc_session_t *session) {
  if (!session)
    return 0;
  const dsc::runtime::KvCache *cache = session->session->kvCache();
  return cache ? cache->capacityTokens() : 0;
}

int64_t dsc_session_kv_cache_bytes_per_token(const dsc_session_t *session) {
  if (!session)
    return 0;
  const dsc::runtime::KvCache *cache = session->session->kvCache();
  return cache ? cache->shape().bytesPerToken() : 0;
}

dsc_status_t dsc_session_forward(dsc_session_t *session, const int64_t *tokens,
                                 int64_t batch, int64_t seq, float *logits) {
  return guarded([&]() -> absl::Status {
    if (!session)
      return nullArgument("session");
    return session->session->forward(tokens, batch, seq, logits);
  });
}

namespace {
dsc_status_t generate(dsc_session_t *session, const int64_t *const *prompts,
                      const int64_t *prompt_lengths, int64_t batch,
                      int64_t max_new_tokens, int64_t *generated,
                      float *prefill_logits, float *step_logits,
                      dsc_progress_fn progress, void *user) {
  return guarded([&]() -> absl::Status {
    if (!session)
      return nullArgument("session");
    dsc::runtime::Session::ProgressFn callback;
    if (progress)
      callback = [&](int64_t step, int64_t total) {
        progress(user, step, total);
      };
    return session->session->generate(prompts, prompt_lengths, batch,
                                      max_new_tokens, generated,
                                      {prefill_logits, step_logits}, callback);
  });
}
} // namespace

dsc_status_t dsc_session_generate(dsc_session_t *session,
                                  const int64_t *const *prompts,
                                  const int64_t *prompt_lengths, int64_t batch,
                                  int64_t max_new_tokens, int64_t *generated,
                                  float *prefill_logits,
                                  dsc_progress_fn progress, void *user) {
  return generate(session, prompts, prompt_lengths, batch, max_new_tokens,
                  generated, prefill_logits, nullptr, progress, user);
}

dsc_status_t dsc_session_generate_with_logits(
    dsc_session_t *session, const int64_t *const *prompts,
    const int64_t *prompt_lengths, int64_t batch, int64_t max_new_tokens,
    int64_t *generated, float *step_logits, dsc_progress_fn progress,
    void *user) {
  return generate(session, prompts, prompt_lengths, batch, max_new_tokens,
                  generated, nullptr, step_logits, progress, user);
}

} // extern "C"

/*===- dsc/runtime.h - The dsc runtime C API -----------------------*- C -*-===*
 *
 * Loads a compiled model (a .dscx artifact), binds its weights and runs it:
 *
 *   dsc_artifact_t *artifact = NULL;
 *   dsc_status_t status = dsc_artifact_open("model.dscx", &artifact);
 *   if (status) {
 *     fprintf(stderr, "%s\n", dsc_status_message(status));
 *     dsc_status_free(status);
 *     return 1;
 *   }
 *   dsc_session_t *session = NULL;
 *   status = dsc_session_create(artifact, NULL, &session);
 *   ...
 *   dsc_session_release(session);
 *   dsc_artifact_release(artifact);
 *
 * Functions that can fail return a dsc_status_t: NULL on success, otherwise
 * a code and a one-line message saying what failed and how to fix it (the
 * file, tensor or token), to be freed with dsc_status_free. Objects are
 * opaque, made by *_open / *_create and freed by *_release. No function
 * aborts on bad input. A session serves one thread at a time. The shared
 * library exports exactly the functions declared here.
 *
 *===----------------------------------------------------------------------===*/

#ifndef DSC_RUNTIME_H
#define DSC_RUNTIME_H

#include <stdint.h>

#if defined(__GNUC__)
#define DSC_API __attribute__((visibility("default")))
#else
#define DSC_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*===----------------------------------------------------------------------===*
 * Status
 *===----------------------------------------------------------------------===*/

/** What kind of failure a status reports. */
typedef enum dsc_status_code_e {
  DSC_STATUS_OK = 0,
  /** A bad argument: token id out of range, empty prompt, corrupt file. */
  DSC_STATUS_INVALID_ARGUMENT = 1,
  /** A file or tensor that does not exist. */
  DSC_STATUS_NOT_FOUND = 2,
  /** The request cannot work in this state: wrong artifact, missing code,
      unimplemented backend. */
  DSC_STATUS_FAILED_PRECONDITION = 3,
  /** Out of memory. */
  DSC_STATUS_RESOURCE_EXHAUSTED = 4,
  /** A device, driver or file system that is not available. */
  DSC_STATUS_UNAVAILABLE = 5,
  /** A bug in dsc. */
  DSC_STATUS_INTERNAL = 6,
} dsc_status_code_t;

/** A failure; NULL means success. */
typedef struct dsc_status_s *dsc_status_t;

/** The code of `status` (DSC_STATUS_OK for NULL). */
DSC_API dsc_status_code_t dsc_status_code(dsc_status_t status);
/** The one-line message of `status` ("" for NULL); valid until freed. */
DSC_API const char *dsc_status_message(dsc_status_t status);
/** Frees `status`; NULL is allowed. */
DSC_API void dsc_status_free(dsc_status_t status);

/*===----------------------------------------------------------------------===*
 * Artifacts
 *===----------------------------------------------------------------------===*/

/** A compiled model file, mapped and verified. */
typedef struct dsc_artifact_s dsc_artifact_t;

/** Opens and verifies the artifact at `path` (header, section table,
    checksum, manifest); on success stores it in `*out`. */
DSC_API dsc_status_t dsc_artifact_open(const char *path, dsc_artifact_t **out);
/** Releases `artifact`; sessions created from it stay valid. NULL is
    allowed. */
DSC_API void dsc_artifact_release(dsc_artifact_t *artifact);
/** The artifact's manifest (JSON text), valid until the artifact is
    released. */
DSC_API const char *dsc_artifact_manifest(const dsc_artifact_t *artifact);

/*===----------------------------------------------------------------------===*
 * Sessions
 *===----------------------------------------------------------------------===*/

/** A model bound to its weights and device, ready to run. */
typedef struct dsc_session_s dsc_session_t;

/** Options of dsc_session_create; zero-initialize, then set what you need.
    A NULL options pointer means all defaults. New options are added at the
    end: a client compiled against an older header must be rebuilt. */
typedef struct dsc_session_options_s {
  /** Checkpoint directory to bind the weights from. NULL: the weights
      embedded in the artifact, or else the checkpoint named by the
      manifest's model.source. */
  const char *weights_dir;
  /** "cpu" (NULL means cpu) or "cuda": the first GPU, running the
      artifact's sm_90a code on compute capability 9.0, else its sm_80 code
      (DSC_STATUS_UNAVAILABLE without a driver or GPU). */
  const char *device;
  /** Bytes the compiled code may allocate at once during one call; 0 means
      no limit. Past it, or when an allocation fails, the call returns
      DSC_STATUS_RESOURCE_EXHAUSTED (never a crash). */
  uint64_t workspace_limit_bytes;
  /** Tokens the KV cache holds over all sequences of one generation,
      allocated at creation (rounded up to whole 64-token pages). 0: the
      default, 4096; negative: no cache, generation recomputes the whole
      sequence per token. Artifacts without KV-cached entry points always
      recompute. */
  int64_t kv_cache_tokens;
  /** Nonzero: on a GPU, run every decode step launch by launch. By default
      each decode step is recorded into a CUDA graph once per bucket (batch
      size and block-table width, each rounded up to a power of two) and
      replayed, when the artifact's decode step can be captured (its
      manifest says so per target). */
  int disable_cuda_graphs;
  /** Nonzero: pad every decode step to its bucket as the CUDA graphs do,
      on any device, with or without graphs (padding rows and table entries
      must leave the real rows' results unchanged; this checks it). */
  int pad_decode_buckets;
  /** Nonzero: bind every weight with random values from this seed instead
      of a checkpoint or the embedded weights (for benchmarks of a model
      whose weights are not at hand, such as a config compiled with
      --shapes-only): norm weights 1, biases 0, FP8 scales 2^-6, other
      values small. The outputs mean nothing. Not with weights_dir. */
  uint64_t random_weights_seed;
  /** Threads the CPU code's large GEMMs split their output columns among,
      the calling thread included, in [0, 1024]. 0 (a zeroed struct): one
      per core the process may run on (its CPU affinity, within its
      cgroup's CPU quota); 1: the calling thread alone. The results are the
      same for any number. The threads poll for 200 us after each GEMM
      before they sleep: with several sessions or processes at once, give
      each fewer threads than cores. Ignored on a GPU. */
  int32_t threads;
} dsc_session_options_t;

/** Creates a session: loads the artifact's code for the device and binds
    every weight. */
DSC_API dsc_status_t dsc_session_create(dsc_artifact_t *artifact,
                                        const dsc_session_options_t *options,
                                        dsc_session_t **out);
/** Releases `session`; NULL is allowed. */
DSC_API void dsc_session_release(dsc_session_t *session);
/** Logits per token (the vocabulary size). */
DSC_API int64_t dsc_session_vocab_size(const dsc_session_t *session);
/** Where the session runs: "cpu", or the GPU's name ("NVIDIA H200"); valid
    until the session is released. */
DSC_API const char *dsc_session_device_name(const dsc_session_t *session);
/** The artifact target whose code runs: "cpu", "sm_90a" or "sm_80"; valid
    until the session is released. */
DSC_API const char *dsc_session_target(const dsc_session_t *session);

/** How a session's decode steps ran, so far. */
typedef struct dsc_decode_stats_s {
  /** 1 when decode steps replay CUDA graphs; 0 on a CPU, with graphs
      disabled, or when the artifact's decode step cannot be captured. */
  int cuda_graphs;
  /** CUDA graphs recorded (one per bucket used). */
  int64_t graphs_recorded;
  /** Decode steps replayed from them. */
  int64_t steps_replayed;
  /** Buckets whose recording failed (out of memory, or the driver refused
      it): their steps run launch by launch, unpadded. */
  int64_t buckets_unrecorded;
  /** Decode steps run at their bucket's padded shape. */
  int64_t steps_padded;
} dsc_decode_stats_t;

/** Fills `stats` (not NULL). */
DSC_API void dsc_session_decode_stats(const dsc_session_t *session,
                                      dsc_decode_stats_t *stats);
/** How a session bound its weights. */
typedef struct dsc_weight_stats_s {
  /** Params read where they are stored, without a copy: on the CPU, the
      artifact's embedded sections and checkpoint tensors stored as the
      code reads them (a BF16 checkpoint's bf16 weights, an FP8 one's e4m3
      weights, F32 tensors of f32 params), from their files' mappings. */
  int64_t params_in_place;
  int64_t bytes_in_place;
  /** Params packed into memory of the session's own: converted (a BF16
      tensor the code reads as f32), gathered (an expert stack whose
      experts cannot be mapped back to back), on a GPU, or random. */
  int64_t params_packed;
  int64_t bytes_packed;
  /** Of the params in place, the expert stacks whose experts, stored
      apart, are mapped back to back from the checkpoint's pages, and the
      bytes of theirs copied all the same (the pages two experts share). */
  int64_t params_stitched;
  int64_t bytes_copied_stitched;
} dsc_weight_stats_t;

/** Fills `stats` (not NULL). */
DSC_API void dsc_session_weight_stats(const dsc_session_t *session,
                                      dsc_weight_stats_t *stats);

/** How a session's CPU code used threads. */
typedef struct dsc_thread_stats_s {
  /** Threads its large GEMMs split their columns among: 1 on a GPU, with
      the threads option 1, on a single core, or for an artifact compiled
      without parallel GEMMs (dsc-compile --cpu-parallel-min-work -1). */
  int32_t threads;
  /** GEMM calls so far that ran on more than one thread. */
  int64_t parallel_regions;
} dsc_thread_stats_t;

/** Fills `stats` (not NULL). */
DSC_API void dsc_session_thread_stats(const dsc_session_t *session,
                                      dsc_thread_stats_t *stats);
/** The KV cache capacity in tokens, or 0 when generation recomputes every
    step (no cache). */
DSC_API int64_t dsc_session_kv_cache_tokens(const dsc_session_t *session);
/** The KV cache's bytes per token over all layers (its element type is the
    artifact's: dsc-compile --kv-cache-type), or 0 without a cache. */
DSC_API int64_t
dsc_session_kv_cache_bytes_per_token(const dsc_session_t *session);

/** Runs the model on `tokens` [batch, seq] (row-major) and writes `logits`
    [batch, seq, vocab]. Token ids must be in [0, vocab). */
DSC_API dsc_status_t dsc_session_forward(dsc_session_t *session,
                                         const int64_t *tokens, int64_t batch,
                                         int64_t seq, float *logits);

/** Called by dsc_session_generate after each step: `step` steps of `total`
    are done (1 <= step <= total). */
typedef void (*dsc_progress_fn)(void *user, int64_t step, int64_t total);

/** Greedy generation. `prompts[b]` holds `prompt_lengths[b]` (>= 1) token
    ids; writes `max_new_tokens` tokens per prompt to `generated` [batch,
    max_new_tokens] and, unless NULL, the logits at each prompt's last token
    to `prefill_logits` [batch, vocab]. Ties go to the lowest token id.
    `progress` may be NULL. With a KV cache, step 1 is the prefill and each
    later step one decode call; a batch that does not fit in the cache
    fails with DSC_STATUS_RESOURCE_EXHAUSTED before any step runs. */
DSC_API dsc_status_t dsc_session_generate(dsc_session_t *session,
                                          const int64_t *const *prompts,
                                          const int64_t *prompt_lengths,
                                          int64_t batch, int64_t max_new_tokens,
                                          int64_t *generated,
                                          float *prefill_logits,
                                          dsc_progress_fn progress, void *user);

/** dsc_session_generate, writing the logits of every step to
    `step_logits` [batch, max_new_tokens, vocab] (unless NULL): the row
    generated token t was picked from. For comparing numerics step by step
    (a bf16 KV cache against an f32 one, a GPU against the CPU). */
DSC_API dsc_status_t dsc_session_generate_with_logits(
    dsc_session_t *session, const int64_t *const *prompts,
    const int64_t *prompt_lengths, int64_t batch, int64_t max_new_tokens,
    int64_t *generated, float *step_logits, dsc_progress_fn progress,
    void *user);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* DSC_RUNTIME_H */

//===- dsc-run.cpp - Run a compiled model ---------------------------------===//
//
// dsc-run ART --prompt-ids "5,17,99;400,2,2" [--max-new-tokens N]
//         [--weights DIR] [--device cpu|cuda] [--json]
//
// Greedy generation with a .dscx artifact through the runtime's C API only,
// exactly as an application embedding libdsc_runtime would do it.
//
//===----------------------------------------------------------------------===//

#include "dsc/runtime.h"
#include "runtime/support/Npy.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

/// More new tokens than any model's context: a larger request is a typo,
/// and sizing buffers by it would only fail later.
constexpr int64_t kMaxNewTokens = 1 << 20;
constexpr int64_t kMaxRepeat = 10000;
constexpr int64_t kMaxThreads = 1024; // ThreadPool::kMaxThreads

constexpr char kUsage[] =
    R"(dsc-run: run a model compiled by dsc-compile (greedy generation)

usage: dsc-run ARTIFACT --prompt-ids IDS [--output=@LOGITS.npy] [options]
       dsc-run ARTIFACT --input=@TOKENS.npy [--output=@LOGITS.npy] [options]

  ARTIFACT                 the .dscx file written by dsc-compile
  --prompt-ids IDS         the prompts as token ids: ids separated by ',',
                           prompts by ';', e.g. "5,17,99;400,2,2" (a batch
                           of two); prompts may have different lengths
  --max-new-tokens N       tokens to generate per prompt (default 16; 0 runs
                           the prompt only, useful with --json)
  --input=@FILE.npy        run the model once on the token ids of FILE (a
                           NumPy int64 or int32 array [batch, seq], or [seq])
                           instead of generating: the runner convention of
                           inputs and outputs as .npy files in graph order
  --output=@FILE.npy       with --input: write the logits [batch, seq,
                           vocab] as a float32 .npy file; when generating:
                           the logits each new token was picked from,
                           [batch, max-new-tokens, vocab] (to compare runs
                           step by step)
  --weights DIR            checkpoint directory to bind the weights from
                           (default: the weights embedded in the artifact,
                           else the checkpoint it was compiled from)
  --random-weights SEED    bind every weight with random values from SEED
                           (a positive integer) instead of a checkpoint:
                           to time a model whose weights are not at hand,
                           e.g. a config compiled with --shapes-only (its
                           outputs mean nothing)
  --device cpu|cuda        where to run (default cpu)
  --threads N              on a CPU, the threads large GEMMs split their
                           output columns among, this one included (default
                           0: one per core this process may run on); the
                           results are the same for any N
  --workspace-limit BYTES  most bytes the compiled code may allocate at once
                           during a step (default 0: no limit); past it, or
                           when memory runs out, the run stops with an
                           out-of-memory error instead of crashing
  --kv-cache-tokens N      KV cache capacity in tokens over all prompts,
                           allocated at load (default 4096); generation
                           needs each prompt's length + new tokens - 1
  --no-kv-cache            recompute the whole sequence for every new token
                           instead of decoding over the KV cache (artifacts
                           compiled with --no-kv-cache or --no-fusion always
                           do)
  --no-cuda-graphs         on a GPU, launch every kernel of each decode step
                           instead of replaying the step from a CUDA graph
                           (graphs are recorded per batch size and block-table
                           width, each rounded up to a power of two, when
                           the artifact's decode step can be captured)
  --pad-decode-buckets     pad each decode step's batch and block table to
                           their buckets as the CUDA graphs do, on any device
                           (a check that padding changes no result)
  --repeat N               run the generation (or the --input forward pass)
                           N times in the same session and report the
                           median timings (default 1); the first run pays
                           for first-touch page faults, later ones do not
  --json                   print one JSON object on stdout:
                           {"generated": [[ids...] per prompt],
                            "prefill_logits": [[vocab floats] per prompt],
                            "device": "cpu" or the GPU's name,
                            "target": the artifact target that ran,
                            "generation": "kv-cache" or "recompute",
                            "kv_cache_tokens": capacity (0: recompute),
                            "kv_cache_bytes_per_token": over all layers,
                            "cuda_graphs": null (graphs off) or {"captured",
                                           "replayed", "unrecorded"}: graphs
                                           recorded, decode steps replayed,
                                           buckets that could not be
                                           recorded (out of memory, or
                                           the driver refused),
                            "decode_padded_steps": decode steps run at
                                           their bucket's padded shape,
                            "weights": {"in_place": {"params", "bytes"},
                                        "packed": {"params", "bytes"},
                                        "stitched": {"params",
                                                     "copied_bytes"}}:
                                           params read where they are
                                           stored (on the CPU: the
                                           artifact's sections, or the
                                           checkpoint's mapping when it
                                           stores them as the code reads
                                           them), params copied or
                                           converted into memory of their
                                           own, and of the first the
                                           expert stacks mapped from
                                           experts stored apart (with the
                                           bytes of their shared pages),
                            "threads": {"threads", "parallel_regions"}:
                                           the CPU code's threads, and its
                                           GEMM calls that used more than
                                           one,
                            "repeat": N,
                            "timings": {"load_ms", "bind_ms", "prefill_ms",
                                        "decode_ms_per_token",
                                        "tokens_per_second"}}
                           prefill_logits are the logits at each prompt's
                           last token; decode timings are null when fewer
                           than two tokens are generated
  --help, -h               show this help

Flags take their value as "--flag value" or "--flag=value".

Without --json, stdout has one line per prompt,
  prompt 0: 5 17 99 -> 12 44 ...
and the timings (artifact load, weight binding, prefill, decode per token,
decode tokens/s) go to stderr, as does the generation's progress: on a
terminal one line redrawn every step; otherwise, once a run takes more than
2 s, a line every 2 s.

Exit status: 0 on success, 1 when loading or running the model fails, 2 on a
usage error.
)";

/// Prints "dsc-run: MESSAGE" and returns the exit code.
int fail(const std::string &message, int code = 1) {
  std::fprintf(stderr, "dsc-run: %s\n", message.c_str());
  return code;
}

int usageError(const std::string &message) {
  return fail(message + " (see dsc-run --help)", 2);
}

struct Options {
  std::string artifact;
  std::string weights;
  std::string device = "cpu";
  std::string promptIds;
  bool hasPromptIds = false;
  int64_t maxNewTokens = 16;
  int64_t workspaceLimit = 0;
  /// 0: the runtime's default; -1: no cache.
  int64_t kvCacheTokens = 0;
  int64_t repeat = 1;
  /// --random-weights; 0: none.
  int64_t randomWeightsSeed = 0;
  /// --threads; 0: one per core.
  int64_t threads = 0;
  bool json = false;
  bool cudaGraphs = true;
  bool padDecodeBuckets = false;
  bool help = false;
  /// --input/--output files (without their '@').
  std::string input, output;
};

/// Parses a whole decimal integer, or returns false.
bool parseInteger(const std::string &text, int64_t &value) {
  size_t begin = text.find_first_not_of(" \t");
  size_t end = text.find_last_not_of(" \t");
  if (begin == std::string::npos)
    return false;
  std::string trimmed = text.substr(begin, end - begin + 1);
  errno = 0;
  char *stop = nullptr;
  long long parsed = std::strtoll(trimmed.c_str(), &stop, 10);
  if (errno != 0 || stop != trimmed.c_str() + trimmed.size())
    return false;
  value = parsed;
  return true;
}

/// Parses the command line; returns an exit code to stop with, or -1.
int parseOptions(int argc, char **argv, Options &options) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      options.help = true;
      continue;
    }
    if (arg.size() < 2 || arg.compare(0, 2, "--") != 0 || arg == "--") {
      if (!arg.empty() && arg[0] == '-' && arg != "-")
        return usageError("unknown option '" + arg + "'");
      if (!options.artifact.empty())
        return usageError("unexpected argument '" + arg +
                          "' (only one artifact can be run)");
      options.artifact = arg;
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    bool hasValue = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      hasValue = true;
    }
    if (name == "json" || name == "no-kv-cache" || name == "no-cuda-graphs" ||
        name == "pad-decode-buckets") {
      if (hasValue)
        return usageError("--" + name + " takes no value");
      if (name == "json")
        options.json = true;
      else if (name == "no-kv-cache")
        options.kvCacheTokens = -1;
      else if (name == "no-cuda-graphs")
        options.cudaGraphs = false;
      else
        options.padDecodeBuckets = true;
      continue;
    }
    if (name != "weights" && name != "device" && name != "prompt-ids" &&
        name != "max-new-tokens" && name != "workspace-limit" &&
        name != "input" && name != "output" && name != "kv-cache-tokens" &&
        name != "repeat" && name != "random-weights" && name != "threads")
      return usageError("unknown option '--" + name + "'");
    if (!hasValue) {
      if (i + 1 >= argc)
        return usageError("--" + name + " needs a value");
      value = argv[++i];
    }
    if (name == "input" || name == "output") {
      if (value.size() < 2 || value[0] != '@')
        return usageError("--" + name + " takes @FILE.npy, not '" + value +
                          "'");
      (name == "input" ? options.input : options.output) = value.substr(1);
    } else if (name == "weights") {
      options.weights = value;
    } else if (name == "device") {
      if (value != "cpu" && value != "cuda")
        return usageError("--device must be cpu or cuda, not '" + value + "'");
      options.device = value;
    } else if (name == "workspace-limit") {
      if (!parseInteger(value, options.workspaceLimit) ||
          options.workspaceLimit < 0)
        return usageError("--workspace-limit must be a non-negative number of "
                          "bytes, not '" +
                          value + "'");
    } else if (name == "kv-cache-tokens") {
      if (!parseInteger(value, options.kvCacheTokens) ||
          options.kvCacheTokens < 1)
        return usageError("--kv-cache-tokens must be a positive number of "
                          "tokens, not '" +
                          value + "'");
    } else if (name == "random-weights") {
      if (!parseInteger(value, options.randomWeightsSeed) ||
          options.randomWeightsSeed < 1)
        return usageError("--random-weights must be a positive integer seed, "
                          "not '" +
                          value + "'");
    } else if (name == "threads") {
      if (!parseInteger(value, options.threads) || options.threads < 0 ||
          options.threads > kMaxThreads)
        return usageError("--threads must be an integer in [0, " +
                          std::to_string(kMaxThreads) + "], not '" + value +
                          "'");
    } else if (name == "repeat") {
      if (!parseInteger(value, options.repeat) || options.repeat < 1 ||
          options.repeat > kMaxRepeat)
        return usageError("--repeat must be an integer in [1, " +
                          std::to_string(kMaxRepeat) + "], not '" + value +
                          "'");
    } else if (name == "prompt-ids") {
      options.promptIds = value;
      options.hasPromptIds = true;
    } else if (!parseInteger(value, options.maxNewTokens) ||
               options.maxNewTokens < 0 ||
               options.maxNewTokens > kMaxNewTokens) {
      return usageError("--max-new-tokens must be an integer in [0, " +
                        std::to_string(kMaxNewTokens) + "], not '" + value +
                        "'");
    }
  }
  if (options.help)
    return -1;
  if (options.artifact.empty())
    return usageError("no artifact given");
  if (!options.input.empty() && options.hasPromptIds)
    return usageError("give --prompt-ids or --input, not both");
  if (options.randomWeightsSeed && !options.weights.empty())
    return usageError("give --weights or --random-weights, not both");
  if (!options.output.empty() && options.input.empty() &&
      options.maxNewTokens < 1)
    return usageError("--output when generating needs --max-new-tokens of at "
                      "least 1 (it saves the logits of each new token)");
  if (!options.hasPromptIds && options.input.empty())
    return usageError("--prompt-ids (or --input) is required");
  return -1;
}

/// Splits `text` at every `separator`.
std::vector<std::string> split(const std::string &text, char separator) {
  std::vector<std::string> parts;
  size_t begin = 0;
  for (size_t end; (end = text.find(separator, begin)) != std::string::npos;
       begin = end + 1)
    parts.push_back(text.substr(begin, end - begin));
  parts.push_back(text.substr(begin));
  return parts;
}

/// Parses --prompt-ids; returns an exit code to stop with, or -1.
int parsePrompts(const std::string &text,
                 std::vector<std::vector<int64_t>> &prompts) {
  std::vector<std::string> promptTexts = split(text, ';');
  for (size_t p = 0; p < promptTexts.size(); ++p) {
    if (promptTexts[p].find_first_not_of(" \t") == std::string::npos)
      return usageError("--prompt-ids: prompt " + std::to_string(p) +
                        " is empty");
    std::vector<int64_t> ids;
    for (const std::string &idText : split(promptTexts[p], ',')) {
      int64_t id;
      if (!parseInteger(idText, id))
        return usageError("--prompt-ids: '" + idText + "' in prompt " +
                          std::to_string(p) + " is not a token id");
      ids.push_back(id);
    }
    prompts.push_back(std::move(ids));
  }
  return -1;
}

using Clock = std::chrono::steady_clock;

double millisecondsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

/// Records when each generation step ends and draws the progress line: on
/// a terminal redrawn in place every step; into a file or pipe (a log) a
/// line of its own, once the run takes more than 2 s and then every 2 s.
struct Progress {
  Clock::time_point start;
  Clock::time_point lastShown; // start, until a log line is shown
  std::vector<Clock::time_point> stepEnds;
  bool interactive = false;
  bool shown = false;

  static void callback(void *user, int64_t step, int64_t total) {
    auto *self = static_cast<Progress *>(user);
    Clock::time_point now = Clock::now();
    self->stepEnds.push_back(now);
    const long long done = step, all = total;
    if (self->interactive) {
      std::fprintf(stderr, "\r[dsc-run] step %lld/%lld", done, all);
    } else if (millisecondsBetween(self->lastShown, now) > 2000) {
      std::fprintf(stderr, "[dsc-run] step %lld/%lld\n", done, all);
      self->lastShown = now;
    } else {
      return;
    }
    std::fflush(stderr);
    self->shown = true;
  }
};

/// A float for JSON: enough digits to round-trip, null when not finite.
/// `text` as the inside of a JSON string.
std::string jsonEscape(const char *text) {
  std::string out;
  for (const char *c = text; *c; ++c) {
    if (*c == '"' || *c == '\\') {
      out += '\\';
      out += *c;
    } else if (static_cast<unsigned char>(*c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04x", *c);
      out += escaped;
    } else {
      out += *c;
    }
  }
  return out;
}

/// The median of `values` (NaN when empty); an even count averages the two
/// middle values.
double median(std::vector<double> values) {
  if (values.empty())
    return NAN;
  std::sort(values.begin(), values.end());
  size_t half = values.size() / 2;
  return values.size() % 2 ? values[half]
                           : (values[half - 1] + values[half]) / 2;
}

std::string jsonNumber(double value, const char *format = "%.9g") {
  if (!std::isfinite(value))
    return "null";
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), format, value);
  return buffer;
}

} // namespace

static /// Prints the status as the error, frees it and returns the exit code.
    int
    failWith(dsc_status_t status) {
  int code = fail(dsc_status_message(status));
  dsc_status_free(status);
  return code;
}

/// The session the options ask for: 0 with `*artifact` and `*session` set,
/// or the exit code (the error printed). `bindStart`, when set, receives
/// the time the artifact was open and binding began.
int openSession(const Options &options, dsc_artifact_t **artifact,
                dsc_session_t **session,
                Clock::time_point *bindStart = nullptr) {
  if (dsc_status_t status =
          dsc_artifact_open(options.artifact.c_str(), artifact))
    return failWith(status);
  if (bindStart)
    *bindStart = Clock::now();
  dsc_session_options_t sessionOptions = {};
  sessionOptions.weights_dir =
      options.weights.empty() ? nullptr : options.weights.c_str();
  sessionOptions.device = options.device.c_str();
  sessionOptions.workspace_limit_bytes =
      static_cast<uint64_t>(options.workspaceLimit);
  sessionOptions.kv_cache_tokens = options.kvCacheTokens;
  sessionOptions.disable_cuda_graphs = options.cudaGraphs ? 0 : 1;
  sessionOptions.pad_decode_buckets = options.padDecodeBuckets ? 1 : 0;
  sessionOptions.random_weights_seed =
      static_cast<uint64_t>(options.randomWeightsSeed);
  sessionOptions.threads = static_cast<int32_t>(options.threads);
  if (dsc_status_t status =
          dsc_session_create(*artifact, &sessionOptions, session)) {
    dsc_artifact_release(*artifact);
    return failWith(status);
  }
  return 0;
}

/// --input mode: one forward pass over the tokens of a .npy file, the
/// logits to another.
int runForward(const Options &options) {
  absl::StatusOr<dsc::npy::Array> input = dsc::npy::read(options.input);
  if (!input.ok())
    return fail(std::string(input.status().message()));
  std::vector<int64_t> shape = input->shape;
  if (shape.size() == 1)
    shape.insert(shape.begin(), 1);
  if (shape.size() != 2 || shape[0] < 1 || shape[1] < 1)
    return fail(options.input + ": the tokens must be [batch, seq] or [seq] " +
                "with at least one token");
  const int64_t batch = shape[0], seq = shape[1];
  std::vector<int64_t> tokens(batch * seq);
  if (input->dtype == "<i8") {
    std::memcpy(tokens.data(), input->data.data(), input->data.size());
  } else if (input->dtype == "<i4") {
    for (size_t i = 0; i < tokens.size(); ++i) {
      int32_t v;
      std::memcpy(&v, input->data.data() + i * 4, 4);
      tokens[i] = v;
    }
  } else {
    return fail(options.input + ": token ids must be int64 or int32, not '" +
                input->dtype + "'");
  }

  dsc_artifact_t *artifact = nullptr;
  dsc_session_t *session = nullptr;
  if (int code = openSession(options, &artifact, &session))
    return code;
  const int64_t vocab = dsc_session_vocab_size(session);
  std::vector<float> logits(size_t(batch * seq * vocab));
  std::vector<double> times;
  dsc_status_t status = nullptr;
  for (int64_t run = 0; run < options.repeat && !status; ++run) {
    Clock::time_point start = Clock::now();
    status =
        dsc_session_forward(session, tokens.data(), batch, seq, logits.data());
    times.push_back(millisecondsBetween(start, Clock::now()));
  }
  dsc_thread_stats_t threadStats = {};
  dsc_session_thread_stats(session, &threadStats);
  dsc_session_release(session);
  dsc_artifact_release(artifact);
  if (status)
    return failWith(status);
  std::fprintf(stderr,
               "[dsc-run] forward of [%lld, %lld] tokens: ", (long long)batch,
               (long long)seq);
  if (options.repeat > 1)
    std::fprintf(stderr, "median %.3f ms of %lld runs (first %.3f ms)",
                 median(times), (long long)options.repeat, times.front());
  else
    std::fprintf(stderr, "%.2f ms", times.front());
  if (threadStats.threads > 1)
    std::fprintf(stderr, ", %d threads (%lld parallel GEMM calls)",
                 threadStats.threads, (long long)threadStats.parallel_regions);
  std::fputc('\n', stderr);
  if (options.output.empty()) {
    std::fprintf(stderr,
                 "[dsc-run] logits [%lld, %lld, %lld] computed; "
                 "--output=@FILE.npy saves them\n",
                 (long long)batch, (long long)seq, (long long)vocab);
    return 0;
  }
  if (absl::Status s =
          dsc::npy::write(options.output, "<f4", {batch, seq, vocab},
                          logits.data(), logits.size() * sizeof(float));
      !s.ok())
    return fail(std::string(s.message()));
  return 0;
}

int run(int argc, char **argv) {
  Options options;
  if (int code = parseOptions(argc, argv, options); code >= 0)
    return code;
  if (options.help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!options.input.empty())
    return runForward(options);
  std::vector<std::vector<int64_t>> prompts;
  if (int code = parsePrompts(options.promptIds, prompts); code >= 0)
    return code;
  const int64_t batch = static_cast<int64_t>(prompts.size());

  Clock::time_point loadStart = Clock::now(), bindStart;
  dsc_artifact_t *artifact = nullptr;
  dsc_session_t *session = nullptr;
  if (int code = openSession(options, &artifact, &session, &bindStart))
    return code;
  Clock::time_point bindEnd = Clock::now();

  const int64_t vocab = dsc_session_vocab_size(session);
  std::vector<const int64_t *> promptData;
  std::vector<int64_t> promptLengths;
  for (const std::vector<int64_t> &prompt : prompts) {
    promptData.push_back(prompt.data());
    promptLengths.push_back(static_cast<int64_t>(prompt.size()));
  }
  std::vector<int64_t> generated(batch * options.maxNewTokens);
  std::vector<float> prefillLogits(options.json ? batch * vocab : 0);
  std::vector<float> stepLogits(
      options.output.empty() ? 0 : batch * options.maxNewTokens * vocab);
  // Step 1 is the prefill; every later step decodes one token per prompt.
  std::vector<double> prefillTimes, decodeTimes;
  dsc_status_t status = nullptr;
  for (int64_t run = 0; run < options.repeat && !status; ++run) {
    Progress progress;
    progress.interactive = ::isatty(STDERR_FILENO);
    progress.start = progress.lastShown = Clock::now();
    if (stepLogits.empty())
      status =
          dsc_session_generate(session, promptData.data(), promptLengths.data(),
                               batch, options.maxNewTokens, generated.data(),
                               options.json ? prefillLogits.data() : nullptr,
                               Progress::callback, &progress);
    else
      status = dsc_session_generate_with_logits(
          session, promptData.data(), promptLengths.data(), batch,
          options.maxNewTokens, generated.data(), stepLogits.data(),
          Progress::callback, &progress);
    if (progress.shown && progress.interactive)
      std::fputc('\n', stderr);
    const size_t steps = progress.stepEnds.size();
    if (steps)
      prefillTimes.push_back(
          millisecondsBetween(progress.start, progress.stepEnds[0]));
    if (steps > 1)
      decodeTimes.push_back(
          millisecondsBetween(progress.stepEnds[0], progress.stepEnds.back()) /
          double(steps - 1));
  }
  const std::string deviceName = dsc_session_device_name(session);
  const std::string target = dsc_session_target(session);
  const int64_t cacheTokens = dsc_session_kv_cache_tokens(session);
  const int64_t cacheBytesPerToken =
      dsc_session_kv_cache_bytes_per_token(session);
  const char *generation = cacheTokens ? "kv-cache" : "recompute";
  dsc_decode_stats_t decodeStats = {};
  dsc_session_decode_stats(session, &decodeStats);
  dsc_weight_stats_t weightStats = {};
  dsc_session_weight_stats(session, &weightStats);
  dsc_thread_stats_t threadStats = {};
  dsc_session_thread_stats(session, &threadStats);
  const bool graphs = decodeStats.cuda_graphs;
  const int64_t graphsCaptured = decodeStats.graphs_recorded,
                graphsReplayed = decodeStats.steps_replayed,
                graphsUnrecorded = decodeStats.buckets_unrecorded;
  dsc_session_release(session);
  dsc_artifact_release(artifact);
  if (status)
    return failWith(status);

  // The prefill logits are the first step's.
  if (!stepLogits.empty() && options.json)
    for (int64_t b = 0; b < batch; ++b)
      std::copy_n(stepLogits.begin() + b * options.maxNewTokens * vocab, vocab,
                  prefillLogits.begin() + b * vocab);
  if (!stepLogits.empty())
    if (absl::Status s = dsc::npy::write(
            options.output, "<f4", {batch, options.maxNewTokens, vocab},
            stepLogits.data(), stepLogits.size() * sizeof(float));
        !s.ok())
      return fail(std::string(s.message()));

  const double loadMs = millisecondsBetween(loadStart, bindStart);
  const double bindMs = millisecondsBetween(bindStart, bindEnd);
  const double prefillMs = median(prefillTimes);
  const double decodeMsPerToken = median(decodeTimes);
  const double tokensPerSecond = batch * 1000.0 / decodeMsPerToken;

  if (options.json) {
    std::string out = "{\"generated\":[";
    for (int64_t b = 0; b < batch; ++b) {
      out += b ? ",[" : "[";
      for (int64_t t = 0; t < options.maxNewTokens; ++t)
        out += (t ? "," : "") +
               std::to_string(generated[b * options.maxNewTokens + t]);
      out += "]";
    }
    out += "],\"prefill_logits\":[";
    for (int64_t b = 0; b < batch; ++b) {
      out += b ? ",[" : "[";
      for (int64_t v = 0; v < vocab; ++v)
        out += (v ? "," : "") + jsonNumber(prefillLogits[b * vocab + v]);
      out += "]";
    }
    out +=
        "],\"device\":\"" + jsonEscape(deviceName.c_str()) +
        "\",\"target\":\"" + jsonEscape(target.c_str()) +
        "\",\"generation\":\"" + generation +
        "\",\"kv_cache_tokens\":" + std::to_string(cacheTokens) +
        ",\"kv_cache_bytes_per_token\":" + std::to_string(cacheBytesPerToken) +
        ",\"repeat\":" + std::to_string(options.repeat) + ",\"cuda_graphs\":" +
        (graphs
             ? "{\"captured\":" + std::to_string(graphsCaptured) +
                   ",\"replayed\":" + std::to_string(graphsReplayed) +
                   ",\"unrecorded\":" + std::to_string(graphsUnrecorded) + "}"
             : std::string("null")) +
        ",\"decode_padded_steps\":" + std::to_string(decodeStats.steps_padded) +
        ",\"weights\":{\"in_place\":{\"params\":" +
        std::to_string(weightStats.params_in_place) +
        ",\"bytes\":" + std::to_string(weightStats.bytes_in_place) +
        "},\"packed\":{\"params\":" +
        std::to_string(weightStats.params_packed) +
        ",\"bytes\":" + std::to_string(weightStats.bytes_packed) +
        "},\"stitched\":{\"params\":" +
        std::to_string(weightStats.params_stitched) + ",\"copied_bytes\":" +
        std::to_string(weightStats.bytes_copied_stitched) + "}}" +
        ",\"threads\":{\"threads\":" + std::to_string(threadStats.threads) +
        ",\"parallel_regions\":" +
        std::to_string(threadStats.parallel_regions) + "}";
    out += ",\"timings\":{\"load_ms\":" + jsonNumber(loadMs, "%.3f") +
           ",\"bind_ms\":" + jsonNumber(bindMs, "%.3f") +
           ",\"prefill_ms\":" + jsonNumber(prefillMs, "%.3f") +
           ",\"decode_ms_per_token\":" + jsonNumber(decodeMsPerToken, "%.3f") +
           ",\"tokens_per_second\":" + jsonNumber(tokensPerSecond, "%.3f") +
           "}}\n";
    std::fputs(out.c_str(), stdout);
    return 0;
  }

  for (int64_t b = 0; b < batch; ++b) {
    std::string line = "prompt " + std::to_string(b) + ":";
    for (int64_t id : prompts[b])
      line += " " + std::to_string(id);
    line += " ->";
    for (int64_t t = 0; t < options.maxNewTokens; ++t)
      line += " " + std::to_string(generated[b * options.maxNewTokens + t]);
    std::puts(line.c_str());
  }
  std::fprintf(
      stderr, "[dsc-run] %s (%s, %s): load %.2f ms, bind %.2f ms",
      deviceName.c_str(), target.c_str(),
      cacheTokens
          ? ("KV cache of " + std::to_string(cacheTokens) + " tokens").c_str()
          : "recomputing every step",
      loadMs, bindMs);
  std::fprintf(stderr, " (%.1f MB in place, %.1f MB packed)",
               weightStats.bytes_in_place / 1e6,
               weightStats.bytes_packed / 1e6);
  if (threadStats.threads > 1)
    std::fprintf(stderr, ", %d threads", threadStats.threads);
  if (!prefillTimes.empty())
    std::fprintf(stderr, ", prefill %.2f ms", prefillMs);
  if (!decodeTimes.empty())
    std::fprintf(stderr, ", decode %.2f ms/token (%.1f tokens/s)",
                 decodeMsPerToken, tokensPerSecond);
  if (graphs)
    std::fprintf(stderr, ", %lld decode steps from %lld CUDA graphs",
                 (long long)graphsReplayed, (long long)graphsCaptured);
  if (graphsUnrecorded)
    std::fprintf(stderr,
                 ", %lld bucket(s) ran without a graph (their recording "
                 "failed)",
                 (long long)graphsUnrecorded);
  if (options.repeat > 1)
    std::fprintf(stderr, " (medians of %lld runs)", (long long)options.repeat);
  std::fputc('\n', stderr);
  return 0;
}

int main(int argc, char **argv) {
  // Containers sized by the command line (a huge --max-new-tokens) must not
  // end the process with an uncaught exception.
  try {
    return run(argc, argv);
  } catch (const std::bad_alloc &) {
    return fail("out of memory");
  } catch (const std::exception &e) {
    return fail(std::string("internal error: ") + e.what());
  }
}

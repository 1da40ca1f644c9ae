//===- Session.cpp - A loaded model ready to run --------------------------===//

#include "runtime/Session.h"

#include "runtime/Workspace.h"

#include "runtime/support/Errors.h"
#include "runtime/support/Safetensors.h"

#include "absl/strings/str_cat.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace dsc::runtime {

namespace {

constexpr char kForward[] = "forward";
constexpr char kCpuTarget[] = "cpu";

/// Calls `argv[0]`, a `void()` function of the host code, as an entry point
/// so that runInWorkspace can guard it.
void callVoidFunction(void **argv) { reinterpret_cast<void (*)()>(argv[0])(); }

/// "[batch, seq]" style shape with -1 shown as '?'.
std::string formatCompiledShape(const std::vector<int64_t> &shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    absl::StrAppend(&out, i ? ", " : "",
                    shape[i] < 0 ? "?" : absl::StrCat(shape[i]));
  return out + "]";
}

} // namespace

absl::StatusOr<std::unique_ptr<Session>>
Session::create(std::shared_ptr<const artifact::Artifact> artifact,
                const SessionOptions &options) {
  if (options.device != "cpu" && options.device != "cuda")
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown device ", quote(options.device), " (expected cpu or cuda)"));

  std::unique_ptr<Session> session(new Session(std::move(artifact)));
  if (options.device == "cuda") {
    absl::StatusOr<std::unique_ptr<cuda::CudaDevice>> gpu =
        cuda::CudaDevice::open();
    if (!gpu.ok())
      return gpu.status();
    session->gpu = std::move(*gpu);
  }
  absl::StatusOr<Manifest> manifest = parseManifest(*session->artifact);
  if (!manifest.ok())
    return manifest.status();
  session->manifest = std::move(*manifest);
  session->workspaceLimit = options.workspaceLimit;
  if (absl::Status s = session->checkSignature(); !s.ok())
    return s;
  if (session->gpu)
    if (absl::Status s = session->chooseGpuTarget(); !s.ok())
      return s;
  // Loading the code is quick and binding may take minutes: fail early.
  if (absl::Status s = session->loadHostCode(); !s.ok())
    return s;
  if (absl::Status s = session->bindParams(options); !s.ok())
    return s;
  return session;
}

absl::Status Session::checkSignature() {
  const std::string &path = artifact->path();
  forwardEntry = manifest.findEntryPoint(kForward);
  if (!forwardEntry)
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": the artifact has no '", kForward, "' entry point"));
  auto signatureError = [&](const auto &...parts) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": entry point '", kForward, "' ", parts...,
                     " (the runtime needs tokens i64 [batch, seq] -> logits "
                     "f32 [batch, seq, vocab])"));
  };
  int inputs = 0, outputs = 0;
  for (size_t i = 0; i < forwardEntry->args.size(); ++i) {
    const Argument &arg = forwardEntry->args[i];
    if (arg.role == ArgRole::Input) {
      ++inputs;
      tokensIndex = i;
    } else if (arg.role == ArgRole::Output) {
      ++outputs;
      logitsIndex = i;
    }
  }
  if (inputs != 1 || outputs != 1)
    return signatureError("has ", inputs, " inputs and ", outputs, " outputs");
  const Argument &tokens = forwardEntry->args[tokensIndex];
  const Argument &logits = forwardEntry->args[logitsIndex];
  if (tokens.dtype != ElementType::I64 || tokens.shape.size() != 2)
    return signatureError("takes ", elementTypeName(tokens.dtype), " ",
                          formatCompiledShape(tokens.shape));
  if (logits.dtype != ElementType::F32 || logits.shape.size() != 3)
    return signatureError("returns ", elementTypeName(logits.dtype), " ",
                          formatCompiledShape(logits.shape));
  int64_t compiledVocab = logits.shape[2];
  if (compiledVocab >= 0 && manifest.vocabSize &&
      compiledVocab != manifest.vocabSize)
    return signatureError("returns ", compiledVocab,
                          " logits per token but model.vocab_size is ",
                          manifest.vocabSize);
  vocab = compiledVocab >= 0 ? compiledVocab : manifest.vocabSize;
  if (vocab <= 0)
    return signatureError("has a dynamic vocabulary dimension and the "
                          "manifest has no model.vocab_size");
  return absl::OkStatus();
}

Session::~Session() {
  if (gpu && unloadGpuModules) {
    cuda::CudaDevice::Scope scope(*gpu);
    void *argv[] = {reinterpret_cast<void *>(unloadGpuModules)};
    runInWorkspace(&callVoidFunction, argv, 0, *gpu).IgnoreError();
  }
}

absl::Status Session::chooseGpuTarget() {
  std::vector<std::string> wanted = gpu->compatibleTargets();
  for (const std::string &name : wanted) {
    const Target *target = manifest.findTarget(name);
    if (target && target->kind == "ptx" && !target->section.empty()) {
      targetName = name;
      return absl::OkStatus();
    }
  }
  std::string list;
  for (const std::string &name : wanted)
    absl::StrAppend(&list, list.empty() ? "" : " or ", name);
  return absl::FailedPreconditionError(
      absl::StrCat(artifact->path(), ": no GPU code for ", gpu->name(),
                   " (compute capability ", gpu->computeCapability() / 10, ".",
                   gpu->computeCapability() % 10, "); recompile with --target ",
                   list.empty() ? "sm_80" : list));
}

absl::Status Session::loadHostCode() {
  const std::string &path = artifact->path();
  const Target *target = manifest.findTarget(targetName);
  bool found = target && (gpu ? target->kind == "ptx"
                              : target->kind == "host-shared-object");
  if (!found)
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": the artifact has no host code for the '", targetName,
        "' target (recompile with --target ", targetName, ")"));
  // parseManifest checked that the section exists.
  std::string_view image = *artifact->section(target->section);
  absl::StatusOr<std::unique_ptr<HostModule>> module = HostModule::load(
      image, absl::StrCat(path, ": section ", quote(target->section)));
  if (!module.ok())
    return module.status();
  hostModule = std::move(*module);
  absl::StatusOr<void *> symbol = hostModule->symbol(forwardEntry->symbol);
  if (!symbol.ok())
    return symbol.status();
  entry = reinterpret_cast<void (*)(void **)>(*symbol);
  installAllocationHooks(*hostModule);
  if (!gpu)
    return absl::OkStatus();

  // The kernels: the GPU runtime interface first, then the modules (from
  // their cubins, or the driver compiles their PTX for this GPU now).
  gpu->bindImports(*hostModule);
  // The kernels' cubins (ptxas ran at compile time) when they fit this GPU.
  if (gpu->runsCubinsOf(targetName)) {
    std::unordered_map<std::string_view, std::string_view> cubins;
    for (const Kernel &kernel : target->kernels)
      if (!kernel.cubinSection.empty())
        cubins.emplace(*artifact->section(kernel.ptxSection),
                       *artifact->section(kernel.cubinSection));
    gpu->setCubins(std::move(cubins));
  }
  absl::StatusOr<void *> load = hostModule->symbol("dsc_gpu_modules_load");
  absl::StatusOr<void *> unload = hostModule->symbol("dsc_gpu_modules_unload");
  if (!load.ok() || !unload.ok())
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": section ", quote(target->section),
                     " is not GPU host code (no dsc_gpu_modules_load)"));
  cuda::CudaDevice::Scope scope(*gpu);
  void *argv[] = {*load};
  if (absl::Status s = runInWorkspace(&callVoidFunction, argv, 0, *gpu);
      !s.ok())
    return absl::Status(s.code(),
                        absl::StrCat(path, ": target ", targetName, " on ",
                                     gpu->name(), ": ", s.message()));
  unloadGpuModules = reinterpret_cast<void (*)()>(*unload);
  return absl::OkStatus();
}

absl::Status Session::bindParams(const SessionOptions &options) {
  const std::string &path = artifact->path();
  descriptors.resize(forwardEntry->args.size());
  bool fromSections = options.weightsDir.empty() && manifest.embeddedWeights;
  std::unique_ptr<st::Checkpoint> checkpoint;
  if (!fromSections) {
    const std::string &dir =
        options.weightsDir.empty() ? manifest.source : options.weightsDir;
    if (dir.empty())
      return absl::FailedPreconditionError(absl::StrCat(
          path, ": the weights are not embedded and the manifest names no "
                "checkpoint; pass the weights directory (dsc-run --weights "
                "DIR)"));
    absl::StatusOr<std::unique_ptr<st::Checkpoint>> opened =
        st::Checkpoint::open(dir);
    if (!opened.ok()) {
      if (!options.weightsDir.empty())
        return opened.status();
      return absl::Status(
          opened.status().code(),
          absl::StrCat(opened.status().message(), " (the checkpoint ", path,
                       " was compiled from; if it moved, pass the weights "
                       "directory: dsc-run --weights DIR)"));
    }
    checkpoint = std::move(*opened);
  }

  for (size_t i = 0; i < forwardEntry->args.size(); ++i) {
    const Argument &arg = forwardEntry->args[i];
    if (arg.role != ArgRole::Param)
      continue;
    const size_t bytes = arg.param.numBytes();
    std::string what = absl::StrCat("param ", quote(arg.name));
    std::string_view embedded;
    if (fromSections) {
      embedded = *artifact->section(arg.section);
      if (embedded.size() != bytes)
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": section ", quote(arg.section), " holds ", embedded.size(),
            " bytes but ", what, " needs ", bytes));
    }
    // Embedded weights are used in place from the mapping when the CPU
    // runs them and the section is aligned.
    if (!gpu && fromSections &&
        reinterpret_cast<uintptr_t>(embedded.data()) %
                AlignedBuffer::kAlignment ==
            0) {
      descriptors[i] = MemRefDescriptor(embedded.data(), arg.shape);
      continue;
    }
    // Otherwise packed into memory of their own: on a GPU its managed
    // memory (freed with the device), on the CPU an aligned buffer.
    void *block = nullptr;
    if (gpu) {
      absl::StatusOr<void *> gpuBlock = gpu->allocateFor(bytes, what);
      if (!gpuBlock.ok())
        return gpuBlock.status();
      block = *gpuBlock;
    } else {
      absl::StatusOr<AlignedBuffer> buffer =
          AlignedBuffer::allocate(bytes, what);
      if (!buffer.ok())
        return buffer.status();
      block = buffer->data();
      paramBuffers.push_back(std::move(*buffer));
    }
    if (fromSections) {
      std::memcpy(block, embedded.data(), bytes);
    } else if (absl::Status s = packParam(*checkpoint, arg.param, block);
               !s.ok()) {
      return s;
    }
    descriptors[i] = MemRefDescriptor(block, arg.shape);
  }
  return absl::OkStatus();
}

absl::Status Session::checkDimensions(int64_t batch, int64_t seq) const {
  if (batch < 1 || seq < 1)
    return absl::InvalidArgumentError(
        absl::StrCat("batch (", batch, ") and sequence length (", seq,
                     ") must be at least 1"));
  const Argument &tokens = forwardEntry->args[tokensIndex];
  const Argument &logits = forwardEntry->args[logitsIndex];
  const int64_t actual[] = {batch, seq};
  for (int d = 0; d < 2; ++d) {
    int64_t fixed = tokens.shape[d] >= 0 ? tokens.shape[d] : logits.shape[d];
    if (fixed >= 0 && fixed != actual[d])
      return absl::InvalidArgumentError(absl::StrCat(
          artifact->path(), ": '", kForward, "' was compiled for ",
          d == 0 ? "batch " : "sequence length ", fixed, "; got ", actual[d]));
  }
  if (int64_t limit = manifest.maxPositions; limit && seq > limit)
    return absl::InvalidArgumentError(
        absl::StrCat("sequence length ", seq, " exceeds the model's ", limit,
                     " positions (max_position_embeddings)"));
  int64_t elements;
  if (__builtin_mul_overflow(batch, seq, &elements) ||
      __builtin_mul_overflow(elements, vocab * int64_t(sizeof(float)),
                             &elements))
    return absl::InvalidArgumentError(
        absl::StrCat("batch ", batch, " x sequence length ", seq,
                     " is too large for the logits"));
  return absl::OkStatus();
}

absl::Status Session::run(const int64_t *tokens, int64_t batch, int64_t seq,
                          float *logits) {
  descriptors[tokensIndex] = MemRefDescriptor(tokens, {batch, seq});
  descriptors[logitsIndex] = MemRefDescriptor(logits, {batch, seq, vocab});
  std::vector<void *> argv;
  argv.reserve(descriptors.size());
  if (!gpu) {
    for (MemRefDescriptor &d : descriptors)
      argv.push_back(d.get());
    return runInWorkspace(entry, argv.data(), workspaceLimit);
  }
  // The kernels read the tokens and write the logits: both go through the
  // GPU's memory.
  const size_t tokenBytes = size_t(batch * seq) * sizeof(int64_t);
  const size_t logitBytes = size_t(batch * seq * vocab) * sizeof(float);
  absl::StatusOr<void *> gpuTokens = gpu->allocateFor(tokenBytes, "the tokens");
  if (!gpuTokens.ok())
    return gpuTokens.status();
  absl::StatusOr<void *> gpuLogits = gpu->allocateFor(logitBytes, "the logits");
  if (!gpuLogits.ok()) {
    gpu->release(*gpuTokens);
    return gpuLogits.status();
  }
  std::memcpy(*gpuTokens, tokens, tokenBytes);
  descriptors[tokensIndex] = MemRefDescriptor(*gpuTokens, {batch, seq});
  descriptors[logitsIndex] = MemRefDescriptor(*gpuLogits, {batch, seq, vocab});
  for (MemRefDescriptor &d : descriptors)
    argv.push_back(d.get());
  absl::Status status;
  {
    cuda::CudaDevice::Scope scope(*gpu);
    status = runInWorkspace(entry, argv.data(), workspaceLimit, *gpu);
    if (status.ok())
      status = gpu->synchronize();
  }
  if (status.ok())
    std::memcpy(logits, *gpuLogits, logitBytes);
  gpu->release(*gpuTokens);
  gpu->release(*gpuLogits);
  return status;
}

absl::Status Session::forward(const int64_t *tokens, int64_t batch, int64_t seq,
                              float *logits) {
  if (absl::Status s = checkDimensions(batch, seq); !s.ok())
    return s;
  if (!tokens || !logits)
    return absl::InvalidArgumentError("tokens and logits must not be null");
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0; s < seq; ++s)
      if (int64_t id = tokens[b * seq + s]; id < 0 || id >= vocab)
        return absl::InvalidArgumentError(
            absl::StrCat("token id ", id, " at batch row ", b, ", position ", s,
                         " is outside the vocabulary [0, ", vocab, ")"));
  return run(tokens, batch, seq, logits);
}

absl::Status Session::generate(const int64_t *const *prompts,
                               const int64_t *promptLengths, int64_t batch,
                               int64_t maxNewTokens, int64_t *generated,
                               float *prefillLogits,
                               const ProgressFn &progress) {
  if (batch < 1)
    return absl::InvalidArgumentError(absl::StrCat(
        "the batch must hold at least one prompt (got ", batch, ")"));
  if (!prompts || !promptLengths)
    return absl::InvalidArgumentError(
        "prompts and prompt lengths must not be null");
  if (maxNewTokens < 0)
    return absl::InvalidArgumentError(
        absl::StrCat("the number of new tokens must not be negative (got ",
                     maxNewTokens, ")"));
  if (maxNewTokens > 0 && !generated)
    return absl::InvalidArgumentError(
        "the output for generated tokens must not be null");
  int64_t longestPrompt = 0;
  for (int64_t b = 0; b < batch; ++b) {
    if (promptLengths[b] < 1 || !prompts[b])
      return absl::InvalidArgumentError(
          absl::StrCat("prompt ", b, " is empty"));
    for (int64_t p = 0; p < promptLengths[b]; ++p)
      if (int64_t id = prompts[b][p]; id < 0 || id >= vocab)
        return absl::InvalidArgumentError(
            absl::StrCat("prompt ", b, ", position ", p, ": token id ", id,
                         " is outside the vocabulary [0, ", vocab, ")"));
    longestPrompt = std::max(longestPrompt, promptLengths[b]);
  }

  // Without new tokens, one forward still gives the prefill logits.
  const int64_t steps = std::max<int64_t>(maxNewTokens, prefillLogits ? 1 : 0);
  if (steps == 0)
    return absl::OkStatus();
  // The last step runs on the longest prompt plus all but the last token.
  int64_t longest;
  if (__builtin_add_overflow(longestPrompt, steps - 1, &longest))
    return absl::InvalidArgumentError("the sequences are too long");
  if (absl::Status s = checkDimensions(batch, longest); !s.ok())
    return s;
  absl::StatusOr<AlignedBuffer> tokens = AlignedBuffer::allocate(
      size_t(batch * longest) * sizeof(int64_t), "the token batch");
  if (!tokens.ok())
    return tokens.status();
  absl::StatusOr<AlignedBuffer> logits = AlignedBuffer::allocate(
      size_t(batch * longest * vocab) * sizeof(float), "the logits");
  if (!logits.ok())
    return logits.status();
  int64_t *tokenData = reinterpret_cast<int64_t *>(tokens->data());
  float *logitData = reinterpret_cast<float *>(logits->data());

  for (int64_t step = 0; step < steps; ++step) {
    // Every sequence is its prompt plus the `step` tokens generated so far.
    const int64_t width = longestPrompt + step;
    if (absl::Status s = checkDimensions(batch, width); !s.ok())
      return s;
    for (int64_t b = 0; b < batch; ++b) {
      int64_t *row = tokenData + b * width;
      std::copy(prompts[b], prompts[b] + promptLengths[b], row);
      std::copy(generated + b * maxNewTokens,
                generated + b * maxNewTokens + step, row + promptLengths[b]);
      std::fill(row + promptLengths[b] + step, row + width, int64_t(0));
    }
    if (absl::Status s = run(tokenData, batch, width, logitData); !s.ok())
      return s;
    for (int64_t b = 0; b < batch; ++b) {
      const float *last =
          logitData + (b * width + promptLengths[b] + step - 1) * vocab;
      // A NaN would make argmax meaningless: report it, never a token.
      if (!std::all_of(last, last + vocab,
                       [](float v) { return std::isfinite(v); }))
        return absl::InternalError(
            absl::StrCat("the model produced non-finite logits for prompt ", b,
                         " at step ", step,
                         " (a numerical problem in the model or the "
                         "compiled code)"));
      if (step == 0 && prefillLogits)
        std::copy(last, last + vocab, prefillLogits + b * vocab);
      if (step < maxNewTokens)
        // max_element returns the first maximum: the lowest id on ties.
        generated[b * maxNewTokens + step] =
            std::max_element(last, last + vocab) - last;
    }
    if (progress)
      progress(step + 1, steps);
  }
  return absl::OkStatus();
}

} // namespace dsc::runtime

//===- Session.cpp - A loaded model ready to run --------------------------===//

#include "runtime/Session.h"

#include "runtime/Workspace.h"

#include "runtime/support/Errors.h"
#include "runtime/support/HostCpu.h"
#include "runtime/support/Safetensors.h"

#include "absl/algorithm/container.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <system_error>

namespace dsc::runtime {

namespace {

constexpr char kForward[] = "forward";
constexpr char kPrefill[] = "prefill";
constexpr char kDecode[] = "decode";

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

/// The index of the largest logit, the lowest on ties; an error when the
/// row holds a NaN or infinity (argmax over it would be meaningless).
absl::StatusOr<int64_t> pickToken(const float *row, int64_t vocab,
                                  int64_t prompt, int64_t step) {
  if (!std::all_of(row, row + vocab, [](float v) { return std::isfinite(v); }))
    return absl::InternalError(absl::StrCat(
        "the model produced non-finite logits for prompt ", prompt, " at step ",
        step, " (a numerical problem in the model or the compiled code)"));
  // max_element returns the first maximum: the lowest id on ties.
  return std::max_element(row, row + vocab) - row;
}

} // namespace

int Session::Call::indexOf(ArgRole role, std::string_view name) const {
  for (size_t i = 0; i < entry->args.size(); ++i)
    if (entry->args[i].role == role && entry->args[i].name == name)
      return int(i);
  return -1;
}

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
  // Unused blocks are kept up to the workspace limit, else up to 1 GiB.
  session->hostBlocks = std::make_unique<CachingHeapAllocator>(
      options.workspaceLimit ? options.workspaceLimit : uint64_t(1) << 30);
  if (absl::Status s = session->checkSignature(); !s.ok())
    return s;
  if (session->gpu)
    if (absl::Status s = session->chooseGpuTarget(); !s.ok())
      return s;
  // Loading the code is quick and binding may take minutes: fail early.
  if (absl::Status s = session->loadHostCode(options.threads); !s.ok())
    return s;
  if (absl::Status s = session->bindParams(options); !s.ok())
    return s;
  if (session->gpu && session->decodeCall.entry) {
    // The compiler proved that decode's host code touches no device data:
    // the KV cache can be device memory, and the step can be recorded.
    const Target *target = session->manifest.findTarget(session->targetName);
    session->decodeCapturable =
        target && absl::c_linear_search(target->graphCapturable,
                                        session->decodeCall.entry->name);
    session->graphsForDecode = session->decodeCapturable && options.cudaGraphs;
    session->graphStats.enabled = session->graphsForDecode;
  }
  session->padDecode = session->graphsForDecode || options.padDecodeBuckets;
  if (session->cacheShape.layers && options.kvCacheTokens >= 0)
    if (absl::Status s = session->createKvCache(
            options.kvCacheTokens ? options.kvCacheTokens
                                  : SessionOptions::kDefaultKvCacheTokens);
        !s.ok())
      return s;
  // Without a cache generation recomputes: no decode steps to record.
  if (!session->cache) {
    session->graphsForDecode = session->padDecode = false;
    session->graphStats.enabled = false;
  }
  return session;
}

absl::Status Session::checkSignature() {
  const std::string &path = artifact->path();
  forwardCall.entry = manifest.findEntryPoint(kForward);
  if (!forwardCall.entry)
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": the artifact has no '", kForward, "' entry point"));
  const EntryPoint &forward = *forwardCall.entry;
  auto signatureError = [&](const auto &...parts) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": entry point '", kForward, "' ", parts...,
                     " (the runtime needs tokens i64 [batch, seq] -> logits "
                     "f32 [batch, seq, vocab])"));
  };
  int inputs = 0, outputs = 0;
  for (const Argument &arg : forward.args) {
    inputs += arg.role == ArgRole::Input;
    outputs += arg.role == ArgRole::Output;
  }
  if (inputs != 1 || outputs != 1)
    return signatureError("has ", inputs, " inputs and ", outputs, " outputs");
  auto withRole = [&](ArgRole role) -> const Argument & {
    return *std::find_if(forward.args.begin(), forward.args.end(),
                         [&](const Argument &a) { return a.role == role; });
  };
  const Argument &tokens = withRole(ArgRole::Input);
  const Argument &logits = withRole(ArgRole::Output);
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
  absl::StatusOr<bool> cached = checkKvCacheSignatures();
  return cached.status();
}

absl::StatusOr<bool> Session::checkKvCacheSignatures() {
  const std::string &path = artifact->path();
  prefillCall.entry = manifest.findEntryPoint(kPrefill);
  decodeCall.entry = manifest.findEntryPoint(kDecode);
  if (!prefillCall.entry && !decodeCall.entry)
    return false;
  auto signatureError = [&](const auto &...parts) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": ", parts...,
        " (the runtime needs prefill(tokens[, last_positions]) -> (logits, "
        "latents) and "
        "decode(tokens, past, block_table, kv_cache) -> (logits, latents))"));
  };
  if (!prefillCall.entry || !decodeCall.entry)
    return signatureError("the artifact has only one of the '", kPrefill,
                          "' and '", kDecode, "' entry points");
  // Each named argument: its role, dtype, rank, and static dimensions.
  struct Expected {
    ArgRole role;
    const char *name;
    ElementType dtype;
    size_t rank;
  };
  auto check = [&](const Call &call,
                   std::initializer_list<Expected> wanted) -> absl::Status {
    int inputs = 0, outputs = 0;
    for (const Argument &arg : call.entry->args) {
      inputs += arg.role == ArgRole::Input;
      outputs += arg.role == ArgRole::Output;
    }
    int wantedInputs = 0;
    for (const Expected &e : wanted) {
      wantedInputs += e.role == ArgRole::Input;
      int index = call.indexOf(e.role, e.name);
      if (index < 0)
        return signatureError("entry point '", call.entry->name, "' has no ",
                              e.name);
      const Argument &arg = call.entry->args[index];
      if (arg.dtype != e.dtype || arg.shape.size() != e.rank)
        return signatureError("entry point '", call.entry->name, "': ", e.name,
                              " is ", elementTypeName(arg.dtype), " ",
                              formatCompiledShape(arg.shape));
    }
    if (inputs != wantedInputs || outputs != int(wanted.size()) - wantedInputs)
      return signatureError("entry point '", call.entry->name, "' has ", inputs,
                            " inputs and ", outputs, " outputs");
    return absl::OkStatus();
  };
  constexpr ArgRole in = ArgRole::Input, out = ArgRole::Output;
  constexpr ElementType i64 = ElementType::I64, f32 = ElementType::F32;
  // The cache holds f32 or bf16 values (dsc-compile --kv-cache-type).
  int cacheIndex = decodeCall.indexOf(in, "kv_cache");
  ElementType cacheType =
      cacheIndex >= 0 &&
              decodeCall.entry->args[cacheIndex].dtype == ElementType::BF16
          ? ElementType::BF16
          : f32;
  // Prefill returns every position's logits, or (artifacts since the
  // thirty-third session) each sequence's at `last_positions` only.
  prefillLastPositions = prefillCall.indexOf(in, "last_positions") >= 0;
  if (absl::Status s = prefillLastPositions
                           ? check(prefillCall, {{in, "tokens", i64, 2},
                                                 {in, "last_positions", i64, 1},
                                                 {out, "logits", f32, 3},
                                                 {out, "latents", f32, 4}})
                           : check(prefillCall, {{in, "tokens", i64, 2},
                                                 {out, "logits", f32, 3},
                                                 {out, "latents", f32, 4}});
      !s.ok())
    return s;
  if (prefillLastPositions &&
      prefillCall.entry->args[prefillCall.indexOf(out, "logits")].shape[1] != 1)
    return signatureError("entry point 'prefill' takes last_positions but "
                          "returns logits of more than one position");
  if (absl::Status s = check(decodeCall, {{in, "tokens", i64, 2},
                                          {in, "past", i64, 1},
                                          {in, "block_table", i64, 2},
                                          {in, "kv_cache", cacheType, 4},
                                          {out, "logits", f32, 3},
                                          {out, "latents", f32, 4}});
      !s.ok())
    return s;
  // kv_cache [layers, pages, page size, width]; latents [layers, batch,
  // seq, width] of both entry points agree with it.
  const std::vector<int64_t> &pages =
      decodeCall.entry->args[decodeCall.indexOf(in, "kv_cache")].shape;
  cacheShape = {pages[0], pages[2], pages[3],
                cacheType == ElementType::BF16 ? KvCacheElement::BF16
                                               : KvCacheElement::F32};
  for (const Call *call : {&prefillCall, &decodeCall}) {
    const std::vector<int64_t> &latents =
        call->entry->args[call->indexOf(out, "latents")].shape;
    if (latents[0] != cacheShape.layers || latents[3] != cacheShape.width)
      return signatureError("entry point '", call->entry->name,
                            "' returns latents ", formatCompiledShape(latents),
                            " that do not fit kv_cache ",
                            formatCompiledShape(pages));
  }
  if (cacheShape.layers < 1 || cacheShape.pageSize < 1 || cacheShape.width < 1)
    return signatureError("kv_cache must have static layers, page size and "
                          "width; it is ",
                          formatCompiledShape(pages));
  return true;
}

Session::~Session() {
  if (!gpu)
    return;
  cuda::CudaDevice::Scope scope(*gpu);
  // The graphs hold the kernels of the modules about to go.
  recordedSteps.clear();
  if (unloadGpuModules) {
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

absl::Status Session::loadHostCode(int threads) {
  const std::string &path = artifact->path();
  const Target *target = manifest.findTarget(targetName);
  bool found = target && (gpu ? target->kind == "ptx"
                              : target->kind == "host-shared-object");
  if (!found)
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": the artifact has no host code for the '", targetName,
        "' target (recompile with --target ", targetName, ")"));
  if (!hostCpuSupports(target->hostCpu))
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": the host code is compiled for ", target->hostCpu, " (",
        std::string(hostCpuFeatures(target->hostCpu)),
        "), which this CPU lacks; recompile with dsc-compile --cpu ",
        std::string(bestHostCpu())));
  // parseManifest checked that the section exists.
  std::string_view image = *artifact->section(target->section);
  absl::StatusOr<std::unique_ptr<HostModule>> module = HostModule::load(
      image, absl::StrCat(path, ": section ", quote(target->section)));
  if (!module.ok())
    return module.status();
  hostModule = std::move(*module);
  for (Call *call : {&forwardCall, &prefillCall, &decodeCall}) {
    if (!call->entry)
      continue;
    absl::StatusOr<void *> symbol = hostModule->symbol(call->entry->symbol);
    if (!symbol.ok())
      return symbol.status();
    call->fn = reinterpret_cast<void (*)(void **)>(*symbol);
  }
  installAllocationHooks(*hostModule);
  if (!gpu) {
    // A pool only where the code has loops to give it.
    if (threads <= 0)
      threads = ThreadPool::availableCores();
    if (threads > 1 && installParallelForHook(*hostModule, nullptr)) {
      try {
        pool = std::make_unique<ThreadPool>(threads);
      } catch (const std::system_error &e) {
        return absl::ResourceExhaustedError(
            absl::StrCat("cannot start ", threads, " threads: ", e.what()));
      }
      installParallelForHook(*hostModule, pool.get());
    }
    return absl::OkStatus();
  }

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
  const uint64_t seed = options.randomWeightsSeed;
  bool fromSections =
      !seed && options.weightsDir.empty() && manifest.embeddedWeights;
  std::unique_ptr<st::Checkpoint> checkpoint;
  if (seed && !options.weightsDir.empty())
    return absl::InvalidArgumentError(
        "random weights and a weights directory: give one of them");
  if (!fromSections && !seed) {
    const std::string &dir =
        options.weightsDir.empty() ? manifest.source : options.weightsDir;
    if (dir.empty())
      return absl::FailedPreconditionError(absl::StrCat(
          path, ": the weights are not embedded and the manifest names no "
                "checkpoint; pass the weights directory (dsc-run --weights "
                "DIR), or time the model with random ones (dsc-run "
                "--random-weights SEED)"));
    absl::StatusOr<std::unique_ptr<st::Checkpoint>> opened =
        st::Checkpoint::open(dir);
    if (!opened.ok()) {
      if (!options.weightsDir.empty())
        return opened.status();
      return absl::Status(
          opened.status().code(),
          absl::StrCat(opened.status().message(), " (the checkpoint ", path,
                       " was compiled from; if it moved, pass the weights "
                       "directory: dsc-run --weights DIR; to time the model "
                       "without them: dsc-run --random-weights SEED)"));
    }
    checkpoint = std::move(*opened);
  }

  // A target may take some f32 params as bf16 (the weights of its linear
  // layers and experts, for tensor-core GEMMs; the CPU's with
  // --bf16-linear-inputs). V3 has thousands of params, so the names are
  // looked up in a set.
  absl::flat_hash_set<std::string_view> bf16Params;
  if (const Target *target = manifest.findTarget(targetName))
    bf16Params.insert(target->bf16Params.begin(), target->bf16Params.end());
  auto asBf16 = [&](const Argument &arg) {
    return arg.dtype == ElementType::F32 && bf16Params.contains(arg.name);
  };
  // Entry points share their weights: each distinct param is bound once.
  std::map<std::string, const void *> bound;
  for (Call *call : {&forwardCall, &prefillCall, &decodeCall}) {
    if (!call->entry)
      continue;
    call->descriptors.resize(call->entry->args.size());
    for (size_t i = 0; i < call->entry->args.size(); ++i) {
      Argument arg = call->entry->args[i];
      if (arg.role != ArgRole::Param)
        continue;
      if (asBf16(arg))
        arg.dtype = arg.param.dtype = ElementType::BF16;
      std::string key = absl::StrCat(arg.name, "|", arg.param.stack, "|",
                                     elementTypeName(arg.dtype), "|",
                                     formatCompiledShape(arg.shape));
      auto [it, inserted] = bound.try_emplace(key, nullptr);
      if (inserted) {
        absl::StatusOr<const void *> data =
            bindParam(arg, fromSections, checkpoint.get(), seed);
        if (!data.ok())
          return data.status();
        it->second = *data;
      }
      call->descriptors[i] = MemRefDescriptor(it->second, arg.shape);
    }
  }
  // Params read from the checkpoint's mapping keep it open (stitched
  // stacks map its files themselves). The pages packing read (converted
  // weights, packed stacks) need not stay resident with it; the in-place
  // params' pages load again on first use.
  if (checkpoint && weightStats.inPlace > 0) {
    for (const std::unique_ptr<st::File> &file : checkpoint->files())
      file->dropResidentPages();
    mappedCheckpoint = std::move(checkpoint);
  }
  return absl::OkStatus();
}

absl::StatusOr<const void *>
Session::bindParam(const Argument &arg, bool fromSections,
                   const st::Checkpoint *checkpoint, uint64_t randomSeed) {
  const std::string &path = artifact->path();
  const size_t bytes = arg.param.numBytes();
  std::string what = absl::StrCat("param ", quote(arg.name));
  // A param the target takes as bf16 (Target::bf16Params) is embedded as
  // bf16 when every target takes it so (Argument::sectionBf16), else as
  // the entry point's f32: narrowed here. A bf16 section of a param this
  // target takes as f32 is widened (exactly).
  const bool takesBf16 = arg.param.dtype == ElementType::BF16;
  const bool narrowed = takesBf16 && !arg.sectionBf16;
  const bool widened = !takesBf16 && arg.sectionBf16;
  const size_t elements = static_cast<size_t>(arg.param.numElements());
  const size_t sectionBytes = narrowed  ? elements * sizeof(float)
                              : widened ? elements * sizeof(uint16_t)
                                        : bytes;
  std::string_view embedded;
  if (fromSections) {
    embedded = *artifact->section(arg.section);
    if (embedded.size() != sectionBytes)
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": section ", quote(arg.section), " holds ", embedded.size(),
          " bytes but ", what, " needs ", sectionBytes));
  }
  // On the CPU, weights stored as the code reads them are used in place:
  // embedded sections from the artifact's mapping when aligned, and
  // checkpoint tensors from the checkpoint's (a BF16 checkpoint's bf16
  // params, an FP8 one's e4m3 weights, F32 tensors of f32 params).
  if (!gpu && !randomSeed) {
    const void *stored = nullptr;
    if (fromSections && !narrowed && !widened &&
        reinterpret_cast<uintptr_t>(embedded.data()) %
                AlignedBuffer::kAlignment ==
            0)
      stored = embedded.data();
    else if (checkpoint && !fromSections) {
      std::vector<const st::TensorInfo *> slices =
          storedSlices(*checkpoint, arg.param);
      stored = backToBack(slices);
      // A stack whose experts are stored apart: their pages, back to back.
      if (!stored) {
        if (std::optional<StitchedMapping> stitched =
                stitchSlices(*checkpoint, slices)) {
          stored = stitched->data();
          ++weightStats.stitched;
          weightStats.stitchedCopiedBytes +=
              static_cast<int64_t>(stitched->copiedBytes());
          stitchedParams.push_back(std::move(*stitched));
        }
      }
    }
    if (stored) {
      ++weightStats.inPlace;
      weightStats.inPlaceBytes += static_cast<int64_t>(bytes);
      return stored;
    }
  }
  ++weightStats.packed;
  weightStats.packedBytes += static_cast<int64_t>(bytes);
  // Otherwise packed into memory of their own.
  absl::StatusOr<void *> allocated = allocateLongLived(bytes, what);
  if (!allocated.ok())
    return allocated.status();
  void *block = *allocated;
  if (randomSeed) {
    fillRandomParam(arg.param, randomSeed, block);
  } else if (fromSections && narrowed) {
    st::narrowToBf16(embedded.data(), elements, static_cast<uint16_t *>(block));
  } else if (fromSections && widened) {
    float *out = static_cast<float *>(block);
    for (size_t i = 0; i < elements; ++i) {
      uint16_t bits;
      std::memcpy(&bits, embedded.data() + i * sizeof(bits), sizeof(bits));
      out[i] = st::bf16ToF32(bits);
    }
  } else if (fromSections) {
    std::memcpy(block, embedded.data(), bytes);
  } else if (absl::Status s = packParam(*checkpoint, arg.param, block);
             !s.ok()) {
    return s;
  }
  return static_cast<const void *>(block);
}

absl::StatusOr<void *> Session::allocateLongLived(size_t bytes,
                                                  const std::string &what) {
  // On a GPU its managed memory (freed with the device), on the CPU an
  // aligned buffer the session keeps.
  if (gpu)
    return gpu->allocateFor(bytes, what);
  absl::StatusOr<AlignedBuffer> buffer = AlignedBuffer::allocate(bytes, what);
  if (!buffer.ok())
    return buffer.status();
  void *block = buffer->data();
  sessionBuffers.push_back(std::move(*buffer));
  return block;
}

absl::Status Session::createKvCache(int64_t tokens) {
  const int64_t pages =
      (tokens + cacheShape.pageSize - 1) / cacheShape.pageSize;
  int64_t bytes;
  if (__builtin_mul_overflow(pages * cacheShape.pageSize,
                             cacheShape.bytesPerToken(), &bytes))
    return absl::InvalidArgumentError(
        absl::StrCat("a KV cache of ", tokens, " tokens is too large"));
  std::string what = absl::StrCat("the KV cache (", tokens, " tokens, ",
                                  cacheShape.layers, " layers)");
  // Decode reads whole pages and masks the unused rows; zeros keep a NaN
  // bit pattern from ever reaching the value products.
  if (gpu && decodeCapturable) {
    // Only kernels read the cache (decode's host code never does:
    // dsc-check-graph-capture), so it lives in device memory and the
    // runtime writes new entries by copies. (An artifact without that
    // proof keeps it in managed memory.)
    absl::StatusOr<void *> storage = gpu->allocateDeviceMemory(bytes, what);
    if (!storage.ok())
      return storage.status();
    if (absl::Status s = gpu->zero(*storage, bytes); !s.ok())
      return s;
    char *base = static_cast<char *>(*storage);
    cuda::CudaDevice *device = gpu.get();
    cache = std::make_unique<KvCache>(
        *storage, cacheShape, pages,
        [device, base](int64_t offset, const void *from, size_t n) {
          cuda::CudaDevice::Scope scope(*device);
          return device->upload(base + offset, from, n);
        });
    return absl::OkStatus();
  }
  absl::StatusOr<void *> allocated = allocateLongLived(bytes, what);
  if (!allocated.ok())
    return allocated.status();
  void *storage = *allocated;
  std::memset(storage, 0, bytes);
  cache = std::make_unique<KvCache>(storage, cacheShape, pages);
  return absl::OkStatus();
}

absl::Status Session::checkDimensions(int64_t batch, int64_t seq) const {
  if (batch < 1 || seq < 1)
    return absl::InvalidArgumentError(
        absl::StrCat("batch (", batch, ") and sequence length (", seq,
                     ") must be at least 1"));
  const std::vector<Argument> &args = forwardCall.entry->args;
  const Argument &tokens = args[forwardCall.indexOf(ArgRole::Input, "tokens")];
  const Argument &logits = args[forwardCall.indexOf(ArgRole::Output, "logits")];
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

absl::Status Session::invoke(Call &call,
                             const std::vector<CallTensor> &tensors) {
  std::vector<MemRefDescriptor> &descriptors = call.descriptors;
  std::vector<void *> argv;
  argv.reserve(descriptors.size());
  if (!gpu) {
    for (const CallTensor &t : tensors)
      descriptors[t.index] = MemRefDescriptor(t.data, t.shape);
    for (MemRefDescriptor &d : descriptors)
      argv.push_back(d.get());
    return runInWorkspace(call.fn, argv.data(), workspaceLimit, *hostBlocks);
  }
  // The kernels read the inputs and write the outputs: those in host
  // memory go through the GPU's memory.
  std::vector<std::pair<void *, size_t>> staged;
  auto releaseStaged = [&] {
    for (auto &[block, bytes] : staged)
      if (block)
        gpu->release(block);
  };
  for (const CallTensor &t : tensors) {
    if (t.onDevice) {
      descriptors[t.index] = MemRefDescriptor(t.data, t.shape);
      staged.push_back({nullptr, 0});
      continue;
    }
    size_t bytes = t.bytes();
    absl::StatusOr<void *> block = gpu->allocateFor(
        bytes,
        absl::StrCat("argument ", quote(call.entry->args[t.index].name)));
    if (!block.ok()) {
      releaseStaged();
      return block.status();
    }
    if (!t.isOutput)
      std::memcpy(*block, t.data, bytes);
    descriptors[t.index] = MemRefDescriptor(*block, t.shape);
    staged.push_back({*block, bytes});
  }
  for (MemRefDescriptor &d : descriptors)
    argv.push_back(d.get());
  absl::Status status;
  {
    cuda::CudaDevice::Scope scope(*gpu);
    status = runInWorkspace(call.fn, argv.data(), workspaceLimit, *gpu);
    if (status.ok())
      status = gpu->synchronize();
  }
  for (size_t i = 0; i < tensors.size(); ++i)
    if (status.ok() && tensors[i].isOutput && staged[i].first)
      std::memcpy(tensors[i].data, staged[i].first, staged[i].second);
  releaseStaged();
  return status;
}

Session::RecordedStep::~RecordedStep() {
  graph.reset();
  for (void *block : staging)
    if (block)
      device->freeDeviceMemory(block);
}

absl::Status Session::invokeRecorded(Call &call,
                                     const std::vector<CallTensor> &tensors,
                                     std::pair<int64_t, int64_t> key,
                                     bool &recordingFailed) {
  std::unique_ptr<RecordedStep> &step = recordedSteps[key];
  // A tensor already on the device (the KV cache) was recorded at its
  // address: record again should it ever move.
  if (step)
    for (size_t i = 0; i < tensors.size(); ++i)
      if (tensors[i].onDevice && tensors[i].data != step->inPlace[i]) {
        step.reset();
        break;
      }
  cuda::CudaDevice::Scope scope(*gpu);
  if (!step) {
    // Whatever goes wrong from here to the graph is a failed recording.
    recordingFailed = true;
    auto fresh = std::make_unique<RecordedStep>();
    fresh->device = gpu.get();
    for (const CallTensor &t : tensors) {
      void *block = nullptr;
      if (!t.onDevice) {
        absl::StatusOr<void *> staged = gpu->allocateDeviceMemory(
            t.bytes(),
            absl::StrCat("argument ", quote(call.entry->args[t.index].name)));
        if (!staged.ok())
          return staged.status();
        block = *staged;
      }
      fresh->staging.push_back(block);
      fresh->inPlace.push_back(t.onDevice ? t.data : nullptr);
      call.descriptors[t.index] =
          MemRefDescriptor(t.onDevice ? t.data : block, t.shape);
    }
    std::vector<void *> argv;
    for (MemRefDescriptor &d : call.descriptors)
      argv.push_back(d.get());
    // Recording runs the host code, which launches into the graph; no
    // kernel runs yet.
    if (absl::Status s = gpu->beginCapture(); !s.ok())
      return s;
    absl::Status ran =
        runInWorkspace(call.fn, argv.data(), workspaceLimit, *gpu);
    absl::StatusOr<std::unique_ptr<cuda::CudaGraph>> graph =
        gpu->endCapture(/*keep=*/ran.ok());
    if (!ran.ok())
      return ran;
    if (!graph.ok())
      return graph.status();
    fresh->graph = std::move(*graph);
    step = std::move(fresh);
    ++graphStats.captured;
    recordingFailed = false;
  }
  // The staging buffers are device memory: copies in stream order around
  // the replay.
  for (size_t i = 0; i < tensors.size(); ++i)
    if (!tensors[i].isOutput && step->staging[i])
      if (absl::Status s = gpu->upload(step->staging[i], tensors[i].data,
                                       tensors[i].bytes());
          !s.ok())
        return s;
  if (absl::Status s = gpu->launch(*step->graph); !s.ok())
    return s;
  for (size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].isOutput && step->staging[i])
      if (absl::Status s = gpu->download(tensors[i].data, step->staging[i],
                                         tensors[i].bytes());
          !s.ok())
        return s;
  if (absl::Status s = gpu->synchronize(); !s.ok())
    return s;
  ++graphStats.replayed;
  return absl::OkStatus();
}

/// The bucket of a size: the next power of two, so that a handful of
/// graphs serve every batch and block-table width.
static int64_t bucketOf(int64_t size) {
  int64_t bucket = 1;
  while (bucket < size)
    bucket <<= 1;
  return bucket;
}

absl::Status Session::decodeStep(const int64_t *tokens, const int64_t *past,
                                 const std::vector<int64_t> &table,
                                 int64_t batch, int64_t tablePages,
                                 float *logits, float *latents) {
  std::pair<int64_t, int64_t> bucket = {bucketOf(batch), bucketOf(tablePages)};
  if (!graphsForDecode || unrecordable.count(bucket)) {
    if (padDecode && !graphsForDecode) {
      ++graphStats.padded;
      return runDecode(tokens, past, table, batch, tablePages, bucket.first,
                       bucket.second, logits, latents, nullptr);
    }
    return runDecode(tokens, past, table, batch, tablePages, batch, tablePages,
                     logits, latents, nullptr);
  }
  // Out of memory, or a driver that refuses to record the step (a
  // STREAM_CAPTURE error, or the graph's end or instantiation, whose
  // messages say so): the failures a step without a graph may not have.
  // Others are the step's.
  auto isStepFailure = [](const absl::Status &s) {
    return !absl::IsResourceExhausted(s) &&
           !absl::StrContains(s.message(), "STREAM_CAPTURE") &&
           !absl::StrContains(s.message(), "CUDA graph");
  };
  for (bool retried = false;; retried = true) {
    bool recordingFailed = false;
    absl::Status status =
        runDecode(tokens, past, table, batch, tablePages, bucket.first,
                  bucket.second, logits, latents, &recordingFailed);
    if (status.ok() || !recordingFailed || isStepFailure(status)) {
      graphStats.padded += status.ok();
      return status;
    }
    recordedSteps.erase(bucket);
    // The other buckets' graphs hold memory of their own: drop them, give
    // their blocks back to the driver, and record once more.
    if (retried || !absl::IsResourceExhausted(status) || recordedSteps.empty())
      break;
    recordedSteps.clear();
    gpu->releaseCache();
  }
  // This bucket runs launch by launch from now on, unpadded.
  unrecordable.insert(bucket);
  ++graphStats.unrecorded;
  return runDecode(tokens, past, table, batch, tablePages, batch, tablePages,
                   logits, latents, nullptr);
}

absl::Status Session::runDecode(const int64_t *tokens, const int64_t *past,
                                const std::vector<int64_t> &table,
                                int64_t batch, int64_t tablePages, int64_t rows,
                                int64_t pages, float *logits, float *latents,
                                bool *recordingFailed) {
  const KvCacheShape &shape = cache->shape();
  // Padding rows decode token 0 with nothing cached, and padded table
  // entries are read but never used (past each sequence the keys are
  // masked): the real rows' results are those of the unpadded step.
  std::vector<int64_t> paddedTokens(tokens, tokens + batch),
      paddedPast(past, past + batch), paddedTable = table;
  std::vector<float> stagedLogits, stagedLatents;
  float *logitOut = logits, *latentOut = latents;
  if (rows != batch || pages != tablePages) {
    paddedTokens.resize(rows, 0);
    paddedPast.resize(rows, 0);
    // Page -1: a decode that stores its entries skips the padding rows'.
    paddedTable.assign(size_t(rows * pages), -1);
    for (int64_t b = 0; b < batch; ++b)
      std::copy(table.begin() + b * tablePages,
                table.begin() + (b + 1) * tablePages,
                paddedTable.begin() + b * pages);
    stagedLogits.resize(size_t(rows * vocab));
    stagedLatents.resize(size_t(shape.layers * rows * shape.width));
    logitOut = stagedLogits.data();
    latentOut = stagedLatents.data();
  }
  std::vector<CallTensor> tensors = {
      {decodeCall.indexOf(ArgRole::Input, "tokens"),
       paddedTokens.data(),
       {rows, 1},
       sizeof(int64_t)},
      {decodeCall.indexOf(ArgRole::Input, "past"),
       paddedPast.data(),
       {rows},
       sizeof(int64_t)},
      {decodeCall.indexOf(ArgRole::Input, "block_table"),
       paddedTable.data(),
       {rows, pages},
       sizeof(int64_t)},
      {decodeCall.indexOf(ArgRole::Input, "kv_cache"),
       cache->storage(),
       {shape.layers, cache->pages(), shape.pageSize, shape.width},
       size_t(shape.elementBytes()),
       false,
       /*onDevice=*/true},
      {decodeCall.indexOf(ArgRole::Output, "logits"),
       logitOut,
       {rows, 1, vocab},
       sizeof(float),
       true},
      {decodeCall.indexOf(ArgRole::Output, "latents"),
       latentOut,
       {shape.layers, rows, 1, shape.width},
       sizeof(float),
       true}};
  absl::Status status =
      recordingFailed
          ? invokeRecorded(decodeCall, tensors, {rows, pages}, *recordingFailed)
          : invoke(decodeCall, tensors);
  if (!status.ok() || logitOut == logits)
    return status;
  // The real rows back: [rows, vocab] and [layers, rows, width].
  std::copy(stagedLogits.begin(), stagedLogits.begin() + batch * vocab, logits);
  for (int64_t l = 0; l < shape.layers; ++l)
    std::copy(stagedLatents.begin() + l * rows * shape.width,
              stagedLatents.begin() + (l * rows + batch) * shape.width,
              latents + l * batch * shape.width);
  return absl::OkStatus();
}

absl::Status Session::run(const int64_t *tokens, int64_t batch, int64_t seq,
                          float *logits) {
  return invoke(forwardCall, {{forwardCall.indexOf(ArgRole::Input, "tokens"),
                               const_cast<int64_t *>(tokens),
                               {batch, seq},
                               sizeof(int64_t)},
                              {forwardCall.indexOf(ArgRole::Output, "logits"),
                               logits,
                               {batch, seq, vocab},
                               sizeof(float),
                               /*isOutput=*/true}});
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
                               GenerationLogits logits,
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

  // Without new tokens, one step still gives the prefill logits.
  const int64_t steps = std::max<int64_t>(maxNewTokens, logits.prefill ? 1 : 0);
  if (steps == 0)
    return absl::OkStatus();
  // The last step runs on the longest prompt plus all but the last token.
  int64_t longest;
  if (__builtin_add_overflow(longestPrompt, steps - 1, &longest))
    return absl::InvalidArgumentError("the sequences are too long");
  if (absl::Status s = checkDimensions(batch, longest); !s.ok())
    return s;
  if (cache)
    return generateWithCache(prompts, promptLengths, batch, longestPrompt,
                             steps, maxNewTokens, generated, logits, progress);
  return generateByRecomputing(prompts, promptLengths, batch, longestPrompt,
                               steps, maxNewTokens, generated, logits,
                               progress);
}

absl::StatusOr<int64_t> Session::takeToken(const float *row, int64_t b,
                                           int64_t step, int64_t maxNewTokens,
                                           int64_t *generated,
                                           GenerationLogits record) {
  absl::StatusOr<int64_t> token = pickToken(row, vocab, b, step);
  if (!token.ok())
    return token;
  if (step == 0 && record.prefill)
    std::copy(row, row + vocab, record.prefill + b * vocab);
  if (step < maxNewTokens) {
    generated[b * maxNewTokens + step] = *token;
    if (record.steps)
      std::copy(row, row + vocab,
                record.steps + (b * maxNewTokens + step) * vocab);
  }
  return token;
}

absl::Status Session::generateByRecomputing(
    const int64_t *const *prompts, const int64_t *promptLengths, int64_t batch,
    int64_t longestPrompt, int64_t steps, int64_t maxNewTokens,
    int64_t *generated, GenerationLogits record, const ProgressFn &progress) {
  const int64_t longest = longestPrompt + steps - 1;
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
    // Every sequence is its prompt plus the `step` tokens generated so far,
    // right-padded with token 0 to the longest.
    const int64_t width = longestPrompt + step;
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
      if (absl::Status s =
              takeToken(last, b, step, maxNewTokens, generated, record)
                  .status();
          !s.ok())
        return s;
    }
    if (progress)
      progress(step + 1, steps);
  }
  return absl::OkStatus();
}

absl::Status Session::generateWithCache(
    const int64_t *const *prompts, const int64_t *promptLengths, int64_t batch,
    int64_t longestPrompt, int64_t steps, int64_t maxNewTokens,
    int64_t *generated, GenerationLogits record, const ProgressFn &progress) {
  const KvCacheShape &shape = cache->shape();
  // Every page the generation will need, before any work: the prompt and
  // each generated token but the last get an entry.
  cache->reset(batch);
  std::vector<int64_t> finalLengths(promptLengths, promptLengths + batch);
  for (int64_t &length : finalLengths)
    length += steps - 1;
  if (absl::Status s = cache->reserve(finalLengths); !s.ok())
    return s;

  // Prefill: the prompts right-padded to the longest, one call.
  const int64_t width = longestPrompt;
  std::vector<int64_t> tokens(size_t(batch * width), 0);
  for (int64_t b = 0; b < batch; ++b)
    std::copy(prompts[b], prompts[b] + promptLengths[b],
              tokens.begin() + b * width);
  // Each sequence's logits at its last prompt token: the prefill returns
  // only those rows, or every position's.
  const int64_t logitRows = prefillLastPositions ? 1 : width;
  std::vector<int64_t> lastPositions(promptLengths, promptLengths + batch);
  for (int64_t &position : lastPositions)
    position -= 1;
  absl::StatusOr<AlignedBuffer> logits = AlignedBuffer::allocate(
      size_t(batch * logitRows * vocab) * sizeof(float), "the prefill logits");
  if (!logits.ok())
    return logits.status();
  absl::StatusOr<AlignedBuffer> latents = AlignedBuffer::allocate(
      size_t(shape.layers * batch * width * shape.width) * sizeof(float),
      "the prefill cache entries");
  if (!latents.ok())
    return latents.status();
  float *logitData = reinterpret_cast<float *>(logits->data());
  float *latentData = reinterpret_cast<float *>(latents->data());
  std::vector<CallTensor> bindings = {
      {prefillCall.indexOf(ArgRole::Input, "tokens"),
       tokens.data(),
       {batch, width},
       sizeof(int64_t)},
      {prefillCall.indexOf(ArgRole::Output, "logits"),
       logitData,
       {batch, logitRows, vocab},
       sizeof(float),
       true},
      {prefillCall.indexOf(ArgRole::Output, "latents"),
       latentData,
       {shape.layers, batch, width, shape.width},
       sizeof(float),
       true}};
  if (prefillLastPositions)
    bindings.push_back({prefillCall.indexOf(ArgRole::Input, "last_positions"),
                        lastPositions.data(),
                        {batch},
                        sizeof(int64_t)});
  if (absl::Status s = invoke(prefillCall, bindings); !s.ok())
    return s;
  if (absl::Status s = cache->store(
          latentData, batch, width,
          std::vector<int64_t>(promptLengths, promptLengths + batch));
      !s.ok())
    return s;

  // The token each sequence feeds to the next step.
  std::vector<int64_t> next(batch);
  auto takeStep = [&](int64_t step, auto rowOf) -> absl::Status {
    for (int64_t b = 0; b < batch; ++b) {
      absl::StatusOr<int64_t> token =
          takeToken(rowOf(b), b, step, maxNewTokens, generated, record);
      if (!token.ok())
        return token.status();
      next[b] = *token;
    }
    if (progress)
      progress(step + 1, steps);
    return absl::OkStatus();
  };
  if (absl::Status s = takeStep(
          0,
          [&](int64_t b) {
            return logitData + (b * logitRows +
                                (prefillLastPositions ? 0 : lastPositions[b])) *
                                   vocab;
          });
      !s.ok())
    return s;

  // Decode: one new token per sequence per call, over the cache.
  const std::vector<int64_t> one(batch, 1);
  std::vector<int64_t> past(batch);
  for (int64_t step = 1; step < steps; ++step) {
    for (int64_t b = 0; b < batch; ++b)
      past[b] = cache->length(b);
    int64_t maxPages = 0;
    std::vector<int64_t> table = cache->blockTable(maxPages);
    if (absl::Status s = decodeStep(next.data(), past.data(), table, batch,
                                    maxPages, logitData, latentData);
        !s.ok())
      return s;
    // An artifact's decode stores its entries itself.
    if (decodeCall.entry->storesCacheEntries)
      cache->advance(one);
    else if (absl::Status s = cache->store(latentData, batch, 1, one); !s.ok())
      return s;
    if (absl::Status s =
            takeStep(step, [&](int64_t b) { return logitData + b * vocab; });
        !s.ok())
      return s;
  }
  return absl::OkStatus();
}

} // namespace dsc::runtime

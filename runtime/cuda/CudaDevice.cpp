//===- CudaDevice.cpp - One GPU: context, stream, memory, kernels ---------===//

#include "runtime/cuda/CudaDevice.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include <algorithm>
#include <array>

namespace dsc::runtime::cuda {
namespace {

/// The device the compiled code of this thread runs on (CudaDevice::Scope).
thread_local CudaDevice *active = nullptr;

/// Abandons the compiled code's call when a driver call fails: the call
/// returns the status (Workspace.h), never an abort.
void orAbandon(CUresult result, const char *what) {
  if (result != CUDA_SUCCESS)
    abandonCall(active->driver().check(result, what));
}

CudaDevice &device() {
  if (!active)
    abandonCall(absl::InternalError(
        "compiled GPU code ran outside a CUDA session (a dsc bug)"));
  return *active;
}

//===----------------------------------------------------------------------===//
// MLIR's GPU runtime interface, as the compiled host code calls it.
//===----------------------------------------------------------------------===//

void *mgpuModuleLoadJIT(void *ptx, int optLevel) {
  CudaDevice &d = device();
  // The artifact's cubin of this PTX, when it has one for this GPU.
  if (std::string_view cubin = d.cubinFor(static_cast<const char *>(ptx));
      !cubin.empty()) {
    CUmodule module = nullptr;
    if (d.driver().cuModuleLoadData(&module, cubin.data()) == CUDA_SUCCESS)
      return module;
  }
  // The JIT's error log names the PTX line when the driver rejects it.
  char log[4096] = "";
  int options[] = {CU_JIT_OPTIMIZATION_LEVEL, CU_JIT_ERROR_LOG_BUFFER,
                   CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {reinterpret_cast<void *>(intptr_t(optLevel)), log,
                    reinterpret_cast<void *>(uintptr_t(sizeof(log)))};
  CUmodule module = nullptr;
  CUresult r = d.driver().cuModuleLoadDataEx(&module, ptx, 3, options, values);
  if (r != CUDA_SUCCESS)
    abandonCall(
        d.driver().check(r, absl::StrCat("loading a kernel module (PTX JIT",
                                         *log ? ": " : "", log, ")")));
  return module;
}

void *mgpuModuleLoad(void *image, size_t /*size*/) {
  CUmodule module = nullptr;
  orAbandon(device().driver().cuModuleLoadData(&module, image),
            "loading a kernel module (cubin)");
  return module;
}

void mgpuModuleUnload(void *module) {
  // Unloading happens at session release: a failure there changes nothing.
  device().driver().cuModuleUnload(static_cast<CUmodule>(module));
}

void *mgpuModuleGetFunction(void *module, const char *name) {
  CUfunction function = nullptr;
  orAbandon(device().driver().cuModuleGetFunction(
                &function, static_cast<CUmodule>(module), name),
            "looking up a kernel");
  return function;
}

/// One stream per context: the compiled code's streams are that stream.
void *mgpuStreamCreate() { return device().stream(); }
void mgpuStreamDestroy(void *) {}

void mgpuStreamSynchronize(void *stream) {
  // A recorded stream runs nothing yet: there is nothing to wait for, and
  // the driver would end the recording with an error.
  if (device().capturing())
    return;
  orAbandon(
      device().driver().cuStreamSynchronize(static_cast<CUstream>(stream)),
      "running a kernel");
}

void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t sharedBytes, void *stream,
                      void **params, void **extra, size_t /*paramCount*/) {
  // A kernel outlined from a parallel loop of no iterations (an expert no
  // token was routed to) has nothing to do; the driver rejects empty grids.
  if (gridX <= 0 || gridY <= 0 || gridZ <= 0 || blockX <= 0 || blockY <= 0 ||
      blockZ <= 0)
    return;
  device().countLaunch();
  // The kernel library's GEMM takes 96 KiB.
  if (absl::Status s = device().allowSharedMemory(
          static_cast<CUfunction>(function), sharedBytes);
      !s.ok())
    abandonCall(s);
  CUresult r = device().driver().cuLaunchKernel(
      static_cast<CUfunction>(function), gridX, gridY, gridZ, blockX, blockY,
      blockZ, sharedBytes, static_cast<CUstream>(stream), params, extra);
  if (r != CUDA_SUCCESS)
    abandonCall(device().driver().check(
        r,
        absl::StrCat("launching a kernel on grid (", gridX, ", ", gridY, ", ",
                     gridZ, ") x block (", blockX, ", ", blockY, ", ", blockZ,
                     ") with ", sharedBytes, " bytes of shared memory")));
}

//===----------------------------------------------------------------------===//
// dsc's own GPU runtime functions, as the compiled host code calls them.
//===----------------------------------------------------------------------===//

/// A tensor's element type as the kernel library's TMA descriptors take it:
/// bf16 (128-byte swizzle, what wgmma reads) or e4m3 (unswizzled bytes the
/// kernel converts to bf16 first).
struct TmaElement {
  const char *name;
  int64_t bytes;
  CudaDriver::TmaSwizzle swizzle;
};
constexpr TmaElement kTmaBf16{"bf16", 2, CudaDriver::TmaSwizzle::k128Bytes};
constexpr TmaElement kTmaE4m3{"e4m3", 1, CudaDriver::TmaSwizzle::kNone};

/// The TMA descriptor of a tensor of rank 2 or 3 for the kernel library's
/// wgmma kernels (codegen's tensor map functions): its memref as MLIR
/// passes it (the aligned pointer and offset, then sizes and strides in
/// elements) and the box, outermost first.
void *tensorMapOf(const TmaElement &element, char *aligned, int64_t offset,
                  absl::Span<const int64_t> sizes,
                  absl::Span<const int64_t> strides,
                  absl::Span<const int64_t> box) {
  const int64_t kBytes = element.bytes;
  const size_t rank = sizes.size();
  bool valid = strides[rank - 1] == 1;
  std::array<uint64_t, CudaDevice::kTensorMapRank> dims{};
  std::array<uint64_t, CudaDevice::kTensorMapRank - 1> strideBytes{};
  std::array<unsigned, CudaDevice::kTensorMapRank> boxes{};
  for (size_t d = 0; d < rank; ++d) {
    valid &= sizes[d] > 0 && box[d] > 0 && box[d] <= 256;
    dims[d] = uint64_t(sizes[d]);
    boxes[d] = unsigned(box[d]);
    if (d + 1 < rank) {
      // Row-major: each stride spans the dimensions inside it.
      valid &= strides[d] >= strides[d + 1] * sizes[d + 1];
      strideBytes[d] = uint64_t(strides[d] * kBytes);
    }
  }
  void *result = nullptr;
  absl::Status failure;
  if (!valid) {
    failure = absl::InternalError(absl::StrCat(
        "a TMA descriptor asked for a [", absl::StrJoin(sizes, ", "), "] ",
        element.name, " tensor with strides [", absl::StrJoin(strides, ", "),
        "] in boxes of [", absl::StrJoin(box, ", "), "] (a dsc bug)"));
  } else {
    absl::StatusOr<void *> map = device().tensorMap(
        reinterpret_cast<uint64_t>(aligned + offset * kBytes),
        absl::MakeConstSpan(dims.data(), rank),
        absl::MakeConstSpan(strideBytes.data(), rank - 1), kBytes,
        absl::MakeConstSpan(boxes.data(), rank), element.swizzle);
    if (map.ok())
      result = *map;
    else
      failure = map.status();
  }
  // abandonCall does not return: nothing but the status may be live.
  if (!failure.ok())
    abandonCall(std::move(failure));
  return result;
}

/// codegen's `dsc_gpu_tensor_map_bf16` (Element kTmaBf16) and
/// `dsc_gpu_tensor_map_e4m3` (kTmaE4m3: e4m3 weights, unswizzled): a
/// matrix.
template <const TmaElement &Element>
void *dscGpuTensorMap2d(void * /*allocated*/, char *aligned, int64_t offset,
                        int64_t rows, int64_t cols, int64_t rowStride,
                        int64_t colStride, int64_t boxRows, int64_t boxCols) {
  const int64_t sizes[] = {rows, cols}, strides[] = {rowStride, colStride},
                box[] = {boxRows, boxCols};
  return tensorMapOf(Element, aligned, offset, sizes, strides, box);
}

/// codegen's `dsc_gpu_tensor_map_3d_bf16`: a tensor of rank 3.
void *dscGpuTensorMap3dBf16(void * /*allocated*/, char *aligned, int64_t offset,
                            int64_t size0, int64_t size1, int64_t size2,
                            int64_t stride0, int64_t stride1, int64_t stride2,
                            int64_t box0, int64_t box1, int64_t box2) {
  const int64_t sizes[] = {size0, size1, size2},
                strides[] = {stride0, stride1, stride2},
                box[] = {box0, box1, box2};
  return tensorMapOf(kTmaBf16, aligned, offset, sizes, strides, box);
}

/// Set where the compiled code calls a GPU runtime function this runtime
/// lacks (the compiled code checks the slot before each call).
void mgpuUnbound(const char *name) {
  abandonCall(absl::FailedPreconditionError(absl::StrCat(
      "the artifact calls ", name,
      ", which this dsc runtime does not provide (a newer compiler made "
      "it; update the runtime)")));
}

struct Import {
  const char *slot;
  void *function;
};

const Import kImports[] = {
    {"dsc_import_mgpuModuleLoadJIT",
     reinterpret_cast<void *>(&mgpuModuleLoadJIT)},
    {"dsc_import_mgpuModuleLoad", reinterpret_cast<void *>(&mgpuModuleLoad)},
    {"dsc_import_mgpuModuleUnload",
     reinterpret_cast<void *>(&mgpuModuleUnload)},
    {"dsc_import_mgpuModuleGetFunction",
     reinterpret_cast<void *>(&mgpuModuleGetFunction)},
    {"dsc_import_mgpuStreamCreate",
     reinterpret_cast<void *>(&mgpuStreamCreate)},
    {"dsc_import_mgpuStreamDestroy",
     reinterpret_cast<void *>(&mgpuStreamDestroy)},
    {"dsc_import_mgpuStreamSynchronize",
     reinterpret_cast<void *>(&mgpuStreamSynchronize)},
    {"dsc_import_mgpuLaunchKernel",
     reinterpret_cast<void *>(&mgpuLaunchKernel)},
    {"dsc_import_dsc_gpu_tensor_map_bf16",
     reinterpret_cast<void *>(&dscGpuTensorMap2d<kTmaBf16>)},
    {"dsc_import_dsc_gpu_tensor_map_3d_bf16",
     reinterpret_cast<void *>(&dscGpuTensorMap3dBf16)},
    {"dsc_import_dsc_gpu_tensor_map_e4m3",
     reinterpret_cast<void *>(&dscGpuTensorMap2d<kTmaE4m3>)},
    {"dsc_import_unbound", reinterpret_cast<void *>(&mgpuUnbound)},
};

/// Blocks are rounded up to a power of two (at least 512 bytes) so that a
/// freed block serves the next call's request of about the same size.
uint64_t roundedSize(uint64_t bytes) {
  constexpr uint64_t kMinimum = 512;
  if (bytes > (uint64_t(1) << 62))
    return bytes;
  uint64_t size = kMinimum;
  while (size < bytes)
    size <<= 1;
  return size;
}

} // namespace

CudaDevice::Scope::Scope(CudaDevice &device) : outer(active) {
  active = &device;
  // A failure here shows at the first driver call of the scope.
  device.makeCurrent().IgnoreError();
}
CudaDevice::Scope::~Scope() { active = outer; }

absl::StatusOr<std::unique_ptr<CudaDevice>> CudaDevice::open(int ordinal) {
  absl::StatusOr<const CudaDriver *> api = CudaDriver::get();
  if (!api.ok())
    return api.status();
  std::unique_ptr<CudaDevice> d(new CudaDevice());
  d->api = *api;
  const CudaDriver &cu = **api;
  if (absl::Status s = cu.check(cu.cuDeviceGet(&d->device, ordinal),
                                absl::StrCat("opening GPU ", ordinal));
      !s.ok())
    return s;
  char name[256] = "";
  cu.cuDeviceGetName(name, sizeof(name), d->device);
  d->deviceName = name;
  int major = 0, minor = 0;
  cu.cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                          d->device);
  cu.cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                          d->device);
  d->capability = major * 10 + minor;
  if (absl::Status s =
          cu.check(cu.cuDevicePrimaryCtxRetain(&d->context, d->device),
                   absl::StrCat("creating a context on ", d->deviceName));
      !s.ok())
    return s;
  if (absl::Status s = d->makeCurrent(); !s.ok())
    return s;
  if (absl::Status s =
          cu.check(cu.cuStreamCreate(&d->launchStream, CU_STREAM_NON_BLOCKING),
                   "creating a stream");
      !s.ok())
    return s;
  if (absl::Status s =
          cu.check(cu.cuStreamCreate(&d->sideStream, CU_STREAM_NON_BLOCKING),
                   "creating a stream");
      !s.ok())
    return s;
  return d;
}

CudaGraph::~CudaGraph() {
  if (!device)
    return;
  if (exec)
    device->api->cuGraphExecDestroy(exec);
  // The graph's blocks serve other calls again, and its descriptors'
  // slots once nothing else reads them (recycleTensorMaps waits for the
  // stream, which may still be replaying the graph).
  for (void *block : blocks)
    device->release(block);
  for (size_t slot : tensorMapSlots)
    --device->tensorMapUsers[slot];
}

CudaDevice::~CudaDevice() {
  if (!api)
    return;
  if (context) {
    makeCurrent().IgnoreError();
    if (capture)
      endCapture(/*keep=*/false).IgnoreError();
    if (launchStream) {
      api->cuStreamSynchronize(launchStream);
      api->cuStreamDestroy(launchStream);
    }
    releaseCache();
    if (sideStream)
      api->cuStreamDestroy(sideStream);
    for (auto &[block, size] : sizes)
      api->cuMemFree(reinterpret_cast<CUdeviceptr>(block));
    for (auto &[block, size] : deviceBlocks)
      api->cuMemFree(reinterpret_cast<CUdeviceptr>(block));
    api->cuDevicePrimaryCtxRelease(device);
  }
}

std::vector<std::string> CudaDevice::compatibleTargets() const {
  std::vector<std::string> targets;
  // sm_90a code (wgmma, TMA) runs on compute capability 9.0 only.
  if (capability == 90)
    targets.push_back("sm_90a");
  if (capability >= 80)
    targets.push_back("sm_80");
  return targets;
}

bool CudaDevice::runsCubinsOf(std::string_view chip) const {
  // sm_90a code runs on 9.0 only; sm_80 code on 8.x (binary compatible
  // within a major version).
  if (chip == "sm_90a")
    return capability == 90;
  if (chip == "sm_80")
    return capability >= 80 && capability < 90;
  return false;
}

absl::Status CudaDevice::makeCurrent() {
  return api->check(api->cuCtxSetCurrent(context), "binding the CUDA context");
}

absl::Status CudaDevice::synchronize() {
  return api->check(api->cuStreamSynchronize(launchStream),
                    "waiting for the GPU");
}

absl::Status CudaDevice::beginCapture() {
  if (capture)
    return absl::InternalError("a CUDA graph is already being recorded");
  // A recording cannot wait for the stream to recycle TMA descriptors:
  // leave it room.
  if (tensorMapTable && freeTensorMaps.size() < kTensorMaps / 4)
    recycleTensorMaps();
  if (absl::Status s =
          api->check(api->cuStreamBeginCapture(launchStream,
                                               CU_STREAM_CAPTURE_MODE_RELAXED),
                     "starting to record a CUDA graph");
      !s.ok())
    return s;
  capture = std::make_unique<Capture>();
  capture->launchesBefore = launchTotal;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<CudaGraph>> CudaDevice::endCapture(bool keep) {
  if (!capture)
    return absl::InternalError("no CUDA graph is being recorded");
  std::unique_ptr<Capture> recorded = std::move(capture);
  CUgraph graph = nullptr;
  CUresult ended = api->cuStreamEndCapture(launchStream, &graph);
  std::unique_ptr<CudaGraph> result(new CudaGraph());
  result->device = this;
  result->blocks = std::move(recorded->owned);
  // A recording dropped or failed releases its descriptors' slots with
  // `result`, as it does its blocks.
  result->tensorMapSlots = std::move(recorded->tensorMapSlots);
  result->launchCount = launchTotal - recorded->launchesBefore;
  absl::Status status =
      api->check(ended, "recording a CUDA graph of a decode step");
  if (status.ok() && keep)
    status = api->check(api->cuGraphInstantiateWithFlags(&result->exec, graph,
                                                         /*flags=*/0),
                        "instantiating a CUDA graph");
  if (graph)
    api->cuGraphDestroy(graph);
  if (!keep)
    return std::unique_ptr<CudaGraph>(); // The blocks go back to the cache.
  if (!status.ok())
    return status;
  return result;
}

void CudaDevice::recycleTensorMaps() {
  // Once the stream is idle, no launch reads a descriptor no graph holds,
  // save those handed out since the last launch (for the launch being
  // built).
  if (!synchronize().ok())
    return; // The next launch reports the stream's failure.
  for (auto it = tensorMaps.begin(); it != tensorMaps.end();) {
    if (tensorMapUsers[it->second.index] == 0 &&
        it->second.handedOut < launchTotal) {
      freeTensorMaps.push_back(it->second.index);
      tensorMaps.erase(it++);
    } else {
      ++it;
    }
  }
}

absl::StatusOr<void *>
CudaDevice::tensorMap(uint64_t address, absl::Span<const uint64_t> dims,
                      absl::Span<const uint64_t> strideBytes,
                      unsigned elementBytes, absl::Span<const unsigned> box,
                      CudaDriver::TmaSwizzle swizzle) {
  constexpr size_t kMapBytes = sizeof(CUtensorMap);
  const size_t rank = dims.size();
  if (rank < 2 || rank > kTensorMapRank || strideBytes.size() + 1 != rank ||
      box.size() != rank)
    return absl::InvalidArgumentError(absl::StrCat(
        "a TMA descriptor of rank ", rank, " (", dims.size(), " sizes, ",
        strideBytes.size(), " strides, ", box.size(), " box sizes)"));
  TensorMapKey key{address, {}, {}, {}, unsigned(rank), elementBytes, swizzle};
  std::copy(dims.begin(), dims.end(), key.dims.begin());
  std::copy(strideBytes.begin(), strideBytes.end(), key.strideBytes.begin());
  std::copy(box.begin(), box.end(), key.box.begin());
  if (auto it = tensorMaps.find(key); it != tensorMaps.end()) {
    // A recording replays the descriptor later: it must stay.
    recordTensorMap(it->second.index);
    it->second.handedOut = launchTotal;
    return static_cast<char *>(tensorMapTable) + it->second.index * kMapBytes;
  }
  if (!tensorMapTable) {
    absl::StatusOr<void *> table =
        allocateDeviceMemory(kTensorMaps * kMapBytes, "the TMA descriptors");
    if (!table.ok())
      return table.status();
    tensorMapTable = *table;
    for (size_t i = kTensorMaps; i > 0; --i)
      freeTensorMaps.push_back(i - 1);
    tensorMapUsers.assign(kTensorMaps, 0);
  }
  if (freeTensorMaps.empty() && !capturing())
    recycleTensorMaps();
  if (freeTensorMaps.empty())
    return absl::ResourceExhaustedError(
        absl::StrCat("more than ", kTensorMaps,
                     " TMA descriptors in use by CUDA graphs or a recording"));
  CUtensorMap map;
  if (CUresult r = api->encodeTiledTensorMap(&map, address, dims, strideBytes,
                                             elementBytes, box, swizzle);
      r != CUDA_SUCCESS) {
    absl::Status s = api->check(
        r, absl::StrCat("describing a [", absl::StrJoin(dims, ", "),
                        "] tensor of ", elementBytes, "-byte elements at 0x",
                        absl::Hex(address), " (strides [",
                        absl::StrJoin(strideBytes, ", "),
                        "] bytes) for TMA in boxes of [",
                        absl::StrJoin(box, ", "), "]"));
    return absl::InvalidArgumentError(s.message());
  }
  // Written now, on a stream of its own, and waited for: a recording does
  // not record the write (a graph that failed or was dropped leaves no
  // descriptor unwritten), and a replay does not repeat it. The slot is
  // new or recycled after the launch stream went idle, so no kernel reads
  // it meanwhile.
  const size_t index = freeTensorMaps.back();
  void *slot = static_cast<char *>(tensorMapTable) + index * kMapBytes;
  if (absl::Status s =
          api->check(api->cuMemcpyHtoDAsync(reinterpret_cast<CUdeviceptr>(slot),
                                            &map, kMapBytes, sideStream),
                     "copying a TMA descriptor to the GPU");
      !s.ok())
    return s;
  if (absl::Status s = api->check(api->cuStreamSynchronize(sideStream),
                                  "copying a TMA descriptor to the GPU");
      !s.ok())
    return s;
  freeTensorMaps.pop_back();
  tensorMaps.emplace(key, TensorMapSlot{index, launchTotal});
  recordTensorMap(index);
  return slot;
}

void CudaDevice::recordTensorMap(size_t slot) {
  if (!capture)
    return;
  std::vector<size_t> &slots = capture->tensorMapSlots;
  if (std::find(slots.begin(), slots.end(), slot) != slots.end())
    return;
  slots.push_back(slot);
  ++tensorMapUsers[slot];
}

absl::Status CudaDevice::allowSharedMemory(CUfunction function, int32_t bytes) {
  constexpr int32_t kDefaultLimit = 48 * 1024;
  if (bytes <= kDefaultLimit)
    return absl::OkStatus();
  int32_t &allowed = sharedAllowed[function];
  if (bytes <= allowed)
    return absl::OkStatus();
  if (absl::Status s = api->check(
          api->cuFuncSetAttribute(
              function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes),
          "allowing a kernel its dynamic shared memory");
      !s.ok())
    return s;
  allowed = bytes;
  return absl::OkStatus();
}

absl::Status CudaDevice::launch(const CudaGraph &graph) {
  launchTotal += graph.launchCount;
  return api->check(api->cuGraphLaunch(graph.exec, launchStream),
                    "replaying a CUDA graph");
}

void CudaDevice::releaseCache() {
  for (auto &[size, block] : cached) {
    api->cuMemFree(reinterpret_cast<CUdeviceptr>(block));
    sizes.erase(block);
    reserved -= size;
  }
  cached.clear();
}

void *CudaDevice::allocate(uint64_t bytes, uint64_t alignment) {
  // Managed blocks are aligned to at least 256 bytes; nothing asks more.
  if (alignment > 256)
    return nullptr;
  uint64_t size = roundedSize(bytes);
  // A recording reuses what it freed itself: its graph replays the same
  // order of work on one stream.
  if (capture) {
    if (auto it = capture->freed.find(size); it != capture->freed.end()) {
      void *block = it->second;
      capture->freed.erase(it);
      return block;
    }
  }
  void *block = takeBlock(size);
  if (block && capture) {
    capture->owned.push_back(block);
    capture->ownedSize.emplace(block, size);
  }
  return block;
}

void *CudaDevice::takeBlock(uint64_t size) {
  if (auto it = cached.find(size); it != cached.end()) {
    void *block = it->second;
    cached.erase(it);
    return block;
  }
  CUdeviceptr pointer = 0;
  CUresult r = api->cuMemAllocManaged(&pointer, size, CU_MEM_ATTACH_GLOBAL);
  // The cache may hold the memory this request needs; not while recording
  // (freeing may synchronize, which a capture forbids: the caller falls
  // back to running without a graph).
  if (r == CUDA_ERROR_OUT_OF_MEMORY && !cached.empty() && !capture) {
    releaseCache();
    r = api->cuMemAllocManaged(&pointer, size, CU_MEM_ATTACH_GLOBAL);
  }
  if (r != CUDA_SUCCESS)
    return nullptr;
  void *block = reinterpret_cast<void *>(pointer);
  sizes.emplace(block, size);
  reserved += size;
  return block;
}

void CudaDevice::release(void *block) {
  if (!block)
    return;
  if (capture) {
    if (auto owned = capture->ownedSize.find(block);
        owned != capture->ownedSize.end()) {
      capture->freed.emplace(owned->second, block);
      return;
    }
  }
  auto it = sizes.find(block);
  if (it == sizes.end())
    return; // Not ours: nothing to give back.
  cached.emplace(it->second, block);
}

absl::StatusOr<void *> CudaDevice::allocateFor(uint64_t bytes,
                                               const std::string &what) {
  if (void *block = allocate(bytes, 256))
    return block;
  return absl::ResourceExhaustedError(
      absl::StrCat("out of GPU memory: ", what, " needs ", bytes, " bytes on ",
                   deviceName, " (", reserved, " bytes held by dsc)"));
}

absl::StatusOr<void *>
CudaDevice::allocateDeviceMemory(uint64_t bytes, const std::string &what) {
  CUdeviceptr pointer = 0;
  CUresult r = api->cuMemAlloc(&pointer, bytes ? bytes : 1);
  // Not while recording: freeing may synchronize, which a capture forbids.
  if (r == CUDA_ERROR_OUT_OF_MEMORY && !cached.empty() && !capture) {
    releaseCache();
    r = api->cuMemAlloc(&pointer, bytes ? bytes : 1);
  }
  if (r != CUDA_SUCCESS)
    return absl::ResourceExhaustedError(absl::StrCat(
        "out of GPU memory: ", what, " needs ", bytes, " bytes on ", deviceName,
        " (", reserved, " bytes held by dsc)"));
  void *block = reinterpret_cast<void *>(pointer);
  deviceBlocks.emplace(block, bytes);
  reserved += bytes;
  return block;
}

void CudaDevice::freeDeviceMemory(void *block) {
  auto it = deviceBlocks.find(block);
  if (it == deviceBlocks.end())
    return;
  api->cuMemFree(reinterpret_cast<CUdeviceptr>(block));
  reserved -= it->second;
  deviceBlocks.erase(it);
}

absl::Status CudaDevice::upload(void *device, const void *host, size_t bytes) {
  // From pageable memory the driver has staged the bytes when this
  // returns: `host` may go at once.
  return api->check(
      api->cuMemcpyHtoDAsync(reinterpret_cast<CUdeviceptr>(device), host, bytes,
                             launchStream),
      absl::StrCat("copying ", bytes, " bytes to the GPU"));
}

absl::Status CudaDevice::download(void *host, const void *device,
                                  size_t bytes) {
  if (absl::Status s = api->check(
          api->cuMemcpyDtoHAsync(host, reinterpret_cast<CUdeviceptr>(device),
                                 bytes, launchStream),
          absl::StrCat("copying ", bytes, " bytes from the GPU"));
      !s.ok())
    return s;
  return synchronize();
}

absl::Status CudaDevice::zero(void *device, size_t bytes) {
  return api->check(api->cuMemsetD8Async(reinterpret_cast<CUdeviceptr>(device),
                                         0, bytes, launchStream),
                    absl::StrCat("zeroing ", bytes, " bytes on the GPU"));
}

void CudaDevice::bindImports(const HostModule &module) {
  for (const Import &import : kImports)
    if (absl::StatusOr<void *> slot = module.symbol(import.slot); slot.ok())
      *static_cast<void **>(*slot) = import.function;
}

} // namespace dsc::runtime::cuda

//===- CudaDevice.h - One GPU: context, stream, memory, kernels -*- C++ -*-===//
//
// What the runtime holds per GPU: the device's primary context, one stream
// that every launch goes to, a caching allocator, and the implementation of
// MLIR's GPU runtime interface (mgpuModuleLoadJIT, mgpuLaunchKernel, ...)
// that the compiled host code calls through its `dsc_import_*` slots.
//
// The allocator serves CUDA managed memory: the runtime packs weights and
// stages calls with plain host copies, and the compiled host code keeps its
// own bookkeeping in blocks of the same allocator. Buffers only kernels and
// the driver's copies touch (the KV cache, a graph's staging buffers) are
// device memory (allocateDeviceMemory). Launches synchronize the stream before
// the host code goes on (MLIR's synchronous gpu.launch_func), except while the
// stream is captured into a CUDA graph: there the host code launches, records
// and waits for nothing (dsc-check-graph-capture proved it reads no device
// data), and a replay runs the recorded kernels alone.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_RUNTIME_CUDA_CUDADEVICE_H
#define DSC_RUNTIME_CUDA_CUDADEVICE_H

#include "runtime/HostModule.h"
#include "runtime/Workspace.h"
#include "runtime/cuda/CudaDriver.h"

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

#include <array>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dsc::runtime::cuda {

class CudaDevice;

/// Work recorded from the device's stream (CudaDevice::beginCapture), ready
/// to replay: the instantiated graph and the memory blocks its kernels use,
/// which no one else gets while the graph lives.
class CudaGraph {
public:
  ~CudaGraph();
  CudaGraph(const CudaGraph &) = delete;
  CudaGraph &operator=(const CudaGraph &) = delete;

  /// Kernel launches the recording holds.
  int64_t launches() const { return launchCount; }

private:
  friend class CudaDevice;
  CudaGraph() = default;
  CudaDevice *device = nullptr;
  CUgraphExec exec = nullptr;
  std::vector<void *> blocks;
  /// The slots of the TMA descriptors its launches read (CudaDevice's
  /// table): each stays while a graph holds it.
  std::vector<size_t> tensorMapSlots;
  int64_t launchCount = 0;
};

class CudaDevice : public BlockAllocator {
public:
  /// Opens GPU `ordinal`: UNAVAILABLE (one line) without driver or GPU.
  static absl::StatusOr<std::unique_ptr<CudaDevice>> open(int ordinal = 0);
  ~CudaDevice() override;
  CudaDevice(const CudaDevice &) = delete;
  CudaDevice &operator=(const CudaDevice &) = delete;

  /// "NVIDIA H200".
  const std::string &name() const { return deviceName; }
  /// 90 for compute capability 9.0.
  int computeCapability() const { return capability; }
  /// The artifact targets whose code runs here, best first: "sm_90a" then
  /// "sm_80" on a 9.0 device (PTX for sm_80 is JIT-compiled for it).
  std::vector<std::string> compatibleTargets() const;

  /// A block of device-reachable (managed) memory from the cache, or a new
  /// one; null when the device is out of memory even after the cache was
  /// emptied. BlockAllocator's interface, used by the compiled code's
  /// allocation hooks.
  void *allocate(uint64_t bytes, uint64_t alignment) override;
  /// Returns `block` (from allocate) to the cache.
  void release(void *block) override;
  /// allocate() with a status naming `what` on failure.
  absl::StatusOr<void *> allocateFor(uint64_t bytes, const std::string &what);

  /// Device memory (not managed: the host cannot touch it) for buffers only
  /// kernels and the copies below use: the KV cache, a CUDA graph's
  /// staging buffers. Kept until freeDeviceMemory or the device's end.
  absl::StatusOr<void *> allocateDeviceMemory(uint64_t bytes,
                                              const std::string &what);
  void freeDeviceMemory(void *block);
  /// Copies in stream order on the device's stream: host to device, device
  /// to host (returns when the host buffer holds the data), and zeroing.
  absl::Status upload(void *device, const void *host, size_t bytes);
  absl::Status download(void *host, const void *device, size_t bytes);
  absl::Status zero(void *device, size_t bytes);

  /// Waits for the stream.
  absl::Status synchronize();

  /// A tiled TMA descriptor (what cp.async.bulk.tensor reads) of the
  /// row-major tensor at `address` of rank 2 or 3: `dims` elements of
  /// `elementBytes` (2: bf16, 1: e4m3) each way, outermost first, the outer
  /// ones `strideBytes` apart, loaded in boxes of `box` (outermost first)
  /// laid out as `swizzle` says, zeros past its edges. The descriptor lies in
  /// a table in device memory, one per distinct request, written when
  /// first asked for (on a stream of its own, waited for: never part of a
  /// recording). One stays while a graph, or the recording, reads it; the
  /// others (also those of a recording that failed or was dropped, and of
  /// a graph destroyed) are reused once the launch stream has passed them,
  /// when the table is full or a recording starts with less than a quarter
  /// free. INVALID_ARGUMENT for a tensor the driver cannot describe,
  /// RESOURCE_EXHAUSTED past kTensorMaps.
  absl::StatusOr<void *>
  tensorMap(uint64_t address, absl::Span<const uint64_t> dims,
            absl::Span<const uint64_t> strideBytes, unsigned elementBytes,
            absl::Span<const unsigned> box, CudaDriver::TmaSwizzle swizzle);
  /// The largest rank tensorMap describes.
  static constexpr size_t kTensorMapRank = 3;
  /// The descriptors a device holds at most.
  static constexpr size_t kTensorMaps = 8192;

  /// Starts recording the stream's work into a graph instead of running it
  /// (relaxed capture: the compiled code allocates while recorded). Until
  /// endCapture, launches are recorded, stream synchronizations are
  /// skipped, and every block allocated belongs to the recording; a block
  /// freed during it is reused only by the recording itself.
  absl::Status beginCapture();
  /// Ends the recording started by beginCapture and instantiates it. With
  /// `keep` false (the recorded call failed), discards it and returns the
  /// blocks to the cache; the result is then null.
  absl::StatusOr<std::unique_ptr<CudaGraph>> endCapture(bool keep);
  /// Whether a recording is in progress.
  bool capturing() const { return capture != nullptr; }
  /// Replays `graph` on the stream (asynchronously: synchronize() waits).
  absl::Status launch(const CudaGraph &graph);
  /// Counts kernel launches, recorded or not (mgpuLaunchKernel).
  void countLaunch() { ++launchTotal; }
  /// Lets `function` take `bytes` of dynamic shared memory: past the
  /// default 48 KiB a kernel must opt in. The driver keeps the setting per
  /// function, so each is raised once (to the most it was asked).
  absl::Status allowSharedMemory(CUfunction function, int32_t bytes);
  /// Binds the device's context to the calling thread.
  absl::Status makeCurrent();

  /// Fills the host module's `dsc_import_mgpu*` slots with this runtime's
  /// GPU runtime interface, bound to this device.
  void bindImports(const HostModule &module);

  /// Machine code for the kernel modules the host code loads, by their PTX
  /// text: a module whose PTX has an entry here loads from the cubin (no
  /// JIT at load time); the others, or a cubin the driver refuses, are
  /// JIT-compiled from their PTX. The views must outlive the modules'
  /// loading (they point into the artifact's mapping).
  void setCubins(std::unordered_map<std::string_view, std::string_view> map) {
    cubins = std::move(map);
  }
  /// The cubin for `ptx`, or an empty view.
  std::string_view cubinFor(std::string_view ptx) const {
    auto it = cubins.find(ptx);
    return it == cubins.end() ? std::string_view() : it->second;
  }
  /// Whether machine code for `chip` ("sm_90a", "sm_80") runs here.
  bool runsCubinsOf(std::string_view chip) const;

  /// Makes `device` the one the GPU runtime interface of the calling thread
  /// works on, for the scope's lifetime: compiled code runs inside one.
  class Scope {
  public:
    explicit Scope(CudaDevice &device);
    ~Scope();

  private:
    CudaDevice *outer;
  };

  const CudaDriver &driver() const { return *api; }
  CUstream stream() const { return launchStream; }

  /// Bytes held from the driver, in use and cached.
  uint64_t bytesReserved() const { return reserved; }
  /// Gives the cached free blocks back to the driver.
  void releaseCache();

private:
  CudaDevice() = default;

  const CudaDriver *api = nullptr;
  CUdevice device = 0;
  CUcontext context = nullptr;
  CUstream launchStream = nullptr;
  std::string deviceName;
  int capability = 0;

  /// Cached free blocks by their (rounded) size, and every live block's
  /// size.
  std::multimap<uint64_t, void *> cached;
  std::unordered_map<void *, uint64_t> sizes;
  uint64_t reserved = 0;
  std::unordered_map<std::string_view, std::string_view> cubins;
  /// A cached block of exactly `size` bytes, or a new one; null when out of
  /// memory.
  void *takeBlock(uint64_t size);

  /// The recording in progress: the blocks it allocated, and those of them
  /// freed again, by size.
  struct Capture {
    std::vector<void *> owned;
    std::unordered_map<void *, uint64_t> ownedSize;
    std::multimap<uint64_t, void *> freed;
    /// The descriptor slots the recording's launches read.
    std::vector<size_t> tensorMapSlots;
    int64_t launchesBefore = 0;
  };
  std::unique_ptr<Capture> capture;
  int64_t launchTotal = 0;
  /// The dynamic shared memory each kernel was allowed past the default.
  std::unordered_map<CUfunction, int32_t> sharedAllowed;
  /// Blocks of allocateDeviceMemory and their sizes.
  std::unordered_map<void *, uint64_t> deviceBlocks;

  /// What a TMA descriptor describes (tensorMap's arguments; the entries
  /// past the rank are zero).
  struct TensorMapKey {
    uint64_t address;
    std::array<uint64_t, kTensorMapRank> dims;
    std::array<uint64_t, kTensorMapRank - 1> strideBytes;
    std::array<unsigned, kTensorMapRank> box;
    unsigned rank, elementBytes;
    CudaDriver::TmaSwizzle swizzle;
    bool operator==(const TensorMapKey &o) const {
      return address == o.address && dims == o.dims &&
             strideBytes == o.strideBytes && box == o.box && rank == o.rank &&
             elementBytes == o.elementBytes && swizzle == o.swizzle;
    }
    template <typename H> friend H AbslHashValue(H h, const TensorMapKey &k) {
      return H::combine(std::move(h), k.address, k.dims, k.strideBytes, k.box,
                        k.rank, k.elementBytes, k.swizzle);
    }
  };
  /// A descriptor's slot in the table below, and launchTotal when it was
  /// last handed out (a slot handed out since the last launch is the
  /// launch's being built: not reused).
  struct TensorMapSlot {
    size_t index;
    int64_t handedOut;
  };
  absl::flat_hash_map<TensorMapKey, TensorMapSlot> tensorMaps;
  /// kTensorMaps descriptors in device memory, allocated at the first
  /// request, and the slots free in it.
  void *tensorMapTable = nullptr;
  std::vector<size_t> freeTensorMaps;
  /// Per slot, the graphs (and the recording) that read it: a slot is
  /// reused only when none does.
  std::vector<int32_t> tensorMapUsers;
  /// Counts the slot as read by the recording (once per recording).
  void recordTensorMap(size_t slot);
  /// Where descriptors are copied to the table.
  CUstream sideStream = nullptr;
  /// Waits for the stream and frees the slots of descriptors no graph or
  /// recording reads and no launch being built holds.
  void recycleTensorMaps();
  friend class CudaGraph;
};

} // namespace dsc::runtime::cuda

#endif // DSC_RUNTIME_CUDA_CUDADEVICE_H

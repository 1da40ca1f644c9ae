//===- CudaDriver.h - The CUDA driver API, loaded at run time ---*- C++ -*-===//
//
// The runtime never links libcuda: a machine without a driver must still
// load it (and run models on the CPU). The driver is dlopen'ed on first use
// and every entry point is looked up once through cuGetProcAddress into one
// table. The types below are the driver API's own, declared here with the
// same ABI so that building dsc needs no CUDA Toolkit; a unit test checks
// them against cuda.h where the toolkit is installed.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_RUNTIME_CUDA_CUDADRIVER_H
#define DSC_RUNTIME_CUDA_CUDADRIVER_H

#include "absl/status/statusor.h"
#include "absl/types/span.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

namespace dsc::runtime::cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;
using CUgraph = struct CUgraph_st *;
using CUgraphExec = struct CUgraphExec_st *;

inline constexpr CUresult CUDA_SUCCESS = 0;
inline constexpr CUresult CUDA_ERROR_INVALID_VALUE = 1;
inline constexpr CUresult CUDA_ERROR_OUT_OF_MEMORY = 2;
inline constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;
inline constexpr int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
inline constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
inline constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
inline constexpr int CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES = 1;
inline constexpr int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
inline constexpr int CU_JIT_ERROR_LOG_BUFFER = 5;
inline constexpr int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
inline constexpr int CU_JIT_OPTIMIZATION_LEVEL = 7;
inline constexpr unsigned CU_MEM_ATTACH_GLOBAL = 1;
inline constexpr unsigned CU_STREAM_NON_BLOCKING = 1;
inline constexpr int CU_STREAM_CAPTURE_MODE_RELAXED = 2;

/// A TMA descriptor, filled by cuTensorMapEncodeTiled: opaque to the host,
/// read by cp.async.bulk.tensor from device memory.
struct alignas(128) CUtensorMap {
  uint64_t opaque[16];
};
inline constexpr int CU_TENSOR_MAP_DATA_TYPE_UINT8 = 0;
inline constexpr int CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 = 9;
inline constexpr int CU_TENSOR_MAP_INTERLEAVE_NONE = 0;
inline constexpr int CU_TENSOR_MAP_SWIZZLE_NONE = 0;
inline constexpr int CU_TENSOR_MAP_SWIZZLE_128B = 3;
inline constexpr int CU_TENSOR_MAP_L2_PROMOTION_L2_128B = 2;
inline constexpr int CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE = 0;

/// The driver entry points dsc uses, by their API names. X(name, signature).
#define DSC_CUDA_DRIVER_FUNCTIONS(X)                                           \
  X(cuInit, CUresult(unsigned))                                                \
  X(cuDriverGetVersion, CUresult(int *))                                       \
  X(cuGetErrorName, CUresult(CUresult, const char **))                         \
  X(cuGetErrorString, CUresult(CUresult, const char **))                       \
  X(cuDeviceGetCount, CUresult(int *))                                         \
  X(cuDeviceGet, CUresult(CUdevice *, int))                                    \
  X(cuDeviceGetName, CUresult(char *, int, CUdevice))                          \
  X(cuDeviceGetAttribute, CUresult(int *, int, CUdevice))                      \
  X(cuDeviceTotalMem, CUresult(size_t *, CUdevice))                            \
  X(cuDevicePrimaryCtxRetain, CUresult(CUcontext *, CUdevice))                 \
  X(cuDevicePrimaryCtxRelease, CUresult(CUdevice))                             \
  X(cuCtxSetCurrent, CUresult(CUcontext))                                      \
  X(cuStreamCreate, CUresult(CUstream *, unsigned))                            \
  X(cuStreamDestroy, CUresult(CUstream))                                       \
  X(cuStreamSynchronize, CUresult(CUstream))                                   \
  X(cuMemAlloc, CUresult(CUdeviceptr *, size_t))                               \
  X(cuMemAllocManaged, CUresult(CUdeviceptr *, size_t, unsigned))              \
  X(cuMemFree, CUresult(CUdeviceptr))                                          \
  X(cuMemcpyHtoD, CUresult(CUdeviceptr, const void *, size_t))                 \
  X(cuMemcpyDtoH, CUresult(void *, CUdeviceptr, size_t))                       \
  X(cuMemcpyDtoD, CUresult(CUdeviceptr, CUdeviceptr, size_t))                  \
  X(cuMemsetD8, CUresult(CUdeviceptr, unsigned char, size_t))                  \
  X(cuMemcpyHtoDAsync, CUresult(CUdeviceptr, const void *, size_t, CUstream))  \
  X(cuMemcpyDtoHAsync, CUresult(void *, CUdeviceptr, size_t, CUstream))        \
  X(cuMemsetD8Async, CUresult(CUdeviceptr, unsigned char, size_t, CUstream))   \
  X(cuModuleLoadData, CUresult(CUmodule *, const void *))                      \
  X(cuModuleLoadDataEx,                                                        \
    CUresult(CUmodule *, const void *, unsigned, int *, void **))              \
  X(cuModuleUnload, CUresult(CUmodule))                                        \
  X(cuModuleGetFunction, CUresult(CUfunction *, CUmodule, const char *))       \
  X(cuFuncGetAttribute, CUresult(int *, int, CUfunction))                      \
  X(cuFuncSetAttribute, CUresult(CUfunction, int, int))                        \
  X(cuLaunchKernel,                                                            \
    CUresult(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,     \
             unsigned, unsigned, CUstream, void **, void **))                  \
  X(cuEventCreate, CUresult(CUevent *, unsigned))                              \
  X(cuEventDestroy, CUresult(CUevent))                                         \
  X(cuEventRecord, CUresult(CUevent, CUstream))                                \
  X(cuEventSynchronize, CUresult(CUevent))                                     \
  X(cuEventElapsedTime, CUresult(float *, CUevent, CUevent))                   \
  X(cuStreamBeginCapture, CUresult(CUstream, int))                             \
  X(cuStreamEndCapture, CUresult(CUstream, CUgraph *))                         \
  X(cuGraphInstantiateWithFlags,                                               \
    CUresult(CUgraphExec *, CUgraph, unsigned long long))                      \
  X(cuGraphLaunch, CUresult(CUgraphExec, CUstream))                            \
  X(cuGraphExecDestroy, CUresult(CUgraphExec))                                 \
  X(cuGraphDestroy, CUresult(CUgraph))                                         \
  X(cuTensorMapEncodeTiled,                                                    \
    CUresult(CUtensorMap *, int, unsigned, void *, const uint64_t *,           \
             const uint64_t *, const unsigned *, const unsigned *, int, int,   \
             int, int))

/// The driver's entry points, looked up once.
struct CudaDriver {
#define DSC_CUDA_DECLARE(name, type) std::add_pointer_t<type> name = nullptr;
  DSC_CUDA_DRIVER_FUNCTIONS(DSC_CUDA_DECLARE)
#undef DSC_CUDA_DECLARE
  int version = 0;

  /// How a TMA descriptor lays a box out in shared memory.
  enum class TmaSwizzle { k128Bytes, kNone };

  /// The process's driver: loaded and initialized (cuInit) on the first
  /// call. UNAVAILABLE, with one line saying why, where there is no driver
  /// or no device; the answer is the same on every call.
  static absl::StatusOr<const CudaDriver *> get();

  /// The status for `result` of `what` ("cuMemAlloc of 4096 bytes"):
  /// RESOURCE_EXHAUSTED for out of memory, UNAVAILABLE for no device,
  /// INTERNAL otherwise, with the driver's error name and text.
  absl::Status check(CUresult result, const std::string &what) const;

  /// Fills `map` with the TMA descriptor dsc's wgmma kernels read: the
  /// tensor at `address` of `dims` (outermost first, rank 1 to 5), whose
  /// outer dimensions are `strideBytes` apart (outermost first, one fewer
  /// than dims), of bf16 or, when elementBytes is 1, bytes (e4m3), loaded in
  /// boxes of `box` (outermost first) with the 128-byte swizzle (what
  /// wgmma reads) or, kNone, unswizzled (e4m3 weights the threads convert
  /// first). Returns the driver's result; callers say what it described.
  CUresult encodeTiledTensorMap(CUtensorMap *map, uint64_t address,
                                absl::Span<const uint64_t> dims,
                                absl::Span<const uint64_t> strideBytes,
                                unsigned elementBytes,
                                absl::Span<const unsigned> box,
                                TmaSwizzle swizzle) const;
};

} // namespace dsc::runtime::cuda

#endif // DSC_RUNTIME_CUDA_CUDADRIVER_H

//===- CudaDriver.cpp - The CUDA driver API, loaded at run time -----------===//

#include "runtime/cuda/CudaDriver.h"

#include "absl/strings/str_cat.h"

#include <array>
#include <dlfcn.h>

namespace dsc::runtime::cuda {
namespace {

/// The API version dsc is written against: cuGetProcAddress returns each
/// function's variant of that version (cuMemAlloc is cuMemAlloc_v2).
constexpr int kApiVersion = 12000;

using GetProcAddressV2 = CUresult(const char *, void **, int, uint64_t, int *);
using GetProcAddressV1 = CUresult(const char *, void **, int, uint64_t);

absl::StatusOr<CudaDriver> load() {
  // RTLD_LOCAL: the driver's symbols stay out of the process's namespace.
  void *library = ::dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char *why = ::dlerror();
    return absl::UnavailableError(
        absl::StrCat("no CUDA driver on this machine (",
                     why ? why : "libcuda.so.1: cannot open shared object file",
                     "); use --device cpu"));
  }
  // Never dlclose'd: the driver keeps threads and handlers of its own.
  auto *v2 = reinterpret_cast<GetProcAddressV2 *>(
      ::dlsym(library, "cuGetProcAddress_v2"));
  auto *v1 = reinterpret_cast<GetProcAddressV1 *>(
      ::dlsym(library, "cuGetProcAddress"));
  if (!v2 && !v1)
    return absl::UnavailableError(
        "the CUDA driver is too old (no cuGetProcAddress; dsc needs a CUDA 12 "
        "driver or newer); use --device cpu");
  CudaDriver driver;
  auto lookup = [&](const char *name, void **slot) -> absl::Status {
    int found = 0;
    CUresult result = v2 ? v2(name, slot, kApiVersion, 0, &found)
                         : v1(name, slot, kApiVersion, 0);
    if (result != CUDA_SUCCESS || !*slot)
      return absl::UnavailableError(absl::StrCat(
          "the CUDA driver lacks ", name, " (error ", result,
          "; dsc needs a CUDA 12 driver or newer); use --device cpu"));
    return absl::OkStatus();
  };
#define DSC_CUDA_LOOKUP(name, type)                                            \
  if (absl::Status s = lookup(#name, reinterpret_cast<void **>(&driver.name)); \
      !s.ok())                                                                 \
    return s;
  DSC_CUDA_DRIVER_FUNCTIONS(DSC_CUDA_LOOKUP)
#undef DSC_CUDA_LOOKUP
  if (CUresult r = driver.cuInit(0); r != CUDA_SUCCESS) {
    absl::Status s = driver.check(r, "cuInit");
    return absl::UnavailableError(absl::StrCat(
        "the CUDA driver cannot start: ", s.message(), "; use --device cpu"));
  }
  driver.cuDriverGetVersion(&driver.version);
  int devices = 0;
  if (driver.cuDeviceGetCount(&devices) != CUDA_SUCCESS || devices == 0)
    return absl::UnavailableError(
        "the CUDA driver sees no GPU on this machine; use --device cpu");
  return driver;
}

} // namespace

absl::StatusOr<const CudaDriver *> CudaDriver::get() {
  // Loaded once per process; the outcome (a driver or why not) is kept.
  static const absl::StatusOr<CudaDriver> *driver =
      new absl::StatusOr<CudaDriver>(load());
  if (!driver->ok())
    return driver->status();
  return &**driver;
}

absl::Status CudaDriver::check(CUresult result, const std::string &what) const {
  if (result == CUDA_SUCCESS)
    return absl::OkStatus();
  const char *name = nullptr, *text = nullptr;
  if (cuGetErrorName(result, &name) != CUDA_SUCCESS || !name)
    name = "unknown error";
  if (cuGetErrorString(result, &text) != CUDA_SUCCESS || !text)
    text = "";
  std::string message =
      absl::StrCat(what, " failed: ", name, " (", result, ")",
                   *text ? absl::StrCat(": ", text) : std::string());
  switch (result) {
  case CUDA_ERROR_OUT_OF_MEMORY:
    return absl::ResourceExhaustedError(message);
  case CUDA_ERROR_NO_DEVICE:
    return absl::UnavailableError(message);
  default:
    return absl::InternalError(message);
  }
}

CUresult CudaDriver::encodeTiledTensorMap(
    CUtensorMap *map, uint64_t address, absl::Span<const uint64_t> dims,
    absl::Span<const uint64_t> strideBytes, unsigned elementBytes,
    absl::Span<const unsigned> box, TmaSwizzle swizzle) const {
  constexpr size_t kMaxRank = 5;
  const size_t rank = dims.size();
  if (rank == 0 || rank > kMaxRank || strideBytes.size() + 1 != rank ||
      box.size() != rank)
    return CUDA_ERROR_INVALID_VALUE;
  // The driver takes the innermost dimension first.
  std::array<uint64_t, kMaxRank> driverDims{};
  std::array<uint64_t, kMaxRank - 1> driverStrides{};
  std::array<unsigned, kMaxRank> driverBox{};
  std::array<unsigned, kMaxRank> elementStrides{1, 1, 1, 1, 1};
  for (size_t d = 0; d < rank; ++d) {
    driverDims[d] = dims[rank - 1 - d];
    driverBox[d] = box[rank - 1 - d];
  }
  for (size_t d = 0; d + 1 < rank; ++d)
    driverStrides[d] = strideBytes[rank - 2 - d];
  return cuTensorMapEncodeTiled(
      map,
      elementBytes == 1 ? CU_TENSOR_MAP_DATA_TYPE_UINT8
                        : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16,
      unsigned(rank), reinterpret_cast<void *>(address), driverDims.data(),
      driverStrides.data(), driverBox.data(), elementStrides.data(),
      CU_TENSOR_MAP_INTERLEAVE_NONE,
      swizzle == TmaSwizzle::kNone ? CU_TENSOR_MAP_SWIZZLE_NONE
                                   : CU_TENSOR_MAP_SWIZZLE_128B,
      CU_TENSOR_MAP_L2_PROMOTION_L2_128B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
}

} // namespace dsc::runtime::cuda

//===- CudaDeviceTest.cpp - The CUDA device against the fake driver -------===//
//
// CudaDevice's bookkeeping that no GPU is needed to check, run against the
// fake driver (test/fake-cuda): the table of TMA descriptors, whose slots a
// CUDA graph holds while it lives and a dropped recording gives back.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/CudaDevice.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

namespace dsc::runtime::cuda {
namespace {

/// The device on the fake driver: loaded first by its path, so that the
/// runtime's dlopen("libcuda.so.1") finds it by its soname.
std::unique_ptr<CudaDevice> openFakeDevice() {
  if (!dlopen(DSC_FAKE_CUDA, RTLD_NOW | RTLD_GLOBAL)) {
    ADD_FAILURE() << "cannot load the fake driver " << DSC_FAKE_CUDA << ": "
                  << dlerror();
    return nullptr;
  }
  absl::StatusOr<std::unique_ptr<CudaDevice>> device = CudaDevice::open();
  if (!device.ok()) {
    ADD_FAILURE() << device.status();
    return nullptr;
  }
  return std::move(*device);
}

constexpr CudaDriver::TmaSwizzle kSwizzled = CudaDriver::TmaSwizzle::k128Bytes;

/// The descriptor of the i-th of distinct 64 x 64 bf16 matrices (their
/// addresses differ; the fake driver reads none).
absl::StatusOr<void *> describe(CudaDevice &device, uint64_t i) {
  const uint64_t dims[] = {64, 64}, strideBytes[] = {128};
  const unsigned box[] = {64, 64};
  return device.tensorMap((uint64_t(1) << 32) + 128 * i, dims, strideBytes,
                          /*elementBytes=*/2, box, kSwizzled);
}

constexpr uint64_t kSlots = CudaDevice::kTensorMaps;

TEST(CudaDeviceTensorMaps, ADroppedRecordingGivesItsSlotsBack) {
  std::unique_ptr<CudaDevice> device = openFakeDevice();
  ASSERT_TRUE(device);
  ASSERT_TRUE(device->beginCapture().ok());
  for (uint64_t i = 0; i < kSlots; ++i)
    ASSERT_TRUE(describe(*device, i).ok()) << "descriptor " << i;
  // The recording holds every slot.
  EXPECT_EQ(describe(*device, kSlots).status().code(),
            absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(device->endCapture(/*keep=*/false).ok());
  device->countLaunch(); // the launch the descriptors were for
  for (uint64_t i = 0; i < kSlots; ++i)
    ASSERT_TRUE(describe(*device, kSlots + i).ok()) << "descriptor " << i;
}

TEST(CudaDeviceTensorMaps, AGraphHoldsItsSlotsUntilDestroyed) {
  std::unique_ptr<CudaDevice> device = openFakeDevice();
  ASSERT_TRUE(device);
  ASSERT_TRUE(device->beginCapture().ok());
  void *recorded = *describe(*device, 0);
  absl::StatusOr<std::unique_ptr<CudaGraph>> graph =
      device->endCapture(/*keep=*/true);
  ASSERT_TRUE(graph.ok()) << graph.status();
  // Asked again, the graph's descriptor is the one it reads.
  EXPECT_EQ(*describe(*device, 0), recorded);
  device->countLaunch();
  // Every other slot fills with new descriptors; then, once the stream
  // has passed them, they are reused, all but the graph's.
  for (uint64_t i = 1; i < kSlots; ++i)
    ASSERT_TRUE(describe(*device, i).ok()) << "descriptor " << i;
  device->countLaunch();
  for (uint64_t i = 0; i + 1 < kSlots; ++i)
    ASSERT_TRUE(describe(*device, kSlots + i).ok()) << "descriptor " << i;
  EXPECT_EQ(describe(*device, 2 * kSlots).status().code(),
            absl::StatusCode::kResourceExhausted);
  // Destroyed, the graph gives its slot back.
  graph->reset();
  device->countLaunch();
  for (uint64_t i = 0; i < kSlots; ++i)
    ASSERT_TRUE(describe(*device, 3 * kSlots + i).ok()) << "descriptor " << i;
}

TEST(CudaDeviceTensorMaps, TheSwizzleIsPartOfTheRequest) {
  // The same e4m3 bytes swizzled (as wgmma reads them) and not (as a kernel
  // converting them reads them) are two descriptors; each asked again is
  // the one it got.
  std::unique_ptr<CudaDevice> device = openFakeDevice();
  ASSERT_TRUE(device);
  const uint64_t dims[] = {256, 128}, strideBytes[] = {128};
  const unsigned box[] = {64, 64};
  auto describe = [&](CudaDriver::TmaSwizzle swizzle) {
    return device->tensorMap(1 << 20, dims, strideBytes, 1, box, swizzle);
  };
  absl::StatusOr<void *> swizzled = describe(kSwizzled);
  absl::StatusOr<void *> plain = describe(CudaDriver::TmaSwizzle::kNone);
  ASSERT_TRUE(swizzled.ok() && plain.ok());
  EXPECT_NE(*swizzled, *plain);
  EXPECT_EQ(*describe(kSwizzled), *swizzled);
  EXPECT_EQ(*describe(CudaDriver::TmaSwizzle::kNone), *plain);
}

TEST(CudaDeviceTensorMaps, BadRequestsAreStatuses) {
  std::unique_ptr<CudaDevice> device = openFakeDevice();
  ASSERT_TRUE(device);
  const uint64_t dims[] = {64, 64, 64, 64}, strideBytes[] = {128, 128, 128};
  const unsigned box[] = {64, 64, 64, 64};
  // Rank 4, and a rank-2 request with the wrong number of strides.
  EXPECT_EQ(device->tensorMap(1 << 20, dims, strideBytes, 2, box, kSwizzled)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(device
                ->tensorMap(1 << 20, absl::MakeConstSpan(dims, 2), strideBytes,
                            2, absl::MakeConstSpan(box, 2), kSwizzled)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  // What the driver refuses (a misaligned address) names the tensor.
  absl::StatusOr<void *> misaligned =
      device->tensorMap((1 << 20) + 2, absl::MakeConstSpan(dims, 2),
                        absl::MakeConstSpan(strideBytes, 1), 2,
                        absl::MakeConstSpan(box, 2), kSwizzled);
  EXPECT_EQ(misaligned.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(misaligned.status().message().find("[64, 64] tensor"),
            std::string::npos)
      << misaligned.status();
}

} // namespace
} // namespace dsc::runtime::cuda

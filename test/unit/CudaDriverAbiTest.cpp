//===- CudaDriverAbiTest.cpp - Our driver API declarations match cuda.h ---===//
//
// runtime/cuda/CudaDriver.h declares the driver API's types and constants
// itself so that building dsc needs no CUDA Toolkit. Where the toolkit is
// installed, this test holds them to cuda.h.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/CudaDriver.h"

#include <cuda.h>

#include <gtest/gtest.h>

namespace dc = dsc::runtime::cuda;

static_assert(sizeof(dc::CUdeviceptr) == sizeof(::CUdeviceptr));
static_assert(sizeof(dc::CUresult) == sizeof(::CUresult));
static_assert(sizeof(dc::CUdevice) == sizeof(::CUdevice));
static_assert(dc::CUDA_SUCCESS == ::CUDA_SUCCESS);
static_assert(dc::CUDA_ERROR_INVALID_VALUE == ::CUDA_ERROR_INVALID_VALUE);
static_assert(dc::CUDA_ERROR_OUT_OF_MEMORY == ::CUDA_ERROR_OUT_OF_MEMORY);
static_assert(dc::CUDA_ERROR_NO_DEVICE == ::CUDA_ERROR_NO_DEVICE);
static_assert(dc::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT ==
              ::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
static_assert(dc::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR ==
              ::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
static_assert(dc::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR ==
              ::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
static_assert(dc::CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES ==
              ::CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES);
static_assert(dc::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES ==
              ::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES);
static_assert(dc::CU_JIT_ERROR_LOG_BUFFER == ::CU_JIT_ERROR_LOG_BUFFER);
static_assert(dc::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES ==
              ::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES);
static_assert(dc::CU_JIT_OPTIMIZATION_LEVEL == ::CU_JIT_OPTIMIZATION_LEVEL);
static_assert(dc::CU_MEM_ATTACH_GLOBAL == ::CU_MEM_ATTACH_GLOBAL);
static_assert(dc::CU_STREAM_NON_BLOCKING == ::CU_STREAM_NON_BLOCKING);
static_assert(dc::CU_STREAM_CAPTURE_MODE_RELAXED ==
              ::CU_STREAM_CAPTURE_MODE_RELAXED);
static_assert(sizeof(::CUstreamCaptureMode) == sizeof(int));
static_assert(sizeof(dc::CUtensorMap) == sizeof(::CUtensorMap));
static_assert(alignof(dc::CUtensorMap) == alignof(::CUtensorMap));
static_assert(dc::CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 ==
              ::CU_TENSOR_MAP_DATA_TYPE_BFLOAT16);
static_assert(dc::CU_TENSOR_MAP_DATA_TYPE_UINT8 ==
              ::CU_TENSOR_MAP_DATA_TYPE_UINT8);
static_assert(dc::CU_TENSOR_MAP_INTERLEAVE_NONE ==
              ::CU_TENSOR_MAP_INTERLEAVE_NONE);
static_assert(dc::CU_TENSOR_MAP_SWIZZLE_128B == ::CU_TENSOR_MAP_SWIZZLE_128B);
static_assert(dc::CU_TENSOR_MAP_L2_PROMOTION_L2_128B ==
              ::CU_TENSOR_MAP_L2_PROMOTION_L2_128B);
static_assert(dc::CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE ==
              ::CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);

// Every function the table looks up exists in this toolkit's API (a typo
// would make the lookup fail only on a GPU machine).
#define DSC_CUDA_EXISTS(name, type) (void)&::name;
TEST(CudaDriverAbi, EveryLookedUpFunctionIsInCudaH) {
  DSC_CUDA_DRIVER_FUNCTIONS(DSC_CUDA_EXISTS)
  SUCCEED();
}

//===- AlignedBuffer.h - Owned, 64-byte aligned host memory -----*- C++ -*-===//
//
// Memory the runtime allocates for compiled code (packed parameters,
// inputs and outputs, the KV cache) is 64-byte aligned so that vectorized
// kernels never straddle a cache line at the start of a row. (A parameter
// read in place from a checkpoint's mapping is aligned to its element size
// only; the compiled code's loads assume no more.) Allocation failure is a
// status, not an exception: a too-large batch must not abort the process.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_RUNTIME_ALIGNEDBUFFER_H
#define DSC_RUNTIME_ALIGNEDBUFFER_H

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

namespace dsc::runtime {

/// A heap buffer aligned to kAlignment bytes, freed on destruction.
class AlignedBuffer {
public:
  static constexpr size_t kAlignment = 64;

  AlignedBuffer() = default;

  /// Allocates `size` bytes (contents unspecified); `what` names the buffer
  /// in the ResourceExhausted error.
  static absl::StatusOr<AlignedBuffer> allocate(size_t size,
                                                const std::string &what) {
    void *memory = nullptr;
    // posix_memalign rejects size 0 on some libcs; one line of slack keeps
    // empty tensors valid pointers.
    if (::posix_memalign(&memory, kAlignment, size ? size : kAlignment) != 0)
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot allocate ", size, " bytes for ", what));
    AlignedBuffer buffer;
    buffer.memory.reset(static_cast<uint8_t *>(memory));
    buffer.length = size;
    return buffer;
  }

  uint8_t *data() const { return memory.get(); }
  size_t size() const { return length; }

private:
  struct Free {
    void operator()(uint8_t *p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> memory;
  size_t length = 0;
};

} // namespace dsc::runtime

#endif // DSC_RUNTIME_ALIGNEDBUFFER_H

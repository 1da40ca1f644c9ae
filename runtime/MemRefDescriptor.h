//===- MemRefDescriptor.h - MLIR memref descriptors of any rank -*- C++ -*-===//
//
// Compiled entry points take each argument as a pointer to the struct that
// MLIR's memref-to-LLVM lowering uses for a ranked memref:
//
//   struct { T *allocated; T *aligned; int64_t offset;
//            int64_t sizes[rank]; int64_t strides[rank]; }
//
// The rank is only known from the manifest at run time, so the struct is
// built as an array of 64-bit words, which has the same layout on the 64-bit
// hosts dsc supports.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_RUNTIME_MEMREFDESCRIPTOR_H
#define DSC_RUNTIME_MEMREFDESCRIPTOR_H

#include <cstdint>
#include <vector>

namespace dsc::runtime {

static_assert(sizeof(void *) == sizeof(int64_t),
              "memref descriptors are built from 64-bit words");

/// The descriptor of a contiguous row-major buffer (offset 0).
class MemRefDescriptor {
public:
  MemRefDescriptor() = default;
  MemRefDescriptor(const void *data, const std::vector<int64_t> &shape) {
    const size_t rank = shape.size();
    words.assign(3 + 2 * rank, 0);
    auto pointer = reinterpret_cast<int64_t>(data);
    words[0] = pointer; // allocated
    words[1] = pointer; // aligned
    words[2] = 0;       // offset
    int64_t stride = 1;
    for (size_t i = rank; i-- > 0;) {
      words[3 + i] = shape[i];
      words[3 + rank + i] = stride;
      stride *= shape[i];
    }
  }

  /// The struct, to be put in the entry point's argv.
  void *get() { return words.data(); }

private:
  std::vector<int64_t> words;
};

} // namespace dsc::runtime

#endif // DSC_RUNTIME_MEMREFDESCRIPTOR_H

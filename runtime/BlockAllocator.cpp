//===- BlockAllocator.cpp - The C heap, and a cache of its blocks ---------===//

#include "runtime/BlockAllocator.h"

#include <cstddef>
#include <cstdlib>
#include <vector>

#include <sys/mman.h>

namespace dsc::runtime {
namespace {

class HeapAllocator final : public BlockAllocator {
public:
  void *allocate(uint64_t bytes, uint64_t alignment) override {
    void *block = nullptr;
    if (alignment <= alignof(std::max_align_t))
      return std::malloc(bytes);
    return posix_memalign(&block, alignment, bytes) == 0 ? block : nullptr;
  }
  void release(void *block) override { std::free(block); }
};

/// What precedes every block CachingHeapAllocator hands out, in the
/// alignment padding before it.
struct Header {
  /// What posix_memalign returned.
  void *allocation;
  uint32_t sizeClass;
  uint32_t magic;
};
constexpr uint32_t kMagic = 0x64736362; // "dscb"
/// The alignment of every kept block, and the padding before it.
constexpr uint64_t kKeptAlignment = 64;
static_assert(sizeof(Header) <= kKeptAlignment);

Header *headerOf(void *block) {
  return reinterpret_cast<Header *>(static_cast<char *>(block) -
                                    sizeof(Header));
}

/// The index of size class `bytes` (a classBytes() value): four classes
/// per octave from 64 bytes up.
unsigned classIndex(uint64_t bytes) {
  unsigned octave = 63 - __builtin_clzll(bytes);
  return octave * 4 + unsigned((bytes >> (octave - 2)) & 3);
}

/// The bytes of size class `index` (the inverse of classIndex).
uint64_t classSize(unsigned index) {
  return (uint64_t(4) + (index & 3)) << (index / 4 - 2);
}

/// Asks for transparent huge pages in the whole 2 MiB pages of a large
/// block (where the kernel gives them only on request, THP "madvise"): one
/// page fault per 2 MiB instead of 512, and fewer TLB misses.
void adviseHugePages(void *allocation, uint64_t bytes) {
  constexpr uint64_t kHuge = uint64_t(2) << 20;
  if (bytes < 2 * kHuge)
    return;
  uintptr_t first = reinterpret_cast<uintptr_t>(allocation);
  uintptr_t begin = (first + kHuge - 1) / kHuge * kHuge;
  uintptr_t end = (first + bytes) / kHuge * kHuge;
  if (end > begin)
    madvise(reinterpret_cast<void *>(begin), end - begin, MADV_HUGEPAGE);
}

} // namespace

uint64_t CachingHeapAllocator::classBytes(uint64_t bytes) {
  if (bytes <= kKeptAlignment)
    return kKeptAlignment;
  // 2^e < bytes <= 2^(e+1): round up to a multiple of 2^(e-2).
  unsigned e = 63 - __builtin_clzll(bytes - 1);
  uint64_t step = uint64_t(1) << (e - 2);
  return (bytes + step - 1) / step * step;
}

CachingHeapAllocator::~CachingHeapAllocator() { freeKept(); }

void CachingHeapAllocator::freeKept() {
  for (std::vector<void *> &blocks : kept) {
    for (void *block : blocks)
      std::free(headerOf(block)->allocation);
    blocks.clear();
  }
  unusedBytes = 0;
}

void *CachingHeapAllocator::allocate(uint64_t bytes, uint64_t alignment) {
  uint64_t size = classBytes(bytes);
  unsigned sizeClass = classIndex(size);
  uint64_t align = alignment > kKeptAlignment ? alignment : kKeptAlignment;
  if (align == kKeptAlignment && !kept[sizeClass].empty()) {
    void *block = kept[sizeClass].back();
    kept[sizeClass].pop_back();
    unusedBytes -= size;
    return block;
  }
  // The header sits in `align` bytes of padding before the block.
  void *allocation = nullptr;
  if (posix_memalign(&allocation, align, size + align) != 0) {
    // The kept blocks may be what the heap is missing.
    freeKept();
    if (posix_memalign(&allocation, align, size + align) != 0)
      return nullptr;
  }
  adviseHugePages(allocation, size + align);
  void *block = static_cast<char *>(allocation) + align;
  *headerOf(block) = Header{
      allocation, align == kKeptAlignment ? sizeClass : kClasses, kMagic};
  return block;
}

void CachingHeapAllocator::release(void *block) {
  Header *header = headerOf(block);
  if (header->magic != kMagic) {
    // Not one of ours (the runtime routes only this allocator's blocks
    // here): a plain heap block.
    std::free(block);
    return;
  }
  unsigned sizeClass = header->sizeClass;
  if (sizeClass >= kClasses) {
    std::free(header->allocation);
    return;
  }
  uint64_t size = classSize(sizeClass);
  if (unusedBytes + size > cacheLimit) {
    std::free(header->allocation);
    return;
  }
  kept[sizeClass].push_back(block);
  unusedBytes += size;
}

BlockAllocator &heapAllocator() {
  static HeapAllocator *heap = new HeapAllocator();
  return *heap;
}

} // namespace dsc::runtime

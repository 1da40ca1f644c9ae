//===- BlockAllocator.cpp - The C heap, and a cache of its blocks ---------===//

#include "runtime/BlockAllocator.h"

#include <cstddef>
#include <cstdlib>

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

} // namespace

CachingHeapAllocator::~CachingHeapAllocator() {
  for (auto &[shape, entry] : unused)
    std::free(entry.block);
}

void *CachingHeapAllocator::allocate(uint64_t bytes, uint64_t alignment) {
  // A kept block of this alignment, at least `bytes` and at most twice that
  // (so that a small request does not pin a large block).
  auto it = unused.lower_bound({alignment, bytes});
  if (it != unused.end() && it->first.first == alignment &&
      it->first.second / 2 <= bytes) {
    void *block = it->second.block;
    unusedBytes -= it->first.second;
    handedOut.emplace(block, it->first);
    byAge.erase(it->second.age);
    unused.erase(it);
    return block;
  }
  void *block = heapAllocator().allocate(bytes, alignment);
  if (!block && !unused.empty()) {
    // The kept blocks may be what the heap is missing.
    evictFor(cacheLimit);
    block = heapAllocator().allocate(bytes, alignment);
  }
  if (block)
    handedOut.emplace(block, Shape{alignment, bytes});
  return block;
}

void CachingHeapAllocator::release(void *block) {
  auto it = handedOut.find(block);
  if (it == handedOut.end()) {
    std::free(block);
    return;
  }
  Shape shape = it->second;
  handedOut.erase(it);
  if (shape.second > cacheLimit) {
    std::free(block);
    return;
  }
  evictFor(shape.second);
  uint64_t age = clock++;
  byAge.emplace(age, unused.emplace(shape, Unused{block, age}));
  unusedBytes += shape.second;
}

void CachingHeapAllocator::evictFor(uint64_t incoming) {
  while (!byAge.empty() && unusedBytes + incoming > cacheLimit) {
    auto oldest = byAge.begin()->second;
    unusedBytes -= oldest->first.second;
    std::free(oldest->second.block);
    unused.erase(oldest);
    byAge.erase(byAge.begin());
  }
}

BlockAllocator &heapAllocator() {
  static HeapAllocator *heap = new HeapAllocator();
  return *heap;
}

} // namespace dsc::runtime

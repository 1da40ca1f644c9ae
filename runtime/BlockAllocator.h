//===- BlockAllocator.h - Where compiled code's blocks come from -*- C++
//-*-===//
//
// The blocks that the compiled code allocates during a call (Workspace.h)
// come from a BlockAllocator: the C heap, a cache of the C heap's blocks
// kept from call to call, or a GPU's memory (cuda/CudaDevice.h).
//
//===----------------------------------------------------------------------===//

#ifndef DSC_RUNTIME_BLOCKALLOCATOR_H
#define DSC_RUNTIME_BLOCKALLOCATOR_H

#include <cstdint>
#include <map>
#include <unordered_map>
#include <utility>

namespace dsc::runtime {

/// Where the blocks of a call come from: the C heap, or a GPU's memory.
class BlockAllocator {
public:
  virtual ~BlockAllocator() = default;
  /// A block of `bytes` aligned to `alignment`, or null.
  virtual void *allocate(uint64_t bytes, uint64_t alignment) = 0;
  /// Gives back a block from allocate().
  virtual void release(void *block) = 0;
};

/// The C heap.
BlockAllocator &heapAllocator();

/// The C heap, keeping released blocks for reuse. A model's calls allocate
/// the same sizes step after step; fresh large blocks come from mmap as
/// untouched pages, and their page faults were a quarter of a small model's
/// prefill. At most `cacheLimit` bytes are kept unused; past it, the blocks
/// kept longest are freed first. When the heap refuses a block, the kept
/// ones are freed and the request retried. A request may get a kept block
/// of up to twice its size, and the kept blocks are memory the process
/// holds on top of the live ones: a workspace limit bounds what the model
/// asks for, not the process's footprint (at most about 3x the limit).
/// Not thread-safe: one per session.
class CachingHeapAllocator final : public BlockAllocator {
public:
  explicit CachingHeapAllocator(uint64_t cacheLimit) : cacheLimit(cacheLimit) {}
  CachingHeapAllocator(const CachingHeapAllocator &) = delete;
  CachingHeapAllocator &operator=(const CachingHeapAllocator &) = delete;
  ~CachingHeapAllocator() override;

  void *allocate(uint64_t bytes, uint64_t alignment) override;
  void release(void *block) override;

  /// Bytes held unused for reuse.
  uint64_t cachedBytes() const { return unusedBytes; }

private:
  /// (alignment, bytes) of a block.
  using Shape = std::pair<uint64_t, uint64_t>;
  struct Unused {
    void *block;
    /// When it was released: the smallest is evicted first.
    uint64_t age;
  };

  /// Frees the oldest unused blocks until `incoming` more bytes fit.
  void evictFor(uint64_t incoming);

  uint64_t cacheLimit;
  uint64_t unusedBytes = 0;
  uint64_t clock = 0;
  std::multimap<Shape, Unused> unused;
  /// The entries of `unused` by age, oldest first.
  std::map<uint64_t, std::multimap<Shape, Unused>::iterator> byAge;
  std::unordered_map<void *, Shape> handedOut;
};

} // namespace dsc::runtime

#endif // DSC_RUNTIME_BLOCKALLOCATOR_H

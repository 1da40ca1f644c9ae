//===- BlockAllocator.h - The compiled code's memory blocks -----*- C++ -*-===//
//
// The blocks that the compiled code allocates during a call (Workspace.h)
// come from a BlockAllocator: the C heap, a cache of the C heap's blocks
// kept from call to call, or a GPU's memory (cuda/CudaDevice.h).
//
//===----------------------------------------------------------------------===//

#ifndef DSC_RUNTIME_BLOCKALLOCATOR_H
#define DSC_RUNTIME_BLOCKALLOCATOR_H

#include <cstdint>
#include <vector>

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
/// prefill.
///
/// Requests are rounded up to size classes (quarter octaves: at most 25%
/// more), and a released block goes on its class's free list, so that
/// allocate and release are O(1) with no bookkeeping allocations: a decode
/// step makes hundreds of small requests, and a map per block cost a third
/// of it. Each block carries a header before the pointer handed out (its
/// class and the underlying allocation). Blocks aligned to more than 64
/// bytes are not kept.
///
/// A block of 4 MiB or more asks for transparent huge pages over its whole
/// 2 MiB pages: the first call's blocks still fault, once per 2 MiB.
///
/// At most `cacheLimit` bytes are kept unused: a released block that would
/// pass it is freed. When the heap refuses a block, the kept ones are freed
/// and the request retried. Kept blocks are memory the process holds on top
/// of the live ones, and classes round up: a workspace limit bounds what
/// the model asks for, not the process's footprint (at most about 2.5x the
/// limit). Not thread-safe: one per session.
class CachingHeapAllocator final : public BlockAllocator {
public:
  explicit CachingHeapAllocator(uint64_t cacheLimit) : cacheLimit(cacheLimit) {}
  CachingHeapAllocator(const CachingHeapAllocator &) = delete;
  CachingHeapAllocator &operator=(const CachingHeapAllocator &) = delete;
  ~CachingHeapAllocator() override;

  /// A block of at least `bytes`, aligned to `alignment`, or null.
  void *allocate(uint64_t bytes, uint64_t alignment) override;
  /// Gives back a block from this allocator's allocate().
  void release(void *block) override;

  /// Bytes held unused for reuse.
  uint64_t cachedBytes() const { return unusedBytes; }
  /// The size class `bytes` rounds up to.
  static uint64_t classBytes(uint64_t bytes);

private:
  /// Frees every kept block.
  void freeKept();

  static constexpr unsigned kClasses = 256;
  uint64_t cacheLimit;
  uint64_t unusedBytes = 0;
  /// Kept blocks (the pointers handed out) per size class.
  std::vector<void *> kept[kClasses];
};

} // namespace dsc::runtime

#endif // DSC_RUNTIME_BLOCKALLOCATOR_H

//===- BlockAllocatorTest.cpp - The cache of the C heap's blocks ----------===//

#include "runtime/BlockAllocator.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace {

using dsc::runtime::CachingHeapAllocator;

TEST(CachingHeapAllocator, ReusesAReleasedBlockOfTheSameShape) {
  CachingHeapAllocator cache(1 << 20);
  void *a = cache.allocate(4096, 64);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 64, 0u);
  std::memset(a, 1, 4096);
  cache.release(a);
  EXPECT_EQ(cache.cachedBytes(), 4096u);
  // Same size and alignment, and a slightly smaller request: the kept block.
  void *b = cache.allocate(4000, 64);
  EXPECT_EQ(b, a);
  EXPECT_EQ(cache.cachedBytes(), 0u);
  cache.release(b);
}

TEST(CachingHeapAllocator, DoesNotHandOutATooLargeOrMisalignedBlock) {
  CachingHeapAllocator cache(1 << 20);
  void *big = cache.allocate(8192, 64);
  cache.release(big);
  // Less than half of the kept block: a fresh one.
  void *small = cache.allocate(1024, 64);
  EXPECT_NE(small, big);
  // Larger than any kept block: a fresh one.
  void *larger = cache.allocate(16384, 64);
  EXPECT_NE(larger, big);
  // Another alignment: a fresh one, aligned as asked.
  void *aligned = cache.allocate(8192, 4096);
  EXPECT_NE(aligned, big);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(aligned) % 4096, 0u);
  EXPECT_EQ(cache.cachedBytes(), 8192u);
  cache.release(small);
  cache.release(larger);
  cache.release(aligned);
}

TEST(CachingHeapAllocator, KeepsAtMostTheLimitEvictingTheOldest) {
  CachingHeapAllocator cache(3000);
  void *first = cache.allocate(1000, 16);
  void *second = cache.allocate(1000, 16);
  void *third = cache.allocate(1000, 16);
  void *fourth = cache.allocate(1000, 16);
  cache.release(first);
  cache.release(second);
  cache.release(third);
  EXPECT_EQ(cache.cachedBytes(), 3000u);
  // A fourth would pass the limit: the oldest (first) is freed.
  cache.release(fourth);
  EXPECT_EQ(cache.cachedBytes(), 3000u);
  // A block larger than the whole limit is never kept.
  void *huge = cache.allocate(5000, 16);
  cache.release(huge);
  EXPECT_EQ(cache.cachedBytes(), 3000u);
  // The three kept are handed out again, none of them twice.
  void *x = cache.allocate(1000, 16);
  void *y = cache.allocate(1000, 16);
  void *z = cache.allocate(1000, 16);
  EXPECT_NE(x, y);
  EXPECT_NE(y, z);
  EXPECT_NE(x, z);
  EXPECT_EQ(cache.cachedBytes(), 0u);
  for (void *block : {x, y, z})
    EXPECT_TRUE(block == second || block == third || block == fourth);
  cache.release(x);
  cache.release(y);
  cache.release(z);
}

TEST(CachingHeapAllocator, FreesABlockItDidNotHandOut) {
  CachingHeapAllocator cache(1 << 20);
  // Blocks of the compiled code made before the cache (or by libc) are
  // freed, not kept with a made-up size.
  cache.release(std::malloc(64));
  EXPECT_EQ(cache.cachedBytes(), 0u);
}

} // namespace

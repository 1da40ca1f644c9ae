//===- BlockAllocatorTest.cpp - The cache of the C heap's blocks ----------===//

#include "runtime/BlockAllocator.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace {

using dsc::runtime::CachingHeapAllocator;

TEST(CachingHeapAllocator, SizeClassesAreQuarterOctaves) {
  EXPECT_EQ(CachingHeapAllocator::classBytes(1), 64u);
  EXPECT_EQ(CachingHeapAllocator::classBytes(64), 64u);
  EXPECT_EQ(CachingHeapAllocator::classBytes(65), 80u);
  EXPECT_EQ(CachingHeapAllocator::classBytes(100), 112u);
  EXPECT_EQ(CachingHeapAllocator::classBytes(128), 128u);
  EXPECT_EQ(CachingHeapAllocator::classBytes(4000), 4096u);
  EXPECT_EQ(CachingHeapAllocator::classBytes(4097), 5120u);
  for (uint64_t bytes : {65u, 1000u, 12345u, 1u << 20}) {
    uint64_t size = CachingHeapAllocator::classBytes(bytes);
    EXPECT_GE(size, bytes);
    EXPECT_LE(size, bytes + bytes / 4);
    EXPECT_EQ(CachingHeapAllocator::classBytes(size), size);
  }
}

TEST(CachingHeapAllocator, ReusesAReleasedBlockOfTheSameClass) {
  CachingHeapAllocator cache(1 << 20);
  void *a = cache.allocate(4096, 64);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 64, 0u);
  std::memset(a, 1, 4096);
  cache.release(a);
  EXPECT_EQ(cache.cachedBytes(), 4096u);
  // A slightly smaller request of the same class: the kept block.
  void *b = cache.allocate(4000, 16);
  EXPECT_EQ(b, a);
  EXPECT_EQ(cache.cachedBytes(), 0u);
  cache.release(b);
}

TEST(CachingHeapAllocator, DoesNotHandOutAnotherClassOrAlignment) {
  CachingHeapAllocator cache(1 << 20);
  void *big = cache.allocate(8192, 64);
  cache.release(big);
  void *small = cache.allocate(1024, 64);
  EXPECT_NE(small, big);
  void *larger = cache.allocate(16384, 64);
  EXPECT_NE(larger, big);
  // A stricter alignment: a fresh block, aligned as asked, never kept.
  void *aligned = cache.allocate(8192, 4096);
  EXPECT_NE(aligned, big);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(aligned) % 4096, 0u);
  EXPECT_EQ(cache.cachedBytes(), 8192u);
  cache.release(aligned);
  EXPECT_EQ(cache.cachedBytes(), 8192u);
  cache.release(small);
  cache.release(larger);
}

TEST(CachingHeapAllocator, KeepsAtMostTheLimit) {
  CachingHeapAllocator cache(3 * 1024);
  void *blocks[4];
  for (void *&block : blocks)
    block = cache.allocate(1024, 64);
  for (int i = 0; i < 3; ++i)
    cache.release(blocks[i]);
  EXPECT_EQ(cache.cachedBytes(), 3u * 1024);
  // A fourth would pass the limit: it is freed.
  cache.release(blocks[3]);
  EXPECT_EQ(cache.cachedBytes(), 3u * 1024);
  // The three kept are handed out again, none of them twice.
  void *x = cache.allocate(1024, 64);
  void *y = cache.allocate(1000, 64);
  void *z = cache.allocate(900, 64);
  EXPECT_NE(x, y);
  EXPECT_NE(y, z);
  EXPECT_NE(x, z);
  EXPECT_EQ(cache.cachedBytes(), 0u);
  for (void *block : {x, y, z})
    EXPECT_TRUE(block == blocks[0] || block == blocks[1] || block == blocks[2]);
  for (void *block : {x, y, z})
    cache.release(block);
}

// A large block asks for transparent huge pages (one page fault per 2 MiB:
// a one-shot prefill's faults had been a tenth of it and more). Where the
// kernel gives them on request, the block's mapping then holds some.
TEST(CachingHeapAllocator, LargeBlocksTakeHugePages) {
  std::ifstream mode("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  std::getline(mode, modes);
  if (modes.find("[never]") != std::string::npos || modes.empty())
    GTEST_SKIP() << "transparent huge pages are off here";
  CachingHeapAllocator cache(1 << 30);
  constexpr uint64_t kBytes = uint64_t(16) << 20;
  auto *block = static_cast<char *>(cache.allocate(kBytes, 64));
  ASSERT_NE(block, nullptr);
  std::memset(block, 1, kBytes);
  // The AnonHugePages of the mapping holding the block (/proc/self/smaps).
  auto address = reinterpret_cast<uintptr_t>(block);
  std::ifstream smaps("/proc/self/smaps");
  uint64_t hugeKb = 0;
  bool inBlock = false;
  for (std::string line; std::getline(smaps, line);) {
    uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream range(line);
    if (range >> std::hex >> begin >> dash >> end && dash == '-') {
      inBlock = begin <= address + kBytes / 2 && address + kBytes / 2 < end;
      continue;
    }
    if (inBlock && line.rfind("AnonHugePages:", 0) == 0)
      hugeKb += std::stoull(line.substr(14));
  }
  EXPECT_GE(hugeKb, 2048u) << "no huge page in the middle of a 16 MiB block";
  cache.release(block);
}

} // namespace

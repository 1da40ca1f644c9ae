//===- MemoryBench.cpp - How fast the CPU reads memory --------------------===//
//
// dsc-memory-bench [MB] [THREADS...]: reads a buffer of MB megabytes
// (default 1024, far past the caches) through the runtime's ThreadPool, as
// a decode step reads its weights, and prints the best of 5 reads in GB/s
// for each thread count (default 1 2). The rate bounds a decode step from
// below: its weights' bytes over this rate are its floor (docs/
// performance.md). A benchmark, not a test (scripts/measure.sh threads).
//
//===----------------------------------------------------------------------===//

#include "runtime/ThreadPool.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

using dsc::runtime::ThreadPool;

namespace {

/// The buffer and one partial sum per 4 KiB block read, so that the reads
/// cannot be optimized away.
struct Frame {
  const uint64_t *words;
  std::vector<uint64_t> sums;
};

constexpr int64_t kBlockWords = 512; // 4 KiB

/// Reads blocks [begin, end) of the buffer.
void readBlocks(void *frame, int64_t begin, int64_t end) {
  auto *f = static_cast<Frame *>(frame);
  for (int64_t block = begin; block < end; ++block) {
    const uint64_t *words = f->words + block * kBlockWords;
    // Eight independent sums, so that the adds keep up with the loads.
    uint64_t sums[8] = {};
    for (int64_t i = 0; i < kBlockWords; i += 8)
      for (int64_t j = 0; j < 8; ++j)
        sums[j] += words[i + j];
    uint64_t sum = 0;
    for (uint64_t s : sums)
      sum += s;
    f->sums[size_t(block)] = sum;
  }
}

bool parse(const char *text, long low, long high, long &out) {
  char *end = nullptr;
  out = std::strtol(text, &end, 10);
  return *text && !*end && out >= low && out <= high;
}

} // namespace

int main(int argc, char **argv) {
  long megabytes = 1024;
  std::vector<int> counts;
  for (int i = 1; i < argc; ++i) {
    long value = 0;
    if (i == 1 && parse(argv[i], 1, 1 << 20, value) && argc > 1) {
      megabytes = value;
      continue;
    }
    if (!parse(argv[i], 1, 1024, value)) {
      std::fprintf(stderr,
                   "usage: dsc-memory-bench [MB] [THREADS...]: '%s' is not "
                   "a thread count in [1, 1024]\n",
                   argv[i]);
      return 2;
    }
    counts.push_back(int(value));
  }
  if (counts.empty())
    counts = {1, 2};
  const int64_t blocks = megabytes * (1 << 20) / (kBlockWords * 8);
  std::vector<uint64_t> buffer(size_t(blocks * kBlockWords));
  for (size_t i = 0; i < buffer.size(); ++i)
    buffer[i] = i * 0x9e3779b97f4a7c15ull;
  Frame frame{buffer.data(), std::vector<uint64_t>(size_t(blocks))};
  const double bytes = double(blocks) * kBlockWords * 8;
  std::printf("%ld MB, %d cores available\n", megabytes,
              ThreadPool::availableCores());
  for (int threads : counts) {
    ThreadPool pool(threads);
    double best = 0;
    for (int round = 0; round < 5; ++round) {
      auto start = std::chrono::steady_clock::now();
      pool.parallelFor(&readBlocks, &frame, blocks, 16);
      std::chrono::duration<double> took =
          std::chrono::steady_clock::now() - start;
      best = std::max(best, bytes / took.count() / 1e9);
    }
    uint64_t check = 0;
    for (uint64_t s : frame.sums)
      check ^= s;
    std::printf("%d thread(s): %.1f GB/s read (best of 5; checksum %llx)\n",
                threads, best, static_cast<unsigned long long>(check));
  }
  return 0;
}

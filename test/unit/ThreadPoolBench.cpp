//===- ThreadPoolBench.cpp - The cost of one parallel-for call ------------===//
//
// dsc-thread-pool-bench [THREADS...]: the time of ThreadPool::parallelFor
// with an empty task over 1024 columns (grain 16), per call, for each
// thread count (default 1 2 3 4): the pool's own overhead, which every
// split GEMM pays once. A benchmark, not a test (scripts/measure.sh
// threads).
//
//===----------------------------------------------------------------------===//

#include "runtime/ThreadPool.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

using dsc::runtime::ThreadPool;

static void emptyTask(void *, int64_t, int64_t) {}

int main(int argc, char **argv) {
  std::vector<int> counts;
  for (int i = 1; i < argc; ++i) {
    char *end = nullptr;
    long threads = std::strtol(argv[i], &end, 10);
    if (!*argv[i] || *end || threads < 1 || threads > 1024) {
      std::fprintf(stderr,
                   "dsc-thread-pool-bench: '%s' is not a thread count in "
                   "[1, 1024]\n",
                   argv[i]);
      return 2;
    }
    counts.push_back(int(threads));
  }
  if (counts.empty())
    counts = {1, 2, 3, 4};
  constexpr int kCalls = 20000;
  std::printf("%d cores available\n", ThreadPool::availableCores());
  for (int threads : counts) {
    ThreadPool pool(threads);
    for (int round = 0; round < 3; ++round) {
      auto start = std::chrono::steady_clock::now();
      for (int call = 0; call < kCalls; ++call)
        pool.parallelFor(&emptyTask, nullptr, 1024, 16);
      std::chrono::duration<double, std::micro> took =
          std::chrono::steady_clock::now() - start;
      std::printf("%d thread(s): %.2f us per call\n", threads,
                  took.count() / kCalls);
    }
  }
  return 0;
}

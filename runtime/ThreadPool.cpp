//===- ThreadPool.cpp - The threads of the CPU code's parallel loops ------===//

#include "runtime/ThreadPool.h"

#include <algorithm>
#include <chrono>

#include <sched.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DSC_CPU_RELAX() _mm_pause()
#else
#define DSC_CPU_RELAX() std::this_thread::yield()
#endif

namespace dsc::runtime {
namespace {

/// How long a worker polls for the next call before it sleeps. A decode
/// step's contractions come tens of microseconds apart: polling keeps a
/// worker's wake-up at about a cache miss, where sleeping costs a futex
/// wake (several microseconds) per contraction.
constexpr std::chrono::microseconds kPollTime{200};
/// Pauses before a polling thread yields instead (a few microseconds).
constexpr int kPauses = 256;

/// One step of a polling loop: a pause at first, then a yield, so that
/// with more threads than cores (other processes' too) a thread that is
/// waited for gets the core.
void relax(int spins) {
  if (spins < kPauses)
    DSC_CPU_RELAX();
  else
    std::this_thread::yield();
}

} // namespace

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < std::max(threads, 1); ++i)
    workers.emplace_back([this, i] { work(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopping = true;
    generation.fetch_add(1, std::memory_order_release);
  }
  wake.notify_all();
  for (std::thread &worker : workers)
    worker.join();
}

std::pair<int64_t, int64_t> ThreadPool::range(int64_t index, int64_t count,
                                              int64_t extent, int64_t grain) {
  int64_t grains = (extent + grain - 1) / grain;
  int64_t base = grains / count, extra = grains % count;
  int64_t first = index * base + std::min(index, extra);
  int64_t last = first + base + (index < extra ? 1 : 0);
  return {std::min(first * grain, extent), std::min(last * grain, extent)};
}

int ThreadPool::availableCores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    return std::max(CPU_COUNT(&set), 1);
  return std::max<int>(std::thread::hardware_concurrency(), 1);
}

void ThreadPool::parallelFor(Task fn, void *data, int64_t size, int64_t step) {
  step = std::max<int64_t>(step, 1);
  int64_t grains = (size + step - 1) / step;
  int64_t count = std::min<int64_t>(grains, threads());
  if (count <= 1) {
    if (size > 0)
      fn(data, 0, size);
    return;
  }
  // Every worker takes part in every call (those past `count` only
  // acknowledge it), so that none can still be reading this call's fields
  // when the next call writes them.
  task = fn;
  frame = data;
  extent = size;
  grain = step;
  ranges = count;
  pending.store(int(workers.size()), std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mutex);
    generation.fetch_add(1, std::memory_order_release);
  }
  wake.notify_all();
  auto [begin, end] = range(0, count, size, step);
  fn(data, begin, end);
  for (int spins = 0; pending.load(std::memory_order_acquire) != 0; ++spins)
    relax(spins);
  ++regions;
}

void ThreadPool::work(int index) {
  uint64_t seen = 0;
  while (true) {
    // Poll for a while, then sleep until the next call.
    auto deadline = std::chrono::steady_clock::now() + kPollTime;
    uint64_t current = generation.load(std::memory_order_acquire);
    for (int spins = 0; current == seen; ++spins) {
      if (spins % 64 == 63 && std::chrono::steady_clock::now() > deadline) {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] {
          return generation.load(std::memory_order_acquire) != seen;
        });
      }
      relax(spins);
      current = generation.load(std::memory_order_acquire);
    }
    seen = current;
    if (stopping)
      return;
    if (index < ranges) {
      auto [begin, end] = range(index, ranges, extent, grain);
      task(frame, begin, end);
    }
    pending.fetch_sub(1, std::memory_order_acq_rel);
  }
}

/// The hook's signature (dsc-lower-parallel-calls).
static void poolParallelFor(void *pool, ThreadPool::Task task, void *frame,
                            int64_t extent, int64_t grain) {
  static_cast<ThreadPool *>(pool)->parallelFor(task, frame, extent, grain);
}

bool installParallelForHook(const HostModule &module, ThreadPool *pool) {
  absl::StatusOr<void *> hook = module.symbol("dsc_parallel_for_hook");
  absl::StatusOr<void *> context = module.symbol("dsc_parallel_for_context");
  if (!hook.ok() || !context.ok())
    return false;
  if (pool) {
    *static_cast<void **>(*context) = pool;
    *static_cast<void **>(*hook) = reinterpret_cast<void *>(&poolParallelFor);
  }
  return true;
}

} // namespace dsc::runtime

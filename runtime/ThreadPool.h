//===- ThreadPool.h - The threads of the CPU code's loops -------*- C++ -*-===//
//
// The host code runs a large contraction's output columns through an
// exported parallel-for hook (dsc-lower-parallel-calls). A session with
// more than one thread points that hook at a pool of its own: the calling
// thread and up to `threads - 1` workers split the columns, one range
// each, and the call returns when all ranges are done (fork-join, no
// queue).
//
// Ranges depend only on the extent, the grain and the thread count, and
// each is run by exactly one thread; the compiled code makes every column's
// result independent of its range, so results do not depend on the threads.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_RUNTIME_THREADPOOL_H
#define DSC_RUNTIME_THREADPOOL_H

#include "runtime/HostModule.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace dsc::runtime {

class ThreadPool {
public:
  /// A range of a parallel loop: `task(frame, begin, end)`.
  using Task = void (*)(void *frame, int64_t begin, int64_t end);

  /// The most threads a pool takes.
  static constexpr int kMaxThreads = 1024;

  /// The calling thread and `threads - 1` workers (threads in [1,
  /// kMaxThreads]). Throws std::system_error, with no thread left running,
  /// when a worker cannot be started.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  int threads() const { return int(workers.size()) + 1; }

  /// Runs `task` on ranges that cover [0, extent), each starting at a
  /// multiple of `grain` (>= 1), at most one per thread, and returns when
  /// all have run. One call at a time (the session's); a call from inside
  /// a task (a nested loop), or in a process forked from the one that made
  /// the pool, runs on the calling thread alone.
  void parallelFor(Task task, void *frame, int64_t extent, int64_t grain);

  /// Calls that ran on more than one thread.
  int64_t parallelRegions() const {
    return regions.load(std::memory_order_relaxed);
  }

  /// Range `index` of `count` over [0, extent): whole grains, the first
  /// ranges one grain longer when they do not divide evenly.
  static std::pair<int64_t, int64_t> range(int64_t index, int64_t count,
                                           int64_t extent, int64_t grain);

  /// The cores this process may use, at least 1: its CPU affinity, and no
  /// more than its cgroup's CPU quota (cpu.max) allows, rounded up.
  static int availableCores();

private:
  /// A worker's mailbox: the number of the last call it was given a range
  /// of. Only the workers a call needs are woken.
  struct alignas(64) Slot {
    std::atomic<uint64_t> call{0};
  };

  void work(int index);
  void stop();

  std::vector<std::thread> workers;
  std::unique_ptr<Slot[]> slots; // One per thread; slot 0 (the caller) unused.
  std::mutex mutex;
  std::condition_variable wake;
  std::atomic<bool> stopping{false};
  /// The current call, published by each worker's slot.
  Task task = nullptr;
  void *frame = nullptr;
  int64_t extent = 0, grain = 1, ranges = 0;
  uint64_t calls = 0;
  /// Workers that have not yet finished their range of the current call.
  std::atomic<int> pending{0};
  std::atomic<int64_t> regions{0};
  /// The process that started the workers (a forked child has none).
  int owner;
};

/// Points `module`'s parallel-for hook at `pool` (modules compiled without
/// one, or a null pool, keep running every loop on the calling thread).
/// Returns whether the module has the hook.
bool installParallelForHook(const HostModule &module, ThreadPool *pool);

} // namespace dsc::runtime

#endif // DSC_RUNTIME_THREADPOOL_H

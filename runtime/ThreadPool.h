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

#include <cstdint>
#include <memory>
#include <utility>

#include <sys/types.h>

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

  int threads() const { return threadCount; }

  /// Runs `task` on ranges that cover [0, extent), each starting at a
  /// multiple of `grain` (>= 1), at most one per thread, and returns when
  /// all have run. One call at a time (the session's); a call from inside
  /// a task (a nested loop), or in a process forked from the one that made
  /// the pool (which has no workers), runs on the calling thread alone.
  void parallelFor(Task task, void *frame, int64_t extent, int64_t grain);

  /// Calls that ran on more than one thread.
  int64_t parallelRegions() const;

  /// Range `index` of `count` over [0, extent): whole grains, the first
  /// ranges one grain longer when they do not divide evenly.
  static std::pair<int64_t, int64_t> range(int64_t index, int64_t count,
                                           int64_t extent, int64_t grain);

  /// The cores this process may use, at least 1: its CPU affinity, and no
  /// more than its cgroup's CPU quota (cpu.max) allows, rounded up.
  static int availableCores();

private:
  /// What the workers share with the calling thread. On the heap: a child
  /// forked while the workers ran has copies of their mutex and condition
  /// variable (possibly locked, or with waiters that will never wake) and
  /// no workers to join, so it leaks this instead of destroying it.
  struct State;

  std::unique_ptr<State> state;
  int threadCount = 1;
  /// The process that started the workers.
  pid_t owner;
};

/// Points `module`'s parallel-for hook at `pool` (modules compiled without
/// one, or a null pool, keep running every loop on the calling thread).
/// Returns whether the module has the hook.
bool installParallelForHook(const HostModule &module, ThreadPool *pool);

} // namespace dsc::runtime

#endif // DSC_RUNTIME_THREADPOOL_H

//===- ThreadPool.cpp - The threads of the CPU code's parallel loops ------===//

#include "runtime/ThreadPool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sched.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DSC_CPU_RELAX() _mm_pause()
#else
#define DSC_CPU_RELAX() std::this_thread::yield()
#endif

namespace dsc::runtime {
namespace {

/// How long a worker polls for its next range before it sleeps. A decode
/// step's GEMMs come tens of microseconds apart: polling keeps a worker's
/// wake-up at about a cache miss, where sleeping costs a futex wake
/// (several microseconds) per GEMM.
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

/// Set while this thread runs a range: a parallel loop inside it runs
/// serially (its pool is busy with the outer loop).
thread_local bool inRange = false;

struct RangeScope {
  RangeScope() { inRange = true; }
  ~RangeScope() { inRange = false; }
};

/// The cores cgroup v2's cpu.max allows ("QUOTA PERIOD", or "max PERIOD"
/// for no limit), rounded up; 0 when there is no limit or no such file.
int cgroupCores() {
  std::ifstream file("/sys/fs/cgroup/cpu.max");
  std::string quota;
  double period = 0;
  if (!(file >> quota >> period) || quota == "max" || period <= 0)
    return 0;
  char *end = nullptr;
  double value = std::strtod(quota.c_str(), &end);
  if (end == quota.c_str() || *end || value <= 0)
    return 0;
  return std::max(1, int(std::ceil(value / period)));
}

} // namespace

struct ThreadPool::State {
  /// A worker's mailbox: the number of the last call it was given a range
  /// of. Only the workers a call needs are woken.
  struct alignas(64) Slot {
    std::atomic<uint64_t> call{0};
  };

  explicit State(int threads) : slots(std::make_unique<Slot[]>(threads)) {}

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
};

ThreadPool::ThreadPool(int threads)
    : threadCount(std::clamp(threads, 1, kMaxThreads)), owner(getpid()) {
  state = std::make_unique<State>(threadCount);
  try {
    for (int i = 1; i < threadCount; ++i)
      state->workers.emplace_back([s = state.get(), i] { s->work(i); });
  } catch (...) {
    // Joinable threads must not be destroyed: stop the ones started.
    state->stop();
    throw;
  }
}

ThreadPool::~ThreadPool() {
  if (getpid() != owner) {
    (void)state.release(); // A forked child: see State.
    return;
  }
  state->stop();
}

void ThreadPool::State::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopping.store(true, std::memory_order_release);
  }
  wake.notify_all();
  for (std::thread &worker : workers)
    worker.join();
  workers.clear();
}

int64_t ThreadPool::parallelRegions() const {
  return state->regions.load(std::memory_order_relaxed);
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
  int cores = std::max<int>(std::thread::hardware_concurrency(), 1);
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    cores = std::max(CPU_COUNT(&set), 1);
  if (int quota = cgroupCores(); quota > 0)
    cores = std::min(cores, quota);
  return cores;
}

void ThreadPool::parallelFor(Task fn, void *data, int64_t size, int64_t step) {
  step = std::max<int64_t>(step, 1);
  int64_t grains = (size + step - 1) / step;
  int64_t count = std::min<int64_t>(grains, threadCount);
  // In a child forked after the pool started, no worker exists: serial.
  // (getpid is a system call, a fraction of a microsecond next to a GEMM
  // of the threshold's size.)
  if (count <= 1 || inRange || getpid() != owner) {
    if (size > 0)
      fn(data, 0, size);
    return;
  }
  State &s = *state;
  // Workers 1 .. count-1 each get one range; the others are not woken.
  // The fields are written before the slots (release) and read after
  // (acquire); the next call writes them only once every range is done.
  s.task = fn;
  s.frame = data;
  s.extent = size;
  s.grain = step;
  s.ranges = count;
  s.pending.store(int(count - 1), std::memory_order_relaxed);
  ++s.calls;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    for (int64_t i = 1; i < count; ++i)
      s.slots[i].call.store(s.calls, std::memory_order_release);
  }
  s.wake.notify_all();
  {
    RangeScope scope;
    auto [begin, end] = range(0, count, size, step);
    fn(data, begin, end);
  }
  for (int spins = 0; s.pending.load(std::memory_order_acquire) != 0; ++spins)
    relax(spins);
  s.regions.fetch_add(1, std::memory_order_relaxed);
}

void ThreadPool::State::work(int index) {
  std::atomic<uint64_t> &mailbox = slots[index].call;
  uint64_t seen = 0;
  while (true) {
    // Poll for a while, then sleep until a call gives this worker a range.
    auto deadline = std::chrono::steady_clock::now() + kPollTime;
    uint64_t current = mailbox.load(std::memory_order_acquire);
    for (int spins = 0; current == seen; ++spins) {
      if (stopping.load(std::memory_order_acquire))
        return;
      if (spins % 64 == 63 && std::chrono::steady_clock::now() > deadline) {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] {
          return stopping.load(std::memory_order_acquire) ||
                 mailbox.load(std::memory_order_acquire) != seen;
        });
      }
      relax(spins);
      current = mailbox.load(std::memory_order_acquire);
    }
    seen = current;
    {
      RangeScope scope;
      auto [begin, end] = ThreadPool::range(index, ranges, extent, grain);
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

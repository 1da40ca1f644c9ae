//===- ThreadPoolTest.cpp - The CPU code's parallel-for threads -----------===//

#include "runtime/ThreadPool.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using dsc::runtime::ThreadPool;

namespace {

/// What the tasks of one parallelFor saw.
struct Seen {
  std::vector<std::atomic<int>> runs; // Per index: how many ranges held it.
  std::mutex mutex;
  std::vector<std::pair<int64_t, int64_t>> ranges;
  std::set<std::thread::id> threads;

  explicit Seen(int64_t extent) : runs(extent) {}

  static void task(void *frame, int64_t begin, int64_t end) {
    auto *seen = static_cast<Seen *>(frame);
    for (int64_t i = begin; i < end; ++i)
      seen->runs[i].fetch_add(1);
    std::lock_guard<std::mutex> lock(seen->mutex);
    seen->ranges.emplace_back(begin, end);
    seen->threads.insert(std::this_thread::get_id());
  }
};

TEST(ThreadPool, RangesCoverTheExtentOnceFromMultiplesOfTheGrain) {
  for (int64_t count : {1, 2, 3, 7})
    for (int64_t extent : {1, 15, 16, 17, 100, 1408, 4096})
      for (int64_t grain : {1, 16, 64}) {
        int64_t next = 0;
        for (int64_t i = 0; i < count; ++i) {
          auto [begin, end] = ThreadPool::range(i, count, extent, grain);
          EXPECT_EQ(begin, next) << count << " " << extent << " " << grain;
          EXPECT_LE(begin, end);
          EXPECT_TRUE(begin == extent || begin % grain == 0);
          next = end;
        }
        EXPECT_EQ(next, extent) << count << " " << extent << " " << grain;
      }
  // Whole grains, the first ranges one longer: 5 grains over 3 ranges.
  EXPECT_EQ(ThreadPool::range(0, 3, 80, 16), std::make_pair(0L, 32L));
  EXPECT_EQ(ThreadPool::range(1, 3, 80, 16), std::make_pair(32L, 64L));
  EXPECT_EQ(ThreadPool::range(2, 3, 80, 16), std::make_pair(64L, 80L));
}

TEST(ThreadPool, RunsEveryIndexOnceOnSeveralThreads) {
  ThreadPool pool(4);
  EXPECT_EQ(pool.threads(), 4);
  Seen seen(1000);
  pool.parallelFor(&Seen::task, &seen, 1000, 16);
  for (int64_t i = 0; i < 1000; ++i)
    ASSERT_EQ(seen.runs[i].load(), 1) << "index " << i;
  EXPECT_EQ(seen.ranges.size(), 4u);
  for (auto [begin, end] : seen.ranges)
    EXPECT_EQ(begin % 16, 0);
  EXPECT_EQ(seen.threads.size(), 4u);
  EXPECT_EQ(pool.parallelRegions(), 1);
}

TEST(ThreadPool, SmallExtentsRunOnTheCallingThread) {
  ThreadPool pool(3);
  for (int64_t extent : {0, 1, 16}) {
    Seen seen(extent);
    pool.parallelFor(&Seen::task, &seen, extent, 16);
    for (int64_t i = 0; i < extent; ++i)
      EXPECT_EQ(seen.runs[i].load(), 1);
    EXPECT_EQ(seen.ranges.size(), extent ? 1u : 0u);
    if (extent) {
      EXPECT_EQ(*seen.threads.begin(), std::this_thread::get_id());
    }
  }
  EXPECT_EQ(pool.parallelRegions(), 0);
  // Two grains on three threads: two ranges.
  Seen two(20);
  pool.parallelFor(&Seen::task, &two, 20, 16);
  EXPECT_EQ(two.ranges.size(), 2u);
  EXPECT_EQ(pool.parallelRegions(), 1);
}

TEST(ThreadPool, OneThreadIsTheCaller) {
  ThreadPool pool(1);
  EXPECT_EQ(pool.threads(), 1);
  Seen seen(100);
  pool.parallelFor(&Seen::task, &seen, 100, 1);
  EXPECT_EQ(seen.ranges.size(), 1u);
  EXPECT_EQ(pool.parallelRegions(), 0);
}

// Calls back to back, of different extents: each sees only its own ranges
// (a worker still reading one call's fields when the next is published
// would run a range twice or miss one).
TEST(ThreadPool, ManyCallsBackToBack) {
  ThreadPool pool(3);
  for (int call = 0; call < 2000; ++call) {
    int64_t extent = 1 + (call * 37) % 300;
    Seen seen(extent);
    pool.parallelFor(&Seen::task, &seen, extent, 8);
    for (int64_t i = 0; i < extent; ++i)
      ASSERT_EQ(seen.runs[i].load(), 1) << "call " << call << " index " << i;
  }
}

// Workers that slept (past their polling time) wake for the next call.
TEST(ThreadPool, WakesSleepingWorkers) {
  ThreadPool pool(2);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  Seen seen(64);
  pool.parallelFor(&Seen::task, &seen, 64, 16);
  EXPECT_EQ(seen.threads.size(), 2u);
  for (int64_t i = 0; i < 64; ++i)
    EXPECT_EQ(seen.runs[i].load(), 1);
}

// A parallel loop inside a range (from the caller's range and from the
// workers') runs on its own thread alone, and the outer loop completes.
struct Nested {
  ThreadPool *pool;
  std::atomic<int64_t> inner{0};
  static void inner_(void *frame, int64_t begin, int64_t end) {
    static_cast<Nested *>(frame)->inner.fetch_add(end - begin);
  }
  static void outer(void *frame, int64_t begin, int64_t end) {
    auto *nested = static_cast<Nested *>(frame);
    for (int64_t i = begin; i < end; ++i)
      nested->pool->parallelFor(&Nested::inner_, frame, 64, 16);
  }
};

TEST(ThreadPool, NestedLoopsRunOnTheirThread) {
  ThreadPool pool(3);
  Nested nested{&pool};
  pool.parallelFor(&Nested::outer, &nested, 6, 1);
  EXPECT_EQ(nested.inner.load(), 6 * 64);
  EXPECT_EQ(pool.parallelRegions(), 1);
}

// A child forked after the pool started has no workers: its loops run on
// its one thread instead of waiting for them forever, and destroying the
// pool does not wait for them either.
TEST(ThreadPool, ForkedChildRunsSerially) {
  auto pool = std::make_unique<ThreadPool>(2);
  Seen warm(64);
  pool->parallelFor(&Seen::task, &warm, 64, 16);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    alarm(20); // A hang ends the child: the test fails, not times out.
    Seen seen(64);
    pool->parallelFor(&Seen::task, &seen, 64, 16);
    bool serial = seen.ranges.size() == 1 && seen.runs[63].load() == 1;
    pool.reset(); // Must not wait for the parent's workers.
    _exit(serial ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(ThreadPool, ThreadCountsAreClamped) {
  EXPECT_EQ(ThreadPool(0).threads(), 1);
  EXPECT_EQ(ThreadPool(-3).threads(), 1);
}

TEST(ThreadPool, AvailableCoresIsPositive) {
  EXPECT_GE(ThreadPool::availableCores(), 1);
}

} // namespace

// ThreadPool: parallel_for covers [0, n) exactly once with grain-aligned
// ranges, a thread index never runs two ranges at once, the caller runs
// index 0, the pool is reusable and shuts down promptly. Which thread gets
// which range depends on timing (idle threads steal unclaimed chunks);
// that results do not is tested where results are computed
// (TransformerThreads, the kernels' split tests).
#include "llama2/thread_pool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <tuple>
#include <vector>

namespace llama2 {
namespace {

struct Range {
  std::size_t begin, end;
  int thread;
  bool operator==(const Range&) const = default;
};

// Runs one parallel_for and returns every (begin, end, thread) call, sorted.
std::vector<Range> record(ThreadPool& pool, std::size_t n, std::size_t grain) {
  std::mutex mu;
  std::vector<Range> ranges;
  pool.parallel_for(
      n,
      [&](std::size_t b, std::size_t e, int t) {
        std::lock_guard<std::mutex> lock(mu);
        ranges.push_back({b, e, t});
      },
      grain);
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  return ranges;
}

TEST(ThreadPool, RangesCoverEachIndexExactlyOnce) {
  for (int threads : {1, 2, 3, 4, 7}) {
    ThreadPool pool(threads);
    ASSERT_EQ(pool.size(), threads);
    for (std::size_t n : {1u, 2u, 3u, 5u, 6u, 7u, 16u, 17u, 100u, 257u, 1000u}) {
      for (std::size_t grain : {0u, 1u, 2u, 3u, 16u, 64u, 5000u}) {
        SCOPED_TRACE("threads " + std::to_string(threads) + " n " + std::to_string(n) + " grain " +
                     std::to_string(grain));
        std::vector<std::atomic<int>> hits(n);
        pool.parallel_for(
            n,
            [&](std::size_t b, std::size_t e, int t) {
              EXPECT_LT(b, e);
              EXPECT_LE(e, n);
              EXPECT_GE(t, 0);
              EXPECT_LT(t, threads);
              for (std::size_t i = b; i < e; i++) hits[i]++;
            },
            grain);
        for (std::size_t i = 0; i < n; i++) ASSERT_EQ(hits[i].load(), 1) << "index " << i;

        // Ranges tile [0, n) and are grain-aligned.
        const std::size_t g = grain == 0 ? 1 : grain;
        auto ranges = record(pool, n, grain);
        ASSERT_FALSE(ranges.empty());
        EXPECT_EQ(ranges.front().begin, 0u);
        EXPECT_EQ(ranges.back().end, n);
        for (std::size_t k = 0; k < ranges.size(); k++) {
          if (k > 0) EXPECT_EQ(ranges[k].begin, ranges[k - 1].end);
          EXPECT_EQ(ranges[k].begin % g, 0u);
          if (ranges[k].end != n) EXPECT_EQ((ranges[k].end - ranges[k].begin) % g, 0u);
        }
      }
    }
  }
}

TEST(ThreadPool, ZeroItemsCallsNothing) {
  ThreadPool pool(3);
  int calls = 0;
  pool.parallel_for(0, [&](std::size_t, std::size_t, int) { calls++; });
  EXPECT_EQ(calls, 0);
}

TEST(ThreadPool, WorkIsSpreadOverThreads) {
  // Enough work per chunk that every worker wakes before the caller is done:
  // more than one thread index takes part.
  ThreadPool pool(3);
  std::mutex mu;
  std::vector<int> threads;
  pool.parallel_for(3000, [&](std::size_t b, std::size_t e, int t) {
    volatile double sink = 0;
    for (std::size_t i = b; i < e; i++)
      for (int k = 0; k < 20000; k++) sink = sink + double(k);
    std::lock_guard<std::mutex> lock(mu);
    threads.push_back(t);
  }, 1);
  std::sort(threads.begin(), threads.end());
  EXPECT_GT(std::unique(threads.begin(), threads.end()) - threads.begin(), 1);
}

// A thread that stalls in the first piece of its share (a vCPU the
// hypervisor paused, a worker that woke late) holds back only that piece:
// the other thread takes the rest of the share. Item 0 waits until another
// thread has computed an item of its share, [0, 32); had its thread claimed
// the whole share at once, nobody could, and the wait would run out.
TEST(ThreadPool, AStalledThreadKeepsOnlyThePieceItIsIn) {
  ThreadPool pool(2);
  constexpr std::size_t kItems = 64;  // shares [0, 32) and [32, 64), grain 1
  std::vector<std::atomic<int>> by(kItems);  // (kItems) 1 + the thread that computed each item, 0 before
  bool helped = false;
  pool.parallel_for(kItems, [&](std::size_t b, std::size_t e, int t) {
    for (std::size_t i = b; i < e; i++) {
      if (i == 0) {
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!helped && std::chrono::steady_clock::now() < give_up) {
          for (std::size_t j = 1; j < kItems / 2 && !helped; j++) {
            const int who = by[j].load();
            helped = who != 0 && who != t + 1;
          }
          std::this_thread::yield();
        }
      }
      by[i].store(t + 1);
    }
  }, 1);
  EXPECT_TRUE(helped) << "the rest of a stalled thread's share waited for it";
  for (std::size_t i = 0; i < kItems; i++) EXPECT_NE(by[i].load(), 0) << "item " << i;
}

// A thread index is one thread: its calls never overlap, so a per-index
// scratch buffer (forward_batch's attention scratch) is safe.
TEST(ThreadPool, EachThreadIndexRunsOneRangeAtATime) {
  for (int threads : {2, 3, 8}) {
    ThreadPool pool(threads);
    std::vector<std::atomic<int>> running(static_cast<std::size_t>(threads));
    std::atomic<int> overlaps{0};
    for (int rep = 0; rep < 200; rep++) {
      pool.parallel_for(257, [&](std::size_t, std::size_t, int t) {
        if (running[std::size_t(t)].fetch_add(1) != 0) overlaps++;
        std::this_thread::yield();
        running[std::size_t(t)].fetch_sub(1);
      }, 1);
    }
    EXPECT_EQ(overlaps.load(), 0) << threads << " threads";
  }
}

TEST(ThreadPool, CallerRunsShareZero) {
  ThreadPool pool(3);
  const auto caller = std::this_thread::get_id();
  std::mutex mu;
  std::vector<std::pair<int, std::thread::id>> who;
  pool.parallel_for(30, [&](std::size_t, std::size_t, int t) {
    std::lock_guard<std::mutex> lock(mu);
    who.emplace_back(t, std::this_thread::get_id());
  });
  ASSERT_GE(who.size(), 1u);
  bool caller_ran = false;
  for (auto [t, id] : who) {
    if (t == 0) {
      EXPECT_EQ(id, caller);
      caller_ran = true;
    } else {
      EXPECT_NE(id, caller);
    }
  }
  EXPECT_TRUE(caller_ran) << "the caller takes its own share first";
}

TEST(ThreadPool, ReusedAcross10000Calls) {
  ThreadPool pool(2);
  std::atomic<std::size_t> total{0};
  std::vector<std::size_t> per_index(37, 0);
  for (int call = 0; call < 10000; call++) {
    pool.parallel_for(
        37,
        [&](std::size_t b, std::size_t e, int) {
          for (std::size_t i = b; i < e; i++) per_index[i]++;  // disjoint ranges: no race
          total += e - b;
        },
        call % 5);
  }
  EXPECT_EQ(total.load(), 370000u);
  for (std::size_t i = 0; i < 37; i++) EXPECT_EQ(per_index[i], 10000u) << i;
}

TEST(ThreadPool, DestructorJoinsPromptly) {
  using Clock = std::chrono::steady_clock;
  for (bool idle_first : {false, true}) {
    auto pool = std::make_unique<ThreadPool>(4);
    std::atomic<int> sum{0};
    pool->parallel_for(100, [&](std::size_t b, std::size_t e, int) { sum += int(e - b); });
    EXPECT_EQ(sum.load(), 100);
    // After a pause the workers have stopped spinning and sleep on the atomic.
    if (idle_first) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto start = Clock::now();
    pool.reset();
    EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(500)) << (idle_first ? "idle pool" : "busy pool");
  }
  // A pool that never ran a job.
  auto start = Clock::now();
  { ThreadPool fresh(4); }
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(500));
}

TEST(ThreadPool, DefaultSizeIsHardwareThreads) {
  EXPECT_GE(hardware_threads(), 1);
  EXPECT_EQ(ThreadPool(0).size(), hardware_threads());
  EXPECT_EQ(ThreadPool(-2).size(), hardware_threads());
  EXPECT_EQ(ThreadPool(1).size(), 1);
  EXPECT_EQ(ThreadPool(5).size(), 5);
}

}  // namespace
}  // namespace llama2

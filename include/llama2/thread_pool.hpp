// ThreadPool: a fixed set of std::threads that run parallel loops.
//
// Threads are created once and reused for every matmul of every token.
// Each thread's share of a loop is a contiguous range of chunks, which it
// claims from the front a piece at a time, the pieces shrinking as the share
// does; a thread that has finished its own share steals the back half of
// what another has not claimed yet, so a thread the OS has not scheduled, or
// has paused (more threads than cores, a busy machine, a VM's vCPU), holds
// up nobody for long. Which thread computes an output never changes how
// that output is computed: results do not depend on the thread count or on
// the timing.
// Idle workers spin briefly (a matmul follows another within microseconds)
// and then sleep on an atomic wait, so an idle pool uses no CPU.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace llama2 {

class ThreadPool {
 public:
  // n_threads <= 0 means one thread per hardware core.
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(begin, end, thread_index) on disjoint ranges covering [0, n),
  // ranges a multiple of `grain` long (but the last), and returns when all are done.
  // The calling thread runs a share too. Not reentrant.
  void parallel_for(std::size_t n, const std::function<void(std::size_t, std::size_t, int)>& fn,
                    std::size_t grain = 1);

  // The grain for items that cost `work_per_item` multiply-adds each: the
  // smallest multiple of `multiple` whose chunk is worth waking a thread for
  // (waking and joining costs about as much as a few thousand multiply-adds).
  // Small loops then run on the calling thread alone.
  static std::size_t grain_for(std::size_t work_per_item, std::size_t multiple = 1);

 private:
  void worker(int index);
  // Claims and runs chunks as thread `index`: its own share, then stolen
  // halves of the others' until none is left.
  void work(int index);
  // Runs chunks [c0, c1) of the job as thread `index` and counts them done.
  void run_chunks(std::size_t c0, std::size_t c1, int index);

  int n_threads_ = 1;
  std::vector<std::thread> workers_;
  const std::function<void(std::size_t, std::size_t, int)>* job_ = nullptr;
  std::size_t job_n_ = 0;
  std::size_t job_grain_ = 1;
  std::size_t job_chunks_ = 0;
  // (n_threads) each thread's unclaimed chunks [begin, end) of the current
  // job, packed as begin << 32 | end; claimed by compare-and-swap.
  std::unique_ptr<std::atomic<std::uint64_t>[]> shares_;
  std::atomic<std::uint32_t> generation_{0};
  std::atomic<std::size_t> chunks_done_{0};
  std::atomic<bool> stop_{false};
};

// The number of hardware threads (at least 1).
int hardware_threads();

}  // namespace llama2

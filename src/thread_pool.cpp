#include "llama2/thread_pool.hpp"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LLAMA2_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define LLAMA2_CPU_RELAX() asm volatile("yield")
#else
#define LLAMA2_CPU_RELAX() ((void)0)
#endif

namespace llama2 {

namespace {

// How long a waiting thread spins before it sleeps. Matmuls follow each other
// within microseconds while a token is generated, so spinning hides the cost
// of a futex wake-up; an idle pool sleeps after kSpinTime. After kPauseTime
// the spin yields the core at each turn, so that on a machine with more
// runnable threads than cores the thread we wait for can run.
constexpr auto kPauseTime = std::chrono::microseconds(20);
constexpr auto kSpinTime = std::chrono::microseconds(200);

// Spins until pred() holds or kSpinTime passes; returns pred().
template <typename Pred>
bool spin_until(Pred pred) {
  auto start = std::chrono::steady_clock::now();
  bool yielding = false;
  for (int i = 1;; i++) {
    if (pred()) return true;
    if (yielding) {
      std::this_thread::yield();
    } else {
      LLAMA2_CPU_RELAX();
    }
    if ((i & 15) == 0) {
      auto waited = std::chrono::steady_clock::now() - start;
      if (waited > kSpinTime) return pred();
      yielding = waited > kPauseTime;
    }
  }
}

}  // namespace

int hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool::ThreadPool(int n_threads)
    : n_threads_(n_threads <= 0 ? hardware_threads() : n_threads),
      shares_(new std::atomic<std::uint64_t>[std::size_t(n_threads_)]) {
  for (int i = 0; i < n_threads_; i++) shares_[std::size_t(i)].store(0, std::memory_order_relaxed);
  workers_.reserve(n_threads_ - 1);
  for (int i = 1; i < n_threads_; i++) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

namespace {
constexpr std::uint64_t pack(std::uint64_t begin, std::uint64_t end) { return begin << 32 | end; }
constexpr std::uint64_t begin_of(std::uint64_t share) { return share >> 32; }
constexpr std::uint64_t end_of(std::uint64_t share) { return share & 0xffffffffu; }
}  // namespace

void ThreadPool::run_chunks(std::size_t c0, std::size_t c1, int index) {
  // Read before the chunks count as done: once they all do, the caller may
  // return and set up the next job.
  const std::size_t total = job_chunks_;
  (*job_)(c0 * job_grain_, std::min(job_n_, c1 * job_grain_), index);
  const std::size_t done = chunks_done_.fetch_add(c1 - c0, std::memory_order_acq_rel) + (c1 - c0);
  if (done == total) chunks_done_.notify_one();
}

// A claim that succeeds is the current job's: the job does not end (and the
// next cannot start) before its claimed chunks are counted done, and every
// share was stored after the job's fields. So a worker that slept through
// whole jobs and wakes late at worst finds every share empty.
void ThreadPool::work(int index) {
  // Own share from the front, a quarter of what is left at a time (at
  // least one chunk): long runs while there is much to do, so a matvec
  // streams its rows, and short ones at the end, so that a thread that
  // finishes first (a vCPU the hypervisor paused, a worker that woke late)
  // still finds the back half of the rest to take. Claiming the whole share
  // at once left the other thread idle for as long as the slower one lagged.
  std::atomic<std::uint64_t>& own = shares_[std::size_t(index)];
  for (std::uint64_t v = own.load(std::memory_order_acquire); begin_of(v) < end_of(v);) {
    const std::uint64_t upto = begin_of(v) + std::max<std::uint64_t>(1, (end_of(v) - begin_of(v)) / 4);
    if (own.compare_exchange_weak(v, pack(upto, end_of(v)), std::memory_order_acq_rel)) {
      run_chunks(begin_of(v), upto, index);
      v = own.load(std::memory_order_acquire);
    }
  }
  // Steal: the back half of another thread's unclaimed chunks, until none is left.
  for (bool found = true; found;) {
    found = false;
    for (int k = 1; k < n_threads_; k++) {
      std::atomic<std::uint64_t>& victim = shares_[std::size_t((index + k) % n_threads_)];
      std::uint64_t v = victim.load(std::memory_order_acquire);
      while (begin_of(v) < end_of(v)) {
        found = true;
        const std::uint64_t from = end_of(v) - (end_of(v) - begin_of(v) + 1) / 2;
        if (victim.compare_exchange_weak(v, pack(begin_of(v), from), std::memory_order_acq_rel)) {
          run_chunks(from, end_of(v), index);
          break;
        }
      }
    }
  }
}

void ThreadPool::worker(int index) {
  std::uint32_t seen = 0;
  for (;;) {
    auto changed = [&] { return generation_.load(std::memory_order_acquire) != seen; };
    if (!spin_until(changed)) generation_.wait(seen, std::memory_order_acquire);
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load(std::memory_order_acquire)) return;
    work(index);
  }
}

std::size_t ThreadPool::grain_for(std::size_t work_per_item, std::size_t multiple) {
  constexpr std::size_t kMinChunkWork = 16384;  // multiply-adds: a few microseconds
  multiple = std::max<std::size_t>(multiple, 1);
  std::size_t items = (kMinChunkWork + work_per_item - 1) / std::max<std::size_t>(work_per_item, 1);
  return std::max<std::size_t>(1, (items + multiple - 1) / multiple) * multiple;
}

void ThreadPool::parallel_for(std::size_t n, const std::function<void(std::size_t, std::size_t, int)>& fn,
                              std::size_t grain) {
  if (n == 0) return;
  grain = std::max<std::size_t>(grain, 1);
  if (n_threads_ == 1 || n <= grain) {
    fn(0, n, 0);
    return;
  }
  // Chunk indices are packed in 32 bits: coarser chunks (still a multiple of
  // the grain) for a loop of more than 2^32 - 1 of them.
  constexpr std::size_t kMaxChunks = 0xffffffffu;
  if ((n + grain - 1) / grain > kMaxChunks) grain *= ((n + grain - 1) / grain + kMaxChunks - 1) / kMaxChunks;
  job_ = &fn;
  job_n_ = n;
  job_grain_ = grain;
  job_chunks_ = (n + grain - 1) / grain;
  chunks_done_.store(0, std::memory_order_relaxed);
  // Thread i's share: a contiguous run of chunks, as even as they divide.
  const std::size_t threads = std::size_t(n_threads_);
  for (std::size_t i = 0; i < threads; i++) {
    shares_[i].store(pack(job_chunks_ * i / threads, job_chunks_ * (i + 1) / threads), std::memory_order_release);
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  work(0);
  auto done = [&] { return chunks_done_.load(std::memory_order_acquire) == job_chunks_; };
  while (!spin_until(done)) {
    const std::size_t d = chunks_done_.load(std::memory_order_acquire);
    if (d != job_chunks_) chunks_done_.wait(d, std::memory_order_acquire);
  }
  job_ = nullptr;
}

}  // namespace llama2

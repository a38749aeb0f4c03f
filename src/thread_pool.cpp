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

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads <= 0 ? hardware_threads() : n_threads) {
  workers_.reserve(n_threads_ - 1);
  for (int i = 1; i < n_threads_; i++) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

// Thread `index` of n_threads_ takes a contiguous run of grain-sized chunks.
// The split depends only on (n, grain, n_threads), never on timing.
void ThreadPool::run_share(int index) {
  const std::size_t chunks = (job_n_ + job_grain_ - 1) / job_grain_;
  const std::size_t first = chunks * std::size_t(index) / std::size_t(n_threads_);
  const std::size_t last = chunks * std::size_t(index + 1) / std::size_t(n_threads_);
  if (first == last) return;
  const std::size_t begin = first * job_grain_;
  const std::size_t end = std::min(job_n_, last * job_grain_);
  (*job_)(begin, end, index);
}

void ThreadPool::worker(int index) {
  std::uint64_t seen = 0;
  for (;;) {
    auto changed = [&] { return generation_.load(std::memory_order_acquire) != seen; };
    if (!spin_until(changed)) generation_.wait(seen, std::memory_order_acquire);
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load(std::memory_order_acquire)) return;
    run_share(index);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
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
  job_ = &fn;
  job_n_ = n;
  job_grain_ = grain;
  pending_.store(n_threads_ - 1, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  run_share(0);
  auto done = [&] { return pending_.load(std::memory_order_acquire) == 0; };
  while (!spin_until(done)) {
    int p = pending_.load(std::memory_order_acquire);
    if (p != 0) pending_.wait(p, std::memory_order_acquire);
  }
  job_ = nullptr;
}

}  // namespace llama2

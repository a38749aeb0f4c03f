// Model::kernel_weights: the weights in the layouts this CPU's kernels read
// fastest, made once per model at first use (model.hpp).
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "kernels/kernels.hpp"
#include "kernels/q4_0_x8.hpp"
#include "llama2/model.hpp"
#include "ops.hpp"

namespace llama2 {

namespace {

// Anonymous memory holding the repacked matrices, mapped once for all.
class RepackedBytes {
 public:
  explicit RepackedBytes(std::size_t bytes) {
    // Not madvise(MADV_HUGEPAGE): on the 2-core EPYC VM, first touching
    // 3.6 GiB took 5.8 s in huge pages against 1.2 s in 4 KiB ones.
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    base_ = p;
    size_ = bytes;
    next_ = std::uintptr_t(p);
  }
  ~RepackedBytes() {
    if (base_) ::munmap(base_, size_);
  }
  RepackedBytes(const RepackedBytes&) = delete;
  RepackedBytes& operator=(const RepackedBytes&) = delete;

  bool ok() const { return base_ != nullptr; }
  // The next `bytes` (64-byte aligned).
  void* take(std::size_t bytes) {
    void* p = reinterpret_cast<void*>(next_);
    next_ = (next_ + bytes + 63) / 64 * 64;
    return p;
  }

 private:
  void* base_ = nullptr;
  std::size_t size_ = 0;
  std::uintptr_t next_ = 0;
};

// What the repacked Weights point into.
struct RepackedStorage {
  RepackedBytes bytes;       // the matrices
  std::vector<float> norms;  // (2 * n_layers + 1, dim) the RMSNorm weights, copied from the file
  explicit RepackedStorage(std::size_t n) : bytes(n) {}
};

bool repack_enabled() {
  const char* env = std::getenv("LLAMA2_REPACK");
  return !(env && std::string_view(env) == "0");
}

// The matrices Transformer multiplies by (not the embedding table, which is
// read a row at a time; the classifier only when it is not that table).
std::vector<Tensor*> matrices(Weights& w) {
  std::vector<Tensor*> out;
  for (LayerWeights& l : w.layers) {
    for (Tensor* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w1, &l.w2, &l.w3}) out.push_back(t);
  }
  if (w.wcls.data != w.token_embedding.data) out.push_back(&w.wcls);
  return out;
}

// Q4_0 goes to 8-row tiles when this CPU's table reads those (AVX2) and
// the activations are rounded to 8 bits (the only path the tiles have).
bool wants_x8(const Tensor& t) {
  return t.type == WeightType::Q4_0 && t.cols % kQK == 0 && int8_activations() &&
         kernels().weight(WeightType::Q4_0_X8).matvec_int8 != nullptr;
}

// repack_q4_0_x8 of t into dst, its rows split between n_threads threads:
// most of the time goes to the kernel's zeroing of the fresh pages (1.2 s
// for a 7B's 3.6 GiB on one core of the 2-core EPYC VM), which threads share.
void repack_in_threads(const Tensor& t, void* dst, unsigned n_threads) {
  const std::size_t groups = (t.rows + 7) / 8, per_thread = (groups + n_threads - 1) / n_threads;
  std::vector<std::thread> threads;
  for (std::size_t g0 = per_thread; g0 < groups; g0 += per_thread) {
    const std::size_t r0 = 8 * g0, r1 = std::min(t.rows, 8 * (g0 + per_thread));
    threads.emplace_back([&t, dst, r0, r1] { repack_q4_0_x8_rows(t.data, dst, t.rows, t.cols, r0, r1); });
  }
  repack_q4_0_x8_rows(t.data, dst, t.rows, t.cols, 0, std::min(t.rows, 8 * per_thread));
  for (std::thread& th : threads) th.join();
}

}  // namespace

const Weights& Model::kernel_weights() const {
  KernelWeights& kw = *kernel_weights_;
  std::call_once(kw.once, [&] {
    kw.weights = weights_;
    if (!repack_enabled()) return;
    std::vector<Tensor*> todo;
    std::size_t bytes = 0;
    for (Tensor* t : matrices(kw.weights)) {
      if (!wants_x8(*t)) continue;
      todo.push_back(t);
      bytes += (t->rows * row_bytes(t->type, t->cols) + 63) / 64 * 64;
    }
    if (todo.empty()) return;
    auto storage = std::make_shared<RepackedStorage>(bytes);
    if (!storage->bytes.ok()) return;  // no memory for the copy: the file's layout is as correct
    // The norms sit between the matrices in the file: read there at every
    // token, they would map back the pages around them (up to a folio of
    // the released neighbours: 100 MiB over a 7B). Copied first, so their
    // neighbours' pages go with the matrices' releases below.
    const std::size_t dim = std::size_t(config_.dim);
    storage->norms.resize((2 * kw.weights.layers.size() + 1) * dim);
    float* norm = storage->norms.data();
    const auto copy_norm = [&](const float*& v) {
      std::copy_n(v, dim, norm);
      v = norm;
      norm += dim;
    };
    for (LayerWeights& l : kw.weights.layers) copy_norm(l.rms_att), copy_norm(l.rms_ffn);
    copy_norm(kw.weights.rms_final);
    const unsigned n_threads = std::max(1u, std::thread::hardware_concurrency());
    for (Tensor* t : todo) {
      const std::size_t n = t->rows * row_bytes(t->type, t->cols);
      void* dst = storage->bytes.take(n);
      repack_in_threads(*t, dst, n_threads);
      if (file_) file_->release(t->data, n);  // the copy replaces these pages
      t->data = dst;
      t->type = WeightType::Q4_0_X8;
    }
    kw.storage = std::move(storage);
  });
  return kw.weights;
}

}  // namespace llama2

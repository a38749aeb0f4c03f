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
#include "kernels/row_pairs.hpp"
#include "kernels/weight_types.hpp"
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

// The layout t goes to, or t.type for none: Q4_0 to 8-row tiles
// (q4_0_x8.hpp), Q4_K / Q5_K / Q6_K to row pairs (row_pairs.hpp), when this
// CPU's table reads those (AVX2) and the activations are rounded to 8 bits
// (the only path they have).
WeightType kernel_layout(const Tensor& t) {
  if (!int8_activations()) return t.type;
  const WeightType to = t.type == WeightType::Q4_0 ? WeightType::Q4_0_X8 : paired_type(t.type);
  if (to == t.type || t.cols % weight_type_info(to).block_size != 0) return t.type;
  return kernels().weight(to).matvec_int8 != nullptr ? to : t.type;
}

// Rows [r0, r1) of t into dst in the layout `to` (r0 a multiple of 8).
void repack_rows(const Tensor& t, WeightType to, void* dst, std::size_t r0, std::size_t r1) {
  if (to == WeightType::Q4_0_X8) return repack_q4_0_x8_rows(t.data, dst, t.rows, t.cols, r0, r1);
  repack_row_pairs(t.data, dst, t.rows, row_bytes(t.type, t.cols), weight_type_info(t.type).block_bytes, r0, r1);
}

// t into dst in the layout `to`, its rows split between n_threads threads
// in multiples of 8: most of the time goes to first touching the fresh
// pages (the kernel's zeroing and, in a VM, the hypervisor's backing), which
// threads share: for a 7B's 3.6 GiB on the 2-core EPYC VM 1.2 s when first
// measured, 10 s on 2026-12-05 (bench/RESULTS.md, eleventh run).
void repack_in_threads(const Tensor& t, WeightType to, void* dst, unsigned n_threads) {
  const std::size_t groups = (t.rows + 7) / 8, per_thread = (groups + n_threads - 1) / n_threads;
  std::vector<std::thread> threads;
  for (std::size_t g0 = per_thread; g0 < groups; g0 += per_thread) {
    const std::size_t r0 = 8 * g0, r1 = std::min(t.rows, 8 * (g0 + per_thread));
    threads.emplace_back([&t, to, dst, r0, r1] { repack_rows(t, to, dst, r0, r1); });
  }
  repack_rows(t, to, dst, 0, std::min(t.rows, 8 * per_thread));
  for (std::thread& th : threads) th.join();
}

}  // namespace

const Weights& Model::kernel_weights() const {
  KernelWeights& kw = *kernel_weights_;
  std::call_once(kw.once, [&] {
    kw.weights = weights_;
    if (!repack_enabled()) return;
    std::vector<std::pair<Tensor*, WeightType>> todo;  // each matrix to repack, and its layout
    std::size_t bytes = 0;
    for (Tensor* t : matrices(kw.weights)) {
      const WeightType to = kernel_layout(*t);
      if (to == t->type) continue;
      todo.emplace_back(t, to);
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
    for (auto [t, to] : todo) {
      const std::size_t n = t->rows * row_bytes(t->type, t->cols);
      void* dst = storage->bytes.take(n);
      repack_in_threads(*t, to, dst, n_threads);
      if (file_) file_->release(t->data, n);  // the copy replaces these pages
      t->data = dst;
      t->type = to;
    }
    kw.storage = std::move(storage);
  });
  return kw.weights;
}

}  // namespace llama2

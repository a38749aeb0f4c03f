// Model::kernel_weights: the weights in the layouts this CPU's kernels read
// fastest, made once per model at first use (model.hpp).
#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "kernels/kernels.hpp"
#include "kernels/weight_types.hpp"
#include "llama2/model.hpp"
#include "ops.hpp"
#include "write_once_memory.hpp"

namespace llama2 {

namespace {

// What the repacked Weights point into.
struct RepackedStorage {
  std::vector<std::unique_ptr<WriteOnceMemory>> memories;  // (threads) the matrices, each thread's in its own
  std::vector<float> norms;  // (2 * n_layers + 1, dim) the RMSNorm weights, copied from the file
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

// The layout t goes to, or t.type for none: the load layout of its type
// (weight_types.hpp: Q4_0 to 16-row tiles or 8-row tiles, Q4_K to 8-row
// tiles, Q5_K and Q6_K to row pairs) that this CPU's table reads (AVX2: Q4_0
// in 8-row tiles; AVX-512: in 16), when the activations are rounded to 8
// bits (the only path the load layouts have).
WeightType kernel_layout(const Tensor& t) {
  if (!int8_activations()) return t.type;
  const WeightType to =
      first_load_layout(t.type, [](WeightType layout) { return kernels().weight(layout).matvec_int8 != nullptr; });
  if (to == t.type || t.cols % weight_type_info(to).block_size != 0) return t.type;
  return to;
}

// A matrix to repack: the tensor, its layout, and where it goes.
struct Repack {
  Tensor* tensor;
  WeightType to;
  std::size_t share = 0;   // the thread that repacks it, and whose memory holds it
  std::size_t offset = 0;  // where it starts in that memory
};

std::size_t matrix_bytes(const Tensor& t) { return t.rows * row_bytes(t.type, t.cols); }

// The rows a thread repacks at a time: at most 1 MiB, and at least 16
// pieces to a matrix when it has the rows (so that the tests' small models
// cut theirs too), in multiples of 16 (repack_layout: every layout's groups).
std::size_t piece_rows(const Tensor& t) {
  return std::max<std::size_t>(16, std::min((std::size_t(1) << 20) / row_bytes(t.type, t.cols), t.rows / 16) / 16 * 16);
}

// Hands the matrices to n threads, largest first to the least loaded, and
// sets each one's share and offset. Returns each share's bytes.
std::vector<std::size_t> share_out(std::vector<Repack>& todo, std::size_t n) {
  std::vector<Repack*> by_size;
  for (Repack& r : todo) by_size.push_back(&r);
  std::stable_sort(by_size.begin(), by_size.end(),
                   [](const Repack* a, const Repack* b) { return matrix_bytes(*a->tensor) > matrix_bytes(*b->tensor); });
  std::vector<std::size_t> bytes(n, 0);
  for (Repack* r : by_size) {
    r->share = std::size_t(std::min_element(bytes.begin(), bytes.end()) - bytes.begin());
    r->offset = bytes[r->share];
    bytes[r->share] += (matrix_bytes(*r->tensor) + 63) / 64 * 64;
  }
  return bytes;
}

// One thread's share: each of its matrices piece by piece, read (`read`:
// from the file by pread where there is one, so that its pages are never
// mapped here), repacked in a buffer and written into the thread's own
// memory. No fresh page is first touched through a mapping, which made
// repacking cost 10 s for a 7B on a VM (write_once_memory.hpp), and no two
// threads write one memfd (they would queue on its lock). Returns false if
// the memory could not take it.
template <class Read>
bool repack_share(const std::vector<Repack>& todo, std::size_t share, WriteOnceMemory& memory, const Read& read) {
  std::size_t scratch = 0;
  for (const Repack& r : todo) {
    if (r.share == share) scratch = std::max(scratch, piece_rows(*r.tensor) * row_bytes(r.tensor->type, r.tensor->cols));
  }
  const auto in = std::make_unique_for_overwrite<std::uint8_t[]>(scratch);   // (scratch) a piece as in the file
  const auto out = std::make_unique_for_overwrite<std::uint8_t[]>(scratch);  // (scratch) the piece repacked
  for (const Repack& r : todo) {
    if (r.share != share) continue;
    const Tensor& t = *r.tensor;
    const std::size_t bytes_per_row = row_bytes(t.type, t.cols), piece = piece_rows(t);
    for (std::size_t r0 = 0; r0 < t.rows; r0 += piece) {
      const std::size_t rows = std::min(piece, t.rows - r0), n = rows * bytes_per_row;
      read(static_cast<const std::uint8_t*>(t.data) + r0 * bytes_per_row, n, in.get());
      repack_layout(r.to, in.get(), out.get(), rows, t.cols);
      if (!memory.write(r.offset + r0 * bytes_per_row, out.get(), n)) return false;
    }
  }
  return true;
}

}  // namespace

const Weights& Model::kernel_weights() const {
  KernelWeights& kw = *kernel_weights_;
  std::call_once(kw.once, [&] {
    kw.weights = weights_;
    if (!repack_enabled()) return;
    std::vector<Repack> todo;  // each matrix to repack
    for (Tensor* t : matrices(kw.weights)) {
      const WeightType to = kernel_layout(*t);
      if (to != t->type) todo.push_back({t, to});
    }
    if (todo.empty()) return;
    const std::size_t n_threads = std::min<std::size_t>(todo.size(), std::max(1u, std::thread::hardware_concurrency()));
    auto storage = std::make_shared<RepackedStorage>();
    for (std::size_t bytes : share_out(todo, n_threads)) {
      storage->memories.push_back(std::make_unique<WriteOnceMemory>(bytes));
      if (!storage->memories.back()->ok()) return;  // no memory for the copy: the file's layout is as correct
    }
    // The matrices' bytes come from the file by read() when it has them.
    const auto read = [file = file_.get()](const std::uint8_t* p, std::size_t n, void* dst) {
      if (file && file->contains(p, n)) return file->read(p, n, dst);
      std::memcpy(dst, p, n);
    };
    std::vector<char> done(n_threads, 0);     // (n_threads) whether each share was repacked whole
    std::vector<std::exception_ptr> errors(n_threads);  // (n_threads) what a read threw
    const auto run_share = [&](std::size_t i) {
      try {
        done[i] = repack_share(todo, i, *storage->memories[i], read);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    };
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < n_threads; i++) threads.emplace_back(run_share, i);
    run_share(0);
    for (std::thread& th : threads) th.join();
    for (const std::exception_ptr& e : errors) {
      if (e) std::rethrow_exception(e);  // the file could not be read: as if forward() had read it
    }
    std::vector<const std::uint8_t*> bases;  // (n_threads) each share's bytes, read-only
    for (std::size_t i = 0; i < n_threads; i++) {
      bases.push_back(done[i] ? storage->memories[i]->seal() : nullptr);
      if (!bases.back()) return;  // no memory: as above
    }
    // The norms sit between the matrices in the file: read there at every
    // token, they would map back the pages around them (up to a folio of
    // the released neighbours: 100 MiB over a 7B). Copied, so that their
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
    for (const Repack& r : todo) {
      // Read by pread, its file pages were never mapped here, unless
      // something touched them before (the mapping brings in neighbours of
      // what is read there): the copy replaces them.
      if (file_) file_->release(r.tensor->data, matrix_bytes(*r.tensor));
      r.tensor->data = bases[r.share] + r.offset;
      r.tensor->type = r.to;
    }
    kw.storage = std::move(storage);
  });
  return kw.weights;
}

}  // namespace llama2

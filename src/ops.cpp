#include "ops.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "kernels/kernels.hpp"

namespace llama2 {

// --- elementwise -------------------------------------------------------------------

void rmsnorm(float* o, const float* x, const float* weight, std::size_t size, float eps) {
  float ss = kernels().sum_squares(x, size);
  ss = 1.0f / std::sqrt(ss / float(size) + eps);
  for (std::size_t j = 0; j < size; j++) o[j] = weight[j] * (ss * x[j]);
}

void softmax(float* x, std::size_t size) {
  float max_val = x[0];
  for (std::size_t i = 1; i < size; i++) max_val = std::max(max_val, x[i]);
  float sum = 0.0f;
  for (std::size_t i = 0; i < size; i++) {
    x[i] = std::exp(x[i] - max_val);
    sum += x[i];
  }
  for (std::size_t i = 0; i < size; i++) x[i] /= sum;
}

void swiglu(float* hb, const float* hb2, std::size_t n) { kernels().swiglu(hb, hb2, n); }

float dot(const float* a, const float* b, std::size_t n) { return kernels().dot(a, b, n); }

void axpy(float* y, float a, const float* x, std::size_t n) { kernels().axpy(y, a, x, n); }

void attention_head(float* out, float* att, const float* q, const float* keys, const float* values,
                    std::size_t n_pos, std::size_t head_size) {
  const Kernels& k = kernels();
  k.attention_scores(att, q, keys, n_pos, head_size, 1.0f / std::sqrt(float(head_size)));
  softmax(att, n_pos);
  k.attention_values(out, att, values, n_pos, head_size);
}

void attention_head(float* out, float* att, const float* q, const KvCache& kv, std::size_t layer,
                    std::size_t kv_head, std::size_t n_pos) {
  const std::size_t hs = kv.head_size();
  if (kv.type() == KvType::F32) {
    attention_head(out, att, q, static_cast<const float*>(kv.keys(layer, kv_head)),
                   static_cast<const float*>(kv.values(layer, kv_head)), n_pos, hs);
    return;
  }
  const Kernels& k = kernels();
  k.attention_scores_f16(att, q, static_cast<const std::uint16_t*>(kv.keys(layer, kv_head)), n_pos, hs,
                         1.0f / std::sqrt(float(hs)));
  softmax(att, n_pos);
  k.attention_values_f16(out, att, static_cast<const std::uint16_t*>(kv.values(layer, kv_head)), n_pos, hs);
}

void rope_angles(float* cos_sin, std::size_t head_size, int pos, float theta) {
  for (std::size_t i = 0; i < head_size; i += 2) {
    float freq = 1.0f / std::pow(theta, float(i) / float(head_size));
    float val = float(pos) * freq;
    cos_sin[i] = std::cos(val);
    cos_sin[i + 1] = std::sin(val);
  }
}

void rope_rotate(float* vec, std::size_t n, std::size_t head_size, const float* cos_sin, RopeStyle style) {
  if (style == RopeStyle::ROTATE_HALF) {
    // HF's pairing: (v[j], v[j + half]) turns by pair j's angle.
    const std::size_t half = head_size / 2;
    for (std::size_t h = 0; h < n; h += head_size) {
      for (std::size_t j = 0; j < half; j++) {
        float fcr = cos_sin[2 * j], fci = cos_sin[2 * j + 1];
        float v0 = vec[h + j], v1 = vec[h + j + half];
        vec[h + j] = v0 * fcr - v1 * fci;
        vec[h + j + half] = v0 * fci + v1 * fcr;
      }
    }
    return;
  }
  for (std::size_t h = 0; h < n; h += head_size) {
    for (std::size_t i = 0; i < head_size; i += 2) {
      float fcr = cos_sin[i], fci = cos_sin[i + 1];
      float v0 = vec[h + i], v1 = vec[h + i + 1];
      vec[h + i] = v0 * fcr - v1 * fci;
      vec[h + i + 1] = v0 * fci + v1 * fcr;
    }
  }
}

// The angles depend on the position and the pair's index within its head
// only: computed once, shared by every head.
void rope(float* vec, std::size_t n, std::size_t head_size, int pos, float theta, RopeStyle style) {
  thread_local std::vector<float> cos_sin;  // (head_size)
  cos_sin.resize(head_size);
  rope_angles(cos_sin.data(), head_size, pos, theta);
  rope_rotate(vec, n, head_size, cos_sin.data(), style);
}

// --- attention over a batch ---------------------------------------------------------
//
// For query block [q0, q0 + nq) the scores are one matrix product,
// (nq, n_keys) = q (nq, head_size) @ keys^T, with keys^T packed once per
// call; each row then gets its causal softmax (row t sees keys 0 .. pos0 + t),
// zeros past its own position, and out (nq, head_size) = att @ values is a
// second matrix product straight from the cache (already k-major: one row
// per position). The zeros add exact nothing, so a row's result does not
// depend on which block it is in.

namespace {
constexpr std::size_t kQueryBlock = 16;  // queries per block: at most 15 wasted keys per query
}  // namespace

std::size_t attention_batch_scratch(std::size_t seq_len, std::size_t head_size) {
  return (head_size + kQueryBlock) * seq_len;
}

void attention_batch(float* out, std::size_t ldo, const float* q, std::size_t ldq, std::size_t n, std::size_t pos0,
                     const float* keys, const float* values, std::size_t head_size, float* scratch) {
  const Kernels& k = kernels();
  const std::size_t n_keys = pos0 + n;
  float* keys_t = scratch;                         // (head_size, n_keys) keys transposed
  float* att = scratch + head_size * n_keys;       // (kQueryBlock, n_keys) scores, then weights
  k.transpose(keys_t, n_keys, keys, head_size, n_keys, head_size);
  const float scale = 1.0f / std::sqrt(float(head_size));
  for (std::size_t q0 = 0; q0 < n; q0 += kQueryBlock) {
    const std::size_t nq = std::min(kQueryBlock, n - q0);
    const std::size_t block_keys = pos0 + q0 + nq;  // keys the block's last query sees
    k.matmat_f32(att, n_keys, keys_t, n_keys, block_keys, q + q0 * ldq, ldq, nq, head_size, false);
    for (std::size_t j = 0; j < nq; j++) {
      const std::size_t n_pos = pos0 + q0 + j + 1;
      k.softmax(att + j * n_keys, n_pos, scale);
      std::fill(att + j * n_keys + n_pos, att + j * n_keys + block_keys, 0.0f);
    }
    k.matmat_f32(out + q0 * ldo, ldo, values, head_size, head_size, att, n_keys, nq, block_keys, false);
  }
}

// --- matmul --------------------------------------------------------------------------

namespace {

// Any type without a kernel: dequantize a row, then a float dot product.
void matmul_dequantize(float* out, const float* x, const Tensor& w, std::size_t r0, std::size_t r1) {
  std::vector<float> buf(w.cols);  // (cols) one dequantized row
  const Kernels& k = kernels();
  for (std::size_t r = r0; r < r1; r++) {
    dequantize_row(w, r, buf.data());
    out[r] = k.dot(buf.data(), x, w.cols);
  }
}

// On unless LLAMA2_INT8_DOT=0 is in the environment.
std::atomic<bool>& int8_switch() {
  static std::atomic<bool> on = [] {
    const char* env = std::getenv("LLAMA2_INT8_DOT");
    return !(env && std::string_view(env) == "0");
  }();
  return on;
}

}  // namespace

bool int8_activations() { return int8_switch().load(std::memory_order_relaxed); }
void set_int8_activations(bool on) { int8_switch().store(on, std::memory_order_relaxed); }

void matmul(float* out, const float* x, const Tensor& w, ThreadPool& pool) {
  const WeightKernels& k = kernels().weight(w.type);
  const WeightRows rows = weight_rows(w);
  // Rows per chunk: a multiple of the kernels' 4-row blocks, and enough work
  // (rows x cols multiply-adds) that a small matmul stays on one thread.
  const std::size_t grain = ThreadPool::grain_for(w.cols, 16);
  if (k.matvec_int8 && int8_activations()) {
    // Round the activations to 8 bits once (kernels.hpp: BlockQ8x32, as
    // llama.cpp does): every row's dot product is then integer, and the
    // weights stream at close to memory speed. Logits move by ~1e-3
    // relative against the unrounded activations.
    thread_local std::vector<BlockQ8x32> xq;  // (cols / 32) blocks
    xq.resize(w.cols / 32);
    quantize_q8x32(x, xq.data(), w.cols);
    const BlockQ8x32* xqp = xq.data();  // the caller's thread_local copy, shared with the workers
    pool.parallel_for(
        w.rows, [&](std::size_t r0, std::size_t r1, int) { k.matvec_int8(out, rows, xqp, r0, r1); }, grain);
    return;
  }
  // Q8_GROUP's groups run over the flattened matrix; only when they do not
  // straddle rows does a row's dot product split into whole groups.
  if (k.matvec && (rows.group_size == 0 || w.cols % rows.group_size == 0)) {
    pool.parallel_for(
        w.rows, [&](std::size_t r0, std::size_t r1, int) { k.matvec(out, rows, x, r0, r1); }, grain);
    return;
  }
  pool.parallel_for(
      w.rows, [&](std::size_t r0, std::size_t r1, int) { matmul_dequantize(out, x, w, r0, r1); }, grain);
}

}  // namespace llama2

namespace llama2 {

// --- batched matmul (prompt) ----------------------------------------------------------
//
// out (n, rows) = x (n, cols) @ w^T as a blocked matrix product. x is first
// copied into slices of up to kDepth columns, (n, depth) each, contiguous. Then
// the threads take panels of kPanel weight rows: each panel is copied
// k-major (the layout matmat_f32 wants; dequantized first for non-fp32
// weights), so every weight is read from memory once, and is swept a slice
// at a time across the tokens: the panel's slice (32 KiB) stays in L1 and
// the x slice in L2 while the kernel's register tiles of tokens stream
// past. The outputs of one slice are the starting sums of the next
// (matmat_f32's accumulate), so every result is one FMA chain over all
// columns, whatever the blocking and the thread split.

namespace {

constexpr std::size_t kPanel = 32;   // weight rows per panel: two AVX-512 registers of outputs
constexpr std::size_t kDepth = 256;  // columns per slice: kDepth * kPanel floats = 32 KiB

}  // namespace

void matmul_batch(std::initializer_list<BatchProduct> products, const float* x, std::size_t n, ThreadPool& pool) {
  if (matmul_batch_int8(std::span<const BatchProduct>(products.begin(), products.size()), x, n, pool)) return;
  for (const BatchProduct& p : products) matmul_batch(p.out, x, n, *p.w, pool);
}

void matmul_batch(float* out, const float* x, std::size_t n, const Tensor& w, ThreadPool& pool) {
  if (matmul_batch_int8(out, x, n, w, pool)) return;  // GGUF Q8_0 / Q4_0 / Q4_K / Q6_K: integer GEMM (matmul_int8.cpp)
  const Kernels& k = kernels();
  const std::size_t cols = w.cols, ldo = w.rows;
  // Slices of equal width, at most kDepth (288 columns: 2 x 144, not 256 + 32).
  const std::size_t n_slices = (cols + kDepth - 1) / kDepth;
  const std::size_t depth = ((cols + n_slices - 1) / n_slices + 15) / 16 * 16;

  thread_local std::vector<float> slices;  // n_slices slices (n, depth) of x; the caller's, shared
  slices.resize(n * cols);
  float* xs = slices.data();
  pool.parallel_for(
      n,
      [&](std::size_t b0, std::size_t b1, int) {
        for (std::size_t k0 = 0; k0 < cols; k0 += depth) {
          const std::size_t kc = std::min(depth, cols - k0);
          for (std::size_t b = b0; b < b1; b++) std::copy_n(x + b * cols + k0, kc, xs + k0 * n + b * kc);
        }
      },
      ThreadPool::grain_for(cols));

  // Few panels (a small model) cannot be shared evenly: split the tokens
  // too, so that there are at least 8 work items per thread.
  const std::size_t panels = (w.rows + kPanel - 1) / kPanel;
  std::size_t token_blocks = 1;
  while (panels * token_blocks < 8 * std::size_t(pool.size()) && n / token_blocks >= 128) token_blocks *= 2;
  const std::size_t block_tokens = ((n + token_blocks - 1) / token_blocks + 7) / 8 * 8;  // whole register tiles
  token_blocks = (n + block_tokens - 1) / block_tokens;
  // Item i: panel i / token_blocks, tokens of block i % token_blocks.
  pool.parallel_for(
      panels * token_blocks,
      [&](std::size_t i0, std::size_t i1, int) {
        thread_local std::vector<float> rows_f32, panel;  // per thread, kept from call to call
        panel.resize(cols * kPanel);                     // (cols, kPanel) the packed panel
        if (w.type != WeightType::F32) rows_f32.resize(kPanel * cols);  // (kPanel, cols) dequantized rows
        std::size_t packed = panels;  // the panel in `panel`: none yet
        for (std::size_t i = i0; i < i1; i++) {
          const std::size_t p = i / token_blocks, r0 = p * kPanel, nr = std::min(kPanel, w.rows - r0);
          if (p != packed) {
            const float* rows;
            if (w.type == WeightType::F32) {
              rows = static_cast<const float*>(w.data) + r0 * cols;
            } else {
              for (std::size_t r = 0; r < nr; r++) dequantize_row(w, r0 + r, rows_f32.data() + r * cols);
              rows = rows_f32.data();
            }
            k.transpose(panel.data(), kPanel, rows, cols, nr, cols);  // lanes nr.. unused
            packed = p;
          }
          const std::size_t b0 = (i % token_blocks) * block_tokens;
          if (b0 >= n) continue;
          const std::size_t nb = std::min(block_tokens, n - b0);
          for (std::size_t k0 = 0; k0 < cols; k0 += depth) {
            const std::size_t kc = std::min(depth, cols - k0);
            k.matmat_f32(out + b0 * ldo + r0, ldo, panel.data() + k0 * kPanel, kPanel, nr, xs + k0 * n + b0 * kc, kc,
                         nb, kc, k0 > 0);
          }
        }
      },
      1);
}

}  // namespace llama2

#include "ops.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "kernels.hpp"
#include "quants.hpp"

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

float dot(const float* a, const float* b, std::size_t n) { return kernels().dot(a, b, n); }

void axpy(float* y, float a, const float* x, std::size_t n) { kernels().axpy(y, a, x, n); }

void attention_head(float* out, float* att, const float* q, const float* keys, const float* values,
                    std::size_t n_pos, std::size_t head_size) {
  const Kernels& k = kernels();
  k.attention_scores(att, q, keys, n_pos, head_size, 1.0f / std::sqrt(float(head_size)));
  softmax(att, n_pos);
  k.attention_values(out, att, values, n_pos, head_size);
}

void rope(float* vec, std::size_t n, std::size_t head_size, int pos, float theta) {
  for (std::size_t i = 0; i < n; i += 2) {
    std::size_t head_dim = i % head_size;
    float freq = 1.0f / std::pow(theta, float(head_dim) / float(head_size));
    float val = float(pos) * freq;
    float fcr = std::cos(val), fci = std::sin(val);
    float v0 = vec[i], v1 = vec[i + 1];
    vec[i] = v0 * fcr - v1 * fci;
    vec[i + 1] = v0 * fci + v1 * fcr;
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

// LLAMA2_INT8_DOT=1 turns on the int8-activation kernels for GGUF Q8_0/Q4_0.
bool int8_activations() {
  static const bool on = [] {
    const char* env = std::getenv("LLAMA2_INT8_DOT");
    return env && std::string_view(env) == "1";
  }();
  return on;
}

}  // namespace

void matmul(float* out, const float* x, const Tensor& w, ThreadPool& pool) {
  const Kernels& k = kernels();
  // Rows per chunk: a multiple of the kernels' 4-row blocks, and enough work
  // (rows x cols multiply-adds) that a small matmul stays on one thread.
  const std::size_t grain = ThreadPool::grain_for(w.cols, 16);
  switch (w.type) {
    case WeightType::F32: {
      const float* base = static_cast<const float*>(w.data);
      pool.parallel_for(
          w.rows, [&](std::size_t r0, std::size_t r1, int) { k.matvec_f32(out, base, x, w.cols, r0, r1); }, grain);
      return;
    }
    case WeightType::Q8_GROUP:
      // Groups run over the flattened matrix; only when they do not straddle
      // rows does a row's dot product split into whole groups.
      if (w.cols % std::size_t(w.group_size) == 0) {
        const std::int8_t* q = static_cast<const std::int8_t*>(w.data);
        pool.parallel_for(
            w.rows,
            [&](std::size_t r0, std::size_t r1, int) {
              k.matvec_q8_group(out, q, w.scales, std::size_t(w.group_size), x, w.cols, r0, r1);
            },
            grain);
        return;
      }
      break;
    case WeightType::F16:
    case WeightType::BF16: {
      const auto* base = static_cast<const std::uint16_t*>(w.data);
      const auto fn = w.type == WeightType::F16 ? k.matvec_f16 : k.matvec_bf16;
      pool.parallel_for(
          w.rows, [&](std::size_t r0, std::size_t r1, int) { fn(out, base, x, w.cols, r0, r1); }, grain);
      return;
    }
    case WeightType::Q8_0:
    case WeightType::Q4_0: {
      // The integer path rounds the activations to 8 bits (as llama.cpp does):
      // logits move by ~1e-3 relative, outside the 1e-4 the engine promises
      // against dequantized weights. Opt-in; by default the fp32 kernels below.
      if (!int8_activations()) {
        const auto fn = w.type == WeightType::Q8_0 ? k.matvec_q8_0_f32 : k.matvec_q4_0_f32;
        const std::size_t stride = row_bytes(w.type, w.cols);
        pool.parallel_for(
            w.rows, [&](std::size_t r0, std::size_t r1, int) { fn(out, w.data, stride, x, w.cols, r0, r1); },
            grain);
        return;
      }
      // Quantize the activations once; every row's dot product is then integer.
      thread_local std::vector<BlockQ8x32> xq;  // (cols / 32) blocks
      xq.resize(w.cols / 32);
      quantize_q8x32(x, xq.data(), w.cols);
      const BlockQ8x32* xqp = xq.data();  // the caller's thread_local copy, shared with the workers
      const auto fn = w.type == WeightType::Q8_0 ? k.matvec_q8_0 : k.matvec_q4_0;
      const std::size_t stride = row_bytes(w.type, w.cols);
      pool.parallel_for(
          w.rows, [&](std::size_t r0, std::size_t r1, int) { fn(out, w.data, stride, xqp, w.cols, r0, r1); },
          grain);
      return;
    }
    case WeightType::Q4_K:
    case WeightType::Q6_K: {
      // fp32 activations, weights dequantized in registers.
      const auto fn = w.type == WeightType::Q4_K ? k.matvec_q4_k_f32 : k.matvec_q6_k_f32;
      const std::size_t stride = row_bytes(w.type, w.cols);
      pool.parallel_for(
          w.rows, [&](std::size_t r0, std::size_t r1, int) { fn(out, w.data, stride, x, w.cols, r0, r1); }, grain);
      return;
    }
    default: break;
  }
  pool.parallel_for(
      w.rows, [&](std::size_t r0, std::size_t r1, int) { matmul_dequantize(out, x, w, r0, r1); }, grain);
}

}  // namespace llama2

namespace llama2 {

// Cache blocking: a thread takes a run of rows; for each block of x that fits
// in its L2 it sweeps kRowBlock rows at a time (kept in L1, dequantized to
// fp32 first for non-fp32 types) across the block.
void matmul_batch(float* out, const float* x, std::size_t n, const Tensor& w, ThreadPool& pool) {
  constexpr std::size_t kRowBlock = 16;
  constexpr std::size_t kL2Bytes = 512 * 1024;  // x block size: half of a typical L2
  const Kernels& k = kernels();
  const std::size_t cols = w.cols, ldo = w.rows;
  const std::size_t batch_block = std::max<std::size_t>(4, kL2Bytes / (cols * sizeof(float)) / 4 * 4);
  pool.parallel_for(
      w.rows,
      [&](std::size_t r0, std::size_t r1, int) {
        std::vector<float> rows_f32;  // (kRowBlock, cols) dequantized rows, for non-fp32 weights
        if (w.type != WeightType::F32) rows_f32.resize(kRowBlock * cols);
        for (std::size_t b0 = 0; b0 < n; b0 += batch_block) {
          const std::size_t nb = std::min(batch_block, n - b0);
          for (std::size_t r = r0; r < r1; r += kRowBlock) {
            const std::size_t nr = std::min(kRowBlock, r1 - r);
            const float* rows;
            if (w.type == WeightType::F32) {
              rows = static_cast<const float*>(w.data) + r * cols;
            } else {
              for (std::size_t i = 0; i < nr; i++) dequantize_row(w, r + i, rows_f32.data() + i * cols);
              rows = rows_f32.data();
            }
            k.matmat_f32(out + b0 * ldo + r, ldo, rows, nr, x + b0 * cols, nb, cols);
          }
        }
      },
      kRowBlock);
}

}  // namespace llama2

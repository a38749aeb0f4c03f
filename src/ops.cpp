#include "ops.hpp"

#include <cmath>
#include <cstdint>
#include <vector>

namespace llama2 {

// --- elementwise -------------------------------------------------------------------

void rmsnorm(float* o, const float* x, const float* weight, std::size_t size, float eps) {
  float ss = dot(x, x, size);
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

// Eight independent partial sums: a fixed summation order that the compiler
// can keep in vector registers without -ffast-math.
float dot(const float* a, const float* b, std::size_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k];
  }
  float sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; i++) sum += a[i] * b[i];
  return sum;
}

void axpy(float* y, float a, const float* x, std::size_t n) {
  for (std::size_t i = 0; i < n; i++) y[i] += a * x[i];
}

// --- matmul --------------------------------------------------------------------------

namespace {

// llama2.c v2 int8 rows with float activations: exact w.r.t. the dequantized
// weights (no activation quantization), one scale per group.
void matmul_q8_group(float* out, const float* x, const Tensor& w, std::size_t r0, std::size_t r1) {
  const std::size_t n = w.cols, gs = std::size_t(w.group_size);
  const std::int8_t* q = static_cast<const std::int8_t*>(w.data);
  if (n % gs == 0) {
    for (std::size_t r = r0; r < r1; r++) {
      const std::int8_t* row = q + r * n;
      const float* scales = w.scales + r * n / gs;
      float sum = 0.0f;
      for (std::size_t g = 0; g < n / gs; g++) {
        float acc = 0.0f;
        for (std::size_t j = 0; j < gs; j++) acc += float(row[g * gs + j]) * x[g * gs + j];
        sum += acc * scales[g];
      }
      out[r] = sum;
    }
    return;
  }
  std::vector<float> buf(n);  // (cols) a dequantized row: groups straddle rows
  for (std::size_t r = r0; r < r1; r++) {
    dequantize_row(w, r, buf.data());
    out[r] = dot(buf.data(), x, n);
  }
}

// Any other type: dequantize a row, then a float dot product.
void matmul_dequantize(float* out, const float* x, const Tensor& w, std::size_t r0, std::size_t r1) {
  std::vector<float> buf(w.cols);  // (cols) one dequantized row
  for (std::size_t r = r0; r < r1; r++) {
    dequantize_row(w, r, buf.data());
    out[r] = dot(buf.data(), x, w.cols);
  }
}

}  // namespace

void matmul(float* out, const float* x, const Tensor& w, ThreadPool& pool) {
  using Kernel = void (*)(float*, const float*, const Tensor&, std::size_t, std::size_t);
  Kernel kernel;
  switch (w.type) {
    case WeightType::F32:
      kernel = [](float* o, const float* xv, const Tensor& t, std::size_t r0, std::size_t r1) {
        const float* base = static_cast<const float*>(t.data);
        for (std::size_t r = r0; r < r1; r++) o[r] = dot(base + r * t.cols, xv, t.cols);
      };
      break;
    case WeightType::Q8_GROUP: kernel = matmul_q8_group; break;
    default: kernel = matmul_dequantize; break;
  }
  pool.parallel_for(
      w.rows, [&](std::size_t r0, std::size_t r1, int) { kernel(out, x, w, r0, r1); }, 16);
}

}  // namespace llama2

// The neural-net building blocks forward() calls. The matmul picks a kernel
// by weight type once per call; the kernels themselves live in kernels*.cpp.
#pragma once

#include <cstddef>

#include "llama2/tensor.hpp"
#include "llama2/thread_pool.hpp"

namespace llama2 {

// o = weight * x / sqrt(mean(x^2) + eps)   (o may alias x)
void rmsnorm(float* o, const float* x, const float* weight, std::size_t size, float eps);

// x = exp(x - max) / sum, in place
void softmax(float* x, std::size_t size);

// out (w.rows) = w (w.rows, w.cols) @ x (w.cols), rows split across the pool.
void matmul(float* out, const float* x, const Tensor& w, ThreadPool& pool);

// sum a[i] * b[i]
float dot(const float* a, const float* b, std::size_t n);

// y[i] += a * x[i]
void axpy(float* y, float a, const float* x, std::size_t n);

}  // namespace llama2

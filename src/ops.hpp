// The neural-net building blocks forward() and forward_batch() call. The matmul picks a kernel
// by weight type once per call; the kernels themselves live in kernels*.cpp,
// one table per instruction set, chosen at run time (kernels.hpp).
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

// out (n, w.rows) = x (n, w.cols) @ w^T: a batch of n activation rows at once,
// the weights read once per cache block rather than once per row of x.
void matmul_batch(float* out, const float* x, std::size_t n, const Tensor& w, ThreadPool& pool);

// RoPE at position pos: rotates each adjacent pair (v[i], v[i+1]) of every
// head of vec (n) by pos * theta^(-(i % head_size) / head_size).
void rope(float* vec, std::size_t n, std::size_t head_size, int pos, float theta);

// sum a[i] * b[i]
float dot(const float* a, const float* b, std::size_t n);

// y[i] += a * x[i]
void axpy(float* y, float a, const float* x, std::size_t n);

// One attention head at one position: att (n_pos) = softmax(scale * keys @ q),
// out (head_size) = att @ values; keys and values (n_pos, head_size).
void attention_head(float* out, float* att, const float* q, const float* keys, const float* values,
                    std::size_t n_pos, std::size_t head_size);

}  // namespace llama2

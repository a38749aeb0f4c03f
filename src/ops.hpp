// The neural-net building blocks forward() and forward_batch() call. The matmul picks a kernel
// by weight type once per call; the kernels themselves live in kernels*.cpp,
// one table per instruction set, chosen at run time (kernels.hpp).
#pragma once

#include <cstddef>
#include <initializer_list>
#include <span>

#include "llama2/config.hpp"
#include "llama2/kv_cache.hpp"
#include "llama2/tensor.hpp"
#include "llama2/thread_pool.hpp"

namespace llama2 {

// o = weight * x / sqrt(mean(x^2) + eps)   (o may alias x)
void rmsnorm(float* o, const float* x, const float* weight, std::size_t size, float eps);

// x = exp(x - max) / sum, in place
void softmax(float* x, std::size_t size);

// SwiGLU's gate: hb = silu(hb) * hb2, silu(g) = g / (1 + exp(-g)).
void swiglu(float* hb, const float* hb2, std::size_t n);

// out (w.rows) = w (w.rows, w.cols) @ x (w.cols), rows split across the pool.
void matmul(float* out, const float* x, const Tensor& w, ThreadPool& pool);

// Whether matmul rounds x to 8 bits (BlockQ8x32, kernels.hpp) for GGUF
// Q8_0 / Q4_0 / Q4_K / Q6_K weights and takes integer dot products. On by
// default; LLAMA2_INT8_DOT=0 in the environment, or set_int8_activations(false)
// (tests), selects fp32 activations: exact w.r.t. the dequantized weights.
bool int8_activations();
void set_int8_activations(bool on);

// out (n, w.rows) = x (n, w.cols) @ w^T: a batch of n activation rows at once,
// the weights read once per cache block rather than once per row of x.
void matmul_batch(float* out, const float* x, std::size_t n, const Tensor& w, ThreadPool& pool);

// One product of a batch that several matrices read: out (n, w->rows) = x @ w^T.
struct BatchProduct {
  float* out;
  const Tensor* w;
};

// matmul_batch for matrices that read the same x (attention's q, k and v;
// the feed-forward gate and up), with matmul_batch's results bit for bit;
// the int8 path rounds x to 8 bits once for all of them.
void matmul_batch(std::initializer_list<BatchProduct> products, const float* x, std::size_t n, ThreadPool& pool);

// matmul_batch for GGUF Q8_0 / Q4_0 / Q4_K / Q6_K with int8 activations and an integer GEMM
// (matmul_int8.cpp); returns false, doing nothing, for other types (or a
// table without that kernel: the K types on AVX2 / NEON) or when
// LLAMA2_INT8_DOT=0 asks for fp32 activations. The span form needs every
// matrix int8-ready with the same number of columns.
bool matmul_batch_int8(float* out, const float* x, std::size_t n, const Tensor& w, ThreadPool& pool);
bool matmul_batch_int8(std::span<const BatchProduct> products, const float* x, std::size_t n, ThreadPool& pool);

// RoPE at position pos: rotates pair j (j < head_size / 2) of every head of
// vec (n) by pos * theta^(-2j / head_size). Pair j is (v[2j], v[2j+1]) for
// RopeStyle::INTERLEAVED, (v[j], v[j + head_size/2]) for ROTATE_HALF.
void rope(float* vec, std::size_t n, std::size_t head_size, int pos, float theta,
          RopeStyle style = RopeStyle::INTERLEAVED);
// rope in two steps, for a batch that reuses a position's angles:
// cos_sin (head_size) = cos, sin of each pair's angle at pos, then the rotation.
void rope_angles(float* cos_sin, std::size_t head_size, int pos, float theta);
void rope_rotate(float* vec, std::size_t n, std::size_t head_size, const float* cos_sin,
                 RopeStyle style = RopeStyle::INTERLEAVED);

// sum a[i] * b[i]
float dot(const float* a, const float* b, std::size_t n);

// y[i] += a * x[i]
void axpy(float* y, float a, const float* x, std::size_t n);

// One attention head at one position: att (n_pos) = softmax(scale * keys @ q),
// out (head_size) = att @ values; keys and values (n_pos, head_size).
void attention_head(float* out, float* att, const float* q, const float* keys, const float* values,
                    std::size_t n_pos, std::size_t head_size);
// The same over kv head `kv_head` of layer `layer` of the cache, fp32 or fp16.
void attention_head(float* out, float* att, const float* q, const KvCache& kv, std::size_t layer,
                    std::size_t kv_head, std::size_t n_pos);

// One attention head for a batch of n queries at positions pos0 .. pos0 + n - 1:
// out row t (head_size, rows ldo apart) = attention of q row t (rows ldq
// apart) over keys and values (pos0 + n, head_size) 0 .. pos0 + t, as
// attention_head would give it (within rounding). scratch holds
// attention_batch_scratch(seq_len, head_size) floats, seq_len >= pos0 + n.
void attention_batch(float* out, std::size_t ldo, const float* q, std::size_t ldq, std::size_t n, std::size_t pos0,
                     const float* keys, const float* values, std::size_t head_size, float* scratch);
std::size_t attention_batch_scratch(std::size_t seq_len, std::size_t head_size);

}  // namespace llama2

// The quantizers `quantize` writes with: float rows -> the blocks of
// quants.hpp, one function per type, each fitting every block to minimise
// its weighted squared error (quantize_fit.hpp) rather than rounding it.
//
//   quantize_legacy.cpp   F32, F16, BF16 and the 32-value blocks Q8_0, Q4_0,
//                         Q4_1, Q5_0, Q5_1
//   quantize_kquants.cpp  the 256-value super-blocks Q2_K, Q3_K, Q4_K, Q5_K,
//                         Q6_K: each sub-block fitted, then the sub-block
//                         scales quantized against the super-block's and
//                         each sub-block's quantized scale re-chosen by the
//                         error it gives
//
// Every function takes n values (a multiple of the type's block size) and
// writes n / block_size blocks. Rows are independent: callers run them on a
// thread pool. quants.hpp's quantize_q8_0 / quantize_q4_0 are the plain
// round-to-nearest ones (ggml's reference), kept as a baseline.
#pragma once

#include <cstddef>

#include "kernels/quants.hpp"
#include "llama2/tensor.hpp"

namespace llama2 {

void quantize_row_q8_0(const float* x, BlockQ8_0* y, std::size_t n);
void quantize_row_q4_0(const float* x, BlockQ4_0* y, std::size_t n);
void quantize_row_q4_1(const float* x, BlockQ4_1* y, std::size_t n);
void quantize_row_q5_0(const float* x, BlockQ5_0* y, std::size_t n);
void quantize_row_q5_1(const float* x, BlockQ5_1* y, std::size_t n);
void quantize_row_q2_k(const float* x, BlockQ2_K* y, std::size_t n);
void quantize_row_q3_k(const float* x, BlockQ3_K* y, std::size_t n);
void quantize_row_q4_k(const float* x, BlockQ4_K* y, std::size_t n);
void quantize_row_q5_k(const float* x, BlockQ5_K* y, std::size_t n);
void quantize_row_q6_k(const float* x, BlockQ6_K* y, std::size_t n);

// Whether quantize_row can write `type` (every GGUF type we read; not Q8_GROUP).
bool can_quantize(WeightType type);

// n values of x -> row_bytes(type, n) bytes at y (F32 / F16 / BF16: a copy /
// a rounding to nearest even). n must be a multiple of the block size.
void quantize_row(WeightType type, const float* x, void* y, std::size_t n);

}  // namespace llama2

// AVX2 + FMA kernels: 8 floats per register, one file per family, this
// header holding what they share:
//
//   kernels_avx2_vectors.cpp  dot, axpy, quantize_q8x32, attention, matmat_f32,
//                             softmax, swiglu (vector_table)
//   kernels_avx2_matvec.cpp   weight rows against fp32 activations, and the
//                             GGUF types against int8 ones
//   kernels_avx2_gemm.cpp     the int8 GEMM of a batched prompt
//   kernels_avx2.cpp          the table: the vectors, then a line per weight type
//
// Compiled into every x86-64 build through per-function target attributes
// (K256) and used only when cpu_features() reports AVX2, FMA and F16C. No
// standard-library template inside these functions: kernels.hpp says why.
#pragma once

#include <cstddef>

#include "kernels/kernels.hpp"

#if defined(__x86_64__)
#include <immintrin.h>

#define K256 __attribute__((target("avx2,fma,f16c")))
#define K256_INLINE K256 __attribute__((always_inline)) inline

namespace llama2::avx2 {

// --- the kernels of the table, by file ------------------------------------------------

// kernels_avx2_vectors.cpp: a table with isa and the vector kernels set.
Kernels vector_table();

// kernels_avx2_matvec.cpp: weight rows against fp32 activations ...
MatvecFn matvec_f32, matvec_f16, matvec_bf16, matvec_q8_group;
MatvecFn matvec_q8_0_f32, matvec_q4_0_f32, matvec_q4_k_f32, matvec_q6_k_f32;
// ... and the GGUF blocks against int8 activations.
MatvecInt8Fn matvec_q8_0, matvec_q4_0, matvec_q4_k, matvec_q5_k, matvec_q6_k;
// ... and Q4_0 repacked in 8-row tiles (q4_0_x8.hpp), both ways (the GEMM
// in kernels_avx2_gemm.cpp) ...
MatvecInt8Fn matvec_q4_0_x8;
MatmatInt8Fn matmat_q4_0_x8;
// ... and Q4_K in 8-row tiles (q4_k_x8.hpp), likewise ...
MatvecInt8Fn matvec_q4_k_x8;
MatmatInt8Fn matmat_q4_k_x8;
// ... and Q5_K / Q6_K in row pairs (row_pairs.hpp), likewise.
MatvecInt8Fn matvec_q5_k_x2, matvec_q6_k_x2;
MatmatInt8Fn matmat_q5_k_x2, matmat_q6_k_x2;

// kernels_avx2_gemm.cpp: the int8 GEMM of every GGUF block type, and the
// int8 matvecs of the types in int8_units.hpp's form (its one-token tiles).
MatvecInt8Fn matvec_q4_1, matvec_q5_0, matvec_q5_1, matvec_q2_k, matvec_q3_k;
MatmatInt8Fn matmat_q8_0, matmat_q4_0, matmat_q4_1, matmat_q5_0, matmat_q5_1;
MatmatInt8Fn matmat_q2_k, matmat_q3_k, matmat_q4_k, matmat_q5_k, matmat_q6_k;

// --- shared helpers ---------------------------------------------------------------------

// Lane i of the mask is on when i < n (n <= 8).
K256_INLINE __m256i tail_mask(std::size_t n) {
  static const int kOnes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kOnes + 8 - n));
}

// 32 unsigned a times 32 signed b, summed in pairs into 8 int32 (maddubs
// cannot overflow here: |a| <= 128 and |b| <= 127).
K256_INLINE __m256i dot_u8_s8(__m256i a, __m256i b) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1));
}

}  // namespace llama2::avx2

#endif

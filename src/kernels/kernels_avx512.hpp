// AVX-512 kernels (F, BW, VL, DQ; VNNI for the integer ones): 16 floats per
// register, one file per family, this header holding what they share:
//
//   kernels_avx512_vectors.cpp  dot, axpy, quantize_q8x32, attention, matmat_f32,
//                               transpose, softmax, swiglu (vector_table)
//   kernels_avx512_matvec.cpp   weight rows against fp32 activations, and the
//                               GGUF types against int8 ones (VNNI)
//   kernels_avx512_gemm.cpp     the int8 GEMM of a batched prompt (VNNI)
//   kernels_avx512.cpp          the table: the vectors, then a line per weight type
//
// Compiled into every x86-64 build through per-function target attributes
// (K512; KVNNI where VNNI is needed) and used only when cpu_features()
// reports the instructions. No standard-library template inside these
// functions: kernels.hpp says why.
#pragma once

#include <cstddef>

#include "kernels/kernels.hpp"

#if defined(__x86_64__)
#include <immintrin.h>

// gcc 12's AVX-512 headers build some intrinsics from _mm512_undefined_*(),
// which -Wuninitialized reports as a use of an uninitialized value.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#define K512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))
#define K512_INLINE K512 __attribute__((always_inline)) inline
#define KVNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define KVNNI_INLINE KVNNI __attribute__((always_inline)) inline

namespace llama2::avx512 {

// --- the kernels of the table, by file ------------------------------------------------

// kernels_avx512_vectors.cpp: a table with isa and the vector kernels set.
Kernels vector_table();

// kernels_avx512_matvec.cpp: weight rows against fp32 activations ...
MatvecFn matvec_f32, matvec_f16, matvec_bf16, matvec_q8_group;
MatvecFn matvec_q8_0_f32, matvec_q4_0_f32, matvec_q4_k_f32, matvec_q6_k_f32;
// ... and the GGUF blocks against int8 activations (VNNI).
MatvecInt8Fn matvec_q8_0, matvec_q4_0, matvec_q4_k, matvec_q6_k;
// ... and the other GGUF types in int8_units.hpp's form (VNNI).
MatvecInt8Fn matvec_q4_1, matvec_q5_0, matvec_q5_1, matvec_q2_k, matvec_q3_k, matvec_q5_k;
// ... and the load layouts: Q5_K / Q6_K in row pairs (row_pairs.hpp),
// through the same kernels, Q4_K in 8-row tiles (q4_k_x8.hpp) and Q4_0 in
// 16-row tiles (q_0_x16.hpp), and Q8_0 in 16-row tiles.
MatvecInt8Fn matvec_q5_k_x2, matvec_q6_k_x2, matvec_q4_k_x8, matvec_q4_0_x16, matvec_q8_0_x16;

// kernels_avx512_gemm.cpp: the int8 GEMM (VNNI).
MatmatInt8Fn matmat_q8_0, matmat_q4_0, matmat_q4_k, matmat_q6_k;
MatmatInt8Fn matmat_q4_1, matmat_q5_0, matmat_q5_1, matmat_q2_k, matmat_q3_k, matmat_q5_k;
MatmatInt8Fn matmat_q5_k_x2, matmat_q6_k_x2, matmat_q4_k_x8, matmat_q4_0_x16, matmat_q8_0_x16;

// --- shared helpers ---------------------------------------------------------------------

// Loads the first n < 16 floats of p, zeros elsewhere.
K512_INLINE __m512 load_tail(const float* p, std::size_t n) {
  return _mm512_maskz_loadu_ps(__mmask16((1u << n) - 1), p);
}

}  // namespace llama2::avx512

#endif

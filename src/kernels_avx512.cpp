// AVX-512 kernels (F, BW, VL; VNNI where noted): 16 floats per register.
// Compiled into every x86-64 build through per-function target attributes
// and used only when cpu_features() reports the instructions.
#include "fp16.hpp"
#include "kernels.hpp"

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

namespace llama2 {

namespace {

// Loads the first n < 16 floats of p, zeros elsewhere.
K512_INLINE __m512 load_tail(const float* p, std::size_t n) {
  return _mm512_maskz_loadu_ps(__mmask16((1u << n) - 1), p);
}

// --- vectors ---------------------------------------------------------------------

// Two accumulators (even and odd 16-wide chunks) hide the FMA latency.
K512 float dot(const float* a, const float* b, std::size_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  if (i + 16 <= n) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    i += 16;
  }
  if (i < n) acc1 = _mm512_fmadd_ps(load_tail(a + i, n - i), load_tail(b + i, n - i), acc1);
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

K512 void axpy(float* y, float a, const float* x, std::size_t n) {
  const __m512 va = _mm512_set1_ps(a);
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  }
  if (i < n) {
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

K512 float sum_squares(const float* x, std::size_t n) { return dot(x, x, n); }

// --- attention ---------------------------------------------------------------------

K512 void attention_scores(float* att, const float* q, const float* keys, std::size_t n_pos,
                           std::size_t head_size, float scale) {
  for (std::size_t t = 0; t < n_pos; t++) att[t] = dot(q, keys + t * head_size, head_size) * scale;
}

// Output chunks of 16 stay in registers while positions stream by; two
// positions per step keep two independent FMA chains per chunk.
K512 void attention_values(float* out, const float* att, const float* values, std::size_t n_pos,
                           std::size_t head_size) {
  for (std::size_t i = 0; i < head_size; i += 16) {
    const std::size_t width = head_size - i < 16 ? head_size - i : 16;
    const __mmask16 m = __mmask16(width == 16 ? 0xffff : (1u << width) - 1);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    std::size_t t = 0;
    for (; t + 2 <= n_pos; t += 2) {
      acc0 = _mm512_fmadd_ps(_mm512_set1_ps(att[t]), _mm512_maskz_loadu_ps(m, values + t * head_size + i), acc0);
      acc1 = _mm512_fmadd_ps(_mm512_set1_ps(att[t + 1]), _mm512_maskz_loadu_ps(m, values + (t + 1) * head_size + i),
                             acc1);
    }
    if (t < n_pos) {
      acc0 = _mm512_fmadd_ps(_mm512_set1_ps(att[t]), _mm512_maskz_loadu_ps(m, values + t * head_size + i), acc0);
    }
    _mm512_mask_storeu_ps(out + i, m, _mm512_add_ps(acc0, acc1));
  }
}

// --- matrix-vector: fp32 ---------------------------------------------------------------

// R rows at once share each load of x; every row keeps its own two
// accumulators, so row r's sum is the same for any R.
template <int R>
K512_INLINE void f32_rows(float* out, const float* w, const float* x, std::size_t cols) {
  __m512 acc0[R], acc1[R];
  for (int r = 0; r < R; r++) acc0[r] = acc1[r] = _mm512_setzero_ps();
  std::size_t j = 0;
  for (; j + 32 <= cols; j += 32) {
    const __m512 x0 = _mm512_loadu_ps(x + j), x1 = _mm512_loadu_ps(x + j + 16);
    for (int r = 0; r < R; r++) {
      acc0[r] = _mm512_fmadd_ps(_mm512_loadu_ps(w + r * cols + j), x0, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(_mm512_loadu_ps(w + r * cols + j + 16), x1, acc1[r]);
    }
  }
  if (j + 16 <= cols) {
    const __m512 x0 = _mm512_loadu_ps(x + j);
    for (int r = 0; r < R; r++) acc0[r] = _mm512_fmadd_ps(_mm512_loadu_ps(w + r * cols + j), x0, acc0[r]);
    j += 16;
  }
  if (j < cols) {
    const __m512 x1 = load_tail(x + j, cols - j);
    for (int r = 0; r < R; r++) acc1[r] = _mm512_fmadd_ps(load_tail(w + r * cols + j, cols - j), x1, acc1[r]);
  }
  for (int r = 0; r < R; r++) out[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[r], acc1[r]));
}

K512 void matvec_f32(float* out, const float* w, const float* x, std::size_t cols, std::size_t r0, std::size_t r1) {
  std::size_t r = r0;
  for (; r + 4 <= r1; r += 4) f32_rows<4>(out + r, w + r * cols, x, cols);
  for (; r < r1; r++) f32_rows<1>(out + r, w + r * cols, x, cols);
}

// --- matrix-vector: llama2.c int8 (Q8_GROUP) ------------------------------------------

// 16 int8 weights -> 16 floats.
K512_INLINE __m512 load_i8(const std::int8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

// Per group: an fp32 sum of q * x, then scaled once into the row's
// accumulator. group_size must be a multiple of 16.
template <int R>
K512_INLINE void q8_group_rows(float* out, const std::int8_t* q, const float* scales, std::size_t gs,
                               const float* x, std::size_t cols) {
  const std::size_t groups = cols / gs;
  __m512 acc[R];
  for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
  for (std::size_t g = 0; g < groups; g++) {
    __m512 gacc[R];
    const std::size_t base = g * gs;
    {
      const __m512 xv = _mm512_loadu_ps(x + base);
      for (int r = 0; r < R; r++) gacc[r] = _mm512_mul_ps(load_i8(q + r * cols + base), xv);
    }
    for (std::size_t j = 16; j < gs; j += 16) {
      const __m512 xv = _mm512_loadu_ps(x + base + j);
      for (int r = 0; r < R; r++) gacc[r] = _mm512_fmadd_ps(load_i8(q + r * cols + base + j), xv, gacc[r]);
    }
    for (int r = 0; r < R; r++) acc[r] = _mm512_fmadd_ps(gacc[r], _mm512_set1_ps(scales[r * groups + g]), acc[r]);
  }
  for (int r = 0; r < R; r++) out[r] = _mm512_reduce_add_ps(acc[r]);
}

K512 void matvec_q8_group(float* out, const std::int8_t* q, const float* scales, std::size_t gs, const float* x,
                          std::size_t cols, std::size_t r0, std::size_t r1) {
  if (gs % 16 != 0) {
    kernels_scalar().matvec_q8_group(out, q, scales, gs, x, cols, r0, r1);
    return;
  }
  const std::size_t groups = cols / gs;
  std::size_t r = r0;
  for (; r + 4 <= r1; r += 4) q8_group_rows<4>(out + r, q + r * cols, scales + r * groups, gs, x, cols);
  for (; r < r1; r++) q8_group_rows<1>(out + r, q + r * cols, scales + r * groups, gs, x, cols);
}

// --- matrix-matrix (batched prompt) ---------------------------------------------------

// A tile of R weight rows by B activation rows: R + B loads feed R * B FMAs
// per step. One accumulator per output, so output (i, b) is computed the
// same way in any tile shape.
template <int R, int B>
K512_INLINE void matmat_tile(float* out, std::size_t ldo, const float* w, const float* x, std::size_t cols) {
  __m512 acc[R][B];
  for (int i = 0; i < R; i++) {
    for (int b = 0; b < B; b++) acc[i][b] = _mm512_setzero_ps();
  }
  std::size_t j = 0;
  for (; j + 16 <= cols; j += 16) {
    __m512 wv[R];
    for (int i = 0; i < R; i++) wv[i] = _mm512_loadu_ps(w + i * cols + j);
    for (int b = 0; b < B; b++) {
      const __m512 xv = _mm512_loadu_ps(x + b * cols + j);
      for (int i = 0; i < R; i++) acc[i][b] = _mm512_fmadd_ps(wv[i], xv, acc[i][b]);
    }
  }
  if (j < cols) {
    __m512 wv[R];
    for (int i = 0; i < R; i++) wv[i] = load_tail((w + i * cols + j), cols - j);
    for (int b = 0; b < B; b++) {
      const __m512 xv = load_tail((x + b * cols + j), cols - j);
      for (int i = 0; i < R; i++) acc[i][b] = _mm512_fmadd_ps(wv[i], xv, acc[i][b]);
    }
  }
  for (int b = 0; b < B; b++) {
    for (int i = 0; i < R; i++) out[b * ldo + i] = _mm512_reduce_add_ps(acc[i][b]);
  }
}

K512 void matmat_f32(float* out, std::size_t ldo, const float* w, std::size_t n_rows, const float* x,
                     std::size_t n_batch, std::size_t cols) {
  constexpr int kR = 4, kB = 4;
  std::size_t i = 0;
  for (; i + kR <= n_rows; i += kR) {
    std::size_t b = 0;
    for (; b + kB <= n_batch; b += kB) matmat_tile<kR, kB>(out + b * ldo + i, ldo, w + i * cols, x + b * cols, cols);
    for (; b < n_batch; b++) matmat_tile<kR, 1>(out + b * ldo + i, ldo, w + i * cols, x + b * cols, cols);
  }
  for (; i < n_rows; i++) {
    std::size_t b = 0;
    for (; b + kB <= n_batch; b += kB) matmat_tile<1, kB>(out + b * ldo + i, ldo, w + i * cols, x + b * cols, cols);
    for (; b < n_batch; b++) matmat_tile<1, 1>(out + b * ldo + i, ldo, w + i * cols, x + b * cols, cols);
  }
}

// --- matrix-vector: fp16 / bf16 ---------------------------------------------------------

K512_INLINE __m512 load_f16(const std::uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
K512_INLINE __m512 load_bf16(const std::uint16_t* p) {
  const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}

template <bool kBf16>
K512_INLINE void half_rows(float* out, const std::uint16_t* w, const float* x, std::size_t cols, std::size_t r0,
                           std::size_t r1) {
  for (std::size_t r = r0; r < r1; r++) {
    const std::uint16_t* row = w + r * cols;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    std::size_t j = 0;
    for (; j + 32 <= cols; j += 32) {
      acc0 = _mm512_fmadd_ps(kBf16 ? load_bf16(row + j) : load_f16(row + j), _mm512_loadu_ps(x + j), acc0);
      acc1 = _mm512_fmadd_ps(kBf16 ? load_bf16(row + j + 16) : load_f16(row + j + 16), _mm512_loadu_ps(x + j + 16),
                             acc1);
    }
    if (j + 16 <= cols) {
      acc0 = _mm512_fmadd_ps(kBf16 ? load_bf16(row + j) : load_f16(row + j), _mm512_loadu_ps(x + j), acc0);
      j += 16;
    }
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
    for (; j < cols; j++) sum += (kBf16 ? bf16_to_fp32(row[j]) : fp16_to_fp32(row[j])) * x[j];
    out[r] = sum;
  }
}

K512 void matvec_f16(float* out, const std::uint16_t* w, const float* x, std::size_t cols, std::size_t r0,
                     std::size_t r1) {
  half_rows<false>(out, w, x, cols, r0, r1);
}
K512 void matvec_bf16(float* out, const std::uint16_t* w, const float* x, std::size_t cols, std::size_t r0,
                      std::size_t r1) {
  half_rows<true>(out, w, x, cols, r0, r1);
}

// --- matrix-vector: GGUF blocks with fp32 activations -------------------------------------
// Each weight is rebuilt in registers exactly as dequantize_blocks computes
// it (the products of fp16 scales and small integers are exact in fp32; the
// Q4_K min is subtracted with one rounding, as in the scalar code), then
// FMA'd with x. Two accumulators per row (alternate 16-wide chunks).

// 16 bytes -> 16 int32 lanes, zero-extended.
K512_INLINE __m512i load_u8x16(const std::uint8_t* p) {
  return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

K512 void matvec_q8_0_f32(float* out, const void* w, std::size_t row_bytes, const float* x, std::size_t cols,
                          std::size_t r0, std::size_t r1) {
  for (std::size_t r = r0; r < r1; r++) {
    const auto* blocks = reinterpret_cast<const BlockQ8_0*>(static_cast<const std::uint8_t*>(w) + r * row_bytes);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (std::size_t b = 0; b < cols / kQK; b++) {
      const __m512 d = _mm512_set1_ps(_cvtsh_ss(blocks[b].d));
      const float* xb = x + b * kQK;
      acc0 = _mm512_fmadd_ps(_mm512_mul_ps(load_i8(blocks[b].qs), d), _mm512_loadu_ps(xb), acc0);
      acc1 = _mm512_fmadd_ps(_mm512_mul_ps(load_i8(blocks[b].qs + 16), d), _mm512_loadu_ps(xb + 16), acc1);
    }
    out[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  }
}

K512 void matvec_q4_0_f32(float* out, const void* w, std::size_t row_bytes, const float* x, std::size_t cols,
                          std::size_t r0, std::size_t r1) {
  const __m512i nibble = _mm512_set1_epi32(0xF);
  for (std::size_t r = r0; r < r1; r++) {
    const auto* blocks = reinterpret_cast<const BlockQ4_0*>(static_cast<const std::uint8_t*>(w) + r * row_bytes);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (std::size_t b = 0; b < cols / kQK; b++) {
      // d * (q - 8) as q * d - 8 * d in one FMA: both products are exact and
      // so is their difference, the dequantized weight.
      const float df = _cvtsh_ss(blocks[b].d);
      const __m512 d = _mm512_set1_ps(df), d8 = _mm512_set1_ps(8.0f * df);
      const __m512i bytes = load_u8x16(blocks[b].qs);
      const __m512 lo = _mm512_cvtepi32_ps(_mm512_and_si512(bytes, nibble));
      const __m512 hi = _mm512_cvtepi32_ps(_mm512_srli_epi32(bytes, 4));
      const float* xb = x + b * kQK;
      acc0 = _mm512_fmadd_ps(_mm512_fmsub_ps(lo, d, d8), _mm512_loadu_ps(xb), acc0);
      acc1 = _mm512_fmadd_ps(_mm512_fmsub_ps(hi, d, d8), _mm512_loadu_ps(xb + 16), acc1);
    }
    out[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  }
}

// The 8 sub-block scales and mins of a Q4_K block times d and dmin (the
// unpacking of scale_min_k4, inlined).
K512_INLINE void q4_k_scales(const BlockQ4_K& b, float* dsc, float* dmn) {
  const float d = _cvtsh_ss(b.d), dmin = _cvtsh_ss(b.dmin);
  const std::uint8_t* q = b.scales;
  for (int j = 0; j < 4; j++) {
    dsc[j] = d * float(q[j] & 63);
    dmn[j] = dmin * float(q[j + 4] & 63);
    dsc[j + 4] = d * float((q[j + 8] & 0xF) | ((q[j] >> 6) << 4));
    dmn[j + 4] = dmin * float((q[j + 8] >> 4) | ((q[j + 4] >> 6) << 4));
  }
}

K512 void matvec_q4_k_f32(float* out, const void* w, std::size_t row_bytes, const float* x, std::size_t cols,
                          std::size_t r0, std::size_t r1) {
  const __m512i nibble = _mm512_set1_epi32(0xF);
  for (std::size_t r = r0; r < r1; r++) {
    const auto* blocks = reinterpret_cast<const BlockQ4_K*>(static_cast<const std::uint8_t*>(w) + r * row_bytes);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (std::size_t b = 0; b < cols / kQK_K; b++) {
      float dsc[8], dmn[8];
      q4_k_scales(blocks[b], dsc, dmn);
      const float* xb = x + b * kQK_K;
      // Chunk c (64 values): low nibbles of qs[32c..32c+32) are sub-block 2c, high ones 2c + 1.
      for (int c = 0; c < 4; c++) {
        const __m512i b0 = load_u8x16(blocks[b].qs + 32 * c), b1 = load_u8x16(blocks[b].qs + 32 * c + 16);
        const float* xc = xb + 64 * c;
        __m512 s = _mm512_set1_ps(dsc[2 * c]), m = _mm512_set1_ps(dmn[2 * c]);
        acc0 = _mm512_fmadd_ps(_mm512_fmsub_ps(_mm512_cvtepi32_ps(_mm512_and_si512(b0, nibble)), s, m),
                               _mm512_loadu_ps(xc), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_fmsub_ps(_mm512_cvtepi32_ps(_mm512_and_si512(b1, nibble)), s, m),
                               _mm512_loadu_ps(xc + 16), acc1);
        s = _mm512_set1_ps(dsc[2 * c + 1]), m = _mm512_set1_ps(dmn[2 * c + 1]);
        acc0 = _mm512_fmadd_ps(_mm512_fmsub_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(b0, 4)), s, m),
                               _mm512_loadu_ps(xc + 32), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_fmsub_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(b1, 4)), s, m),
                               _mm512_loadu_ps(xc + 48), acc1);
      }
    }
    out[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  }
}

// Q6_K layout as in quants.cpp: in half h, value 128h + 32r + l takes its low
// 4 bits from ql[64h + l + 32 (r & 1)] (low nibble for r < 2) and bits 2r,
// 2r + 1 of qh[32h + l] as bits 4, 5; scale scales[8h + 2r + l / 16].
K512 void matvec_q6_k_f32(float* out, const void* w, std::size_t row_bytes, const float* x, std::size_t cols,
                          std::size_t r0, std::size_t r1) {
  const __m512i nibble = _mm512_set1_epi32(0xF), top = _mm512_set1_epi32(0x30), bias = _mm512_set1_epi32(32);
  for (std::size_t r = r0; r < r1; r++) {
    const auto* blocks = reinterpret_cast<const BlockQ6_K*>(static_cast<const std::uint8_t*>(w) + r * row_bytes);
    __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    for (std::size_t b = 0; b < cols / kQK_K; b++) {
      const BlockQ6_K& blk = blocks[b];
      const float d = _cvtsh_ss(blk.d);
      for (int h = 0; h < 2; h++) {
        const float* xh = x + b * kQK_K + 128 * h;
        for (int k = 0; k < 2; k++) {  // l = 16k .. 16k + 15
          const __m512i a = load_u8x16(blk.ql + 64 * h + 16 * k), c = load_u8x16(blk.ql + 64 * h + 32 + 16 * k);
          const __m512i hb = load_u8x16(blk.qh + 32 * h + 16 * k);
          __m512i q[4];
          q[0] = _mm512_or_si512(_mm512_and_si512(a, nibble), _mm512_and_si512(_mm512_slli_epi32(hb, 4), top));
          q[1] = _mm512_or_si512(_mm512_and_si512(c, nibble), _mm512_and_si512(_mm512_slli_epi32(hb, 2), top));
          q[2] = _mm512_or_si512(_mm512_srli_epi32(a, 4), _mm512_and_si512(hb, top));
          q[3] = _mm512_or_si512(_mm512_srli_epi32(c, 4), _mm512_and_si512(_mm512_srli_epi32(hb, 2), top));
          for (int rr = 0; rr < 4; rr++) {
            const __m512 s = _mm512_set1_ps(d * float(blk.scales[8 * h + 2 * rr + k]));
            const __m512 wv = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(q[rr], bias)), s);
            acc[k] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(xh + 32 * rr + 16 * k), acc[k]);
          }
        }
      }
    }
    out[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]));
  }
}

// --- matrix-vector: GGUF Q8_0 / Q4_0 with VNNI (vpdpbusd) ---------------------------------

#define KVNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define KVNNI_INLINE KVNNI __attribute__((always_inline)) inline

KVNNI_INLINE __m256i load_q8(const std::int8_t* qs) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs));
}

// Q4_0 byte j holds value j (low nibble) and value j + 16 (high nibble).
KVNNI_INLINE __m256i unpack_q4(const std::uint8_t* qs) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i low = _mm_set1_epi8(0x0f);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(bytes, 4), low), _mm_and_si128(bytes, low));
}

KVNNI_INLINE float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

KVNNI void matvec_q8_0_vnni(float* out, const void* w, std::size_t row_bytes, const BlockQ8x32* xq,
                            std::size_t cols, std::size_t r0, std::size_t r1) {
  for (std::size_t r = r0; r < r1; r++) {
    const BlockQ8_0* blocks = reinterpret_cast<const BlockQ8_0*>(static_cast<const std::uint8_t*>(w) + r * row_bytes);
    __m256 acc = _mm256_setzero_ps();
    for (std::size_t b = 0; b < cols / 32; b++) {
      const __m256i wq = load_q8(blocks[b].qs), xv = load_q8(xq[b].qs);
      // |w| times x with w's sign: unsigned by signed, as vpdpbusd wants.
      const __m256i isum = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(wq, wq), _mm256_sign_epi8(xv, wq));
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(fp16_to_fp32(blocks[b].d) * xq[b].d), acc);
    }
    out[r] = hsum256(acc);
  }
}

KVNNI void matvec_q4_0_vnni(float* out, const void* w, std::size_t row_bytes, const BlockQ8x32* xq,
                            std::size_t cols, std::size_t r0, std::size_t r1) {
  for (std::size_t r = r0; r < r1; r++) {
    const BlockQ4_0* blocks = reinterpret_cast<const BlockQ4_0*>(static_cast<const std::uint8_t*>(w) + r * row_bytes);
    __m256 acc = _mm256_setzero_ps();
    float offset = 0.0f;  // sum of d * 8 * sum(x q): the -8 of every weight
    for (std::size_t b = 0; b < cols / 32; b++) {
      const float d = fp16_to_fp32(blocks[b].d) * xq[b].d;
      const __m256i isum = _mm256_dpbusd_epi32(_mm256_setzero_si256(), unpack_q4(blocks[b].qs), load_q8(xq[b].qs));
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(d), acc);
      offset += d * float(8 * (xq[b].sums[0] + xq[b].sums[1]));
    }
    out[r] = hsum256(acc) - offset;
  }
}

Kernels make_table() {
  Kernels k;
  k.isa = Isa::AVX512;
  k.dot = dot;
  k.axpy = axpy;
  k.sum_squares = sum_squares;
  k.attention_scores = attention_scores;
  k.attention_values = attention_values;
  k.matvec_f32 = matvec_f32;
  k.matvec_q8_group = matvec_q8_group;
  k.matvec_f16 = matvec_f16;
  k.matvec_bf16 = matvec_bf16;
  k.matmat_f32 = matmat_f32;
  k.matvec_q8_0_f32 = matvec_q8_0_f32;
  k.matvec_q4_0_f32 = matvec_q4_0_f32;
  k.matvec_q4_k_f32 = matvec_q4_k_f32;
  k.matvec_q6_k_f32 = matvec_q6_k_f32;
  // The integer kernels need VNNI; without it (Skylake-X) the AVX2 ones serve.
  if (cpu_features().avx512vnni) {
    k.matvec_q8_0 = matvec_q8_0_vnni;
    k.matvec_q4_0 = matvec_q4_0_vnni;
  } else if (const Kernels* avx2 = kernels_avx2_table()) {
    k.matvec_q8_0 = avx2->matvec_q8_0;
    k.matvec_q4_0 = avx2->matvec_q4_0;
  }
  return k;
}

}  // namespace

const Kernels* kernels_avx512_table() {
  static const Kernels table = make_table();
  return &table;
}

}  // namespace llama2

#else

namespace llama2 {
const Kernels* kernels_avx512_table() { return nullptr; }
}  // namespace llama2

#endif

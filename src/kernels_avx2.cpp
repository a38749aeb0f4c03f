// AVX2 + FMA kernels: 8 floats per register. Compiled into every x86-64
// build through per-function target attributes and used only when
// cpu_features() reports AVX2, FMA and F16C.
#include "fp16.hpp"
#include "kernels.hpp"

#if defined(__x86_64__)
#include <immintrin.h>

#define K256 __attribute__((target("avx2,fma,f16c")))
#define K256_INLINE K256 __attribute__((always_inline)) inline

namespace llama2 {

namespace {

// Lane i of the mask is on when i < n (n <= 8).
K256_INLINE __m256i tail_mask(std::size_t n) {
  static const int kOnes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kOnes + 8 - n));
}

K256_INLINE float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// --- vectors ---------------------------------------------------------------------

// Two accumulators (even and odd 8-wide chunks) hide the FMA latency.
K256 float dot(const float* a, const float* b, std::size_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  if (i + 8 <= n) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    i += 8;
  }
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    acc1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), acc1);
  }
  return hsum(_mm256_add_ps(acc0, acc1));
}

K256 void axpy(float* y, float a, const float* x, std::size_t n) {
  const __m256 va = _mm256_set1_ps(a);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  }
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    _mm256_maskstore_ps(y + i, m, _mm256_fmadd_ps(va, _mm256_maskload_ps(x + i, m), _mm256_maskload_ps(y + i, m)));
  }
}

K256 float sum_squares(const float* x, std::size_t n) { return dot(x, x, n); }

// --- attention ---------------------------------------------------------------------

K256 void attention_scores(float* att, const float* q, const float* keys, std::size_t n_pos,
                           std::size_t head_size, float scale) {
  for (std::size_t t = 0; t < n_pos; t++) att[t] = dot(q, keys + t * head_size, head_size) * scale;
}

K256 void attention_values(float* out, const float* att, const float* values, std::size_t n_pos,
                           std::size_t head_size) {
  for (std::size_t i = 0; i < head_size; i += 8) {
    const std::size_t width = head_size - i < 8 ? head_size - i : 8;
    const __m256i m = tail_mask(width);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    std::size_t t = 0;
    for (; t + 2 <= n_pos; t += 2) {
      acc0 = _mm256_fmadd_ps(_mm256_set1_ps(att[t]), _mm256_maskload_ps(values + t * head_size + i, m), acc0);
      acc1 = _mm256_fmadd_ps(_mm256_set1_ps(att[t + 1]), _mm256_maskload_ps(values + (t + 1) * head_size + i, m),
                             acc1);
    }
    if (t < n_pos) {
      acc0 = _mm256_fmadd_ps(_mm256_set1_ps(att[t]), _mm256_maskload_ps(values + t * head_size + i, m), acc0);
    }
    _mm256_maskstore_ps(out + i, m, _mm256_add_ps(acc0, acc1));
  }
}

// --- matrix-vector: fp32 ---------------------------------------------------------------

// R rows at once share each load of x; every row keeps its own two
// accumulators, so row r's sum is the same for any R.
template <int R>
K256_INLINE void f32_rows(float* out, const float* w, const float* x, std::size_t cols) {
  __m256 acc0[R], acc1[R];
  for (int r = 0; r < R; r++) acc0[r] = acc1[r] = _mm256_setzero_ps();
  std::size_t j = 0;
  for (; j + 16 <= cols; j += 16) {
    const __m256 x0 = _mm256_loadu_ps(x + j), x1 = _mm256_loadu_ps(x + j + 8);
    for (int r = 0; r < R; r++) {
      acc0[r] = _mm256_fmadd_ps(_mm256_loadu_ps(w + r * cols + j), x0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(_mm256_loadu_ps(w + r * cols + j + 8), x1, acc1[r]);
    }
  }
  if (j + 8 <= cols) {
    const __m256 x0 = _mm256_loadu_ps(x + j);
    for (int r = 0; r < R; r++) acc0[r] = _mm256_fmadd_ps(_mm256_loadu_ps(w + r * cols + j), x0, acc0[r]);
    j += 8;
  }
  if (j < cols) {
    const __m256i m = tail_mask(cols - j);
    const __m256 x1 = _mm256_maskload_ps(x + j, m);
    for (int r = 0; r < R; r++) acc1[r] = _mm256_fmadd_ps(_mm256_maskload_ps(w + r * cols + j, m), x1, acc1[r]);
  }
  for (int r = 0; r < R; r++) out[r] = hsum(_mm256_add_ps(acc0[r], acc1[r]));
}

K256 void matvec_f32(float* out, const float* w, const float* x, std::size_t cols, std::size_t r0, std::size_t r1) {
  std::size_t r = r0;
  for (; r + 4 <= r1; r += 4) f32_rows<4>(out + r, w + r * cols, x, cols);
  for (; r < r1; r++) f32_rows<1>(out + r, w + r * cols, x, cols);
}

// --- matrix-vector: llama2.c int8 (Q8_GROUP) ------------------------------------------

// 8 int8 weights -> 8 floats.
K256_INLINE __m256 load_i8(const std::int8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

// Per group: an fp32 sum of q * x, then scaled once into the row's
// accumulator. group_size must be a multiple of 8.
template <int R>
K256_INLINE void q8_group_rows(float* out, const std::int8_t* q, const float* scales, std::size_t gs,
                               const float* x, std::size_t cols) {
  const std::size_t groups = cols / gs;
  __m256 acc[R];
  for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
  for (std::size_t g = 0; g < groups; g++) {
    __m256 gacc[R];
    const std::size_t base = g * gs;
    {
      const __m256 xv = _mm256_loadu_ps(x + base);
      for (int r = 0; r < R; r++) gacc[r] = _mm256_mul_ps(load_i8(q + r * cols + base), xv);
    }
    for (std::size_t j = 8; j < gs; j += 8) {
      const __m256 xv = _mm256_loadu_ps(x + base + j);
      for (int r = 0; r < R; r++) gacc[r] = _mm256_fmadd_ps(load_i8(q + r * cols + base + j), xv, gacc[r]);
    }
    for (int r = 0; r < R; r++) acc[r] = _mm256_fmadd_ps(gacc[r], _mm256_set1_ps(scales[r * groups + g]), acc[r]);
  }
  for (int r = 0; r < R; r++) out[r] = hsum(acc[r]);
}

K256 void matvec_q8_group(float* out, const std::int8_t* q, const float* scales, std::size_t gs, const float* x,
                          std::size_t cols, std::size_t r0, std::size_t r1) {
  if (gs % 8 != 0) {
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
K256_INLINE void matmat_tile(float* out, std::size_t ldo, const float* w, const float* x, std::size_t cols) {
  __m256 acc[R][B];
  for (int i = 0; i < R; i++) {
    for (int b = 0; b < B; b++) acc[i][b] = _mm256_setzero_ps();
  }
  std::size_t j = 0;
  for (; j + 8 <= cols; j += 8) {
    __m256 wv[R];
    for (int i = 0; i < R; i++) wv[i] = _mm256_loadu_ps(w + i * cols + j);
    for (int b = 0; b < B; b++) {
      const __m256 xv = _mm256_loadu_ps(x + b * cols + j);
      for (int i = 0; i < R; i++) acc[i][b] = _mm256_fmadd_ps(wv[i], xv, acc[i][b]);
    }
  }
  if (j < cols) {
    const __m256i m = tail_mask(cols - j);
    __m256 wv[R];
    for (int i = 0; i < R; i++) wv[i] = _mm256_maskload_ps((w + i * cols + j), m);
    for (int b = 0; b < B; b++) {
      const __m256 xv = _mm256_maskload_ps((x + b * cols + j), m);
      for (int i = 0; i < R; i++) acc[i][b] = _mm256_fmadd_ps(wv[i], xv, acc[i][b]);
    }
  }
  for (int b = 0; b < B; b++) {
    for (int i = 0; i < R; i++) out[b * ldo + i] = hsum(acc[i][b]);
  }
}

K256 void matmat_f32(float* out, std::size_t ldo, const float* w, std::size_t n_rows, const float* x,
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

K256_INLINE __m256 load_f16(const std::uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
K256_INLINE __m256 load_bf16(const std::uint16_t* p) {
  const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

template <bool kBf16>
K256_INLINE void half_rows(float* out, const std::uint16_t* w, const float* x, std::size_t cols, std::size_t r0,
                           std::size_t r1) {
  for (std::size_t r = r0; r < r1; r++) {
    const std::uint16_t* row = w + r * cols;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    std::size_t j = 0;
    for (; j + 16 <= cols; j += 16) {
      acc0 = _mm256_fmadd_ps(kBf16 ? load_bf16(row + j) : load_f16(row + j), _mm256_loadu_ps(x + j), acc0);
      acc1 = _mm256_fmadd_ps(kBf16 ? load_bf16(row + j + 8) : load_f16(row + j + 8), _mm256_loadu_ps(x + j + 8), acc1);
    }
    if (j + 8 <= cols) {
      acc0 = _mm256_fmadd_ps(kBf16 ? load_bf16(row + j) : load_f16(row + j), _mm256_loadu_ps(x + j), acc0);
      j += 8;
    }
    float sum = hsum(_mm256_add_ps(acc0, acc1));
    for (; j < cols; j++) sum += (kBf16 ? bf16_to_fp32(row[j]) : fp16_to_fp32(row[j])) * x[j];
    out[r] = sum;
  }
}

K256 void matvec_f16(float* out, const std::uint16_t* w, const float* x, std::size_t cols, std::size_t r0,
                     std::size_t r1) {
  half_rows<false>(out, w, x, cols, r0, r1);
}
K256 void matvec_bf16(float* out, const std::uint16_t* w, const float* x, std::size_t cols, std::size_t r0,
                      std::size_t r1) {
  half_rows<true>(out, w, x, cols, r0, r1);
}

// --- matrix-vector: GGUF Q8_0 / Q4_0 with int8 activations -------------------------------

// 32 unsigned a times 32 signed b, summed in pairs into 8 int32 (maddubs
// cannot overflow here: |a| <= 128 and |b| <= 127).
K256_INLINE __m256i dot_u8_s8(__m256i a, __m256i b) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1));
}

// Q4_0 byte j holds value j (low nibble) and value j + 16 (high nibble).
K256_INLINE __m256i unpack_q4(const std::uint8_t* qs) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i low = _mm_set1_epi8(0x0f);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(bytes, 4), low), _mm_and_si128(bytes, low));
}

K256_INLINE __m256i load_q8(const std::int8_t* qs) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs)); }

K256 void matvec_q8_0(float* out, const void* w, std::size_t row_bytes, const BlockQ8x32* xq, std::size_t cols,
                      std::size_t r0, std::size_t r1) {
  for (std::size_t r = r0; r < r1; r++) {
    const BlockQ8_0* blocks = reinterpret_cast<const BlockQ8_0*>(static_cast<const std::uint8_t*>(w) + r * row_bytes);
    __m256 acc = _mm256_setzero_ps();
    for (std::size_t b = 0; b < cols / 32; b++) {
      const __m256i wq = load_q8(blocks[b].qs), xv = load_q8(xq[b].qs);
      // |w| times x with w's sign: unsigned by signed, as maddubs wants.
      const __m256i isum = dot_u8_s8(_mm256_sign_epi8(wq, wq), _mm256_sign_epi8(xv, wq));
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(fp16_to_fp32(blocks[b].d) * xq[b].d), acc);
    }
    out[r] = hsum(acc);
  }
}

K256 void matvec_q4_0(float* out, const void* w, std::size_t row_bytes, const BlockQ8x32* xq, std::size_t cols,
                      std::size_t r0, std::size_t r1) {
  for (std::size_t r = r0; r < r1; r++) {
    const BlockQ4_0* blocks = reinterpret_cast<const BlockQ4_0*>(static_cast<const std::uint8_t*>(w) + r * row_bytes);
    __m256 acc = _mm256_setzero_ps();
    float offset = 0.0f;  // sum of d * 8 * sum(x q): the -8 of every weight
    for (std::size_t b = 0; b < cols / 32; b++) {
      const float d = fp16_to_fp32(blocks[b].d) * xq[b].d;
      const __m256i isum = dot_u8_s8(unpack_q4(blocks[b].qs), load_q8(xq[b].qs));
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(d), acc);
      offset += d * float(8 * (xq[b].sums[0] + xq[b].sums[1]));
    }
    out[r] = hsum(acc) - offset;
  }
}

// --- matrix-vector: GGUF blocks with fp32 activations -------------------------------------
// As in kernels_avx512.cpp: each weight is rebuilt in registers exactly as
// dequantize_blocks computes it, then FMA'd with x; two accumulators per row.

// 8 bytes -> 8 int32 lanes, zero-extended.
K256_INLINE __m256i load_u8x8(const std::uint8_t* p) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

K256 void matvec_q8_0_f32(float* out, const void* w, std::size_t row_bytes, const float* x, std::size_t cols,
                          std::size_t r0, std::size_t r1) {
  for (std::size_t r = r0; r < r1; r++) {
    const auto* blocks = reinterpret_cast<const BlockQ8_0*>(static_cast<const std::uint8_t*>(w) + r * row_bytes);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (std::size_t b = 0; b < cols / kQK; b++) {
      const __m256 d = _mm256_set1_ps(_cvtsh_ss(blocks[b].d));
      const float* xb = x + b * kQK;
      for (int i = 0; i < 32; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_mul_ps(load_i8(blocks[b].qs + i), d), _mm256_loadu_ps(xb + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_mul_ps(load_i8(blocks[b].qs + i + 8), d), _mm256_loadu_ps(xb + i + 8), acc1);
      }
    }
    out[r] = hsum(_mm256_add_ps(acc0, acc1));
  }
}

K256 void matvec_q4_0_f32(float* out, const void* w, std::size_t row_bytes, const float* x, std::size_t cols,
                          std::size_t r0, std::size_t r1) {
  const __m256i nibble = _mm256_set1_epi32(0xF);
  for (std::size_t r = r0; r < r1; r++) {
    const auto* blocks = reinterpret_cast<const BlockQ4_0*>(static_cast<const std::uint8_t*>(w) + r * row_bytes);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (std::size_t b = 0; b < cols / kQK; b++) {
      // d * (q - 8) as q * d - 8 * d in one FMA: both products are exact and
      // so is their difference, the dequantized weight.
      const float df = _cvtsh_ss(blocks[b].d);
      const __m256 d = _mm256_set1_ps(df), d8 = _mm256_set1_ps(8.0f * df);
      const float* xb = x + b * kQK;
      for (int i = 0; i < 16; i += 8) {  // bytes i..i+7: values i.. (low) and 16 + i.. (high)
        const __m256i bytes = load_u8x8(blocks[b].qs + i);
        const __m256 lo = _mm256_cvtepi32_ps(_mm256_and_si256(bytes, nibble));
        const __m256 hi = _mm256_cvtepi32_ps(_mm256_srli_epi32(bytes, 4));
        acc0 = _mm256_fmadd_ps(_mm256_fmsub_ps(lo, d, d8), _mm256_loadu_ps(xb + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_fmsub_ps(hi, d, d8), _mm256_loadu_ps(xb + 16 + i), acc1);
      }
    }
    out[r] = hsum(_mm256_add_ps(acc0, acc1));
  }
}

// The 8 sub-block scales and mins of a Q4_K block times d and dmin (the
// unpacking of scale_min_k4, inlined).
K256_INLINE void q4_k_scales(const BlockQ4_K& b, float* dsc, float* dmn) {
  const float d = _cvtsh_ss(b.d), dmin = _cvtsh_ss(b.dmin);
  const std::uint8_t* q = b.scales;
  for (int j = 0; j < 4; j++) {
    dsc[j] = d * float(q[j] & 63);
    dmn[j] = dmin * float(q[j + 4] & 63);
    dsc[j + 4] = d * float((q[j + 8] & 0xF) | ((q[j] >> 6) << 4));
    dmn[j + 4] = dmin * float((q[j + 8] >> 4) | ((q[j + 4] >> 6) << 4));
  }
}

K256 void matvec_q4_k_f32(float* out, const void* w, std::size_t row_bytes, const float* x, std::size_t cols,
                          std::size_t r0, std::size_t r1) {
  const __m256i nibble = _mm256_set1_epi32(0xF);
  for (std::size_t r = r0; r < r1; r++) {
    const auto* blocks = reinterpret_cast<const BlockQ4_K*>(static_cast<const std::uint8_t*>(w) + r * row_bytes);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (std::size_t b = 0; b < cols / kQK_K; b++) {
      float dsc[8], dmn[8];
      q4_k_scales(blocks[b], dsc, dmn);
      const float* xb = x + b * kQK_K;
      // Chunk c (64 values): low nibbles of qs[32c..32c+32) are sub-block 2c, high ones 2c + 1.
      for (int c = 0; c < 4; c++) {
        const __m256 s0 = _mm256_set1_ps(dsc[2 * c]), m0 = _mm256_set1_ps(dmn[2 * c]);
        const __m256 s1 = _mm256_set1_ps(dsc[2 * c + 1]), m1 = _mm256_set1_ps(dmn[2 * c + 1]);
        const float* xc = xb + 64 * c;
        for (int i = 0; i < 32; i += 8) {
          const __m256i bytes = load_u8x8(blocks[b].qs + 32 * c + i);
          acc0 = _mm256_fmadd_ps(_mm256_fmsub_ps(_mm256_cvtepi32_ps(_mm256_and_si256(bytes, nibble)), s0, m0),
                                 _mm256_loadu_ps(xc + i), acc0);
          acc1 = _mm256_fmadd_ps(_mm256_fmsub_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(bytes, 4)), s1, m1),
                                 _mm256_loadu_ps(xc + 32 + i), acc1);
        }
      }
    }
    out[r] = hsum(_mm256_add_ps(acc0, acc1));
  }
}

// Q6_K layout as in quants.cpp: in half h, value 128h + 32r + l takes its low
// 4 bits from ql[64h + l + 32 (r & 1)] (low nibble for r < 2) and bits 2r,
// 2r + 1 of qh[32h + l] as bits 4, 5; scale scales[8h + 2r + l / 16].
K256 void matvec_q6_k_f32(float* out, const void* w, std::size_t row_bytes, const float* x, std::size_t cols,
                          std::size_t r0, std::size_t r1) {
  const __m256i nibble = _mm256_set1_epi32(0xF), top = _mm256_set1_epi32(0x30), bias = _mm256_set1_epi32(32);
  for (std::size_t r = r0; r < r1; r++) {
    const auto* blocks = reinterpret_cast<const BlockQ6_K*>(static_cast<const std::uint8_t*>(w) + r * row_bytes);
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    for (std::size_t b = 0; b < cols / kQK_K; b++) {
      const BlockQ6_K& blk = blocks[b];
      const float d = _cvtsh_ss(blk.d);
      for (int h = 0; h < 2; h++) {
        const float* xh = x + b * kQK_K + 128 * h;
        for (int k = 0; k < 4; k++) {  // l = 8k .. 8k + 7
          const __m256i a = load_u8x8(blk.ql + 64 * h + 8 * k), c = load_u8x8(blk.ql + 64 * h + 32 + 8 * k);
          const __m256i hb = load_u8x8(blk.qh + 32 * h + 8 * k);
          __m256i q[4];
          q[0] = _mm256_or_si256(_mm256_and_si256(a, nibble), _mm256_and_si256(_mm256_slli_epi32(hb, 4), top));
          q[1] = _mm256_or_si256(_mm256_and_si256(c, nibble), _mm256_and_si256(_mm256_slli_epi32(hb, 2), top));
          q[2] = _mm256_or_si256(_mm256_srli_epi32(a, 4), _mm256_and_si256(hb, top));
          q[3] = _mm256_or_si256(_mm256_srli_epi32(c, 4), _mm256_and_si256(_mm256_srli_epi32(hb, 2), top));
          for (int rr = 0; rr < 4; rr++) {
            const __m256 s = _mm256_set1_ps(d * float(blk.scales[8 * h + 2 * rr + k / 2]));
            const __m256 wv = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(q[rr], bias)), s);
            acc[k & 1] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xh + 32 * rr + 8 * k), acc[k & 1]);
          }
        }
      }
    }
    out[r] = hsum(_mm256_add_ps(acc[0], acc[1]));
  }
}

Kernels make_table() {
  Kernels k;
  k.isa = Isa::AVX2;
  k.dot = dot;
  k.axpy = axpy;
  k.sum_squares = sum_squares;
  k.attention_scores = attention_scores;
  k.attention_values = attention_values;
  k.matvec_f32 = matvec_f32;
  k.matvec_q8_group = matvec_q8_group;
  k.matvec_f16 = matvec_f16;
  k.matvec_bf16 = matvec_bf16;
  k.matvec_q8_0 = matvec_q8_0;
  k.matvec_q4_0 = matvec_q4_0;
  k.matvec_q8_0_f32 = matvec_q8_0_f32;
  k.matvec_q4_0_f32 = matvec_q4_0_f32;
  k.matvec_q4_k_f32 = matvec_q4_k_f32;
  k.matvec_q6_k_f32 = matvec_q6_k_f32;
  k.matmat_f32 = matmat_f32;
  return k;
}

}  // namespace

const Kernels* kernels_avx2_table() {
  static const Kernels table = make_table();
  return &table;
}

}  // namespace llama2

#else

namespace llama2 {
const Kernels* kernels_avx2_table() { return nullptr; }
}  // namespace llama2

#endif

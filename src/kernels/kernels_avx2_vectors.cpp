// AVX2 vector kernels: dot products, attention over one head, the fp32
// matrix-matrix product, softmax and SwiGLU (kernels_avx2.hpp).
#include "kernels/kernels_avx2.hpp"

#include "kernels/fp16.hpp"
#include "kernels/int8_x86.hpp"

#if defined(__x86_64__)

namespace llama2::avx2 {

namespace {

using x86::hsum;

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

// Activations to 8 bits, 32 at a time (kernels.hpp): the scalar code's
// operations on 8 lanes; vcvtps2dq rounds to nearest even as nearbyint does.
K256_INLINE int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

K256 void quantize_q8x32(const float* x, BlockQ8x32* y, std::size_t n) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (std::size_t b = 0; b < n / 32; b++) {
    __m256 v[4];
    for (int i = 0; i < 4; i++) v[i] = _mm256_loadu_ps(x + b * 32 + 8 * i);
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                             _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    const float d = amax / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
    __m256i q[4];
    for (int i = 0; i < 4; i++) q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], _mm256_set1_ps(id)));
    y[b].d = d;
    y[b].sums[0] = std::int16_t(hsum_i32(_mm256_add_epi32(q[0], q[1])));
    y[b].sums[1] = std::int16_t(hsum_i32(_mm256_add_epi32(q[2], q[3])));
    // Saturating packs interleave the 128-bit lanes; the permute puts the 32 bytes back in order.
    const __m256i q16 = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    const __m256i q8 = _mm256_permutevar8x32_epi32(q16, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].qs), q8);
  }
}

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

// fp16 cache: 8 halves at a time widened with vcvtph2ps (F16C); a head size
// that is not a multiple of 8 finishes element by element.
K256_INLINE __m256 load_half8(const std::uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

K256 void attention_scores_f16(float* att, const float* q, const std::uint16_t* keys, std::size_t n_pos,
                               std::size_t head_size, float scale) {
  const std::size_t full = head_size / 8 * 8;
  for (std::size_t t = 0; t < n_pos; t++) {
    const std::uint16_t* key = keys + t * head_size;
    __m256 acc = _mm256_setzero_ps();
    for (std::size_t i = 0; i < full; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load_half8(key + i), acc);
    float sum = hsum(acc);
    for (std::size_t i = full; i < head_size; i++) sum += q[i] * fp16_to_fp32(key[i]);
    att[t] = sum * scale;
  }
}

K256 void attention_values_f16(float* out, const float* att, const std::uint16_t* values, std::size_t n_pos,
                               std::size_t head_size) {
  const std::size_t full = head_size / 8 * 8;
  for (std::size_t i = 0; i < full; i += 8) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    std::size_t t = 0;
    for (; t + 2 <= n_pos; t += 2) {
      acc0 = _mm256_fmadd_ps(_mm256_set1_ps(att[t]), load_half8(values + t * head_size + i), acc0);
      acc1 = _mm256_fmadd_ps(_mm256_set1_ps(att[t + 1]), load_half8(values + (t + 1) * head_size + i), acc1);
    }
    if (t < n_pos) acc0 = _mm256_fmadd_ps(_mm256_set1_ps(att[t]), load_half8(values + t * head_size + i), acc0);
    _mm256_storeu_ps(out + i, _mm256_add_ps(acc0, acc1));
  }
  for (std::size_t i = full; i < head_size; i++) {
    float sum = 0.0f;
    for (std::size_t t = 0; t < n_pos; t++) sum += att[t] * fp16_to_fp32(values[t * head_size + i]);
    out[i] = sum;
  }
}

// --- matrix-matrix (batched prompt) ---------------------------------------------------

// One tile: 16 outputs (two registers, masked by m0, m1) for each of B
// tokens. With B = 6, 12 accumulators + 2 weights + 1 broadcast fill 15 of
// the 16 registers.
template <int B>
K256_INLINE void matmat_tile(float* out, std::size_t ldo, const float* wt, std::size_t ldw, __m256i m0, __m256i m1,
                             const float* x, std::size_t ldx, std::size_t cols, bool accumulate) {
  __m256 acc0[B], acc1[B];
  for (int b = 0; b < B; b++) {
    acc0[b] = accumulate ? _mm256_maskload_ps(out + b * ldo, m0) : _mm256_setzero_ps();
    acc1[b] = accumulate ? _mm256_maskload_ps(out + b * ldo + 8, m1) : _mm256_setzero_ps();
  }
  for (std::size_t k = 0; k < cols; k++) {
    const __m256 w0 = _mm256_maskload_ps(wt + k * ldw, m0);
    const __m256 w1 = _mm256_maskload_ps(wt + k * ldw + 8, m1);
    for (int b = 0; b < B; b++) {
      const __m256 xb = _mm256_broadcast_ss(x + b * ldx + k);
      acc0[b] = _mm256_fmadd_ps(w0, xb, acc0[b]);
      acc1[b] = _mm256_fmadd_ps(w1, xb, acc1[b]);
    }
  }
  for (int b = 0; b < B; b++) {
    _mm256_maskstore_ps(out + b * ldo, m0, acc0[b]);
    _mm256_maskstore_ps(out + b * ldo + 8, m1, acc1[b]);
  }
}

K256 void matmat_f32(float* out, std::size_t ldo, const float* wt, std::size_t ldw, std::size_t n_rows,
                     const float* x, std::size_t ldx, std::size_t n_batch, std::size_t cols, bool accumulate) {
  for (std::size_t i = 0; i < n_rows; i += 16) {
    const std::size_t nr = n_rows - i < 16 ? n_rows - i : 16;
    const __m256i m0 = tail_mask(nr < 8 ? nr : 8), m1 = tail_mask(nr > 8 ? nr - 8 : 0);
    std::size_t b = 0;
    for (; b + 6 <= n_batch; b += 6) {
      matmat_tile<6>(out + b * ldo + i, ldo, wt + i, ldw, m0, m1, x + b * ldx, ldx, cols, accumulate);
    }
    if (b + 4 <= n_batch) {
      matmat_tile<4>(out + b * ldo + i, ldo, wt + i, ldw, m0, m1, x + b * ldx, ldx, cols, accumulate);
      b += 4;
    }
    if (b + 2 <= n_batch) {
      matmat_tile<2>(out + b * ldo + i, ldo, wt + i, ldw, m0, m1, x + b * ldx, ldx, cols, accumulate);
      b += 2;
    }
    if (b < n_batch) matmat_tile<1>(out + b * ldo + i, ldo, wt + i, ldw, m0, m1, x + b * ldx, ldx, cols, accumulate);
  }
}

// exp(x) = 2^n * e^r with x = n ln2 + r, |r| <= ln2 / 2, e^r by its degree-6
// Taylor polynomial (relative error < 3e-7); x is clamped to [-87, 88] so
// that 2^n, built in the exponent bits, stays a normal float.
K256_INLINE __m256 exp8(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);  // ln2 in two parts: n * ln2_hi is exact
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 720);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i pow2n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(pow2n));
}

K256 void softmax(float* x, std::size_t n, float scale) {
  const __m256 vscale = _mm256_set1_ps(scale), minus_inf = _mm256_set1_ps(-__builtin_inff());
  __m256 vmax = minus_inf;
  for (std::size_t i = 0; i < n; i += 8) {
    const __m256i m = tail_mask(n - i < 8 ? n - i : 8);
    const __m256 v = _mm256_mul_ps(_mm256_maskload_ps(x + i, m), vscale);
    vmax = _mm256_max_ps(vmax, _mm256_blendv_ps(minus_inf, v, _mm256_castsi256_ps(m)));
  }
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  const __m256 max_val = _mm256_set1_ps(_mm_cvtss_f32(m4));
  __m256 sum = _mm256_setzero_ps();
  for (std::size_t i = 0; i < n; i += 8) {
    const __m256i m = tail_mask(n - i < 8 ? n - i : 8);
    const __m256 e = _mm256_and_ps(exp8(_mm256_sub_ps(_mm256_mul_ps(_mm256_maskload_ps(x + i, m), vscale), max_val)),
                                   _mm256_castsi256_ps(m));
    _mm256_maskstore_ps(x + i, m, e);
    sum = _mm256_add_ps(sum, e);
  }
  const __m256 inv = _mm256_set1_ps(1.0f / hsum(sum));
  for (std::size_t i = 0; i < n; i += 8) {
    const __m256i m = tail_mask(n - i < 8 ? n - i : 8);
    _mm256_maskstore_ps(x + i, m, _mm256_mul_ps(_mm256_maskload_ps(x + i, m), inv));
  }
}

K256 void swiglu(float* hb, const float* hb2, std::size_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  for (std::size_t i = 0; i < n; i += 8) {
    const __m256i m = tail_mask(n - i < 8 ? n - i : 8);
    const __m256 g = _mm256_maskload_ps(hb + i, m);
    const __m256 silu = _mm256_div_ps(g, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), g))));
    _mm256_maskstore_ps(hb + i, m, _mm256_mul_ps(silu, _mm256_maskload_ps(hb2 + i, m)));
  }
}

}  // namespace

Kernels vector_table() {
  return {.isa = Isa::AVX2, .dot = dot, .axpy = axpy, .sum_squares = sum_squares, .quantize_q8x32 = quantize_q8x32,
          .attention_scores = attention_scores, .attention_values = attention_values,
          .attention_scores_f16 = attention_scores_f16, .attention_values_f16 = attention_values_f16,
          .matmat_f32 = matmat_f32, .transpose = kernels_scalar().transpose,  // the scalar copy loop
          .softmax = softmax, .swiglu = swiglu};
}

}  // namespace llama2::avx2

#endif

// AVX-512 vector kernels: dot products, attention over one head, the fp32
// matrix-matrix product, transpose, softmax and SwiGLU (kernels_avx512.hpp).
#include "kernels/kernels_avx512.hpp"

#include "kernels/transpose_x86.hpp"

#if defined(__x86_64__)

namespace llama2::avx512 {

namespace {

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

// Activations to 8 bits, 32 at a time (kernels.hpp): the scalar code's
// operations on 16 lanes; vcvtps2dq rounds to nearest even as nearbyint does.
K512 void quantize_q8x32(const float* x, BlockQ8x32* y, std::size_t n) {
  const __m512 sign = _mm512_set1_ps(-0.0f);
  for (std::size_t b = 0; b < n / 32; b++) {
    const __m512 x0 = _mm512_loadu_ps(x + b * 32), x1 = _mm512_loadu_ps(x + b * 32 + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_andnot_ps(sign, x0), _mm512_andnot_ps(sign, x1)));
    const float d = amax / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
    const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(x0, _mm512_set1_ps(id)));
    const __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(x1, _mm512_set1_ps(id)));
    y[b].d = d;
    y[b].sums[0] = std::int16_t(_mm512_reduce_add_epi32(q0));
    y[b].sums[1] = std::int16_t(_mm512_reduce_add_epi32(q1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[b].qs), _mm512_cvtepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[b].qs + 16), _mm512_cvtepi32_epi8(q1));
  }
}

// --- attention ---------------------------------------------------------------------

K512 void attention_scores(float* att, const float* q, const float* keys, std::size_t n_pos,
                           std::size_t head_size, float scale) {
  for (std::size_t t = 0; t < n_pos; t++) att[t] = dot(q, keys + t * head_size, head_size) * scale;
}

// Up to four 16-float chunks of the output (64 values) stay in registers while
// the positions stream by, so a head of 128 reads its values in two passes,
// each row's bytes once per pass. Values are fp32 or, kHalf, IEEE halves.
template <int C, bool kHalf>
K512_INLINE void values_pass(float* out, const float* att, const void* values, std::size_t n_pos,
                             std::size_t head_size, std::size_t i) {
  __mmask16 m[C];
  __m512 acc[C];
  for (int c = 0; c < C; c++) {
    const std::size_t left = head_size - i - 16 * c;
    m[c] = __mmask16(left >= 16 ? 0xffff : (1u << left) - 1);
    acc[c] = _mm512_setzero_ps();
  }
  for (std::size_t t = 0; t < n_pos; t++) {
    const __m512 a = _mm512_set1_ps(att[t]);
    for (int c = 0; c < C; c++) {
      const std::size_t at = t * head_size + i + 16 * c;
      const __m512 v = kHalf ? _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m[c], static_cast<const std::uint16_t*>(values) + at))
                             : _mm512_maskz_loadu_ps(m[c], static_cast<const float*>(values) + at);
      acc[c] = _mm512_fmadd_ps(a, v, acc[c]);
    }
  }
  for (int c = 0; c < C; c++) _mm512_mask_storeu_ps(out + i + 16 * c, m[c], acc[c]);
}

template <bool kHalf>
K512_INLINE void weighted_values(float* out, const float* att, const void* values, std::size_t n_pos,
                                 std::size_t head_size) {
  for (std::size_t i = 0; i < head_size; i += 64) {
    switch ((head_size - i + 15) / 16) {
      case 1: values_pass<1, kHalf>(out, att, values, n_pos, head_size, i); break;
      case 2: values_pass<2, kHalf>(out, att, values, n_pos, head_size, i); break;
      case 3: values_pass<3, kHalf>(out, att, values, n_pos, head_size, i); break;
      default: values_pass<4, kHalf>(out, att, values, n_pos, head_size, i); break;
    }
  }
}

K512 void attention_values(float* out, const float* att, const float* values, std::size_t n_pos,
                           std::size_t head_size) {
  weighted_values<false>(out, att, values, n_pos, head_size);
}

// fp16 cache: each 16 halves widened with vcvtph2ps as they are read.
K512_INLINE __m512 load_half16(const std::uint16_t* p, __mmask16 m) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

K512 void attention_scores_f16(float* att, const float* q, const std::uint16_t* keys, std::size_t n_pos,
                               std::size_t head_size, float scale) {
  for (std::size_t t = 0; t < n_pos; t++) {
    const std::uint16_t* key = keys + t * head_size;
    __m512 acc = _mm512_setzero_ps();
    for (std::size_t i = 0; i < head_size; i += 16) {
      const __mmask16 m = __mmask16(head_size - i >= 16 ? 0xffff : (1u << (head_size - i)) - 1);
      acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i), load_half16(key + i, m), acc);
    }
    att[t] = _mm512_reduce_add_ps(acc) * scale;
  }
}

K512 void attention_values_f16(float* out, const float* att, const std::uint16_t* values, std::size_t n_pos,
                               std::size_t head_size) {
  weighted_values<true>(out, att, values, n_pos, head_size);
}

// --- matrix-matrix (batched prompt) ---------------------------------------------------

// One tile: 32 outputs (two registers, masked by m0, m1) for each of B
// tokens. Per k: two loads of packed weights, B broadcasts of an activation,
// 2B independent FMAs; with B = 8 the 16 accumulators keep both FMA units
// busy through their latency.
template <int B>
K512_INLINE void matmat_tile(float* out, std::size_t ldo, const float* wt, std::size_t ldw, __mmask16 m0,
                             __mmask16 m1, const float* x, std::size_t ldx, std::size_t cols, bool accumulate) {
  __m512 acc0[B], acc1[B];
  for (int b = 0; b < B; b++) {
    acc0[b] = accumulate ? _mm512_maskz_loadu_ps(m0, out + b * ldo) : _mm512_setzero_ps();
    acc1[b] = accumulate ? _mm512_maskz_loadu_ps(m1, out + b * ldo + 16) : _mm512_setzero_ps();
  }
  for (std::size_t k = 0; k < cols; k++) {
    const __m512 w0 = _mm512_maskz_loadu_ps(m0, wt + k * ldw);
    const __m512 w1 = _mm512_maskz_loadu_ps(m1, wt + k * ldw + 16);
    for (int b = 0; b < B; b++) {
      const __m512 xb = _mm512_set1_ps(x[b * ldx + k]);
      acc0[b] = _mm512_fmadd_ps(w0, xb, acc0[b]);
      acc1[b] = _mm512_fmadd_ps(w1, xb, acc1[b]);
    }
  }
  for (int b = 0; b < B; b++) {
    _mm512_mask_storeu_ps(out + b * ldo, m0, acc0[b]);
    _mm512_mask_storeu_ps(out + b * ldo + 16, m1, acc1[b]);
  }
}

K512 void matmat_f32(float* out, std::size_t ldo, const float* wt, std::size_t ldw, std::size_t n_rows,
                     const float* x, std::size_t ldx, std::size_t n_batch, std::size_t cols, bool accumulate) {
  for (std::size_t i = 0; i < n_rows; i += 32) {
    const std::size_t nr = n_rows - i < 32 ? n_rows - i : 32;
    const __mmask16 m0 = __mmask16(nr >= 16 ? 0xffff : (1u << nr) - 1);
    const __mmask16 m1 = __mmask16(nr <= 16 ? 0 : nr == 32 ? 0xffff : (1u << (nr - 16)) - 1);
    std::size_t b = 0;
    for (; b + 8 <= n_batch; b += 8) {
      matmat_tile<8>(out + b * ldo + i, ldo, wt + i, ldw, m0, m1, x + b * ldx, ldx, cols, accumulate);
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

// 16 x 16 blocks, edges masked.
K512 void transpose(float* out, std::size_t ldo, const float* in, std::size_t ldi, std::size_t rows, std::size_t cols) {
  for (std::size_t r0 = 0; r0 < rows; r0 += 16) {
    const std::size_t nr = rows - r0 < 16 ? rows - r0 : 16;
    const __mmask16 row_mask = __mmask16(nr == 16 ? 0xffff : (1u << nr) - 1);
    for (std::size_t c0 = 0; c0 < cols; c0 += 16) {
      const std::size_t nc = cols - c0 < 16 ? cols - c0 : 16;
      const __mmask16 col_mask = __mmask16(nc == 16 ? 0xffff : (1u << nc) - 1);
      __m512 v[16];
      for (std::size_t i = 0; i < 16; i++) {
        v[i] = i < nr ? _mm512_maskz_loadu_ps(col_mask, in + (r0 + i) * ldi + c0) : _mm512_setzero_ps();
      }
      x86::transpose16(v);
      for (std::size_t j = 0; j < nc; j++) _mm512_mask_storeu_ps(out + (c0 + j) * ldo + r0, row_mask, v[j]);
    }
  }
}

// exp(x) = 2^n * e^r with x = n ln2 + r, |r| <= ln2 / 2, e^r by its degree-6
// Taylor polynomial (relative error < 3e-7); x is clamped to [-88, 88].
K512_INLINE __m512 exp16(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-88.0f)), _mm512_set1_ps(88.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);  // ln2 in two parts: n * ln2_hi is exact
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 720);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

K512_INLINE __mmask16 tail_mask16(std::size_t n) { return __mmask16(n >= 16 ? 0xffff : (1u << n) - 1); }

K512 void softmax(float* x, std::size_t n, float scale) {
  const __m512 vscale = _mm512_set1_ps(scale);
  __m512 vmax = _mm512_set1_ps(-__builtin_inff());
  for (std::size_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask16(n - i);
    vmax = _mm512_mask_max_ps(vmax, m, vmax, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vscale));
  }
  const __m512 max_val = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  __m512 sum = _mm512_setzero_ps();
  for (std::size_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask16(n - i);
    const __m512 e = exp16(_mm512_sub_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vscale), max_val));
    _mm512_mask_storeu_ps(x + i, m, e);
    sum = _mm512_mask_add_ps(sum, m, sum, e);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
  for (std::size_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask16(n - i);
    _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv));
  }
}

K512 void swiglu(float* hb, const float* hb2, std::size_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (std::size_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask16(n - i);
    const __m512 g = _mm512_maskz_loadu_ps(m, hb + i);
    const __m512 silu = _mm512_div_ps(g, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), g))));
    _mm512_mask_storeu_ps(hb + i, m, _mm512_mul_ps(silu, _mm512_maskz_loadu_ps(m, hb2 + i)));
  }
}

}  // namespace

Kernels vector_table() {
  return {.isa = Isa::AVX512, .dot = dot, .axpy = axpy, .sum_squares = sum_squares, .quantize_q8x32 = quantize_q8x32,
          .attention_scores = attention_scores, .attention_values = attention_values,
          .attention_scores_f16 = attention_scores_f16, .attention_values_f16 = attention_values_f16,
          .matmat_f32 = matmat_f32, .transpose = transpose, .softmax = softmax, .swiglu = swiglu};
}

}  // namespace llama2::avx512

#endif

// AVX-512 kernels (F, BW, VL; VNNI where noted): 16 floats per register.
// Compiled into every x86-64 build through per-function target attributes
// and used only when cpu_features() reports the instructions.
#include <cstdlib>
#include <cstring>

#include "kernels/fp16.hpp"
#include "kernels/int8_x86.hpp"
#include "kernels/kernels.hpp"
#include "kernels/transpose_x86.hpp"

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

using x86::gather8, x86::hsum, x86::load_q8, x86::Q0Block, x86::q_0_offset, x86::q4_k_scales8, x86::q6_k_quants,
    x86::row_blocks, x86::unpack_q4, x86::x_scales8;

// Loads the first n < 16 floats of p, zeros elsewhere.
K512_INLINE __m512 load_tail(const float* p, std::size_t n) {
  return _mm512_maskz_loadu_ps(__mmask16((1u << n) - 1), p);
}

// Prefetches the cache lines of [p, p + bytes). The matvec kernels below read
// R rows at once: R short strided streams, which the hardware prefetcher does
// not run far enough ahead of when they come from DRAM. So each step also
// fetches the same bytes of the next R rows, a whole pass ahead.
__attribute__((always_inline)) inline void prefetch_lines(const void* p, std::size_t bytes) {
  // To L2 from DRAM, to L1 from the last-level cache (kernels.hpp: weights_from_dram).
  if (weights_from_dram()) {
    for (std::size_t off = 0; off < bytes; off += 64) _mm_prefetch(static_cast<const char*>(p) + off, _MM_HINT_T1);
  } else {
    for (std::size_t off = 0; off < bytes; off += 64) _mm_prefetch(static_cast<const char*>(p) + off, _MM_HINT_T0);
  }
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

// --- matrix-vector: fp32 ---------------------------------------------------------------

// R rows at once (ld floats apart) share each load of x; every row keeps its
// own two accumulators, so row r's sum is the same for any R.
template <int R>
K512_INLINE void f32_rows(float* out, const float* w, std::size_t ld, const float* x, std::size_t cols) {
  __m512 acc0[R], acc1[R];
  for (int r = 0; r < R; r++) acc0[r] = acc1[r] = _mm512_setzero_ps();
  std::size_t j = 0;
  for (; j + 32 <= cols; j += 32) {
    for (int r = 0; r < R; r++) prefetch_lines(w + (R + r) * ld + j, 32 * sizeof(float));
    const __m512 x0 = _mm512_loadu_ps(x + j), x1 = _mm512_loadu_ps(x + j + 16);
    for (int r = 0; r < R; r++) {
      acc0[r] = _mm512_fmadd_ps(_mm512_loadu_ps(w + r * ld + j), x0, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(_mm512_loadu_ps(w + r * ld + j + 16), x1, acc1[r]);
    }
  }
  if (j + 16 <= cols) {
    const __m512 x0 = _mm512_loadu_ps(x + j);
    for (int r = 0; r < R; r++) acc0[r] = _mm512_fmadd_ps(_mm512_loadu_ps(w + r * ld + j), x0, acc0[r]);
    j += 16;
  }
  if (j < cols) {
    const __m512 x1 = load_tail(x + j, cols - j);
    for (int r = 0; r < R; r++) acc1[r] = _mm512_fmadd_ps(load_tail(w + r * ld + j, cols - j), x1, acc1[r]);
  }
  for (int r = 0; r < R; r++) out[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[r], acc1[r]));
}

K512 void matvec_f32(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  const std::size_t ld = w.row_bytes / sizeof(float);
  std::size_t r = r0;
  for (; r + 4 <= r1; r += 4) f32_rows<4>(out + r, reinterpret_cast<const float*>(w.row(r)), ld, x, w.cols);
  for (; r < r1; r++) f32_rows<1>(out + r, reinterpret_cast<const float*>(w.row(r)), ld, x, w.cols);
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

K512 void matvec_q8_group(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  const std::size_t gs = w.group_size, groups = w.cols / gs;
  if (gs % 16 != 0) {
    kernels_scalar().weight(WeightType::Q8_GROUP).matvec(out, w, x, r0, r1);
    return;
  }
  const auto* q = static_cast<const std::int8_t*>(w.data);
  std::size_t r = r0;
  for (; r + 4 <= r1; r += 4) q8_group_rows<4>(out + r, q + r * w.cols, w.scales + r * groups, gs, x, w.cols);
  for (; r < r1; r++) q8_group_rows<1>(out + r, q + r * w.cols, w.scales + r * groups, gs, x, w.cols);
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

// --- matrix-vector: fp16 / bf16 ---------------------------------------------------------

K512_INLINE __m512 load_f16(const std::uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
K512_INLINE __m512 load_bf16(const std::uint16_t* p) {
  const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}

template <bool kBf16>
K512_INLINE void half_rows(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  const std::size_t cols = w.cols;
  for (std::size_t r = r0; r < r1; r++) {
    const auto* row = reinterpret_cast<const std::uint16_t*>(w.row(r));
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

K512 void matvec_f16(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  half_rows<false>(out, w, x, r0, r1);
}
K512 void matvec_bf16(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  half_rows<true>(out, w, x, r0, r1);
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

K512 void matvec_q8_0_f32(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  for (std::size_t r = r0; r < r1; r++) {
    const auto* blocks = reinterpret_cast<const BlockQ8_0*>(w.row(r));
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (std::size_t b = 0; b < w.cols / kQK; b++) {
      const __m512 d = _mm512_set1_ps(_cvtsh_ss(blocks[b].d));
      const float* xb = x + b * kQK;
      acc0 = _mm512_fmadd_ps(_mm512_mul_ps(load_i8(blocks[b].qs), d), _mm512_loadu_ps(xb), acc0);
      acc1 = _mm512_fmadd_ps(_mm512_mul_ps(load_i8(blocks[b].qs + 16), d), _mm512_loadu_ps(xb + 16), acc1);
    }
    out[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  }
}

K512 void matvec_q4_0_f32(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  const __m512i nibble = _mm512_set1_epi32(0xF);
  for (std::size_t r = r0; r < r1; r++) {
    const auto* blocks = reinterpret_cast<const BlockQ4_0*>(w.row(r));
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (std::size_t b = 0; b < w.cols / kQK; b++) {
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

K512 void matvec_q4_k_f32(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  const __m512i nibble = _mm512_set1_epi32(0xF);
  for (std::size_t r = r0; r < r1; r++) {
    const auto* blocks = reinterpret_cast<const BlockQ4_K*>(w.row(r));
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (std::size_t b = 0; b < w.cols / kQK_K; b++) {
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
K512 void matvec_q6_k_f32(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  const __m512i nibble = _mm512_set1_epi32(0xF), top = _mm512_set1_epi32(0x30), bias = _mm512_set1_epi32(32);
  for (std::size_t r = r0; r < r1; r++) {
    const auto* blocks = reinterpret_cast<const BlockQ6_K*>(w.row(r));
    __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    for (std::size_t b = 0; b < w.cols / kQK_K; b++) {
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

// --- matrix-vector: GGUF Q8_0 / Q4_0 / Q4_K / Q6_K with VNNI (vpdpbusd) ------------------

#define KVNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define KVNNI_INLINE KVNNI __attribute__((always_inline)) inline

// acc + 32 unsigned a times 32 signed b, summed in fours into 8 int32.
KVNNI_INLINE __m256i dpbusd(__m256i acc, __m256i a, __m256i b) { return _mm256_dpbusd_epi32(acc, a, b); }

// The low 16 bits of each 32-bit lane, packed.
KVNNI_INLINE __m128i low_halves(__m256i v) { return _mm256_cvtepi32_epi16(v); }

// The R-row kernels below share each activation load between R rows; each
// row keeps its own accumulator, so row r's result is the same for any R
// and any [r0, r1). Per 32 values (one BlockQ8x32): an exact int32 sum in 8
// lanes, converted and scaled once in fp32.

// One Q8_0 / Q4_0 block against activation block xv (offset: the -8 of
// Q4_0's weights, -8 * sum(xq) in lane 0), scaled by s into acc.
template <bool kQ4>
KVNNI_INLINE __m256 q_0_block(__m256 acc, const typename Q0Block<kQ4>::type& blk, __m256i xv, __m256i offset, __m256 s) {
  __m256i isum;
  if constexpr (kQ4) {
    isum = dpbusd(offset, unpack_q4(blk.qs), xv);
  } else {
    // |w| times x with w's sign: unsigned by signed, as the instruction wants.
    const __m256i wq = load_q8(blk.qs);
    isum = dpbusd(_mm256_setzero_si256(), _mm256_sign_epi8(wq, wq), _mm256_sign_epi8(xv, wq));
  }
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), s, acc);
}

// Sub-block j (32 values, x block 8b + j): xd * (d * sc * sum(q xq) - dmin * mn * sum(xq)).
template <int R>
KVNNI_INLINE void q4_k_rows(float* out, const void* w, std::size_t row_bytes, const BlockQ8x32* xq, std::size_t nb) {
  const __m256i low = _mm256_set1_epi8(0x0f);
  const BlockQ4_K* rows[R];
  __m256 acc[R];
  for (int i = 0; i < R; i++) rows[i] = row_blocks<BlockQ4_K>(w, row_bytes, i), acc[i] = _mm256_setzero_ps();
  for (std::size_t b = 0; b < nb; b++) {
    for (int i = 0; i < R; i++) prefetch_lines(reinterpret_cast<const char*>(rows[i] + b) + R * row_bytes, sizeof(BlockQ4_K));
    const BlockQ8x32* x = xq + 8 * b;
    __m256 xd, xs;
    x_scales8(x, &xd, &xs);
    __m256 s[R];  // lane j: d * sc_j * xd_j
    for (int i = 0; i < R; i++) {
      const BlockQ4_K& blk = rows[i][b];
      __m256 sc, mn;
      q4_k_scales8(blk.scales, &sc, &mn);
      s[i] = _mm256_mul_ps(_mm256_mul_ps(sc, xd), _mm256_set1_ps(_cvtsh_ss(blk.d)));
      acc[i] = _mm256_fnmadd_ps(_mm256_mul_ps(mn, _mm256_set1_ps(_cvtsh_ss(blk.dmin))), xs, acc[i]);
    }
    // Chunk c: the low nibbles of qs[32c .. 32c + 32) are sub-block 2c, the high ones 2c + 1.
    for (int c = 0; c < 4; c++) {
      const __m256i x0 = load_q8(x[2 * c].qs), x1 = load_q8(x[2 * c + 1].qs);
      const __m256i j0 = _mm256_set1_epi32(2 * c), j1 = _mm256_set1_epi32(2 * c + 1);
      for (int i = 0; i < R; i++) {
        const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[i][b].qs + 32 * c));
        const __m256i q0 = _mm256_and_si256(bytes, low), q1 = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low);
        const __m256i isum0 = dpbusd(_mm256_setzero_si256(), q0, x0);
        const __m256i isum1 = dpbusd(_mm256_setzero_si256(), q1, x1);
        acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum0), _mm256_permutevar8x32_ps(s[i], j0), acc[i]);
        acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum1), _mm256_permutevar8x32_ps(s[i], j1), acc[i]);
      }
    }
  }
  for (int i = 0; i < R; i++) out[i] = hsum(acc[i]);
}

// x block 8b + k meets the quants q6_k_quants(h = k / 4)[k % 4]; lanes 0-3
// of its integer sum are sub-block 2k (scale scales[2k]), lanes 4-7 sub-block 2k + 1.
template <int R>
KVNNI_INLINE void q6_k_rows(float* out, const void* w, std::size_t row_bytes, const BlockQ8x32* xq, std::size_t nb) {
  const BlockQ6_K* rows[R];
  __m256 acc[R];
  for (int i = 0; i < R; i++) rows[i] = row_blocks<BlockQ6_K>(w, row_bytes, i), acc[i] = _mm256_setzero_ps();
  for (std::size_t b = 0; b < nb; b++) {
    for (int i = 0; i < R; i++) prefetch_lines(reinterpret_cast<const char*>(rows[i] + b) + R * row_bytes, sizeof(BlockQ6_K));
    const BlockQ8x32* x = xq + 8 * b;
    // The -32 of every weight: -32 * sum(xq) of each half starts lanes 0 and 4.
    __m256i offset[8];
    for (int k = 0; k < 8; k++) {
      offset[k] = _mm256_setr_epi32(-32 * x[k].sums[0], 0, 0, 0, -32 * x[k].sums[1], 0, 0, 0);
    }
    for (int i = 0; i < R; i++) {
      const BlockQ6_K& blk = rows[i][b];
      const __m256 d = _mm256_set1_ps(_cvtsh_ss(blk.d));
      for (int h = 0; h < 2; h++) {
        // d * scales[8h .. 8h + 8) as floats
        const __m128i sc8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk.scales + 8 * h));
        const __m256 sc = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc8)), d);
        __m256i q[4];
        q6_k_quants(blk, h, q);
        for (int r = 0; r < 4; r++) {
          const int k = 4 * h + r;
          const __m256i isum = dpbusd(offset[k], q[r], load_q8(x[k].qs));
          const __m256i pick = _mm256_setr_epi32(2 * r, 2 * r, 2 * r, 2 * r, 2 * r + 1, 2 * r + 1, 2 * r + 1, 2 * r + 1);
          const __m256 s = _mm256_mul_ps(_mm256_permutevar8x32_ps(sc, pick), _mm256_set1_ps(x[k].d));
          acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), s, acc[i]);
        }
      }
    }
  }
  for (int i = 0; i < R; i++) out[i] = hsum(acc[i]);
}

// Q8_0 and Q4_0 on 512-bit registers: two blocks per instruction. A
// register holds blocks b and b + 1 against their two activation blocks;
// lanes 0-7 sum block b, 8-15 block b + 1, each scaled by its own d_w * d_x.
// Q4_0: [low nibbles of b | high nibbles of b | low of b + 1 | high of b + 1]
// (values 0-15, 16-31 of each), the -8 of every weight through -8 * sum(xq);
// Q8_0: the signed quants + 128 (vpdpbusd multiplies unsigned by signed),
// taken back through -128 * sum(xq). Per block this is half the
// instructions of q_0_rows. The blocks of an odd tail run one at a time on
// 256 bits (q_0_block), and a row's arithmetic does not depend on R.
template <bool kQ4, int R>
KVNNI_INLINE void q_0_rows512(float* out, const void* w, std::size_t row_bytes, const BlockQ8x32* xq, std::size_t nb) {
  using Block = typename Q0Block<kQ4>::type;
  const Block* rows[R];
  __m512 acc[R];
  for (int i = 0; i < R; i++) rows[i] = row_blocks<Block>(w, row_bytes, i), acc[i] = _mm512_setzero_ps();
  const __m512i low = _mm512_set1_epi8(0x0f), bias = _mm512_set1_epi8(char(0x80));
  const __m512i shift = _mm512_setr_epi64(0, 0, 0x0004000400040004, 0x0004000400040004, 0, 0, 0x0004000400040004,
                                          0x0004000400040004);  // 16-bit lanes: 4 in the high-nibble quarters
  const int offset = kQ4 ? -8 : -128;
  std::size_t b = 0;
  for (; b + 8 <= nb; b += 8) {
    for (int i = 0; i < R; i++) prefetch_lines(reinterpret_cast<const char*>(rows[i] + b) + R * row_bytes, 8 * sizeof(Block));
    const __m256 xd = _mm256_castsi256_ps(gather8(&xq[b].d, sizeof(BlockQ8x32)));
    __m512 s[R];  // lanes 0-7: d_j * xd_j of the 8 blocks
    for (int i = 0; i < R; i++) {
      s[i] = _mm512_castps256_ps512(_mm256_mul_ps(_mm256_cvtph_ps(low_halves(gather8(rows[i] + b, sizeof(Block)))), xd));
    }
    for (int j = 0; j < 8; j += 2) {
      const BlockQ8x32 &x0 = xq[b + j], &x1 = xq[b + j + 1];
      const __m512i xv = _mm512_inserti64x4(_mm512_castsi256_si512(load_q8(x0.qs)), load_q8(x1.qs), 1);
      // The weights' offset times sum(xq) starts lane 0 of each block.
      const __m512i start = _mm512_maskz_set1_epi32(1, offset * (x0.sums[0] + x0.sums[1])) |
                            _mm512_maskz_set1_epi32(0x100, offset * (x1.sums[0] + x1.sums[1]));
      const __m512i pick = _mm512_setr_epi32(j, j, j, j, j, j, j, j, j + 1, j + 1, j + 1, j + 1, j + 1, j + 1, j + 1, j + 1);
      for (int i = 0; i < R; i++) {
        __m512i q;
        if constexpr (kQ4) {
          const __m256i q0 = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[i][b + j].qs)));
          const __m256i q1 = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[i][b + j + 1].qs)));
          q = _mm512_and_si512(_mm512_srlv_epi16(_mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1), shift), low);
        } else {
          q = _mm512_xor_si512(
              _mm512_inserti64x4(_mm512_castsi256_si512(load_q8(rows[i][b + j].qs)), load_q8(rows[i][b + j + 1].qs), 1), bias);
        }
        const __m512i isum = _mm512_dpbusd_epi32(start, q, xv);
        acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_permutexvar_ps(pick, s[i]), acc[i]);
      }
    }
  }
  __m256 tail[R];
  for (int i = 0; i < R; i++) tail[i] = _mm256_setzero_ps();
  for (; b < nb; b++) {
    const __m256i xv = load_q8(xq[b].qs), off = q_0_offset<kQ4>(xq[b]);
    for (int i = 0; i < R; i++) {
      tail[i] = q_0_block<kQ4>(tail[i], rows[i][b], xv, off, _mm256_set1_ps(_cvtsh_ss(rows[i][b].d) * xq[b].d));
    }
  }
  for (int i = 0; i < R; i++) out[i] = _mm512_reduce_add_ps(acc[i]) + hsum(tail[i]);
}

template <bool kQ4>
KVNNI void matvec_q_0_vnni(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  std::size_t r = r0;
  for (; r + 8 <= r1; r += 8) q_0_rows512<kQ4, 8>(out + r, w.row(r), w.row_bytes, xq, w.cols / kQK);
  for (; r + 4 <= r1; r += 4) q_0_rows512<kQ4, 4>(out + r, w.row(r), w.row_bytes, xq, w.cols / kQK);
  for (; r < r1; r++) q_0_rows512<kQ4, 1>(out + r, w.row(r), w.row_bytes, xq, w.cols / kQK);
}

KVNNI void matvec_q4_k_vnni(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  std::size_t r = r0;
  for (; r + 4 <= r1; r += 4) q4_k_rows<4>(out + r, w.row(r), w.row_bytes, xq, w.cols / kQK_K);
  for (; r < r1; r++) q4_k_rows<1>(out + r, w.row(r), w.row_bytes, xq, w.cols / kQK_K);
}

KVNNI void matvec_q6_k_vnni(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  std::size_t r = r0;
  for (; r + 4 <= r1; r += 4) q6_k_rows<4>(out + r, w.row(r), w.row_bytes, xq, w.cols / kQK_K);
  for (; r < r1; r++) q6_k_rows<1>(out + r, w.row(r), w.row_bytes, xq, w.cols / kQK_K);
}

// --- matrix-matrix: GGUF int8 ---------------------------------------------------------------

// A panel of 32 weight rows is transposed so that one vpdpbusd multiplies
// 4 bytes of 16 rows (the lanes) by the same 4 bytes of one token
// (broadcast): a tile of 32 rows by kTileTokens tokens then keeps
// 2 * kTileTokens int32 sums in registers, and each weight load serves
// kTileTokens tokens. vpdpbusd wants unsigned weights: Q8_0 is stored + 128
// and Q4_0 as its raw nibbles (w + 8), and each block's sums start at
// -offset * sum(x), from BlockQ8x32::sums, so every block's int32 is the
// exact integer dot of matvec_q8_0 / matvec_q4_0. Lanes are rows, so a row's
// blocks are summed in order in its own lane: no horizontal sums, and no
// dependence on the tile shape.

constexpr std::size_t kPanelRows = 32;    // two groups of 16 row lanes
constexpr std::size_t kPanelBlocks = 32;  // 1024 cols of a panel at a time: 36 KB, kept in L1
constexpr int kTileTokens = 6;

struct alignas(64) PanelBlock {  // one 32-value block of 32 rows
  std::uint8_t q[8][2][64];      // [4-byte step][row group][lane * 4 + byte] unsigned weights
  float d[2][16];                // [row group][lane] weight scales
};

KVNNI_INLINE __mmask16 lane_mask(std::size_t n) { return __mmask16(n >= 16 ? 0xffff : (1u << n) - 1); }

// q[s][g] = dword s of 16 rows: row i's 32 bytes in the low half of z[i],
// row i + 8's in the high half (pack_panel, pack_panel_k).
KVNNI_INLINE void store_transposed(std::uint8_t (*q)[2][64], std::size_t g, const __m512i* z) {
  __m512i v[8];
  x86::transpose16x8_epi32(z, v);
  for (int s = 0; s < 8; s++) _mm512_store_si512(q[s][g], v[s]);
}

// Transposes blocks [b0, b0 + nb) of n_rows <= 32 rows into panel (rows past
// n_rows are zero). Per 16 rows and block: each row's 32 values as 8 dwords,
// two rows to a register (row i low, row i + 8 high), then an 8 x 8 dword
// transpose in both halves at once, so that step s holds dword s of all 16
// rows. (Shuffles: gathers are slow on CPUs with the GDS microcode fix.)
template <bool kQ4>
KVNNI_INLINE void pack_panel(PanelBlock* panel, const std::uint8_t* w, std::size_t row_bytes, std::size_t n_rows,
                             std::size_t b0, std::size_t nb) {
  static const std::uint8_t kZeroBlock[sizeof(BlockQ8_0)] = {};  // stands in for the rows past n_rows
  const std::size_t block_bytes = kQ4 ? sizeof(BlockQ4_0) : sizeof(BlockQ8_0);
  for (std::size_t g = 0; g < 2; g++) {
    const std::uint8_t* rows[16];  // (16) row starts, or the zero block
    for (std::size_t l = 0; l < 16; l++) rows[l] = 16 * g + l < n_rows ? w + (16 * g + l) * row_bytes : nullptr;
    for (std::size_t bb = 0; bb < nb; bb++) {
      const std::uint8_t* blk[16];  // (16) the block of each row: d (fp16), then the quants
      std::uint16_t d16[16];        // (16) weight scales
      for (std::size_t l = 0; l < 16; l++) {
        blk[l] = rows[l] ? rows[l] + (b0 + bb) * block_bytes : kZeroBlock;
        __builtin_memcpy(&d16[l], blk[l], 2);
      }
      _mm512_store_ps(panel[bb].d[g], _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(d16))));
      __m512i z[8];  // row i's 32 unsigned values in the low half, row i + 8's in the high half
      for (int i = 0; i < 8; i++) {
        if (kQ4) {
          // Byte j holds value j (low nibble) and value j + 16 (high nibble):
          // each row's 16 bytes twice, the second copy shifted down 4.
          const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[i] + 2));
          const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[i + 8] + 2));
          const __m512i ab = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(a, a)), _mm256_set_m128i(b, b), 1);
          z[i] = _mm512_and_si512(_mm512_srlv_epi64(ab, _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4)), _mm512_set1_epi8(0x0f));
        } else {
          const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[i] + 2));
          const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[i + 8] + 2));
          z[i] = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1), _mm512_set1_epi8(char(0x80)));
        }
      }
      store_transposed(panel[bb].q, g, z);
    }
  }
}

// A tile's fp32 sums (32 rows, two registers masked by m0, m1, of T tokens):
// 0 before the first chunk of blocks, else what out holds; stored back after.
template <int T>
KVNNI_INLINE void load_tile_sums(__m512 (*acc)[T], const float* out, std::size_t ldo, __mmask16 m0, __mmask16 m1,
                                 bool first) {
  for (int t = 0; t < T; t++) {
    acc[0][t] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m0, out + t * ldo);
    acc[1][t] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m1, out + t * ldo + 16);
  }
}
template <int T>
KVNNI_INLINE void store_tile_sums(float* out, std::size_t ldo, __mmask16 m0, __mmask16 m1, const __m512 (*acc)[T]) {
  for (int t = 0; t < T; t++) {
    _mm512_mask_storeu_ps(out + t * ldo, m0, acc[0][t]);
    _mm512_mask_storeu_ps(out + t * ldo + 16, m1, acc[1][t]);
  }
}

// isum[g][t] += the 4-byte steps [s0, s1) of a transposed block q (16 rows
// of group g in the lanes) times token t's quants, broadcast.
template <int T>
KVNNI_INLINE void dot_steps(__m512i (*isum)[T], const std::uint8_t (*q)[2][64], const BlockQ8x32* x,
                            std::size_t x_stride, int s0, int s1) {
  for (int s = s0; s < s1; s++) {
    const __m512i w0 = _mm512_load_si512(q[s][0]), w1 = _mm512_load_si512(q[s][1]);
    for (int t = 0; t < T; t++) {
      std::int32_t x4;  // 4 quants of token t
      __builtin_memcpy(&x4, x[t * x_stride].qs + 4 * s, 4);
      const __m512i xv = _mm512_set1_epi32(x4);
      isum[0][t] = _mm512_dpbusd_epi32(isum[0][t], w0, xv);
      isum[1][t] = _mm512_dpbusd_epi32(isum[1][t], w1, xv);
    }
  }
}

// out (T tokens, 32 rows at ldo) += panel (nb blocks) . xq (T tokens, x_stride blocks apart).
template <int T>
KVNNI_INLINE void int8_tile(float* out, std::size_t ldo, const PanelBlock* panel, std::size_t nb, const BlockQ8x32* xq,
                            std::size_t x_stride, int offset, __mmask16 m0, __mmask16 m1, bool first) {
  __m512 acc[2][T];
  load_tile_sums<T>(acc, out, ldo, m0, m1, first);
  for (std::size_t bb = 0; bb < nb; bb++) {
    const PanelBlock& p = panel[bb];
    __m512i isum[2][T];
    for (int t = 0; t < T; t++) {
      const BlockQ8x32& x = xq[t * x_stride + bb];
      isum[0][t] = isum[1][t] = _mm512_set1_epi32(-offset * (x.sums[0] + x.sums[1]));
    }
    dot_steps<T>(isum, p.q, xq + bb, x_stride, 0, 8);
    const __m512 d0 = _mm512_load_ps(p.d[0]), d1 = _mm512_load_ps(p.d[1]);
    for (int t = 0; t < T; t++) {
      const __m512 dx = _mm512_set1_ps(xq[t * x_stride + bb].d);
      acc[0][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[0][t]), _mm512_mul_ps(d0, dx), acc[0][t]);
      acc[1][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[1][t]), _mm512_mul_ps(d1, dx), acc[1][t]);
    }
  }
  store_tile_sums<T>(out, ldo, m0, m1, acc);
}

// Runs Tile<T>::run(out rows of T tokens, their activation blocks, ...)
// over n_tokens tokens: tiles of kTileTokens, then one tile of the rest.
template <template <int> class Tile, typename... Args>
KVNNI_INLINE void over_token_tiles(float* out, std::size_t ldo, const BlockQ8x32* xq, std::size_t n_tokens,
                                   std::size_t n_blocks, Args... args) {
  std::size_t t = 0;
  for (; t + kTileTokens <= n_tokens; t += kTileTokens) {
    Tile<kTileTokens>::run(out + t * ldo, ldo, xq + t * n_blocks, n_blocks, args...);
  }
  float* o = out + t * ldo;
  const BlockQ8x32* x = xq + t * n_blocks;
  switch (n_tokens - t) {
    case 5: Tile<5>::run(o, ldo, x, n_blocks, args...); break;
    case 4: Tile<4>::run(o, ldo, x, n_blocks, args...); break;
    case 3: Tile<3>::run(o, ldo, x, n_blocks, args...); break;
    case 2: Tile<2>::run(o, ldo, x, n_blocks, args...); break;
    case 1: Tile<1>::run(o, ldo, x, n_blocks, args...); break;
    default: break;
  }
}

template <int T>
struct Q0Tile {
  KVNNI_INLINE static void run(float* out, std::size_t ldo, const BlockQ8x32* xq, std::size_t x_stride,
                               const PanelBlock* panel, std::size_t nb, int offset, __mmask16 m0, __mmask16 m1, bool first) {
    int8_tile<T>(out, ldo, panel, nb, xq, x_stride, offset, m0, m1, first);
  }
};

template <bool kQ4>
KVNNI void matmat_int8(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                       std::size_t n_tokens) {
  const std::size_t n_blocks = w.cols / 32;
  const int offset = kQ4 ? 8 : 128;
  PanelBlock panel[kPanelBlocks];  // (kPanelBlocks) transposed blocks of 32 rows
  for (std::size_t i0 = 0; i0 < n_rows; i0 += kPanelRows) {
    const std::size_t nr = n_rows - i0 < kPanelRows ? n_rows - i0 : kPanelRows;
    const __mmask16 m0 = lane_mask(nr), m1 = lane_mask(nr > 16 ? nr - 16 : 0);
    for (std::size_t b0 = 0; b0 < n_blocks; b0 += kPanelBlocks) {
      const std::size_t nb = n_blocks - b0 < kPanelBlocks ? n_blocks - b0 : kPanelBlocks;
      pack_panel<kQ4>(panel, w.row(i0), w.row_bytes, nr, b0, nb);
      over_token_tiles<Q0Tile>(out + i0, ldo, xq + b0, n_tokens, n_blocks, static_cast<const PanelBlock*>(panel), nb,
                               offset, m0, m1, b0 == 0);
    }
  }
}

// --- matrix-matrix: GGUF K-quants, int8 ---------------------------------------------------------

// Q4_K and Q6_K on the same panels: each 32-value sub-block of a super-block
// meets one activation block, with 16 rows in the lanes and the unsigned
// quants transposed as pack_panel does. Per row and sub-block two scales:
// Q4_K's d * sc (of q) and dmin * mn (of the min, times the block's sum of
// quants), or Q6_K's d * sc of each 16-value half (q - 32: the halves start
// at -32 * their sums). The integer dots are exact, as in the matvecs; the
// fp32 scaling of each sub-block's dot is the same for every row and token
// split.

constexpr std::size_t kPanelSubBlocks = 24;  // 3 super-blocks: 30 KB of quants and 6 KB of scales in L1

struct alignas(64) PanelSubBlock {  // one 32-value sub-block of 32 rows
  std::uint8_t q[8][2][64];         // [4-byte step][row group][lane * 4 + byte] unsigned quants
  float a[2][2][16];                // [scale][row group][lane]: Q4_K d * sc, dmin * mn; Q6_K d * sc of each half
};

// One row's super-block as 8 sub-blocks of 32 unsigned quants and their two scales.
template <bool kQ6>
KVNNI_INLINE void unpack_super_block(const std::uint8_t* block, std::uint8_t (*q)[32], float (*a)[8]) {
  if constexpr (!kQ6) {
    const BlockQ4_K& b = *reinterpret_cast<const BlockQ4_K*>(block);
    __m256 sc, mn;
    q4_k_scales8(b.scales, &sc, &mn);
    _mm256_storeu_ps(a[0], _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(b.d)), sc));
    _mm256_storeu_ps(a[1], _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(b.dmin)), mn));
    // Chunk c: the low nibbles of qs[32c .. 32c + 32) are sub-block 2c, the high ones 2c + 1.
    const __m256i low = _mm256_set1_epi8(0x0f);
    for (int c = 0; c < 4; c++) {
      const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * c));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(q[2 * c]), _mm256_and_si256(bytes, low));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(q[2 * c + 1]), _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low));
    }
  } else {
    const BlockQ6_K& b = *reinterpret_cast<const BlockQ6_K*>(block);
    const float d = _cvtsh_ss(b.d);
    for (int j = 0; j < 8; j++) {
      a[0][j] = d * float(b.scales[2 * j]);
      a[1][j] = d * float(b.scales[2 * j + 1]);
    }
    for (int h = 0; h < 2; h++) {
      __m256i v[4];  // sub-blocks 4h .. 4h + 3
      q6_k_quants(b, h, v);
      for (int r = 0; r < 4; r++) _mm256_storeu_si256(reinterpret_cast<__m256i*>(q[4 * h + r]), v[r]);
    }
  }
}

// Super-blocks [s0, s0 + ns) of n_rows <= 32 rows into panel (8 sub-blocks
// each; rows past n_rows are zero).
template <bool kQ6>
KVNNI_INLINE void pack_panel_k(PanelSubBlock* panel, const std::uint8_t* w, std::size_t row_bytes, std::size_t n_rows,
                               std::size_t s0, std::size_t ns) {
  const std::size_t block_bytes = kQ6 ? sizeof(BlockQ6_K) : sizeof(BlockQ4_K);
  alignas(64) std::uint8_t q[16][8][32];  // [lane][sub-block][value] one group's super-block
  alignas(64) float a[16][2][8];          // [lane][scale][sub-block]
  for (std::size_t g = 0; g < 2; g++) {
    for (std::size_t sb = 0; sb < ns; sb++) {
      for (std::size_t l = 0; l < 16; l++) {
        if (16 * g + l < n_rows) {
          unpack_super_block<kQ6>(w + (16 * g + l) * row_bytes + (s0 + sb) * block_bytes, q[l], a[l]);
        } else {
          std::memset(q[l], 0, sizeof(q[l]));
          std::memset(a[l], 0, sizeof(a[l]));
        }
      }
      for (int j = 0; j < 8; j++) {
        PanelSubBlock& p = panel[8 * sb + std::size_t(j)];
        __m512i z[8];
        for (int i = 0; i < 8; i++) {
          z[i] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_load_si256(reinterpret_cast<const __m256i*>(q[i][j]))),
                                    _mm256_load_si256(reinterpret_cast<const __m256i*>(q[i + 8][j])), 1);
        }
        store_transposed(p.q, g, z);
        for (int k = 0; k < 2; k++) {
          for (std::size_t l = 0; l < 16; l++) p.a[k][g][l] = a[l][k][j];
        }
      }
    }
  }
}

// out (T tokens, 32 rows at ldo) += panel (nb sub-blocks) . xq (T tokens, x_stride blocks apart).
template <bool kQ6, int T>
KVNNI_INLINE void int8_tile_k(float* out, std::size_t ldo, const PanelSubBlock* panel, std::size_t nb,
                              const BlockQ8x32* xq, std::size_t x_stride, __mmask16 m0, __mmask16 m1, bool first) {
  __m512 acc[2][T];
  load_tile_sums<T>(acc, out, ldo, m0, m1, first);
  for (std::size_t bb = 0; bb < nb; bb++) {
    const PanelSubBlock& p = panel[bb];
    // Q4_K: one dot of the 8 steps; Q6_K: one per half (steps 0-3, 4-7).
    for (int half = 0; half < (kQ6 ? 2 : 1); half++) {
      __m512i isum[2][T];
      for (int t = 0; t < T; t++) {
        const BlockQ8x32& x = xq[t * x_stride + bb];
        isum[0][t] = isum[1][t] = kQ6 ? _mm512_set1_epi32(-32 * x.sums[half]) : _mm512_setzero_si512();
      }
      dot_steps<T>(isum, p.q, xq + bb, x_stride, kQ6 ? 4 * half : 0, kQ6 ? 4 * half + 4 : 8);
      const __m512 a0 = _mm512_load_ps(p.a[half][0]), a1 = _mm512_load_ps(p.a[half][1]);
      for (int t = 0; t < T; t++) {
        const __m512 dx = _mm512_set1_ps(xq[t * x_stride + bb].d);
        acc[0][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[0][t]), _mm512_mul_ps(a0, dx), acc[0][t]);
        acc[1][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[1][t]), _mm512_mul_ps(a1, dx), acc[1][t]);
      }
    }
    if constexpr (!kQ6) {  // - dmin * mn * (xd * sum of the block's quants)
      const __m512 m0v = _mm512_load_ps(p.a[1][0]), m1v = _mm512_load_ps(p.a[1][1]);
      for (int t = 0; t < T; t++) {
        const BlockQ8x32& x = xq[t * x_stride + bb];
        const __m512 xs = _mm512_set1_ps(x.d * float(x.sums[0] + x.sums[1]));
        acc[0][t] = _mm512_fnmadd_ps(m0v, xs, acc[0][t]);
        acc[1][t] = _mm512_fnmadd_ps(m1v, xs, acc[1][t]);
      }
    }
  }
  store_tile_sums<T>(out, ldo, m0, m1, acc);
}

template <bool kQ6>
struct KTile {
  template <int T>
  struct Tile {
    KVNNI_INLINE static void run(float* out, std::size_t ldo, const BlockQ8x32* xq, std::size_t x_stride,
                                 const PanelSubBlock* panel, std::size_t nb, __mmask16 m0, __mmask16 m1, bool first) {
      int8_tile_k<kQ6, T>(out, ldo, panel, nb, xq, x_stride, m0, m1, first);
    }
  };
};

template <bool kQ6>
KVNNI void matmat_int8_k(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                         std::size_t n_tokens) {
  const std::size_t n_blocks = w.cols / 32, n_super = w.cols / kQK_K, super_per_panel = kPanelSubBlocks / 8;
  PanelSubBlock panel[kPanelSubBlocks];  // (kPanelSubBlocks) transposed sub-blocks of 32 rows
  for (std::size_t i0 = 0; i0 < n_rows; i0 += kPanelRows) {
    const std::size_t nr = n_rows - i0 < kPanelRows ? n_rows - i0 : kPanelRows;
    const __mmask16 m0 = lane_mask(nr), m1 = lane_mask(nr > 16 ? nr - 16 : 0);
    for (std::size_t s0 = 0; s0 < n_super; s0 += super_per_panel) {
      const std::size_t ns = n_super - s0 < super_per_panel ? n_super - s0 : super_per_panel, nb = 8 * ns, b0 = 8 * s0;
      pack_panel_k<kQ6>(panel, w.row(i0), w.row_bytes, nr, s0, ns);
      over_token_tiles<KTile<kQ6>::template Tile>(out + i0, ldo, xq + b0, n_tokens, n_blocks,
                                                  static_cast<const PanelSubBlock*>(panel), nb, m0, m1, s0 == 0);
    }
  }
}

Kernels make_table() {
  Kernels k;
  k.isa = Isa::AVX512;
  k.dot = dot;
  k.axpy = axpy;
  k.sum_squares = sum_squares;
  k.quantize_q8x32 = quantize_q8x32;
  k.attention_scores = attention_scores;
  k.attention_values = attention_values;
  k.attention_scores_f16 = attention_scores_f16;
  k.attention_values_f16 = attention_values_f16;
  k.matmat_f32 = matmat_f32;
  k.transpose = transpose;
  k.softmax = softmax;
  k.swiglu = swiglu;
  // Weight types: {matvec, matvec_int8, matmat_int8}.
  k.weight(WeightType::F32) = {matvec_f32};
  k.weight(WeightType::F16) = {matvec_f16};
  k.weight(WeightType::BF16) = {matvec_bf16};
  k.weight(WeightType::Q8_GROUP) = {matvec_q8_group};
  k.weight(WeightType::Q8_0) = {matvec_q8_0_f32, matvec_q_0_vnni<false>, matmat_int8<false>};
  k.weight(WeightType::Q4_0) = {matvec_q4_0_f32, matvec_q_0_vnni<true>, matmat_int8<true>};
  k.weight(WeightType::Q4_K) = {matvec_q4_k_f32, matvec_q4_k_vnni, matmat_int8_k<false>};
  k.weight(WeightType::Q6_K) = {matvec_q6_k_f32, matvec_q6_k_vnni, matmat_int8_k<true>};
  // The integer kernels need VNNI; without it (Skylake-X) the AVX2 ones serve.
  if (!cpu_features().avx512vnni) {
    const Kernels& avx2 = *kernels_avx2_table();
    for (std::size_t t = 0; t < kWeightTypeCount; t++) {
      k.weights[t].matvec_int8 = avx2.weights[t].matvec_int8;
      k.weights[t].matmat_int8 = avx2.weights[t].matmat_int8;
    }
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

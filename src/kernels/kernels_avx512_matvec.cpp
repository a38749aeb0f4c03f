// AVX-512 matrix-vector kernels (kernels_avx512.hpp): weight rows (F32,
// F16, BF16, llama2.c's Q8_GROUP, the GGUF blocks) against fp32
// activations, and the GGUF Q8_0 / Q4_0 / Q4_K / Q5_K / Q6_K rows against
// int8 activations with VNNI (the other block types through int8_units.hpp).
#include "kernels/kernels_avx512.hpp"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "kernels/fp16.hpp"
#include "kernels/int8_x86.hpp"
#include "kernels/q_0_x16.hpp"
#include "kernels/q4_k_x8.hpp"

#if defined(__x86_64__)

namespace llama2::avx512 {

using x86::floats8, x86::halves8, x86::hsum, x86::load_q8, x86::Q0Block, x86::q_0_offset, x86::q4_k_scales8,
    x86::row_blocks, x86::RowSteps, x86::file_rows, x86::PairStep, x86::pair_step, x86::unpack_q4, x86::x_scales8,
    x86::XScales8, x86::kMaxSuperBlocks, x86::x_scales_all, x86::x_scales_of;

// --- fp32 ------------------------------------------------------------------------------

namespace {

// R rows at a time, each summed as two interleaved halves of 16 lanes (the
// same order whatever R, so the same bits), with the same bytes of the next
// R rows prefetched into L2 when kPrefetch: R streams, each a pass ahead.
// On the 2-vCPU Sapphire Rapids VM (bench/RESULTS.md, eighteenth run) four
// rows with the next four prefetched read s110M at 1.21x one row at a time
// with no prefetch (56.8-57.1 against 46.5-47.1 tok/s; llama.cpp 52.1-52.7)
// and s15M at 1.12x; eight rows without prefetch s110M at 1.23x, s15M 1.08x.
// (On the EPYC VM of 2026-12-04 one row at a time was the faster, with the
// pool and prefetches of then.)
template <int R, bool kPrefetch>
K512_INLINE void f32_rows(float* out, const float* w, std::size_t stride, const float* x, std::size_t cols) {
  __m512 acc0[R], acc1[R];
  for (int r = 0; r < R; r++) acc0[r] = acc1[r] = _mm512_setzero_ps();
  std::size_t j = 0;
  for (; j + 32 <= cols; j += 32) {
    if constexpr (kPrefetch) {
      for (int r = 0; r < R; r++) {
        _mm_prefetch(reinterpret_cast<const char*>(w + (R + r) * stride + j), _MM_HINT_T1);
        _mm_prefetch(reinterpret_cast<const char*>(w + (R + r) * stride + j + 16), _MM_HINT_T1);
      }
    }
    const __m512 x0 = _mm512_loadu_ps(x + j), x1 = _mm512_loadu_ps(x + j + 16);
    for (int r = 0; r < R; r++) {
      acc0[r] = _mm512_fmadd_ps(_mm512_loadu_ps(w + r * stride + j), x0, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(_mm512_loadu_ps(w + r * stride + j + 16), x1, acc1[r]);
    }
  }
  if (j + 16 <= cols) {
    const __m512 x0 = _mm512_loadu_ps(x + j);
    for (int r = 0; r < R; r++) acc0[r] = _mm512_fmadd_ps(_mm512_loadu_ps(w + r * stride + j), x0, acc0[r]);
    j += 16;
  }
  if (j < cols) {
    const __m512 x1 = load_tail(x + j, cols - j);
    for (int r = 0; r < R; r++) acc1[r] = _mm512_fmadd_ps(load_tail(w + r * stride + j, cols - j), x1, acc1[r]);
  }
  for (int r = 0; r < R; r++) out[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[r], acc1[r]));
}

}  // namespace

K512 void matvec_f32(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  const std::size_t stride = w.row_bytes / sizeof(float);
  std::size_t r = r0;
  for (; r + 4 <= r1; r += 4) f32_rows<4, true>(out + r, reinterpret_cast<const float*>(w.row(r)), stride, x, w.cols);
  for (; r < r1; r++) f32_rows<1, false>(out + r, reinterpret_cast<const float*>(w.row(r)), stride, x, w.cols);
}

// --- llama2.c int8 (Q8_GROUP) ------------------------------------------------------------

namespace {

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
  // The next rows a pass ahead when they come from DRAM; out of the cache the
  // prefetches only cost instructions here (stories15M's 17 MB: -20%).
  const bool from_dram = weights_from_dram();
  __m512 acc[R];
  for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
  for (std::size_t g = 0; g < groups; g++) {
    __m512 gacc[R];
    const std::size_t base = g * gs;
    if (from_dram) {
      for (int r = 0; r < R; r++) prefetch_lines(q + (R + r) * cols + base, gs);
    }
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

}  // namespace

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

// --- fp16 / bf16 ----------------------------------------------------------------------

namespace {

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

}  // namespace

K512 void matvec_f16(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  half_rows<false>(out, w, x, r0, r1);
}
K512 void matvec_bf16(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  half_rows<true>(out, w, x, r0, r1);
}

// --- GGUF blocks ---------------------------------------------------------------------
// Each weight is rebuilt in registers exactly as dequantize_blocks computes
// it (the products of fp16 scales and small integers are exact in fp32; the
// Q4_K min is subtracted with one rounding, as in the scalar code), then
// FMA'd with x. Two accumulators per row (alternate 16-wide chunks).

namespace {

// 16 bytes -> 16 int32 lanes, zero-extended.
K512_INLINE __m512i load_u8x16(const std::uint8_t* p) {
  return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
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

}  // namespace

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

// --- GGUF Q8_0 / Q4_0 / Q4_K / Q5_K / Q6_K with int8 activations: VNNI (vpdpbusd) --------------

namespace {

// acc + 32 unsigned a times 32 signed b, summed in fours into 8 int32.
KVNNI_INLINE __m256i dpbusd(__m256i acc, __m256i a, __m256i b) { return _mm256_dpbusd_epi32(acc, a, b); }

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

// Q4_K and Q5_K (same scales, same nibbles; Q5_K adds a fifth bit). Sub-block
// j (32 values, x block 8b + j): xd * (d * sc * sum(q xq) - dmin * mn * sum(xq)).
template <typename Block, int R>
KVNNI_INLINE void k4_rows(float* out, RowSteps rs, const BlockQ8x32* xq, const XScales8* pre, std::size_t nb) {
  constexpr bool kFifth = std::is_same_v<Block, BlockQ5_K>;
  const __m256i low = _mm256_set1_epi8(0x0f), fifth = _mm256_set1_epi8(0x10);
  __m256 acc[R];
  for (int i = 0; i < R; i++) acc[i] = _mm256_setzero_ps();
  for (std::size_t b = 0; b < nb; b++) {
    const Block* rows[R];  // the R rows' block b
    for (int i = 0; i < R; i++) {
      rows[i] = rs.block<Block>(i, b);
      prefetch_lines(reinterpret_cast<const char*>(rows[i]) + rs.ahead, sizeof(Block));
    }
    const BlockQ8x32* x = xq + 8 * b;
    __m256 xd, xs;
    x_scales_of(pre, xq, b, &xd, &xs);
    // Lane j: d * sc_j * xd_j, picked per sub-block with vpermd. The AVX2
    // kernel's broadcast loads from a stack array (embedded {1to8} here)
    // measured Q4_K 1.07x slower and Q5_K 0.89x on AVX-512 (bench/RESULTS.md,
    // sixth run); the vpermd stays for the more common Q4_K.
    __m256 s[R];
    __m256i hb[R];  // Q5_K: bit j of byte l is the fifth bit of sub-block j's value l
    for (int i = 0; i < R; i++) {
      const Block& blk = *rows[i];
      __m256 sc, mn, d, dmin;
      q4_k_scales8(blk, &sc, &mn, &d, &dmin);
      s[i] = _mm256_mul_ps(_mm256_mul_ps(sc, xd), d);
      acc[i] = _mm256_fnmadd_ps(_mm256_mul_ps(mn, dmin), xs, acc[i]);
      if constexpr (kFifth) hb[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qh));
    }
    // Chunk c: the low nibbles of qs[32c .. 32c + 32) are sub-block 2c, the high ones 2c + 1.
    for (int c = 0; c < 4; c++) {
      const __m256i x0 = load_q8(x[2 * c].qs), x1 = load_q8(x[2 * c + 1].qs);
      const __m256i j0 = _mm256_set1_epi32(2 * c), j1 = _mm256_set1_epi32(2 * c + 1);
      for (int i = 0; i < R; i++) {
        const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[i]->qs + 32 * c));
        __m256i q0 = _mm256_and_si256(bytes, low), q1 = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low);
        if constexpr (kFifth) {
          // Bits 2c and 2c + 1 of each byte moved to bit 4 (the 16-bit shifts
          // bring bits of the neighbouring byte only into bits the mask drops).
          const __m256i h = _mm256_srli_epi16(hb[i], 2 * c);
          q0 = _mm256_or_si256(q0, _mm256_and_si256(_mm256_slli_epi16(h, 4), fifth));
          q1 = _mm256_or_si256(q1, _mm256_and_si256(_mm256_slli_epi16(h, 3), fifth));
        }
        const __m256i isum0 = dpbusd(_mm256_setzero_si256(), q0, x0);
        const __m256i isum1 = dpbusd(_mm256_setzero_si256(), q1, x1);
        acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum0), _mm256_permutevar8x32_ps(s[i], j0), acc[i]);
        acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum1), _mm256_permutevar8x32_ps(s[i], j1), acc[i]);
      }
    }
  }
  for (int i = 0; i < R; i++) out[i] = hsum(acc[i]);
}

// Four rows at a time in the file layout; x86::kPairStreams pairs at a
// time in row pairs (kPaired, row_pairs.hpp: x86::pair_runs). A row's
// arithmetic does not depend on how many are read together, so both layouts
// give the same bits (tested).
template <typename Block, bool kPaired = false>
KVNNI_INLINE void k4_matvec(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  const std::size_t nb = w.cols / kQK_K;
  XScales8 scales[kMaxSuperBlocks];
  const XScales8* pre = x_scales_all(xq, nb, scales);
  std::size_t r = r0;
  if constexpr (kPaired) {
    const auto one = [&](std::size_t g, const PairStep& s) KVNNI {
      if (s.n == 2) k4_rows<Block, 2>(out + g, s.rows, xq, pre, nb);
      else k4_rows<Block, 1>(out + g, s.rows, xq, pre, nb);
      return std::size_t(s.n);
    };
    const auto many = [&](std::size_t g, RowSteps rows) KVNNI {
      k4_rows<Block, 2 * x86::kPairStreams>(out + g, rows, xq, pre, nb);
    };
    r = x86::pair_runs<Block, x86::kPairStreams>(w, r, r1, one, many);
  }
  for (; r + 4 <= r1; r += 4) k4_rows<Block, 4>(out + r, file_rows<Block, 4>(w, r), xq, pre, nb);
  for (; r < r1; r++) k4_rows<Block, 1>(out + r, file_rows<Block, 1>(w, r), xq, pre, nb);
}

// Q4_K in 8-row tiles (q4_k_x8.hpp): x86::k_x8_groups with vpdpbusd
// summing each step's 4 products per row straight into 32 bits.
template <std::size_t N>
KVNNI_INLINE void k_x8_groups(float* out, const std::uint8_t* first, std::size_t group_bytes, const BlockQ8x32* xq,
                              const XScales8* pre, std::size_t nb) {
  const auto chunk_dots = [](const std::uint8_t* tile, int c, const BlockQ8x32* x, __m256i* dots) KVNNI {
    dots[0] = dots[1] = _mm256_setzero_si256();
    for (int s = 0; s < 8; s++) {
      __m256i q[2];
      x86::k_x8_step(tile, c, s, q);
      for (int h = 0; h < 2; h++) {
        std::int32_t x4;  // 4 activations
        std::memcpy(&x4, x[2 * c + h].qs + 4 * s, 4);
        dots[h] = dpbusd(dots[h], q[h], _mm256_set1_epi32(x4));
      }
    }
  };
  x86::k_x8_groups<N>(out, first, group_bytes, xq, pre, nb, chunk_dots);
}

// Q6_K on 512-bit registers: one instruction covers 64 weights (two x
// blocks), half the instructions of 256-bit ones (in kernel_speed 1.24 ->
// 1.00 ns per 32 weights; Q4_K and Q5_K gained nothing so, and keep 256 bits).
// The x side of a super-block (its 8 blocks paired into 4 registers, their
// scales and offset sums) is built once and shared by the R rows; each row
// keeps its own accumulator, so a row's result does not depend on R.

// The 32 quants at lo in bytes 0-31 of one register, those at hi in bytes 32-63.
KVNNI_INLINE __m512i q8_pair(const std::int8_t* lo, const std::int8_t* hi) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(load_q8(lo)), load_q8(hi), 1);
}

// x blocks 2m and 2m + 1 in one register: lanes 0-7 (bytes 0-31) block 2m,
// lanes 8-15 block 2m + 1.
KVNNI_INLINE __m512i x_pair(const BlockQ8x32* x, int m) { return q8_pair(x[2 * m].qs, x[2 * m + 1].qs); }

// Q6_K, half h of a super-block (128 values, x blocks 4h .. 4h + 3) in two
// registers: ql[64h .. 64h + 64) has the low 4 bits of values 0-63 of the
// half in its low nibbles and of values 64-127 in its high nibbles;
// qh[32h .. 32h + 32), broadcast to both halves, gives bits 4-5 of value l
// (and l + 32, l + 64, l + 96) in its bits 0-1 (2-3, 4-5, 6-7). Lanes of a
// sum: four per 16-value sub-block, so chunk m (values 64m .. 64m + 64 of the
// block) lanes 4g .. 4g + 3 take scales[4m + g] and x block 2m + g / 2.
template <int R>
KVNNI_INLINE void q6_k_rows512(float* out, RowSteps rs, const BlockQ8x32* xq, std::size_t nb) {
  const __m512i low = _mm512_set1_epi8(0x0f), top = _mm512_set1_epi8(0x30);
  const __m512i top_left = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);   // qh bits 0-1 | 2-3 to 4-5
  const __m512i top_right = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);  // qh bits 4-5 | 6-7 to 4-5
  __m512 acc[R];
  for (int i = 0; i < R; i++) acc[i] = _mm512_setzero_ps();
  for (std::size_t b = 0; b < nb; b++) {
    const BlockQ6_K* rows[R];  // the R rows' block b
    for (int i = 0; i < R; i++) {
      rows[i] = rs.block<BlockQ6_K>(i, b);
      prefetch_lines(reinterpret_cast<const char*>(rows[i]) + rs.ahead, sizeof(BlockQ6_K));
    }
    const BlockQ8x32* x = xq + 8 * b;
    __m512i xv[4], start[4];  // chunk m: x blocks 2m, 2m + 1; the -32 of every weight as -32 * sum(xq) per sub-block
    __m512 xd[4];             // chunk m: lanes 0-7 xd of block 2m, 8-15 of block 2m + 1
    for (int m = 0; m < 4; m++) {
      const BlockQ8x32 &x0 = x[2 * m], &x1 = x[2 * m + 1];
      xv[m] = x_pair(x, m);
      start[m] = _mm512_setr_epi32(-32 * x0.sums[0], 0, 0, 0, -32 * x0.sums[1], 0, 0, 0, -32 * x1.sums[0], 0, 0, 0,
                                   -32 * x1.sums[1], 0, 0, 0);
      xd[m] = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_set1_ps(x0.d)), _mm256_castps_pd(_mm256_set1_ps(x1.d)), 1));
    }
    for (int i = 0; i < R; i++) {
      const BlockQ6_K& blk = *rows[i];
      // d * scales[0 .. 16) as floats, one per lane
      const __m512 sc = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.scales)))),
                                      _mm512_set1_ps(_cvtsh_ss(blk.d)));
      for (int h = 0; h < 2; h++) {
        const __m512i ql = _mm512_loadu_si512(blk.ql + 64 * h);
        const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qh + 32 * h)));
        __m512i q[2];
        q[0] = _mm512_ternarylogic_epi32(_mm512_and_si512(ql, low), _mm512_sllv_epi16(qh, top_left), top, 0xf8);
        q[1] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low), _mm512_srlv_epi16(qh, top_right), top, 0xf8);
        for (int c = 0; c < 2; c++) {
          const int m = 2 * h + c;
          const __m512i pick = _mm512_setr_epi32(4 * m, 4 * m, 4 * m, 4 * m, 4 * m + 1, 4 * m + 1, 4 * m + 1, 4 * m + 1, 4 * m + 2,
                                                 4 * m + 2, 4 * m + 2, 4 * m + 2, 4 * m + 3, 4 * m + 3, 4 * m + 3, 4 * m + 3);
          const __m512i isum = _mm512_dpbusd_epi32(start[m], q[c], xv[m]);
          acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(_mm512_permutexvar_ps(pick, sc), xd[m]), acc[i]);
        }
      }
    }
  }
  for (int i = 0; i < R; i++) out[i] = _mm512_reduce_add_ps(acc[i]);
}

// Four rows at a time in the file layout, x86::kPairStreams pairs at a
// time in row pairs (kPaired), as k4_matvec.
template <bool kPaired>
KVNNI_INLINE void q6_k_matvec(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  const std::size_t nb = w.cols / kQK_K;
  std::size_t r = r0;
  if constexpr (kPaired) {
    const auto one = [&](std::size_t g, const PairStep& s) KVNNI {
      if (s.n == 2) q6_k_rows512<2>(out + g, s.rows, xq, nb);
      else q6_k_rows512<1>(out + g, s.rows, xq, nb);
      return std::size_t(s.n);
    };
    const auto many = [&](std::size_t g, RowSteps rows) KVNNI {
      q6_k_rows512<2 * x86::kPairStreams>(out + g, rows, xq, nb);
    };
    r = x86::pair_runs<BlockQ6_K, x86::kPairStreams>(w, r, r1, one, many);
  }
  for (; r + 4 <= r1; r += 4) q6_k_rows512<4>(out + r, file_rows<BlockQ6_K, 4>(w, r), xq, nb);
  for (; r < r1; r++) q6_k_rows512<1>(out + r, file_rows<BlockQ6_K, 1>(w, r), xq, nb);
}

// The fp16 d of 8 consecutive Q4_0 blocks as floats: d_k sits at byte 18k,
// so two 64-byte loads hold all eight and one vpermt2w picks their words
// (kernel_speed Q4_0 0.90 -> 0.86 ns per 32 weights against halves8's eight
// 16-bit loads and inserts; Q8_0's 34-byte blocks need four loads, each
// across two cache lines, and were slower so: they keep halves8).
KVNNI_INLINE __m256 q4_0_scales8(const BlockQ4_0* b) {
  // words 0, 9, 18, 27 of the first load, 4, 13, 22, 31 (32 + word) of the second
  const __m512i pick = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 63, 54, 45,
                                        36, 27, 18, 9, 0);
  const __m512i lo = _mm512_loadu_si512(b), hi = _mm512_loadu_si512(reinterpret_cast<const std::uint8_t*>(b) + 64);
  return _mm256_cvtph_ps(_mm512_castsi512_si128(_mm512_permutex2var_epi16(lo, pick, hi)));
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
    const __m256 xd = floats8(&xq[b].d, sizeof(BlockQ8x32));
    __m512 s[R];  // lanes 0-7: d_j * xd_j of the 8 blocks
    for (int i = 0; i < R; i++) {
      __m256 d;  // (8) the blocks' d
      if constexpr (kQ4) {
        d = q4_0_scales8(rows[i] + b);
      } else {
        d = halves8(rows[i] + b, sizeof(Block));
      }
      s[i] = _mm512_castps256_ps512(_mm256_mul_ps(d, xd));
    }
    for (int j = 0; j < 8; j += 2) {
      const BlockQ8x32 &x0 = xq[b + j], &x1 = xq[b + j + 1];
      const __m512i xv = x_pair(xq + b, j / 2);
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
          q = _mm512_xor_si512(q8_pair(rows[i][b + j].qs, rows[i][b + j + 1].qs), bias);
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
KVNNI_INLINE void q_0_matvec(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  std::size_t r = r0;
  for (; r + 8 <= r1; r += 8) q_0_rows512<kQ4, 8>(out + r, w.row(r), w.row_bytes, xq, w.cols / kQK);
  for (; r + 4 <= r1; r += 4) q_0_rows512<kQ4, 4>(out + r, w.row(r), w.row_bytes, xq, w.cols / kQK);
  for (; r < r1; r++) q_0_rows512<kQ4, 1>(out + r, w.row(r), w.row_bytes, xq, w.cols / kQK);
}

// The other GGUF types (int8_units.hpp), R rows at once as the AVX2 kernel
// (kernels_avx2_matvec.cpp: unit_rows) with vpdpbusd, and the next rows prefetched.
template <typename U, int R>
KVNNI_INLINE void unit_rows(float* out, const void* w, std::size_t row_bytes, const BlockQ8x32* xq, std::size_t n_units) {
  using Block = typename U::Block;
  const Block* rows[R];
  __m256 acc[R];
  float mins[R];
  for (int i = 0; i < R; i++) rows[i] = row_blocks<Block>(w, row_bytes, i), acc[i] = _mm256_setzero_ps(), mins[i] = 0.0f;
  for (std::size_t u = 0; u < n_units; u++) {
    for (int i = 0; i < R; i++) prefetch_lines(reinterpret_cast<const char*>(rows[i] + u) + R * row_bytes, sizeof(Block));
    const BlockQ8x32* x = xq + U::kPieces * u;
    units::PieceScales s[R][U::kPieces];
    for (int i = 0; i < R; i++) U::scales(rows[i][u], _cvtsh_ss(U::d(rows[i][u])), _cvtsh_ss(U::dmin(rows[i][u])), s[i]);
    for (int k = 0; k < U::kPieces; k++) {
      const __m256i xv = load_q8(x[k].qs);
      const __m256i start = U::kOffset ? x86::piece_start(x[k], U::kOffset) : _mm256_setzero_si256();
      for (int i = 0; i < R; i++) {
        const __m256i isum = dpbusd(start, x86::piece(rows[i][u], k), xv);
        acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), x86::piece_scale(s[i][k], x[k].d), acc[i]);
        if (U::kMin) mins[i] += x86::piece_mins(s[i][k], x[k]);
      }
    }
  }
  for (int i = 0; i < R; i++) out[i] = hsum(acc[i]) - mins[i];
}

template <typename U>
KVNNI_INLINE void unit_matvec(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  const std::size_t n_units = w.cols / (32 * U::kPieces);
  std::size_t r = r0;
  for (; r + 4 <= r1; r += 4) unit_rows<U, 4>(out + r, w.row(r), w.row_bytes, xq, n_units);
  for (; r < r1; r++) unit_rows<U, 1>(out + r, w.row(r), w.row_bytes, xq, n_units);
}

}  // namespace

KVNNI void matvec_q4_1(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  unit_matvec<units::Q4_1>(out, w, xq, r0, r1);
}
KVNNI void matvec_q5_0(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  unit_matvec<units::Q5_0>(out, w, xq, r0, r1);
}
KVNNI void matvec_q5_1(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  unit_matvec<units::Q5_1>(out, w, xq, r0, r1);
}
KVNNI void matvec_q2_k(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  unit_matvec<units::Q2_K>(out, w, xq, r0, r1);
}
KVNNI void matvec_q3_k(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  unit_matvec<units::Q3_K>(out, w, xq, r0, r1);
}
KVNNI void matvec_q5_k(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  k4_matvec<BlockQ5_K>(out, w, xq, r0, r1);
}

KVNNI void matvec_q8_0(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  q_0_matvec<false>(out, w, xq, r0, r1);
}

KVNNI void matvec_q4_0(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  q_0_matvec<true>(out, w, xq, r0, r1);
}

KVNNI void matvec_q4_k(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  k4_matvec<BlockQ4_K>(out, w, xq, r0, r1);
}

// --- Q4_0 and Q8_0 in 16-row tiles (q_0_x16.hpp) --------------------------------------------

namespace {

// acc (lane i: row i) plus block x of the tile's 16 rows: the GEMM's
// arithmetic on a one-token tile (kernels_avx512_gemm.cpp: int8_tile, whose
// panels hold the same 16 rows' values in the same lanes), so a prompt and
// the tokens after it see the same bits (tested). vpdpbusd multiplies
// unsigned weights: Q4_0's nibbles are its weights + 8, so the sum starts at
// -8 * sum(xq), and line k's low nibbles are values 4k .. 4k + 3, its high
// ones 16 + 4k .. 16 + 4k + 3; Q8_0's bytes with the sign bit flipped are
// its weights + 128, so the sum starts at -128 * sum(xq), and line k holds
// values 4k .. 4k + 3.
template <class Block>
KVNNI_INLINE __m512 x16_block(__m512 acc, const std::uint8_t* tile, const BlockQ8x32& x) {
  constexpr bool kQ4 = std::is_same_v<Block, BlockQ4_0>;
  const std::int32_t offset = kQ4 ? 8 : 128;
  __m512i isum = _mm512_set1_epi32(-offset * (x.sums[0] + x.sums[1]));
  for (std::size_t k = 0; k < kX16Lines<Block>; k++) {
    const __m512i v = _mm512_loadu_si512(tile + kX16Qs + 64 * k);
    if constexpr (kQ4) {
      const __m512i low = _mm512_set1_epi8(0x0f);
      std::int32_t lo, hi;  // 4 activations each
      std::memcpy(&lo, x.qs + 4 * k, 4);
      std::memcpy(&hi, x.qs + 16 + 4 * k, 4);
      isum = _mm512_dpbusd_epi32(isum, _mm512_and_si512(v, low), _mm512_set1_epi32(lo));
      isum = _mm512_dpbusd_epi32(isum, _mm512_and_si512(_mm512_srli_epi16(v, 4), low), _mm512_set1_epi32(hi));
    } else {
      std::int32_t x4;  // 4 activations
      std::memcpy(&x4, x.qs + 4 * k, 4);
      isum = _mm512_dpbusd_epi32(isum, _mm512_xor_si512(v, _mm512_set1_epi8(char(0x80))), _mm512_set1_epi32(x4));
    }
  }
  const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + kX16D)));
  return _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(d, _mm512_set1_ps(x.d)), acc);
}

// N groups of 16 rows from `first` (group_bytes apart), block by block:
// N streams, each prefetched ahead. The matvec reads kX16Streams at once:
// on the 2-vCPU Sapphire Rapids VM, 7B Q4_0 generation in turns read
// 5.0-5.4 tok/s with one stream (the file layout's 8 rows: 5.2-5.4), 5.5
// with two, 5.85-6.03 with four and 5.79-5.93 with eight (no prefetch), then
// four with the prefetch 6.65-6.80 against 6.10-6.19 without
// (bench/RESULTS.md, sixteenth run).
constexpr std::size_t kX16Streams = 4;
template <class Block, std::size_t N>
KVNNI_INLINE void x16_groups(float* out, const std::uint8_t* first, std::size_t group_bytes, const BlockQ8x32* xq,
                             std::size_t nb) {
  __m512 acc[N];
  for (std::size_t j = 0; j < N; j++) acc[j] = _mm512_setzero_ps();
  for (std::size_t b = 0; b < nb; b++) {
    for (std::size_t j = 0; j < N; j++) {
      const std::uint8_t* tile = first + j * group_bytes + b * kX16TileBytes<Block>;
      prefetch_lines(tile + x86::kTilePrefetchBytes, kX16TileBytes<Block>);
      acc[j] = x16_block<Block>(acc[j], tile, xq[b]);
    }
  }
  for (std::size_t j = 0; j < N; j++) _mm512_storeu_ps(out + 16 * j, acc[j]);
}

// Rows [r, r1) past the tiles (fewer than 16, as in the file): each block of
// theirs copied into a tile of its own (the other rows zero), so that they
// too get the GEMM's arithmetic.
template <class Block>
KVNNI_INLINE void x16_file_rows(float* out, const WeightRows& w, std::size_t r, std::size_t r1, const BlockQ8x32* xq,
                                std::size_t nb) {
  alignas(64) std::uint8_t tile[kX16TileBytes<Block>] = {};
  __m512 acc = _mm512_setzero_ps();
  for (std::size_t b = 0; b < nb; b++) {
    for (std::size_t i = 0; i < r1 - r; i++) {
      const std::uint8_t* blk = w.row(r + i) + b * sizeof(Block);
      std::memcpy(tile + kX16D + 2 * i, blk, 2);
      for (std::size_t k = 0; k < kX16Lines<Block>; k++) std::memcpy(tile + x16_qs_offset(k, i), blk + 2 + 4 * k, 4);
    }
    acc = x16_block<Block>(acc, tile, xq[b]);
  }
  float o[16];
  _mm512_storeu_ps(o, acc);
  for (std::size_t i = 0; i < r1 - r; i++) out[r + i] = o[i];
}

// Whole groups kX16Streams at a time (x86::tile_group_runs), a group the
// range cuts whole into a buffer; the rows after the tiles as they are.
template <class Block>
KVNNI_INLINE void x16_matvec(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  const std::size_t nb = w.cols / kQK, group_bytes = 16 * w.row_bytes;
  const std::size_t r = x86::tile_group_runs<16, kX16Streams>(
      out, w, r0, r1, [&](std::size_t g, float* o) KVNNI { x16_groups<Block, 1>(o, w.row(g), group_bytes, xq, nb); },
      [&](std::size_t g, float* o) KVNNI { x16_groups<Block, kX16Streams>(o, w.row(g), group_bytes, xq, nb); });
  if (r < r1) x16_file_rows<Block>(out, w, r, r1, xq, nb);
}

}  // namespace

KVNNI void matvec_q4_0_x16(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  x16_matvec<BlockQ4_0>(out, w, xq, r0, r1);
}

KVNNI void matvec_q8_0_x16(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  x16_matvec<BlockQ8_0>(out, w, xq, r0, r1);
}

// Q4_K in 8-row tiles (q4_k_x8.hpp): tiled groups whole (x86::tile_groups);
// rows after the tiles as Q4_K's.
KVNNI void matvec_q4_k_x8(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  const std::size_t nb = w.cols / kQK_K;
  XScales8 scales[kMaxSuperBlocks];
  const XScales8* pre = x_scales_all(xq, nb, scales);
  const std::size_t group_bytes = 8 * w.row_bytes;
  std::size_t r = x86::tile_group_runs<8, x86::kKx8Streams>(
      out, w, r0, r1, [&](std::size_t g, float* o) KVNNI { k_x8_groups<1>(o, w.row(g), group_bytes, xq, pre, nb); },
      [&](std::size_t g, float* o) KVNNI { k_x8_groups<x86::kKx8Streams>(o, w.row(g), group_bytes, xq, pre, nb); });
  for (; r < r1; r++) k4_rows<BlockQ4_K, 1>(out + r, file_rows<BlockQ4_K, 1>(w, r), xq, pre, nb);
}

KVNNI void matvec_q6_k(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  q6_k_matvec<false>(out, w, xq, r0, r1);
}

// Row pairs (row_pairs.hpp): x86::kPairStreams pairs at a time, through the
// file layout's kernels, so the same bits.
KVNNI void matvec_q5_k_x2(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  k4_matvec<BlockQ5_K, true>(out, w, xq, r0, r1);
}
KVNNI void matvec_q6_k_x2(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  q6_k_matvec<true>(out, w, xq, r0, r1);
}

}  // namespace llama2::avx512

#endif

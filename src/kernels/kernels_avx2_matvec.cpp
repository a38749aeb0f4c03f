// AVX2 matrix-vector kernels (kernels_avx2.hpp): weight rows (F32, F16,
// BF16, llama2.c's Q8_GROUP, the GGUF blocks) against fp32 activations, and
// the GGUF Q8_0 / Q4_0 / Q4_K / Q5_K / Q6_K rows against int8 activations.
// Every R-row kernel prefetches the same bytes of the next R rows as it
// goes (kernels.hpp: prefetch_lines): without it the AVX2 kernels waited on
// memory (7B Q6_K generation 1.5 tok/s, with it 4.4 on an AMD Zen 5). fp32
// rows too, four at a time (f32_rows).
#include "kernels/kernels_avx2.hpp"

#include <type_traits>

#include "kernels/fp16.hpp"
#include "kernels/int8_x86.hpp"
#include "kernels/q4_0_x8.hpp"
#include "kernels/q4_k_x8.hpp"
#include "kernels/row_pairs.hpp"

#if defined(__x86_64__)

namespace llama2::avx2 {

using x86::floats8, x86::halves8, x86::hsum, x86::hsum4, x86::load_q8, x86::q4_k_scales8, x86::q6_k_quants, x86::row_blocks,
    x86::RowSteps, x86::file_rows, x86::PairStep, x86::pair_step, x86::x_scales8, x86::XScales8, x86::kMaxSuperBlocks,
    x86::x_scales_all, x86::x_scales_of;

// --- fp32 ------------------------------------------------------------------------------

namespace {

// R rows at a time with the next R prefetched, as kernels_avx512_matvec.cpp's
// f32_rows (why: there): each row summed as two interleaved halves of 8
// lanes, the same order whatever R. On the Sapphire Rapids VM capped to AVX2,
// s110M 1.16x one row at a time (55.2-57.7 against 47.8-49.5 tok/s;
// mainline llama.cpp's AVX2 build 47.9-49.2), s15M 1.09x; four rows without
// prefetch 1.08x on both.
template <int R, bool kPrefetch>
K256_INLINE void f32_rows(float* out, const float* w, std::size_t stride, const float* x, std::size_t cols) {
  __m256 acc0[R], acc1[R];
  for (int r = 0; r < R; r++) acc0[r] = acc1[r] = _mm256_setzero_ps();
  std::size_t j = 0;
  for (; j + 16 <= cols; j += 16) {
    if constexpr (kPrefetch) {
      for (int r = 0; r < R; r++) _mm_prefetch(reinterpret_cast<const char*>(w + (R + r) * stride + j), _MM_HINT_T1);
    }
    const __m256 x0 = _mm256_loadu_ps(x + j), x1 = _mm256_loadu_ps(x + j + 8);
    for (int r = 0; r < R; r++) {
      acc0[r] = _mm256_fmadd_ps(_mm256_loadu_ps(w + r * stride + j), x0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(_mm256_loadu_ps(w + r * stride + j + 8), x1, acc1[r]);
    }
  }
  if (j + 8 <= cols) {
    const __m256 x0 = _mm256_loadu_ps(x + j);
    for (int r = 0; r < R; r++) acc0[r] = _mm256_fmadd_ps(_mm256_loadu_ps(w + r * stride + j), x0, acc0[r]);
    j += 8;
  }
  if (j < cols) {
    const __m256i m = tail_mask(cols - j);
    const __m256 x1 = _mm256_maskload_ps(x + j, m);
    for (int r = 0; r < R; r++) acc1[r] = _mm256_fmadd_ps(_mm256_maskload_ps(w + r * stride + j, m), x1, acc1[r]);
  }
  for (int r = 0; r < R; r++) out[r] = hsum(_mm256_add_ps(acc0[r], acc1[r]));
}

}  // namespace

K256 void matvec_f32(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  const std::size_t stride = w.row_bytes / sizeof(float);
  std::size_t r = r0;
  for (; r + 4 <= r1; r += 4) f32_rows<4, true>(out + r, reinterpret_cast<const float*>(w.row(r)), stride, x, w.cols);
  for (; r < r1; r++) f32_rows<1, false>(out + r, reinterpret_cast<const float*>(w.row(r)), stride, x, w.cols);
}

// --- llama2.c int8 (Q8_GROUP) ------------------------------------------------------------

namespace {

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
  // The next rows a pass ahead when they come from DRAM; out of the cache the
  // prefetches only cost instructions here (stories15M's 17 MB: -20%).
  const bool from_dram = weights_from_dram();
  __m256 acc[R];
  for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
  for (std::size_t g = 0; g < groups; g++) {
    __m256 gacc[R];
    const std::size_t base = g * gs;
    if (from_dram) {
      for (int r = 0; r < R; r++) prefetch_lines(q + (R + r) * cols + base, gs);
    }
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

}  // namespace

K256 void matvec_q8_group(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  const std::size_t gs = w.group_size, groups = w.cols / gs;
  if (gs % 8 != 0) {
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

K256_INLINE __m256 load_f16(const std::uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
K256_INLINE __m256 load_bf16(const std::uint16_t* p) {
  const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

template <bool kBf16>
K256_INLINE void half_rows(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  const std::size_t cols = w.cols;
  for (std::size_t r = r0; r < r1; r++) {
    const auto* row = reinterpret_cast<const std::uint16_t*>(w.row(r));
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

}  // namespace

K256 void matvec_f16(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  half_rows<false>(out, w, x, r0, r1);
}
K256 void matvec_bf16(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  half_rows<true>(out, w, x, r0, r1);
}

// --- GGUF Q8_0 / Q4_0 / Q4_K / Q5_K / Q6_K with int8 activations ---------------------------------

namespace {

// acc + the same sums: what vpdpbusd does in one instruction.
K256_INLINE __m256i dpbusd(__m256i acc, __m256i a, __m256i b) { return _mm256_add_epi32(acc, dot_u8_s8(a, b)); }

// The R-row kernels below share each activation load between R rows; each
// row keeps its own accumulator, so row r's result is the same for any R
// and any [r0, r1). Per 32 values (one BlockQ8x32): an exact int32 sum in 8
// lanes, converted and scaled once in fp32.

// The fp16 scales d of 8 blocks (`stride` bytes apart, d first) times the
// xd of the 8 activation blocks they meet: one conversion and one product
// for 8 blocks instead of 8 scalar ones.
K256_INLINE __m256 block_scales8(const void* blocks, int stride, const BlockQ8x32* x) {
  return _mm256_mul_ps(halves8(blocks, stride), floats8(&x->d, sizeof(BlockQ8x32)));
}

// One Q8_0 block against activation block xv, scaled by s into acc.
K256_INLINE __m256 q8_0_block(__m256 acc, const BlockQ8_0& blk, __m256i xv, __m256 s) {
  // |w| times x with w's sign: unsigned by signed, as the instruction wants.
  const __m256i wq = load_q8(blk.qs);
  const __m256i isum = dot_u8_s8(_mm256_sign_epi8(wq, wq), _mm256_sign_epi8(xv, wq));
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), s, acc);
}

// Q8_0: blocks in groups of 8 (scales from block_scales8), then one by one;
// block b's arithmetic is the same either way. (Q4_0 has q4_0_pairs below.)
template <int R>
K256_INLINE void q8_0_rows(float* out, const void* w, std::size_t row_bytes, const BlockQ8x32* xq, std::size_t nb) {
  const BlockQ8_0* rows[R];
  __m256 acc[R];
  for (int i = 0; i < R; i++) rows[i] = row_blocks<BlockQ8_0>(w, row_bytes, i), acc[i] = _mm256_setzero_ps();
  std::size_t b = 0;
  for (; b + 8 <= nb; b += 8) {
    for (int i = 0; i < R; i++) prefetch_lines(reinterpret_cast<const char*>(rows[i] + b) + R * row_bytes, 8 * sizeof(BlockQ8_0));
    __m256 s[R];  // lane j: d_j * xd_j
    for (int i = 0; i < R; i++) s[i] = block_scales8(rows[i] + b, int(sizeof(BlockQ8_0)), xq + b);
    // Unrolled, so that each pick is a constant (kernel_speed 1.03 -> 1.01 ns
    // per 32 weights on the 2-core EPYC VM, four code placements).
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) {
      const __m256i xv = load_q8(xq[b + j].qs), pick = _mm256_set1_epi32(j);
      for (int i = 0; i < R; i++) acc[i] = q8_0_block(acc[i], rows[i][b + j], xv, _mm256_permutevar8x32_ps(s[i], pick));
    }
  }
  for (; b < nb; b++) {
    const __m256i xv = load_q8(xq[b].qs);
    for (int i = 0; i < R; i++) acc[i] = q8_0_block(acc[i], rows[i][b], xv, _mm256_set1_ps(_cvtsh_ss(rows[i][b].d) * xq[b].d));
  }
  for (int i = 0; i < R; i++) out[i] = hsum(acc[i]);
}

// Activation block x as q4_0_pair_products takes it: its halves (16 values
// each) in both 128-bit lanes.
struct PairX {
  __m256i lo, hi;
};
K256_INLINE PairX pair_x(const BlockQ8x32& x) {
  return {_mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.qs))),
          _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.qs + 16)))};
}

// The -8 of every Q4_0 weight against activation block x: -8 * sum(xq).
K256_INLINE int q4_0_offset(const BlockQ8x32& x) { return -8 * (x.sums[0] + x.sums[1]); }

// Q4_0 two rows to a register: row A's block in the low 128 bits, row B's in
// the high ones, so that one vpand takes the low nibbles (values 0-15) of
// both and a shift and vpand their high nibbles (values 16-31); each meets
// its half of the activation block, broadcast to both lanes. The result:
// 16-bit sums of 4 products each (at most 4 * 15 * 127 in magnitude), lanes
// 0-7 of row A, 8-15 of row B.
K256_INLINE __m256i q4_0_pair_products(__m256i v, const PairX& x) {
  const __m256i low = _mm256_set1_epi8(0x0f);
  const __m256i lo = _mm256_and_si256(v, low), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
  return _mm256_add_epi16(_mm256_maddubs_epi16(lo, x.lo), _mm256_maddubs_epi16(hi, x.hi));
}
// The same for two blocks stored apart (the file layout).
K256_INLINE __m256i q4_0_pair_products(const BlockQ4_0& ba, const BlockQ4_0& bq, const PairX& x) {
  const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ba.qs))),
                                            _mm_loadu_si128(reinterpret_cast<const __m128i*>(bq.qs)), 1);
  return q4_0_pair_products(v, x);
}

// One block of a pair on its own (the tail of a row): its integer sums in
// lanes 0-3 (A) and 4-7 (B), the -8 included (in lanes 0 and 4), as floats.
K256_INLINE __m256 q4_0_pair_sums(const BlockQ4_0& ba, const BlockQ4_0& bq, const BlockQ8x32& x) {
  const int o = q4_0_offset(x);
  const __m256i sums = _mm256_madd_epi16(q4_0_pair_products(ba, bq, pair_x(x)), _mm256_set1_epi16(1));
  return _mm256_cvtepi32_ps(_mm256_add_epi32(sums, _mm256_setr_epi32(o, 0, 0, 0, o, 0, 0, 0)));
}

// The whole integer sums of 4 blocks of a pair, [A's 4 | B's 4] as 32-bit
// lanes: neighbouring lanes added in 16 bits (at most 8 * 15 * 127), then
// pairs of those in 32 (vpmaddwd), then a vphaddd. vphaddd issues only one
// every two cycles on this CPU; a transpose of blends and vpshufd instead
// measured 3% slower.
K256_INLINE __m256i q4_0_block_sums4(const __m256i m[4]) {
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i t01 = _mm256_madd_epi16(_mm256_hadd_epi16(m[0], m[1]), ones);
  const __m256i t23 = _mm256_madd_epi16(_mm256_hadd_epi16(m[2], m[3]), ones);
  return _mm256_hadd_epi32(t01, t23);
}

// P pairs of rows over groups of 8 blocks: each block's products summed to
// one integer per row before conversion (q4_0_block_sums4), so that a
// group costs each pair two conversions and two fmas with the scales d * xd
// of its 8 blocks, instead of eight of each, eight vpaddd of the -8 and a
// vpermps per block. kernel_speed on the 2-core EPYC VM, four code
// placements: 0.90 -> 0.81 ns per 32 weights (P = 4 against 0.88 for P = 3,
// 0.93 for P = 2). A row on its own is its own partner (B = A) and keeps the
// low half: the same arithmetic. The 1.13x of the pairs against the one-row
// kernel they replaced was measured on AMD Zen 5 (bench/RESULTS.md).
template <int P>  // pairs of rows
K256_INLINE void q4_0_pairs(float* out, const void* w, std::size_t row_bytes, std::size_t n_rows,
                            const BlockQ8x32* xq, std::size_t nb) {
  const BlockQ4_0 *a[P], *bb[P];
  __m256 acc[P];
  for (int p = 0; p < P; p++) {
    a[p] = row_blocks<BlockQ4_0>(w, row_bytes, std::size_t(2 * p));
    bb[p] = row_blocks<BlockQ4_0>(w, row_bytes, std::size_t(2 * p + 1 < int(n_rows) ? 2 * p + 1 : 2 * p));
    acc[p] = _mm256_setzero_ps();
  }
  std::size_t b = 0;
  for (; b + 8 <= nb; b += 8) {
    for (int p = 0; p < P; p++) {
      prefetch_lines(reinterpret_cast<const char*>(a[p] + b) + 2 * P * row_bytes, 8 * sizeof(BlockQ4_0));
      prefetch_lines(reinterpret_cast<const char*>(bb[p] + b) + 2 * P * row_bytes, 8 * sizeof(BlockQ4_0));
    }
    const __m256 xd = floats8(&xq[b].d, sizeof(BlockQ8x32));
    // The -8 of every weight: -8 * sum(xq) of blocks 0-3 in lanes 0-3 and
    // again in 4-7 (rows A and B), and of blocks 4-7.
    alignas(16) int offset[8];
    for (int j = 0; j < 8; j++) offset[j] = q4_0_offset(xq[b + j]);
    const __m256i o03 = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(offset)));
    const __m256i o47 = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(offset + 4)));
    for (int p = 0; p < P; p++) {
      const __m256 sa = _mm256_mul_ps(halves8(a[p] + b, sizeof(BlockQ4_0)), xd);
      const __m256 sb = _mm256_mul_ps(halves8(bb[p] + b, sizeof(BlockQ4_0)), xd);
      __m256i m[4];
      for (int j = 0; j < 4; j++) m[j] = q4_0_pair_products(a[p][b + j], bb[p][b + j], pair_x(xq[b + j]));
      const __m256i sums03 = _mm256_add_epi32(q4_0_block_sums4(m), o03);
      for (int j = 0; j < 4; j++) m[j] = q4_0_pair_products(a[p][b + 4 + j], bb[p][b + 4 + j], pair_x(xq[b + 4 + j]));
      const __m256i sums47 = _mm256_add_epi32(q4_0_block_sums4(m), o47);
      // [d_A xd of blocks 0-3 | d_B xd of blocks 0-3], and 4-7
      acc[p] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums03), _mm256_permute2f128_ps(sa, sb, 0x20), acc[p]);
      acc[p] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums47), _mm256_permute2f128_ps(sa, sb, 0x31), acc[p]);
    }
  }
  for (; b < nb; b++) {
    const float xd = xq[b].d;
    for (int p = 0; p < P; p++) {
      const __m256 s = _mm256_set_m128(_mm_set1_ps(_cvtsh_ss(bb[p][b].d) * xd), _mm_set1_ps(_cvtsh_ss(a[p][b].d) * xd));
      acc[p] = _mm256_fmadd_ps(q4_0_pair_sums(a[p][b], bb[p][b], xq[b]), s, acc[p]);
    }
  }
  for (int p = 0; p < P; p++) {
    out[2 * p] = hsum4(_mm256_castps256_ps128(acc[p]));
    if (2 * p + 1 < int(n_rows)) out[2 * p + 1] = hsum4(_mm256_extractf128_ps(acc[p], 1));
  }
}

// q4_0_pairs<4> on one group of 8 rows in Q4_0_X8's tiles (q4_0_x8.hpp):
// the same arithmetic in the same order, so the same bits, with each pair's
// scales one 16-byte load per 4 blocks, already in the [A 0-3 | B 0-3]
// order the sums come in, and both rows' nibbles of a block one 32-byte
// load; the 8 rows are one stream.
K256_INLINE void q4_0_x8_group(float* out, const std::uint8_t* group, const BlockQ8x32* xq, std::size_t nb) {
  __m256 acc[4];
  for (int p = 0; p < 4; p++) acc[p] = _mm256_setzero_ps();
  const std::size_t n_tiles = nb / 8;
  for (std::size_t t = 0; t < n_tiles; t++) {
    const std::uint8_t* tile = group + x8_pair_offset(t, 0);
    prefetch_lines(tile + x86::kTilePrefetchBytes, kX8TileBytes);  // further on in the group's stream
    const std::size_t b = 8 * t;
    const __m256 xd = floats8(&xq[b].d, sizeof(BlockQ8x32));
    const __m256 xd03 = _mm256_permute2f128_ps(xd, xd, 0x00), xd47 = _mm256_permute2f128_ps(xd, xd, 0x11);
    alignas(16) int offset[8];
    for (int j = 0; j < 8; j++) offset[j] = q4_0_offset(xq[b + j]);
    const __m256i o03 = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(offset)));
    const __m256i o47 = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(offset + 4)));
    for (int p = 0; p < 4; p++) {
      const std::uint8_t* pair = group + x8_pair_offset(t, p);
      // lanes [A's d 0-3 | B's d 0-3], then the same for blocks 4-7
      const auto* d03 = reinterpret_cast<const __m128i*>(pair + x8_scale_offset(0, 0));
      const auto* d47 = reinterpret_cast<const __m128i*>(pair + x8_scale_offset(4, 0));
      const __m256 s03 = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128(d03)), xd03);
      const __m256 s47 = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128(d47)), xd47);
      const auto* qs = reinterpret_cast<const __m256i*>(pair + x8_nibbles_offset(0, 0));  // block j: qs + j
      __m256i m[4];
      for (int j = 0; j < 4; j++) m[j] = q4_0_pair_products(_mm256_loadu_si256(qs + j), pair_x(xq[b + j]));
      const __m256i sums03 = _mm256_add_epi32(q4_0_block_sums4(m), o03);
      for (int j = 0; j < 4; j++) m[j] = q4_0_pair_products(_mm256_loadu_si256(qs + 4 + j), pair_x(xq[b + 4 + j]));
      const __m256i sums47 = _mm256_add_epi32(q4_0_block_sums4(m), o47);
      acc[p] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums03), s03, acc[p]);
      acc[p] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums47), s47, acc[p]);
    }
  }
  // The last nb % 8 blocks of each row, stored whole after the tiles.
  const std::size_t tail = nb - 8 * n_tiles;
  const auto* tails = reinterpret_cast<const BlockQ4_0*>(group + x8_tail_offset(n_tiles, tail, 0));  // row i: tails + i * tail
  for (std::size_t k = 0; k < tail; k++) {
    const std::size_t b = 8 * n_tiles + k;
    const float xd = xq[b].d;
    for (int p = 0; p < 4; p++) {
      const BlockQ4_0& ba = tails[2 * p * tail + k];
      const BlockQ4_0& bb = tails[(2 * p + 1) * tail + k];
      const __m256 s = _mm256_set_m128(_mm_set1_ps(_cvtsh_ss(bb.d) * xd), _mm_set1_ps(_cvtsh_ss(ba.d) * xd));
      acc[p] = _mm256_fmadd_ps(q4_0_pair_sums(ba, bb, xq[b]), s, acc[p]);
    }
  }
  for (int p = 0; p < 4; p++) {
    out[2 * p] = hsum4(_mm256_castps256_ps128(acc[p]));
    out[2 * p + 1] = hsum4(_mm256_extractf128_ps(acc[p], 1));
  }
}

// The 16-bit lanes of v shifted left by n bits (right by -n).
K256_INLINE __m256i shift_bits(__m256i v, int n) {
  return n > 0 ? _mm256_slli_epi16(v, n) : n < 0 ? _mm256_srli_epi16(v, -n) : v;
}

// Q4_K and Q5_K (same scales, same nibbles; Q5_K adds a fifth bit). Sub-block
// j (32 values, x block 8b + j): xd * (d * sc * sum(q xq) - dmin * mn * sum(xq)).
// Each row's 8 scales d * sc_j * xd_j go to a small array on the stack and
// come back one at a time as a broadcast load (a load port) instead of a
// vpermd of a register (a shuffle, on the ports the integer products and
// conversions also need), and d and dmin come out of the same 16-byte load
// as the scales (q4_k_scales8). kernel_speed on the 2-core EPYC VM, ns per
// 32 weights, medians over four code placements: Q4_K 0.94 -> 0.88 (d and
// dmin) -> 0.855 (broadcast) -> 0.83 (the broadcasts from one base
// register, below), Q5_K 1.17 -> 1.14 -> 1.115 -> 1.045 (that, and one
// shift per fifth bit). Summing each sub-block to one integer first (as
// q4_0_pairs does) measured slower here: 0.85 with vphaddd, 0.93 with blends;
// and two sub-blocks' vpmaddubsw summed in 16 bits by vphaddw before one
// vpmaddwd (as q4_0_block_sums4, half the vpmaddwd, conversions and FMAs)
// level: 0.77 either way (six runs in turns, 2026-12-05).
//
// Rows are read through RowSteps (int8_x86.hpp), so the file layout and Q5_K's row
// pairs (row_pairs.hpp) share the kernel. Q4_K's 8-row tiles (q4_k_x8.hpp,
// k_x8_groups below) run at 0.52-0.59 ns per 32 weights in that measure,
// where this kernel in row pairs ran at 0.75-1.0 (2026-12-06); this one
// reads the rows after a matrix's last group of 8 there.
template <typename Block, int R>
K256_INLINE void k4_rows(float* out, RowSteps rs, const BlockQ8x32* xq, const XScales8* pre, std::size_t nb) {
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
    alignas(32) float s[R][8];  // [row][j]: d * sc_j * xd_j
    for (int i = 0; i < R; i++) {
      const Block& blk = *rows[i];
      __m256 sc, mn, d, dmin;
      q4_k_scales8(blk, &sc, &mn, &d, &dmin);
      _mm256_store_ps(s[i], _mm256_mul_ps(_mm256_mul_ps(sc, xd), d));
      acc[i] = _mm256_fnmadd_ps(_mm256_mul_ps(mn, dmin), xs, acc[i]);
    }
    // One base register for the 8R broadcasts: without the empty asm (which
    // hides that sp is s) GCC keeps each &s[i][j] in a stack slot of its own
    // and loads it before every broadcast (an instruction and a load each).
    const float* sp = &s[0][0];
    __asm__("" : "+r"(sp));
    // Chunk c: the low nibbles of qs[32c .. 32c + 32) are sub-block 2c, the high ones 2c + 1.
    for (int c = 0; c < 4; c++) {
      const __m256i x0 = load_q8(x[2 * c].qs), x1 = load_q8(x[2 * c + 1].qs);
      for (int i = 0; i < R; i++) {
        const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[i]->qs + 32 * c));
        __m256i q0 = _mm256_and_si256(bytes, low), q1 = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low);
        if constexpr (kFifth) {
          // Bits 2c and 2c + 1 of each qh byte moved to bit 4, one shift each (by
          // a constant once the loop over c is unrolled; the 16-bit shifts bring
          // bits of the neighbouring byte only into bits the mask drops).
          const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[i]->qh));
          q0 = _mm256_or_si256(q0, _mm256_and_si256(shift_bits(h, 4 - 2 * c), fifth));
          q1 = _mm256_or_si256(q1, _mm256_and_si256(shift_bits(h, 3 - 2 * c), fifth));
        }
        const __m256i isum0 = dpbusd(_mm256_setzero_si256(), q0, x0);
        const __m256i isum1 = dpbusd(_mm256_setzero_si256(), q1, x1);
        acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum0), _mm256_broadcast_ss(sp + 8 * i + 2 * c), acc[i]);
        acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum1), _mm256_broadcast_ss(sp + 8 * i + 2 * c + 1), acc[i]);
      }
    }
  }
  for (int i = 0; i < R; i++) out[i] = hsum(acc[i]);
}

// R rows at a time in the file layout, chosen per type by measurement
// (matvec_q4_k, matvec_q5_k); x86::kPairStreams pairs at a time in row
// pairs (kPaired: x86::pair_runs).
template <typename Block, int R, bool kPaired = false>
K256_INLINE void k4_matvec(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  const std::size_t nb = w.cols / kQK_K;
  XScales8 scales[kMaxSuperBlocks];
  const XScales8* pre = x_scales_all(xq, nb, scales);
  std::size_t r = r0;
  if constexpr (kPaired) {
    const auto one = [&](std::size_t g, const PairStep& s) K256 {
      if (s.n == 2) k4_rows<Block, 2>(out + g, s.rows, xq, pre, nb);
      else k4_rows<Block, 1>(out + g, s.rows, xq, pre, nb);
      return std::size_t(s.n);
    };
    const auto many = [&](std::size_t g, RowSteps rows) K256 {
      k4_rows<Block, 2 * x86::kPairStreams>(out + g, rows, xq, pre, nb);
    };
    r = x86::pair_runs<Block, x86::kPairStreams>(w, r, r1, one, many);
  }
  for (; r + R <= r1; r += R) k4_rows<Block, R>(out + r, file_rows<Block, R>(w, r), xq, pre, nb);
  for (; r < r1; r++) k4_rows<Block, 1>(out + r, file_rows<Block, 1>(w, r), xq, pre, nb);
}

// The x side of a Q6_K super-block: xd of its 8 activation blocks, and
// their half sums (kernels.hpp: BlockQ8x32::sums) as 16-bit lanes 2k and
// 2k + 1 for block k, the order of the super-block's 16 scales.
struct XHalfSums8 {
  __m256 xd;
  __m256i sums;
};
K256_INLINE XHalfSums8 x_half_sums8(const BlockQ8x32* x) {
  int pair[8];
  for (int k = 0; k < 8; k++) std::memcpy(&pair[k], x[k].sums, 4);
  return {floats8(&x->d, sizeof(BlockQ8x32)),
          _mm256_setr_epi32(pair[0], pair[1], pair[2], pair[3], pair[4], pair[5], pair[6], pair[7])};
}

// Q6_K with the scales inside the integer sum. x block 8b + k meets the
// quants q6_k_quants(h = k / 4)[k % 4]: bytes 0-15 are sub-block 2k, bytes
// 16-31 sub-block 2k + 1. vpmaddubsw and vpmaddwd with ones sum the unsigned
// quants times x to 8 lanes per block (0-3 of sub-block 2k, 4-7 of 2k + 1);
// vphaddd takes four blocks to one sum per sub-block, one vpmulld applies
// the 8 scales, and the halves are added to one integer per x block. The
// -32 of every weight comes off once per super-block: vpmaddwd of the 16
// scales with the 16 half sums of x gives sum(sc * sum(xq)) per x block,
// times 32. So a super-block costs each row one conversion and one fma with
// d * xd of its 8 blocks (the integer sums are exact; converting one above
// 2^24 rounds it). The x side (XHalfSums8) is built once per call for every
// row. kernel_speed on the 2-core EPYC VM, ns per 32 weights: the -32 as
// vpmaddubsw(32, x) per block 1.32, taken off once per super-block 1.21,
// one conversion and fma per block with the scale picked by vpshufb into
// vpmaddwd 1.17-1.23 -> these sums 1.08-1.10. Each row keeps its own sums,
// so a row's result does not depend on R.
template <int R>
K256_INLINE void q6_k_rows(float* out, RowSteps rs, const BlockQ8x32* xq, const XHalfSums8* pre, std::size_t nb) {
  __m256 acc[R];
  for (int i = 0; i < R; i++) acc[i] = _mm256_setzero_ps();
  // The scales of half h's sub-blocks in the order of its sums: sub-blocks
  // 8h, 8h + 2, 8h + 4, 8h + 6, then 8h + 1, 8h + 3, 8h + 5, 8h + 7.
  const __m128i kHalfOrder = _mm_setr_epi8(0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15);
  for (std::size_t b = 0; b < nb; b++) {
    const BlockQ6_K* rows[R];  // the R rows' block b
    for (int i = 0; i < R; i++) {
      rows[i] = rs.block<BlockQ6_K>(i, b);
      prefetch_lines(reinterpret_cast<const char*>(rows[i]) + rs.ahead, sizeof(BlockQ6_K));
    }
    const BlockQ8x32* x = xq + 8 * b;
    const XHalfSums8 xs = pre ? pre[b] : x_half_sums8(x);
    for (int i = 0; i < R; i++) {
      const BlockQ6_K& blk = *rows[i];
      const __m128i scales = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.scales));  // 16 x int8
      // lane k: 32 * (sc_2k * sum(first half of x block k) + sc_2k+1 * sum(second half))
      const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(_mm256_cvtepi8_epi16(scales), xs.sums), 5);
      const __m128i sc8 = _mm_shuffle_epi8(scales, kHalfOrder);
      const __m256i ones = _mm256_set1_epi16(1);
      __m256i half_sums[2];  // (8 lanes) x blocks 4h .. 4h + 3: their first halves in lanes 0-3, second in 4-7
      for (int h = 0; h < 2; h++) {
        __m256i q[4], m[4];
        q6_k_quants(blk, h, q);
        for (int r = 0; r < 4; r++) m[r] = _mm256_madd_epi16(_mm256_maddubs_epi16(q[r], load_q8(x[4 * h + r].qs)), ones);
        // each half block's sum times its sub-block's scale
        const __m256i sc = _mm256_cvtepi8_epi32(h == 0 ? sc8 : _mm_unpackhi_epi64(sc8, sc8));
        half_sums[h] = _mm256_mullo_epi32(_mm256_hadd_epi32(_mm256_hadd_epi32(m[0], m[1]), _mm256_hadd_epi32(m[2], m[3])), sc);
      }
      // lane k: x block k's whole integer sum, less the -32 of its weights
      const __m256i sums = _mm256_sub_epi32(
          _mm256_add_epi32(_mm256_permute2x128_si256(half_sums[0], half_sums[1], 0x20),
                           _mm256_permute2x128_si256(half_sums[0], half_sums[1], 0x31)),
          offset);
      acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_mul_ps(xs.xd, _mm256_set1_ps(_cvtsh_ss(blk.d))), acc[i]);
    }
  }
  for (int i = 0; i < R; i++) out[i] = hsum(acc[i]);
}

// Q4_K in 8-row tiles (q4_k_x8.hpp): x86::k_x8_groups with a chunk's dots
// in 16 bits first (a sub-block's 8 steps: 15 * 2 * 128 * 8 < 32768), then
// one vpmaddwd into 32 bits for the 8 rows.
template <std::size_t N>
K256_INLINE void k_x8_groups(float* out, const std::uint8_t* first, std::size_t group_bytes, const BlockQ8x32* xq,
                             const XScales8* pre, std::size_t nb) {
  const auto chunk_dots = [](const std::uint8_t* tile, int c, const BlockQ8x32* x, __m256i* dots) K256 {
    __m256i s16[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};  // sub-blocks 2c, 2c + 1: 8 rows' sums
    for (int s = 0; s < 8; s++) {
      __m256i q[2];
      x86::k_x8_step(tile, c, s, q);
      for (int h = 0; h < 2; h++) {
        std::int32_t x4;  // 4 activations
        std::memcpy(&x4, x[2 * c + h].qs + 4 * s, 4);
        s16[h] = _mm256_add_epi16(s16[h], _mm256_maddubs_epi16(q[h], _mm256_set1_epi32(x4)));
      }
    }
    for (int h = 0; h < 2; h++) dots[h] = _mm256_madd_epi16(s16[h], _mm256_set1_epi16(1));
  };
  x86::k_x8_groups<N>(out, first, group_bytes, xq, pre, nb, chunk_dots);
}

}  // namespace

K256 void matvec_q8_0(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  std::size_t r = r0;
  for (; r + 4 <= r1; r += 4) q8_0_rows<4>(out + r, w.row(r), w.row_bytes, xq, w.cols / kQK);
  for (; r < r1; r++) q8_0_rows<1>(out + r, w.row(r), w.row_bytes, xq, w.cols / kQK);
}

K256 void matvec_q4_0(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  std::size_t r = r0;
  for (; r + 8 <= r1; r += 8) q4_0_pairs<4>(out + r, w.row(r), w.row_bytes, 8, xq, w.cols / kQK);
  for (; r < r1; r++) q4_0_pairs<1>(out + r, w.row(r), w.row_bytes, 1, xq, w.cols / kQK);
}

// Tiled groups whole (x86::tile_groups); rows after the tiles are Q4_0's.
K256 void matvec_q4_0_x8(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  const std::size_t nb = w.cols / kQK;
  const auto group = [&](std::size_t g, float* o) K256 { q4_0_x8_group(o, w.row(g), xq, nb); };
  const std::size_t r = x86::tile_groups<8>(out, w, r0, r1, group);
  if (r < r1) matvec_q4_0(out, w, xq, r, r1);
}

// Q4_K in 8-row tiles (q4_k_x8.hpp): tiled groups whole, x86::kKx8Streams
// at a time (x86::tile_group_runs); rows after the tiles as Q4_K's.
K256 void matvec_q4_k_x8(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  const std::size_t nb = w.cols / kQK_K;
  XScales8 scales[kMaxSuperBlocks];
  const XScales8* pre = x_scales_all(xq, nb, scales);
  const std::size_t group_bytes = 8 * w.row_bytes;
  std::size_t r = x86::tile_group_runs<8, x86::kKx8Streams>(
      out, w, r0, r1, [&](std::size_t g, float* o) K256 { k_x8_groups<1>(o, w.row(g), group_bytes, xq, pre, nb); },
      [&](std::size_t g, float* o) K256 { k_x8_groups<x86::kKx8Streams>(o, w.row(g), group_bytes, xq, pre, nb); });
  for (; r < r1; r++) k4_rows<BlockQ4_K, 1>(out + r, file_rows<BlockQ4_K, 1>(w, r), xq, pre, nb);
}

// Three rows at a time: with four, the scales and accumulators of four rows
// do not fit AVX2's 16 registers and spill to the stack (bench/kernel_speed
// on AMD Zen 5, ns per 32 weights: four rows 1.72, two 1.21, three 1.155).
K256 void matvec_q4_k(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  k4_matvec<BlockQ4_K, 3>(out, w, xq, r0, r1);
}

// Two rows at a time: the 4-row form runs out of the 16 ymm registers (7B
// Q5_K_M generation: 2 rows 3.98 tok/s, 4 rows 3.26; 3 rows within 3% of 2).
K256 void matvec_q5_k(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  k4_matvec<BlockQ5_K, 2>(out, w, xq, r0, r1);
}

namespace {

// Two rows at a time, in the file layout or in row pairs (kPaired): two and
// four measured the same in kernel_speed, and the figures above were taken
// with two.
template <bool kPaired>
K256_INLINE void q6_k_matvec(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  const std::size_t nb = w.cols / kQK_K;
  XHalfSums8 xs[kMaxSuperBlocks];
  const XHalfSums8* pre = nullptr;
  if (nb <= kMaxSuperBlocks) {
    for (std::size_t b = 0; b < nb; b++) xs[b] = x_half_sums8(xq + 8 * b);
    pre = xs;
  }
  std::size_t r = r0;
  if constexpr (kPaired) {
    const auto one = [&](std::size_t g, const PairStep& s) K256 {
      if (s.n == 2) q6_k_rows<2>(out + g, s.rows, xq, pre, nb);
      else q6_k_rows<1>(out + g, s.rows, xq, pre, nb);
      return std::size_t(s.n);
    };
    const auto many = [&](std::size_t g, RowSteps rows) K256 {
      q6_k_rows<2 * x86::kPairStreams>(out + g, rows, xq, pre, nb);
    };
    r = x86::pair_runs<BlockQ6_K, x86::kPairStreams>(w, r, r1, one, many);
  }
  for (; r + 2 <= r1; r += 2) q6_k_rows<2>(out + r, file_rows<BlockQ6_K, 2>(w, r), xq, pre, nb);
  for (; r < r1; r++) q6_k_rows<1>(out + r, file_rows<BlockQ6_K, 1>(w, r), xq, pre, nb);
}

}  // namespace

K256 void matvec_q6_k(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  q6_k_matvec<false>(out, w, xq, r0, r1);
}

// Row pairs (row_pairs.hpp): x86::kPairStreams pairs at a time, through the
// file layout's kernels, so the same bits.
K256 void matvec_q5_k_x2(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  k4_matvec<BlockQ5_K, 2, true>(out, w, xq, r0, r1);
}
K256 void matvec_q6_k_x2(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  q6_k_matvec<true>(out, w, xq, r0, r1);
}

// --- GGUF blocks with fp32 activations ----------------------------------------------------
// As in kernels_avx512_matvec.cpp: each weight is rebuilt in registers exactly as
// dequantize_blocks computes it, then FMA'd with x; two accumulators per row.

namespace {

// 8 bytes -> 8 int32 lanes, zero-extended.
K256_INLINE __m256i load_u8x8(const std::uint8_t* p) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
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

}  // namespace

K256 void matvec_q8_0_f32(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  for (std::size_t r = r0; r < r1; r++) {
    const auto* blocks = reinterpret_cast<const BlockQ8_0*>(w.row(r));
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (std::size_t b = 0; b < w.cols / kQK; b++) {
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

K256 void matvec_q4_0_f32(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  const __m256i nibble = _mm256_set1_epi32(0xF);
  for (std::size_t r = r0; r < r1; r++) {
    const auto* blocks = reinterpret_cast<const BlockQ4_0*>(w.row(r));
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (std::size_t b = 0; b < w.cols / kQK; b++) {
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

K256 void matvec_q4_k_f32(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  const __m256i nibble = _mm256_set1_epi32(0xF);
  for (std::size_t r = r0; r < r1; r++) {
    const auto* blocks = reinterpret_cast<const BlockQ4_K*>(w.row(r));
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (std::size_t b = 0; b < w.cols / kQK_K; b++) {
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
K256 void matvec_q6_k_f32(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  const __m256i nibble = _mm256_set1_epi32(0xF), top = _mm256_set1_epi32(0x30), bias = _mm256_set1_epi32(32);
  for (std::size_t r = r0; r < r1; r++) {
    const auto* blocks = reinterpret_cast<const BlockQ6_K*>(w.row(r));
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    for (std::size_t b = 0; b < w.cols / kQK_K; b++) {
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

}  // namespace llama2::avx2

#endif

// 256-bit helpers of the int8 kernels shared by AVX2 (kernels_avx2*.cpp)
// and AVX-512 VNNI (kernels_avx512*.cpp): loading and unpacking GGUF
// blocks and activation blocks (kernels.hpp: BlockQ8x32). AVX2 + FMA + F16C
// only, so that functions with either file's target attributes can inline
// them. What differs between the two, the integer dot product (vpmaddubsw
// + vpmaddwd, or VNNI's vpdpbusd), stays in each file.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/int8_units.hpp"
#include "kernels/kernels.hpp"
#include "kernels/q4_k_x8.hpp"
#include "kernels/row_pairs.hpp"

#if defined(__x86_64__)
#include <immintrin.h>

#define INT8_X86_INLINE __attribute__((target("avx2,fma,f16c"), always_inline)) inline

namespace llama2::x86 {

// The sum of 4 lanes: (0 + 2) + (1 + 3).
INT8_X86_INLINE float hsum4(__m128 v) {
  v = _mm_add_ps(v, _mm_movehl_ps(v, v));
  return _mm_cvtss_f32(_mm_add_ss(v, _mm_movehdup_ps(v)));
}

// The sum of 8 lanes: the two halves added, then hsum4.
INT8_X86_INLINE float hsum(__m256 v) { return hsum4(_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1))); }

INT8_X86_INLINE __m256i load_q8(const std::int8_t* qs) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs));
}

// Q4_0 byte j holds value j (low nibble) and value j + 16 (high nibble).
INT8_X86_INLINE __m256i unpack_q4(const std::uint8_t* qs) {
  // Both halves from one broadcast load; the upper one shifted by 4.
  const __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
  return _mm256_and_si256(_mm256_srlv_epi32(both, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)), _mm256_set1_epi8(0x0f));
}

template <bool kQ4>
struct Q0Block {
  using type = BlockQ8_0;
};
template <>
struct Q0Block<true> {
  using type = BlockQ4_0;
};

template <typename Block>
INT8_X86_INLINE const Block* row_blocks(const void* w, std::size_t row_bytes, std::size_t r) {
  return reinterpret_cast<const Block*>(static_cast<const std::uint8_t*>(w) + r * row_bytes);
}

// R rows of super-blocks as a K-type kernel reads them, two by two: row i's
// block b at first + (i % 2) * row_step + (i / 2) * two_rows_step + b *
// block_step, and the line to prefetch for it `ahead` bytes after it (the
// same block of the rows the next call reads). In the file layout rows are
// row_bytes apart (two_rows_step = 2 * row_bytes); in row pairs
// (row_pairs.hpp) a pair's two rows are a block apart and pairs 2 *
// row_bytes apart.
struct RowSteps {
  const std::uint8_t* first;
  std::size_t row_step, two_rows_step, block_step, ahead;
  template <typename Block>
  INT8_X86_INLINE const Block* block(int i, std::size_t b) const {
    return reinterpret_cast<const Block*>(first + std::size_t(i % 2) * row_step + std::size_t(i / 2) * two_rows_step +
                                          b * block_step);
  }
};
// Rows r .. r + R - 1 in the file layout.
template <typename Block, int R>
INT8_X86_INLINE RowSteps file_rows(const WeightRows& w, std::size_t r) {
  return {w.row(r), w.row_bytes, 2 * w.row_bytes, sizeof(Block), R * w.row_bytes};
}
// The rows from r of [r, r1) that a kernel call takes in row pairs
// (row_pairs.hpp): a whole pair (n = 2) where the range holds it, else row
// r alone (n = 1: a range cut mid-pair, or the odd last row).
struct PairStep {
  RowSteps rows;
  int n;
};
template <typename Block>
INT8_X86_INLINE PairStep pair_step(const WeightRows& w, std::size_t r, std::size_t r1) {
  const RowBlocks rb = paired_row(w.data, w.row_bytes, sizeof(Block), w.tiled_rows, r);
  const int n = r % 2 == 0 && r + 2 <= r1 && r + 2 <= w.tiled_rows ? 2 : 1;
  return {{rb.first, sizeof(Block), 2 * w.row_bytes, rb.step, 2 * w.row_bytes}, n};
}

// How many row pairs the Q5_K and Q6_K matvecs read at once (pair_runs): a
// pair is one stream, and four streams are what the 2-vCPU Sapphire Rapids
// VM's memory serves fastest. 7B generation there, tok/s (bench/RESULTS.md,
// seventeenth run): AVX-512 Q5_K_M 4.91-5.16 with four pairs, 4.59-4.86
// with two, 4.08-4.40 with one, 4.78-4.86 with three, 4.46-4.55 with eight;
// AVX2 Q5_K_M 3.50-3.93 with four against 3.14-3.31 with one, Q6_K
// 3.80-3.97 against 2.80-2.94 (its 16 registers spill, and it still gains).
inline constexpr std::size_t kPairStreams = 4;

// The rows of [r, r1) in row pairs, kPairs pairs at a time where the range
// holds them whole: many(g, rows) computes the 2 * kPairs rows from row g
// (rows: pair by pair, each prefetching the same block of the next call's
// pairs), so kPairs streams at once; one(g, step) the rest (a pair, or a row
// alone: pair_step). Returns r1.
template <typename Block, std::size_t kPairs, class One, class Many>
INT8_X86_INLINE std::size_t pair_runs(const WeightRows& w, std::size_t r, std::size_t r1, const One& one,
                                      const Many& many) {
  if (r < r1 && r % 2 != 0) r += one(r, pair_step<Block>(w, r, r1));
  for (; r + 2 * kPairs <= std::min(r1, w.tiled_rows); r += 2 * kPairs) {
    const RowBlocks rb = paired_row(w.data, w.row_bytes, sizeof(Block), w.tiled_rows, r);
    many(r, RowSteps{rb.first, sizeof(Block), 2 * w.row_bytes, rb.step, 2 * kPairs * w.row_bytes});
  }
  while (r < r1) r += one(r, pair_step<Block>(w, r, r1));
  return r;
}

// How far ahead of its reads a tile matvec prefetches (Q4_0_X8 and
// Q4_K_X8: 8-row tiles of 1152 bytes; Q4_0_X16, Q8_0_X16: 288- and
// 544-byte tiles). A thread reads its groups' tiles as streams (one
// group's, or a few groups' at once: tile_group_runs), so the prefetch
// runs a fixed distance ahead in each: 2304 bytes, two 8-row tiles.
// Measured, with one stream, on the 2-vCPU Sapphire Rapids VM (stream_bw
// 25-26 GB/s, bench/RESULTS.md, sixteenth run), 7B generation in turns,
// tok/s:
// AVX-512 Q4_K_M 5.55 at two tiles against 5.15 at four (the distance
// before), 5.35 at one and 5.00 at eight; AVX2 Q4_K_M 5.13 against 4.81;
// AVX2 Q4_0 (which prefetched the next group's tile, a whole pass of 8
// rows ahead) 5.67-5.74 against 5.36. On the 2-core EPYC VM four tiles and
// twelve had measured alike for Q4_K (bench/RESULTS.md, thirteenth run).
inline constexpr std::size_t kTilePrefetchBytes = 2 * kKx8TileBytes;
static_assert(kTilePrefetchBytes == 2304);

// The rows of [r, r1) that lie in tiles of kRows rows (Q4_0_X8, Q4_K_X8:
// 8, Q4_0_X16 and Q8_0_X16: 16; rows below w.tiled_rows), a group at a
// time: group(g, out) computes the kRows outputs of the group from row g.
// A group the range cuts is computed whole into a buffer and only its rows
// in the range are stored (the same bits). Returns the first row after
// them. (group: a lambda with its kernel's target attribute, K256 or KVNNI,
// so that it inlines the kernel.)
template <std::size_t kRows, class Group>
INT8_X86_INLINE std::size_t tile_groups(float* out, const WeightRows& w, std::size_t r, std::size_t r1,
                                        const Group& group) {
  static_assert((kRows & (kRows - 1)) == 0, "a power of two");
  while (r < r1 && r < w.tiled_rows) {
    const std::size_t g = r & ~(kRows - 1), end = g + kRows < r1 ? g + kRows : r1;
    if (r == g && end == g + kRows) {
      group(g, out + g);
    } else {
      float group_out[kRows];
      group(g, group_out);
      for (std::size_t i = r; i < end; i++) out[i] = group_out[i - g];
    }
    r = end;
  }
  return r;
}

// How many groups of 8-row Q4_K tiles the Q4_K_X8 matvecs read at once
// (tile_group_runs). On the 2-vCPU Sapphire Rapids VM, 7B Q4_K_M
// generation in turns (bench/RESULTS.md): AVX-512 5.07-5.20 tok/s against
// 4.53-4.65 a group at a time (4.28-4.53 with two, 4.54-4.67 with four and no
// prefetch; sixteenth run); AVX2 4.69-4.82 against 4.06-4.41 (two:
// 4.43-4.60; seventeenth run).
inline constexpr std::size_t kKx8Streams = 4;

// tile_groups with the whole groups kStreams at a time: many(g, out)
// computes the kStreams groups from row g, reading them block by block, so
// kStreams streams at once (four served the Sapphire Rapids VM's memory
// fastest: the AVX-512 tile matvecs' kKx8Streams, kX16Streams). The groups
// the range cuts and those left over go through one(g, out), as
// tile_groups. Returns the first row after the tiles.
template <std::size_t kRows, std::size_t kStreams, class One, class Many>
INT8_X86_INLINE std::size_t tile_group_runs(float* out, const WeightRows& w, std::size_t r, std::size_t r1,
                                            const One& one, const Many& many) {
  if (r % kRows != 0) r = tile_groups<kRows>(out, w, r, std::min(r1, (r | (kRows - 1)) + 1), one);
  const std::size_t whole_end = std::min(r1, w.tiled_rows) / kRows * kRows;
  for (; r + kRows * kStreams <= whole_end; r += kRows * kStreams) many(r, out + r);
  return tile_groups<kRows>(out, w, r, r1, one);
}

// The fp16 fields of 8 blocks `stride` bytes apart, starting at p, as floats;
// and the same for fp32 fields. Loads and inserts, not vpgatherdd: a gather
// of 8 lanes took most of the Q4_0 matvec's time on AMD Zen 5 (7B Q4_0
// generation with AVX2 kernels 2.6 tok/s, with these loads 3x that) and is
// slow on Intel CPUs with the GDS microcode fix too.
INT8_X86_INLINE __m256 halves8(const void* p, int stride) {
  const auto at = [&](int j) {
    std::uint16_t h;
    std::memcpy(&h, static_cast<const std::uint8_t*>(p) + j * stride, 2);
    return int(h);
  };
  __m128i v = _mm_cvtsi32_si128(at(0));
  v = _mm_insert_epi16(v, at(1), 1);
  v = _mm_insert_epi16(v, at(2), 2);
  v = _mm_insert_epi16(v, at(3), 3);
  v = _mm_insert_epi16(v, at(4), 4);
  v = _mm_insert_epi16(v, at(5), 5);
  v = _mm_insert_epi16(v, at(6), 6);
  v = _mm_insert_epi16(v, at(7), 7);
  return _mm256_cvtph_ps(v);
}

INT8_X86_INLINE __m256 floats8(const float* p, int stride) {
  const auto at = [&](int j) {
    float f;
    std::memcpy(&f, reinterpret_cast<const std::uint8_t*>(p) + j * stride, 4);
    return f;
  };
  return _mm256_setr_ps(at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7));
}

// Q4_0's weights carry -8: -8 * sum(xq) of activation block x in lane 0
// (nothing for Q8_0), the start of the block's integer sum.
template <bool kQ4>
INT8_X86_INLINE __m256i q_0_offset(const BlockQ8x32& x) {
  return _mm256_setr_epi32(kQ4 ? -8 * (x.sums[0] + x.sums[1]) : 0, 0, 0, 0, 0, 0, 0, 0);
}

// xd and xd * sum(xq) of the 8 activation blocks of one super-block.
INT8_X86_INLINE void x_scales8(const BlockQ8x32* x, __m256* xd, __m256* xs) {
  *xd = _mm256_setr_ps(x[0].d, x[1].d, x[2].d, x[3].d, x[4].d, x[5].d, x[6].d, x[7].d);
  int total[8];
  for (int j = 0; j < 8; j++) total[j] = x[j].sums[0] + x[j].sums[1];
  *xs = _mm256_mul_ps(*xd, _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(total))));
}

// x_scales8 of every super-block of a matvec's activations, computed once
// per call and shared by all its rows: built inside the row loop, once per
// R rows, these scales took 10-14% of the Q4_K / Q5_K matvecs' time
// (kernel_speed on the 2-core EPYC VM, ns per 32 weights: AVX2 Q4_K 1.07 ->
// 0.92, Q5_K 1.39 -> 1.19; AVX-512 Q4_K 0.91 -> 0.82, Q5_K 1.15 -> 1.04).
// Up to kMaxSuperBlocks super-blocks (32768 columns, 8 KiB of stack);
// wider rows compute them in the loop, with the same arithmetic.
struct XScales8 {
  __m256 xd, xs;
};
constexpr std::size_t kMaxSuperBlocks = 128;

// Fills pre[0 .. nb) and returns pre, or returns nullptr when nb > kMaxSuperBlocks.
INT8_X86_INLINE const XScales8* x_scales_all(const BlockQ8x32* xq, std::size_t nb, XScales8* pre) {
  if (nb > kMaxSuperBlocks) return nullptr;
  for (std::size_t b = 0; b < nb; b++) x_scales8(xq + 8 * b, &pre[b].xd, &pre[b].xs);
  return pre;
}

// Super-block b's scales: from pre when x_scales_all filled it, else computed.
INT8_X86_INLINE void x_scales_of(const XScales8* pre, const BlockQ8x32* xq, std::size_t b, __m256* xd, __m256* xs) {
  if (pre) {
    *xd = pre[b].xd, *xs = pre[b].xs;
  } else {
    x_scales8(xq + 8 * b, xd, xs);
  }
}

// The first 16 bytes of a Q4_K / Q5_K block as four 32-bit words: d and
// dmin (two fp16), then u0 u1 u2, the 12 bytes of its 6-bit scales and mins.
template <typename Block>
INT8_X86_INLINE __m128i q4_k_head(const Block& blk) {
  static_assert(offsetof(Block, d) == 0 && offsetof(Block, dmin) == 2 && offsetof(Block, scales) == 4);
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(&blk));
}

// The 8 scales and 8 mins of a block head as bytes 0-7 (scales) and 8-15
// (mins): scale_min_k4 on u0 u1 u2 (u0: scales 0..3, u1: mins 0..3, u2: the
// low nibbles of 4..7, whose top bits are the top bits of u0 and u1), the
// four results in four lanes.
INT8_X86_INLINE __m128i q4_k_scale_bytes(__m128i head) {
  // Lanes [u0, u2, u1, u2 >> 4] and [u0, u0, u1, u1] >> 2, masked and merged:
  // [u0 & 3f, (u2 & 0f) | (u0 >> 2 & 30), u1 & 3f, (u2 >> 4 & 0f) | (u1 >> 2 & 30)].
  const __m128i a = _mm_srlv_epi32(_mm_shuffle_epi32(head, _MM_SHUFFLE(3, 2, 3, 1)), _mm_setr_epi32(0, 0, 0, 4));
  const __m128i b = _mm_srli_epi32(_mm_shuffle_epi32(head, _MM_SHUFFLE(2, 2, 1, 1)), 2);
  return _mm_or_si128(_mm_and_si128(a, _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f)),
                      _mm_and_si128(b, _mm_setr_epi32(0, 0x30303030, 0, 0x30303030)));
}

// The block's scales and mins as 8 floats each, and its d and dmin in all 8
// lanes, all out of one 16-byte load (d and dmin one conversion of the
// head: its other two lanes are scale bytes read as halves, unused). Against
// d and dmin each loaded, converted and broadcast on its own: kernel_speed
// AVX2 Q4_K 0.94 -> 0.88 ns per 32 weights, Q5_K 1.17 -> 1.14; AVX-512 Q4_K
// 0.78 -> 0.73, Q5_K 1.01 -> 0.97 (2-core EPYC VM, four code placements).
template <typename Block>
INT8_X86_INLINE void q4_k_scales8(const Block& blk, __m256* sc, __m256* mn, __m256* d, __m256* dmin) {
  const __m128i head = q4_k_head(blk);
  const __m128i bytes = q4_k_scale_bytes(head);
  *sc = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
  *mn = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_unpackhi_epi64(bytes, bytes)));
  const __m128 halves = _mm_cvtph_ps(head);
  *d = _mm256_broadcastss_ps(halves);
  *dmin = _mm256_broadcastss_ps(_mm_movehdup_ps(halves));
}

// The 32 unsigned 6-bit quants of x block 4h + r of a Q6_K super-block, in q[r]:
// low 4 bits from ql[64h + 32 (r & 1) + l] (high nibble for r >= 2), bits 4
// and 5 from bits 2r, 2r + 1 of qh[32h + l].
INT8_X86_INLINE void q6_k_quants(const BlockQ6_K& blk, int h, __m256i q[4]) {
  const __m256i low = _mm256_set1_epi8(0x0f), top = _mm256_set1_epi8(0x30);
  const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.ql + 64 * h));
  const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.ql + 64 * h + 32));
  const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qh + 32 * h));
  q[0] = _mm256_or_si256(_mm256_and_si256(a, low), _mm256_and_si256(_mm256_slli_epi16(hb, 4), top));
  q[1] = _mm256_or_si256(_mm256_and_si256(c, low), _mm256_and_si256(_mm256_slli_epi16(hb, 2), top));
  q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), low), _mm256_and_si256(hb, top));
  q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(c, 4), low), _mm256_and_si256(_mm256_srli_epi16(hb, 2), top));
}

// --- the pieces of int8_units.hpp's types: 32 unsigned quants each -------------------------

// Bit l of the 32 bits at p as 0x10 in byte l (the fifth bit of a Q5_0 / Q5_1 value).
INT8_X86_INLINE __m256i bits_to_0x10(const std::uint8_t* p) {
  std::uint32_t bits;
  std::memcpy(&bits, p, 4);
  // Byte l gets byte l / 8 of the bits, then keeps bit l % 8.
  const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(int(bits)),
                                             _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
  const __m256i bit = _mm256_set1_epi64x(0x8040201008040201);
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
}

// Bit k of each of the 32 bytes at p, as `value` in that byte.
INT8_X86_INLINE __m256i bit_k(const std::uint8_t* p, int k, char value) {
  const __m256i bit = _mm256_set1_epi8(char(1 << k));
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit), _mm256_set1_epi8(value));
}

// Bits 2s, 2s + 1 of each of the 32 bytes at p.
INT8_X86_INLINE __m256i two_bits(const std::uint8_t* p, int s) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm256_and_si256(_mm256_srl_epi16(v, _mm_cvtsi32_si128(2 * s)), _mm256_set1_epi8(3));
}

// The low (even k) or high (odd k) nibbles of the 32 bytes at p.
INT8_X86_INLINE __m256i nibbles(const std::uint8_t* p, int k) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm256_and_si256(_mm256_srl_epi16(v, _mm_cvtsi32_si128(4 * (k & 1))), _mm256_set1_epi8(0x0f));
}

INT8_X86_INLINE __m256i piece(const BlockQ4_1& b, int) { return unpack_q4(b.qs); }
INT8_X86_INLINE __m256i piece(const BlockQ5_0& b, int) { return _mm256_or_si256(unpack_q4(b.qs), bits_to_0x10(b.qh)); }
INT8_X86_INLINE __m256i piece(const BlockQ5_1& b, int) { return _mm256_or_si256(unpack_q4(b.qs), bits_to_0x10(b.qh)); }
INT8_X86_INLINE __m256i piece(const BlockQ2_K& b, int k) { return two_bits(b.qs + 32 * (k / 4), k % 4); }
INT8_X86_INLINE __m256i piece(const BlockQ3_K& b, int k) {
  return _mm256_or_si256(two_bits(b.qs + 32 * (k / 4), k % 4), bit_k(b.hmask, k, 4));
}
INT8_X86_INLINE __m256i piece(const BlockQ4_K& b, int k) { return nibbles(b.qs + 32 * (k / 2), k); }
INT8_X86_INLINE __m256i piece(const BlockQ5_K& b, int k) {
  return _mm256_or_si256(nibbles(b.qs + 32 * (k / 2), k), bit_k(b.qh, k, 0x10));
}
INT8_X86_INLINE __m256i piece(const BlockQ6_K& b, int k) {
  const int h = k / 4, r = k % 4;
  const __m256i low = nibbles(b.ql + 64 * h + 32 * (r & 1), r / 2);
  return _mm256_or_si256(low, _mm256_slli_epi16(two_bits(b.qh + 32 * h, r), 4));
}

// The integer start of a piece's sum: -offset * sums[h] in lane 4h (lanes
// 0-3 of a 32-byte dot are values 0-15, lanes 4-7 values 16-31).
INT8_X86_INLINE __m256i piece_start(const BlockQ8x32& x, int offset) {
  return _mm256_setr_epi32(-offset * x.sums[0], 0, 0, 0, -offset * x.sums[1], 0, 0, 0);
}

// xd * a_h in the lanes of half h.
INT8_X86_INLINE __m256 piece_scale(const units::PieceScales& s, float xd) {
  return _mm256_set_m128(_mm_set1_ps(s.a[1] * xd), _mm_set1_ps(s.a[0] * xd));
}

// xd * (m_0 sums[0] + m_1 sums[1]): what the piece's mins take off.
INT8_X86_INLINE float piece_mins(const units::PieceScales& s, const BlockQ8x32& x) {
  return x.d * (s.m[0] * float(x.sums[0]) + s.m[1] * float(x.sums[1]));
}

// --- Q4_K in 8-row tiles (q4_k_x8.hpp) ---------------------------------------------------------

// A tile's 6-bit scales and mins as bytes: byte 8 (j % 4) + i of sm[j / 4]
// is sub-block j's scale of row i, of sm[2 + j / 4] its min. (The 16-bit
// shifts bring bits of the neighbouring byte only into bits the masks drop.)
INT8_X86_INLINE void k_x8_scales(const std::uint8_t* tile, std::uint8_t (*sm)[32]) {
  const __m256i low = _mm256_set1_epi8(0x0f), top = _mm256_set1_epi8(0x30);
  const __m256i sl = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + kKx8ScaleLow));
  const __m256i ml = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + kKx8MinLow));
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + kKx8High));
  const __m256i v[4] = {
      _mm256_or_si256(_mm256_and_si256(sl, low), _mm256_and_si256(_mm256_slli_epi16(h, 4), top)),
      _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(sl, 4), low), _mm256_and_si256(_mm256_slli_epi16(h, 2), top)),
      _mm256_or_si256(_mm256_and_si256(ml, low), _mm256_and_si256(h, top)),
      _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ml, 4), low), _mm256_and_si256(_mm256_srli_epi16(h, 2), top))};
  for (int k = 0; k < 4; k++) _mm256_storeu_si256(reinterpret_cast<__m256i*>(sm[k]), v[k]);
}

// The 8 bytes at p (8 rows' scales or mins of one sub-block, from
// k_x8_scales) times the rows' fp16 factor (d or dmin, as floats): the
// GEMM's a or m of each row (int8_units.hpp: d * float(sc)).
INT8_X86_INLINE __m256 k_x8_factor(const std::uint8_t* p, __m256 d) {
  return _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)))));
}

// A tile's scales, decoded once per super-block for every reader of the
// tiles (the matvecs' k_x8_groups, the GEMMs' panel packing): a(j) and m(j)
// are sub-block j's d * sc and dmin * mn of the 8 rows, lane i row i.
struct KX8TileScales {
  alignas(32) std::uint8_t sm[4][32];  // k_x8_scales
  __m256 d, dmin;                      // the 8 rows' fp16 factors, as floats
  INT8_X86_INLINE __m256 a(int j) const { return k_x8_factor(sm[j / 4] + 8 * (j % 4), d); }
  INT8_X86_INLINE __m256 m(int j) const { return k_x8_factor(sm[2 + j / 4] + 8 * (j % 4), dmin); }
};
INT8_X86_INLINE void k_x8_tile_scales(const std::uint8_t* tile, KX8TileScales* s) {
  k_x8_scales(tile, s->sm);
  s->d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tile + kKx8D)));
  s->dmin = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tile + kKx8Dmin)));
}

// Step s of chunk c of a tile: the nibbles of sub-blocks 2c (q[0]) and
// 2c + 1 (q[1]), values 4s .. 4s + 3 of each of the 8 rows, lane i being row i.
INT8_X86_INLINE void k_x8_step(const std::uint8_t* tile, int c, int s, __m256i q[2]) {
  const __m256i low = _mm256_set1_epi8(0x0f);
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + kKx8Qs + 32 * (8 * c + s)));
  q[0] = _mm256_and_si256(v, low);
  q[1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
}

// What the tile matvecs (AVX2's and AVX-512's k_x8_groups) need of
// super-block b besides its nibbles: the tile's scales and the activations'
// xd * sum(xq) of each block (x_scales8: the GEMM's product).
struct KX8Scales {
  KX8TileScales w;
  alignas(32) float xs[8];  // xd * sum(xq) of each activation block
};
// The activations' half of KX8Scales, the same for every group of rows a
// matvec reads at super-block b (the tile's half: k_x8_tile_scales).
INT8_X86_INLINE void k_x8_activation_sums(const XScales8* pre, const BlockQ8x32* xq, std::size_t b, KX8Scales* s) {
  __m256 xd8, xs8;
  x_scales_of(pre, xq, b, &xd8, &xs8);
  _mm256_store_ps(s->xs, xs8);
}

// acc (lane i: row i) plus sub-block j of the 8 rows, whose integer dots
// with activation block x (scale xd) are `dot`: the GEMM's arithmetic, acc =
// fma(dot, a_j * xd, acc), then acc -= m_j * (xd * sum(xq)).
INT8_X86_INLINE __m256 k_x8_sub_block(__m256 acc, const KX8Scales& s, int j, __m256i dot, float xd) {
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(s.w.a(j), _mm256_set1_ps(xd)), acc);
  return _mm256_fnmadd_ps(s.w.m(j), _mm256_set1_ps(s.xs[j]), acc);
}

// N groups of 8-row Q4_K tiles (q4_k_x8.hpp) from `first` (group_bytes
// apart), block by block: N streams, each prefetched ahead (the matvecs
// take kKx8Streams at once). Lanes are rows. chunk_dots(tile, c, x, dots)
// gives the 8 rows' exact int32 dots of sub-blocks 2c and 2c + 1 with
// activation blocks x[2c], x[2c + 1]: AVX2 through vpmaddubsw and VNNI
// through vpdpbusd, the only difference between the tables. The arithmetic
// is the GEMMs' on a one-token tile (kernels_avx2_gemm.cpp: units_tile,
// kernels_avx512_gemm.cpp: int8_tile_k), in the same order, so a prompt
// and the tokens after it see the same bits (tested): per sub-block j, acc
// = fma(dot, a_j * xd, acc), then acc -= m_j * (xd * sum(xq)), with a_j =
// d * sc_j and m_j = dmin * mn_j. (chunk_dots: a lambda with its kernel's
// target attribute, as tile_groups' group.)
template <std::size_t N, class ChunkDots>
INT8_X86_INLINE void k_x8_groups(float* out, const std::uint8_t* first, std::size_t group_bytes, const BlockQ8x32* xq,
                                 const XScales8* pre, std::size_t nb, const ChunkDots& chunk_dots) {
  __m256 accs[N];  // lane i: row i of group j
  for (std::size_t j = 0; j < N; j++) accs[j] = _mm256_setzero_ps();
  for (std::size_t b = 0; b < nb; b++) {
    const BlockQ8x32* x = xq + 8 * b;
    KX8Scales sc;
    k_x8_activation_sums(pre, xq, b, &sc);  // once for the N groups
    for (std::size_t j = 0; j < N; j++) {
      const std::uint8_t* tile = first + j * group_bytes + b * kKx8TileBytes;
      prefetch_lines(tile + kTilePrefetchBytes, kKx8TileBytes);
      k_x8_tile_scales(tile, &sc.w);
      for (int c = 0; c < 4; c++) {
        __m256i dots[2];  // sub-blocks 2c, 2c + 1: the 8 rows' int32 dots
        chunk_dots(tile, c, x, dots);
        for (int h = 0; h < 2; h++) accs[j] = k_x8_sub_block(accs[j], sc, 2 * c + h, dots[h], x[2 * c + h].d);
      }
    }
  }
  for (std::size_t j = 0; j < N; j++) _mm256_storeu_ps(out + 8 * j, accs[j]);
}

}  // namespace llama2::x86

#endif

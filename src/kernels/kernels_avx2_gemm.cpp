// The AVX2 int8 GEMM of a batched prompt (kernels_avx2.hpp): GGUF rows of
// every block type against the prompt's activations rounded to 8 bits, on
// panels of weights transposed so that 8 rows fill the lanes of a register
// (Q8_0 / Q4_0 their own way, the other types in int8_units.hpp's form);
// and the int8 matvecs of Q4_1, Q5_0, Q5_1, Q2_K and Q3_K in that form.
#include "kernels/kernels_avx2.hpp"

#include <cstring>

#include "kernels/fp16.hpp"
#include "kernels/int8_x86.hpp"
#include "kernels/q4_0_x8.hpp"
#include "kernels/q4_k_x8.hpp"
#include "kernels/row_pairs.hpp"

#if defined(__x86_64__)

namespace llama2::avx2 {

namespace {

using x86::hsum, x86::load_q8, x86::unpack_q4;

// --- Q8_0 and Q4_0 ---------------------------------------------------------------------------

// Weights are transposed into panels so that lane i of a register holds 4
// bytes of row i: one vpmaddubsw multiplies 4 bytes of 8 rows by the same 4
// bytes of one token (broadcast), and a tile of 8 rows by T tokens keeps T
// sums in registers, lanes being rows: no horizontal sums, and one
// conversion and one FMA per block for 8 rows (the row-major kernel spent
// four instructions per row and block on them, as many as on the dot).
// Q4_0 keeps its raw nibbles (w + 8) and starts each block's sum at
// -8 * sum(x); its 8 steps add up in 16 bits exactly (|pair| <= 2 * 15 * 128,
// 8 steps <= 30720) before one vpmaddwd. Q8_0 multiplies |w| by x with w's
// sign, as the matvec does. Every block's int32 is the exact integer dot of
// matvec_q8_0 / matvec_q4_0, and a row's blocks are summed in order in its
// own lane, so no split of rows or tokens changes a result.

constexpr std::size_t kPanelGroups = 4;   // 32 rows: 4 groups of 8 lanes
constexpr std::size_t kPanelPieces = 64;  // 2048 cols (8 K blocks): 72 KB (Q8_0 / Q4_0) or 96 KB of panel in L2;
                                          // a token tile's activations stay in L1
constexpr int kTileTokens = 4;

struct alignas(32) PanelBlock {  // one 32-value block of 8 rows
  std::uint8_t q[8][32];         // [4-byte step][lane * 4 + byte]: Q4_0 nibbles, Q8_0 signed quants
  float d[8];                    // [lane] weight scales
};

// v[s] = dword s of z[0..7] (each 8 dwords): an 8 x 8 transpose of 32-bit elements.
K256_INLINE void transpose8x8_epi32(const __m256i z[8], __m256i v[8]) {
  __m256i t[8], u[8];
  for (int i = 0; i < 4; i++) {
    t[2 * i] = _mm256_unpacklo_epi32(z[2 * i], z[2 * i + 1]);      // dwords 0, 1 | 4, 5 of rows 2i, 2i + 1
    t[2 * i + 1] = _mm256_unpackhi_epi32(z[2 * i], z[2 * i + 1]);  // dwords 2, 3 | 6, 7
  }
  for (int h = 0; h < 2; h++) {  // rows 4h .. 4h + 3
    u[4 * h + 0] = _mm256_unpacklo_epi64(t[4 * h], t[4 * h + 2]);      // dword 0 | 4
    u[4 * h + 1] = _mm256_unpackhi_epi64(t[4 * h], t[4 * h + 2]);      // dword 1 | 5
    u[4 * h + 2] = _mm256_unpacklo_epi64(t[4 * h + 1], t[4 * h + 3]);  // dword 2 | 6
    u[4 * h + 3] = _mm256_unpackhi_epi64(t[4 * h + 1], t[4 * h + 3]);  // dword 3 | 7
  }
  for (int s = 0; s < 4; s++) {
    v[s] = _mm256_permute2x128_si256(u[s], u[4 + s], 0x20);
    v[s + 4] = _mm256_permute2x128_si256(u[s], u[4 + s], 0x31);
  }
}

// Transposes blocks [b0, b0 + nb) of n_rows <= 8 rows into panel (rows past
// n_rows are zero, so their lanes sum to 0 and are never stored).
template <bool kQ4>
K256_INLINE void pack_panel(PanelBlock* panel, const std::uint8_t* w, std::size_t row_bytes, std::size_t n_rows,
                            std::size_t b0, std::size_t nb) {
  static const std::uint8_t kZeroBlock[sizeof(BlockQ8_0)] = {};  // stands in for the rows past n_rows
  const std::size_t block_bytes = kQ4 ? sizeof(BlockQ4_0) : sizeof(BlockQ8_0);
  for (std::size_t bb = 0; bb < nb; bb++) {
    __m256i z[8];  // (8 rows) the block's 32 values
    for (std::size_t l = 0; l < 8; l++) {
      const std::uint8_t* blk = l < n_rows ? w + l * row_bytes + (b0 + bb) * block_bytes : kZeroBlock;
      std::uint16_t d16;
      std::memcpy(&d16, blk, 2);
      panel[bb].d[l] = fp16_to_fp32(d16);
      z[l] = kQ4 ? unpack_q4(blk + 2) : load_q8(reinterpret_cast<const std::int8_t*>(blk + 2));
    }
    __m256i v[8];
    transpose8x8_epi32(z, v);
    for (int s = 0; s < 8; s++) _mm256_store_si256(reinterpret_cast<__m256i*>(panel[bb].q[s]), v[s]);
  }
}

// out (T tokens at ldo, the 8 rows of `lanes`) += panel (nb blocks) . xq (T tokens, x_stride blocks apart);
// = when first.
template <bool kQ4, int T>
K256_INLINE void q_0_tile(float* out, std::size_t ldo, const PanelBlock* panel, std::size_t nb, const BlockQ8x32* xq,
                          std::size_t x_stride, __m256i lanes, bool first) {
  __m256 acc[T];  // lane i: row i of token t
  for (int t = 0; t < T; t++) acc[t] = first ? _mm256_setzero_ps() : _mm256_maskload_ps(out + t * ldo, lanes);
  const __m256i ones = _mm256_set1_epi16(1);
  for (std::size_t bb = 0; bb < nb; bb++) {
    const PanelBlock& p = panel[bb];
    __m256i isum[T];  // Q4_0: 16-bit pair sums until the last step
    for (int t = 0; t < T; t++) isum[t] = _mm256_setzero_si256();
    for (int s = 0; s < 8; s++) {
      const __m256i wv = _mm256_load_si256(reinterpret_cast<const __m256i*>(p.q[s]));
      const __m256i wa = kQ4 ? wv : _mm256_sign_epi8(wv, wv);
      for (int t = 0; t < T; t++) {
        std::int32_t x4;  // 4 quants of token t
        std::memcpy(&x4, xq[t * x_stride + bb].qs + 4 * s, 4);
        const __m256i xv = _mm256_set1_epi32(x4);
        if constexpr (kQ4) {
          isum[t] = _mm256_add_epi16(isum[t], _mm256_maddubs_epi16(wa, xv));
        } else {
          isum[t] = _mm256_add_epi32(isum[t], dot_u8_s8(wa, _mm256_sign_epi8(xv, wv)));
        }
      }
    }
    const __m256 d = _mm256_load_ps(p.d);
    for (int t = 0; t < T; t++) {
      const BlockQ8x32& x = xq[t * x_stride + bb];
      __m256i dot = isum[t];
      if constexpr (kQ4) dot = _mm256_add_epi32(_mm256_madd_epi16(dot, ones), _mm256_set1_epi32(-8 * (x.sums[0] + x.sums[1])));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(d, _mm256_set1_ps(x.d)), acc[t]);
    }
  }
  for (int t = 0; t < T; t++) _mm256_maskstore_ps(out + t * ldo, lanes, acc[t]);
}

// The panel loop both GEMMs share. Kind gives Piece (one 32-value piece of 8
// rows), pack(panel, w, row, n_rows <= 8, first piece, pieces) and
// tile<T>(out, ldo, panel, pieces, xq, x_stride, lanes, first); pack reads
// rows row .. row + n_rows - 1 of w. Per panel
// of 32 rows and kPanelPieces pieces: pack its groups of 8 rows, then run
// tiles of kTileTokens tokens (then the rest) over every group, so a tile's
// activations stay in L1 across the groups.
template <typename Kind, int T>
K256_INLINE void panel_tile(float* out, std::size_t ldo, const typename Kind::Piece (*panel)[kPanelPieces],
                            std::size_t n_rows, std::size_t np, const BlockQ8x32* xq, std::size_t x_stride, bool first) {
  for (std::size_t g = 0; 8 * g < n_rows; g++) {
    const std::size_t nr = n_rows - 8 * g < 8 ? n_rows - 8 * g : 8;
    Kind::template tile<T>(out + 8 * g, ldo, panel[g], np, xq, x_stride, tail_mask(nr), first);
  }
}

template <typename Kind>
K256_INLINE void matmat_panels(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                               std::size_t n_tokens) {
  const std::size_t n_pieces = w.cols / 32;
  typename Kind::Piece panel[kPanelGroups][kPanelPieces];  // (groups, pieces) transposed pieces of 8 rows
  for (std::size_t i0 = 0; i0 < n_rows; i0 += 8 * kPanelGroups) {
    const std::size_t nr = n_rows - i0 < 8 * kPanelGroups ? n_rows - i0 : 8 * kPanelGroups;
    for (std::size_t j0 = 0; j0 < n_pieces; j0 += kPanelPieces) {
      const std::size_t np = n_pieces - j0 < kPanelPieces ? n_pieces - j0 : kPanelPieces;
      for (std::size_t g = 0; 8 * g < nr; g++) {
        Kind::pack(panel[g], w, i0 + 8 * g, nr - 8 * g < 8 ? nr - 8 * g : 8, j0, np);
      }
      float* o = out + i0;
      const BlockQ8x32* x = xq + j0;
      std::size_t t = 0;
      for (; t + kTileTokens <= n_tokens; t += kTileTokens) {
        panel_tile<Kind, kTileTokens>(o + t * ldo, ldo, panel, nr, np, x + t * n_pieces, n_pieces, j0 == 0);
      }
      switch (n_tokens - t) {
        case 3: panel_tile<Kind, 3>(o + t * ldo, ldo, panel, nr, np, x + t * n_pieces, n_pieces, j0 == 0); break;
        case 2: panel_tile<Kind, 2>(o + t * ldo, ldo, panel, nr, np, x + t * n_pieces, n_pieces, j0 == 0); break;
        case 1: panel_tile<Kind, 1>(o + t * ldo, ldo, panel, nr, np, x + t * n_pieces, n_pieces, j0 == 0); break;
        default: break;
      }
    }
  }
}

// Blocks [b0, b0 + nb) of the 8 rows row .. row + 7 of a Q4_0_X8 matrix,
// all in tiles, into panel: the panel pack_panel<true> makes of the same
// rows in the file layout. In a tile, block j of rows 2p and 2p + 1 is one
// 32-byte run of nibbles (q4_0_x8.hpp).
K256_INLINE void pack_panel_x8(PanelBlock* panel, const WeightRows& w, std::size_t row, std::size_t b0, std::size_t nb) {
  const std::uint8_t* group = w.row(row);
  const std::size_t n_tiled = w.row_bytes / sizeof(BlockQ4_0) / 8 * 8;  // blocks in tiles
  for (std::size_t bb = 0; bb < nb; bb++) {
    const std::size_t b = b0 + bb;
    __m256i z[8];  // (8 rows) the block's 32 values
    if (b < n_tiled) {
      const std::size_t j = b % 8;
      for (std::size_t p = 0; p < 4; p++) {
        const std::uint8_t* pair = group + x8_pair_offset(b / 8, p);
        for (std::size_t half = 0; half < 2; half++) {
          std::uint16_t d;
          std::memcpy(&d, pair + x8_scale_offset(j, half), 2);
          panel[bb].d[2 * p + half] = fp16_to_fp32(d);
          z[2 * p + half] = unpack_q4(pair + x8_nibbles_offset(j, half));
        }
      }
    } else {
      for (std::size_t l = 0; l < 8; l++) {
        const Q4_0BlockRef blk = q4_0_x8_block(w.data, w.row_bytes, w.tiled_rows, row + l, b);
        panel[bb].d[l] = fp16_to_fp32(blk.d);
        z[l] = unpack_q4(blk.qs);
      }
    }
    __m256i v[8];
    transpose8x8_epi32(z, v);
    for (int s = 0; s < 8; s++) _mm256_store_si256(reinterpret_cast<__m256i*>(panel[bb].q[s]), v[s]);
  }
}

// kQ4 && kX8: Q4_0_X8, its tiled rows through pack_panel_x8, the rest as Q4_0.
template <bool kQ4, bool kX8 = false>
struct Q0Panels {
  using Piece = PanelBlock;
  static K256_INLINE void pack(PanelBlock* panel, const WeightRows& w, std::size_t row, std::size_t n_rows,
                               std::size_t b0, std::size_t nb) {
    if (kX8 && row < w.tiled_rows) {
      pack_panel_x8(panel, w, row, b0, nb);  // a tiled group is 8 rows, all in the matrix
    } else {
      pack_panel<kQ4>(panel, w.row(row), w.row_bytes, n_rows, b0, nb);
    }
  }
  template <int T>
  static K256_INLINE void tile(float* out, std::size_t ldo, const PanelBlock* panel, std::size_t nb,
                               const BlockQ8x32* xq, std::size_t x_stride, __m256i lanes, bool first) {
    q_0_tile<kQ4, T>(out, ldo, panel, nb, xq, x_stride, lanes, first);
  }
};

// --- the K types and Q4_1 / Q5_0 / Q5_1 (int8_units.hpp) ------------------------------------

// The matvec of R rows (one token). Pieces go in groups of 8 (one K block,
// or 8 blocks of 32). Per row and group, the 8 pieces' integer dots (8
// lanes each) are folded by hadd into two registers of half sums, lanes
// [piece 0-3 half 0 | piece 0-3 half 1] and the same for pieces 4-7, which
// meet the row's scales a_h and mins m_h and the token's xd in that layout:
// one conversion and one FMA per four pieces. Pieces past the last whole
// group (the 32-value types only) go one at a time. A row's arithmetic is
// the same for any R.

struct alignas(32) RowGroup {  // one row's group of 8 pieces, unpacked
  __m256i q[8];                // unsigned quants of each piece
  float a[16];                 // a_h of piece k at 8 * (k / 4) + 4 * h + k % 4
  float m[16];                 // m_h, likewise
};

template <typename U>
K256_INLINE void unpack_group(const typename U::Block* blocks, RowGroup* g) {
  for (int j = 0; j < 8 / U::kPieces; j++) {
    const typename U::Block& b = blocks[j];
    units::PieceScales s[U::kPieces];
    U::scales(b, _cvtsh_ss(U::d(b)), _cvtsh_ss(U::dmin(b)), s);
    for (int kk = 0; kk < U::kPieces; kk++) {
      const int k = j * U::kPieces + kk;
      g->q[k] = x86::piece(b, kk);
      for (int h = 0; h < 2; h++) g->a[8 * (k / 4) + 4 * h + k % 4] = s[kk].a[h], g->m[8 * (k / 4) + 4 * h + k % 4] = s[kk].m[h];
    }
  }
}

// The half sums of 8 dots in two registers (see above).
K256_INLINE void fold8(const __m256i* d, __m256i* lo, __m256i* hi) {
  // hadd sums neighbouring lanes within each 128-bit half: hadd(d0, d1) is
  // [d0(0+1) d0(2+3) d1(0+1) d1(2+3) | d0(4+5) d0(6+7) d1(4+5) d1(6+7)], and
  // one more round gives [d0(0-3) d1(0-3) d2(0-3) d3(0-3) | d0(4-7) ... d3(4-7)].
  *lo = _mm256_hadd_epi32(_mm256_hadd_epi32(d[0], d[1]), _mm256_hadd_epi32(d[2], d[3]));
  *hi = _mm256_hadd_epi32(_mm256_hadd_epi32(d[4], d[5]), _mm256_hadd_epi32(d[6], d[7]));
}

// out (R rows) = R rows at w (row_bytes apart) . the token's n_blocks blocks.
template <typename U, int R>
K256_INLINE void unit_rows(float* out, const std::uint8_t* w, std::size_t row_bytes, const BlockQ8x32* xq,
                           std::size_t n_blocks) {
  using Block = typename U::Block;
  __m256 acc[R];     // (R) fp32 sums
  float tail[R];     // (R) mins of the pieces past the groups
  for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps(), tail[r] = 0.0f;
  const std::size_t n_groups = n_blocks / 8;
  for (std::size_t g = 0; g < n_groups; g++) {
    const BlockQ8x32* x = xq + 8 * g;
    const __m256 xd_lo = _mm256_setr_ps(x[0].d, x[1].d, x[2].d, x[3].d, x[0].d, x[1].d, x[2].d, x[3].d);
    const __m256 xd_hi = _mm256_setr_ps(x[4].d, x[5].d, x[6].d, x[7].d, x[4].d, x[5].d, x[6].d, x[7].d);
    const __m256i sums_lo = _mm256_setr_epi32(x[0].sums[0], x[1].sums[0], x[2].sums[0], x[3].sums[0], x[0].sums[1],
                                              x[1].sums[1], x[2].sums[1], x[3].sums[1]);
    const __m256i sums_hi = _mm256_setr_epi32(x[4].sums[0], x[5].sums[0], x[6].sums[0], x[7].sums[0], x[4].sums[1],
                                              x[5].sums[1], x[6].sums[1], x[7].sums[1]);
    for (int r = 0; r < R; r++) {
      const Block* group = reinterpret_cast<const Block*>(w + r * row_bytes) + g * (8 / U::kPieces);
      // The same group of the next R rows, a pass ahead (kernels.hpp: prefetch_lines).
      prefetch_lines(reinterpret_cast<const char*>(group) + R * row_bytes, (8 / U::kPieces) * sizeof(Block));
      RowGroup row;
      unpack_group<U>(group, &row);
      __m256i d[8];
      for (int k = 0; k < 8; k++) d[k] = dot_u8_s8(row.q[k], load_q8(x[k].qs));
      __m256i lo, hi;
      fold8(d, &lo, &hi);
      if (U::kOffset) {
        lo = _mm256_sub_epi32(lo, _mm256_mullo_epi32(sums_lo, _mm256_set1_epi32(U::kOffset)));
        hi = _mm256_sub_epi32(hi, _mm256_mullo_epi32(sums_hi, _mm256_set1_epi32(U::kOffset)));
      }
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lo), _mm256_mul_ps(_mm256_load_ps(row.a), xd_lo), acc[r]);
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(hi), _mm256_mul_ps(_mm256_load_ps(row.a + 8), xd_hi), acc[r]);
      if (U::kMin) {
        acc[r] = _mm256_fnmadd_ps(_mm256_load_ps(row.m), _mm256_mul_ps(_mm256_cvtepi32_ps(sums_lo), xd_lo), acc[r]);
        acc[r] = _mm256_fnmadd_ps(_mm256_load_ps(row.m + 8), _mm256_mul_ps(_mm256_cvtepi32_ps(sums_hi), xd_hi), acc[r]);
      }
    }
  }
  for (std::size_t b = 8 * n_groups; b < n_blocks; b++) {  // one 32-value block at a time (kPieces == 1 here)
    const BlockQ8x32& x = xq[b];
    for (int r = 0; r < R; r++) {
      const Block& blk = reinterpret_cast<const Block*>(w + r * row_bytes)[b / U::kPieces];
      const int k = int(b % U::kPieces);
      units::PieceScales s[U::kPieces];
      U::scales(blk, _cvtsh_ss(U::d(blk)), _cvtsh_ss(U::dmin(blk)), s);
      const __m256i start = U::kOffset ? x86::piece_start(x, U::kOffset) : _mm256_setzero_si256();
      const __m256i isum = _mm256_add_epi32(start, dot_u8_s8(x86::piece(blk, k), load_q8(x.qs)));
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), x86::piece_scale(s[k], x.d), acc[r]);
      if (U::kMin) tail[r] += x86::piece_mins(s[k], x);
    }
  }
  for (int r = 0; r < R; r++) out[r] = hsum(acc[r]) - tail[r];
}

// The GEMM of these types on panels as Q8_0 / Q4_0's: piece j (32 values)
// of 8 rows transposed, lanes being rows, with each row's a_h and m_h in
// the lanes too. Per piece and token, each half's 4 steps sum in 16 bits
// (kMaxQ * 2 * 128 * 4 < 32768; Q6_K's 63 only two steps at a time) and
// meet a_h * xd in one FMA; the mins take m_h * xd * sums[h]. Where both
// halves share a_h and m_h (!kHalves) the piece goes whole: Q4_K's 8 steps
// in 16 bits, one FMA for the dot and one for the mins. A row's
// pieces are summed in order in its own lane, so no split of rows or tokens
// changes a result. (The fp32 order differs from the matvec's above, which
// folds 4 pieces into one FMA per row: they agree to fp32 rounding.)

struct alignas(32) PanelPiece {  // one 32-value piece of 8 rows
  std::uint8_t q[8][32];         // [4-byte step][lane * 4 + byte] unsigned quants
  float a[2][8];                 // [half][lane] a_h
  float m[2][8];                 // [half][lane] m_h (0 without kMin)
};

// Transposes pieces [j0, j0 + np) (whole blocks) of the n_rows <= 8 rows
// from `row` into panel; rows past n_rows are zero in quants and scales.
// kPaired: w's rows are in pairs (row_pairs.hpp).
template <typename U, bool kPaired>
K256_INLINE void pack_units(PanelPiece* panel, const WeightRows& w, std::size_t row, std::size_t n_rows,
                            std::size_t j0, std::size_t np) {
  using Block = typename U::Block;
  for (std::size_t bi = 0; bi < np / U::kPieces; bi++) {
    const std::size_t b = j0 / U::kPieces + bi;
    PanelPiece* pp = panel + bi * U::kPieces;
    __m256i z[U::kPieces][8];  // (pieces, rows) the 32 unsigned quants
    for (std::size_t l = 0; l < 8; l++) {
      units::PieceScales s[U::kPieces] = {};
      if (l < n_rows) {
        const RowBlocks rb = kPaired ? paired_row(w.data, w.row_bytes, sizeof(Block), w.tiled_rows, row + l)
                                     : RowBlocks{w.row(row + l), sizeof(Block)};
        const Block& blk = *reinterpret_cast<const Block*>(rb.first + b * rb.step);
        U::scales(blk, _cvtsh_ss(U::d(blk)), _cvtsh_ss(U::dmin(blk)), s);
        for (int k = 0; k < U::kPieces; k++) z[k][l] = x86::piece(blk, k);
      } else {
        for (int k = 0; k < U::kPieces; k++) z[k][l] = _mm256_setzero_si256();
      }
      for (int k = 0; k < U::kPieces; k++) {
        for (int h = 0; h < 2; h++) pp[k].a[h][l] = s[k].a[h], pp[k].m[h][l] = s[k].m[h];
      }
    }
    for (int k = 0; k < U::kPieces; k++) {
      __m256i v[8];
      transpose8x8_epi32(z[k], v);
      for (int st = 0; st < 8; st++) _mm256_store_si256(reinterpret_cast<__m256i*>(pp[k].q[st]), v[st]);
    }
  }
}

// How many of n steps can sum in 16 bits before widening:
// |pair| <= kMaxQ * 2 * 128 per vpmaddubsw.
template <typename U>
constexpr int steps16(int n) {
  while (U::kMaxQ * 2 * 128 * n >= 32768) n /= 2;
  return n;
}

// Steps [s0, s0 + kSteps) of piece p times T tokens' quants: isum[t] (8 rows) = the exact dots.
template <typename U, int T, int kSteps>
K256_INLINE void step_dots(__m256i* isum, const PanelPiece& p, const BlockQ8x32* xq, std::size_t x_stride, int s0) {
  constexpr int kSteps16 = steps16<U>(kSteps);
  static_assert(kSteps16 >= 2 && U::kMaxQ * 2 * 128 * kSteps16 < 32768);
  const __m256i ones = _mm256_set1_epi16(1);
  for (int t = 0; t < T; t++) isum[t] = _mm256_setzero_si256();
  for (int c = s0; c < s0 + kSteps; c += kSteps16) {
    __m256i s16[T];
    for (int t = 0; t < T; t++) s16[t] = _mm256_setzero_si256();
    for (int st = c; st < c + kSteps16; st++) {
      const __m256i wv = _mm256_load_si256(reinterpret_cast<const __m256i*>(p.q[st]));
      for (int t = 0; t < T; t++) {
        std::int32_t x4;  // 4 quants of token t
        std::memcpy(&x4, xq[t * x_stride].qs + 4 * st, 4);
        s16[t] = _mm256_add_epi16(s16[t], _mm256_maddubs_epi16(wv, _mm256_set1_epi32(x4)));
      }
    }
    for (int t = 0; t < T; t++) isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(s16[t], ones));
  }
}

// out (T tokens at ldo, the 8 rows of `lanes`) += panel (np pieces) . xq (T tokens, x_stride blocks apart);
// = when first. Types whose pieces have one scale and one min (!kHalves:
// Q4_K, Q5_K and the 32-value types) take a piece whole: one dot of its 8
// steps (Q4_K's all in 16 bits), one conversion and one FMA per token, where
// the halves take two of each.
template <typename U, int T>
K256_INLINE void units_tile(float* out, std::size_t ldo, const PanelPiece* panel, std::size_t np, const BlockQ8x32* xq,
                            std::size_t x_stride, __m256i lanes, bool first) {
  __m256 acc[T];  // lane i: row i of token t
  for (int t = 0; t < T; t++) acc[t] = first ? _mm256_setzero_ps() : _mm256_maskload_ps(out + t * ldo, lanes);
  constexpr int kParts = U::kHalves ? 2 : 1;  // parts of a piece with their own scale and min
  for (std::size_t j = 0; j < np; j++) {
    const PanelPiece& p = panel[j];
    for (int h = 0; h < kParts; h++) {
      __m256i isum[T];
      step_dots<U, T, 8 / kParts>(isum, p, xq + j, x_stride, (8 / kParts) * h);
      const __m256 a = _mm256_load_ps(p.a[h]), m = _mm256_load_ps(p.m[h]);  // (a_0 = a_1, m_0 = m_1 when whole)
      for (int t = 0; t < T; t++) {
        const BlockQ8x32& x = xq[t * x_stride + j];
        const int x_sum = U::kHalves ? x.sums[h] : x.sums[0] + x.sums[1];  // of the part's activations
        __m256i dot = isum[t];
        if (U::kOffset) dot = _mm256_add_epi32(dot, _mm256_set1_epi32(-U::kOffset * x_sum));
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(a, _mm256_set1_ps(x.d)), acc[t]);
        if (U::kMin) acc[t] = _mm256_fnmadd_ps(m, _mm256_set1_ps(x.d * float(x_sum)), acc[t]);
      }
    }
  }
  for (int t = 0; t < T; t++) _mm256_maskstore_ps(out + t * ldo, lanes, acc[t]);
}

template <typename U, bool kPaired = false>
struct UnitPanels {
  static_assert(kPanelPieces % U::kPieces == 0);  // panels hold whole blocks
  using Piece = PanelPiece;
  static K256_INLINE void pack(PanelPiece* panel, const WeightRows& w, std::size_t row, std::size_t n_rows,
                               std::size_t j0, std::size_t np) {
    pack_units<U, kPaired>(panel, w, row, n_rows, j0, np);
  }
  template <int T>
  static K256_INLINE void tile(float* out, std::size_t ldo, const PanelPiece* panel, std::size_t np,
                               const BlockQ8x32* xq, std::size_t x_stride, __m256i lanes, bool first) {
    units_tile<U, T>(out, ldo, panel, np, xq, x_stride, lanes, first);
  }
};

// Pieces [j0, j0 + np) (whole super-blocks) of the 8 rows row .. row + 7
// of a Q4_K_X8 matrix (q4_k_x8.hpp), all in tiles, into panel:
// the panel pack_units makes of the same rows in the file layout. A tile's
// steps already have the rows in their lanes, so nothing is transposed.
K256_INLINE void pack_k_x8(PanelPiece* panel, const WeightRows& w, std::size_t row, std::size_t j0, std::size_t np) {
  for (std::size_t bi = 0; bi < np / 8; bi++) {
    const std::uint8_t* tile = w.row(row) + (j0 / 8 + bi) * kKx8TileBytes;
    PanelPiece* pp = panel + 8 * bi;  // piece j of the super-block: pp[j]
    x86::KX8TileScales sc;
    x86::k_x8_tile_scales(tile, &sc);
    for (int j = 0; j < 8; j++) {
      const __m256 a = sc.a(j), m = sc.m(j);
      for (int h = 0; h < 2; h++) _mm256_store_ps(pp[j].a[h], a), _mm256_store_ps(pp[j].m[h], m);
    }
    for (int c = 0; c < 4; c++) {
      for (int st = 0; st < 8; st++) {
        __m256i q[2];
        x86::k_x8_step(tile, c, st, q);
        _mm256_store_si256(reinterpret_cast<__m256i*>(pp[2 * c].q[st]), q[0]);
        _mm256_store_si256(reinterpret_cast<__m256i*>(pp[2 * c + 1].q[st]), q[1]);
      }
    }
  }
}

// Q4_K_X8: tiled groups through pack_k_x8, the rows after them as in the
// file; the tiles as every unit type's.
struct KTilePanels {
  using Piece = PanelPiece;
  static K256_INLINE void pack(PanelPiece* panel, const WeightRows& w, std::size_t row, std::size_t n_rows,
                               std::size_t j0, std::size_t np) {
    if (row < w.tiled_rows) {
      pack_k_x8(panel, w, row, j0, np);  // a tiled group is 8 rows, all in the matrix
    } else {
      pack_units<units::Q4_K, false>(panel, w, row, n_rows, j0, np);
    }
  }
  template <int T>
  static K256_INLINE void tile(float* out, std::size_t ldo, const PanelPiece* panel, std::size_t np,
                               const BlockQ8x32* xq, std::size_t x_stride, __m256i lanes, bool first) {
    units_tile<units::Q4_K, T>(out, ldo, panel, np, xq, x_stride, lanes, first);
  }
};

template <typename U>
K256_INLINE void matvec_units(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  const std::size_t n_blocks = w.cols / 32;
  std::size_t r = r0;
  for (; r + 2 <= r1; r += 2) unit_rows<U, 2>(out + r, w.row(r), w.row_bytes, xq, n_blocks);
  for (; r < r1; r++) unit_rows<U, 1>(out + r, w.row(r), w.row_bytes, xq, n_blocks);
}

}  // namespace

K256 void matmat_q8_0(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                      std::size_t n_tokens) {
  matmat_panels<Q0Panels<false>>(out, ldo, w, n_rows, xq, n_tokens);
}

K256 void matmat_q4_0(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                      std::size_t n_tokens) {
  matmat_panels<Q0Panels<true>>(out, ldo, w, n_rows, xq, n_tokens);
}

// Tiled rows come in whole groups: w.data starts a group (gemm_int8 splits
// rows at multiples of 32).
K256 void matmat_q4_0_x8(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                         std::size_t n_tokens) {
  matmat_panels<Q0Panels<true, true>>(out, ldo, w, n_rows, xq, n_tokens);
}

K256 void matmat_q4_1(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                      std::size_t n_tokens) {
  matmat_panels<UnitPanels<units::Q4_1>>(out, ldo, w, n_rows, xq, n_tokens);
}
K256 void matmat_q5_0(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                      std::size_t n_tokens) {
  matmat_panels<UnitPanels<units::Q5_0>>(out, ldo, w, n_rows, xq, n_tokens);
}
K256 void matmat_q5_1(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                      std::size_t n_tokens) {
  matmat_panels<UnitPanels<units::Q5_1>>(out, ldo, w, n_rows, xq, n_tokens);
}
K256 void matmat_q2_k(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                      std::size_t n_tokens) {
  matmat_panels<UnitPanels<units::Q2_K>>(out, ldo, w, n_rows, xq, n_tokens);
}
K256 void matmat_q3_k(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                      std::size_t n_tokens) {
  matmat_panels<UnitPanels<units::Q3_K>>(out, ldo, w, n_rows, xq, n_tokens);
}
K256 void matmat_q4_k(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                      std::size_t n_tokens) {
  matmat_panels<UnitPanels<units::Q4_K>>(out, ldo, w, n_rows, xq, n_tokens);
}
K256 void matmat_q5_k(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                      std::size_t n_tokens) {
  matmat_panels<UnitPanels<units::Q5_K>>(out, ldo, w, n_rows, xq, n_tokens);
}
K256 void matmat_q6_k(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                      std::size_t n_tokens) {
  matmat_panels<UnitPanels<units::Q6_K>>(out, ldo, w, n_rows, xq, n_tokens);
}

// Row pairs (row_pairs.hpp): w.data starts a pair (gemm_int8 splits rows
// at multiples of 32).
K256 void matmat_q5_k_x2(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                         std::size_t n_tokens) {
  matmat_panels<UnitPanels<units::Q5_K, true>>(out, ldo, w, n_rows, xq, n_tokens);
}
K256 void matmat_q6_k_x2(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                         std::size_t n_tokens) {
  matmat_panels<UnitPanels<units::Q6_K, true>>(out, ldo, w, n_rows, xq, n_tokens);
}

// Q4_K in 8-row tiles (q4_k_x8.hpp): w.data starts a group (gemm_int8
// splits rows at multiples of 32).
K256 void matmat_q4_k_x8(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                         std::size_t n_tokens) {
  matmat_panels<KTilePanels>(out, ldo, w, n_rows, xq, n_tokens);
}

K256 void matvec_q4_1(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  matvec_units<units::Q4_1>(out, w, xq, r0, r1);
}
K256 void matvec_q5_0(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  matvec_units<units::Q5_0>(out, w, xq, r0, r1);
}
K256 void matvec_q5_1(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  matvec_units<units::Q5_1>(out, w, xq, r0, r1);
}
K256 void matvec_q2_k(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  matvec_units<units::Q2_K>(out, w, xq, r0, r1);
}
K256 void matvec_q3_k(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  matvec_units<units::Q3_K>(out, w, xq, r0, r1);
}

}  // namespace llama2::avx2

#endif

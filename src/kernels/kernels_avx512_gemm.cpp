// The AVX-512 VNNI int8 GEMM of a batched prompt (kernels_avx512.hpp): GGUF
// Q8_0 / Q4_0 / Q4_K / Q6_K rows against the prompt's activations rounded
// to 8 bits, on panels of weights transposed so that 16 rows fill the
// lanes of a register.
#include "kernels/kernels_avx512.hpp"

#include <cstring>
#include <type_traits>

#include "kernels/int8_x86.hpp"
#include "kernels/q_0_x16.hpp"
#include "kernels/q4_k_x8.hpp"
#include "kernels/row_pairs.hpp"
#include "kernels/transpose_x86.hpp"

#if defined(__x86_64__)

namespace llama2::avx512 {

namespace {

using x86::q4_k_scales8, x86::q6_k_quants;

// --- Q8_0 and Q4_0 ---------------------------------------------------------------------------

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

// Where a GEMM finds a row's blocks: as in the file, in row pairs
// (row_pairs.hpp) or in Q4_K's 8-row tiles (q4_k_x8.hpp). w.data starts a
// pair or a tile: gemm_int8 splits rows at multiples of 32.
enum class RowLayout { file, pairs, tiles };

// Block b of row r of w, in the file layout or in row pairs.
template <typename Block, RowLayout kLayout>
KVNNI_INLINE const Block& block_of(const WeightRows& w, std::size_t r, std::size_t b) {
  static_assert(kLayout != RowLayout::tiles, "a tiled row's block is rebuilt (q4_k_x8_block)");
  const RowBlocks rb = kLayout == RowLayout::pairs ? paired_row(w.data, w.row_bytes, sizeof(Block), w.tiled_rows, r)
                                                   : RowBlocks{w.row(r), sizeof(Block)};
  return *reinterpret_cast<const Block*>(rb.first + b * rb.step);
}

// q[s][g] = dword s of 16 rows: row i's 32 bytes in the low half of z[i],
// row i + 8's in the high half (pack_panel, pack_panel_k).
KVNNI_INLINE void store_transposed(std::uint8_t (*q)[2][64], std::size_t g, const __m512i* z) {
  __m512i v[8];
  x86::transpose16x8_epi32(z, v);
  for (int s = 0; s < 8; s++) _mm512_store_si512(q[s][g], v[s]);
}

// Transposes blocks [b0, b0 + nb) of the 16 rows of group g of a panel,
// from w (n_rows <= 16 of them in the matrix; the rest are zero). Per block:
// each row's 32 values as 8 dwords, two rows to a register (row i low, row
// i + 8 high), then an 8 x 8 dword transpose in both halves at once, so that
// step s holds dword s of all 16 rows. (Shuffles: gathers are slow on CPUs
// with the GDS microcode fix.)
template <bool kQ4>
KVNNI_INLINE void pack_group(PanelBlock* panel, std::size_t g, const std::uint8_t* w, std::size_t row_bytes,
                             std::size_t n_rows, std::size_t b0, std::size_t nb) {
  static const std::uint8_t kZeroBlock[sizeof(BlockQ8_0)] = {};  // stands in for the rows past n_rows
  const std::size_t block_bytes = kQ4 ? sizeof(BlockQ4_0) : sizeof(BlockQ8_0);
  const std::uint8_t* rows[16];  // (16) row starts, or the zero block
  for (std::size_t l = 0; l < 16; l++) rows[l] = l < n_rows ? w + l * row_bytes : nullptr;
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

// Of a panel's n_rows <= 32 rows, how many lie in group g (rows 16g ..).
constexpr std::size_t rows_in_group(std::size_t n_rows, std::size_t g) {
  return n_rows > 16 * g ? std::min<std::size_t>(16, n_rows - 16 * g) : 0;
}

// Blocks [b0, b0 + nb) of the n_rows <= 32 rows from w into panel, a group
// of 16 at a time (rows past n_rows are zero).
template <bool kQ4>
KVNNI_INLINE void pack_panel(PanelBlock* panel, const std::uint8_t* w, std::size_t row_bytes, std::size_t n_rows,
                             std::size_t b0, std::size_t nb) {
  for (std::size_t g = 0; g < 2; g++) {
    pack_group<kQ4>(panel, g, w + 16 * g * row_bytes, row_bytes, rows_in_group(n_rows, g), b0, nb);
  }
}

// pack_panel for Q4_0 or Q8_0 in 16-row tiles (q_0_x16.hpp), rows from
// `row` (a multiple of 32): a tile's lines are already steps of 16 row
// lanes (Q4_0: line k's low nibbles step k, its high ones step 4 + k; Q8_0:
// line k step k, stored + 128 as pack_group does) and its d the group's
// scales, so a tiled group is unpacked with no transpose, into the same
// panel; the rows past the tiles are packed from the file layout.
template <bool kQ4>
KVNNI_INLINE void pack_panel_x16(PanelBlock* panel, const WeightRows& w, std::size_t row, std::size_t n_rows,
                                 std::size_t b0, std::size_t nb) {
  using Block = std::conditional_t<kQ4, BlockQ4_0, BlockQ8_0>;
  const __m512i low = _mm512_set1_epi8(0x0f), sign = _mm512_set1_epi8(char(0x80));
  for (std::size_t g = 0; g < 2; g++) {
    const std::size_t first = row + 16 * g;
    if (first + 16 > w.tiled_rows) {
      pack_group<kQ4>(panel, g, w.row(first), w.row_bytes, rows_in_group(n_rows, g), b0, nb);
      continue;
    }
    for (std::size_t bb = 0; bb < nb; bb++) {
      const std::uint8_t* tile = w.row(first) + (b0 + bb) * kX16TileBytes<Block>;
      _mm512_store_ps(panel[bb].d[g], _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + kX16D))));
      for (std::size_t k = 0; k < kX16Lines<Block>; k++) {
        const __m512i v = _mm512_loadu_si512(tile + kX16Qs + 64 * k);
        if constexpr (kQ4) {
          _mm512_store_si512(panel[bb].q[k][g], _mm512_and_si512(v, low));
          _mm512_store_si512(panel[bb].q[4 + k][g], _mm512_and_si512(_mm512_srli_epi16(v, 4), low));
        } else {
          _mm512_store_si512(panel[bb].q[k][g], _mm512_xor_si512(v, sign));
        }
      }
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

// (kX16: in 16-row tiles, pack_panel_x16.)
template <bool kQ4, bool kX16 = false>
KVNNI_INLINE void matmat_q_0(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                             std::size_t n_tokens) {
  const std::size_t n_blocks = w.cols / 32;
  const int offset = kQ4 ? 8 : 128;
  PanelBlock panel[kPanelBlocks];  // (kPanelBlocks) transposed blocks of 32 rows
  for (std::size_t i0 = 0; i0 < n_rows; i0 += kPanelRows) {
    const std::size_t nr = n_rows - i0 < kPanelRows ? n_rows - i0 : kPanelRows;
    const __mmask16 m0 = lane_mask(nr), m1 = lane_mask(nr > 16 ? nr - 16 : 0);
    for (std::size_t b0 = 0; b0 < n_blocks; b0 += kPanelBlocks) {
      const std::size_t nb = n_blocks - b0 < kPanelBlocks ? n_blocks - b0 : kPanelBlocks;
      if constexpr (kX16) {
        pack_panel_x16<kQ4>(panel, w, i0, nr, b0, nb);
      } else {
        pack_panel<kQ4>(panel, w.row(i0), w.row_bytes, nr, b0, nb);
      }
      over_token_tiles<Q0Tile>(out + i0, ldo, xq + b0, n_tokens, n_blocks, static_cast<const PanelBlock*>(panel), nb,
                               offset, m0, m1, b0 == 0);
    }
  }
}

// --- K-quants: Q4_K and Q6_K --------------------------------------------------------------------

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
    __m256 sc, mn, d, dmin;
    q4_k_scales8(b, &sc, &mn, &d, &dmin);
    _mm256_storeu_ps(a[0], _mm256_mul_ps(d, sc));
    _mm256_storeu_ps(a[1], _mm256_mul_ps(dmin, mn));
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

// Super-blocks [s0, s0 + ns) of Q4_K tiles into row group g of panel: the
// 16 rows from r, two whole tiles. A tile's 8 rows are lanes already (step
// s of chunk c holds 4 bytes of each row, whose low nibbles are sub-block
// 2c's values and high nibbles 2c + 1's), so there is nothing to transpose;
// the scales are the products unpack_super_block makes (d * sc, dmin * mn),
// so the panel is the file layout's, bit for bit.
KVNNI_INLINE void pack_tiles_k(PanelSubBlock* panel, const WeightRows& w, std::size_t r, std::size_t g, std::size_t s0,
                               std::size_t ns) {
  const __m512i low = _mm512_set1_epi8(0x0f);
  for (std::size_t sb = 0; sb < ns; sb++) {
    const std::uint8_t* tiles[2] = {w.row(r) + (s0 + sb) * kKx8TileBytes, w.row(r + 8) + (s0 + sb) * kKx8TileBytes};
    for (int h = 0; h < 2; h++) {  // lanes 8h .. 8h + 7: tile h
      x86::KX8TileScales sc;
      x86::k_x8_tile_scales(tiles[h], &sc);
      for (int j = 0; j < 8; j++) {
        PanelSubBlock& p = panel[8 * sb + std::size_t(j)];
        _mm256_storeu_ps(p.a[0][g] + 8 * h, sc.a(j));
        _mm256_storeu_ps(p.a[1][g] + 8 * h, sc.m(j));
      }
    }
    for (int c = 0; c < 4; c++) {
      for (int s = 0; s < 8; s++) {
        const std::size_t at = kKx8Qs + 32 * std::size_t(8 * c + s);
        const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tiles[0] + at));  // lanes 0-7
        const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tiles[1] + at));  // lanes 8-15
        const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
        PanelSubBlock* p = panel + 8 * sb + std::size_t(2 * c);  // sub-blocks 2c, 2c + 1
        _mm512_store_si512(p[0].q[s][g], _mm512_and_si512(v, low));
        _mm512_store_si512(p[1].q[s][g], _mm512_and_si512(_mm512_srli_epi16(v, 4), low));
      }
    }
  }
}

// Super-blocks [s0, s0 + ns) of the n_rows <= 32 rows from `row` of w into
// panel (8 sub-blocks each; rows past n_rows are zero), w's rows laid out
// as kLayout says (tiles: Q4_K only).
template <bool kQ6, RowLayout kLayout>
KVNNI_INLINE void pack_panel_k(PanelSubBlock* panel, const WeightRows& w, std::size_t row, std::size_t n_rows,
                               std::size_t s0, std::size_t ns) {
  using Block = std::conditional_t<kQ6, BlockQ6_K, BlockQ4_K>;
  static_assert(!kQ6 || kLayout != RowLayout::tiles);
  alignas(64) std::uint8_t q[16][8][32];  // [lane][sub-block][value] one group's super-block
  alignas(64) float a[16][2][8];          // [lane][scale][sub-block]
  for (std::size_t g = 0; g < 2; g++) {
    if constexpr (kLayout == RowLayout::tiles) {
      if (row + 16 * g + 16 <= w.tiled_rows) {
        pack_tiles_k(panel, w, row + 16 * g, g, s0, ns);
        continue;
      }
    }
    // Row by row: the file layout, pairs, and the rows of a group that are
    // not two whole tiles (the last rows of a matrix).
    for (std::size_t sb = 0; sb < ns; sb++) {
      for (std::size_t l = 0; l < 16; l++) {
        const std::size_t r = row + 16 * g + l;
        if (16 * g + l < n_rows) {
          if constexpr (kLayout == RowLayout::tiles) {
            const BlockQ4_K blk = q4_k_x8_block(w.data, w.row_bytes, w.tiled_rows, r, s0 + sb);
            unpack_super_block<false>(reinterpret_cast<const std::uint8_t*>(&blk), q[l], a[l]);
          } else {
            const Block& blk = block_of<Block, kLayout>(w, r, s0 + sb);
            unpack_super_block<kQ6>(reinterpret_cast<const std::uint8_t*>(&blk), q[l], a[l]);
          }
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

template <bool kQ6, RowLayout kLayout = RowLayout::file>
KVNNI_INLINE void matmat_k(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                           std::size_t n_tokens) {
  const std::size_t n_blocks = w.cols / 32, n_super = w.cols / kQK_K, super_per_panel = kPanelSubBlocks / 8;
  PanelSubBlock panel[kPanelSubBlocks];  // (kPanelSubBlocks) transposed sub-blocks of 32 rows
  for (std::size_t i0 = 0; i0 < n_rows; i0 += kPanelRows) {
    const std::size_t nr = n_rows - i0 < kPanelRows ? n_rows - i0 : kPanelRows;
    const __mmask16 m0 = lane_mask(nr), m1 = lane_mask(nr > 16 ? nr - 16 : 0);
    for (std::size_t s0 = 0; s0 < n_super; s0 += super_per_panel) {
      const std::size_t ns = n_super - s0 < super_per_panel ? n_super - s0 : super_per_panel, nb = 8 * ns, b0 = 8 * s0;
      pack_panel_k<kQ6, kLayout>(panel, w, i0, nr, s0, ns);
      over_token_tiles<KTile<kQ6>::template Tile>(out + i0, ldo, xq + b0, n_tokens, n_blocks,
                                                  static_cast<const PanelSubBlock*>(panel), nb, m0, m1, s0 == 0);
    }
  }
}

// --- the other GGUF types (int8_units.hpp) -----------------------------------------------------

// The same panels for every type in int8_units.hpp's form: each 32-value
// piece transposed as above, with the a_h and m_h of each row (lane) and
// half. A piece's sums start at -kOffset times the activations' sums, one
// dot per half where the halves have their own scales (kHalves), and the
// mins come off in fp32; each (row, token) the same for every split.

constexpr std::size_t kPanelPieces = 24;  // 36 KB of quants and scales, in L1

struct alignas(64) PanelPiece {  // one 32-value piece of 32 rows
  std::uint8_t q[8][2][64];      // [4-byte step][row group][lane * 4 + byte] unsigned quants
  float a[2][2][16];             // [half][row group][lane] scale a_h
  float m[2][2][16];             // [half][row group][lane] min m_h
};

// Units [u0, u0 + nu) of the n_rows <= 32 rows from `row` of w into panel
// (kPieces pieces each; rows past n_rows are zero), w's rows laid out as
// kLayout says (file or pairs).
template <typename U, RowLayout kLayout>
KVNNI_INLINE void pack_panel_units(PanelPiece* panel, const WeightRows& w, std::size_t row, std::size_t n_rows,
                                   std::size_t u0, std::size_t nu) {
  using Block = typename U::Block;
  alignas(64) std::uint8_t q[16][U::kPieces][32];  // [lane][piece][value] one group's unit
  units::PieceScales s[16][U::kPieces];             // [lane][piece]
  for (std::size_t g = 0; g < 2; g++) {
    for (std::size_t ub = 0; ub < nu; ub++) {
      for (std::size_t l = 0; l < 16; l++) {
        if (16 * g + l < n_rows) {
          const Block& b = block_of<Block, kLayout>(w, row + 16 * g + l, u0 + ub);
          U::scales(b, _cvtsh_ss(U::d(b)), _cvtsh_ss(U::dmin(b)), s[l]);
          for (int k = 0; k < U::kPieces; k++) _mm256_store_si256(reinterpret_cast<__m256i*>(q[l][k]), x86::piece(b, k));
        } else {
          std::memset(q[l], 0, sizeof(q[l]));
          for (int k = 0; k < U::kPieces; k++) s[l][k] = {{0, 0}, {0, 0}};
        }
      }
      for (int k = 0; k < U::kPieces; k++) {
        PanelPiece& p = panel[std::size_t(U::kPieces) * ub + std::size_t(k)];
        __m512i z[8];
        for (int i = 0; i < 8; i++) {
          z[i] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_load_si256(reinterpret_cast<const __m256i*>(q[i][k]))),
                                    _mm256_load_si256(reinterpret_cast<const __m256i*>(q[i + 8][k])), 1);
        }
        store_transposed(p.q, g, z);
        for (int h = 0; h < 2; h++) {
          for (std::size_t l = 0; l < 16; l++) p.a[h][g][l] = s[l][k].a[h], p.m[h][g][l] = s[l][k].m[h];
        }
      }
    }
  }
}

// out (T tokens, 32 rows at ldo) += panel (nb pieces) . xq (T tokens, x_stride blocks apart).
template <typename U, int T>
KVNNI_INLINE void unit_tile(float* out, std::size_t ldo, const PanelPiece* panel, std::size_t nb, const BlockQ8x32* xq,
                            std::size_t x_stride, __mmask16 m0, __mmask16 m1, bool first) {
  __m512 acc[2][T];
  load_tile_sums<T>(acc, out, ldo, m0, m1, first);
  for (std::size_t bb = 0; bb < nb; bb++) {
    const PanelPiece& p = panel[bb];
    for (int half = 0; half < (U::kHalves ? 2 : 1); half++) {
      __m512i isum[2][T];
      for (int t = 0; t < T; t++) {
        const BlockQ8x32& x = xq[t * x_stride + bb];
        const int sums = U::kHalves ? x.sums[half] : x.sums[0] + x.sums[1];
        isum[0][t] = isum[1][t] = _mm512_set1_epi32(-U::kOffset * sums);
      }
      dot_steps<T>(isum, p.q, xq + bb, x_stride, U::kHalves ? 4 * half : 0, U::kHalves ? 4 * half + 4 : 8);
      const __m512 a0 = _mm512_load_ps(p.a[half][0]), a1 = _mm512_load_ps(p.a[half][1]);
      for (int t = 0; t < T; t++) {
        const __m512 dx = _mm512_set1_ps(xq[t * x_stride + bb].d);
        acc[0][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[0][t]), _mm512_mul_ps(a0, dx), acc[0][t]);
        acc[1][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[1][t]), _mm512_mul_ps(a1, dx), acc[1][t]);
      }
    }
    if constexpr (U::kMin) {  // - m_h * (xd * sums[h])
      for (int half = 0; half < (U::kHalves ? 2 : 1); half++) {
        const __m512 mv0 = _mm512_load_ps(p.m[half][0]), mv1 = _mm512_load_ps(p.m[half][1]);
        for (int t = 0; t < T; t++) {
          const BlockQ8x32& x = xq[t * x_stride + bb];
          const __m512 xs = _mm512_set1_ps(x.d * float(U::kHalves ? x.sums[half] : x.sums[0] + x.sums[1]));
          acc[0][t] = _mm512_fnmadd_ps(mv0, xs, acc[0][t]);
          acc[1][t] = _mm512_fnmadd_ps(mv1, xs, acc[1][t]);
        }
      }
    }
  }
  store_tile_sums<T>(out, ldo, m0, m1, acc);
}

template <typename U>
struct UnitTile {
  template <int T>
  struct Tile {
    KVNNI_INLINE static void run(float* out, std::size_t ldo, const BlockQ8x32* xq, std::size_t x_stride,
                                 const PanelPiece* panel, std::size_t nb, __mmask16 m0, __mmask16 m1, bool first) {
      unit_tile<U, T>(out, ldo, panel, nb, xq, x_stride, m0, m1, first);
    }
  };
};

template <typename U, RowLayout kLayout = RowLayout::file>
KVNNI_INLINE void matmat_units(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                               std::size_t n_tokens) {
  constexpr std::size_t kPieces = U::kPieces, units_per_panel = kPanelPieces / kPieces;
  const std::size_t n_blocks = w.cols / 32, n_units = n_blocks / kPieces;
  PanelPiece panel[kPanelPieces];  // (kPanelPieces) transposed pieces of 32 rows
  for (std::size_t i0 = 0; i0 < n_rows; i0 += kPanelRows) {
    const std::size_t nr = n_rows - i0 < kPanelRows ? n_rows - i0 : kPanelRows;
    const __mmask16 m0 = lane_mask(nr), m1 = lane_mask(nr > 16 ? nr - 16 : 0);
    for (std::size_t u0 = 0; u0 < n_units; u0 += units_per_panel) {
      const std::size_t nu = n_units - u0 < units_per_panel ? n_units - u0 : units_per_panel;
      pack_panel_units<U, kLayout>(panel, w, i0, nr, u0, nu);
      over_token_tiles<UnitTile<U>::template Tile>(out + i0, ldo, xq + kPieces * u0, n_tokens, n_blocks,
                                                   static_cast<const PanelPiece*>(panel), kPieces * nu, m0, m1, u0 == 0);
    }
  }
}

}  // namespace

KVNNI void matmat_q8_0(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                       std::size_t n_tokens) {
  matmat_q_0<false>(out, ldo, w, n_rows, xq, n_tokens);
}

KVNNI void matmat_q4_0(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                       std::size_t n_tokens) {
  matmat_q_0<true>(out, ldo, w, n_rows, xq, n_tokens);
}

KVNNI void matmat_q4_k(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                       std::size_t n_tokens) {
  matmat_k<false>(out, ldo, w, n_rows, xq, n_tokens);
}

KVNNI void matmat_q6_k(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                       std::size_t n_tokens) {
  matmat_k<true>(out, ldo, w, n_rows, xq, n_tokens);
}

KVNNI void matmat_q4_1(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                       std::size_t n_tokens) {
  matmat_units<units::Q4_1>(out, ldo, w, n_rows, xq, n_tokens);
}
KVNNI void matmat_q5_0(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                       std::size_t n_tokens) {
  matmat_units<units::Q5_0>(out, ldo, w, n_rows, xq, n_tokens);
}
KVNNI void matmat_q5_1(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                       std::size_t n_tokens) {
  matmat_units<units::Q5_1>(out, ldo, w, n_rows, xq, n_tokens);
}
KVNNI void matmat_q2_k(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                       std::size_t n_tokens) {
  matmat_units<units::Q2_K>(out, ldo, w, n_rows, xq, n_tokens);
}
KVNNI void matmat_q3_k(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                       std::size_t n_tokens) {
  matmat_units<units::Q3_K>(out, ldo, w, n_rows, xq, n_tokens);
}
KVNNI void matmat_q5_k(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                       std::size_t n_tokens) {
  matmat_units<units::Q5_K>(out, ldo, w, n_rows, xq, n_tokens);
}

// Row pairs (row_pairs.hpp): the file layout's GEMMs reading each row's
// blocks where the pairs hold them, so the same bits.
KVNNI void matmat_q5_k_x2(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                          std::size_t n_tokens) {
  matmat_units<units::Q5_K, RowLayout::pairs>(out, ldo, w, n_rows, xq, n_tokens);
}
KVNNI void matmat_q6_k_x2(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                          std::size_t n_tokens) {
  matmat_k<true, RowLayout::pairs>(out, ldo, w, n_rows, xq, n_tokens);
}

// Q4_0 and Q8_0 in 16-row tiles (q_0_x16.hpp): the same panels, so the same bits.
KVNNI void matmat_q4_0_x16(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                           std::size_t n_tokens) {
  matmat_q_0<true, true>(out, ldo, w, n_rows, xq, n_tokens);
}

KVNNI void matmat_q8_0_x16(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                           std::size_t n_tokens) {
  matmat_q_0<false, true>(out, ldo, w, n_rows, xq, n_tokens);
}

// Q4_K in 8-row tiles (q4_k_x8.hpp): the same panels, packed from the tiles.
KVNNI void matmat_q4_k_x8(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                          std::size_t n_tokens) {
  matmat_k<false, RowLayout::tiles>(out, ldo, w, n_rows, xq, n_tokens);
}

}  // namespace llama2::avx512

#endif

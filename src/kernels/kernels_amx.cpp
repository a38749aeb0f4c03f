// AMX kernels (AMX-TILE + AMX-INT8, Sapphire Rapids and later): the GGUF
// Q8_0 / Q4_0 int8 GEMM of a batched prompt on the tile registers. A tile is
// up to 16 rows of 64 bytes; tdpbssd multiplies a 16 x 32 signed int8 tile
// by a 32 x 16 one (stored 8 rows x 64 bytes, 4 bytes of each column to a
// row: the "VNNI layout") into 16 x 16 exact int32 sums, 8192 multiply-adds
// per instruction, against 64 for an AVX-512 vpdpbusd.
//
// Used by matmul_batch_int8 in place of the AVX-512 VNNI kernels, with the
// same results bit for bit: per 32-value block the same exact integer dot,
// then out += float(dot) * (d_w * d_x) in one fused multiply-add, block by
// block in order. Compiled into every x86-64 build through per-function
// target attributes; used only when the CPU has AMX-INT8 and the OS lets this
// process use the tile registers (Linux asks each process to request them).
//
// Shape: a panel of 32 weight rows (two A tiles: rows as stored, Q4_0
// unpacked to signed bytes) times 32 tokens (two B tiles, repacked to the
// VNNI layout once per call) gives four 16 x 16 int32 tiles per block of 32
// values. The scales differ per block, so every block's tiles go to memory
// and AVX-512 turns them into fp32 sums held for the whole row of blocks;
// that fp32 work (convert, scale, add: 3 instructions per 16 sums) and the
// tile stores, not the multiplies, bound the speed.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <vector>

#include "kernels/kernels.hpp"
#include "kernels/q_0_x16.hpp"
#include "kernels/transpose_x86.hpp"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

// See kernels_avx512.hpp: gcc 12's AVX-512 headers trip -Wuninitialized.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#define KAMX __attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))
#define KAMX_INLINE KAMX __attribute__((always_inline)) inline

namespace llama2 {

namespace {

// --- may this process use AMX? ---------------------------------------------------------

bool detect_amx() {
  if (const char* env = std::getenv("LLAMA2_AMX"); env && std::string_view(env) == "0") return false;
  if (!kernels_for(Isa::AVX512)) return false;  // the epilogue is AVX-512
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  // The OS must have enabled XSAVE (CPUID.1:ECX.OSXSAVE) before XGETBV exists.
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & (1u << 27))) return false;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  if (!(edx & (1u << 24)) || !(edx & (1u << 25))) return false;  // AMX-TILE, AMX-INT8
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  if ((xcr0_lo & (3u << 17)) != (3u << 17)) return false;  // XTILECFG and XTILEDATA state
#if defined(__linux__)
  // Linux hands out the 8 KB of tile state per process on request.
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

// --- packed operands ---------------------------------------------------------------------

// One 32-value block of a panel of 32 weight rows: two A tiles of 16 rows x
// 32 signed values (Q4_0 nibbles unpacked to q - 8), rows past the matrix 0.
struct alignas(64) WeightBlock {
  std::int8_t q[2][16][32];  // [row tile][row][value]
  float d[32];               // [row] weight scales
};

// One 32-value block of 16 tokens as a B tile: step s holds values 4s .. 4s + 3
// of every token, so tdpbssd sums 4 of them per step. Tokens past the batch 0.
struct alignas(64) TokenBlock {
  std::int8_t q[8][16][4];  // [step][token][value]
  float d[16];              // [token] activation scales
};

// Token tiles of 16: all blocks of tile h at blocks[h * n_blocks ...].
KAMX void pack_tokens(TokenBlock* blocks, const BlockQ8x32* xq, std::size_t n_tokens, std::size_t n_blocks) {
  for (std::size_t t0 = 0; t0 < n_tokens; t0 += 16) {
    const std::size_t nt = std::min<std::size_t>(16, n_tokens - t0);
    TokenBlock* tile = blocks + t0 / 16 * n_blocks;
    for (std::size_t b = 0; b < n_blocks; b++) {
      __m256i row[16];  // token t's 32 quants; 0 past the batch
      alignas(64) float d[16] = {};
      for (std::size_t t = 0; t < 16; t++) {
        if (t >= nt) {
          row[t] = _mm256_setzero_si256();
          continue;
        }
        const BlockQ8x32& x = xq[(t0 + t) * n_blocks + b];
        row[t] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs));
        d[t] = x.d;
      }
      __m512i z[8], v[8];  // z[i]: tokens i and i + 8
      for (int i = 0; i < 8; i++) z[i] = _mm512_inserti64x4(_mm512_castsi256_si512(row[i]), row[i + 8], 1);
      x86::transpose16x8_epi32(z, v);
      for (int s = 0; s < 8; s++) _mm512_store_si512(tile[b].q[s], v[s]);
      _mm512_store_ps(tile[b].d, _mm512_load_ps(d));
    }
  }
}

// Rows [0, n_rows <= 32) of w (first_row of them: only those from there), all n_blocks blocks, into panel.
template <bool kQ4>
KAMX_INLINE void pack_weights(WeightBlock* panel, const std::uint8_t* w, std::size_t row_bytes, std::size_t n_rows,
                              std::size_t n_blocks, std::size_t first_row = 0) {
  const std::size_t block_bytes = kQ4 ? sizeof(BlockQ4_0) : sizeof(BlockQ8_0);
  for (std::size_t r = first_row; r < 32; r++) {
    for (std::size_t b = 0; b < n_blocks; b++) {
      std::int8_t* q = panel[b].q[r / 16][r % 16];
      if (r >= n_rows) {
        std::memset(q, 0, 32);
        continue;
      }
      const std::uint8_t* qs = w + r * row_bytes + b * block_bytes + 2;
      __m256i v;
      if (kQ4) {
        // Byte j holds value j (low nibble) and value j + 16 (high nibble).
        const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
        const __m128i lo = _mm_and_si128(bytes, _mm_set1_epi8(0x0f));
        const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), _mm_set1_epi8(0x0f));
        v = _mm256_sub_epi8(_mm256_set_m128i(hi, lo), _mm256_set1_epi8(8));
      } else {
        v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs));
      }
      _mm256_store_si256(reinterpret_cast<__m256i*>(q), v);
    }
  }
  // The fp16 scales, 16 rows per conversion (exact, as fp16_to_fp32).
  for (std::size_t b = 0; b < n_blocks; b++) {
    alignas(32) std::uint16_t d16[32] = {};  // (32) row scales; 0 past n_rows
    for (std::size_t r = first_row; r < n_rows; r++) std::memcpy(&d16[r], w + r * row_bytes + b * block_bytes, 2);
    for (std::size_t g = first_row / 16; g < 2; g++) {
      _mm512_store_ps(panel[b].d + 16 * g, _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(d16 + 16 * g))));
    }
  }
}

// pack_weights for Q4_0 or Q8_0 in 16-row tiles (q_0_x16.hpp), rows from
// `row` of w (a multiple of 32): a tile's lines are 4 bytes of each of 16
// rows, the VNNI GEMM's steps (Q4_0: line k's low nibbles step k, its high
// ones step 4 + k; Q8_0: line k step k); one 8 x 8 dword transpose in both
// 256-bit halves (the one that made them, for pack_tokens, is its own
// inverse) turns them back into rows, row i in the low half of z[i] and row
// i + 8 in the high half. The rows past the tiles are packed as in the file.
template <bool kQ4>
KAMX_INLINE void pack_weights_x16(WeightBlock* panel, const WeightRows& w, std::size_t row, std::size_t n_rows,
                                  std::size_t n_blocks) {
  using Block = std::conditional_t<kQ4, BlockQ4_0, BlockQ8_0>;
  const __m512i low = _mm512_set1_epi8(0x0f), eight = _mm512_set1_epi8(8);
  for (std::size_t g = 0; g < 2; g++) {
    if (row + 16 * g + 16 > w.tiled_rows) {  // this group and the next (if any) as in the file
      pack_weights<kQ4>(panel, w.row(row), w.row_bytes, n_rows, n_blocks, 16 * g);
      return;
    }
    for (std::size_t b = 0; b < n_blocks; b++) {
      const std::uint8_t* tile = w.row(row + 16 * g) + b * kX16TileBytes<Block>;
      __m512i v[8], z[8];  // v[s]: step s of the 16 rows, signed (Q4_0: q - 8); z[i]: rows i and i + 8
      for (std::size_t k = 0; k < kX16Lines<Block>; k++) {
        const __m512i line = _mm512_loadu_si512(tile + kX16Qs + 64 * k);
        if constexpr (kQ4) {
          v[k] = _mm512_sub_epi8(_mm512_and_si512(line, low), eight);
          v[4 + k] = _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16(line, 4), low), eight);
        } else {
          v[k] = line;
        }
      }
      x86::transpose16x8_epi32(v, z);
      for (int i = 0; i < 8; i++) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(panel[b].q[g][i]), _mm512_castsi512_si256(z[i]));
        _mm256_store_si256(reinterpret_cast<__m256i*>(panel[b].q[g][i + 8]), _mm512_extracti64x4_epi64(z[i], 1));
      }
      _mm512_store_ps(panel[b].d + 16 * g,
                      _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + kX16D))));
    }
  }
}

// --- the tile loop ------------------------------------------------------------------------

// Tile registers: C[g][h] (row tile g, token tile h) in tmm 2g + h, the
// weight tiles in tmm4-5, the token tiles in tmm6-7.
struct alignas(64) TileConfig {
  std::uint8_t palette = 1;  // palette 1: 8 tiles of up to 16 rows x 64 bytes
  std::uint8_t start_row = 0;
  std::uint8_t reserved[14] = {};
  std::uint16_t colsb[16] = {64, 64, 64, 64, 32, 32, 64, 64};  // bytes per row of tile i
  std::uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 8, 8};      // rows of tile i
};
static_assert(sizeof(TileConfig) == 64);

// The tile instructions and the fp32 work on the vector units overlap only
// when they are interleaved finely in program order (measured: issuing a
// block's 16 tile instructions in one go, then its 64 rows of fp32 work,
// runs the two one after the other). So each step k of a block issues one
// tile instruction for blocks b / b + 1 and the fp32 work of 4 rows of
// block b - 1, whose dots the previous step k stored (c is double-buffered).

// Tile instruction k of 16: store block b's dots from C[g][h] into c (not
// before block 0: c nullptr), then start block b + 1 in it (w, x0, x1: block
// b + 1, or w nullptr after the last block). With T = 1 token tile the h = 1
// instructions are skipped.
template <int T>
KAMX_INLINE void tile_step(int k, std::int32_t (*c)[2][16][16], const WeightBlock* w, const TokenBlock* x0,
                           const TokenBlock* x1) {
  const bool store = c != nullptr, next = w != nullptr;
  switch (k) {
    case 0: if (store) _tile_stored(0, c[0][0], 64); break;
    case 1: if (next) _tile_zero(0); break;
    case 2: if (next) _tile_loadd(4, w->q[0], 32); break;
    case 3: if (next) _tile_loadd(6, x0->q, 64); break;
    case 4: if (next) _tile_dpbssd(0, 4, 6); break;
    case 5: if (T == 2 && store) _tile_stored(1, c[0][1], 64); break;
    case 6: if (T == 2 && next) _tile_zero(1); break;
    case 7: if (T == 2 && next) _tile_loadd(7, x1->q, 64); break;
    case 8: if (T == 2 && next) _tile_dpbssd(1, 4, 7); break;
    case 9: if (store) _tile_stored(2, c[1][0], 64); break;
    case 10: if (next) _tile_zero(2); break;
    case 11: if (next) _tile_loadd(5, w->q[1], 32); break;
    case 12: if (next) _tile_dpbssd(2, 5, 6); break;
    case 13: if (T == 2 && store) _tile_stored(3, c[1][1], 64); break;
    case 14: if (T == 2 && next) _tile_zero(3); break;
    case 15: if (T == 2 && next) _tile_dpbssd(3, 5, 7); break;
  }
}

// acc[g][h][i] (16 tokens of row 16g + i) += float(c) * (d_w * d_x), for the
// 4 rows i of step k (g = k / 8, h = k / 4 % 2): the expression of the VNNI
// kernel, so the same bits.
template <int T>
KAMX_INLINE void scale_step(int k, float (*acc)[2][16][16], const std::int32_t (*c)[2][16][16], const WeightBlock& w,
                            const TokenBlock& x0, const TokenBlock& x1) {
  const int g = k / 8, h = k / 4 % 2;
  if (h >= T) return;
  const __m512 dx = _mm512_load_ps(h == 0 ? x0.d : x1.d);
  for (int i = k % 4 * 4; i < k % 4 * 4 + 4; i++) {
    const __m512 d = _mm512_mul_ps(_mm512_set1_ps(w.d[16 * g + i]), dx);
    const __m512 dot = _mm512_cvtepi32_ps(_mm512_load_si512(c[g][h][i]));
    _mm512_store_ps(acc[g][h][i], _mm512_fmadd_ps(dot, d, _mm512_load_ps(acc[g][h][i])));
  }
}

// out (n_tokens <= 16 * T tokens at ldo, n_rows <= 32 rows) = the panel
// times token tiles x0 (and x1), over all n_blocks blocks.
template <int T>
KAMX_INLINE void panel_tile(float* out, std::size_t ldo, const WeightBlock* w, const TokenBlock* x0, const TokenBlock* x1,
                            std::size_t n_blocks, std::size_t n_rows, std::size_t n_tokens) {
  alignas(64) float acc[2][2][16][16] = {};     // [row tile][token tile][row][token] fp32 sums
  alignas(64) std::int32_t c[2][2][2][16][16];  // [block b % 2][row tile][token tile][row][token] int32 dots
  // Block 0's dots, then per block b: store them, start b + 1, scale b - 1.
#pragma GCC unroll 16
  for (int k = 0; k < 16; k++) tile_step<T>(k, nullptr, w, x0, x1);
  for (std::size_t b = 0; b < n_blocks; b++) {
    const bool next = b + 1 < n_blocks;
#pragma GCC unroll 16
    for (int k = 0; k < 16; k++) {
      tile_step<T>(k, c[b % 2], next ? w + b + 1 : nullptr, x0 + b + 1, x1 + b + 1);
      if (b > 0) scale_step<T>(k, acc, c[(b - 1) % 2], w[b - 1], x0[b - 1], x1[b - 1]);
    }
  }
#pragma GCC unroll 16
  for (int k = 0; k < 16; k++) scale_step<T>(k, acc, c[(n_blocks - 1) % 2], w[n_blocks - 1], x0[n_blocks - 1], x1[n_blocks - 1]);
  const __mmask16 m0 = __mmask16(n_rows >= 16 ? 0xffff : (1u << n_rows) - 1);
  const __mmask16 m1 = __mmask16(n_rows >= 32 ? 0xffff : n_rows > 16 ? (1u << (n_rows - 16)) - 1 : 0);
  for (int h = 0; h < T; h++) {
    __m512 v0[16], v1[16];  // rows 0-15 and 16-31 by token, then (transposed) token t's rows
    for (int i = 0; i < 16; i++) v0[i] = _mm512_load_ps(acc[0][h][i]), v1[i] = _mm512_load_ps(acc[1][h][i]);
    x86::transpose16(v0);
    x86::transpose16(v1);
    for (std::size_t t = 0; t < 16 && 16 * std::size_t(h) + t < n_tokens; t++) {
      float* o = out + (16 * h + t) * ldo;
      _mm512_mask_storeu_ps(o, m0, v0[t]);
      _mm512_mask_storeu_ps(o + 16, m1, v1[t]);
    }
  }
}

// (kX16: in 16-row tiles, pack_weights_x16.)
template <bool kQ4, bool kX16 = false>
KAMX void matmat_amx(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                     std::size_t n_tokens, std::size_t cols, WeightBlock* panel, TokenBlock* tokens) {
  static const TileConfig config;
  const std::size_t n_blocks = cols / 32;
  pack_tokens(tokens, xq, n_tokens, n_blocks);
  _tile_loadconfig(&config);  // per call: the pool's threads each need it
  for (std::size_t i0 = 0; i0 < n_rows; i0 += 32) {
    const std::size_t nr = n_rows - i0 < 32 ? n_rows - i0 : 32;
    if constexpr (kX16) {
      pack_weights_x16<kQ4>(panel, w, i0, nr, n_blocks);
    } else {
      pack_weights<kQ4>(panel, w.row(i0), w.row_bytes, nr, n_blocks);
    }
    for (std::size_t t0 = 0; t0 < n_tokens; t0 += 32) {
      const TokenBlock* x0 = tokens + t0 / 16 * n_blocks;
      float* o = out + t0 * ldo + i0;
      if (n_tokens - t0 > 16) {
        panel_tile<2>(o, ldo, panel, x0, x0 + n_blocks, n_blocks, nr, n_tokens - t0);
      } else {
        panel_tile<1>(o, ldo, panel, x0, x0, n_blocks, nr, n_tokens - t0);
      }
    }
  }
  _tile_release();  // back to the init state: cheaper context switches
}

// The packed operands live in per-thread buffers, grown only.
template <bool kQ4, bool kX16 = false>
void matmat_q0_amx(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                   std::size_t n_tokens) {
  const std::size_t cols = w.cols;
  if (n_rows == 0 || n_tokens == 0 || cols == 0) return;
  thread_local std::vector<WeightBlock> panel;  // (cols / 32) blocks of 32 rows
  thread_local std::vector<TokenBlock> tokens;  // (n_tokens / 16 rounded up, cols / 32) blocks
  const std::size_t n_blocks = cols / 32;
  if (panel.size() < n_blocks) panel.resize(n_blocks);
  if (tokens.size() < (n_tokens + 15) / 16 * n_blocks) tokens.resize((n_tokens + 15) / 16 * n_blocks);
  matmat_amx<kQ4, kX16>(out, ldo, w, n_rows, xq, n_tokens, cols, panel.data(), tokens.data());
}

Kernels make_table() {
  Kernels k = *kernels_for(Isa::AVX512);
  k.weight(WeightType::Q8_0).matmat_int8 = matmat_q0_amx<false>;
  k.weight(WeightType::Q4_0).matmat_int8 = matmat_q0_amx<true>;
  k.weight(WeightType::Q4_0_X16).matmat_int8 = matmat_q0_amx<true, true>;
  k.weight(WeightType::Q8_0_X16).matmat_int8 = matmat_q0_amx<false, true>;
  return k;
}

}  // namespace

const Kernels* kernels_amx_table() {
  static const bool usable = detect_amx();
  if (!usable) return nullptr;
  static const Kernels table = make_table();
  return &table;
}

}  // namespace llama2

#else

namespace llama2 {
const Kernels* kernels_amx_table() { return nullptr; }
}  // namespace llama2

#endif

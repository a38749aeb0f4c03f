// The AVX2 int8 GEMM of a batched prompt (kernels_avx2.hpp): GGUF rows of
// every block type against the prompt's activations rounded to 8 bits,
// tiles of 2 rows by 3 tokens: Q8_0 / Q4_0 their own way, the K types and
// Q4_1 / Q5_0 / Q5_1 in int8_units.hpp's form (and the int8 matvecs of
// Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q5_K, as that GEMM's one-token tiles).
#include "kernels/kernels_avx2.hpp"

#include "kernels/fp16.hpp"
#include "kernels/int8_x86.hpp"

#if defined(__x86_64__)

namespace llama2::avx2 {

namespace {

using x86::hsum, x86::load_q8, x86::unpack_q4;

// A tile of R weight rows by T tokens: each weight block is loaded (and
// unpacked) once and used for T tokens. Per (row, token) the block dot of
// matvec_q8_0 / matvec_q4_0 in its own accumulator, so the tile shape does not
// change a result. Q4_0's -8 is folded into the integer sum (lane 0 of each
// block), which stays exact.
template <bool kQ4, int R, int T>
K256_INLINE void int8_tile(float* out, std::size_t ldo, const std::uint8_t* w, std::size_t row_bytes,
                           const BlockQ8x32* xq, std::size_t n_blocks) {
  __m256 acc[R][T];
  for (int r = 0; r < R; r++) {
    for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
  }
  for (std::size_t b = 0; b < n_blocks; b++) {
    __m256i wq[R];  // unsigned weights: Q4_0 nibbles, or |w| for Q8_0
    __m256i ws[R];  // Q8_0: the weights, whose signs go onto x
    float dw[R];
    for (int r = 0; r < R; r++) {
      if (kQ4) {
        const BlockQ4_0& blk = reinterpret_cast<const BlockQ4_0*>(w + r * row_bytes)[b];
        wq[r] = unpack_q4(blk.qs);
        dw[r] = fp16_to_fp32(blk.d);
      } else {
        const BlockQ8_0& blk = reinterpret_cast<const BlockQ8_0*>(w + r * row_bytes)[b];
        ws[r] = load_q8(blk.qs);
        wq[r] = _mm256_sign_epi8(ws[r], ws[r]);
        dw[r] = fp16_to_fp32(blk.d);
      }
    }
    for (int t = 0; t < T; t++) {
      const BlockQ8x32& x = xq[t * n_blocks + b];
      const __m256i xv = load_q8(x.qs);
      const __m256i corr = _mm256_setr_epi32(8 * (x.sums[0] + x.sums[1]), 0, 0, 0, 0, 0, 0, 0);
      for (int r = 0; r < R; r++) {
        const __m256i isum = kQ4 ? _mm256_sub_epi32(dot_u8_s8(wq[r], xv), corr)
                                 : dot_u8_s8(wq[r], _mm256_sign_epi8(xv, ws[r]));
        acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(dw[r] * x.d), acc[r][t]);
      }
    }
  }
  for (int t = 0; t < T; t++) {
    for (int r = 0; r < R; r++) out[t * ldo + r] = hsum(acc[r][t]);
  }
}

template <bool kQ4>
K256_INLINE void matmat_q_0(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                            std::size_t n_tokens) {
  constexpr int kR = 2, kT = 3;
  const std::size_t n_blocks = w.cols / 32, row_bytes = w.row_bytes;
  const std::uint8_t* base = w.row(0);
  for (std::size_t i = 0; i < n_rows; i += kR) {
    const std::uint8_t* rows = base + i * row_bytes;
    std::size_t t = 0;
    if (i + kR <= n_rows) {
      for (; t + kT <= n_tokens; t += kT)
        int8_tile<kQ4, kR, kT>(out + t * ldo + i, ldo, rows, row_bytes, xq + t * n_blocks, n_blocks);
      for (; t < n_tokens; t++)
        int8_tile<kQ4, kR, 1>(out + t * ldo + i, ldo, rows, row_bytes, xq + t * n_blocks, n_blocks);
    } else {
      for (; t + kT <= n_tokens; t += kT)
        int8_tile<kQ4, 1, kT>(out + t * ldo + i, ldo, rows, row_bytes, xq + t * n_blocks, n_blocks);
      for (; t < n_tokens; t++)
        int8_tile<kQ4, 1, 1>(out + t * ldo + i, ldo, rows, row_bytes, xq + t * n_blocks, n_blocks);
    }
  }
}

// --- the K types and Q4_1 / Q5_0 / Q5_1 (int8_units.hpp) ------------------------------------

// Pieces go in groups of 8 (one K block, or 8 blocks of 32). A run of up
// to kChunkGroups groups of R rows is unpacked once (quants, and scales in
// the layout below) and then swept by tiles of kT tokens, up to
// kChunkTokens of them, whose fp32 sums wait in a buffer between runs. Per
// (row, token) and group, the 8 pieces' integer dots (8 lanes each) are
// folded by hadd into two registers of half sums, lanes [piece 0-3 half 0 |
// piece 0-3 half 1] and the same for pieces 4-7, which meet the row's
// scales a_h and mins m_h and the token's xd in that layout: one conversion
// and one FMA per four pieces. Pieces past the last whole group (the
// 32-value types only) go one at a time. Every (row, token) runs the same
// arithmetic in the same order whatever R, the tiles and the chunks, so the
// matvec (R rows by one token) gives the GEMM's bits.

constexpr std::size_t kChunkGroups = 16;  // 2 rows: 12 KB of unpacked quants and scales
constexpr std::size_t kChunkTokens = 48;  // a multiple of the 3-token tile

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

// acc (R rows kChunkTokens apart, T tokens) += ng unpacked groups of R rows
// (row r's at rg + r * kChunkGroups) . T tokens' blocks (x_stride apart).
template <typename U, int R, int T>
K256_INLINE void group_tile(__m256* acc_io, const RowGroup* rg, std::size_t ng, const BlockQ8x32* xq, std::size_t x_stride) {
  __m256 acc[R][T];
  for (int r = 0; r < R; r++) {
    for (int t = 0; t < T; t++) acc[r][t] = acc_io[r * kChunkTokens + t];
  }
  for (std::size_t g = 0; g < ng; g++) {
    for (int t = 0; t < T; t++) {
      const BlockQ8x32* x = xq + t * x_stride + 8 * g;
      const __m256 xd_lo = _mm256_setr_ps(x[0].d, x[1].d, x[2].d, x[3].d, x[0].d, x[1].d, x[2].d, x[3].d);
      const __m256 xd_hi = _mm256_setr_ps(x[4].d, x[5].d, x[6].d, x[7].d, x[4].d, x[5].d, x[6].d, x[7].d);
      const __m256i sums_lo = _mm256_setr_epi32(x[0].sums[0], x[1].sums[0], x[2].sums[0], x[3].sums[0], x[0].sums[1],
                                                x[1].sums[1], x[2].sums[1], x[3].sums[1]);
      const __m256i sums_hi = _mm256_setr_epi32(x[4].sums[0], x[5].sums[0], x[6].sums[0], x[7].sums[0], x[4].sums[1],
                                                x[5].sums[1], x[6].sums[1], x[7].sums[1]);
      __m256i d[R][8];
      for (int k = 0; k < 8; k++) {
        const __m256i xv = load_q8(x[k].qs);
        for (int r = 0; r < R; r++) d[r][k] = dot_u8_s8(rg[r * kChunkGroups + g].q[k], xv);
      }
      for (int r = 0; r < R; r++) {
        const RowGroup& row = rg[r * kChunkGroups + g];
        __m256i lo, hi;
        fold8(d[r], &lo, &hi);
        if (U::kOffset) {
          lo = _mm256_sub_epi32(lo, _mm256_mullo_epi32(sums_lo, _mm256_set1_epi32(U::kOffset)));
          hi = _mm256_sub_epi32(hi, _mm256_mullo_epi32(sums_hi, _mm256_set1_epi32(U::kOffset)));
        }
        acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lo), _mm256_mul_ps(_mm256_load_ps(row.a), xd_lo), acc[r][t]);
        acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(hi), _mm256_mul_ps(_mm256_load_ps(row.a + 8), xd_hi), acc[r][t]);
        if (U::kMin) {
          acc[r][t] = _mm256_fnmadd_ps(_mm256_load_ps(row.m), _mm256_mul_ps(_mm256_cvtepi32_ps(sums_lo), xd_lo), acc[r][t]);
          acc[r][t] = _mm256_fnmadd_ps(_mm256_load_ps(row.m + 8), _mm256_mul_ps(_mm256_cvtepi32_ps(sums_hi), xd_hi), acc[r][t]);
        }
      }
    }
  }
  for (int r = 0; r < R; r++) {
    for (int t = 0; t < T; t++) acc_io[r * kChunkTokens + t] = acc[r][t];
  }
}

// out (n_tokens <= kChunkTokens tokens at ldo, R rows) = R rows at w . the tokens' blocks (x_stride apart).
template <typename U, int R>
K256_INLINE void unit_rows(float* out, std::size_t ldo, const std::uint8_t* w, std::size_t row_bytes,
                           const BlockQ8x32* xq, std::size_t x_stride, std::size_t n_tokens, std::size_t n_blocks) {
  using Block = typename U::Block;
  constexpr std::size_t kT = 3;
  __m256 acc[R * kChunkTokens];         // (R, kChunkTokens) fp32 sums
  float tail_mins[R * kChunkTokens];    // (R, kChunkTokens) mins of the pieces past the groups
  RowGroup rg[R * kChunkGroups];        // (R, kChunkGroups) unpacked groups
  for (std::size_t i = 0; i < R * kChunkTokens; i++) acc[i] = _mm256_setzero_ps(), tail_mins[i] = 0.0f;
  const std::size_t n_groups = n_blocks / 8;
  for (std::size_t g0 = 0; g0 < n_groups; g0 += kChunkGroups) {
    const std::size_t ng = n_groups - g0 < kChunkGroups ? n_groups - g0 : kChunkGroups;
    for (int r = 0; r < R; r++) {
      const Block* blocks = reinterpret_cast<const Block*>(w + r * row_bytes);
      for (std::size_t g = 0; g < ng; g++) unpack_group<U>(blocks + (g0 + g) * (8 / U::kPieces), &rg[r * kChunkGroups + g]);
    }
    std::size_t t = 0;
    for (; t + kT <= n_tokens; t += kT) group_tile<U, R, kT>(acc + t, rg, ng, xq + t * x_stride + 8 * g0, x_stride);
    for (; t < n_tokens; t++) group_tile<U, R, 1>(acc + t, rg, ng, xq + t * x_stride + 8 * g0, x_stride);
  }
  for (std::size_t b = 8 * n_groups; b < n_blocks; b++) {  // one 32-value block at a time (kPieces == 1 here)
    for (int r = 0; r < R; r++) {
      const Block& blk = reinterpret_cast<const Block*>(w + r * row_bytes)[b / U::kPieces];
      const int k = int(b % U::kPieces);
      units::PieceScales s[U::kPieces];
      U::scales(blk, _cvtsh_ss(U::d(blk)), _cvtsh_ss(U::dmin(blk)), s);
      const __m256i qv = x86::piece(blk, k);
      for (std::size_t t = 0; t < n_tokens; t++) {
        const BlockQ8x32& x = xq[t * x_stride + b];
        const __m256i start = U::kOffset ? x86::piece_start(x, U::kOffset) : _mm256_setzero_si256();
        const __m256i isum = _mm256_add_epi32(start, dot_u8_s8(qv, load_q8(x.qs)));
        __m256& a = acc[std::size_t(r) * kChunkTokens + t];
        a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), x86::piece_scale(s[k], x.d), a);
        if (U::kMin) tail_mins[std::size_t(r) * kChunkTokens + t] += x86::piece_mins(s[k], x);
      }
    }
  }
  for (std::size_t t = 0; t < n_tokens; t++) {
    for (int r = 0; r < R; r++) {
      out[t * ldo + std::size_t(r)] = hsum(acc[std::size_t(r) * kChunkTokens + t]) - tail_mins[std::size_t(r) * kChunkTokens + t];
    }
  }
}

template <typename U>
K256_INLINE void matmat_units(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                              std::size_t n_tokens) {
  const std::size_t n_blocks = w.cols / 32;
  for (std::size_t t0 = 0; t0 < n_tokens; t0 += kChunkTokens) {
    const std::size_t nt = n_tokens - t0 < kChunkTokens ? n_tokens - t0 : kChunkTokens;
    const BlockQ8x32* x = xq + t0 * n_blocks;
    float* o = out + t0 * ldo;
    std::size_t i = 0;
    for (; i + 2 <= n_rows; i += 2) unit_rows<U, 2>(o + i, ldo, w.row(i), w.row_bytes, x, n_blocks, nt, n_blocks);
    for (; i < n_rows; i++) unit_rows<U, 1>(o + i, ldo, w.row(i), w.row_bytes, x, n_blocks, nt, n_blocks);
  }
}

template <typename U>
K256_INLINE void matvec_units(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  const std::size_t n_blocks = w.cols / 32;
  std::size_t r = r0;
  for (; r + 2 <= r1; r += 2) unit_rows<U, 2>(out + r, 0, w.row(r), w.row_bytes, xq, 0, 1, n_blocks);
  for (; r < r1; r++) unit_rows<U, 1>(out + r, 0, w.row(r), w.row_bytes, xq, 0, 1, n_blocks);
}

}  // namespace

K256 void matmat_q8_0(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                      std::size_t n_tokens) {
  matmat_q_0<false>(out, ldo, w, n_rows, xq, n_tokens);
}

K256 void matmat_q4_0(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                      std::size_t n_tokens) {
  matmat_q_0<true>(out, ldo, w, n_rows, xq, n_tokens);
}

K256 void matmat_q4_1(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                      std::size_t n_tokens) {
  matmat_units<units::Q4_1>(out, ldo, w, n_rows, xq, n_tokens);
}
K256 void matmat_q5_0(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                      std::size_t n_tokens) {
  matmat_units<units::Q5_0>(out, ldo, w, n_rows, xq, n_tokens);
}
K256 void matmat_q5_1(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                      std::size_t n_tokens) {
  matmat_units<units::Q5_1>(out, ldo, w, n_rows, xq, n_tokens);
}
K256 void matmat_q2_k(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                      std::size_t n_tokens) {
  matmat_units<units::Q2_K>(out, ldo, w, n_rows, xq, n_tokens);
}
K256 void matmat_q3_k(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                      std::size_t n_tokens) {
  matmat_units<units::Q3_K>(out, ldo, w, n_rows, xq, n_tokens);
}
K256 void matmat_q4_k(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                      std::size_t n_tokens) {
  matmat_units<units::Q4_K>(out, ldo, w, n_rows, xq, n_tokens);
}
K256 void matmat_q5_k(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                      std::size_t n_tokens) {
  matmat_units<units::Q5_K>(out, ldo, w, n_rows, xq, n_tokens);
}
K256 void matmat_q6_k(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                      std::size_t n_tokens) {
  matmat_units<units::Q6_K>(out, ldo, w, n_rows, xq, n_tokens);
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
K256 void matvec_q5_k(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  matvec_units<units::Q5_K>(out, w, xq, r0, r1);
}

}  // namespace llama2::avx2

#endif

// The AVX2 int8 GEMM of a batched prompt (kernels_avx2.hpp): GGUF rows of
// every block type against the prompt's activations rounded to 8 bits,
// tiles of 2 rows by 3 tokens: Q8_0 / Q4_0 their own way, the K types and
// Q4_1 / Q5_0 / Q5_1 in int8_units.hpp's form.
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

// A tile of R rows of type U by T tokens: each piece's quants are unpacked
// once per row and used for T tokens; per (row, token) the arithmetic of
// the matvec (kernels_avx2_matvec.cpp: unit_rows) in its own accumulator.
template <typename U, int R, int T>
K256_INLINE void unit_tile(float* out, std::size_t ldo, const std::uint8_t* w, std::size_t row_bytes,
                           const BlockQ8x32* xq, std::size_t n_blocks) {
  using Block = typename U::Block;
  __m256 acc[R][T];
  float mins[R][T];
  for (int r = 0; r < R; r++) {
    for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps(), mins[r][t] = 0.0f;
  }
  for (std::size_t u = 0; u < n_blocks / U::kPieces; u++) {
    const Block* blk[R];
    units::PieceScales s[R][U::kPieces];
    for (int r = 0; r < R; r++) {
      blk[r] = reinterpret_cast<const Block*>(w + r * row_bytes) + u;
      U::scales(*blk[r], _cvtsh_ss(U::d(*blk[r])), _cvtsh_ss(U::dmin(*blk[r])), s[r]);
    }
    for (int k = 0; k < U::kPieces; k++) {
      __m256i q[R];
      for (int r = 0; r < R; r++) q[r] = x86::piece(*blk[r], k);
      for (int t = 0; t < T; t++) {
        const BlockQ8x32& x = xq[t * n_blocks + U::kPieces * u + std::size_t(k)];
        const __m256i xv = load_q8(x.qs);
        const __m256i start = U::kOffset ? x86::piece_start(x, U::kOffset) : _mm256_setzero_si256();
        for (int r = 0; r < R; r++) {
          const __m256i isum = _mm256_add_epi32(start, dot_u8_s8(q[r], xv));
          acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), x86::piece_scale(s[r][k], x.d), acc[r][t]);
          if (U::kMin) mins[r][t] += x86::piece_mins(s[r][k], x);
        }
      }
    }
  }
  for (int t = 0; t < T; t++) {
    for (int r = 0; r < R; r++) out[t * ldo + r] = hsum(acc[r][t]) - mins[r][t];
  }
}

template <typename U>
K256_INLINE void matmat_units(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                              std::size_t n_tokens) {
  constexpr int kR = 2, kT = 3;
  const std::size_t n_blocks = w.cols / 32, row_bytes = w.row_bytes;
  const std::uint8_t* base = w.row(0);
  for (std::size_t i = 0; i < n_rows; i += kR) {
    const std::uint8_t* rows = base + i * row_bytes;
    std::size_t t = 0;
    if (i + kR <= n_rows) {
      for (; t + kT <= n_tokens; t += kT)
        unit_tile<U, kR, kT>(out + t * ldo + i, ldo, rows, row_bytes, xq + t * n_blocks, n_blocks);
      for (; t < n_tokens; t++) unit_tile<U, kR, 1>(out + t * ldo + i, ldo, rows, row_bytes, xq + t * n_blocks, n_blocks);
    } else {
      for (; t + kT <= n_tokens; t += kT)
        unit_tile<U, 1, kT>(out + t * ldo + i, ldo, rows, row_bytes, xq + t * n_blocks, n_blocks);
      for (; t < n_tokens; t++) unit_tile<U, 1, 1>(out + t * ldo + i, ldo, rows, row_bytes, xq + t * n_blocks, n_blocks);
    }
  }
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

}  // namespace llama2::avx2

#endif

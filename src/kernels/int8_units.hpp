// One form for the int8 kernels of the GGUF types that have no hand-written
// pair of their own (Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q5_K), and that the AVX2
// and NEON GEMMs use for every K type (Q4_K and Q6_K too).
//
// A weight block is a "unit" of kPieces pieces of 32 values (1 for the
// 32-value types, 8 for the 256-value K types); piece k of unit u meets
// activation block kPieces * u + k (kernels.hpp: BlockQ8x32). Every type's
// value l (0..31) of a piece is
//
//   w_l = a_h * (q_l - kOffset) - m_h,     h = l / 16 (the piece's halves)
//
// with q_l an unsigned integer of at most 6 bits (at most kMaxQ), kOffset a constant of the type, and a_h, m_h floats that
// are exact products of the block's fp16 scales and its small integer
// sub-block scales (so w_l is dequantize_blocks' value up to one rounding of
// the min). Against activations xd * xq a piece's dot is then exact
// integers and four scales:
//
//   xd * (a_0 * (sum_{l<16} q_l xq_l - kOffset * sums[0])
//       + a_1 * (sum_{l>=16} q_l xq_l - kOffset * sums[1])
//       - (m_0 * sums[0] + m_1 * sums[1]))
//
// kHalves says whether a_0 != a_1 can happen (Q2_K, Q3_K, Q6_K: sub-blocks
// of 16), kMin whether m is ever nonzero. Each struct below gives a block's
// fp16 fields, its pieces' scales, and (for the scalar reference) its
// quants; the SIMD files unpack the quants in registers themselves
// (int8_x86.hpp, kernels_neon.cpp). Plain C++ inlined into the callers:
// the SIMD files convert the fp16 fields themselves and pass floats in.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/quants.hpp"

#define INT8_UNITS_INLINE __attribute__((always_inline)) inline

namespace llama2::units {

struct PieceScales {
  float a[2];  // scale of each half of 16
  float m[2];  // min of each half (0 without kMin)
};

// The 6-bit scale and min of sub-block j of a Q4_K / Q5_K block (scale_min_k4).
INT8_UNITS_INLINE void k4_scale_min(const std::uint8_t* q, int j, int* sc, int* mn) {
  if (j < 4) {
    *sc = q[j] & 63;
    *mn = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// --- 32-value blocks ---------------------------------------------------------------

// Q4_1: w = d * q + m (m = -m_h).
struct Q4_1 {
  using Block = BlockQ4_1;
  static constexpr int kPieces = 1, kOffset = 0, kMaxQ = 15;
  static constexpr bool kHalves = false, kMin = true;
  static INT8_UNITS_INLINE std::uint16_t d(const Block& b) { return b.d; }
  static INT8_UNITS_INLINE std::uint16_t dmin(const Block& b) { return b.m; }
  static INT8_UNITS_INLINE void scales(const Block&, float d, float m, PieceScales* s) {
    s[0] = {{d, d}, {-m, -m}};
  }
  static INT8_UNITS_INLINE void quants(const Block& b, int, std::uint8_t* q) {
    for (int l = 0; l < 16; l++) q[l] = b.qs[l] & 0xF, q[l + 16] = b.qs[l] >> 4;
  }
};

// The fifth bits of a Q5_0 / Q5_1 block: bit l of the little-endian qh.
INT8_UNITS_INLINE void q5_quants(const std::uint8_t* qs, const std::uint8_t* qh, std::uint8_t* q) {
  for (int l = 0; l < 32; l++) {
    const int low = l < 16 ? qs[l] & 0xF : qs[l - 16] >> 4;
    q[l] = std::uint8_t(low | (((qh[l / 8] >> (l % 8)) & 1) << 4));
  }
}

// Q5_0: w = d * (q - 16).
struct Q5_0 {
  using Block = BlockQ5_0;
  static constexpr int kPieces = 1, kOffset = 16, kMaxQ = 31;
  static constexpr bool kHalves = false, kMin = false;
  static INT8_UNITS_INLINE std::uint16_t d(const Block& b) { return b.d; }
  static INT8_UNITS_INLINE std::uint16_t dmin(const Block&) { return 0; }
  static INT8_UNITS_INLINE void scales(const Block&, float d, float, PieceScales* s) { s[0] = {{d, d}, {0, 0}}; }
  static INT8_UNITS_INLINE void quants(const Block& b, int, std::uint8_t* q) { q5_quants(b.qs, b.qh, q); }
};

// Q5_1: w = d * q + m.
struct Q5_1 {
  using Block = BlockQ5_1;
  static constexpr int kPieces = 1, kOffset = 0, kMaxQ = 31;
  static constexpr bool kHalves = false, kMin = true;
  static INT8_UNITS_INLINE std::uint16_t d(const Block& b) { return b.d; }
  static INT8_UNITS_INLINE std::uint16_t dmin(const Block& b) { return b.m; }
  static INT8_UNITS_INLINE void scales(const Block&, float d, float m, PieceScales* s) {
    s[0] = {{d, d}, {-m, -m}};
  }
  static INT8_UNITS_INLINE void quants(const Block& b, int, std::uint8_t* q) { q5_quants(b.qs, b.qh, q); }
};

// --- 256-value K blocks (quants.cpp spells out each layout) --------------------------

// Q2_K: piece k = 4h + s is bits 2s of qs[32h + l]; halves are sub-blocks 2k, 2k + 1.
struct Q2_K {
  using Block = BlockQ2_K;
  static constexpr int kPieces = 8, kOffset = 0, kMaxQ = 3;
  static constexpr bool kHalves = true, kMin = true;
  static INT8_UNITS_INLINE std::uint16_t d(const Block& b) { return b.d; }
  static INT8_UNITS_INLINE std::uint16_t dmin(const Block& b) { return b.dmin; }
  static INT8_UNITS_INLINE void scales(const Block& b, float d, float dmin, PieceScales* s) {
    for (int k = 0; k < 8; k++) {
      const std::uint8_t s0 = b.scales[2 * k], s1 = b.scales[2 * k + 1];
      s[k] = {{d * float(s0 & 0xF), d * float(s1 & 0xF)}, {dmin * float(s0 >> 4), dmin * float(s1 >> 4)}};
    }
  }
  static INT8_UNITS_INLINE void quants(const Block& b, int k, std::uint8_t* q) {
    for (int l = 0; l < 32; l++) q[l] = (b.qs[32 * (k / 4) + l] >> (2 * (k % 4))) & 3;
  }
};

// Q3_K: the low bits as Q2_K, the third bit of piece k = 4h + s is bit k of
// hmask[l] (q - 4 * !hbit = (low | hbit << 2) - 4); scales sc - 32, 6-bit.
struct Q3_K {
  using Block = BlockQ3_K;
  static constexpr int kPieces = 8, kOffset = 4, kMaxQ = 7;
  static constexpr bool kHalves = true, kMin = false;
  static INT8_UNITS_INLINE std::uint16_t d(const Block& b) { return b.d; }
  static INT8_UNITS_INLINE std::uint16_t dmin(const Block&) { return 0; }
  static INT8_UNITS_INLINE int scale(const Block& b, int j) {  // sub-block j of 16
    const int low = j < 8 ? (b.scales[j] & 0xF) : (b.scales[j - 8] >> 4);
    const int high = (b.scales[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low | (high << 4)) - 32;
  }
  static INT8_UNITS_INLINE void scales(const Block& b, float d, float, PieceScales* s) {
    for (int k = 0; k < 8; k++) s[k] = {{d * float(scale(b, 2 * k)), d * float(scale(b, 2 * k + 1))}, {0, 0}};
  }
  static INT8_UNITS_INLINE void quants(const Block& b, int k, std::uint8_t* q) {
    for (int l = 0; l < 32; l++) {
      q[l] = std::uint8_t(((b.qs[32 * (k / 4) + l] >> (2 * (k % 4))) & 3) | (((b.hmask[l] >> k) & 1) << 2));
    }
  }
};

// Q4_K: piece k is the low (even k) or high (odd k) nibbles of qs[32 (k / 2) + l].
struct Q4_K {
  using Block = BlockQ4_K;
  static constexpr int kPieces = 8, kOffset = 0, kMaxQ = 15;
  static constexpr bool kHalves = false, kMin = true;
  static INT8_UNITS_INLINE std::uint16_t d(const Block& b) { return b.d; }
  static INT8_UNITS_INLINE std::uint16_t dmin(const Block& b) { return b.dmin; }
  static INT8_UNITS_INLINE void scales(const Block& b, float d, float dmin, PieceScales* s) {
    for (int k = 0; k < 8; k++) {
      int sc, mn;
      k4_scale_min(b.scales, k, &sc, &mn);
      s[k] = {{d * float(sc), d * float(sc)}, {dmin * float(mn), dmin * float(mn)}};
    }
  }
  static INT8_UNITS_INLINE void quants(const Block& b, int k, std::uint8_t* q) {
    for (int l = 0; l < 32; l++) q[l] = (b.qs[32 * (k / 2) + l] >> (4 * (k % 2))) & 0xF;
  }
};

// Q5_K: as Q4_K, with bit k of qh[l] as the fifth bit.
struct Q5_K {
  using Block = BlockQ5_K;
  static constexpr int kPieces = 8, kOffset = 0, kMaxQ = 31;
  static constexpr bool kHalves = false, kMin = true;
  static INT8_UNITS_INLINE std::uint16_t d(const Block& b) { return b.d; }
  static INT8_UNITS_INLINE std::uint16_t dmin(const Block& b) { return b.dmin; }
  static INT8_UNITS_INLINE void scales(const Block& b, float d, float dmin, PieceScales* s) {
    for (int k = 0; k < 8; k++) {
      int sc, mn;
      k4_scale_min(b.scales, k, &sc, &mn);
      s[k] = {{d * float(sc), d * float(sc)}, {dmin * float(mn), dmin * float(mn)}};
    }
  }
  static INT8_UNITS_INLINE void quants(const Block& b, int k, std::uint8_t* q) {
    for (int l = 0; l < 32; l++) {
      q[l] = std::uint8_t(((b.qs[32 * (k / 2) + l] >> (4 * (k % 2))) & 0xF) | (((b.qh[l] >> k) & 1) << 4));
    }
  }
};

// Q6_K: piece k = 4h + r takes ql[64h + 32 (r & 1) + l] (high nibble for
// r >= 2) and bits 2r, 2r + 1 of qh[32h + l]; halves are sub-blocks 2k, 2k + 1.
struct Q6_K {
  using Block = BlockQ6_K;
  static constexpr int kPieces = 8, kOffset = 32, kMaxQ = 63;
  static constexpr bool kHalves = true, kMin = false;
  static INT8_UNITS_INLINE std::uint16_t d(const Block& b) { return b.d; }
  static INT8_UNITS_INLINE std::uint16_t dmin(const Block&) { return 0; }
  static INT8_UNITS_INLINE void scales(const Block& b, float d, float, PieceScales* s) {
    for (int k = 0; k < 8; k++) s[k] = {{d * float(b.scales[2 * k]), d * float(b.scales[2 * k + 1])}, {0, 0}};
  }
  static INT8_UNITS_INLINE void quants(const Block& b, int k, std::uint8_t* q) {
    const int h = k / 4, r = k % 4;
    for (int l = 0; l < 32; l++) {
      const std::uint8_t lbyte = b.ql[64 * h + 32 * (r & 1) + l];
      const int low = r < 2 ? (lbyte & 0xF) : (lbyte >> 4);
      q[l] = std::uint8_t(low | (((b.qh[32 * h + l] >> (2 * r)) & 3) << 4));
    }
  }
};

}  // namespace llama2::units

// NEON kernels (aarch64 Advanced SIMD): 4 floats per register.
#include "kernels/fp16.hpp"
#include "kernels/int8_units.hpp"
#include "kernels/kernels.hpp"

#if defined(__aarch64__)
#include <arm_neon.h>
#include <cmath>

namespace llama2 {

namespace {

// --- vectors ---------------------------------------------------------------------

// Four registers of a widened to fp32: fp32 as is, F16 by fcvtl (base
// AArch64), BF16 (the high half of an fp32) by a shift left of 16.
inline float32x4_t load_f32x4(const float* p) { return vld1q_f32(p); }
inline float32x4_t load_half4(const std::uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
inline float32x4_t load_bf16x4(const std::uint16_t* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
inline float as_float(float f) { return f; }

// sum a[i] * b[i], a's elements widened by Load4 (4 at a time) and ToFp32
// (the tail). Four accumulators (16 floats per step) hide the FMA latency.
template <typename T, float32x4_t (*Load4)(const T*), float (*ToFp32)(T)>
float dot_of(const T* a, const float* b, std::size_t n) {
  float32x4_t acc0 = vdupq_n_f32(0), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = vfmaq_f32(acc0, Load4(a + i), vld1q_f32(b + i));
    acc1 = vfmaq_f32(acc1, Load4(a + i + 4), vld1q_f32(b + i + 4));
    acc2 = vfmaq_f32(acc2, Load4(a + i + 8), vld1q_f32(b + i + 8));
    acc3 = vfmaq_f32(acc3, Load4(a + i + 12), vld1q_f32(b + i + 12));
  }
  for (; i + 4 <= n; i += 4) acc0 = vfmaq_f32(acc0, Load4(a + i), vld1q_f32(b + i));
  float sum = vaddvq_f32(vaddq_f32(vaddq_f32(acc0, acc1), vaddq_f32(acc2, acc3)));
  for (; i < n; i++) sum += ToFp32(a[i]) * b[i];
  return sum;
}

float dot(const float* a, const float* b, std::size_t n) { return dot_of<float, load_f32x4, as_float>(a, b, n); }

void axpy(float* y, float a, const float* x, std::size_t n) {
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), a));
  for (; i < n; i++) y[i] += a * x[i];
}

float sum_squares(const float* x, std::size_t n) { return dot(x, x, n); }

// --- attention ---------------------------------------------------------------------

void attention_scores(float* att, const float* q, const float* keys, std::size_t n_pos, std::size_t head_size,
                      float scale) {
  for (std::size_t t = 0; t < n_pos; t++) att[t] = dot(q, keys + t * head_size, head_size) * scale;
}

void attention_values(float* out, const float* att, const float* values, std::size_t n_pos,
                      std::size_t head_size) {
  for (std::size_t i = 0; i < head_size; i++) out[i] = 0.0f;
  for (std::size_t t = 0; t < n_pos; t++) axpy(out, att[t], values + t * head_size, head_size);
}

// fp16 cache: 4 halves at a time (load_half4).
void attention_scores_f16(float* att, const float* q, const std::uint16_t* keys, std::size_t n_pos,
                          std::size_t head_size, float scale) {
  const std::size_t full = head_size / 4 * 4;
  for (std::size_t t = 0; t < n_pos; t++) {
    const std::uint16_t* key = keys + t * head_size;
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (std::size_t i = 0; i < full; i += 4) acc = vfmaq_f32(acc, vld1q_f32(q + i), load_half4(key + i));
    float sum = vaddvq_f32(acc);
    for (std::size_t i = full; i < head_size; i++) sum += q[i] * fp16_to_fp32(key[i]);
    att[t] = sum * scale;
  }
}

void attention_values_f16(float* out, const float* att, const std::uint16_t* values, std::size_t n_pos,
                          std::size_t head_size) {
  const std::size_t full = head_size / 4 * 4;
  for (std::size_t i = 0; i < full; i += 4) {
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (std::size_t t = 0; t < n_pos; t++) acc = vfmaq_n_f32(acc, load_half4(values + t * head_size + i), att[t]);
    vst1q_f32(out + i, acc);
  }
  for (std::size_t i = full; i < head_size; i++) {
    float sum = 0.0f;
    for (std::size_t t = 0; t < n_pos; t++) sum += att[t] * fp16_to_fp32(values[t * head_size + i]);
    out[i] = sum;
  }
}

// --- matrix-vector -----------------------------------------------------------------

void matvec_f32(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  for (std::size_t r = r0; r < r1; r++) out[r] = dot(reinterpret_cast<const float*>(w.row(r)), x, w.cols);
}

// F16 / BF16 rows, widened to fp32 as they are read (dot_of).
template <float32x4_t (*Load4)(const std::uint16_t*), float (*ToFp32)(std::uint16_t)>
void matvec_16bit(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  for (std::size_t r = r0; r < r1; r++) {
    out[r] = dot_of<std::uint16_t, Load4, ToFp32>(reinterpret_cast<const std::uint16_t*>(w.row(r)), x, w.cols);
  }
}

// 8 int8 weights -> two float vectors.
inline void load_i8x8(const std::int8_t* p, float32x4_t& lo, float32x4_t& hi) {
  int16x8_t w16 = vmovl_s8(vld1_s8(p));
  lo = vcvtq_f32_s32(vmovl_s16(vget_low_s16(w16)));
  hi = vcvtq_f32_s32(vmovl_s16(vget_high_s16(w16)));
}

void matvec_q8_group(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  const std::size_t gs = w.group_size, groups = w.cols / gs;
  if (gs % 8 != 0) {
    kernels_scalar().weight(WeightType::Q8_GROUP).matvec(out, w, x, r0, r1);
    return;
  }
  for (std::size_t r = r0; r < r1; r++) {
    const auto* row = reinterpret_cast<const std::int8_t*>(w.row(r));
    const float* row_scales = w.scales + r * groups;
    float32x4_t acc = vdupq_n_f32(0);
    for (std::size_t g = 0; g < groups; g++) {
      float32x4_t g0 = vdupq_n_f32(0), g1 = g0;
      for (std::size_t j = g * gs; j < (g + 1) * gs; j += 8) {
        float32x4_t lo, hi;
        load_i8x8(row + j, lo, hi);
        g0 = vfmaq_f32(g0, lo, vld1q_f32(x + j));
        g1 = vfmaq_f32(g1, hi, vld1q_f32(x + j + 4));
      }
      acc = vfmaq_n_f32(acc, vaddq_f32(g0, g1), row_scales[g]);
    }
    out[r] = vaddvq_f32(acc);
  }
}

// --- matrix-matrix -----------------------------------------------------------------

// One tile: 4R outputs (R registers) for each of B tokens; with R = 4 and
// B = 4, 16 accumulators. vfmaq_n_f32 is fused, as the reference's std::fma.
template <int R, int B>
inline void matmat_tile(float* out, std::size_t ldo, const float* wt, std::size_t ldw, const float* x,
                        std::size_t ldx, std::size_t cols, bool accumulate) {
  float32x4_t acc[B][R];
  for (int b = 0; b < B; b++) {
    for (int r = 0; r < R; r++) acc[b][r] = accumulate ? vld1q_f32(out + b * ldo + 4 * r) : vdupq_n_f32(0.0f);
  }
  for (std::size_t k = 0; k < cols; k++) {
    float32x4_t w[R];
    for (int r = 0; r < R; r++) w[r] = vld1q_f32(wt + k * ldw + 4 * r);
    for (int b = 0; b < B; b++) {
      const float xb = x[b * ldx + k];
      for (int r = 0; r < R; r++) acc[b][r] = vfmaq_n_f32(acc[b][r], w[r], xb);
    }
  }
  for (int b = 0; b < B; b++) {
    for (int r = 0; r < R; r++) vst1q_f32(out + b * ldo + 4 * r, acc[b][r]);
  }
}

// Rows R at a time across all tokens (4 tokens per tile, then one by one).
template <int R>
void matmat_rows(float* out, std::size_t ldo, const float* wt, std::size_t ldw, const float* x, std::size_t ldx,
                 std::size_t n_batch, std::size_t cols, bool accumulate) {
  std::size_t b = 0;
  for (; b + 4 <= n_batch; b += 4) matmat_tile<R, 4>(out + b * ldo, ldo, wt, ldw, x + b * ldx, ldx, cols, accumulate);
  for (; b < n_batch; b++) matmat_tile<R, 1>(out + b * ldo, ldo, wt, ldw, x + b * ldx, ldx, cols, accumulate);
}

void matmat_f32(float* out, std::size_t ldo, const float* wt, std::size_t ldw, std::size_t n_rows, const float* x,
                std::size_t ldx, std::size_t n_batch, std::size_t cols, bool accumulate) {
  std::size_t i = 0;
  for (; i + 16 <= n_rows; i += 16) matmat_rows<4>(out + i, ldo, wt + i, ldw, x, ldx, n_batch, cols, accumulate);
  for (; i + 4 <= n_rows; i += 4) matmat_rows<1>(out + i, ldo, wt + i, ldw, x, ldx, n_batch, cols, accumulate);
  for (; i < n_rows; i++) {  // the last n_rows % 4 rows: the reference's scalar chain
    for (std::size_t b = 0; b < n_batch; b++) {
      float acc = accumulate ? out[b * ldo + i] : 0.0f;
      for (std::size_t k = 0; k < cols; k++) acc = __builtin_fmaf(wt[k * ldw + i], x[b * ldx + k], acc);
      out[b * ldo + i] = acc;
    }
  }
}

// --- matrix-vector: GGUF Q4_K / Q6_K with int8 activations (sdot) -----------------------
// The Armv8.2 dot product: vdotq_s32 adds four int8 products into each of
// 4 int32 lanes. Signed by signed, so an offset (Q6_K's -32) comes off the
// quants before the dot product. Compiled for +dotprod and used only when
// the CPU reports it (cpu_features().neon_dotprod); otherwise the scalar code.

#define KDOT __attribute__((target("arch=armv8.2-a+dotprod")))

// Sub-block j of super-block b is x block 8b + j (low nibbles of qs[32(j / 2) ..]
// for even j, high for odd): xd * (d * sc * sum(q xq) - dmin * mn * sum(xq)).
KDOT void matvec_q4_k_dot(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  const uint8x16_t low = vdupq_n_u8(0x0f);
  for (std::size_t r = r0; r < r1; r++) {
    const auto* blocks = reinterpret_cast<const BlockQ4_K*>(w.row(r));
    float32x4_t acc = vdupq_n_f32(0.0f);
    float mins = 0.0f;
    for (std::size_t b = 0; b < w.cols / kQK_K; b++) {
      const float d = fp16_to_fp32(blocks[b].d), dmin = fp16_to_fp32(blocks[b].dmin);
      for (int j = 0; j < 8; j++) {
        const BlockQ8x32& x = xq[8 * b + j];
        std::uint8_t sc, mn;
        scale_min_k4(j, blocks[b].scales, &sc, &mn);
        const uint8x16_t b0 = vld1q_u8(blocks[b].qs + 32 * (j / 2)), b1 = vld1q_u8(blocks[b].qs + 32 * (j / 2) + 16);
        const uint8x16_t q0 = j % 2 == 0 ? vandq_u8(b0, low) : vshrq_n_u8(b0, 4);
        const uint8x16_t q1 = j % 2 == 0 ? vandq_u8(b1, low) : vshrq_n_u8(b1, 4);
        int32x4_t isum = vdotq_s32(vdupq_n_s32(0), vreinterpretq_s8_u8(q0), vld1q_s8(x.qs));
        isum = vdotq_s32(isum, vreinterpretq_s8_u8(q1), vld1q_s8(x.qs + 16));
        acc = vfmaq_n_f32(acc, vcvtq_f32_s32(isum), x.d * d * float(sc));
        mins += x.d * dmin * float(mn) * float(x.sums[0] + x.sums[1]);
      }
    }
    out[r] = vaddvq_f32(acc) - mins;
  }
}

// x block 8b + k is half h = k / 4, r = k % 4 of quants.cpp's Q6_K layout;
// its 16-value halves have scales scales[2k] and scales[2k + 1].
KDOT void matvec_q6_k_dot(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  const uint8x16_t low = vdupq_n_u8(0x0f), two = vdupq_n_u8(3);
  const int8x16_t bias = vdupq_n_s8(32);
  for (std::size_t r = r0; r < r1; r++) {
    const auto* blocks = reinterpret_cast<const BlockQ6_K*>(w.row(r));
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (std::size_t b = 0; b < w.cols / kQK_K; b++) {
      const BlockQ6_K& blk = blocks[b];
      const float d = fp16_to_fp32(blk.d);
      for (int k = 0; k < 8; k++) {
        const BlockQ8x32& x = xq[8 * b + k];
        const int h = k / 4, rr = k % 4;
        for (int half = 0; half < 2; half++) {
          const uint8x16_t lbytes = vld1q_u8(blk.ql + 64 * h + 32 * (rr & 1) + 16 * half);
          const uint8x16_t lo4 = rr < 2 ? vandq_u8(lbytes, low) : vshrq_n_u8(lbytes, 4);
          const uint8x16_t hbytes = vld1q_u8(blk.qh + 32 * h + 16 * half);
          const uint8x16_t hi2 = vandq_u8(vshlq_u8(hbytes, vdupq_n_s8(std::int8_t(-2 * rr))), two);
          const int8x16_t q = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(lo4, vshlq_n_u8(hi2, 4))), bias);
          const int32x4_t isum = vdotq_s32(vdupq_n_s32(0), q, vld1q_s8(x.qs + 16 * half));
          acc = vfmaq_n_f32(acc, vcvtq_f32_s32(isum), x.d * d * float(blk.scales[2 * k + half]));
        }
      }
    }
    out[r] = vaddvq_f32(acc);
  }
}

// --- every GGUF block type with sdot: the K types, Q4_1 / Q5_0 / Q5_1 (int8_units.hpp) and Q8_0 / Q4_0 ---
// Each piece of 32 quants unpacked into two registers of 16 signed values
// q - kOffset (at most 6 bits; Q8_0's are int8 already), so sdot needs no offset term; per
// half an exact int32 sum in 4 lanes, scaled by xd * a_h; the mins summed
// apart. The matvec is the GEMM's tile of one row by one token: both give
// every (row, token) the same bits, whatever the tiles.

// Bit l % 8 of byte b[l / 8] for l = 0..15, as `value` in byte l.
KDOT inline uint8x16_t bits16(const std::uint8_t* b, std::uint8_t value) {
  static const std::uint8_t kBit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t spread = vcombine_u8(vdup_n_u8(b[0]), vdup_n_u8(b[1]));
  return vandq_u8(vtstq_u8(spread, vld1q_u8(kBit)), vdupq_n_u8(value));
}

// Bit k of each of 16 bytes, as `value`.
KDOT inline uint8x16_t bit_k16(const std::uint8_t* p, int k, std::uint8_t value) {
  return vandq_u8(vtstq_u8(vld1q_u8(p), vdupq_n_u8(std::uint8_t(1 << k))), vdupq_n_u8(value));
}

// Bits 2s, 2s + 1 of each of 16 bytes.
KDOT inline uint8x16_t two_bits16(const std::uint8_t* p, int s) {
  return vandq_u8(vshlq_u8(vld1q_u8(p), vdupq_n_s8(std::int8_t(-2 * s))), vdupq_n_u8(3));
}

// The low (even k) or high (odd k) nibbles of 16 bytes.
KDOT inline uint8x16_t nibbles16(const std::uint8_t* p, int k) {
  return vandq_u8(vshlq_u8(vld1q_u8(p), vdupq_n_s8(std::int8_t(-4 * (k & 1)))), vdupq_n_u8(0x0f));
}

KDOT inline int8x16_t minus(uint8x16_t q, int offset) {
  return vsubq_s8(vreinterpretq_s8_u8(q), vdupq_n_s8(std::int8_t(offset)));
}

// Q8_0 and Q4_0 in the units' form: one piece, one scale, no min. They are
// not in int8_units.hpp because Q8_0's quants are signed 8-bit (no
// unsigned-minus-offset form) and the x86 files have kernels of their own for
// both; here the generic tiles serve them as they serve the rest.
template <typename B>
struct UnitOneScale {
  using Block = B;
  static constexpr int kPieces = 1;
  static constexpr bool kHalves = false, kMin = false;
  static std::uint16_t d(const Block& b) { return b.d; }
  static std::uint16_t dmin(const Block&) { return 0; }
  static void scales(const Block&, float d, float, units::PieceScales* s) { s[0] = {{d, d}, {0, 0}}; }
};
using UnitQ8_0 = UnitOneScale<BlockQ8_0>;
using UnitQ4_0 = UnitOneScale<BlockQ4_0>;

// q[h] = values 16h .. 16h + 15 of piece k, minus the type's offset.
KDOT inline void piece(const BlockQ8_0& b, int, int8x16_t* q) { q[0] = vld1q_s8(b.qs), q[1] = vld1q_s8(b.qs + 16); }
KDOT inline void piece(const BlockQ4_0& b, int, int8x16_t* q) {
  q[0] = minus(nibbles16(b.qs, 0), 8), q[1] = minus(nibbles16(b.qs, 1), 8);
}
KDOT inline void piece(const BlockQ4_1& b, int, int8x16_t* q) {
  q[0] = minus(nibbles16(b.qs, 0), 0), q[1] = minus(nibbles16(b.qs, 1), 0);
}
KDOT inline void piece(const BlockQ5_0& b, int, int8x16_t* q) {
  q[0] = minus(vorrq_u8(nibbles16(b.qs, 0), bits16(b.qh, 0x10)), 16);
  q[1] = minus(vorrq_u8(nibbles16(b.qs, 1), bits16(b.qh + 2, 0x10)), 16);
}
KDOT inline void piece(const BlockQ5_1& b, int, int8x16_t* q) {
  q[0] = minus(vorrq_u8(nibbles16(b.qs, 0), bits16(b.qh, 0x10)), 0);
  q[1] = minus(vorrq_u8(nibbles16(b.qs, 1), bits16(b.qh + 2, 0x10)), 0);
}
KDOT inline void piece(const BlockQ2_K& b, int k, int8x16_t* q) {
  for (int h = 0; h < 2; h++) q[h] = minus(two_bits16(b.qs + 32 * (k / 4) + 16 * h, k % 4), 0);
}
KDOT inline void piece(const BlockQ3_K& b, int k, int8x16_t* q) {
  for (int h = 0; h < 2; h++) {
    q[h] = minus(vorrq_u8(two_bits16(b.qs + 32 * (k / 4) + 16 * h, k % 4), bit_k16(b.hmask + 16 * h, k, 4)), 4);
  }
}
KDOT inline void piece(const BlockQ4_K& b, int k, int8x16_t* q) {
  for (int h = 0; h < 2; h++) q[h] = minus(nibbles16(b.qs + 32 * (k / 2) + 16 * h, k), 0);
}
KDOT inline void piece(const BlockQ5_K& b, int k, int8x16_t* q) {
  for (int h = 0; h < 2; h++) {
    q[h] = minus(vorrq_u8(nibbles16(b.qs + 32 * (k / 2) + 16 * h, k), bit_k16(b.qh + 16 * h, k, 0x10)), 0);
  }
}
KDOT inline void piece(const BlockQ6_K& b, int k, int8x16_t* q) {
  const int hh = k / 4, r = k % 4;
  for (int h = 0; h < 2; h++) {
    const uint8x16_t low = nibbles16(b.ql + 64 * hh + 32 * (r & 1) + 16 * h, r / 2);
    q[h] = minus(vorrq_u8(low, vshlq_n_u8(two_bits16(b.qh + 32 * hh + 16 * h, r), 4)), 32);
  }
}

// A tile of R rows of type U by T tokens (token t's blocks at xq + t * n_blocks).
template <typename U, int R, int T>
KDOT inline void unit_tile(float* out, std::size_t ldo, const std::uint8_t* w, std::size_t row_bytes,
                           const BlockQ8x32* xq, std::size_t n_blocks) {
  using Block = typename U::Block;
  float32x4_t acc[R][T];
  float mins[R][T];
  for (int r = 0; r < R; r++) {
    for (int t = 0; t < T; t++) acc[r][t] = vdupq_n_f32(0.0f), mins[r][t] = 0.0f;
  }
  for (std::size_t u = 0; u < n_blocks / U::kPieces; u++) {
    const Block* blk[R];
    units::PieceScales s[R][U::kPieces];
    for (int r = 0; r < R; r++) {
      blk[r] = reinterpret_cast<const Block*>(w + r * row_bytes) + u;
      U::scales(*blk[r], fp16_to_fp32(U::d(*blk[r])), fp16_to_fp32(U::dmin(*blk[r])), s[r]);
    }
    for (int k = 0; k < U::kPieces; k++) {
      int8x16_t q[R][2];
      for (int r = 0; r < R; r++) piece(*blk[r], k, q[r]);
      for (int t = 0; t < T; t++) {
        const BlockQ8x32& x = xq[t * n_blocks + U::kPieces * u + std::size_t(k)];
        const int8x16_t x0 = vld1q_s8(x.qs), x1 = vld1q_s8(x.qs + 16);
        for (int r = 0; r < R; r++) {
          const units::PieceScales& ps = s[r][k];
          if (U::kHalves) {
            acc[r][t] = vfmaq_n_f32(acc[r][t], vcvtq_f32_s32(vdotq_s32(vdupq_n_s32(0), q[r][0], x0)), ps.a[0] * x.d);
            acc[r][t] = vfmaq_n_f32(acc[r][t], vcvtq_f32_s32(vdotq_s32(vdupq_n_s32(0), q[r][1], x1)), ps.a[1] * x.d);
          } else {
            const int32x4_t isum = vdotq_s32(vdotq_s32(vdupq_n_s32(0), q[r][0], x0), q[r][1], x1);
            acc[r][t] = vfmaq_n_f32(acc[r][t], vcvtq_f32_s32(isum), ps.a[0] * x.d);
          }
          // Spelled as fma so every tile shape rounds it the same way (a
          // compiler left to contract `a + b * c` may do so in one tile and
          // not in another, and then splits would not be bit-identical).
          if (U::kMin) {
            const float m = std::fma(ps.m[0], float(x.sums[0]), ps.m[1] * float(x.sums[1]));
            mins[r][t] = std::fma(x.d, m, mins[r][t]);
          }
        }
      }
    }
  }
  for (int t = 0; t < T; t++) {
    for (int r = 0; r < R; r++) out[t * ldo + r] = vaddvq_f32(acc[r][t]) - mins[r][t];
  }
}

template <typename U>
KDOT void matvec_units(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  for (std::size_t r = r0; r < r1; r++) unit_tile<U, 1, 1>(out + r, 0, w.row(r), w.row_bytes, xq, w.cols / 32);
}

// Tiles of 2 rows by 4 tokens, then what is left one row or one token at a time.
template <typename U>
KDOT void matmat_units(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                       std::size_t n_tokens) {
  constexpr int kR = 2, kT = 4;
  const std::size_t n_blocks = w.cols / 32, row_bytes = w.row_bytes;
  for (std::size_t i = 0; i < n_rows; i += kR) {
    const std::uint8_t* rows = w.row(i);
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

// The entry of type U: sdot kernels where the CPU has them, else the scalar reference's.
template <typename U>
WeightKernels units_entry(const WeightKernels& ref, bool sdot, MatvecInt8Fn* own_matvec) {
  if (!sdot) return ref;
  return {ref.matvec, own_matvec ? own_matvec : matvec_units<U>, matmat_units<U>};
}

Kernels make_table() {
  const Kernels& ref = kernels_scalar();
  // quantize_q8x32, transpose, softmax and swiglu: the scalar code (auto-vectorized where it can be).
  Kernels k{.isa = Isa::NEON, .dot = dot, .axpy = axpy, .sum_squares = sum_squares,
            .quantize_q8x32 = ref.quantize_q8x32, .attention_scores = attention_scores,
            .attention_values = attention_values, .attention_scores_f16 = attention_scores_f16,
            .attention_values_f16 = attention_values_f16, .matmat_f32 = matmat_f32, .transpose = ref.transpose,
            .softmax = ref.softmax, .swiglu = ref.swiglu};
  // Weight types: {matvec, matvec_int8, matmat_int8}. The GGUF blocks' fp32
  // matvecs (LLAMA2_INT8_DOT=0) are the scalar code (compiled for aarch64,
  // auto-vectorized); the integer kernels need the dot product instructions
  // (without them, the scalar ones). Every block type's int8 matvec and GEMM
  // are the sdot tiles above, except the hand-written Q4_K / Q6_K matvecs.
  const bool sdot = cpu_features().neon_dotprod;
  k.weight(WeightType::F32) = {matvec_f32};
  k.weight(WeightType::F16) = {matvec_16bit<load_half4, fp16_to_fp32>};
  k.weight(WeightType::BF16) = {matvec_16bit<load_bf16x4, bf16_to_fp32>};
  k.weight(WeightType::Q8_GROUP) = {matvec_q8_group};
  k.weight(WeightType::Q8_0) = units_entry<UnitQ8_0>(ref.weight(WeightType::Q8_0), sdot, nullptr);
  k.weight(WeightType::Q4_0) = units_entry<UnitQ4_0>(ref.weight(WeightType::Q4_0), sdot, nullptr);
  k.weight(WeightType::Q4_1) = units_entry<units::Q4_1>(ref.weight(WeightType::Q4_1), sdot, nullptr);
  k.weight(WeightType::Q5_0) = units_entry<units::Q5_0>(ref.weight(WeightType::Q5_0), sdot, nullptr);
  k.weight(WeightType::Q5_1) = units_entry<units::Q5_1>(ref.weight(WeightType::Q5_1), sdot, nullptr);
  k.weight(WeightType::Q2_K) = units_entry<units::Q2_K>(ref.weight(WeightType::Q2_K), sdot, nullptr);
  k.weight(WeightType::Q3_K) = units_entry<units::Q3_K>(ref.weight(WeightType::Q3_K), sdot, nullptr);
  k.weight(WeightType::Q4_K) = units_entry<units::Q4_K>(ref.weight(WeightType::Q4_K), sdot, matvec_q4_k_dot);
  k.weight(WeightType::Q5_K) = units_entry<units::Q5_K>(ref.weight(WeightType::Q5_K), sdot, nullptr);
  k.weight(WeightType::Q6_K) = units_entry<units::Q6_K>(ref.weight(WeightType::Q6_K), sdot, matvec_q6_k_dot);
  return k;
}

}  // namespace

const Kernels* kernels_neon_table() {
  static const Kernels table = make_table();
  return &table;
}

}  // namespace llama2

#else

namespace llama2 {
const Kernels* kernels_neon_table() { return nullptr; }
}  // namespace llama2

#endif

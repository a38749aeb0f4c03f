// Scalar dequantization of every weight type (the reference the SIMD kernels
// are tested against; weight_types.hpp's table points here), and the
// Q8_0/Q4_0 quantizers.
#include "kernels/quants.hpp"

#include <cmath>
#include <cstring>

#include "kernels/fp16.hpp"

namespace llama2 {

void scale_min_k4(int j, const std::uint8_t* q, std::uint8_t* sc, std::uint8_t* mn) {
  // Bytes 0..3 hold scales 0..3, bytes 4..7 mins 0..3 (low 6 bits each);
  // bytes 8..11 hold the low 4 bits of scale/min 4..7 (scale low nibble, min
  // high nibble), whose top 2 bits are the spare top bits of bytes 0..7.
  if (j < 4) {
    *sc = q[j] & 63;
    *mn = q[j + 4] & 63;
  } else {
    *sc = std::uint8_t((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *mn = std::uint8_t((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// --- 16- and 32-bit floats ------------------------------------------------------

void dequantize_f32(const void* blocks, float* y, std::size_t n) { std::memcpy(y, blocks, n * sizeof(float)); }

void dequantize_f16(const void* blocks, float* y, std::size_t n) {
  const auto* h = static_cast<const std::uint16_t*>(blocks);
  for (std::size_t i = 0; i < n; i++) y[i] = fp16_to_fp32(h[i]);
}

void dequantize_bf16(const void* blocks, float* y, std::size_t n) {
  const auto* h = static_cast<const std::uint16_t*>(blocks);
  for (std::size_t i = 0; i < n; i++) y[i] = bf16_to_fp32(h[i]);
}

// --- 32-value blocks ------------------------------------------------------------

void dequantize_q8_0(const void* blocks, float* y, std::size_t nb) {
  const auto* b = static_cast<const BlockQ8_0*>(blocks);
  for (std::size_t i = 0; i < nb; i++, y += kQK) {
    const float d = fp16_to_fp32(b[i].d);
    for (std::size_t j = 0; j < kQK; j++) y[j] = d * float(b[i].qs[j]);
  }
}

void dequantize_q4_0(const void* blocks, float* y, std::size_t nb) {
  const auto* b = static_cast<const BlockQ4_0*>(blocks);
  for (std::size_t i = 0; i < nb; i++, y += kQK) {
    const float d = fp16_to_fp32(b[i].d);
    for (std::size_t j = 0; j < kQK / 2; j++) {
      y[j] = d * float(int(b[i].qs[j] & 0xF) - 8);
      y[j + kQK / 2] = d * float(int(b[i].qs[j] >> 4) - 8);
    }
  }
}

void dequantize_q4_1(const void* blocks, float* y, std::size_t nb) {
  const auto* b = static_cast<const BlockQ4_1*>(blocks);
  for (std::size_t i = 0; i < nb; i++, y += kQK) {
    const float d = fp16_to_fp32(b[i].d), m = fp16_to_fp32(b[i].m);
    for (std::size_t j = 0; j < kQK / 2; j++) {
      y[j] = d * float(b[i].qs[j] & 0xF) + m;
      y[j + kQK / 2] = d * float(b[i].qs[j] >> 4) + m;
    }
  }
}

namespace {

// The 5-bit quant j (0..31) of a Q5_0/Q5_1 block.
int q5(const std::uint8_t* qs, std::uint32_t qh, std::size_t j) {
  const int low = j < kQK / 2 ? (qs[j] & 0xF) : (qs[j - kQK / 2] >> 4);
  return low | int(((qh >> j) & 1) << 4);
}

}  // namespace

void dequantize_q5_0(const void* blocks, float* y, std::size_t nb) {
  const auto* b = static_cast<const BlockQ5_0*>(blocks);
  for (std::size_t i = 0; i < nb; i++, y += kQK) {
    const float d = fp16_to_fp32(b[i].d);
    std::uint32_t qh;
    std::memcpy(&qh, b[i].qh, 4);
    for (std::size_t j = 0; j < kQK; j++) y[j] = d * float(q5(b[i].qs, qh, j) - 16);
  }
}

void dequantize_q5_1(const void* blocks, float* y, std::size_t nb) {
  const auto* b = static_cast<const BlockQ5_1*>(blocks);
  for (std::size_t i = 0; i < nb; i++, y += kQK) {
    const float d = fp16_to_fp32(b[i].d), m = fp16_to_fp32(b[i].m);
    std::uint32_t qh;
    std::memcpy(&qh, b[i].qh, 4);
    for (std::size_t j = 0; j < kQK; j++) y[j] = d * float(q5(b[i].qs, qh, j)) + m;
  }
}

// --- K super-blocks of 256 values ------------------------------------------------

// Q2_K: the block is two halves of 128 values. In half h, value 32*s + l
// (s = 0..3, l = 0..31) is bits 2s..2s+1 of qs[32h + l]; it belongs to
// sub-block 8h + 2s + l/16, whose scales[] byte holds scale (low nibble)
// and min (high nibble).
void dequantize_q2_k(const void* blocks, float* y, std::size_t nb) {
  const auto* b = static_cast<const BlockQ2_K*>(blocks);
  for (std::size_t i = 0; i < nb; i++) {
    const float d = fp16_to_fp32(b[i].d), dmin = fp16_to_fp32(b[i].dmin);
    for (int h = 0; h < 2; h++) {
      for (int s = 0; s < 4; s++) {
        for (int l = 0; l < 32; l++) {
          const std::uint8_t sc = b[i].scales[8 * h + 2 * s + l / 16];
          const int q = (b[i].qs[32 * h + l] >> (2 * s)) & 3;
          *y++ = d * float(sc & 0xF) * float(q) - dmin * float(sc >> 4);
        }
      }
    }
  }
}

// Q3_K: as Q2_K for the low two bits; the third bit of value 128h + 32s + l
// is bit (4h + s) of hmask[l]; a clear high bit means q - 4. Sub-block k's
// 6-bit scale: low 4 bits are the low (k < 8) or high (k >= 8) nibble of
// scales[k % 8], high 2 bits are bits 2*(k/4)..+1 of scales[8 + k % 4].
void dequantize_q3_k(const void* blocks, float* y, std::size_t nb) {
  const auto* b = static_cast<const BlockQ3_K*>(blocks);
  for (std::size_t i = 0; i < nb; i++) {
    const float d = fp16_to_fp32(b[i].d);
    int scale[16];
    for (int k = 0; k < 16; k++) {
      const int low = k < 8 ? (b[i].scales[k] & 0xF) : (b[i].scales[k - 8] >> 4);
      const int high = (b[i].scales[8 + k % 4] >> (2 * (k / 4))) & 3;
      scale[k] = (low | (high << 4)) - 32;
    }
    for (int h = 0; h < 2; h++) {
      for (int s = 0; s < 4; s++) {
        for (int l = 0; l < 32; l++) {
          const int low = (b[i].qs[32 * h + l] >> (2 * s)) & 3;
          const bool high = (b[i].hmask[l] >> (4 * h + s)) & 1;
          *y++ = d * float(scale[8 * h + 2 * s + l / 16]) * float(low - (high ? 0 : 4));
        }
      }
    }
  }
}

// Q4_K: four chunks of 64 values; chunk c is qs[32c .. 32c+32): low nibbles
// are sub-block 2c, high nibbles sub-block 2c + 1.
void dequantize_q4_k(const void* blocks, float* y, std::size_t nb) {
  const auto* b = static_cast<const BlockQ4_K*>(blocks);
  for (std::size_t i = 0; i < nb; i++) {
    const float d = fp16_to_fp32(b[i].d), dmin = fp16_to_fp32(b[i].dmin);
    for (int c = 0; c < 4; c++) {
      const std::uint8_t* q = b[i].qs + 32 * c;
      for (int half = 0; half < 2; half++) {
        std::uint8_t sc, mn;
        scale_min_k4(2 * c + half, b[i].scales, &sc, &mn);
        for (int l = 0; l < 32; l++) {
          const int v = half == 0 ? (q[l] & 0xF) : (q[l] >> 4);
          *y++ = d * float(sc) * float(v) - dmin * float(mn);
        }
      }
    }
  }
}

// Q5_K: as Q4_K; the fifth bit of sub-block k's value l is bit k of qh[l].
void dequantize_q5_k(const void* blocks, float* y, std::size_t nb) {
  const auto* b = static_cast<const BlockQ5_K*>(blocks);
  for (std::size_t i = 0; i < nb; i++) {
    const float d = fp16_to_fp32(b[i].d), dmin = fp16_to_fp32(b[i].dmin);
    for (int c = 0; c < 4; c++) {
      const std::uint8_t* q = b[i].qs + 32 * c;
      for (int half = 0; half < 2; half++) {
        const int k = 2 * c + half;
        std::uint8_t sc, mn;
        scale_min_k4(k, b[i].scales, &sc, &mn);
        for (int l = 0; l < 32; l++) {
          const int v = (half == 0 ? (q[l] & 0xF) : (q[l] >> 4)) | (((b[i].qh[l] >> k) & 1) << 4);
          *y++ = d * float(sc) * float(v) - dmin * float(mn);
        }
      }
    }
  }
}

// Q6_K: two halves of 128. In half h, for l = 0..31 and r = 0..3, value
// 128h + 32r + l has low 4 bits from ql[64h + l + 32*(r & 1)] (low nibble
// for r < 2, high for r >= 2) and high 2 bits from bits 2r..2r+1 of
// qh[32h + l]; its scale is scales[8h + 2r + l/16].
void dequantize_q6_k(const void* blocks, float* y, std::size_t nb) {
  const auto* b = static_cast<const BlockQ6_K*>(blocks);
  for (std::size_t i = 0; i < nb; i++) {
    const float d = fp16_to_fp32(b[i].d);
    for (int h = 0; h < 2; h++) {
      for (int r = 0; r < 4; r++) {
        for (int l = 0; l < 32; l++) {
          const std::uint8_t lbyte = b[i].ql[64 * h + l + 32 * (r & 1)];
          const int low = r < 2 ? (lbyte & 0xF) : (lbyte >> 4);
          const int high = (b[i].qh[32 * h + l] >> (2 * r)) & 3;
          const int q = (low | (high << 4)) - 32;
          *y++ = d * float(b[i].scales[8 * h + 2 * r + l / 16]) * float(q);
        }
      }
    }
  }
}

// --- quantization ------------------------------------------------------------------

void quantize_q8_0(const float* x, BlockQ8_0* y, std::size_t n) {
  for (std::size_t i = 0; i < n / kQK; i++, x += kQK) {
    float amax = 0.0f;
    for (std::size_t j = 0; j < kQK; j++) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (std::size_t j = 0; j < kQK; j++) y[i].qs[j] = std::int8_t(std::lround(x[j] * id));
  }
}

void quantize_q4_0(const float* x, BlockQ4_0* y, std::size_t n) {
  for (std::size_t i = 0; i < n / kQK; i++, x += kQK) {
    float amax = 0.0f, max = 0.0f;
    for (std::size_t j = 0; j < kQK; j++) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    auto q = [&](float v) {
      const float t = v * id + 8.5f;  // in [0.5, 16.5]: truncation rounds
      return std::uint8_t(t >= 15.0f ? 15 : t <= 0.0f ? 0 : int(t));
    };
    for (std::size_t j = 0; j < kQK / 2; j++) y[i].qs[j] = std::uint8_t(q(x[j]) | (q(x[j + kQK / 2]) << 4));
  }
}

}  // namespace llama2

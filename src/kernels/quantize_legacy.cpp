// Quantizers of the floats and the 32-value block types (layouts in
// quants.hpp): each block is fitted by quantize_fit.cpp's searches, its
// scale (and offset) rounded to fp16 as stored, and the quants recomputed
// against the rounded values so the file holds exactly the fitted block.
#include <cstdint>
#include <cstring>
#include <string>

#include "kernels/fp16.hpp"
#include "kernels/quantize.hpp"
#include "kernels/quantize_fit.hpp"
#include "llama2/error.hpp"

namespace llama2 {

namespace {

// One symmetric block x ~ d * q, q in [qmin, qmax]: returns d as stored
// (fp16) and q fitted to it.
std::uint16_t fit_block_symmetric(const float* x, int qmin, int qmax, int* q) {
  float w[kQK];                 // (32) importance of each value
  std::int8_t fitted[kQK];      // (32) the fit's quants, before rounding d
  importance_weights(x, kQK, w);
  const std::uint16_t d16 = fp32_to_fp16(fit_symmetric(x, w, kQK, qmin, qmax, fitted));
  const float d = fp16_to_fp32(d16);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (std::size_t j = 0; j < kQK; j++) q[j] = round_clamp(x[j] * id, qmin, qmax);
  return d16;
}

// One affine block x ~ d * q + m, q in [0, qmax], m free: d and m as stored.
void fit_block_affine(const float* x, int qmax, std::uint16_t* d16, std::uint16_t* m16, int* q) {
  float w[kQK];              // (32) importance of each value
  std::uint8_t fitted[kQK];  // (32) the fit's quants, before rounding d and m
  importance_weights(x, kQK, w);
  float m;
  *d16 = fp32_to_fp16(fit_affine(x, w, kQK, qmax, false, fitted, &m));
  *m16 = fp32_to_fp16(m);
  const float d = fp16_to_fp32(*d16), mr = fp16_to_fp32(*m16);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (std::size_t j = 0; j < kQK; j++) q[j] = round_clamp((x[j] - mr) * id, 0, qmax);
}

// Nibbles as Q4_0 stores them: byte j holds value j (low) and j + 16 (high).
void pack_nibbles(const int* q, std::uint8_t* qs) {
  for (std::size_t j = 0; j < kQK / 2; j++) qs[j] = std::uint8_t((q[j] & 0xF) | ((q[j + kQK / 2] & 0xF) << 4));
}

// The fifth bits of 32 five-bit quants: bit j of a little-endian uint32.
void pack_fifth_bits(const int* q, std::uint8_t* qh) {
  std::uint32_t h = 0;
  for (std::size_t j = 0; j < kQK; j++) h |= std::uint32_t((q[j] >> 4) & 1) << j;
  std::memcpy(qh, &h, 4);
}

}  // namespace

// --- 32-value blocks ------------------------------------------------------------

void quantize_row_q8_0(const float* x, BlockQ8_0* y, std::size_t n) {
  int q[kQK];  // (32) quants of one block
  for (std::size_t i = 0; i < n / kQK; i++, x += kQK) {
    // [-127, 127]: the int8 dot kernels negate quants, and -(-128) overflows.
    y[i].d = fit_block_symmetric(x, -127, 127, q);
    for (std::size_t j = 0; j < kQK; j++) y[i].qs[j] = std::int8_t(q[j]);
  }
}

void quantize_row_q4_0(const float* x, BlockQ4_0* y, std::size_t n) {
  int q[kQK];  // (32) quants of one block, then stored as q + 8
  for (std::size_t i = 0; i < n / kQK; i++, x += kQK) {
    y[i].d = fit_block_symmetric(x, -8, 7, q);
    for (int& v : q) v += 8;
    pack_nibbles(q, y[i].qs);
  }
}

void quantize_row_q5_0(const float* x, BlockQ5_0* y, std::size_t n) {
  int q[kQK];  // (32) quants of one block, then stored as q + 16
  for (std::size_t i = 0; i < n / kQK; i++, x += kQK) {
    y[i].d = fit_block_symmetric(x, -16, 15, q);
    for (int& v : q) v += 16;
    pack_nibbles(q, y[i].qs);
    pack_fifth_bits(q, y[i].qh);
  }
}

void quantize_row_q4_1(const float* x, BlockQ4_1* y, std::size_t n) {
  int q[kQK];  // (32) quants of one block
  for (std::size_t i = 0; i < n / kQK; i++, x += kQK) {
    fit_block_affine(x, 15, &y[i].d, &y[i].m, q);
    pack_nibbles(q, y[i].qs);
  }
}

void quantize_row_q5_1(const float* x, BlockQ5_1* y, std::size_t n) {
  int q[kQK];  // (32) quants of one block
  for (std::size_t i = 0; i < n / kQK; i++, x += kQK) {
    fit_block_affine(x, 31, &y[i].d, &y[i].m, q);
    pack_nibbles(q, y[i].qs);
    pack_fifth_bits(q, y[i].qh);
  }
}

// --- every type -------------------------------------------------------------------

bool can_quantize(WeightType type) { return type != WeightType::Q8_GROUP && std::size_t(type) <= std::size_t(WeightType::Q6_K); }

void quantize_row(WeightType type, const float* x, void* y, std::size_t n) {
  switch (type) {
    case WeightType::F32: std::memcpy(y, x, n * sizeof(float)); return;
    case WeightType::F16:
    case WeightType::BF16: {
      auto* h = static_cast<std::uint16_t*>(y);
      for (std::size_t j = 0; j < n; j++) h[j] = type == WeightType::F16 ? fp32_to_fp16(x[j]) : fp32_to_bf16(x[j]);
      return;
    }
    case WeightType::Q8_0: return quantize_row_q8_0(x, static_cast<BlockQ8_0*>(y), n);
    case WeightType::Q4_0: return quantize_row_q4_0(x, static_cast<BlockQ4_0*>(y), n);
    case WeightType::Q4_1: return quantize_row_q4_1(x, static_cast<BlockQ4_1*>(y), n);
    case WeightType::Q5_0: return quantize_row_q5_0(x, static_cast<BlockQ5_0*>(y), n);
    case WeightType::Q5_1: return quantize_row_q5_1(x, static_cast<BlockQ5_1*>(y), n);
    case WeightType::Q2_K: return quantize_row_q2_k(x, static_cast<BlockQ2_K*>(y), n);
    case WeightType::Q3_K: return quantize_row_q3_k(x, static_cast<BlockQ3_K*>(y), n);
    case WeightType::Q4_K: return quantize_row_q4_k(x, static_cast<BlockQ4_K*>(y), n);
    case WeightType::Q5_K: return quantize_row_q5_k(x, static_cast<BlockQ5_K*>(y), n);
    case WeightType::Q6_K: return quantize_row_q6_k(x, static_cast<BlockQ6_K*>(y), n);
    case WeightType::Q8_GROUP:
    case WeightType::Q4_0_X8:
    case WeightType::Q4_K_X8:
    case WeightType::Q5_K_X2:
    case WeightType::Q6_K_X2:
    case WeightType::Q4_0_X16:
    case WeightType::Q8_0_X16: break;  // not file types
  }
  throw Error("quantize_row: cannot write weight type " + std::string(weight_type_name(type)));
}

}  // namespace llama2

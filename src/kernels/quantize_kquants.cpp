// Quantizers of the K types: 256-value super-blocks of 8 or 16 sub-blocks
// (layouts in quants.hpp, bit positions beside each dequantize function in
// quants.cpp).
//
// A K block is quantized twice over: each sub-block's values against its own
// scale (and min), and those scales against the super-block's fp16 d (and
// dmin) as small integers (4, 6 or 8 bits). We fit in that order:
//   1. each sub-block alone (quantize_fit.cpp), giving a float scale s_j
//      (and min m_j);
//   2. d = the largest |s_j| over the scale levels (so no scale clips), d
//      rounded to fp16 as stored;
//   3. for each sub-block, the integer scale (and min) among the nearest
//      levels to s_j / d (and m_j / dmin) whose requantized values give the
//      least weighted error: rounding a scale to the nearest level is not
//      always the best choice once the values are re-rounded to it.
// The importance weights are the whole super-block's (w_i = sigma2 + x_i^2),
// so step 3 trades error between sub-blocks on one scale.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/fp16.hpp"
#include "kernels/quantize.hpp"
#include "kernels/quantize_fit.hpp"

namespace llama2 {

namespace {

// A fitted affine super-block: w = d * ls[j] * q - dmin * lm[j].
struct AffineFit {
  std::uint16_t d, dmin;       // fp16, as stored
  std::uint8_t ls[16], lm[16];  // (sub-blocks) integer scales and mins
  std::uint8_t q[kQK_K];        // (256) quants in [0, qmax]
};

// A fitted symmetric super-block: w = d * ls[j] * q.
struct SymmetricFit {
  std::uint16_t d;              // fp16, as stored
  int ls[16];                   // (sub-blocks) integer scales in [lmin, lmax]
  int q[kQK_K];                 // (256) quants in [qmin, qmax]
};

void fit_affine_super(const float* x, int sub, int qmax, int levels, AffineFit* f) {
  const int n_sub = int(kQK_K) / sub;
  float w[kQK_K];  // (256) importance of each value
  importance_weights(x, kQK_K, w);
  float s[16], m[16];  // (sub-blocks) fitted float scales and mins (m = -offset >= 0)
  float max_s = 0, max_m = 0;
  for (int j = 0; j < n_sub; j++) {
    float b;
    s[j] = fit_affine(x + sub * j, w + sub * j, sub, qmax, true, f->q + sub * j, &b);
    m[j] = -b;
    max_s = std::fmax(max_s, s[j]);
    max_m = std::fmax(max_m, m[j]);
  }
  f->d = fp32_to_fp16(max_s / float(levels));
  f->dmin = fp32_to_fp16(max_m / float(levels));
  const float d = fp16_to_fp32(f->d), dmin = fp16_to_fp32(f->dmin);
  std::uint8_t q[32];  // (sub) one candidate's quants
  for (int j = 0; j < n_sub; j++) {
    const float* xj = x + sub * j;
    const float* wj = w + sub * j;
    const int ls0 = d > 0 ? round_clamp(s[j] / d, 0, levels) : 0;
    const int lm0 = dmin > 0 ? round_clamp(m[j] / dmin, 0, levels) : 0;
    double best = INFINITY;
    for (int ls = std::max(0, ls0 - 1); ls <= std::min(levels, ls0 + 1); ls++) {
      for (int lm = std::max(0, lm0 - 1); lm <= std::min(levels, lm0 + 1); lm++) {
        const float scale = d * float(ls), min = dmin * float(lm);
        const float is = scale > 0 ? 1.0f / scale : 0.0f;
        for (int i = 0; i < sub; i++) q[i] = std::uint8_t(round_clamp((xj[i] + min) * is, 0, qmax));
        const double err = fit_error(xj, wj, sub, scale, -min, q);
        if (err < best) {
          best = err;
          f->ls[j] = std::uint8_t(ls);
          f->lm[j] = std::uint8_t(lm);
          std::memcpy(f->q + sub * j, q, std::size_t(sub));
        }
      }
    }
  }
}

void fit_symmetric_super(const float* x, int sub, int qmin, int qmax, int lmin, int lmax, SymmetricFit* f) {
  const int n_sub = int(kQK_K) / sub;
  float w[kQK_K];  // (256) importance of each value
  importance_weights(x, kQK_K, w);
  float s[16];            // (sub-blocks) fitted float scales, signed
  std::int8_t q8[kQK_K];  // (256) the sub-block fits' quants
  float smax = 0;         // the scale of largest magnitude, with its sign
  for (int j = 0; j < n_sub; j++) {
    s[j] = fit_symmetric(x + sub * j, w + sub * j, sub, qmin, qmax, q8 + sub * j);
    if (std::fabs(s[j]) > std::fabs(smax)) smax = s[j];
  }
  // The largest scale maps to lmin, the end of the lopsided range with one more level.
  f->d = fp32_to_fp16(smax / float(lmin));
  const float d = fp16_to_fp32(f->d);
  std::int8_t q[32];  // (sub) one candidate's quants
  for (int j = 0; j < n_sub; j++) {
    const float* xj = x + sub * j;
    const float* wj = w + sub * j;
    const int ls0 = d != 0 ? round_clamp(s[j] / d, lmin, lmax) : 0;
    double best = INFINITY;
    for (int ls = std::max(lmin, ls0 - 1); ls <= std::min(lmax, ls0 + 1); ls++) {
      const float scale = d * float(ls);
      const float is = scale != 0 ? 1.0f / scale : 0.0f;
      for (int i = 0; i < sub; i++) q[i] = std::int8_t(round_clamp(xj[i] * is, qmin, qmax));
      const double err = fit_error(xj, wj, sub, scale, 0.0f, q);
      if (err < best) {
        best = err;
        f->ls[j] = ls;
        for (int i = 0; i < sub; i++) f->q[sub * j + i] = q[i];
      }
    }
  }
}

// Packs 8 6-bit scales and mins as scale_min_k4 (quants.cpp) reads them.
void pack_scales_k4(const std::uint8_t* ls, const std::uint8_t* lm, std::uint8_t* scales) {
  for (int j = 0; j < 4; j++) {
    scales[j] = std::uint8_t(ls[j] | ((ls[j + 4] >> 4) << 6));
    scales[j + 4] = std::uint8_t(lm[j] | ((lm[j + 4] >> 4) << 6));
    scales[j + 8] = std::uint8_t((ls[j + 4] & 0xF) | ((lm[j + 4] & 0xF) << 4));
  }
}

}  // namespace

// --- Q2_K: 16 sub-blocks of 16, 2-bit quants, 4-bit scales and mins --------------

void quantize_row_q2_k(const float* x, BlockQ2_K* y, std::size_t n) {
  AffineFit f;
  for (std::size_t i = 0; i < n / kQK_K; i++, x += kQK_K) {
    fit_affine_super(x, 16, 3, 15, &f);
    y[i].d = f.d;
    y[i].dmin = f.dmin;
    for (int j = 0; j < 16; j++) y[i].scales[j] = std::uint8_t(f.ls[j] | (f.lm[j] << 4));
    std::memset(y[i].qs, 0, sizeof y[i].qs);
    // Value 128h + 32s + l: bits 2s..2s+1 of qs[32h + l].
    for (int v = 0; v < int(kQK_K); v++) {
      const int h = v / 128, s = (v % 128) / 32, l = v % 32;
      y[i].qs[32 * h + l] |= std::uint8_t(f.q[v] << (2 * s));
    }
  }
}

// --- Q3_K: 16 sub-blocks of 16, 3-bit quants, 6-bit signed scales ----------------

void quantize_row_q3_k(const float* x, BlockQ3_K* y, std::size_t n) {
  SymmetricFit f;
  for (std::size_t i = 0; i < n / kQK_K; i++, x += kQK_K) {
    fit_symmetric_super(x, 16, -4, 3, -32, 31, &f);
    y[i].d = f.d;
    std::memset(y[i].scales, 0, sizeof y[i].scales);
    for (int k = 0; k < 16; k++) {
      const int sc = f.ls[k] + 32;  // 0..63
      y[i].scales[k % 8] |= std::uint8_t((sc & 0xF) << (k < 8 ? 0 : 4));
      y[i].scales[8 + k % 4] |= std::uint8_t((sc >> 4) << (2 * (k / 4)));
    }
    std::memset(y[i].qs, 0, sizeof y[i].qs);
    std::memset(y[i].hmask, 0, sizeof y[i].hmask);
    // Value 128h + 32s + l, stored as q + 4: low 2 bits at bits 2s of
    // qs[32h + l], the third at bit 4h + s of hmask[l].
    for (int v = 0; v < int(kQK_K); v++) {
      const int h = v / 128, s = (v % 128) / 32, l = v % 32;
      const int u = f.q[v] + 4;
      y[i].qs[32 * h + l] |= std::uint8_t((u & 3) << (2 * s));
      y[i].hmask[l] |= std::uint8_t((u >> 2) << (4 * h + s));
    }
  }
}

// --- Q4_K / Q5_K: 8 sub-blocks of 32, 4- or 5-bit quants, 6-bit scales and mins ----

void quantize_row_q4_k(const float* x, BlockQ4_K* y, std::size_t n) {
  AffineFit f;
  for (std::size_t i = 0; i < n / kQK_K; i++, x += kQK_K) {
    fit_affine_super(x, 32, 15, 63, &f);
    y[i].d = f.d;
    y[i].dmin = f.dmin;
    pack_scales_k4(f.ls, f.lm, y[i].scales);
    // Chunk c of 64 values: qs[32c + l] holds value 64c + l (low nibble)
    // and 64c + 32 + l (high nibble).
    for (int c = 0; c < 4; c++) {
      for (int l = 0; l < 32; l++) y[i].qs[32 * c + l] = std::uint8_t(f.q[64 * c + l] | (f.q[64 * c + 32 + l] << 4));
    }
  }
}

void quantize_row_q5_k(const float* x, BlockQ5_K* y, std::size_t n) {
  AffineFit f;
  for (std::size_t i = 0; i < n / kQK_K; i++, x += kQK_K) {
    fit_affine_super(x, 32, 31, 63, &f);
    y[i].d = f.d;
    y[i].dmin = f.dmin;
    pack_scales_k4(f.ls, f.lm, y[i].scales);
    std::memset(y[i].qh, 0, sizeof y[i].qh);
    for (int c = 0; c < 4; c++) {
      for (int l = 0; l < 32; l++) {
        const int lo = f.q[64 * c + l], hi = f.q[64 * c + 32 + l];
        y[i].qs[32 * c + l] = std::uint8_t((lo & 0xF) | ((hi & 0xF) << 4));
        // The fifth bit of sub-block k's value l is bit k of qh[l].
        y[i].qh[l] |= std::uint8_t(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
      }
    }
  }
}

// --- Q6_K: 16 sub-blocks of 16, 6-bit quants, 8-bit signed scales -----------------

void quantize_row_q6_k(const float* x, BlockQ6_K* y, std::size_t n) {
  SymmetricFit f;
  for (std::size_t i = 0; i < n / kQK_K; i++, x += kQK_K) {
    fit_symmetric_super(x, 16, -32, 31, -128, 127, &f);
    y[i].d = f.d;
    for (int k = 0; k < 16; k++) y[i].scales[k] = std::int8_t(f.ls[k]);
    std::memset(y[i].qh, 0, sizeof y[i].qh);
    // Value 128h + 32r + l, stored as q + 32: low 4 bits in
    // ql[64h + l + 32 (r & 1)] (low nibble for r < 2), high 2 bits at bits
    // 2r of qh[32h + l].
    for (int h = 0; h < 2; h++) {
      for (int l = 0; l < 32; l++) {
        int u[4];  // values 128h + 32r + l for r = 0..3, stored form
        for (int r = 0; r < 4; r++) u[r] = f.q[128 * h + 32 * r + l] + 32;
        y[i].ql[64 * h + l] = std::uint8_t((u[0] & 0xF) | ((u[2] & 0xF) << 4));
        y[i].ql[64 * h + 32 + l] = std::uint8_t((u[1] & 0xF) | ((u[3] & 0xF) << 4));
        y[i].qh[32 * h + l] = std::uint8_t((u[0] >> 4) | ((u[1] >> 4) << 2) | ((u[2] >> 4) << 4) | ((u[3] >> 4) << 6));
      }
    }
  }
}

}  // namespace llama2

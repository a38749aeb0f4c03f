// Fitting one block of a quantized type: the least-squares searches every
// quantizer (quantize_legacy.cpp, quantize_kquants.cpp) is built from.
//
// Quantizing is an optimisation, not a rounding. A block of values x_i is
// stored as integers q_i and a scale s (and for the "_1" and K types an
// offset b): x_i ~ s * q_i + b. For a fixed choice of the q_i, the best s
// and b are a weighted linear least-squares problem with a closed form; the
// q_i themselves come from rounding x_i at a candidate scale. So we try a
// grid of candidate scales around the max-abs one, solve for s (and b) at
// each, keep the one with the least weighted squared error
//     E = sum_i w_i (s q_i + b - x_i)^2,
// then polish it with a few rounds of "requantize at the fitted scale,
// refit" (each round can only lower E). Plain round-to-nearest with the
// max-abs scale is one of the candidates, so the fit is never worse than it.
//
// The weights w_i say how much an error on x_i costs. Without activation
// statistics (no imatrix), large weights matter more than small ones, but a
// block's small weights still count: w_i = sigma2 + x_i^2 with sigma2 the
// mean square of the block (llama.cpp's imatrix-less K-quants use similar
// blends of |x_i| and the block's RMS).
#pragma once

#include <cstddef>
#include <cstdint>

namespace llama2 {

// w[i] = sigma2 + x[i]^2, sigma2 the mean square of x[0..n).
void importance_weights(const float* x, std::size_t n, float* w);

// v clamped to [lo, hi] (NaN goes to lo) and rounded to the nearest
// integer, ties to even (as nearbyint in the default rounding mode): adding
// and subtracting 1.5 * 2^23 leaves no fraction bits for |v| < 2^22. Inline
// and branch-free so the fitting loops vectorize.
inline float round_clamp_f(float v, float lo, float hi) {
  v = v > lo ? v : lo;
  v = v < hi ? v : hi;
  return (v + 12582912.0f) - 12582912.0f;
}
inline int round_clamp(float v, int lo, int hi) { return int(round_clamp_f(v, float(lo), float(hi))); }

// Symmetric fit x ~ s * q, q integers in [qmin, qmax] (qmin < 0 < qmax; the
// range may be lopsided, as Q4_0's [-8, 7], so both signs of s are tried).
// Writes q[0..n) and returns s (0 for an all-zero block).
float fit_symmetric(const float* x, const float* w, int n, int qmin, int qmax, std::int8_t* q);

// Affine fit x ~ s * q + b, q integers in [0, qmax], s >= 0. With
// `offset_at_most_zero` b is kept <= 0 (the K types store -b as a
// non-negative min); otherwise b is free (Q4_1, Q5_1). Writes q[0..n) and
// *b; returns s.
float fit_affine(const float* x, const float* w, int n, int qmax, bool offset_at_most_zero, std::uint8_t* q,
                 float* b);

// Weighted squared error of x ~ s * q + b over n values.
double fit_error(const float* x, const float* w, int n, float s, float b, const std::int8_t* q);
double fit_error(const float* x, const float* w, int n, float s, float b, const std::uint8_t* q);

}  // namespace llama2

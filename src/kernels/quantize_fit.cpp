// The block-fitting searches (see quantize_fit.hpp for the idea).
#include "kernels/quantize_fit.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <span>

namespace llama2 {

namespace {

// Candidate scales: the max-abs scale times 1 + kStep * k for k in
// [-kSteps, kSteps]. Shrinking the scale clips the extreme value but rounds
// the bulk more finely; growing it does the opposite; the fit decides.
constexpr int kSteps = 10;
constexpr float kStep = 0.02f;
constexpr int kPolishRounds = 4;

// The searches evaluate many candidate scales per block, so their sums run
// in kLanes independent float accumulators (which the compiler turns into
// vector registers), added up in double at the end. A block is at most 256
// values, so float partial sums lose nothing that matters to the choice.
constexpr int kLanes = 8;

template <int K>
struct LaneSums {
  float v[K][kLanes] = {};
  double total(int k) const {
    double t = 0;
    for (int l = 0; l < kLanes; l++) t += double(v[k][l]);
    return t;
  }
};

// For x ~ s * q at inverse scale `is`: sum w q x and sum w q^2. (affine_sums
// below with origin 0 would give these too, but its third accumulator made
// Q6_K quantizing 1.47x slower: the symmetric fits keep their own loop.)
void symmetric_sums(const float* x, const float* w, int n, float is, float lo, float hi, double* swqx,
                    double* swqq) {
  LaneSums<2> t;
  for (int i0 = 0; i0 < n; i0 += kLanes) {
    const int m = std::min(kLanes, n - i0);
    for (int l = 0; l < m; l++) {
      const float x_ = x[i0 + l];
      const float q = round_clamp_f(x_ * is, lo, hi);
      const float wq = w[i0 + l] * q;
      t.v[0][l] += wq * x_;
      t.v[1][l] += wq * q;
    }
  }
  *swqx = t.total(0), *swqq = t.total(1);
}

// For x ~ s * q + b with q = round((x - origin) * is): sum w q, sum w q^2,
// sum w q x.
void affine_sums(const float* x, const float* w, int n, float is, float origin, float hi, double* swq, double* swqq,
                 double* swqx) {
  LaneSums<3> t;
  for (int i0 = 0; i0 < n; i0 += kLanes) {
    const int m = std::min(kLanes, n - i0);
    for (int l = 0; l < m; l++) {
      const float x_ = x[i0 + l];
      const float q = round_clamp_f((x_ - origin) * is, 0.0f, hi);
      const float wq = w[i0 + l] * q;
      t.v[0][l] += wq;
      t.v[1][l] += wq * q;
      t.v[2][l] += wq * x_;
    }
  }
  *swq = t.total(0), *swqq = t.total(1), *swqx = t.total(2);
}

}  // namespace

void importance_weights(const float* x, std::size_t n, float* w) {
  double sum_sq = 0;
  for (std::size_t i = 0; i < n; i++) sum_sq += double(x[i]) * x[i];
  const float sigma2 = n ? float(sum_sq / double(n)) : 0.0f;
  for (std::size_t i = 0; i < n; i++) w[i] = sigma2 + x[i] * x[i];
}

// --- symmetric: x ~ s * q ------------------------------------------------------

float fit_symmetric(const float* x, const float* w, int n, int qmin, int qmax, std::int8_t* q) {
  float amax = 0, vmax = 0;  // the value of largest magnitude, with its sign
  for (int i = 0; i < n; i++) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      vmax = x[i];
    }
  }
  if (!(amax > 1e-30f)) {
    for (int i = 0; i < n; i++) q[i] = 0;
    return 0.0f;
  }
  // For s fixed by least squares, E = sum w x^2 - (sum w q x)^2 / sum w q^2:
  // the best q maximises score = (sum w q x)^2 / sum w q^2.
  auto evaluate = [&](float iscale, double* score, double* scale) {
    double swqx, swqq;
    symmetric_sums(x, w, n, iscale, float(qmin), float(qmax), &swqx, &swqq);
    *score = swqq > 0 ? swqx * swqx / swqq : 0.0;
    *scale = swqq > 0 ? swqx / swqq : 0.0;
  };
  double best_score = -1, best_scale = 0;
  // The extreme value maps to either end of the range (for a lopsided range
  // like [-8, 7] the negative end gives one more level; a symmetric one like
  // Q8_0's [-127, 127] gives the same fits at both ends, so one is enough).
  // With 255 levels a scale 20% off the max-abs one never wins: 8-bit
  // ranges search the nearest few.
  const int steps = qmax >= 64 ? 3 : kSteps;
  const int ends[2] = {qmin, qmax};
  for (const int end : std::span(ends).subspan(qmin == -qmax ? 1 : 0)) {
    for (int k = -steps; k <= steps; k++) {
      double score, scale;
      evaluate(float(end) * (1.0f + kStep * float(k)) / vmax, &score, &scale);
      if (score > best_score) best_score = score, best_scale = scale;
    }
  }
  for (int round = 0; round < kPolishRounds && best_scale != 0; round++) {
    double score, scale;
    evaluate(float(1.0 / best_scale), &score, &scale);
    if (!(score > best_score)) break;
    best_score = score, best_scale = scale;
  }
  const float s = float(best_scale);
  const float is = s != 0 ? 1.0f / s : 0.0f;
  for (int i = 0; i < n; i++) q[i] = std::int8_t(round_clamp(x[i] * is, qmin, qmax));
  return s;
}

// --- affine: x ~ s * q + b ------------------------------------------------------

float fit_affine(const float* x, const float* w, int n, int qmax, bool offset_at_most_zero, std::uint8_t* q,
                 float* b_out) {
  float lo = x[0], hi = x[0];
  for (int i = 1; i < n; i++) lo = std::fmin(lo, x[i]), hi = std::fmax(hi, x[i]);
  if (offset_at_most_zero) lo = std::fmin(lo, 0.0f);
  if (!(hi - lo > 1e-30f)) {  // constant (or non-finite) block: b alone
    for (int i = 0; i < n; i++) q[i] = 0;
    *b_out = std::isfinite(lo) ? lo : 0.0f;
    return 0.0f;
  }
  double sxx = 0, sw = 0, swx = 0;  // the sums that do not depend on q
  for (int i = 0; i < n; i++) sxx += w[i] * double(x[i]) * x[i], sw += w[i], swx += w[i] * double(x[i]);

  // Least squares for (s, b) given the q at inverse scale iscale from lo;
  // returns the error and the fit.
  auto evaluate = [&](float iscale, float origin, double* s, double* b) {
    double swq, swqq, swqx;
    affine_sums(x, w, n, iscale, origin, float(qmax), &swq, &swqq, &swqx);
    const double det = sw * swqq - swq * swq;
    if (det > 0) {
      *s = (sw * swqx - swq * swx) / det;
      *b = (swqq * swx - swq * swqx) / det;
    } else {
      *s = 0, *b = sw > 0 ? swx / sw : 0;
    }
    if ((offset_at_most_zero && *b > 0) || *s < 0) {
      // Off the allowed region: the best on its edge.
      *b = offset_at_most_zero ? 0.0 : *b;
      if (*s < 0) *s = 0;
      if (offset_at_most_zero) *s = swqq > 0 ? std::fmax(0.0, swqx / swqq) : 0.0;
    }
    // E = sum w (s q + b - x)^2 expanded in the sums.
    return sxx + *s * *s * swqq + *b * *b * sw + 2 * *s * *b * swq - 2 * *s * swqx - 2 * *b * swx;
  };
  double best_err = INFINITY, best_s = 0, best_b = lo;
  for (int k = -kSteps; k <= kSteps; k++) {
    double s, b;
    const double err = evaluate(float(qmax) * (1.0f + kStep * float(k)) / (hi - lo), lo, &s, &b);
    if (err < best_err) best_err = err, best_s = s, best_b = b;
  }
  for (int round = 0; round < kPolishRounds && best_s > 0; round++) {
    double s, b;
    const double err = evaluate(float(1.0 / best_s), float(best_b), &s, &b);
    if (!(err < best_err)) break;
    best_err = err, best_s = s, best_b = b;
  }
  const float s = float(best_s), b = float(best_b);
  const float is = s > 0 ? 1.0f / s : 0.0f;
  for (int i = 0; i < n; i++) q[i] = std::uint8_t(round_clamp((x[i] - b) * is, 0, qmax));
  *b_out = b;
  return s;
}

// --- error ---------------------------------------------------------------------------

template <typename Q>
static double error_of(const float* x, const float* w, int n, float s, float b, const Q* q) {
  LaneSums<1> t;
  for (int i0 = 0; i0 < n; i0 += kLanes) {
    const int m = std::min(kLanes, n - i0);
    for (int l = 0; l < m; l++) {
      const float d = s * float(q[i0 + l]) + b - x[i0 + l];
      t.v[0][l] += w[i0 + l] * d * d;
    }
  }
  return t.total(0);
}

double fit_error(const float* x, const float* w, int n, float s, float b, const std::int8_t* q) {
  return error_of(x, w, n, s, b, q);
}
double fit_error(const float* x, const float* w, int n, float s, float b, const std::uint8_t* q) {
  return error_of(x, w, n, s, b, q);
}

}  // namespace llama2

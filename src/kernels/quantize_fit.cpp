// The block-fitting searches (see quantize_fit.hpp for the idea).
#include "kernels/quantize_fit.hpp"

#include <cmath>
#include <initializer_list>

namespace llama2 {

namespace {

// Candidate scales: the max-abs scale times 1 + kStep * k for k in
// [-kSteps, kSteps]. Shrinking the scale clips the extreme value but rounds
// the bulk more finely; growing it does the opposite; the fit decides.
constexpr int kSteps = 10;
constexpr float kStep = 0.02f;
constexpr int kPolishRounds = 4;

// Sums of the weighted normal equations for x ~ s * q + b.
struct Sums {
  double sw = 0, swq = 0, swqq = 0, swx = 0, swqx = 0;
  template <typename Q>
  void add(float x, float w, Q q) {
    const double qd = double(q);
    sw += w;
    swq += w * qd;
    swqq += w * qd * qd;
    swx += w * double(x);
    swqx += w * qd * double(x);
  }
};

}  // namespace

void importance_weights(const float* x, std::size_t n, float* w) {
  double sum_sq = 0;
  for (std::size_t i = 0; i < n; i++) sum_sq += double(x[i]) * x[i];
  const float sigma2 = n ? float(sum_sq / double(n)) : 0.0f;
  for (std::size_t i = 0; i < n; i++) w[i] = sigma2 + x[i] * x[i];
}

int round_clamp(float v, int lo, int hi) {
  v = std::fmin(std::fmax(v, float(lo)), float(hi));  // NaN -> lo (fmax ignores NaN)
  return int(std::nearbyint(v));
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
    double swqx = 0, swqq = 0;
    for (int i = 0; i < n; i++) {
      const double qi = round_clamp(x[i] * iscale, qmin, qmax);
      swqx += w[i] * qi * x[i];
      swqq += w[i] * qi * qi;
    }
    *score = swqq > 0 ? swqx * swqx / swqq : 0.0;
    *scale = swqq > 0 ? swqx / swqq : 0.0;
  };
  double best_score = -1, best_scale = 0;
  // The extreme value maps to either end of the range (for a lopsided range
  // like [-8, 7] the negative end gives one more level).
  for (const int end : {qmin, qmax}) {
    for (int k = -kSteps; k <= kSteps; k++) {
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
  double sxx = 0;
  for (int i = 0; i < n; i++) sxx += w[i] * double(x[i]) * x[i];

  // Least squares for (s, b) given the q at inverse scale iscale from lo;
  // returns the error and the fit.
  auto evaluate = [&](float iscale, float origin, double* s, double* b) {
    Sums t;
    for (int i = 0; i < n; i++) t.add(x[i], w[i], round_clamp((x[i] - origin) * iscale, 0, qmax));
    const double det = t.sw * t.swqq - t.swq * t.swq;
    if (det > 0) {
      *s = (t.sw * t.swqx - t.swq * t.swx) / det;
      *b = (t.swqq * t.swx - t.swq * t.swqx) / det;
    } else {
      *s = 0, *b = t.sw > 0 ? t.swx / t.sw : 0;
    }
    if ((offset_at_most_zero && *b > 0) || *s < 0) {
      // Off the allowed region: the best on its edge.
      *b = offset_at_most_zero ? 0.0 : *b;
      if (*s < 0) *s = 0;
      if (offset_at_most_zero) *s = t.swqq > 0 ? std::fmax(0.0, t.swqx / t.swqq) : 0.0;
    }
    // E = sum w (s q + b - x)^2 expanded in the sums.
    return sxx + *s * *s * t.swqq + *b * *b * t.sw + 2 * *s * *b * t.swq - 2 * *s * t.swqx - 2 * *b * t.swx;
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
  double e = 0;
  for (int i = 0; i < n; i++) {
    const double d = double(s) * q[i] + b - x[i];
    e += w[i] * d * d;
  }
  return e;
}

double fit_error(const float* x, const float* w, int n, float s, float b, const std::int8_t* q) {
  return error_of(x, w, n, s, b, q);
}
double fit_error(const float* x, const float* w, int n, float s, float b, const std::uint8_t* q) {
  return error_of(x, w, n, s, b, q);
}

}  // namespace llama2

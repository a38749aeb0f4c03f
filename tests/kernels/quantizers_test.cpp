// The quantizers (src/kernels/quantize_fit.cpp, quantize_legacy.cpp,
// quantize_kquants.cpp): what they write decodes, through the engine's
// dequantizers and an independent double-precision one, to the same values,
// close to the originals; and on fixed synthetic blocks the fit is never worse
// than plain round-to-nearest with the max-abs scale.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/fp16.hpp"
#include "kernels/quantize.hpp"
#include "kernels/quantize_fit.hpp"
#include "kernels/quants.hpp"
#include "llama2/error.hpp"
#include "support/reference_dequantize.hpp"

namespace llama2 {
namespace {

const WeightType kBlockTypes[] = {WeightType::Q8_0, WeightType::Q4_0, WeightType::Q4_1, WeightType::Q5_0,
                                  WeightType::Q5_1, WeightType::Q2_K, WeightType::Q3_K, WeightType::Q4_K,
                                  WeightType::Q5_K, WeightType::Q6_K};

std::string name_of(WeightType t) { return std::string(weight_type_name(t)); }

// --- synthetic weights ----------------------------------------------------------------

enum class Shape { Gaussian, StudentT3, Uniform, Outlier, Positive, Sparse };
const Shape kShapes[] = {Shape::Gaussian, Shape::StudentT3, Shape::Uniform, Shape::Outlier, Shape::Positive,
                         Shape::Sparse};
const char* shape_name(Shape s) {
  switch (s) {
    case Shape::Gaussian: return "gaussian";
    case Shape::StudentT3: return "student-t3";
    case Shape::Uniform: return "uniform";
    case Shape::Outlier: return "outlier";
    case Shape::Positive: return "positive";
    case Shape::Sparse: return "sparse";
  }
  return "?";
}

// n values of `shape`, scale ~0.02 like real weights; fixed seed.
std::vector<float> synthetic(Shape shape, std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::student_t_distribution<float> t3(3.0f);
  std::uniform_real_distribution<float> uniform(-0.03f, 0.03f);
  std::vector<float> x(n);
  for (std::size_t i = 0; i < n; i++) {
    switch (shape) {
      case Shape::Gaussian: x[i] = normal(rng); break;
      case Shape::StudentT3: x[i] = 0.01f * t3(rng); break;
      case Shape::Uniform: x[i] = uniform(rng); break;
      case Shape::Outlier: x[i] = i % 61 == 7 ? 0.5f : normal(rng); break;
      case Shape::Positive: x[i] = 0.01f + std::fabs(normal(rng)); break;
      case Shape::Sparse: x[i] = i % 5 == 0 ? normal(rng) : 0.0f; break;
    }
  }
  return x;
}

// --- plain round-to-nearest with the max-abs scale, in doubles -------------------------

double fp16r(double v) { return fp16_to_fp32(fp32_to_fp16(float(v))); }
double clampd(double v, double lo, double hi) { return std::fmin(std::fmax(v, lo), hi); }

// Symmetric: the largest-magnitude value maps to qmin; K types quantize the
// sub-block scales the same way against d.
void rtn_symmetric(const float* x, double* y, int n, int sub, int qmin, int qmax, int lmin, int lmax) {
  std::vector<double> s(static_cast<std::size_t>(n / sub));
  for (int j = 0; j < n / sub; j++) {
    double vmax = 0;
    for (int i = 0; i < sub; i++) vmax = std::fabs(x[sub * j + i]) > std::fabs(vmax) ? x[sub * j + i] : vmax;
    s[std::size_t(j)] = vmax / qmin;
  }
  double smax = 0;
  for (double v : s) smax = std::fabs(v) > std::fabs(smax) ? v : smax;
  const double d = lmin ? fp16r(smax / lmin) : 0;
  for (int j = 0; j < n / sub; j++) {
    const double scale = lmin ? d * clampd(std::nearbyint(d ? s[std::size_t(j)] / d : 0), lmin, lmax) : fp16r(s[std::size_t(j)]);
    for (int i = 0; i < sub; i++) {
      y[sub * j + i] = scale * clampd(std::nearbyint(scale ? x[sub * j + i] / scale : 0), qmin, qmax);
    }
  }
}

// Affine: [min, max] spread over [0, qmax] (K types: min <= 0, scales and
// mins quantized to `levels` against d and dmin).
void rtn_affine(const float* x, double* y, int n, int sub, int qmax, int levels) {
  const int n_sub = n / sub;
  std::vector<double> s(static_cast<std::size_t>(n_sub)), m(static_cast<std::size_t>(n_sub));
  for (int j = 0; j < n_sub; j++) {
    double lo = x[sub * j], hi = x[sub * j];
    for (int i = 0; i < sub; i++) lo = std::fmin(lo, x[sub * j + i]), hi = std::fmax(hi, x[sub * j + i]);
    if (levels) lo = std::fmin(lo, 0.0);
    s[std::size_t(j)] = (hi - lo) / qmax;
    m[std::size_t(j)] = lo;
  }
  double max_s = 0, max_m = 0;
  for (int j = 0; j < n_sub; j++) max_s = std::fmax(max_s, s[std::size_t(j)]), max_m = std::fmax(max_m, -m[std::size_t(j)]);
  const double d = fp16r(max_s / levels), dmin = fp16r(max_m / levels);
  for (int j = 0; j < n_sub; j++) {
    double scale = fp16r(s[std::size_t(j)]), offset = fp16r(m[std::size_t(j)]);
    if (levels) {
      scale = d * clampd(std::nearbyint(d ? s[std::size_t(j)] / d : 0), 0, levels);
      offset = -dmin * clampd(std::nearbyint(dmin ? -m[std::size_t(j)] / dmin : 0), 0, levels);
    }
    for (int i = 0; i < sub; i++) {
      y[sub * j + i] = scale * clampd(std::nearbyint(scale ? (x[sub * j + i] - offset) / scale : 0), 0, qmax) + offset;
    }
  }
}

// 256 values of x as plain rounding would store them in `type`.
std::vector<double> round_to_nearest(WeightType type, const float* x) {
  std::vector<double> y(kQK_K);
  switch (type) {
    case WeightType::Q8_0: rtn_symmetric(x, y.data(), 256, 32, -127, 127, 0, 0); break;
    case WeightType::Q4_0: rtn_symmetric(x, y.data(), 256, 32, -8, 7, 0, 0); break;
    case WeightType::Q5_0: rtn_symmetric(x, y.data(), 256, 32, -16, 15, 0, 0); break;
    case WeightType::Q4_1: for (int b = 0; b < 8; b++) rtn_affine(x + 32 * b, y.data() + 32 * b, 32, 32, 15, 0); break;
    case WeightType::Q5_1: for (int b = 0; b < 8; b++) rtn_affine(x + 32 * b, y.data() + 32 * b, 32, 32, 31, 0); break;
    case WeightType::Q2_K: rtn_affine(x, y.data(), 256, 16, 3, 15); break;
    case WeightType::Q3_K: rtn_symmetric(x, y.data(), 256, 16, -4, 3, -32, 31); break;
    case WeightType::Q4_K: rtn_affine(x, y.data(), 256, 32, 15, 63); break;
    case WeightType::Q5_K: rtn_affine(x, y.data(), 256, 32, 31, 63); break;
    case WeightType::Q6_K: rtn_symmetric(x, y.data(), 256, 16, -32, 31, -128, 127); break;
    default: ADD_FAILURE();
  }
  return y;
}

// Q8_0's RTN with symmetric scale: amax / 127 maps to +-127 (ggml's), not vmax / qmin.
std::vector<double> round_to_nearest_q8(const float* x) {
  std::vector<double> y(kQK_K);
  for (int b = 0; b < 8; b++) {
    double amax = 0;
    for (int i = 0; i < 32; i++) amax = std::fmax(amax, std::fabs(x[32 * b + i]));
    const double d = fp16r(amax / 127);
    for (int i = 0; i < 32; i++) y[32 * b + i] = d * clampd(std::nearbyint(d ? x[32 * b + i] / d : 0), -127, 127);
  }
  return y;
}

std::vector<std::uint8_t> quantized(WeightType type, const std::vector<float>& x) {
  std::vector<std::uint8_t> q(row_bytes(type, x.size()));
  quantize_row(type, x.data(), q.data(), x.size());
  return q;
}

// --- tests ------------------------------------------------------------------------------------

class Quantizer : public ::testing::TestWithParam<WeightType> {};

TEST_P(Quantizer, EngineAndDoubleReferenceDecodeTheSameValuesCloseToTheOriginals) {
  const WeightType type = GetParam();
  // Max relative RMS error per type on Gaussian and uniform data (about 1.25x the worst of the two).
  const double bound = type == WeightType::Q8_0 ? 0.006 : type == WeightType::Q6_K ? 0.021
                       : type == WeightType::Q5_0 || type == WeightType::Q5_1 || type == WeightType::Q5_K ? 0.05
                       : type == WeightType::Q3_K ? 0.2 : type == WeightType::Q2_K ? 0.4 : 0.1;
  for (Shape shape : kShapes) {
    const std::vector<float> x = synthetic(shape, 4 * kQK_K, 3);
    const std::vector<std::uint8_t> q = quantized(type, x);
    std::vector<float> engine(x.size());
    dequantize_blocks(type, q.data(), engine.data(), x.size());
    const std::vector<double> ref = test::reference_dequantize(type, q.data(), x.size());
    double err = 0, norm = 0;
    for (std::size_t i = 0; i < x.size(); i++) {
      ASSERT_NEAR(engine[i], ref[i], 1e-6 * std::fabs(ref[i]) + 1e-12) << name_of(type) << " " << shape_name(shape) << " " << i;
      err += (ref[i] - x[i]) * (ref[i] - x[i]);
      norm += double(x[i]) * x[i];
    }
    if (shape == Shape::Gaussian || shape == Shape::Uniform) {
      EXPECT_LT(std::sqrt(err / norm), bound) << name_of(type) << " " << shape_name(shape);
    }
  }
}

TEST_P(Quantizer, NoWorseThanRoundToNearestWithTheMaxAbsScale) {
  const WeightType type = GetParam();
  for (Shape shape : kShapes) {
    const std::vector<float> x = synthetic(shape, 64 * kQK_K, 11);
    const std::vector<double> ours = test::reference_dequantize(type, quantized(type, x).data(), x.size());
    double ours_w = 0, rtn_w = 0, ours_plain = 0, rtn_plain = 0;
    for (std::size_t b = 0; b < x.size() / kQK_K; b++) {
      const float* xb = x.data() + b * kQK_K;
      const std::vector<double> rtn = type == WeightType::Q8_0 ? round_to_nearest_q8(xb) : round_to_nearest(type, xb);
      float w[kQK_K];
      importance_weights(xb, kQK_K, w);
      for (std::size_t i = 0; i < kQK_K; i++) {
        const double eo = ours[b * kQK_K + i] - xb[i], er = rtn[i] - xb[i];
        ours_w += w[i] * eo * eo, rtn_w += w[i] * er * er;
        ours_plain += eo * eo, rtn_plain += er * er;
      }
    }
    EXPECT_LE(ours_w, rtn_w) << name_of(type) << " " << shape_name(shape) << ": weighted RMS ratio "
                             << std::sqrt(ours_w / rtn_w);
    EXPECT_LE(ours_plain, rtn_plain * 1.0001) << name_of(type) << " " << shape_name(shape) << ": RMS ratio "
                                              << std::sqrt(ours_plain / rtn_plain);
  }
}

TEST_P(Quantizer, ZeroAndConstantBlocksAreExactAndNonFiniteInputDoesNotCrash) {
  const WeightType type = GetParam();
  std::vector<float> x(kQK_K, 0.0f);
  std::vector<double> y = test::reference_dequantize(type, quantized(type, x).data(), x.size());
  for (double v : y) EXPECT_EQ(v, 0.0) << name_of(type);
  // A block of -0.25 everywhere: every type can hold it exactly (a power of two).
  std::fill(x.begin(), x.end(), -0.25f);
  y = test::reference_dequantize(type, quantized(type, x).data(), x.size());
  for (double v : y) EXPECT_NEAR(v, -0.25, 1e-3) << name_of(type);
  x[3] = NAN;
  x[100] = INFINITY;
  (void)quantized(type, x);  // defined behaviour (no float -> int overflow); the values are garbage
}

INSTANTIATE_TEST_SUITE_P(Types, Quantizer, ::testing::ValuesIn(kBlockTypes),
                         [](const auto& info) { return name_of(info.param); });

TEST(Quantizers, FloatTypesRoundToNearestAndQ8GroupIsRefused) {
  const std::vector<float> x = {1.0f, -2.5f, 1e-3f, 65504.0f};
  std::vector<std::uint16_t> h(4);
  quantize_row(WeightType::F16, x.data(), h.data(), 4);
  for (int i = 0; i < 4; i++) EXPECT_EQ(h[std::size_t(i)], fp32_to_fp16(x[std::size_t(i)]));
  quantize_row(WeightType::BF16, x.data(), h.data(), 4);
  for (int i = 0; i < 4; i++) EXPECT_EQ(h[std::size_t(i)], fp32_to_bf16(x[std::size_t(i)]));
  EXPECT_FALSE(can_quantize(WeightType::Q8_GROUP));
  EXPECT_TRUE(can_quantize(WeightType::Q3_K));
  EXPECT_THROW(quantize_row(WeightType::Q8_GROUP, x.data(), h.data(), 4), Error);
}

TEST(QuantizeFit, SymmetricFitBeatsEveryNearbyScale) {
  // The fitted scale's weighted error is a local minimum over scales.
  const std::vector<float> x = synthetic(Shape::StudentT3, 32, 5);
  float w[32];
  importance_weights(x.data(), 32, w);
  std::int8_t q[32];
  const float s = fit_symmetric(x.data(), w, 32, -8, 7, q);
  const double best = fit_error(x.data(), w, 32, s, 0, q);
  for (float f = 0.7f; f < 1.3f; f += 0.01f) {
    std::int8_t q2[32];
    for (int i = 0; i < 32; i++) q2[i] = std::int8_t(round_clamp(x[std::size_t(i)] / (s * f), -8, 7));
    EXPECT_LE(best, fit_error(x.data(), w, 32, s * f, 0, q2) * (1 + 1e-6)) << f;
  }
}

}  // namespace
}  // namespace llama2

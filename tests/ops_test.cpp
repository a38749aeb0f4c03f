// The kernels forward() calls (ops.hpp) against plain double-precision
// references on random data, with odd sizes that exercise vector tails.
#include "ops.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "llama2/tensor.hpp"
#include "llama2/thread_pool.hpp"

namespace llama2 {
namespace {

constexpr std::size_t kSizes[] = {1, 7, 33, 100, 257};

// Unit roundoff of float: 2^-24.
constexpr double kU = 5.9604644775390625e-8;

std::vector<float> random_floats(std::size_t n, std::mt19937_64& rng, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Error bound of a float sum of n products in any order: 2 n u sum|a_i b_i|
// (twice the classic gamma_n bound, so an FMA or reordered kernel passes,
// while dropping or repeating a term does not).
double dot_bound(std::size_t n, double abs_sum) { return 2.0 * double(n + 1) * kU * abs_sum; }

// --- dot / axpy ----------------------------------------------------------------------

TEST(Ops, DotMatchesDoubleReference) {
  std::mt19937_64 rng(1);
  for (std::size_t n : {1u, 2u, 7u, 8u, 9u, 15u, 16u, 17u, 33u, 100u, 257u, 4099u}) {
    auto a = random_floats(n, rng), b = random_floats(n, rng);
    double ref = 0.0, abs_sum = 0.0;
    for (std::size_t i = 0; i < n; i++) {
      ref += double(a[i]) * double(b[i]);
      abs_sum += std::fabs(double(a[i]) * double(b[i]));
    }
    EXPECT_NEAR(dot(a.data(), b.data(), n), ref, dot_bound(n, abs_sum)) << "n " << n;
  }
  EXPECT_EQ(dot(nullptr, nullptr, 0), 0.0f);
}

TEST(Ops, AxpyMatchesDoubleReference) {
  std::mt19937_64 rng(2);
  for (std::size_t n : kSizes) {
    auto x = random_floats(n, rng), y = random_floats(n, rng);
    const float a = -0.75f;
    std::vector<float> got = y;
    axpy(got.data(), a, x.data(), n);
    for (std::size_t i = 0; i < n; i++) {
      double ref = double(y[i]) + double(a) * double(x[i]);
      EXPECT_NEAR(got[i], ref, 4 * kU * (std::fabs(ref) + std::fabs(double(a) * x[i]))) << "n " << n << " i " << i;
    }
  }
}

// --- rmsnorm -------------------------------------------------------------------------

std::vector<double> rmsnorm_ref(const std::vector<float>& x, const std::vector<float>& w, double eps) {
  double ss = 0.0;
  for (float v : x) ss += double(v) * v;
  double inv = 1.0 / std::sqrt(ss / double(x.size()) + eps);
  std::vector<double> out(x.size());
  for (std::size_t i = 0; i < x.size(); i++) out[i] = double(w[i]) * double(x[i]) * inv;
  return out;
}

void expect_rmsnorm(const std::vector<float>& got, const std::vector<double>& ref) {
  double scale = 0.0;
  for (double v : ref) scale = std::max(scale, std::fabs(v));
  for (std::size_t i = 0; i < ref.size(); i++) EXPECT_NEAR(got[i], ref[i], 1e-5 * scale) << "i " << i;
}

TEST(Ops, RmsnormMatchesDoubleReference) {
  std::mt19937_64 rng(3);
  for (std::size_t n : kSizes) {
    SCOPED_TRACE(n);
    auto x = random_floats(n, rng, -3.0f, 3.0f), w = random_floats(n, rng, 0.5f, 1.5f);
    std::vector<float> out(n);
    rmsnorm(out.data(), x.data(), w.data(), n, 1e-5f);
    expect_rmsnorm(out, rmsnorm_ref(x, w, 1e-5f));
    // In place (o == x), as forward() does for the final norm.
    std::vector<float> in_place = x;
    rmsnorm(in_place.data(), in_place.data(), w.data(), n, 1e-5f);
    EXPECT_EQ(in_place, out);
  }
}

TEST(Ops, RmsnormEpsilonMattersForTinyInputs) {
  // mean(x^2) = 1e-8 << eps: the output is ~x / sqrt(eps), not x / rms(x).
  std::vector<float> x(33, 1e-4f), w(33, 1.0f), out(33);
  rmsnorm(out.data(), x.data(), w.data(), 33, 1e-5f);
  expect_rmsnorm(out, rmsnorm_ref(x, w, 1e-5f));
  EXPECT_NEAR(out[0], 1e-4 / std::sqrt(1e-8 + 1e-5), 1e-6);
  // Zero input stays finite (eps keeps the denominator positive).
  std::vector<float> zero(7, 0.0f), out0(7, 1.0f);
  rmsnorm(out0.data(), zero.data(), w.data(), 7, 1e-5f);
  for (float v : out0) EXPECT_EQ(v, 0.0f);
}

// --- softmax -------------------------------------------------------------------------

void expect_softmax(const std::vector<float>& input) {
  std::vector<float> got = input;
  softmax(got.data(), got.size());
  double max_v = -INFINITY, sum = 0.0;
  for (float v : input) max_v = std::max(max_v, double(v));
  for (float v : input) sum += std::exp(double(v) - max_v);
  double total = 0.0;
  for (std::size_t i = 0; i < input.size(); i++) {
    double ref = std::exp(double(input[i]) - max_v) / sum;
    ASSERT_TRUE(std::isfinite(got[i])) << i;
    EXPECT_NEAR(got[i], ref, 1e-6 * std::max(ref, 1e-3)) << "i " << i;
    total += got[i];
  }
  EXPECT_NEAR(total, 1.0, 1e-5);
}

TEST(Ops, SoftmaxMatchesDoubleReference) {
  std::mt19937_64 rng(4);
  for (std::size_t n : kSizes) {
    SCOPED_TRACE(n);
    expect_softmax(random_floats(n, rng, -5.0f, 5.0f));
    expect_softmax(random_floats(n, rng, 500.0f, 520.0f));    // exp would overflow without the max shift
    expect_softmax(random_floats(n, rng, -900.0f, -880.0f));  // or underflow to 0/0
  }
  std::vector<float> one = {42.0f};
  softmax(one.data(), 1);
  EXPECT_EQ(one[0], 1.0f);
  std::vector<float> equal(100, 3.0f);
  softmax(equal.data(), equal.size());
  for (float v : equal) EXPECT_FLOAT_EQ(v, 0.01f);
}

// --- matmul ----------------------------------------------------------------------------

Tensor f32_tensor(const std::vector<float>& w, std::size_t rows, std::size_t cols) {
  Tensor t;
  t.type = WeightType::F32;
  t.data = w.data();
  t.rows = rows;
  t.cols = cols;
  return t;
}

// Checks out (rows) against sum_j w(r, j) x_j in double, given each weight.
template <typename WeightAt>
void expect_matvec(const std::vector<float>& out, const std::vector<float>& x, std::size_t rows, std::size_t cols,
                   WeightAt weight_at) {
  for (std::size_t r = 0; r < rows; r++) {
    double ref = 0.0, abs_sum = 0.0;
    for (std::size_t j = 0; j < cols; j++) {
      double p = weight_at(r, j) * double(x[j]);
      ref += p;
      abs_sum += std::fabs(p);
    }
    // The Q8 kernel sums per group, then scales: allow two roundings more.
    ASSERT_NEAR(out[r], ref, dot_bound(cols + 2, abs_sum) + 1e-30) << "row " << r;
  }
}

TEST(Ops, MatmulF32MatchesDoubleReference) {
  std::mt19937_64 rng(5);
  ThreadPool one(1), three(3);
  for (std::size_t rows : kSizes) {
    for (std::size_t cols : kSizes) {
      SCOPED_TRACE("rows " + std::to_string(rows) + " cols " + std::to_string(cols));
      auto w = random_floats(rows * cols, rng), x = random_floats(cols, rng);
      Tensor t = f32_tensor(w, rows, cols);
      std::vector<float> out1(rows, NAN), out3(rows, NAN);
      matmul(out1.data(), x.data(), t, one);
      matmul(out3.data(), x.data(), t, three);
      expect_matvec(out1, x, rows, cols, [&](std::size_t r, std::size_t j) { return double(w[r * cols + j]); });
      ASSERT_EQ(0, std::memcmp(out1.data(), out3.data(), rows * sizeof(float))) << "thread count changed a bit";
    }
  }
}

// A llama2.c v2 int8 matrix: int8 values and one fp32 scale per group of gs
// values of the flattened matrix.
struct Q8Matrix {
  std::vector<std::int8_t> q;  // (rows * cols)
  std::vector<float> scales;   // (rows * cols / gs)
  Tensor tensor;
  double at(std::size_t r, std::size_t j) const {
    std::size_t i = r * tensor.cols + j;
    return double(q[i]) * double(scales[i / std::size_t(tensor.group_size)]);
  }
};

Q8Matrix random_q8(std::size_t rows, std::size_t cols, int gs, std::mt19937_64& rng) {
  Q8Matrix m;
  std::uniform_int_distribution<int> qd(-127, 127);
  std::uniform_real_distribution<float> sd(0.001f, 0.02f);
  m.q.resize(rows * cols);
  for (auto& v : m.q) v = std::int8_t(qd(rng));
  m.scales.resize(rows * cols / std::size_t(gs));
  for (float& s : m.scales) s = sd(rng);
  m.tensor.type = WeightType::Q8_GROUP;
  m.tensor.data = m.q.data();
  m.tensor.scales = m.scales.data();
  m.tensor.rows = rows;
  m.tensor.cols = cols;
  m.tensor.group_size = gs;
  return m;
}

struct Q8Case {
  std::size_t rows, cols;
  int gs;
};

// Group sizes that divide cols (groups align with rows) and that do not
// (groups straddle rows, so a row may start mid-group); gs always divides rows * cols.
constexpr Q8Case kQ8Cases[] = {
    {1, 1, 1},    {1, 7, 7},    {7, 33, 11},  {7, 33, 21},    {33, 100, 50},  {33, 100, 12},
    {33, 100, 33}, {100, 257, 257}, {100, 257, 100}, {257, 100, 257}, {257, 7, 1}, {16, 64, 32},
    {5, 64, 64},  {3, 256, 64},  {257, 33, 3},
};

TEST(Ops, MatmulQ8GroupMatchesDoubleReference) {
  std::mt19937_64 rng(6);
  ThreadPool one(1), three(3);
  for (const Q8Case& k : kQ8Cases) {
    SCOPED_TRACE("rows " + std::to_string(k.rows) + " cols " + std::to_string(k.cols) + " gs " + std::to_string(k.gs));
    ASSERT_EQ(k.rows * k.cols % std::size_t(k.gs), 0u);
    Q8Matrix m = random_q8(k.rows, k.cols, k.gs, rng);
    auto x = random_floats(k.cols, rng, -2.0f, 2.0f);
    std::vector<float> out1(k.rows, NAN), out3(k.rows, NAN);
    matmul(out1.data(), x.data(), m.tensor, one);
    matmul(out3.data(), x.data(), m.tensor, three);
    expect_matvec(out1, x, k.rows, k.cols, [&](std::size_t r, std::size_t j) { return m.at(r, j); });
    ASSERT_EQ(0, std::memcmp(out1.data(), out3.data(), k.rows * sizeof(float))) << "thread count changed a bit";
  }
}

TEST(Ops, DequantizeRowQ8GroupIsExact) {
  std::mt19937_64 rng(7);
  for (const Q8Case& k : kQ8Cases) {
    Q8Matrix m = random_q8(k.rows, k.cols, k.gs, rng);
    std::vector<float> row(k.cols);
    for (std::size_t r : {std::size_t(0), k.rows / 2, k.rows - 1}) {
      dequantize_row(m.tensor, r, row.data());
      for (std::size_t j = 0; j < k.cols; j++) {
        std::size_t i = r * k.cols + j;
        ASSERT_EQ(row[j], float(m.q[i]) * m.scales[i / std::size_t(k.gs)]) << "row " << r << " col " << j;
      }
    }
  }
}

TEST(Ops, DequantizeRowF32IsACopy) {
  std::mt19937_64 rng(8);
  auto w = random_floats(7 * 33, rng);
  Tensor t = f32_tensor(w, 7, 33);
  std::vector<float> row(33);
  dequantize_row(t, 6, row.data());
  EXPECT_EQ(0, std::memcmp(row.data(), w.data() + 6 * 33, 33 * sizeof(float)));
}

// HF checkpoints store each head's q/k rows as (even dims..., odd dims...):
// RoPE in the rotate-half pairing on those rows is the interleaved RoPE on
// Meta's order, row for row (the permutation HF's converter applies).
TEST(Ops, RopeRotateHalfIsInterleavedOnPermutedRows) {
  std::mt19937_64 rng(7);
  for (std::size_t hs : {2u, 8u, 64u}) {
    const std::size_t n = 3 * hs, half = hs / 2;
    const std::vector<float> meta = random_floats(n, rng);
    std::vector<float> hf(n);  // hf[h + j] = meta[h + 2j], hf[h + half + j] = meta[h + 2j + 1]
    for (std::size_t h = 0; h < n; h += hs) {
      for (std::size_t j = 0; j < half; j++) {
        hf[h + j] = meta[h + 2 * j];
        hf[h + half + j] = meta[h + 2 * j + 1];
      }
    }
    for (int pos : {0, 1, 17, 1000}) {
      std::vector<float> a = meta, b = hf;
      rope(a.data(), n, hs, pos, 10000.0f, RopeStyle::INTERLEAVED);
      rope(b.data(), n, hs, pos, 10000.0f, RopeStyle::ROTATE_HALF);
      for (std::size_t h = 0; h < n; h += hs) {
        for (std::size_t j = 0; j < half; j++) {
          ASSERT_EQ(b[h + j], a[h + 2 * j]) << "hs " << hs << " pos " << pos;
          ASSERT_EQ(b[h + half + j], a[h + 2 * j + 1]) << "hs " << hs << " pos " << pos;
        }
      }
      if (pos > 0) EXPECT_NE(a, meta);  // it did rotate
    }
  }
}

}  // namespace
}  // namespace llama2

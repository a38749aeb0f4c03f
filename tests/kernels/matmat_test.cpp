// The batched-prompt kernels (kernels.hpp: matmat_f32, transpose, softmax, swiglu) of
// every instruction set against the scalar reference, and the ops built on
// them (ops.hpp: matmul_batch, attention_batch, rope_angles / rope_rotate)
// against the one-token ops and double-precision references, on odd sizes
// that leave tails in every tile dimension.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/fp16.hpp"
#include "kernels/kernels.hpp"
#include "llama2/tensor.hpp"
#include "llama2/thread_pool.hpp"
#include "ops.hpp"
#include "support/isa_test.hpp"

namespace llama2 {
namespace {

std::vector<float> random_floats(std::size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& f : v) f = dist(rng);
  return v;
}

// Unit roundoff of float: 2^-24.
constexpr double kU = 5.9604644775390625e-8;

// --- matmat_f32 against the scalar reference, per instruction set ------------------------

class MatmatTest : public test::IsaTest {
 protected:
  const Kernels& ref() const { return kernels_scalar(); }
};

// A product with padding everywhere: wt (cols, ldw), x (n_batch, ldx) and
// out (n_batch, ldo) wider than used, so a kernel that reads or writes past
// its rows, tokens or columns shows.
struct Problem {
  std::size_t n_rows, n_batch, cols, ldw, ldx, ldo;
  std::vector<float> wt, x, out;

  Problem(std::size_t rows, std::size_t batch, std::size_t k, std::mt19937& rng)
      : n_rows(rows), n_batch(batch), cols(k), ldw(rows + 5), ldx(k + 3), ldo(rows + 7) {
    wt = random_floats(cols * ldw, rng);
    x = random_floats(n_batch * ldx, rng);
    out = random_floats(n_batch * ldo, rng);  // the starting sums for accumulate
  }
  void run(const Kernels& k, std::vector<float>& o, bool accumulate) const {
    k.matmat_f32(o.data(), ldo, wt.data(), ldw, n_rows, x.data(), ldx, n_batch, cols, accumulate);
  }
};

constexpr std::size_t kRows[] = {1, 3, 15, 16, 17, 31, 32, 33, 47, 64, 70};
constexpr std::size_t kBatches[] = {1, 2, 3, 5, 6, 7, 8, 9, 13, 17};
constexpr std::size_t kCols[] = {1, 2, 16, 33, 100};

TEST_P(MatmatTest, TableHasTheBatchKernels) {
  EXPECT_NE(table_->matmat_f32, nullptr);
  EXPECT_NE(table_->transpose, nullptr);
  EXPECT_NE(table_->softmax, nullptr);
  EXPECT_NE(table_->swiglu, nullptr);
}

// Every table runs the reference's FMA chain: the same bits, tails included,
// and nothing outside the (n_batch, n_rows) block of out changes.
TEST_P(MatmatTest, MatchesScalarBitForBit) {
  std::mt19937 rng(7);
  for (std::size_t rows : kRows) {
    for (std::size_t batch : kBatches) {
      for (std::size_t cols : kCols) {
        Problem p(rows, batch, cols, rng);
        for (bool accumulate : {false, true}) {
          std::vector<float> want = p.out, got = p.out;
          p.run(ref(), want, accumulate);
          p.run(*table_, got, accumulate);
          ASSERT_EQ(0, std::memcmp(want.data(), got.data(), got.size() * sizeof(float)))
              << rows << " rows, " << batch << " tokens, " << cols << " cols, accumulate " << accumulate;
        }
      }
    }
  }
}

// The reference itself: each output within the float error bound of a
// double-precision sum (which a dropped or repeated term would exceed).
TEST_P(MatmatTest, MatchesDoublePrecision) {
  std::mt19937 rng(8);
  Problem p(33, 9, 100, rng);
  for (bool accumulate : {false, true}) {
    std::vector<float> got = p.out;
    p.run(*table_, got, accumulate);
    for (std::size_t b = 0; b < p.n_batch; b++) {
      for (std::size_t i = 0; i < p.n_rows; i++) {
        double want = accumulate ? p.out[b * p.ldo + i] : 0.0, abs_sum = std::fabs(want);
        for (std::size_t k = 0; k < p.cols; k++) {
          want += double(p.wt[k * p.ldw + i]) * p.x[b * p.ldx + k];
          abs_sum += std::fabs(double(p.wt[k * p.ldw + i]) * p.x[b * p.ldx + k]);
        }
        ASSERT_NEAR(got[b * p.ldo + i], want, 2.0 * (p.cols + 1) * kU * abs_sum) << "row " << i << ", token " << b;
      }
    }
  }
}

// The same outputs whatever the blocking: rows, tokens and columns split into
// pieces (columns run one after another with accumulate) give the same bits.
TEST_P(MatmatTest, SplittingChangesNoBit) {
  std::mt19937 rng(9);
  Problem p(70, 17, 100, rng);
  std::vector<float> whole = p.out, parts = p.out;
  p.run(*table_, whole, false);
  for (auto [r0, r1] : {std::pair<std::size_t, std::size_t>{0, 13}, {13, 50}, {50, 70}}) {
    for (auto [b0, b1] : {std::pair<std::size_t, std::size_t>{0, 5}, {5, 6}, {6, 17}}) {
      for (auto [k0, k1] : {std::pair<std::size_t, std::size_t>{0, 37}, {37, 38}, {38, 100}}) {
        table_->matmat_f32(parts.data() + b0 * p.ldo + r0, p.ldo, p.wt.data() + k0 * p.ldw + r0, p.ldw, r1 - r0,
                           p.x.data() + b0 * p.ldx + k0, p.ldx, b1 - b0, k1 - k0, k0 > 0);
      }
    }
  }
  EXPECT_EQ(0, std::memcmp(whole.data(), parts.data(), whole.size() * sizeof(float)));
}

// transpose: every element lands where it should (the scalar reference is
// checked against the definition), and nothing else in out is written.
TEST_P(MatmatTest, TransposeMovesEachElementAndNothingElse) {
  std::mt19937 rng(17);
  for (std::size_t rows : kRows) {
    for (std::size_t cols : kCols) {
      const std::size_t ldi = cols + 3, ldo = rows + 5;
      auto in = random_floats(rows * ldi, rng);
      std::vector<float> got(cols * ldo + 9, -7.0f);
      table_->transpose(got.data(), ldo, in.data(), ldi, rows, cols);
      for (std::size_t c = 0; c < cols; c++) {
        for (std::size_t r = 0; r < ldo; r++) {
          ASSERT_EQ(got[c * ldo + r], r < rows ? in[r * ldi + c] : -7.0f) << rows << "x" << cols << ": " << r << ", " << c;
        }
      }
      for (std::size_t i = cols * ldo; i < got.size(); i++) ASSERT_EQ(got[i], -7.0f) << "wrote past the end";
    }
  }
}

// --- softmax and swiglu against the scalar reference ------------------------------------

constexpr std::size_t kSizes[] = {1, 7, 15, 16, 17, 33, 100, 257};

TEST_P(MatmatTest, SoftmaxMatchesScalar) {
  std::mt19937 rng(10);
  for (std::size_t n : kSizes) {
    for (float offset : {0.0f, 500.0f, -900.0f}) {  // exp would overflow / underflow without the max shift
      auto x = random_floats(n + 3, rng, 4.0f);
      for (float& v : x) v += offset;
      std::vector<float> want = x, got = x;
      ref().softmax(want.data(), n, 0.7f);
      table_->softmax(got.data(), n, 0.7f);
      // exp's argument scale * x - max carries the rounding of numbers of
      // magnitude |scale * x| + |max|: allow for it, and 1e-6 for exp itself.
      double max_val = -1e30, sum = 0;
      for (std::size_t i = 0; i < n; i++) max_val = std::max(max_val, 0.7 * x[i]);
      for (std::size_t i = 0; i < n; i++) {
        const double rel = 1e-6 + 4 * kU * (std::fabs(0.7 * x[i]) + std::fabs(max_val));
        ASSERT_NEAR(got[i], want[i], rel * want[i] + 1e-12) << "n = " << n << ", i = " << i << ", offset " << offset;
        sum += got[i];
      }
      EXPECT_NEAR(sum, 1.0, 1e-5);
      for (std::size_t i = n; i < n + 3; i++) EXPECT_EQ(got[i], x[i]) << "wrote past n = " << n;
    }
  }
}

TEST_P(MatmatTest, SwigluMatchesScalar) {
  std::mt19937 rng(11);
  for (std::size_t n : kSizes) {
    auto hb = random_floats(n + 3, rng, 5.0f), hb2 = random_floats(n + 3, rng);
    if (n > 2) hb[0] = -100.0f, hb[1] = 100.0f;  // exp(-g) far out of range both ways
    std::vector<float> want = hb, got = hb;
    ref().swiglu(want.data(), hb2.data(), n);
    table_->swiglu(got.data(), hb2.data(), n);
    for (std::size_t i = 0; i < n; i++) {
      const double silu = double(hb[i]) / (1.0 + std::exp(-double(hb[i])));
      ASSERT_NEAR(want[i], silu * hb2[i], 1e-6 * std::fabs(silu * hb2[i]) + 1e-30) << "reference, i = " << i;
      ASSERT_NEAR(got[i], want[i], 1e-6 * std::fabs(want[i]) + 1e-30) << "n = " << n << ", i = " << i;
    }
    for (std::size_t i = n; i < n + 3; i++) EXPECT_EQ(got[i], hb[i]) << "wrote past n = " << n;
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, MatmatTest, ::testing::Values(Isa::SCALAR, Isa::AVX2, Isa::AVX512, Isa::NEON),
                         [](const ::testing::TestParamInfo<Isa>& info) { return std::string(isa_name(info.param)); });

// --- matmul_batch -------------------------------------------------------------------------

// A weight matrix of any type built from fp32 values, with its dequantized
// values (what every kernel must multiply by).
struct Weights {
  Tensor tensor;
  std::vector<float> f32;               // (rows, cols) the values as stored
  std::vector<std::uint16_t> halves;    // F16 / BF16 storage
  std::vector<std::int8_t> q;           // Q8_GROUP storage
  std::vector<float> scales;
};

Weights make_weights(WeightType type, std::size_t rows, std::size_t cols, std::mt19937& rng) {
  Weights w;
  w.tensor.type = type;
  w.tensor.rows = rows;
  w.tensor.cols = cols;
  w.f32 = random_floats(rows * cols, rng, 0.1f);
  switch (type) {
    case WeightType::F32: w.tensor.data = w.f32.data(); break;
    case WeightType::F16:
    case WeightType::BF16:
      for (float& v : w.f32) {
        w.halves.push_back(type == WeightType::F16 ? fp32_to_fp16(v) : fp32_to_bf16(v));
        v = type == WeightType::F16 ? fp16_to_fp32(w.halves.back()) : bf16_to_fp32(w.halves.back());
      }
      w.tensor.data = w.halves.data();
      break;
    case WeightType::Q8_GROUP: {
      const std::size_t gs = 4;  // cols % 4 == 0 in the tests below
      w.tensor.group_size = int(gs);
      for (std::size_t g = 0; g < rows * cols / gs; g++) {
        float amax = 0;
        for (std::size_t j = 0; j < gs; j++) amax = std::max(amax, std::fabs(w.f32[g * gs + j]));
        const float scale = amax / 127.0f;
        w.scales.push_back(scale);
        for (std::size_t j = 0; j < gs; j++) {
          w.q.push_back(std::int8_t(std::lround(w.f32[g * gs + j] / scale)));
          w.f32[g * gs + j] = float(w.q.back()) * scale;
        }
      }
      w.tensor.data = w.q.data();
      w.tensor.scales = w.scales.data();
      break;
    }
    default: ADD_FAILURE() << "no test weights for this type";
  }
  return w;
}

// matmul_batch for n tokens against the double-precision product, against
// matmul one token at a time, and the same bits for 1, 2 and 3 threads.
// 33 and 100 rows leave a partial panel; 40 rows with 130 tokens make the
// token split for small matrices kick in.
TEST(MatmulBatch, MatchesMatmulAndDoubleForEveryTypeAndThreadCount) {
  std::mt19937 rng(12);
  ThreadPool one(1), two(2), three(3);
  for (WeightType type : {WeightType::F32, WeightType::F16, WeightType::BF16, WeightType::Q8_GROUP}) {
    for (auto [rows, cols, n] : {std::tuple<std::size_t, std::size_t, std::size_t>{33, 20, 7},
                                 {100, 300, 9}, {40, 64, 130}, {65, 260, 1}}) {
      SCOPED_TRACE(std::string(weight_type_name(type)) + " " + std::to_string(rows) + "x" + std::to_string(cols) +
                   ", " + std::to_string(n) + " tokens");
      Weights w = make_weights(type, rows, cols, rng);
      auto x = random_floats(n * cols, rng);
      std::vector<float> out1(n * rows), out2(n * rows), out3(n * rows), row(rows);
      matmul_batch(out1.data(), x.data(), n, w.tensor, one);
      matmul_batch(out2.data(), x.data(), n, w.tensor, two);
      matmul_batch(out3.data(), x.data(), n, w.tensor, three);
      ASSERT_EQ(0, std::memcmp(out1.data(), out2.data(), out1.size() * sizeof(float))) << "2 threads";
      ASSERT_EQ(0, std::memcmp(out1.data(), out3.data(), out1.size() * sizeof(float))) << "3 threads";
      for (std::size_t b = 0; b < n; b++) {
        matmul(row.data(), &x[b * cols], w.tensor, one);
        for (std::size_t i = 0; i < rows; i++) {
          double want = 0, abs_sum = 0;
          for (std::size_t k = 0; k < cols; k++) {
            want += double(w.f32[i * cols + k]) * x[b * cols + k];
            abs_sum += std::fabs(double(w.f32[i * cols + k]) * x[b * cols + k]);
          }
          const double bound = 2.0 * (cols + 1) * kU * abs_sum;
          ASSERT_NEAR(out1[b * rows + i], want, bound) << "row " << i << ", token " << b;
          ASSERT_NEAR(out1[b * rows + i], row[i], 2 * bound) << "matmul, row " << i << ", token " << b;
        }
      }
    }
  }
}

// A token's outputs do not depend on the other tokens of the batch: the last
// row of a batch is the same bits as that token alone (run_prompt's
// classifier relies on it).
TEST(MatmulBatch, ATokensRowDoesNotDependOnTheBatch) {
  std::mt19937 rng(13);
  ThreadPool two(2);
  Weights w = make_weights(WeightType::F32, 300, 520, rng);  // 520 cols: three column sweeps
  const std::size_t n = 150;
  auto x = random_floats(n * 520, rng);
  std::vector<float> all(n * 300), last(300);
  matmul_batch(all.data(), x.data(), n, w.tensor, two);
  matmul_batch(last.data(), &x[(n - 1) * 520], 1, w.tensor, two);
  EXPECT_EQ(0, std::memcmp(last.data(), &all[(n - 1) * 300], 300 * sizeof(float)));
}

// --- attention_batch ----------------------------------------------------------------------

// Each query of a batch against attention_head at its own position: the same
// result within float rounding (the batch uses matrix products and a
// vectorized exp), for a batch from position 0 and one after a cache.
TEST(AttentionBatch, EqualsAttentionHeadPerToken) {
  std::mt19937 rng(14);
  for (std::size_t hs : {std::size_t(8), std::size_t(20), std::size_t(48), std::size_t(64)}) {
    for (auto [pos0, n] : {std::pair<std::size_t, std::size_t>{0, 1}, {0, 37}, {5, 16}, {30, 17}}) {
      SCOPED_TRACE("head_size " + std::to_string(hs) + ", positions " + std::to_string(pos0) + " + " +
                   std::to_string(n));
      const std::size_t seq = pos0 + n + 3, ldq = hs + 3, ldo = hs + 5;
      auto keys = random_floats(seq * hs, rng), values = random_floats(seq * hs, rng);
      auto q = random_floats(n * ldq, rng, 0.5f);
      std::vector<float> out(n * ldo, -1.0f), scratch(attention_batch_scratch(seq, hs)), want(hs), att(seq);
      attention_batch(out.data(), ldo, q.data(), ldq, n, pos0, keys.data(), values.data(), hs, scratch.data());
      for (std::size_t t = 0; t < n; t++) {
        attention_head(want.data(), att.data(), &q[t * ldq], keys.data(), values.data(), pos0 + t + 1, hs);
        for (std::size_t d = 0; d < hs; d++) ASSERT_NEAR(out[t * ldo + d], want[d], 1e-5) << "query " << t << ", " << d;
        for (std::size_t d = hs; d < ldo; d++) ASSERT_EQ(out[t * ldo + d], -1.0f) << "wrote past head_size";
      }
    }
  }
}

// The test can fail: attending one position too far (a broken causal mask)
// moves the result far beyond the tolerance above.
TEST(AttentionBatch, GuardDetectsAnOffByOneMask) {
  std::mt19937 rng(15);
  const std::size_t hs = 16, n = 8, seq = 9;
  auto keys = random_floats(seq * hs, rng), values = random_floats(seq * hs, rng), q = random_floats(n * hs, rng);
  std::vector<float> out(n * hs), scratch(attention_batch_scratch(seq, hs)), want(hs), att(seq);
  attention_batch(out.data(), hs, q.data(), hs, n, 0, keys.data(), values.data(), hs, scratch.data());
  attention_head(want.data(), att.data(), &q[2 * hs], keys.data(), values.data(), 4, hs);  // one key too many
  double worst = 0;
  for (std::size_t d = 0; d < hs; d++) worst = std::max(worst, double(std::fabs(out[2 * hs + d] - want[d])));
  EXPECT_GT(worst, 1e-3);
}

// --- RoPE ------------------------------------------------------------------------------------

// rope = rope_angles + rope_rotate, and both are the formula: pair (i, i + 1)
// of each head turned by pos * theta^(-i / head_size).
TEST(Rope, AnglesOncePerPairRotateEveryHead) {
  std::mt19937 rng(16);
  const std::size_t hs = 12, n = 36;  // three heads
  for (int pos : {0, 1, 17, 1000}) {
    auto v = random_floats(n, rng);
    std::vector<float> a = v, b = v, cos_sin(hs);
    rope(a.data(), n, hs, pos, 10000.0f);
    rope_angles(cos_sin.data(), hs, pos, 10000.0f);
    rope_rotate(b.data(), n, hs, cos_sin.data());
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), n * sizeof(float))) << "pos " << pos;
    for (std::size_t i = 0; i < n; i += 2) {
      const double angle = pos * std::pow(10000.0, -double(i % hs) / double(hs));
      const double c = std::cos(angle), s = std::sin(angle);
      EXPECT_NEAR(a[i], v[i] * c - v[i + 1] * s, 2e-4) << "pos " << pos << ", i " << i;
      EXPECT_NEAR(a[i + 1], v[i] * s + v[i + 1] * c, 2e-4) << "pos " << pos << ", i " << i;
    }
  }
}

}  // namespace
}  // namespace llama2

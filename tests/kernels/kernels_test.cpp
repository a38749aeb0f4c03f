// Every SIMD kernel table against the scalar reference (kernels_scalar.cpp)
// on random data with odd sizes, for each instruction set this CPU runs.
#include "kernels/kernels.hpp"
#include "kernels/row_pairs.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu_features.hpp"
#include "kernels/fp16.hpp"
#include "kernels/quants.hpp"
#include "kernels/weight_types.hpp"
#include "support/block_mins.hpp"
#include "support/isa_test.hpp"

namespace llama2 {
namespace {

constexpr std::size_t kSizes[] = {1, 7, 15, 16, 17, 31, 33, 48, 64, 100, 257, 768, 4097};

std::vector<float> random_floats(std::size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& f : v) f = dist(rng);
  return v;
}

std::vector<std::int8_t> random_int8(std::size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> dist(-127, 127);
  std::vector<std::int8_t> v(n);
  for (auto& q : v) q = std::int8_t(dist(rng));
  return v;
}

// Tolerance for a sum of n products of magnitude ~|a||b|: float rounding in
// a different summation order grows like sqrt(n) * eps * sum|a_i b_i|.
float tolerance(const float* a, const float* b, std::size_t n) {
  double abs_sum = 0;
  for (std::size_t i = 0; i < n; i++) abs_sum += std::fabs(double(a[i]) * b[i]);
  return float(4e-7 * (std::sqrt(double(n)) + 4) * abs_sum + 1e-30);
}

// Rows of `type` back to back at data, as the kernels see them.
WeightRows rows_of(const void* data, WeightType type, std::size_t cols) { return {data, row_bytes(type, cols), cols}; }
// llama2.c's Q8_GROUP: one int8 per value, one scale per gs values.
WeightRows q8_group_rows(const std::int8_t* q, const float* scales, std::size_t gs, std::size_t cols) {
  return {q, cols, cols, scales, gs};
}

// The tables to test: every SIMD instruction set this CPU runs.
class KernelsTest : public test::IsaTest {
 protected:
  const Kernels& ref() const { return kernels_scalar(); }
};

// Which weight types every table has kernels for. Each has an
// fp32-activation matvec except the GGUF types that only have integer ones
// (Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q5_K: with LLAMA2_INT8_DOT=0 they
// dequantize, ops.cpp); every GGUF block type an int8 matvec and an int8 GEMM.
bool has_matvec(WeightType t) {
  return t == WeightType::F32 || t == WeightType::F16 || t == WeightType::BF16 || t == WeightType::Q8_GROUP ||
         t == WeightType::Q8_0 || t == WeightType::Q4_0 || t == WeightType::Q4_K || t == WeightType::Q6_K;
}
bool has_int8(WeightType t) { return weight_type_info(t).block_size > 1; }
bool has_int8_gemm(WeightType t) { return has_int8(t); }

TEST_P(KernelsTest, TableIsComplete) {
  EXPECT_EQ(table_->isa, GetParam());
  EXPECT_NE(table_->dot, nullptr);
  EXPECT_NE(table_->axpy, nullptr);
  EXPECT_NE(table_->sum_squares, nullptr);
  EXPECT_NE(table_->quantize_q8x32, nullptr);
  EXPECT_NE(table_->attention_scores, nullptr);
  EXPECT_NE(table_->attention_values, nullptr);
  EXPECT_NE(table_->attention_scores_f16, nullptr);
  EXPECT_NE(table_->attention_values_f16, nullptr);
  EXPECT_NE(table_->matmat_f32, nullptr);
  EXPECT_NE(table_->transpose, nullptr);
  EXPECT_NE(table_->softmax, nullptr);
  EXPECT_NE(table_->swiglu, nullptr);
  for (const WeightTypeInfo& info : kWeightTypes) {
    const WeightKernels& k = table_->weight(info.type);
    if (is_load_layout(info.type)) {
      // Q4_0's 8-row tiles are read by the AVX2 int8 kernels only, so
      // repacked only where Q4_0 runs on them (AVX2, and AVX-512 without
      // VNNI: kernels/q4_0_x8.hpp), the 16-row tiles of Q4_0 and Q8_0 by
      // the AVX-512 VNNI ones only (kernels/q_0_x16.hpp); Q4_K's tiles and
      // the row pairs by both x86 tables' (kernels/q4_k_x8.hpp,
      // kernels/row_pairs.hpp).
      const WeightType file_type = file_type_of_layout(info.type);
      const Kernels* avx2 = kernels_for(Isa::AVX2);
      const bool on_avx2 = avx2 && table_->weight(file_type).matvec_int8 == avx2->weight(file_type).matvec_int8;
      const bool x86 = GetParam() == Isa::AVX2 || GetParam() == Isa::AVX512;
      const bool has = info.type == WeightType::Q4_0_X8    ? on_avx2
                       : info.type == WeightType::Q4_0_X16 || info.type == WeightType::Q8_0_X16
                           ? GetParam() == Isa::AVX512 && !on_avx2
                           : x86;
      EXPECT_EQ(k.matvec, nullptr) << info.name;
      EXPECT_EQ(k.matvec_int8 != nullptr, has) << info.name;
      EXPECT_EQ(k.matmat_int8 != nullptr, has) << info.name;
      continue;
    }
    EXPECT_EQ(k.matvec != nullptr, has_matvec(info.type)) << info.name;
    EXPECT_EQ(k.matvec_int8 != nullptr, has_int8(info.type)) << info.name;
    EXPECT_EQ(k.matmat_int8 != nullptr, has_int8_gemm(info.type)) << info.name;
  }
}

// The SIMD tables run kernels of their own, not the scalar reference's: the
// F16 / BF16 matvecs, and every block type's int8 matvec and GEMM (NEON's
// int8 kernels need the dot product instructions; without them it keeps the
// scalar ones).
TEST_P(KernelsTest, SimdTablesHaveTheirOwnHalfFloatAndInt8Kernels) {
  if (GetParam() == Isa::SCALAR) GTEST_SKIP() << "the reference itself";
  for (WeightType type : {WeightType::F16, WeightType::BF16}) {
    EXPECT_NE(table_->weight(type).matvec, ref().weight(type).matvec) << weight_type_name(type);
  }
  if (GetParam() == Isa::NEON && !cpu_features().neon_dotprod) GTEST_SKIP() << "no dot product instructions";
  for (const WeightTypeInfo& info : kWeightTypes) {
    if (!has_int8(info.type) || is_load_layout(info.type)) continue;  // TableIsComplete
    EXPECT_NE(table_->weight(info.type).matvec_int8, ref().weight(info.type).matvec_int8) << info.name;
    EXPECT_NE(table_->weight(info.type).matmat_int8, ref().weight(info.type).matmat_int8) << info.name;
  }
}

TEST_P(KernelsTest, DotMatchesScalar) {
  std::mt19937 rng(1);
  for (std::size_t n : kSizes) {
    auto a = random_floats(n, rng), b = random_floats(n, rng);
    EXPECT_NEAR(table_->dot(a.data(), b.data(), n), ref().dot(a.data(), b.data(), n), tolerance(a.data(), b.data(), n))
        << "n = " << n;
    EXPECT_NEAR(table_->sum_squares(a.data(), n), ref().sum_squares(a.data(), n), tolerance(a.data(), a.data(), n))
        << "n = " << n;
  }
}

TEST_P(KernelsTest, DotReadsNoFurtherThanN) {
  // A NaN just past the end must not leak into the sum (masked tails).
  std::mt19937 rng(2);
  for (std::size_t n : kSizes) {
    auto a = random_floats(n + 16, rng), b = random_floats(n + 16, rng);
    for (std::size_t i = n; i < n + 16; i++) a[i] = b[i] = NAN;
    EXPECT_FALSE(std::isnan(table_->dot(a.data(), b.data(), n))) << "n = " << n;
  }
}

TEST_P(KernelsTest, AxpyMatchesScalarAndLeavesTheRestAlone) {
  std::mt19937 rng(3);
  for (std::size_t n : kSizes) {
    auto x = random_floats(n, rng), y = random_floats(n + 5, rng);
    auto expected = y;
    ref().axpy(expected.data(), 0.37f, x.data(), n);
    table_->axpy(y.data(), 0.37f, x.data(), n);
    for (std::size_t i = 0; i < n + 5; i++) {
      // FMA vs multiply-then-add: one rounding apart.
      ASSERT_NEAR(y[i], expected[i], 1e-6f * (std::fabs(expected[i]) + 1)) << "n = " << n << ", i = " << i;
    }
    for (std::size_t i = n; i < n + 5; i++) ASSERT_EQ(y[i], expected[i]) << "wrote past n = " << n;
  }
}

TEST_P(KernelsTest, AttentionMatchesScalar) {
  std::mt19937 rng(4);
  for (std::size_t hs : {2, 6, 16, 48, 64, 100, 128}) {
    for (std::size_t n_pos : {1, 2, 3, 17, 64, 257}) {
      auto q = random_floats(hs, rng), keys = random_floats(n_pos * hs, rng), values = random_floats(n_pos * hs, rng);
      std::vector<float> att(n_pos), att_ref(n_pos);
      table_->attention_scores(att.data(), q.data(), keys.data(), n_pos, hs, 0.125f);
      ref().attention_scores(att_ref.data(), q.data(), keys.data(), n_pos, hs, 0.125f);
      for (std::size_t t = 0; t < n_pos; t++) {
        ASSERT_NEAR(att[t], att_ref[t], 0.125f * tolerance(q.data(), keys.data() + t * hs, hs))
            << "head_size " << hs << " t " << t;
      }
      auto weights = random_floats(n_pos, rng, 0.2f);
      std::vector<float> out(hs + 3, 7.0f), out_ref(hs + 3, 7.0f);
      table_->attention_values(out.data(), weights.data(), values.data(), n_pos, hs);
      ref().attention_values(out_ref.data(), weights.data(), values.data(), n_pos, hs);
      for (std::size_t i = 0; i < hs; i++) {
        ASSERT_NEAR(out[i], out_ref[i], 1e-5f * std::sqrt(float(n_pos))) << "head_size " << hs << " i " << i;
      }
      for (std::size_t i = hs; i < hs + 3; i++) ASSERT_EQ(out[i], 7.0f) << "wrote past head_size " << hs;
    }
  }
}

TEST_P(KernelsTest, MatvecF32MatchesScalar) {
  std::mt19937 rng(5);
  for (std::size_t cols : kSizes) {
    for (std::size_t rows : {1, 3, 4, 9, 33}) {
      auto w = random_floats(rows * cols, rng), x = random_floats(cols, rng);
      std::vector<float> out(rows, NAN), out_ref(rows, NAN);
      const WeightRows wr = rows_of(w.data(), WeightType::F32, cols);
      table_->weight(WeightType::F32).matvec(out.data(), wr, x.data(), 0, rows);
      ref().weight(WeightType::F32).matvec(out_ref.data(), wr, x.data(), 0, rows);
      for (std::size_t r = 0; r < rows; r++) {
        ASSERT_NEAR(out[r], out_ref[r], tolerance(w.data() + r * cols, x.data(), cols))
            << "rows " << rows << " cols " << cols << " r " << r;
      }
    }
  }
}

TEST_P(KernelsTest, MatvecRowDoesNotDependOnTheSplit) {
  // The thread pool may hand any row range to a thread: row r must come out
  // bit-identical whether computed in a block of rows or on its own.
  std::mt19937 rng(6);
  const std::size_t rows = 23, cols = 100, gs = 20;
  auto w = random_floats(rows * cols, rng), x = random_floats(cols, rng);
  auto q = random_int8(rows * cols, rng);
  auto scales = random_floats(rows * cols / gs, rng, 0.01f);
  std::vector<float> whole(rows), pieces(rows), whole_q(rows), pieces_q(rows);
  const WeightRows wr = rows_of(w.data(), WeightType::F32, cols), qr = q8_group_rows(q.data(), scales.data(), gs, cols);
  MatvecFn* const f32 = table_->weight(WeightType::F32).matvec;
  MatvecFn* const q8 = table_->weight(WeightType::Q8_GROUP).matvec;
  f32(whole.data(), wr, x.data(), 0, rows);
  q8(whole_q.data(), qr, x.data(), 0, rows);
  for (std::size_t r0 = 0; r0 < rows;) {
    std::size_t r1 = std::min(rows, r0 + 1 + r0 % 6);
    f32(pieces.data(), wr, x.data(), r0, r1);
    q8(pieces_q.data(), qr, x.data(), r0, r1);
    r0 = r1;
  }
  for (std::size_t r = 0; r < rows; r++) {
    EXPECT_EQ(whole[r], pieces[r]) << "f32 row " << r;
    EXPECT_EQ(whole_q[r], pieces_q[r]) << "q8 row " << r;
  }
}

TEST_P(KernelsTest, MatvecQ8GroupMatchesDequantizedWeights) {
  // Against a double-precision dot with the dequantized weights: the int8
  // path keeps activations in fp32, so it is as exact as fp32 sums allow.
  std::mt19937 rng(7);
  for (std::size_t gs : {4, 8, 16, 32, 48, 64, 256}) {
    for (std::size_t groups : {1, 3, 12}) {
      const std::size_t cols = gs * groups;
      for (std::size_t rows : {1, 5, 8, 13}) {
        auto q = random_int8(rows * cols, rng);
        auto scales = random_floats(rows * groups, rng, 0.01f);
        auto x = random_floats(cols, rng);
        std::vector<float> out(rows, NAN), out_ref(rows, NAN);
        const WeightRows qr = q8_group_rows(q.data(), scales.data(), gs, cols);
        table_->weight(WeightType::Q8_GROUP).matvec(out.data(), qr, x.data(), 0, rows);
        ref().weight(WeightType::Q8_GROUP).matvec(out_ref.data(), qr, x.data(), 0, rows);
        for (std::size_t r = 0; r < rows; r++) {
          double exact = 0, abs_sum = 0;
          for (std::size_t j = 0; j < cols; j++) {
            double wv = double(q[r * cols + j]) * scales[(r * cols + j) / gs];
            exact += wv * x[j];
            abs_sum += std::fabs(wv * x[j]);
          }
          const double tol = 1e-6 * (std::sqrt(double(cols)) + 4) * abs_sum;
          ASSERT_NEAR(out[r], exact, tol) << "gs " << gs << " cols " << cols << " r " << r;
          ASSERT_NEAR(out_ref[r], exact, tol) << "scalar, gs " << gs << " cols " << cols << " r " << r;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, KernelsTest, ::testing::Values(Isa::SCALAR, Isa::AVX2, Isa::AVX512, Isa::NEON),
                         [](const ::testing::TestParamInfo<Isa>& info) { return std::string(isa_name(info.param)); });

TEST(KernelDispatch, PicksASupportedTable) {
  const Kernels& k = kernels();
  EXPECT_TRUE(isa_supported(k.isa)) << isa_name(k.isa);
  EXPECT_EQ(kernels_for(k.isa), &k);
  // Nothing better than the chosen table is available (unless LLAMA2_ISA caps it).
  if (!std::getenv("LLAMA2_ISA")) {
    for (Isa isa : {Isa::AVX2, Isa::AVX512, Isa::NEON}) {
      if (int(isa) > int(k.isa)) EXPECT_EQ(kernels_for(isa), nullptr) << isa_name(isa) << " is supported but unused";
    }
  }
}

}  // namespace
}  // namespace llama2

// --- GGUF types ------------------------------------------------------------------------

namespace llama2 {
namespace {

class GgufKernelsTest : public KernelsTest {};

// Random blocks of a GGUF type through the reference quantizer (Q8_0, Q4_0),
// or random 16-bit floats.
std::vector<std::uint8_t> random_rows(WeightType type, std::size_t rows, std::size_t cols, std::mt19937& rng) {
  auto values = random_floats(rows * cols, rng, 0.05f);
  std::vector<std::uint8_t> bytes(rows * row_bytes(type, cols));
  for (std::size_t r = 0; r < rows; r++) {
    std::uint8_t* dst = bytes.data() + r * row_bytes(type, cols);
    const float* src = values.data() + r * cols;
    switch (type) {
      case WeightType::Q8_0: quantize_q8_0(src, reinterpret_cast<BlockQ8_0*>(dst), cols); break;
      case WeightType::Q4_0: quantize_q4_0(src, reinterpret_cast<BlockQ4_0*>(dst), cols); break;
      case WeightType::F16:
      case WeightType::BF16:
        for (std::size_t j = 0; j < cols; j++) {
          std::uint16_t h = type == WeightType::F16 ? fp32_to_fp16(src[j]) : fp32_to_bf16(src[j]);
          std::memcpy(dst + 2 * j, &h, 2);
        }
        break;
      default: ADD_FAILURE() << "no generator for this type";
    }
  }
  return bytes;
}

TEST_P(GgufKernelsTest, HalfFloatRowsMatchDequantizedDot) {
  std::mt19937 rng(11);
  for (WeightType type : {WeightType::F16, WeightType::BF16}) {
    for (std::size_t cols : kSizes) {
      const std::size_t rows = 5;
      auto bytes = random_rows(type, rows, cols, rng);
      auto x = random_floats(cols, rng);
      std::vector<float> out(rows), deq(cols);
      table_->weight(type).matvec(out.data(), rows_of(bytes.data(), type, cols), x.data(), 0, rows);
      for (std::size_t r = 0; r < rows; r++) {
        dequantize_blocks(type, bytes.data() + r * cols * 2, deq.data(), cols);
        ASSERT_NEAR(out[r], ref().dot(deq.data(), x.data(), cols), tolerance(deq.data(), x.data(), cols))
            << weight_type_name(type) << " cols " << cols << " r " << r;
      }
    }
  }
}

TEST_P(GgufKernelsTest, QuantizedRowsMatchScalarAndDequantizedDot) {
  std::mt19937 rng(12);
  for (WeightType type : {WeightType::Q8_0, WeightType::Q4_0}) {
    for (std::size_t cols : {32, 64, 96, 288, 800, 4096}) {
      const std::size_t rows = 7, stride = row_bytes(type, cols);
      auto bytes = random_rows(type, rows, cols, rng);
      auto x = random_floats(cols, rng);
      std::vector<BlockQ8x32> xq(cols / 32);
      quantize_q8x32(x.data(), xq.data(), cols);
      const WeightRows wr = rows_of(bytes.data(), type, cols);
      std::vector<float> out(rows), out_ref(rows), deq(cols), xdeq(cols);
      table_->weight(type).matvec_int8(out.data(), wr, xq.data(), 0, rows);
      ref().weight(type).matvec_int8(out_ref.data(), wr, xq.data(), 0, rows);
      for (std::size_t j = 0; j < cols; j++) xdeq[j] = xq[j / 32].d * float(xq[j / 32].qs[j % 32]);
      for (std::size_t r = 0; r < rows; r++) {
        dequantize_blocks(type, bytes.data() + r * stride, deq.data(), cols);
        // Same integer sums as the scalar kernel: only the float scaling order differs.
        ASSERT_NEAR(out[r], out_ref[r], tolerance(deq.data(), xdeq.data(), cols))
            << weight_type_name(type) << " cols " << cols << " r " << r;
        // Against fp32 activations: off by at most the activation rounding,
        // |sum w (x - xq)| <= sum |w| * d / 2 per block.
        double bound = 0;
        for (std::size_t j = 0; j < cols; j++) bound += std::fabs(deq[j]) * xq[j / 32].d * 0.5;
        ASSERT_NEAR(out[r], ref().dot(deq.data(), x.data(), cols), bound + tolerance(deq.data(), x.data(), cols))
            << weight_type_name(type) << " cols " << cols << " r " << r;
      }
    }
  }
}

TEST(WeightsFitInCache, SmallFitsHugeDoesNot) {
  EXPECT_TRUE(weights_fit_in_cache(0));
  EXPECT_TRUE(weights_fit_in_cache(1 << 20));
  EXPECT_FALSE(weights_fit_in_cache(std::size_t(1) << 40));
}

INSTANTIATE_TEST_SUITE_P(AllIsas, GgufKernelsTest, ::testing::Values(Isa::SCALAR, Isa::AVX2, Isa::AVX512, Isa::NEON),
                         [](const ::testing::TestParamInfo<Isa>& info) { return std::string(isa_name(info.param)); });

// --- GGUF types with fp32 activations ---------------------------------------------------

// A random valid fp16 scale: magnitude 1e-6 .. 1e-1 (some subnormal in
// fp16), either sign; never inf or NaN.
std::uint16_t random_scale(std::mt19937& rng) {
  std::uniform_real_distribution<float> exponent(-6.0f, -1.0f);
  const float v = std::pow(10.0f, exponent(rng)) * (rng() & 1 ? 1.0f : -1.0f);
  return fp32_to_fp16(v);
}

// Where the fp16 fields (d, and dmin or m) sit in a block of `type`.
std::vector<std::size_t> fp16_offsets(WeightType type) {
  switch (type) {
    case WeightType::Q8_0:
    case WeightType::Q4_0:
    case WeightType::Q5_0: return {0};
    case WeightType::Q4_1: return {offsetof(BlockQ4_1, d), offsetof(BlockQ4_1, m)};
    case WeightType::Q5_1: return {offsetof(BlockQ5_1, d), offsetof(BlockQ5_1, m)};
    case WeightType::Q2_K: return {offsetof(BlockQ2_K, d), offsetof(BlockQ2_K, dmin)};
    case WeightType::Q3_K: return {offsetof(BlockQ3_K, d)};
    case WeightType::Q4_K: return {offsetof(BlockQ4_K, d), offsetof(BlockQ4_K, dmin)};
    case WeightType::Q5_K: return {offsetof(BlockQ5_K, d), offsetof(BlockQ5_K, dmin)};
    case WeightType::Q6_K: return {offsetof(BlockQ6_K, d)};
    default: ADD_FAILURE() << "no generator for this type"; return {};
  }
}

// Rows of random blocks: every quant and sub-block scale byte random, the
// fp16 scale fields random valid scales.
std::vector<std::uint8_t> random_blocks(WeightType type, std::size_t rows, std::size_t cols, std::mt19937& rng) {
  const BlockLayout layout = block_layout(type);
  std::vector<std::uint8_t> bytes(rows * row_bytes(type, cols));
  for (auto& b : bytes) b = std::uint8_t(rng());
  const std::vector<std::size_t> scale_offsets = fp16_offsets(type);
  for (std::size_t b = 0; b < bytes.size() / layout.block_bytes; b++) {
    for (std::size_t off : scale_offsets) {
      const std::uint16_t h = random_scale(rng);
      std::memcpy(bytes.data() + b * layout.block_bytes + off, &h, 2);
    }
  }
  return bytes;
}

constexpr WeightType kBlockTypes[] = {WeightType::Q8_0, WeightType::Q4_0, WeightType::Q4_K, WeightType::Q6_K};
// Every GGUF block type: each has an int8 matvec in every table.
constexpr WeightType kInt8Types[] = {WeightType::Q8_0, WeightType::Q4_0, WeightType::Q4_1, WeightType::Q5_0,
                                     WeightType::Q5_1, WeightType::Q2_K, WeightType::Q3_K, WeightType::Q4_K,
                                     WeightType::Q5_K, WeightType::Q6_K};

// 33024 columns: 129 super-blocks, past the 128 whose activation side the
// x86 Q4_K / Q5_K (and AVX2 Q6_K) matvecs build once per call (int8_x86.hpp:
// kMaxSuperBlocks); wider rows take the other path.
std::vector<std::size_t> block_cols(WeightType type) {
  if (block_layout(type).block_size == kQK) return {32, 64, 96, 288, 4096};
  return {256, 512, 4352, 33024};
}

TEST_P(GgufKernelsTest, BlockRowsWithFp32ActivationsMatchScalarAndDoubleDot) {
  std::mt19937 rng(14);
  for (WeightType type : kBlockTypes) {
    for (std::size_t cols : block_cols(type)) {
      for (std::size_t rows : {1, 3, 17}) {
        const std::size_t stride = row_bytes(type, cols);
        auto bytes = random_blocks(type, rows, cols, rng);
        auto x = random_floats(cols + 16, rng);
        for (std::size_t j = cols; j < cols + 16; j++) x[j] = NAN;  // must not be read
        std::vector<float> out(rows + 1, 7.0f), out_ref(rows + 1, 7.0f), deq(cols);
        const WeightRows wr{bytes.data(), stride, cols};
        table_->weight(type).matvec(out.data(), wr, x.data(), 0, rows);
        ref().weight(type).matvec(out_ref.data(), wr, x.data(), 0, rows);
        EXPECT_EQ(out[rows], 7.0f) << "wrote past r1";
        for (std::size_t r = 0; r < rows; r++) {
          dequantize_blocks(type, bytes.data() + r * stride, deq.data(), cols);
          double exact = 0;
          for (std::size_t j = 0; j < cols; j++) exact += double(deq[j]) * x[j];
          const float tol = tolerance(deq.data(), x.data(), cols);
          ASSERT_NEAR(out[r], out_ref[r], 2 * tol) << weight_type_name(type) << " cols " << cols << " r " << r;
          ASSERT_NEAR(out[r], exact, tol) << weight_type_name(type) << " cols " << cols << " r " << r;
          ASSERT_NEAR(out_ref[r], exact, tol) << "scalar " << weight_type_name(type) << " cols " << cols;
        }
      }
    }
  }
}

TEST_P(GgufKernelsTest, BlockRowsRebuildEveryWeightExactly) {
  // x = e_j picks out weight j: it must equal dequantize_blocks' value bit
  // for bit (checks each value's position in the block and its scale).
  std::mt19937 rng(15);
  for (WeightType type : kBlockTypes) {
    const std::size_t cols = 2 * block_layout(type).block_size, rows = 2, stride = row_bytes(type, cols);
    auto bytes = random_blocks(type, rows, cols, rng);
    std::vector<float> x(cols, 0.0f), out(rows), deq(rows * cols);
    dequantize_blocks(type, bytes.data(), deq.data(), rows * cols);
    for (std::size_t j = 0; j < cols; j++) {
      x[j] = 1.0f;
      table_->weight(type).matvec(out.data(), {bytes.data(), stride, cols}, x.data(), 0, rows);
      x[j] = 0.0f;
      for (std::size_t r = 0; r < rows; r++) {
        ASSERT_EQ(out[r], deq[r * cols + j]) << weight_type_name(type) << " row " << r << " value " << j;
      }
    }
  }
}

TEST_P(GgufKernelsTest, BlockRowsDoNotDependOnTheSplit) {
  std::mt19937 rng(16);
  for (WeightType type : kBlockTypes) {
    const std::size_t rows = 23, cols = 2 * block_layout(type).block_size, stride = row_bytes(type, cols);
    auto bytes = random_blocks(type, rows, cols, rng);
    auto x = random_floats(cols, rng);
    std::vector<float> whole(rows), pieces(rows);
    MatvecFn* const fn = table_->weight(type).matvec;
    const WeightRows wr{bytes.data(), stride, cols};
    fn(whole.data(), wr, x.data(), 0, rows);
    for (std::size_t r0 = 0; r0 < rows;) {
      const std::size_t r1 = std::min(rows, r0 + 1 + r0 % 6);
      fn(pieces.data(), wr, x.data(), r0, r1);
      r0 = r1;
    }
    for (std::size_t r = 0; r < rows; r++) EXPECT_EQ(whole[r], pieces[r]) << weight_type_name(type) << " row " << r;
  }
}

// --- GGUF types with int8 activations ---------------------------------------------------

// sum |w_j x_j| over a row, with a weight of the types with a min counted
// as its two terms |scaled quant| + |min| (they can cancel): what fp32
// rounding is relative to.
double int8_magnitude(WeightType type, const std::uint8_t* row, const float* deq, const float* xdeq, std::size_t cols) {
  double m = 0;
  for (std::size_t j = 0; j < cols; j++) {
    m += std::fabs(double(deq[j]) * xdeq[j]) + 2 * test::min_magnitude(type, row, j) * std::fabs(xdeq[j]);
  }
  return m;
}

// Random activations, one block of 32 left zero (scale 0), quantized.
std::vector<BlockQ8x32> random_q8x32(std::size_t cols, std::mt19937& rng) {
  auto x = random_floats(cols, rng);
  for (std::size_t j = 32; j < 64 && j < cols; j++) x[j] = 0.0f;
  std::vector<BlockQ8x32> xq(cols / 32);
  quantize_q8x32(x.data(), xq.data(), cols);
  return xq;
}

// Every table's integer kernels against the double dot product of the
// dequantized weights with the dequantized activations (which the scalar
// kernels must also meet), and against the scalar kernels. The integer sums
// are exact, so only fp32 rounding of the per-block products and of the
// running sum separates them: a few ulps of sum |w| |x|, where one wrong
// quant moves the result by ~1 / cols of that.
TEST_P(GgufKernelsTest, BlockRowsWithInt8ActivationsMatchScalarAndDoubleDot) {
  std::mt19937 rng(17);
  for (WeightType type : kInt8Types) {
    for (std::size_t cols : block_cols(type)) {
      for (std::size_t rows : {1, 3, 5, 17}) {
        const std::size_t stride = row_bytes(type, cols);
        auto bytes = random_blocks(type, rows, cols, rng);
        const auto xq = random_q8x32(cols, rng);
        std::vector<float> out(rows + 1, 7.0f), out_ref(rows + 1, 7.0f), deq(cols), xdeq(cols);
        for (std::size_t j = 0; j < cols; j++) xdeq[j] = xq[j / 32].d * float(xq[j / 32].qs[j % 32]);
        const WeightRows wr{bytes.data(), stride, cols};
        table_->weight(type).matvec_int8(out.data(), wr, xq.data(), 0, rows);
        ref().weight(type).matvec_int8(out_ref.data(), wr, xq.data(), 0, rows);
        EXPECT_EQ(out[rows], 7.0f) << "wrote past r1";
        for (std::size_t r = 0; r < rows; r++) {
          dequantize_blocks(type, bytes.data() + r * stride, deq.data(), cols);
          double exact = 0;
          for (std::size_t j = 0; j < cols; j++) exact += double(deq[j]) * xdeq[j];
          const double tol = 1e-5 * int8_magnitude(type, bytes.data() + r * stride, deq.data(), xdeq.data(), cols) + 1e-30;
          ASSERT_NEAR(out[r], out_ref[r], 2 * tol) << weight_type_name(type) << " cols " << cols << " r " << r;
          ASSERT_NEAR(out[r], exact, tol) << weight_type_name(type) << " cols " << cols << " r " << r;
          ASSERT_NEAR(out_ref[r], exact, tol) << "scalar " << weight_type_name(type) << " cols " << cols;
        }
      }
    }
  }
}

// Row r comes out the same bits in a block of 8 rows, of 4 or on its own,
// over the 8-block steps and the tail, wherever the prefetches go
// (kernels.hpp: set_weights_from_dram).
TEST_P(GgufKernelsTest, BlockRowsWithInt8ActivationsDoNotDependOnTheSplit) {
  std::mt19937 rng(18);
  for (WeightType type : kInt8Types) {
    const std::size_t block = block_layout(type).block_size;
    const std::size_t rows = 23, cols = (block == 32 ? 25 : 3) * block, stride = row_bytes(type, cols);
    auto bytes = random_blocks(type, rows, cols, rng);
    const auto xq = random_q8x32(cols, rng);
    std::vector<float> whole(rows), pieces(rows);
    MatvecInt8Fn* const fn = table_->weight(type).matvec_int8;
    const WeightRows wr{bytes.data(), stride, cols};
    fn(whole.data(), wr, xq.data(), 0, rows);
    const bool from_dram = weights_from_dram();
    set_weights_from_dram(!from_dram);
    for (std::size_t r0 = 0; r0 < rows;) {
      const std::size_t r1 = std::min(rows, r0 + 1 + r0 % 6);
      fn(pieces.data(), wr, xq.data(), r0, r1);
      r0 = r1;
    }
    set_weights_from_dram(from_dram);
    for (std::size_t r = 0; r < rows; r++) EXPECT_EQ(whole[r], pieces[r]) << weight_type_name(type) << " row " << r;
  }
}

// Extreme quants: every weight quant and every activation at its largest
// magnitude (Q8_0 -128 against +-127, Q6_K 63, the Q4_K 6-bit scales and
// mins 63) must not overflow any intermediate integer sum.
TEST_P(GgufKernelsTest, BlockRowsWithInt8ActivationsSurviveExtremeQuants) {
  std::mt19937 rng(19);
  for (WeightType type : kInt8Types) {
    const std::size_t cols = 2 * block_layout(type).block_size, rows = 5, stride = row_bytes(type, cols);
    for (std::uint8_t fill : {0x00, 0x80, 0xFF}) {
      auto bytes = random_blocks(type, rows, cols, rng);
      const BlockLayout layout = block_layout(type);
      for (std::size_t b = 0; b < rows * cols / layout.block_size; b++) {
        std::uint8_t* blk = bytes.data() + b * layout.block_bytes;
        // Keep the fp16 scales, set every other byte.
        for (std::size_t i = 0; i < layout.block_bytes; i++) {
          bool scale = false;
          for (std::size_t off : fp16_offsets(type)) scale = scale || i == off || i == off + 1;
          if (!scale) blk[i] = fill;
        }
      }
      std::vector<float> x(cols);
      for (std::size_t j = 0; j < cols; j++) x[j] = (j % 3 == 0) ? -1.0f : 1.0f;
      std::vector<BlockQ8x32> xq(cols / 32);
      quantize_q8x32(x.data(), xq.data(), cols);
      std::vector<float> out(rows), out_ref(rows), deq(cols), xdeq(cols);
      for (std::size_t j = 0; j < cols; j++) xdeq[j] = xq[j / 32].d * float(xq[j / 32].qs[j % 32]);
      const WeightRows wr{bytes.data(), stride, cols};
      table_->weight(type).matvec_int8(out.data(), wr, xq.data(), 0, rows);
      ref().weight(type).matvec_int8(out_ref.data(), wr, xq.data(), 0, rows);
      for (std::size_t r = 0; r < rows; r++) {
        dequantize_blocks(type, bytes.data() + r * stride, deq.data(), cols);
        double exact = 0;
        for (std::size_t j = 0; j < cols; j++) exact += double(deq[j]) * xdeq[j];
        const double tol = 1e-5 * int8_magnitude(type, bytes.data() + r * stride, deq.data(), xdeq.data(), cols) + 1e-30;
        ASSERT_NEAR(out[r], exact, tol) << weight_type_name(type) << " fill " << int(fill);
        ASSERT_NEAR(out_ref[r], exact, tol) << "scalar " << weight_type_name(type);
      }
    }
  }
}

// Every table rounds to the same bits as the scalar reference: the integer
// kernels' results (and batched = token by token) depend on it. Includes
// exact ties (x / d = k + 0.5, to even), an all-zero block and one huge value.
TEST_P(KernelsTest, QuantizeQ8x32GivesTheScalarBits) {
  std::mt19937 rng(17);
  const std::size_t n = 32 * 37;
  auto x = random_floats(n, rng);
  for (std::size_t j = 32; j < 64; j++) x[j] = 0.0f;
  x[64] = 127.0f;  // d = 1 for this block, so x = k + 0.5 below are exact ties
  for (std::size_t j = 65; j < 96; j++) x[j] = float(int(j) - 80) + 0.5f;
  x[130] = 1e30f;
  std::vector<BlockQ8x32> want(n / 32), got(n / 32);
  ref().quantize_q8x32(x.data(), want.data(), n);
  table_->quantize_q8x32(x.data(), got.data(), n);
  for (std::size_t b = 0; b < n / 32; b++) {
    EXPECT_EQ(got[b].d, want[b].d) << "block " << b;
    EXPECT_EQ(got[b].sums[0], want[b].sums[0]) << "block " << b;
    EXPECT_EQ(got[b].sums[1], want[b].sums[1]) << "block " << b;
    EXPECT_EQ(0, std::memcmp(got[b].qs, want[b].qs, 32)) << "block " << b;
  }
}

TEST(QuantizeQ8x32, RoundTripsWithinHalfAStep) {
  std::mt19937 rng(13);
  auto x = random_floats(96, rng);
  for (int j = 64; j < 96; j++) x[j] = 0.0f;  // an all-zero block: d = 0, no division by zero
  std::vector<BlockQ8x32> q(3);
  quantize_q8x32(x.data(), q.data(), 96);
  for (std::size_t j = 0; j < 96; j++) {
    const BlockQ8x32& b = q[j / 32];
    EXPECT_NEAR(b.d * b.qs[j % 32], x[j], b.d * 0.5f + 1e-7f) << j;
  }
  for (const BlockQ8x32& b : q) {
    int s0 = 0, s1 = 0;
    for (int j = 0; j < 16; j++) s0 += b.qs[j], s1 += b.qs[16 + j];
    EXPECT_EQ(b.sums[0], s0);
    EXPECT_EQ(b.sums[1], s1);
  }
  EXPECT_EQ(q[2].d, 0.0f);
}

}  // namespace
}  // namespace llama2

// The mixes (src/tasks/quantize_mix.cpp): each file type gives each tensor of
// a Llama-2-7B-shaped model the type llama.cpp's llama-quantize gives it.
#include <gtest/gtest.h>

#include <string>

#include "llama2/quantize.hpp"

namespace llama2 {
namespace {

using W = WeightType;
const ModelShape k7B{32, 32, 32, true};

W type_of(FileType f, TensorRole role, int layer = 0, std::size_t cols = 4096, ModelShape shape = k7B) {
  return tensor_type(f, {role, layer, cols}, shape);
}

// use_more_bits for 32 layers: 0-3, 28-31 and 6, 9, 12, ..., 27.
bool more_bits_7b(int i) { return i < 4 || i >= 28 || (i - 4) % 3 == 2; }

TEST(QuantizeMix, Q4_K_M) {
  for (int i = 0; i < 32; i++) {
    const W more = more_bits_7b(i) ? W::Q6_K : W::Q4_K;
    EXPECT_EQ(type_of(FileType::Q4_K_M, TensorRole::AttnV, i), more) << i;
    EXPECT_EQ(type_of(FileType::Q4_K_M, TensorRole::FfnDown, i, 11008), more) << i;
    EXPECT_EQ(type_of(FileType::Q4_K_M, TensorRole::AttnQ, i), W::Q4_K);
    EXPECT_EQ(type_of(FileType::Q4_K_M, TensorRole::FfnUp, i), W::Q4_K);
  }
  EXPECT_EQ(type_of(FileType::Q4_K_M, TensorRole::Output), W::Q6_K);
  EXPECT_EQ(type_of(FileType::Q4_K_M, TensorRole::TokenEmbedding), W::Q4_K);
}

TEST(QuantizeMix, Q5_K_MAndQ5_K_S) {
  EXPECT_EQ(type_of(FileType::Q5_K_M, TensorRole::AttnV, 0), W::Q6_K);
  EXPECT_EQ(type_of(FileType::Q5_K_M, TensorRole::AttnV, 5), W::Q5_K);
  EXPECT_EQ(type_of(FileType::Q5_K_M, TensorRole::FfnDown, 6, 11008), W::Q6_K);
  EXPECT_EQ(type_of(FileType::Q5_K_S, TensorRole::AttnV, 0), W::Q5_K);
  EXPECT_EQ(type_of(FileType::Q5_K_S, TensorRole::FfnDown, 0, 11008), W::Q5_K);
  EXPECT_EQ(type_of(FileType::Q5_K_S, TensorRole::Output), W::Q6_K);
}

TEST(QuantizeMix, Q4_K_S) {
  EXPECT_EQ(type_of(FileType::Q4_K_S, TensorRole::AttnV, 3), W::Q5_K);
  EXPECT_EQ(type_of(FileType::Q4_K_S, TensorRole::AttnV, 4), W::Q4_K);
  EXPECT_EQ(type_of(FileType::Q4_K_S, TensorRole::FfnDown, 3, 11008), W::Q5_K);
  EXPECT_EQ(type_of(FileType::Q4_K_S, TensorRole::FfnDown, 4, 11008), W::Q4_K);
}

TEST(QuantizeMix, Q3_K_MAndQ3_K_S) {
  EXPECT_EQ(type_of(FileType::Q3_K_M, TensorRole::AttnV, 1), W::Q5_K);
  EXPECT_EQ(type_of(FileType::Q3_K_M, TensorRole::AttnV, 2), W::Q4_K);
  EXPECT_EQ(type_of(FileType::Q3_K_M, TensorRole::FfnDown, 1, 11008), W::Q5_K);
  EXPECT_EQ(type_of(FileType::Q3_K_M, TensorRole::FfnDown, 2, 11008), W::Q4_K);
  EXPECT_EQ(type_of(FileType::Q3_K_M, TensorRole::AttnOutput, 7), W::Q4_K);
  EXPECT_EQ(type_of(FileType::Q3_K_M, TensorRole::FfnGate, 7), W::Q3_K);
  EXPECT_EQ(type_of(FileType::Q3_K_S, TensorRole::AttnV, 0), W::Q3_K);
  EXPECT_EQ(type_of(FileType::Q3_K_S, TensorRole::FfnDown, 0, 11008), W::Q3_K);
  EXPECT_EQ(type_of(FileType::Q3_K_S, TensorRole::Output), W::Q6_K);
}

TEST(QuantizeMix, Q2_K) {
  EXPECT_EQ(type_of(FileType::Q2_K, TensorRole::AttnV, 9), W::Q3_K);
  EXPECT_EQ(type_of(FileType::Q2_K, TensorRole::AttnV, 9, 4096, {32, 32, 8, true}), W::Q4_K);  // GQA 4
  EXPECT_EQ(type_of(FileType::Q2_K, TensorRole::FfnDown, 9, 11008), W::Q3_K);
  EXPECT_EQ(type_of(FileType::Q2_K, TensorRole::AttnOutput, 9), W::Q3_K);
  EXPECT_EQ(type_of(FileType::Q2_K, TensorRole::AttnQ, 9), W::Q2_K);
}

TEST(QuantizeMix, TiedClassifierAnd70BAndLegacyTypes) {
  const ModelShape tied{12, 12, 12, false};
  EXPECT_EQ(type_of(FileType::Q4_K_M, TensorRole::TokenEmbedding, 0, 768, tied), W::Q6_K);
  EXPECT_EQ(type_of(FileType::Q4_0, TensorRole::TokenEmbedding, 0, 768, tied), W::Q6_K);
  EXPECT_EQ(type_of(FileType::Q4_0, TensorRole::TokenEmbedding, 0, 288, tied), W::Q8_0);  // 288 % 256 != 0
  EXPECT_EQ(type_of(FileType::Q8_0, TensorRole::Output), W::Q8_0);
  EXPECT_EQ(type_of(FileType::Q4_0, TensorRole::Output), W::Q6_K);
  EXPECT_EQ(type_of(FileType::F16, TensorRole::Output), W::F16);
  const ModelShape l70b{80, 64, 8, true};
  EXPECT_EQ(type_of(FileType::Q4_K_M, TensorRole::AttnV, 10, 8192, l70b), W::Q5_K);
  EXPECT_EQ(type_of(FileType::Q4_K_M, TensorRole::AttnV, 0, 8192, l70b), W::Q6_K);
  EXPECT_EQ(type_of(FileType::Q5_1, TensorRole::AttnV, 0), W::Q5_1);
}

TEST(QuantizeMix, RowsNotAMultipleOf256FallBackToBlock32Types) {
  EXPECT_EQ(type_of(FileType::Q4_K_M, TensorRole::AttnQ, 0, 288), W::Q5_0);
  EXPECT_EQ(type_of(FileType::Q5_K_S, TensorRole::AttnQ, 0, 288), W::Q5_1);
  EXPECT_EQ(type_of(FileType::Q6_K, TensorRole::AttnQ, 0, 288), W::Q8_0);
  EXPECT_EQ(type_of(FileType::Q3_K_S, TensorRole::AttnQ, 0, 288), W::Q4_0);
  EXPECT_EQ(type_of(FileType::Q2_K, TensorRole::AttnQ, 0, 288), W::Q4_0);
  EXPECT_EQ(type_of(FileType::Q4_K_M, TensorRole::AttnQ, 0, 100), W::F16);  // not even 32
  EXPECT_EQ(type_of(FileType::Q4_0, TensorRole::AttnQ, 0, 100), W::F16);
  EXPECT_EQ(type_of(FileType::Q4_K_M, TensorRole::AttnV, 0, 288), W::Q8_0);  // Q6_K's fallback
}

TEST(QuantizeMix, NamesAndBaseTypes) {
  EXPECT_EQ(file_types().size(), 16u);
  EXPECT_EQ(file_type_name(FileType::Q4_K_M), "Q4_K_M");
  EXPECT_EQ(std::uint32_t(FileType::Q4_K_M), 15u);  // llama.cpp's LLAMA_FTYPE_MOSTLY_Q4_K_M
  EXPECT_EQ(base_weight_type(FileType::Q3_K_M), W::Q3_K);
}

}  // namespace
}  // namespace llama2

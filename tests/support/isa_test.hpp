// Kernel tests run once per instruction set: derive the fixture from IsaTest
// (table_ is that set's kernel table, or the test is skipped where this CPU
// or this build lacks it) and instantiate it with
//   INSTANTIATE_TEST_SUITE_P(AllIsas, MyTest, test::kAllIsas, test::isa_param_name);
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernels.hpp"

namespace llama2::test {

class IsaTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    table_ = kernels_for(GetParam());
    if (!table_) GTEST_SKIP() << "this CPU (or this build's architecture) lacks " << isa_name(GetParam());
  }
  const Kernels* table_ = nullptr;
};

inline const auto kAllIsas = ::testing::Values(Isa::SCALAR, Isa::AVX2, Isa::AVX512, Isa::NEON);

inline std::string isa_param_name(const ::testing::TestParamInfo<Isa>& info) {
  return std::string(isa_name(info.param));
}

// (tokens, cols / 32) activation blocks: N(0, 1) values from seed, rounded
// by k's quantize_q8x32 one token at a time.
inline std::vector<BlockQ8x32> random_activations(const Kernels& k, std::size_t tokens, std::size_t cols,
                                                  std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(tokens * cols);
  for (float& v : x) v = dist(rng);
  std::vector<BlockQ8x32> xq(tokens * cols / 32);
  for (std::size_t t = 0; t < tokens; t++) k.quantize_q8x32(x.data() + t * cols, xq.data() + t * cols / 32, cols);
  return xq;
}

}  // namespace llama2::test

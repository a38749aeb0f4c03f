// Kernel tests run once per instruction set: derive the fixture from IsaTest
// (table_ is that set's kernel table, or the test is skipped where this CPU
// or this build lacks it) and instantiate it with
//   INSTANTIATE_TEST_SUITE_P(AllIsas, MyTest, test::kAllIsas, test::isa_param_name);
#pragma once

#include <gtest/gtest.h>

#include <string>

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

}  // namespace llama2::test

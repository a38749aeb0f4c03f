// The check every load layout's matrix passes (Q4_0 and Q4_K tiles, K-type
// row pairs): each of its rows dequantizes to the file's row, bit for bit.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/weight_types.hpp"
#include "llama2/tensor.hpp"

namespace llama2::test {

// file: a matrix as in the file; layout: the same matrix in a load layout.
inline void expect_same_dequantized_rows(const Tensor& file, const Tensor& layout) {
  std::vector<float> want(file.cols), got(file.cols);
  for (std::size_t r = 0; r < file.rows; r++) {
    dequantize_row(file, r, want.data());
    dequantize_row(layout, r, got.data());
    ASSERT_EQ(std::memcmp(want.data(), got.data(), file.cols * sizeof(float)), 0)
        << weight_type_name(layout.type) << " " << file.rows << "x" << file.cols << " row " << r;
  }
}

}  // namespace llama2::test

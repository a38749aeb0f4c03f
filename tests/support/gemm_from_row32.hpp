// A check every load layout's GEMM passes (Q4_0 and Q4_K tiles, K-type row
// pairs): started at row 32, as gemm_int8 hands a thread its rows (w.data
// then starts a group or a pair, tiled_rows counts from there), it gives
// the same bits as the whole matrix's GEMM for those rows.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/kernels.hpp"

namespace llama2::test {

// matmat on rows [32, rows) of the layout matrix w (all its rows from row
// 0), xq (tokens): each token's rows equal want's (tokens, rows) there.
// Nothing to check when rows <= 32. `what` names the case in a failure.
inline void expect_gemm_from_row32(MatmatInt8Fn* matmat, const WeightRows& w, std::size_t rows, const BlockQ8x32* xq,
                                   std::size_t tokens, const std::vector<float>& want, const std::string& what) {
  if (rows <= 32) return;
  WeightRows from32 = w;
  from32.data = w.row(32);
  from32.tiled_rows -= 32;
  std::vector<float> got(tokens * rows, -1.0f);
  matmat(got.data() + 32, rows, from32, rows - 32, xq, tokens);
  for (std::size_t t = 0; t < tokens; t++) {
    ASSERT_EQ(std::memcmp(want.data() + t * rows + 32, got.data() + t * rows + 32, (rows - 32) * sizeof(float)), 0)
        << what << " token " << t;
  }
}

}  // namespace llama2::test

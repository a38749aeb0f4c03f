// The check of a load-time layout (Q4_0 tiles, K-type row pairs): a
// Transformer whose matrices were repacked gives the same logits, bit for
// bit, as one that reads them as in the file (the Q4_K tiles and Q4_0's
// 16-row tiles: batched only; one token at a time they agree within a
// stated tolerance).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "llama2/transformer.hpp"

namespace llama2::test {

// 21 random tokens below vocab_size, the same in every test.
inline std::vector<int> random_tokens(int vocab_size) {
  std::mt19937 rng(3);
  std::vector<int> tokens(21);
  for (int& t : tokens) t = int(rng() % unsigned(vocab_size));
  return tokens;
}

// `tokens` as one batch from position 0: the same logits, bit for bit.
inline void expect_bitwise_same_batched_logits(Transformer& want, Transformer& got, const std::vector<int>& tokens) {
  const auto w = want.forward_batch_all(tokens, 0);
  const std::vector<float> w_copy(w.begin(), w.end());  // the next call reuses the buffer
  const auto g = got.forward_batch_all(tokens, 0);
  ASSERT_EQ(std::memcmp(w_copy.data(), g.data(), g.size_bytes()), 0) << "batched";
}

// `tokens` one at a time from position 0, where `got` reads some matrices
// in another fp32 summation order than `want` (the tiles that sum in the
// GEMM's order): each token's logits within kRounding of the largest until
// an activation that a later matmul rounds to 8 bits lands on the other
// side of a half step (from there the KV cache carries the step), and
// within kStep after it. Prints the worst difference and where the first
// step happened, under `label`.
inline void expect_logits_within_rounding(Transformer& want, Transformer& got, const std::vector<int>& tokens,
                                          const std::string& label) {
  constexpr float kRounding = 1e-5f, kStep = 0.05f;
  float worst = 0;      // the largest |difference| / max |logit| over the tokens
  int first_step = -1;  // the first token whose logits differ by more than rounding
  for (std::size_t i = 0; i < tokens.size(); i++) {
    const auto w = want.forward(tokens[i], int(i));
    const std::vector<float> w_copy(w.begin(), w.end());
    const auto g = got.forward(tokens[i], int(i));
    float diff = 0, scale = 0;
    for (std::size_t v = 0; v < w_copy.size(); v++) {
      diff = std::max(diff, std::fabs(w_copy[v] - g[v]));
      scale = std::max(scale, std::fabs(w_copy[v]));
    }
    ASSERT_LE(diff, kStep * scale) << label << ": token " << i;
    if (first_step < 0 && diff > kRounding * scale) first_step = int(i);
    worst = std::max(worst, diff / scale);
  }
  std::printf("%s: worst |difference| %.3g of the largest logit; first token beyond rounding: %d (-1: none)\n",
              label.c_str(), worst, first_step);
}

// random_tokens, first one at a time, then as one batch.
inline void expect_bitwise_same_logits(Transformer& want, Transformer& got, int vocab_size) {
  const std::vector<int> tokens = random_tokens(vocab_size);
  for (std::size_t i = 0; i < tokens.size(); i++) {
    const auto w = want.forward(tokens[i], int(i));
    const auto g = got.forward(tokens[i], int(i));
    ASSERT_EQ(std::memcmp(w.data(), g.data(), w.size_bytes()), 0) << "token " << i;
  }
  expect_bitwise_same_batched_logits(want, got, tokens);
}

}  // namespace llama2::test

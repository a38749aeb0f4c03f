// The check of a load-time layout (Q4_0 tiles, K-type row pairs): a
// Transformer whose matrices were repacked gives the same logits, bit for
// bit, as one that reads them as in the file (the Q4_K tiles: batched only;
// one token at a time they agree within a stated tolerance).
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <random>
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

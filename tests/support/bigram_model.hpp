// A real llama2.c checkpoint whose next token is a fixed function of the
// current one, so tests of the generation loops know exactly what a model
// will say (and when it says EOS).
//
// How: every wo and w2 is zero, so attention and the FFN add nothing and the
// residual stream stays the token's embedding, which is one-hot (dim >= vocab).
// After the final RMSNorm (weights 1) that is sqrt(dim) at the token's index;
// the classifier row of next_of[t] has a large weight at index t, every other
// entry is 0. So the logits are ~4*sqrt(dim) for next_of[t] and 0 elsewhere:
// greedy always picks it, and even temperature 1 does (p > 1 - 1e-20).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "support/synthetic_model.hpp"

namespace llama2::test {

inline void write_bigram_model(const std::string& path, const std::vector<int>& next_of, int seq_len) {
  const int vocab_size = static_cast<int>(next_of.size());
  const int dim_two_heads = (vocab_size + 3) / 4 * 4;  // dim >= vocab, two heads of even size
  const Config c = make_config(dim_two_heads, 4, 1, 2, 2, vocab_size, seq_len, false);
  SyntheticWeights w = make_weights(c, 7);
  const std::size_t dim = std::size_t(c.dim);
  for (float& x : w.wo) x = 0.0f;
  for (float& x : w.w2) x = 0.0f;
  for (float& x : w.rms_final) x = 1.0f;
  for (float& x : w.token_embedding) x = 0.0f;
  for (float& x : w.wcls) x = 0.0f;
  for (std::size_t t = 0; t < next_of.size(); t++) {
    w.token_embedding[t * dim + t] = 1.0f;                  // (vocab_size, dim) one-hot rows
    w.wcls[std::size_t(next_of[t]) * dim + t] = 4.0f;       // (vocab_size, dim) row next_of[t] reads index t
  }
  write_llama2c_v0(path, w);
}

// A bigram model over write_tokenizer_bin's 300 pieces (ids in vocab300):
// every token goes to `fallback` unless an edge (from, to) says otherwise.
inline void write_bigram_edges(const std::string& path, const std::vector<std::pair<int, int>>& edges, int seq_len,
                               int fallback) {
  std::vector<int> next_of(vocab300::kVocab, fallback);
  for (auto [from, to] : edges) next_of[std::size_t(from)] = to;
  write_bigram_model(path, next_of, seq_len);
}

}  // namespace llama2::test

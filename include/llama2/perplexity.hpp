// Perplexity: how surprised a model is by a text, and the same number as
// bits per token and bits per byte.
//
// Windowing: the text's tokens are cut into non-overlapping chunks of
// context - 1 tokens; each chunk is run from position 0 as BOS, chunk. Every
// token of the text is scored exactly once, with the tokens before it in its
// chunk as context (the first token of a chunk sees only BOS). So the total
// bits are a code length for the whole text, and bits per byte compares
// across tokenizers and with gzip/xz.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "llama2/transformer.hpp"

namespace llama2 {

struct PerplexityResult {
  std::uint64_t tokens_scored = 0;
  std::uint64_t text_bytes = 0;  // bytes of the original file (for bits per byte)
  double nll_sum = 0.0;          // sum over scored tokens of -ln p(token | context), nats

  double mean_nll() const;        // nats per token
  double perplexity() const;      // exp(mean_nll)
  double bits_per_token() const;  // mean_nll / ln 2
  double bits_per_byte() const;   // total bits / text_bytes
};

// ln softmax(logits)[token], in double (max-subtracted, sum in index order).
// Throws llama2::Error when token is out of range or a logit is not finite.
double log_softmax_at(std::span<const float> logits, int token);

// Tokens per forward call unless the caller says otherwise: enough rows for
// matrix-matrix products to pay, while the logits (batch, vocab_size) stay
// small (8 MB at a 32000-token vocabulary).
inline constexpr int kDefaultPerplexityBatch = 64;

// Called after each batch of scored tokens with (tokens done, tokens total).
using ProgressFn = std::function<void(std::uint64_t done, std::uint64_t total)>;

// Scores `tokens` (the text's ids, no BOS) with the windowing above, in
// chunks of context - 1 where context = min(ctx, transformer context); ctx 0
// means the transformer's. Each window runs `batch` tokens per forward call:
// forward_batch_all (matrix-matrix products, the logits of every position)
// when batch > 1, forward() token by token when batch = 1. The figures agree
// across batch sizes within float rounding, and are bit-identical across
// thread counts for the same batch. Throws llama2::Error when tokens is
// empty, the context is < 2, batch < 1 or a token id is out of range.
PerplexityResult perplexity(Transformer& transformer, std::span<const int> tokens, int bos_id,
                            std::uint64_t text_bytes, int ctx = 0, int batch = kDefaultPerplexityBatch,
                            const ProgressFn& progress = {});

// The scoring of llama.cpp's llama-perplexity, for figures comparable with
// its (and with the tables people publish from it): BOS + the text's tokens
// are cut into chunks of exactly `context` tokens (the tail that does not
// fill one is dropped), each chunk runs from position 0 with its first token
// replaced by BOS, and only the second half of each chunk is scored:
// position j in [context / 2, context - 1) predicts the chunk's token j + 1.
// text_bytes of the result is 0 (bits per byte would describe only the
// scored half). Throws llama2::Error as perplexity() does, and when the text
// does not fill one chunk.
PerplexityResult perplexity_second_halves(Transformer& transformer, std::span<const int> tokens, int bos_id,
                                          int ctx = 0, int batch = kDefaultPerplexityBatch,
                                          const ProgressFn& progress = {});

}  // namespace llama2

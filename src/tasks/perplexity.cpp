// Perplexity over non-overlapping windows (see perplexity.hpp).
#include "llama2/perplexity.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "llama2/error.hpp"

namespace llama2 {

double PerplexityResult::mean_nll() const { return tokens_scored ? nll_sum / double(tokens_scored) : 0.0; }
double PerplexityResult::perplexity() const { return std::exp(mean_nll()); }
double PerplexityResult::bits_per_token() const { return mean_nll() / std::numbers::ln2; }
double PerplexityResult::bits_per_byte() const {
  return text_bytes ? nll_sum / std::numbers::ln2 / double(text_bytes) : 0.0;
}

double log_softmax_at(std::span<const float> logits, int token) {
  if (token < 0 || std::size_t(token) >= logits.size()) {
    throw Error("log_softmax: token id " + std::to_string(token) + " is outside [0, " + std::to_string(logits.size()) + ")");
  }
  double max = -INFINITY;
  for (std::size_t i = 0; i < logits.size(); i++) {
    if (!std::isfinite(logits[i])) {
      throw Error("log_softmax: logit " + std::to_string(i) + " is " + std::to_string(logits[i]) + ", expected a finite number");
    }
    max = std::max(max, double(logits[i]));
  }
  double sum = 0.0;
  for (float l : logits) sum += std::exp(double(l) - max);
  return double(logits[std::size_t(token)]) - max - std::log(sum);
}

namespace {

// The window length perplexity() and perplexity_second_halves() use, after
// checking their arguments and the text's ids.
int checked_context(const Transformer& transformer, std::span<const int> tokens, int ctx, int batch, int at_least) {
  const int model_ctx = transformer.config().seq_len;
  const int vocab = transformer.config().vocab_size;
  const int context = ctx > 0 ? std::min(ctx, model_ctx) : model_ctx;
  if (ctx < 0 || context < at_least) {
    throw Error("perplexity: context = " + std::to_string(ctx > 0 ? context : ctx) + ", expected at least " +
                std::to_string(at_least) + (at_least == 2 ? " (BOS and one scored token)" : ""));
  }
  if (batch < 1) throw Error("perplexity: batch = " + std::to_string(batch) + ", expected at least 1");
  if (tokens.empty()) throw Error("perplexity: the text has no tokens to score");
  // Checked up front: a bad id would otherwise surface as the input of a
  // forward call, far from the text position that holds it.
  for (std::size_t i = 0; i < tokens.size(); i++) {
    if (tokens[i] < 0 || tokens[i] >= vocab) {
      throw Error("perplexity: token " + std::to_string(i) + " of the text: token id " + std::to_string(tokens[i]) +
                  " is outside [0, " + std::to_string(vocab) + ")");
    }
  }
  return context;
}

// Runs `input` from position 0, `batch` positions per forward call, and
// after each call hands on_call(j0, n, logits) the logits of positions j0 ..
// j0 + n - 1 as (n, vocab_size) rows.
template <typename OnCall>
void run_window(Transformer& transformer, const std::vector<int>& input, int batch, OnCall on_call) {
  for (std::size_t j0 = 0; j0 < input.size(); j0 += std::size_t(batch)) {
    const std::size_t n = std::min(std::size_t(batch), input.size() - j0);
    on_call(j0, n, batch == 1 ? transformer.forward(input[j0], int(j0))
                           : transformer.forward_batch_all(std::span<const int>(input).subspan(j0, n), int(j0)));
  }
}

// Row r of (rows, vocab_size) logits.
std::span<const float> row_of(std::span<const float> logits, std::size_t r, std::size_t vocab) {
  return logits.subspan(r * vocab, vocab);
}

}  // namespace

PerplexityResult perplexity(Transformer& transformer, std::span<const int> tokens, int bos_id,
                            std::uint64_t text_bytes, int ctx, int batch, const ProgressFn& progress) {
  const int context = checked_context(transformer, tokens, ctx, batch, 2);
  const std::size_t vocab = std::size_t(transformer.config().vocab_size);
  PerplexityResult result;
  result.text_bytes = text_bytes;
  const std::size_t chunk = std::size_t(context) - 1;  // scored tokens per window
  std::vector<int> input;                              // (chunk) BOS + the window but its last token
  for (std::size_t begin = 0; begin < tokens.size(); begin += chunk) {
    const std::size_t end = std::min(tokens.size(), begin + chunk);
    // Position j of the window runs input[j] and predicts tokens[begin + j]:
    // the last token of a window predicts nothing we score.
    input.assign(1, bos_id);
    input.insert(input.end(), tokens.begin() + std::ptrdiff_t(begin), tokens.begin() + std::ptrdiff_t(end - 1));
    run_window(transformer, input, batch, [&](std::size_t j0, std::size_t n, std::span<const float> logits) {
      for (std::size_t r = 0; r < n; r++) {
        result.nll_sum -= log_softmax_at(row_of(logits, r, vocab), tokens[begin + j0 + r]);
      }
      result.tokens_scored += n;
      if (progress) progress(result.tokens_scored, tokens.size());
    });
  }
  return result;
}

PerplexityResult perplexity_second_halves(Transformer& transformer, std::span<const int> tokens, int bos_id, int ctx,
                                          int batch, const ProgressFn& progress) {
  const int context = checked_context(transformer, tokens, ctx, batch, 3);
  const std::size_t n = std::size_t(context), first = n / 2;
  const std::size_t vocab = std::size_t(transformer.config().vocab_size);
  std::vector<int> text(1, bos_id);  // (1 + tokens) what llama.cpp tokenizes: BOS, then the text
  text.insert(text.end(), tokens.begin(), tokens.end());
  const std::size_t n_chunks = text.size() / n;
  if (n_chunks == 0) {
    throw Error("perplexity: the text has " + std::to_string(text.size()) +
                " tokens with BOS, less than one chunk of " + std::to_string(n) +
                " (give a longer text or a smaller --ctx)");
  }
  PerplexityResult result;
  const std::uint64_t total = n_chunks * (n - 1 - first);
  std::vector<int> input;  // (n - 1) the chunk with BOS first, but its last token
  for (std::size_t c = 0; c < n_chunks; c++) {
    const auto chunk = text.begin() + std::ptrdiff_t(c * n);
    input.assign(chunk, chunk + std::ptrdiff_t(n - 1));
    input[0] = bos_id;
    run_window(transformer, input, batch, [&](std::size_t j0, std::size_t rows, std::span<const float> logits) {
      for (std::size_t j = std::max(j0, first); j < j0 + rows; j++) {
        result.nll_sum -= log_softmax_at(row_of(logits, j - j0, vocab), chunk[std::ptrdiff_t(j + 1)]);
        result.tokens_scored++;
      }
    });
    if (progress) progress(result.tokens_scored, total);
  }
  return result;
}

}  // namespace llama2

// Perplexity over non-overlapping windows (see perplexity.hpp).
#include "llama2/perplexity.hpp"

#include <cmath>
#include <numbers>
#include <string>

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

PerplexityResult perplexity(Transformer& transformer, std::span<const int> tokens, int bos_id,
                            std::uint64_t text_bytes, int ctx, int batch, const ProgressFn& progress) {
  const int model_ctx = transformer.config().seq_len;
  const int context = ctx > 0 ? std::min(ctx, model_ctx) : model_ctx;
  if (ctx < 0 || context < 2) {
    throw Error("perplexity: context = " + std::to_string(ctx > 0 ? context : ctx) +
                ", expected at least 2 (BOS and one scored token)");
  }
  if (batch < 1) throw Error("perplexity: batch = " + std::to_string(batch) + ", expected at least 1");
  if (tokens.empty()) throw Error("perplexity: the text has no tokens to score");

  PerplexityResult result;
  result.text_bytes = text_bytes;
  const std::size_t chunk = std::size_t(context) - 1;  // scored tokens per window
  for (std::size_t begin = 0; begin < tokens.size(); begin += chunk) {
    const std::size_t end = std::min(tokens.size(), begin + chunk);
    std::span<const float> logits = transformer.forward(bos_id, 0);
    for (std::size_t i = begin; i < end; i++) {
      result.nll_sum -= log_softmax_at(logits, tokens[i]);
      result.tokens_scored++;
      if (progress) progress(result.tokens_scored, tokens.size());
      // The last token of a window predicts nothing we score.
      if (i + 1 < end) logits = transformer.forward(tokens[i], int(i - begin) + 1);
    }
  }
  return result;
}

}  // namespace llama2

// Perplexity: closed-form models, windowing against the double-precision
// reference forward pass, batch-size and thread-count independence, and a real model that
// must find its own greedy text likelier than the same words shuffled.
#include "llama2/perplexity.hpp"

#include <gtest/gtest.h>

#include "support/expect_error.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>

#include "llama2/error.hpp"
#include "llama2/sampler.hpp"
#include "llama2/tokenizer.hpp"
#include "support/reference_model.hpp"
#include "support/shared_files.hpp"
#include "support/synthetic_model.hpp"

namespace llama2 {
namespace {

using test::SyntheticWeights;

std::string write_model(const SyntheticWeights& w, const std::string& tag) {
  const std::string path = test::make_temp_dir(tag) + "/model.bin";
  test::write_llama2c_v0(path, w);
  return path;
}

std::vector<int> some_tokens(int n, int vocab, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int> t(static_cast<std::size_t>(n));
  for (int& x : t) x = int(rng() % std::uint64_t(vocab));
  return t;
}

using llama2::test::expect_error;

// --- closed form ----------------------------------------------------------------------

// A zero classifier gives all-zero logits: the uniform distribution, whose
// perplexity is exactly vocab_size and whose bits per token is log2(vocab).
TEST(Perplexity, ZeroClassifierIsUniform) {
  SyntheticWeights w = test::make_weights(test::small_config(), 11);
  std::fill(w.wcls.begin(), w.wcls.end(), 0.0f);
  Transformer t(write_model(w, "ppl_uniform"), 1);
  const std::vector<int> tokens = some_tokens(100, w.config.vocab_size, 1);  // > seq_len: several windows
  const PerplexityResult r = perplexity(t, tokens, 1, 250);
  EXPECT_EQ(r.tokens_scored, 100u);
  EXPECT_NEAR(r.perplexity(), 67.0, 1e-9);
  EXPECT_NEAR(r.bits_per_token(), std::log2(67.0), 1e-12);
  EXPECT_NEAR(r.bits_per_byte(), 100 * std::log2(67.0) / 250, 1e-12);
}

// With wo = w2 = 0 no layer changes the residual stream, and with every
// embedding row equal that stream is the same vector e at every position. So
// the logits are one fixed vector c = wcls @ (rms_final * e / rms(e)), and each
// token costs exactly -ln softmax(c)[token], computed here in double.
TEST(Perplexity, ConstantLogitsMatchClosedForm) {
  SyntheticWeights w = test::make_weights(test::small_config(), 12);
  const Config& c = w.config;
  const std::size_t dim = c.dim;
  for (int v = 1; v < c.vocab_size; v++) std::copy_n(w.token_embedding.begin(), dim, w.token_embedding.begin() + v * dim);
  std::fill(w.wo.begin(), w.wo.end(), 0.0f);
  std::fill(w.w2.begin(), w.w2.end(), 0.0f);

  double ms = 0;
  for (std::size_t j = 0; j < dim; j++) ms += double(w.token_embedding[j]) * w.token_embedding[j];
  const double inv_rms = 1.0 / std::sqrt(ms / double(dim) + double(c.norm_eps));
  std::vector<double> logits(std::size_t(c.vocab_size));
  for (std::size_t i = 0; i < logits.size(); i++) {
    for (std::size_t j = 0; j < dim; j++) logits[i] += double(w.wcls[i * dim + j]) * w.rms_final[j] * w.token_embedding[j] * inv_rms;
  }
  const double max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (double l : logits) sum += std::exp(l - max);

  const std::vector<int> tokens = some_tokens(90, c.vocab_size, 2);
  double expected = 0;
  for (int tok : tokens) expected -= logits[std::size_t(tok)] - max - std::log(sum);

  Transformer t(write_model(w, "ppl_const"), 1);
  const PerplexityResult r = perplexity(t, tokens, 1, 90);
  EXPECT_NEAR(r.mean_nll(), expected / 90, 1e-6);
  EXPECT_NEAR(r.bits_per_byte(), expected / std::log(2.0) / 90, 1e-6);
}

// --- windowing ------------------------------------------------------------------------------

// Chunks of ctx - 1 tokens, each run as BOS + chunk: checked against the
// independent reference forward pass, one fresh sequence per window.
TEST(Perplexity, WindowsMatchReference) {
  const SyntheticWeights w = test::make_weights(test::small_config(), 13);
  Transformer t(write_model(w, "ppl_windows"), 1);
  const int ctx = 10, bos = 1;
  const std::vector<int> tokens = some_tokens(23, w.config.vocab_size, 3);  // windows of 9, 9, 5
  double expected = 0;
  for (std::size_t begin = 0; begin < tokens.size(); begin += ctx - 1) {
    std::vector<int> seq = {bos};
    const std::size_t end = std::min(tokens.size(), begin + ctx - 1);
    seq.insert(seq.end(), tokens.begin() + std::ptrdiff_t(begin), tokens.begin() + std::ptrdiff_t(end));
    const auto ref = test::reference_logits(w, seq);
    for (std::size_t i = 0; i + 1 < seq.size(); i++) {
      const auto& l = ref[i];
      const double max = *std::max_element(l.begin(), l.end());
      double sum = 0;
      for (double x : l) sum += std::exp(x - max);
      expected -= l[std::size_t(seq[i + 1])] - max - std::log(sum);
    }
  }
  const PerplexityResult r = perplexity(t, tokens, bos, 100, ctx);
  EXPECT_EQ(r.tokens_scored, 23u);
  EXPECT_NEAR(r.nll_sum, expected, 1e-4 * std::abs(expected));
  // A window of the whole model context scores differently (more context).
  const PerplexityResult full = perplexity(t, tokens, bos, 100);
  EXPECT_NE(full.nll_sum, r.nll_sum);
}

// llama.cpp's scoring, written out from its description in llama-perplexity
// (BOS + text in chunks of exactly ctx, each chunk's first token replaced by
// BOS, positions ctx/2 .. ctx-2 scored), against the reference forward pass.
TEST(Perplexity, SecondHalvesMatchLlamaCppScoringOnTheReference) {
  const SyntheticWeights w = test::make_weights(test::small_config(), 19);
  Transformer t(write_model(w, "ppl_halves"), 1);
  const int ctx = 10, bos = 1;
  const std::vector<int> tokens = some_tokens(33, w.config.vocab_size, 8);  // 34 with BOS: 3 chunks, 4 dropped
  std::vector<int> text = {bos};
  text.insert(text.end(), tokens.begin(), tokens.end());
  double expected = 0;
  for (std::size_t c = 0; c + ctx <= text.size(); c += ctx) {
    std::vector<int> seq(text.begin() + std::ptrdiff_t(c), text.begin() + std::ptrdiff_t(c + ctx));
    seq[0] = bos;
    const auto ref = test::reference_logits(w, seq);
    for (std::size_t j = ctx / 2; j + 1 < seq.size(); j++) {
      const auto& l = ref[j];
      const double max = *std::max_element(l.begin(), l.end());
      double sum = 0;
      for (double x : l) sum += std::exp(x - max);
      expected -= l[std::size_t(seq[j + 1])] - max - std::log(sum);
    }
  }
  for (int batch : {1, 3, 64}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    std::vector<std::uint64_t> seen;
    const PerplexityResult r = perplexity_second_halves(t, tokens, bos, ctx, batch,
                                                        [&](std::uint64_t done, std::uint64_t total) {
                                                          EXPECT_EQ(total, 12u);
                                                          seen.push_back(done);
                                                        });
    EXPECT_EQ(r.tokens_scored, 12u);  // 3 chunks x (10 - 1 - 5)
    EXPECT_NEAR(r.nll_sum, expected, 1e-4 * std::abs(expected));
    EXPECT_EQ(seen, (std::vector<std::uint64_t>{4, 8, 12}));
  }
  expect_error([&] { perplexity_second_halves(t, std::vector<int>{5, 6, 7}, bos, ctx); },
               "the text has 4 tokens with BOS, less than one chunk of 10");
  expect_error([&] { perplexity_second_halves(t, tokens, bos, 2); }, "context = 2, expected at least 3");
}

TEST(Perplexity, SameFiguresWithAnyThreadCount) {
  const SyntheticWeights w = test::make_weights(test::small_config(), 14);
  const std::string path = write_model(w, "ppl_threads");
  const std::vector<int> tokens = some_tokens(70, w.config.vocab_size, 4);
  Transformer t1(path, 1), t2(path, 2), t3(path, 3);
  for (int batch : {1, 4, 64}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    const double a = perplexity(t1, tokens, 1, 70, 0, batch).nll_sum;
    EXPECT_EQ(a, perplexity(t2, tokens, 1, 70, 0, batch).nll_sum);
    EXPECT_EQ(a, perplexity(t3, tokens, 1, 70, 0, batch).nll_sum);
  }
}

// Batched windows (forward_batch_all) score like token-by-token forward():
// batches of 7 split every window unevenly, 64 holds a whole window, and a
// short --ctx puts several windows in one batch's reach. fp32 and int8.
TEST(Perplexity, BatchSizeChangesOnlyRounding) {
  const SyntheticWeights w = test::make_weights(test::small_config(), 17);  // seq_len 40
  const std::string dir = test::make_temp_dir("ppl_batch");
  test::write_llama2c_v0(dir + "/f32.bin", w);
  test::write_llama2c_v2(dir + "/q8.bin", w, 4);
  const std::vector<int> tokens = some_tokens(100, w.config.vocab_size, 6);  // windows of 39, 39, 22
  for (const char* name : {"f32.bin", "q8.bin"}) {
    for (int ctx : {0, 9}) {
      SCOPED_TRACE(std::string(name) + " ctx " + std::to_string(ctx));
      Transformer t1(dir + "/" + name, 1), t2(dir + "/" + name, 2);
      const PerplexityResult one = perplexity(t1, tokens, 1, 100, ctx, 1);
      EXPECT_EQ(one.tokens_scored, 100u);
      for (int batch : {7, 64}) {
        const PerplexityResult r = perplexity(t1, tokens, 1, 100, ctx, batch);
        EXPECT_EQ(r.tokens_scored, 100u);
        EXPECT_NEAR(r.mean_nll(), one.mean_nll(), 1e-5 * one.mean_nll()) << "batch " << batch;
        EXPECT_EQ(r.nll_sum, perplexity(t2, tokens, 1, 100, ctx, batch).nll_sum) << "batch " << batch << ", 2 threads";
      }
    }
  }
}

// Progress reports every batch, ending at the total.
TEST(Perplexity, ProgressCountsUpToTheTotal) {
  const SyntheticWeights w = test::make_weights(test::small_config(), 18);
  Transformer t(write_model(w, "ppl_progress"), 1);
  const std::vector<int> tokens = some_tokens(50, w.config.vocab_size, 7);  // windows of 39 and 11
  std::vector<std::uint64_t> seen;
  perplexity(t, tokens, 1, 50, 0, 16, [&](std::uint64_t done, std::uint64_t total) {
    EXPECT_EQ(total, 50u);
    seen.push_back(done);
  });
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{16, 32, 39, 50}));
}

// A random-weight model knows nothing: about log2(vocab) bits per token.
TEST(Perplexity, RandomModelIsNearUniform) {
  const SyntheticWeights w = test::make_weights(test::small_config(), 15);
  Transformer t(write_model(w, "ppl_random"), 1);
  const PerplexityResult r = perplexity(t, some_tokens(200, w.config.vocab_size, 5), 1, 200);
  EXPECT_GT(r.bits_per_token(), std::log2(67.0) - 0.1);  // cannot beat uniform on random tokens by much
  EXPECT_LT(r.bits_per_token(), std::log2(67.0) + 3.0);  // but its random logits are not wildly confident
}

// --- bad input ----------------------------------------------------------------------------

TEST(Perplexity, RejectsBadInput) {
  const SyntheticWeights w = test::make_weights(test::small_config(), 16);
  Transformer t(write_model(w, "ppl_bad"), 1);
  const std::vector<int> tokens = {5, 6, 7};
  expect_error([&] { perplexity(t, std::vector<int>{}, 1, 0); }, "the text has no tokens to score");
  expect_error([&] { perplexity(t, tokens, 1, 3, -1); }, "context = -1, expected at least 2");
  expect_error([&] { perplexity(t, tokens, 1, 3, 0, 0); }, "batch = 0, expected at least 1");
  expect_error([&] { perplexity(t, std::vector<int>{5, 67}, 1, 3); },
               "token 1 of the text: token id 67 is outside [0, 67)");
  // Checked before any forward call, even where it would be the input of one.
  expect_error([&] { perplexity(t, std::vector<int>{5, -2, 6}, 1, 3); }, "token 1 of the text: token id -2 is outside");
  expect_error([&] { log_softmax_at(std::vector<float>{0.0f, NAN}, 0); }, "logit 1 is nan");
}

TEST(Perplexity, LogSoftmaxIsStableForHugeLogits) {
  const std::vector<float> logits = {1e30f, 1e30f, -1e30f};
  EXPECT_NEAR(log_softmax_at(logits, 0), -std::log(2.0), 1e-15);
  EXPECT_LT(log_softmax_at(logits, 2), -1e29);
}

// --- a real model ------------------------------------------------------------------------------

// aidreams260K finds the text it wrote greedily far more predictable than the
// same words in a shuffled order.
TEST(Perplexity, OwnGreedyTextBeatsShuffledText) {
  LLAMA2_SHARED_MODEL(model_path, "aidreams260K.bin");
  LLAMA2_SHARED_MODEL(tok_path, "aidreams_tok512.bin");
  const Tokenizer tok = Tokenizer::load(tok_path);
  Transformer t(model_path, 1);
  Sampler greedy(t.config().vocab_size, SamplerParams{.temperature = 0.0f});
  std::vector<int> ids;
  int token = tok.bos_id();
  std::string text;
  for (int pos = 0; pos < 120; pos++) {
    std::span<const float> l = t.forward(token, pos);
    std::vector<float> logits(l.begin(), l.end());
    const int next = greedy.sample(logits);
    if (next == tok.bos_id() || next == tok.eos_id()) break;
    text += tok.decode(token, next);
    token = next;
  }
  ASSERT_GT(text.size(), 100u);

  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string wd; in >> wd;) words.push_back(wd);
  std::shuffle(words.begin(), words.end(), std::mt19937_64(7));
  std::string shuffled;
  for (const auto& wd : words) shuffled += (shuffled.empty() ? "" : " ") + wd;

  const auto score = [&](const std::string& s) {
    const std::vector<int> toks = tok.encode(s, false, false);
    return perplexity(t, toks, tok.bos_id(), s.size());
  };
  const PerplexityResult own = score(text), mixed = score(shuffled);
  EXPECT_LT(own.perplexity(), mixed.perplexity());
  EXPECT_LT(own.bits_per_byte() * 2, mixed.bits_per_byte()) << own.bits_per_byte() << " vs " << mixed.bits_per_byte();
}

}  // namespace
}  // namespace llama2

// trace: the page's embedded data, parsed back, against the engine and
// against independent references: forward()'s softmax, perplexity()'s
// figures, the double-precision reference model (for the lens of every
// layer: the model cut after that layer), a double-precision layer-0
// attention written here; on synthetic models and on the real 260K models.
#include "llama2/trace.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "llama2/error.hpp"
#include "llama2/perplexity.hpp"
#include "support/expect_error.hpp"
#include "support/reference_model.hpp"
#include "support/shared_files.hpp"
#include "support/synthetic_model.hpp"
#include "support/trace_page.hpp"

namespace llama2 {
namespace {

using test::JsonValue;
using test::SyntheticWeights;

// --- references -------------------------------------------------------------------------

std::vector<double> softmax(const std::vector<double>& logits) {
  const double max = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(logits.size());
  double sum = 0;
  for (std::size_t i = 0; i < p.size(); i++) sum += p[i] = std::exp(logits[i] - max);
  for (double& x : p) x /= sum;
  return p;
}

// The weights of the first `layers` layers only: its logits are the logit
// lens of layer layers - 1 of the whole model.
SyntheticWeights first_layers(const SyntheticWeights& w, int layers) {
  SyntheticWeights c = w;
  const std::size_t n = std::size_t(layers), L = std::size_t(w.config.n_layers);
  for (std::vector<float>* v : {&c.rms_att, &c.wq, &c.wk, &c.wv, &c.wo, &c.rms_ffn, &c.w1, &c.w2, &c.w3}) {
    v->resize(v->size() / L * n);
  }
  c.config.n_layers = layers;
  return c;
}

// Layer 0's attention weights, (n_heads, positions, q + 1), in double: the
// embedding, RMSNorm, the q and k projections, RoPE and a softmax of the
// scaled scores, written from the Llama-2 math.
std::vector<std::vector<std::vector<double>>> layer0_attention(const SyntheticWeights& w, const std::vector<int>& tokens) {
  const Config& c = w.config;
  const std::size_t dim = c.dim, hs = c.head_size(), kv_dim = c.kv_dim(), n = tokens.size();
  std::vector<std::vector<double>> qs(n), ks(n);
  auto rope = [&](std::vector<double>& v, std::size_t pos) {
    for (std::size_t i = 0; i < v.size(); i += 2) {
      const double angle = double(pos) * std::pow(double(c.rope_theta), -double(i % hs) / double(hs));
      const double a = v[i], b = v[i + 1];
      v[i] = a * std::cos(angle) - b * std::sin(angle);
      v[i + 1] = a * std::sin(angle) + b * std::cos(angle);
    }
  };
  for (std::size_t t = 0; t < n; t++) {
    const float* x = &w.token_embedding[std::size_t(tokens[t]) * dim];
    double ss = 0;
    for (std::size_t i = 0; i < dim; i++) ss += double(x[i]) * x[i];
    const double scale = 1.0 / std::sqrt(ss / double(dim) + double(c.norm_eps));
    std::vector<double> xb(dim);
    for (std::size_t i = 0; i < dim; i++) xb[i] = double(w.rms_att[i]) * x[i] * scale;
    qs[t].assign(dim, 0.0);
    ks[t].assign(kv_dim, 0.0);
    for (std::size_t r = 0; r < dim; r++) {
      for (std::size_t j = 0; j < dim; j++) qs[t][r] += double(w.wq[r * dim + j]) * xb[j];
    }
    for (std::size_t r = 0; r < kv_dim; r++) {
      for (std::size_t j = 0; j < dim; j++) ks[t][r] += double(w.wk[r * dim + j]) * xb[j];
    }
    rope(qs[t], t);
    rope(ks[t], t);
  }
  std::vector<std::vector<std::vector<double>>> att(std::size_t(c.n_heads));
  for (std::size_t h = 0; h < std::size_t(c.n_heads); h++) {
    const std::size_t kvh = h / std::size_t(c.kv_mul());
    for (std::size_t q = 0; q < n; q++) {
      std::vector<double> scores(q + 1);
      for (std::size_t k = 0; k <= q; k++) {
        double s = 0;
        for (std::size_t d = 0; d < hs; d++) s += qs[q][h * hs + d] * ks[k][kvh * hs + d];
        scores[k] = s / std::sqrt(double(hs));
      }
      att[h].push_back(softmax(scores));
    }
  }
  return att;
}

// --- what every trace must satisfy ------------------------------------------------------

// The page of `trace`, parsed back, agrees with the engine: each position's
// top-K and the next token's probability and rank are forward()'s softmax
// (a second Transformer, token by token); the last lens row is the output
// distribution; every attention row is causal and sums to 255/255; the text's
// figures are perplexity()'s, to the last bit.
void check_against_engine(const std::string& model_path, const Tokenizer& tokenizer, const std::string& text,
                          const Trace& trace) {
  const JsonValue page = test::trace_page_json(trace_html(trace));
  const JsonValue& positions = page["positions"];
  const std::size_t n = positions.size();
  ASSERT_EQ(n, trace.positions.size());
  const int L = page["model"]["n_layers"].integer();

  Transformer engine(model_path);
  const std::size_t vocab = std::size_t(engine.config().vocab_size);
  std::vector<std::vector<float>> logits;  // (n, vocab_size) forward() at each position
  for (std::size_t i = 0; i < n; i++) {
    const std::span<const float> l = engine.forward(positions[i]["id"].integer(), int(i));
    logits.emplace_back(l.begin(), l.end());
  }
  EXPECT_EQ(positions[0]["id"].integer(), tokenizer.bos_id());
  for (std::size_t i = 0; i < n; i++) {
    const std::vector<TokenProb> want = Sampler::top_probs(logits[i], trace.options.top_k);
    const JsonValue& top = positions[i]["top"];
    ASSERT_EQ(top.size(), want.size());
    for (std::size_t k = 0; k < want.size(); k++) {
      EXPECT_NEAR(top[k][1].num(), want[k].prob, 2e-5) << "position " << i << " candidate " << k;
      // The same token, or a tie within rounding.
      if (top[k][0].integer() != want[k].id) EXPECT_NEAR(want[k].prob, top[k][1].num(), 2e-5);
    }
    if (i + 1 < n) {
      const int next = positions[i + 1]["id"].integer();
      const double p = std::exp(log_softmax_at(logits[i], next));
      EXPECT_NEAR(positions[i + 1]["prob"].num(), p, 1e-5 * std::max(p, 1e-3)) << "position " << i + 1;
      EXPECT_NEAR(positions[i + 1]["bits"].num(), -std::log2(p), 1e-3) << "position " << i + 1;
      const float own = logits[i][std::size_t(next)];
      const int rank = 1 + int(std::count_if(logits[i].begin(), logits[i].end(), [&](float l) { return l > own + 1e-5f; }));
      EXPECT_NEAR(positions[i + 1]["rank"].integer(), rank, 1) << "position " << i + 1;
      // The last lens row is the model's own prediction.
      EXPECT_NEAR(page["lens"]["next_prob"][std::size_t(L - 1)][i].num(), p, 2e-5) << "position " << i;
    } else {
      EXPECT_TRUE(page["lens"]["next_prob"][std::size_t(L - 1)][i].is_null());
    }
    const JsonValue& lens_top = page["lens"]["top"][std::size_t(L - 1)][i];
    ASSERT_EQ(lens_top.size(), top.size());
    for (std::size_t k = 0; k < top.size(); k++) {
      EXPECT_NEAR(lens_top[k][1].num(), top[k][1].num(), 2e-5) << "last lens row, position " << i;
    }
  }

  // Attention: causal rows of q + 1 weights summing to exactly 255.
  const JsonValue& att = page["attention"];
  ASSERT_EQ(att["data"].size(), att["layers"].size());
  for (std::size_t li = 0; li < att["layers"].size(); li++) {
    const auto rows = test::attention_rows(att, li);
    for (const auto& head : rows) {
      for (std::size_t q = 0; q < head.size(); q++) {
        ASSERT_EQ(head[q].size(), q + 1);
        int sum = 0;
        for (int b : head[q]) sum += b;
        EXPECT_EQ(sum, 255) << "layer " << att["layers"][li].integer() << " row " << q;
      }
    }
  }

  // The text's figures are perplexity's for the same text, bit for bit.
  Transformer scorer(model_path);
  const PerplexityResult r = perplexity(scorer, tokenizer.encode(text, false, false), tokenizer.bos_id(), text.size());
  const JsonValue& figures = page["text"];
  EXPECT_EQ(std::uint64_t(figures["tokens"].num()), r.tokens_scored);
  EXPECT_EQ(std::uint64_t(figures["bytes"].num()), r.text_bytes);
  EXPECT_DOUBLE_EQ(figures["total_bits"].num(), r.nll_sum / std::numbers::ln2);
  EXPECT_DOUBLE_EQ(figures["bits_per_token"].num(), r.bits_per_token());
  EXPECT_DOUBLE_EQ(figures["bits_per_byte"].num(), r.bits_per_byte());
  EXPECT_DOUBLE_EQ(figures["perplexity"].num(), r.perplexity());
  double bits = 0;  // the per-token surprisals add up to the total
  for (std::size_t i = 1; i <= trace.text_tokens; i++) bits += positions[i]["bits"].num();
  EXPECT_NEAR(bits, figures["total_bits"].num(), 1e-9 * std::max(1.0, bits));
}

// --- synthetic models -------------------------------------------------------------------

struct SyntheticCase : test::TempDir {
  SyntheticWeights w;
  std::string model, tokenizer_path;
  SyntheticCase(const Config& c, std::uint64_t seed) : TempDir("trace"), w(test::make_weights(c, seed)) {
    model = file("model.bin");
    tokenizer_path = file("tok.bin");
    test::write_llama2c_v0(model, w);
    test::write_tokenizer_bin(tokenizer_path, c.vocab_size);
  }
};

// GQA (6 query heads over 3 kv heads), 3 layers, a vocabulary of 300.
Config gqa_config() { return test::make_config(48, 100, 3, 6, 3, test::vocab300::kVocab, 40, false); }

TEST(Trace, SyntheticModelAgreesWithEngineAndReference) {
  SyntheticCase m(gqa_config(), 21);
  const Tokenizer tok = Tokenizer::load(m.tokenizer_path);
  const std::string text = "abc de abc bcd";
  TraceOptions o;
  o.top_k = 7;
  o.generate = 5;
  o.temperature = 0.0f;
  Transformer t(m.model);
  const Trace trace = run_trace(t, tok, text, o, "model.bin");
  ASSERT_NO_FATAL_FAILURE(check_against_engine(m.model, tok, text, trace));

  const JsonValue page = test::trace_page_json(trace_html(trace));
  const JsonValue& positions = page["positions"];
  std::vector<int> ids;
  for (std::size_t i = 0; i < positions.size(); i++) ids.push_back(positions[i]["id"].integer());
  ASSERT_EQ(ids.size(), 1 + trace.text_tokens + 5);  // a random model rarely says EOS in 5 greedy steps
  for (std::size_t i = 0; i < ids.size(); i++) {
    EXPECT_EQ(positions[i]["generated"].boolean, i > trace.text_tokens) << i;
    if (i > trace.text_tokens) EXPECT_EQ(positions[i]["rank"].integer(), 1) << "greedy picks the first choice";
  }

  // The lens of every layer: the reference model cut after that layer.
  const JsonValue& lens = page["lens"];
  for (int l = 0; l < m.w.config.n_layers; l++) {
    const auto ref = test::reference_logits(first_layers(m.w, l + 1), ids);
    for (std::size_t i = 0; i < ids.size(); i++) {
      const std::vector<double> p = softmax(ref[i]);
      const JsonValue& cell = lens["top"][std::size_t(l)][i];
      ASSERT_EQ(cell.size(), 7u);
      for (std::size_t k = 0; k < cell.size(); k++) {
        EXPECT_NEAR(cell[k][1].num(), p[std::size_t(cell[k][0].integer())], 1e-4) << "layer " << l << " position " << i;
      }
      if (i + 1 < ids.size()) {
        EXPECT_NEAR(lens["next_prob"][std::size_t(l)][i].num(), p[std::size_t(ids[i + 1])], 1e-4) << "layer " << l;
      }
    }
  }

  // Layer 0's attention against the double-precision reference, within the 8-bit step.
  const auto want = layer0_attention(m.w, ids);
  ASSERT_EQ(page["attention"]["layers"][0].integer(), 0);
  const auto rows = test::attention_rows(page["attention"], 0);
  ASSERT_EQ(rows.size(), 6u);
  for (std::size_t h = 0; h < rows.size(); h++) {
    ASSERT_EQ(rows[h].size(), ids.size());
    for (std::size_t q = 0; q < ids.size(); q++) {
      for (std::size_t k = 0; k <= q; k++) {
        EXPECT_NEAR(rows[h][q][k] / 255.0, want[h][q][k], 1.0 / 255 + 1e-4) << "head " << h << " row " << q << " key " << k;
      }
    }
  }
  EXPECT_EQ(page["attention"]["n_kv_heads"].integer(), 3);
  EXPECT_EQ(page["notes"].size(), 0u);
}

// A model whose classifier is the embedding table, one layer, one kv head per head.
TEST(Trace, SharedClassifierOneLayer) {
  SyntheticCase m(test::make_config(32, 64, 1, 4, 4, test::vocab300::kVocab, 64, true), 5);
  const Tokenizer tok = Tokenizer::load(m.tokenizer_path);
  Transformer t(m.model);
  const std::string text = "bcd abc e";
  const Trace trace = run_trace(t, tok, text, {}, "m");
  check_against_engine(m.model, tok, text, trace);
  EXPECT_TRUE(test::trace_page_json(trace_html(trace))["model"]["shared_classifier"].boolean);
}

// --- real models ---------------------------------------------------------------------

TEST(Trace, Aidreams260K) {
  LLAMA2_SHARED_MODEL(model, "aidreams260K.bin");
  LLAMA2_SHARED_MODEL(tok_path, "aidreams_tok512.bin");
  const Tokenizer tok = Tokenizer::load(tok_path);
  const std::string text = "Once upon a time, pixels unfolding like petals.";
  TraceOptions o;
  o.generate = 12;
  o.temperature = 0.8f;
  o.seed = 42;
  Transformer t(model);
  const Trace trace = run_trace(t, tok, text, o, "aidreams260K.bin");
  check_against_engine(model, tok, text, trace);
  // The same seed gives the same generated tokens.
  Transformer t2(model);
  const Trace again = run_trace(t2, tok, text, o, "aidreams260K.bin");
  ASSERT_EQ(again.positions.size(), trace.positions.size());
  for (std::size_t i = 0; i < trace.positions.size(); i++) EXPECT_EQ(again.positions[i].token, trace.positions[i].token);
}

TEST(Trace, Stories260K) {
  LLAMA2_SHARED_MODEL(model, "stories260K.bin");
  // Its own tokenizer is not among the shared files: any 512-piece vocabulary serves.
  test::TempDir dir("trace_stories");
  test::write_tokenizer_bin(dir.file("tok.bin"), 512);
  const Tokenizer tok = Tokenizer::load(dir.file("tok.bin"));
  const std::string text = "abc def ghij klm abc def";
  Transformer t(model);
  TraceOptions o;
  o.generate = 6;
  o.temperature = 0.0f;
  check_against_engine(model, tok, text, run_trace(t, tok, text, o, "stories260K.bin"));
}

// --- what is kept, and what the page says was cut ----------------------------------------

TEST(Trace, LayersAndMaxPositionsCutAttentionAndSaySo) {
  SyntheticCase m(gqa_config(), 3);
  const Tokenizer tok = Tokenizer::load(m.tokenizer_path);
  Transformer t(m.model);
  TraceOptions o;
  o.layers = {2, 1, 2};
  o.max_positions = 4;
  const Trace trace = run_trace(t, tok, "abc de abc bcd abc", o, "m");
  const JsonValue page = test::trace_page_json(trace_html(trace));
  const JsonValue& att = page["attention"];
  ASSERT_EQ(att["layers"].size(), 2u);
  EXPECT_EQ(att["layers"][0].integer(), 1);
  EXPECT_EQ(att["layers"][1].integer(), 2);
  EXPECT_EQ(att["positions"].integer(), 4);
  EXPECT_EQ(test::attention_rows(att, 1)[0].size(), 4u);
  // The lens still covers every layer and position.
  EXPECT_EQ(page["lens"]["top"].size(), 3u);
  EXPECT_EQ(page["lens"]["top"][0].size(), page["positions"].size());
  ASSERT_EQ(page["notes"].size(), 2u);
  EXPECT_NE(page["notes"][0].str().find("first 4 of"), std::string::npos) << page["notes"][0].str();
  EXPECT_NE(page["notes"][1].str().find("layers 1, 2 of 3"), std::string::npos) << page["notes"][1].str();
}

// A 7B-shaped trace (32 layers x 32 heads, vocabulary 32000) of 256 tokens
// with the defaults: attention keeps what fits kAttentionBudget, and the
// whole page stays under 25 MB. Built from data of the real shapes (no model
// needed): the page's size depends on the shapes, not on the weights.
TEST(Trace, SevenBPageOfDefaultsIsUnder25MB) {
  const Config c = test::make_config(4096, 11008, 32, 32, 32, 32000, 4096, false);
  const int n_pos = 257;  // BOS + 256 tokens
  const int kept = default_attention_positions(32, 32, n_pos);
  EXPECT_EQ(kept, 156);  // 32 * 32 * 156 * 157 / 2 = 12,541,952 bytes <= 12 MiB
  EXPECT_LE(attention_bytes(32, 32, kept), kAttentionBudget);
  EXPECT_GT(attention_bytes(32, 32, kept + 1), kAttentionBudget);

  Trace t;
  t.model_name = "llama-2-7b.bin";
  t.info = model_info(c);
  t.options.top_k = 10;
  t.text_tokens = 256;
  t.text_score = {256, 1100, 700.0};
  std::uint64_t state = 1;
  auto rnd = [&] { return state = state * 6364136223846793005ull + 1442695040888963407ull, int(state >> 33); };
  for (int id = 0; id < c.vocab_size; id++) t.pieces.push_back("\xe2\x96\x81piece" + std::to_string(id % 1000));
  auto top = [&] {
    std::vector<TokenProb> v;
    for (int k = 0; k < 10; k++) v.push_back({rnd() % c.vocab_size, float(rnd() % 100000) / 1e6f + 1e-7f});
    return v;
  };
  for (int i = 0; i < n_pos; i++) {
    TracePosition p;
    p.token = rnd() % c.vocab_size;
    p.text = " word" + std::to_string(i);
    p.prob = 0.0123456789, p.rank = 17, p.bits = 6.33985000288462;
    p.top = top();
    t.positions.push_back(p);
  }
  for (int i = 0; i < 32 * n_pos; i++) {
    t.lens_top.push_back(top());
    t.lens_next_prob.push_back(float(rnd() % 100000) / 1e6f + 1e-7f);
  }
  for (int l = 0; l < 32; l++) t.attention_layers.push_back(l);
  t.attention_positions = kept;
  for (int l = 0; l < 32; l++) {
    std::vector<std::uint8_t> bytes(std::size_t(32) * std::size_t(kept) * std::size_t(kept + 1) / 2);
    for (auto& b : bytes) b = std::uint8_t(rnd());
    t.attention.push_back(std::move(bytes));
  }
  const std::size_t size = trace_html(t).size();
  EXPECT_LT(size, 25'000'000u);
  EXPECT_GT(size, 16'000'000u);  // the attention alone is 16.7 MB of base64
  std::printf("7B-shaped page of 256 tokens: %zu bytes\n", size);
}

TEST(Trace, ProgressCountsUpToTheTotal) {
  SyntheticCase m(gqa_config(), 7);
  const Tokenizer tok = Tokenizer::load(m.tokenizer_path);
  Transformer t(m.model);
  TraceOptions o;
  o.generate = 2;
  o.temperature = 0.0f;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> calls;
  run_trace(t, tok, "abc de", o, "m", [&](std::uint64_t done, std::uint64_t total) { calls.push_back({done, total}); });
  ASSERT_GE(calls.size(), 3u + 3u);  // the text's batch, two generated tokens, three lens layers
  for (std::size_t i = 1; i < calls.size(); i++) {
    EXPECT_GT(calls[i].first, calls[i - 1].first);
    EXPECT_EQ(calls[i].second, calls[0].second);
  }
  EXPECT_EQ(calls.back().first, calls.back().second);
}

// --- bad input -------------------------------------------------------------------------

TEST(Trace, RejectsBadInput) {
  SyntheticCase m(gqa_config(), 4);
  const Tokenizer tok = Tokenizer::load(m.tokenizer_path);
  Transformer t(m.model);
  test::expect_error([&] { run_trace(t, tok, "", {}); }, "the text has no tokens");
  TraceOptions o;
  o.top_k = 0;
  test::expect_error([&] { run_trace(t, tok, "abc", o); }, "top_k = 0, expected at least 1");
  o = {};
  o.layers = {3};
  test::expect_error([&] { run_trace(t, tok, "abc", o); }, "layer 3 is outside [0, 3)");
  o = {};
  o.generate = 39;
  test::expect_error([&] { run_trace(t, tok, "abc", o); }, "more than the context of 40");
  o = {};
  o.max_positions = -1;
  test::expect_error([&] { run_trace(t, tok, "abc", o); }, "max_positions = -1");
  test::write_tokenizer_bin(m.file("small.bin"), 280);
  const Tokenizer small = Tokenizer::load(m.file("small.bin"));
  test::expect_error([&] { run_trace(t, small, "abc", {}); }, "280 pieces, but the model has vocab_size 300");
}

}  // namespace
}  // namespace llama2

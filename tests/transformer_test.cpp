// Transformer::forward against the independent double-precision reference
// (support/reference_model.cpp) on synthetic models of many shapes, written
// in every llama2.c format; thread-count independence; context cap; errors.
#include "llama2/transformer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "llama2/error.hpp"
#include "support/engine_logits.hpp"
#include "support/expect_error.hpp"
#include "support/reference_model.hpp"
#include "support/synthetic_model.hpp"

namespace llama2::test {
namespace {

using ::testing::HasSubstr;

// Tolerance: at every position, every logit must satisfy
//   |engine - reference| <= 1e-4 * max(1, max_i |reference_i|)
// i.e. an absolute error relative to the scale of that position's logits.
constexpr double kRelTol = 1e-4;

void expect_close_to_reference(const std::vector<std::vector<float>>& got,
                               const std::vector<std::vector<double>>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t pos = 0; pos < want.size(); pos++) {
    ASSERT_EQ(got[pos].size(), want[pos].size()) << "pos " << pos;
    double scale = 1.0;
    for (double v : want[pos]) scale = std::max(scale, std::fabs(v));
    double worst = 0.0;
    std::size_t worst_i = 0;
    for (std::size_t i = 0; i < want[pos].size(); i++) {
      double err = std::fabs(double(got[pos][i]) - want[pos][i]);
      if (err > worst) worst = err, worst_i = i;
    }
    EXPECT_LE(worst, kRelTol * scale) << "pos " << pos << " logit " << worst_i << ": engine " << got[pos][worst_i]
                                      << ", reference " << want[pos][worst_i];
  }
}

// --- shapes ------------------------------------------------------------------------

struct Shape {
  const char* name;
  Config config;
};

void PrintTo(const Shape& s, std::ostream* os) { *os << s.name; }

std::vector<Shape> shapes() {
  Config gqa_shared = small_config();
  gqa_shared.shared_classifier = true;
  return {
      // dim 48, hidden 100, 3 layers, 6 heads / 3 kv heads, vocab 67, separate classifier
      {"gqa_small_separate", small_config()},
      {"gqa_small_shared", gqa_shared},
      // multi-head attention, head_size 8, odd hidden and vocab
      {"mha_odd_shared", make_config(40, 77, 2, 5, 5, 301, 32, true)},
      {"mha_odd_separate", make_config(40, 77, 2, 5, 5, 301, 32, false)},
      // 4 query heads per kv head
      {"gqa4", make_config(64, 96, 2, 8, 2, 50, 30, false)},
      // multi-query attention (one kv head), head_size 2
      {"mqa", make_config(12, 30, 2, 6, 1, 23, 25, true)},
  };
}

constexpr std::size_t kSeqLen = 24;  // positions checked per model

class TransformerVsReference : public ::testing::TestWithParam<Shape>, protected TempDir {
 protected:
  // The shape's weights (weight_seed), written by `write` (an fp32 format),
  // load as `format` and give the reference's logits at kSeqLen random tokens.
  void expect_fp32_file_matches_reference(void (*write)(const std::string&, const SyntheticWeights&),
                                          ModelFormat format, std::uint64_t weight_seed, std::uint64_t token_seed,
                                          int n_threads) {
    const Config& c = GetParam().config;
    SyntheticWeights w = make_weights(c, weight_seed);
    const std::string path = file("m.bin");
    write(path, w);
    Model model = Model::load(path);
    ASSERT_EQ(model.format(), format);
    ASSERT_EQ(model.config().shared_classifier, c.shared_classifier);
    auto tokens = random_tokens(c.vocab_size, kSeqLen, token_seed);
    expect_close_to_reference(engine_logits(model, tokens, n_threads), reference_logits(w, tokens));
  }
};

TEST_P(TransformerVsReference, V0MatchesReference) {
  expect_fp32_file_matches_reference(write_llama2c_v0, ModelFormat::LLAMA2C_V0, 11, 1, 1);
}

TEST_P(TransformerVsReference, V1MatchesReference) {
  expect_fp32_file_matches_reference(write_llama2c_v1, ModelFormat::LLAMA2C_V1, 12, 2, 2);
}

// The largest group size <= limit dividing every tensor of the model.
int group_size_dividing_all(const Config& c, int limit, bool must_divide_hidden) {
  const long long dim = c.dim, hidden = c.hidden_dim, kv = c.kv_dim(), vocab = c.vocab_size;
  for (int gs = limit; gs >= 1; gs--) {
    bool ok = (vocab * dim) % gs == 0 && (dim * dim) % gs == 0 && (kv * dim) % gs == 0 && (hidden * dim) % gs == 0;
    bool divides_rows = dim % gs == 0 && hidden % gs == 0;
    if (ok && (divides_rows == must_divide_hidden)) return gs;
  }
  return 0;
}

TEST_P(TransformerVsReference, V2MatchesDequantizedReference) {
  const Config& c = GetParam().config;
  SyntheticWeights w = make_weights(c, 13);
  auto tokens = random_tokens(c.vocab_size, kSeqLen, 3);
  // One group size whose groups align with every row, and one (where the
  // shape allows) whose groups straddle rows of w2 (cols = hidden_dim).
  for (bool aligned : {true, false}) {
    int gs = group_size_dividing_all(c, 64, aligned);
    if (gs == 0) continue;
    SCOPED_TRACE("group_size " + std::to_string(gs) + (aligned ? " (rows aligned)" : " (straddles rows)"));
    const std::string path = file("m" + std::to_string(gs) + ".bin");
    SyntheticWeights deq = write_llama2c_v2(path, w, gs);
    Model model = Model::load(path);
    ASSERT_EQ(model.format(), ModelFormat::LLAMA2C_V2);
    ASSERT_EQ(model.weights().layers[0].w2.group_size, gs);
    expect_close_to_reference(engine_logits(model, tokens, 1), reference_logits(deq, tokens));
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, TransformerVsReference, ::testing::ValuesIn(shapes()),
                         [](const auto& info) { return std::string(info.param.name); });

// The group sizes the parameterized test picks really cover both cases.
TEST(TransformerV2GroupSizes, SmallConfigHasAlignedAndStraddlingGroups) {
  Config c = small_config();
  int aligned = group_size_dividing_all(c, 64, true);
  int straddling = group_size_dividing_all(c, 64, false);
  EXPECT_EQ(aligned, 4);
  EXPECT_EQ(straddling, 48);
  EXPECT_NE(c.hidden_dim % straddling, 0);
}

// The engine really differs from the reference when the weights differ: a
// guard that the comparison above can fail.
TEST(TransformerVsReferenceGuard, DetectsAPerturbedWeight) {
  TempDir tmp("transformer_guard");
  SyntheticWeights w = make_weights(small_config(), 21);
  write_llama2c_v1(tmp.file("m.bin"), w);
  SyntheticWeights changed = w;
  changed.wo[5] += 0.05f;  // layer 0
  auto tokens = random_tokens(w.config.vocab_size, 6, 4);
  auto got = engine_logits(Model::load(tmp.file("m.bin")), tokens, 1);
  auto want = reference_logits(changed, tokens);
  double worst = 0.0;
  for (std::size_t p = 0; p < got.size(); p++) {
    for (std::size_t i = 0; i < got[p].size(); i++) worst = std::max(worst, std::fabs(got[p][i] - want[p][i]));
  }
  EXPECT_GT(worst, 1e-3);
}

// --- threads -------------------------------------------------------------------------

// Work is split statically, so the thread count never changes a single bit.
TEST(TransformerThreads, LogitsAreBitIdenticalFor1To3Threads) {
  TempDir tmp("transformer_threads");
  Config c = make_config(64, 172, 2, 8, 4, 301, 30, false);
  SyntheticWeights w = make_weights(c, 31);
  auto tokens = random_tokens(c.vocab_size, 20, 5);
  write_llama2c_v1(tmp.file("f32.bin"), w);
  write_llama2c_v2(tmp.file("q8.bin"), w, 64);
  for (const char* name : {"/f32.bin", "/q8.bin"}) {
    SCOPED_TRACE(name);
    Model model = Model::load(tmp.dir() + name);
    auto one = engine_logits(model, tokens, 1);
    for (int n : {2, 3}) {
      auto many = engine_logits(model, tokens, n);
      ASSERT_EQ(many.size(), one.size());
      for (std::size_t p = 0; p < one.size(); p++) {
        ASSERT_EQ(0, std::memcmp(one[p].data(), many[p].data(), one[p].size() * sizeof(float)))
            << n << " threads differ from 1 thread at pos " << p;
      }
    }
  }
}

TEST(TransformerThreads, ReportsItsThreadCount) {
  TempDir tmp("transformer_nthreads");
  write_llama2c_v1(tmp.file("m.bin"), make_weights(small_config(), 1));
  EXPECT_EQ(Transformer(tmp.file("m.bin"), 3).n_threads(), 3);
  EXPECT_EQ(Transformer(tmp.file("m.bin"), 0).n_threads(), hardware_threads());
}

// --- context and errors ---------------------------------------------------------------

class TransformerErrors : public ::testing::Test, protected TempDir {
 protected:
  void SetUp() override { write_llama2c_v1(path_, make_weights(small_config(), 41)); }  // seq_len 40, vocab 67
  const std::string path_ = file("m.bin");
};

TEST_F(TransformerErrors, ContextCapsSeqLen) {
  Transformer capped(path_, 1, 10);
  EXPECT_EQ(capped.config().seq_len, 10);
  EXPECT_EQ(capped.model().config().seq_len, 40);  // the model itself is unchanged
  // A context above the model's keeps the model's; 0 keeps it too.
  EXPECT_EQ(Transformer(path_, 1, 1000).config().seq_len, 40);
  EXPECT_EQ(Transformer(path_, 1, 0).config().seq_len, 40);
}

TEST_F(TransformerErrors, CappedContextGivesTheSameLogits) {
  auto tokens = random_tokens(67, 10, 6);
  Model model = Model::load(path_);
  auto full = engine_logits(model, tokens, 1);
  auto capped = engine_logits(model, tokens, 1, 10);
  for (std::size_t p = 0; p < tokens.size(); p++) EXPECT_EQ(full[p], capped[p]) << "pos " << p;
}

TEST_F(TransformerErrors, PositionAtOrPastContextThrows) {
  Transformer t(path_, 1, 10);
  for (int pos = 0; pos < 10; pos++) t.forward(1, pos);
  const std::string past = error_message([&] { t.forward(1, 10); });
  EXPECT_THAT(past, HasSubstr("position 10"));
  EXPECT_THAT(past, HasSubstr("[0, 10)"));
  EXPECT_THAT(error_message([&] { t.forward(1, -1); }), HasSubstr("position -1"));
  Transformer uncapped(path_, 1);
  EXPECT_THROW(uncapped.forward(1, 40), Error);
  EXPECT_NO_THROW(uncapped.forward(1, 0));
}

TEST_F(TransformerErrors, TokenOutOfRangeThrows) {
  Transformer t(path_, 1);
  for (int token : {-1, 67, 1 << 30}) {
    const std::string msg = error_message([&] { t.forward(token, 0); });
    EXPECT_THAT(msg, HasSubstr("token id " + std::to_string(token)));
    EXPECT_THAT(msg, HasSubstr("[0, 67)"));
  }
  EXPECT_NO_THROW(t.forward(66, 0));
}

TEST_F(TransformerErrors, NegativeContextThrows) {
  const std::string msg = error_message([&] { Transformer t(path_, 1, -5); });
  EXPECT_THAT(msg, HasSubstr("context = -5"));
  EXPECT_THAT(msg, HasSubstr(path_));
}

TEST_F(TransformerErrors, MissingModelFileThrowsWithPath) {
  const std::string missing = file("nope.bin");
  EXPECT_THAT(error_message([&] { Transformer t(missing); }), HasSubstr(missing));
}

}  // namespace
}  // namespace llama2::test

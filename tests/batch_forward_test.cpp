// Transformer::forward_batch (transformer_batch.cpp) against token-by-token
// forward() on synthetic models: same logits within 1e-4 relative, the same
// KV cache afterwards (generation continues identically), batches split at
// any point, thread-count independence, and errors. forward_batch_all: every
// row against forward() at that position, its last row against forward_batch.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "llama2/error.hpp"
#include "llama2/quantize.hpp"
#include "llama2/tokenizer.hpp"
#include "llama2/transformer.hpp"
#include "support/expect_error.hpp"
#include "support/synthetic_model.hpp"

namespace llama2::test {
namespace {

using ::testing::HasSubstr;

// |batched - sequential| <= 1e-4 * max(1, max |sequential|), for every logit.
void expect_close(std::span<const float> got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 1.0;
  for (float v : want) scale = std::max(scale, double(std::fabs(v)));
  double worst = 0.0;
  std::size_t worst_i = 0;
  for (std::size_t i = 0; i < want.size(); i++) {
    double err = std::fabs(double(got[i]) - want[i]);
    if (err > worst) worst = err, worst_i = i;
  }
  EXPECT_LE(worst, 1e-4 * scale) << what << ": logit " << worst_i << " batched " << got[worst_i] << ", sequential "
                                 << want[worst_i];
}

struct Case {
  const char* name;
  Config config;
  int group_size;  // 0: fp32 (v1 file); else llama2.c v2 int8 with this group size
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::vector<Case> cases() {
  return {
      {"small_gqa_f32", small_config(), 0},          // dim 48, hidden 100, 6 heads / 3 kv heads
      {"small_gqa_q8", small_config(), 4},            // groups of 4: straddle no row, not a multiple of 16
      {"wide_mha_f32", make_config(64, 172, 2, 4, 4, 97, 48, false), 0},
      {"wide_mha_q8", make_config(64, 172, 2, 4, 4, 97, 48, false), 32},
      {"mqa_odd_f32", make_config(36, 70, 2, 6, 1, 41, 33, false), 0},
  };
}

class BatchForward : public ::testing::TestWithParam<Case>, protected TempDir {
 protected:
  void SetUp() override {
    SyntheticWeights w = make_weights(GetParam().config, 77);
    if (GetParam().group_size == 0) {
      write_llama2c_v1(path_, w);
    } else {
      write_llama2c_v2(path_, w, GetParam().group_size);
    }
  }
  const std::string path_ = file("m.bin");
};

TEST_P(BatchForward, EqualsSequentialAndContinuesTheSame) {
  const Config& c = GetParam().config;
  for (std::size_t n : {std::size_t(1), std::size_t(2), std::size_t(5), std::size_t(17), std::size_t(c.seq_len - 1)}) {
    SCOPED_TRACE("prompt of " + std::to_string(n));
    auto tokens = random_tokens(c.vocab_size, n + 1, n);
    Transformer seq(path_, 2), batch(path_, 2);
    std::vector<float> want;
    for (std::size_t i = 0; i < n; i++) {
      auto logits = seq.forward(tokens[i], int(i));
      want.assign(logits.begin(), logits.end());
    }
    expect_close(batch.forward_batch(std::span<const int>(tokens.data(), n), 0), want, "last prompt token");
    // The batch filled the KV cache: the next token sees the same context.
    auto next_seq = seq.forward(tokens[n], int(n));
    want.assign(next_seq.begin(), next_seq.end());
    expect_close(batch.forward(tokens[n], int(n)), want, "token after the batch");
  }
}

TEST_P(BatchForward, SplitBatchesEqualOneBatch) {
  const Config& c = GetParam().config;
  const std::size_t n = std::size_t(c.seq_len);
  auto tokens = random_tokens(c.vocab_size, n, 3);
  Transformer whole(path_, 1), parts(path_, 1);
  auto one = whole.forward_batch(tokens, 0);
  std::vector<float> want(one.begin(), one.end());
  // Pieces of 7, 1, 13 and the rest, each at its own starting position.
  std::span<const float> got;
  std::size_t done = 0;
  for (std::size_t len : {std::size_t(7), std::size_t(1), std::size_t(13), n}) {
    len = std::min(len, n - done);
    got = parts.forward_batch(std::span<const int>(tokens.data() + done, len), int(done));
    done += len;
  }
  expect_close(got, want, "split batches");
}

TEST_P(BatchForward, BitIdenticalFor1To3Threads) {
  const Config& c = GetParam().config;
  auto tokens = random_tokens(c.vocab_size, 23, 9);
  Transformer t1(path_, 1);
  auto l1 = t1.forward_batch(tokens, 0);
  std::vector<float> want(l1.begin(), l1.end());
  for (int n_threads : {2, 3}) {
    Transformer tn(path_, n_threads);
    auto ln = tn.forward_batch(tokens, 0);
    ASSERT_EQ(0, std::memcmp(want.data(), ln.data(), want.size() * sizeof(float))) << n_threads << " threads";
  }
}

// Row i of forward_batch_all is forward()'s logits after tokens[i], at every
// position, for a batch starting at 0 and one continuing a cache.
TEST_P(BatchForward, AllRowsEqualSequential) {
  const Config& c = GetParam().config;
  const std::size_t vocab = std::size_t(c.vocab_size), n = std::size_t(c.seq_len);
  auto tokens = random_tokens(c.vocab_size, n, 21);
  Transformer seq(path_, 2), batch(path_, 2);
  std::vector<std::vector<float>> want(n);
  for (std::size_t i = 0; i < n; i++) {
    auto l = seq.forward(tokens[i], int(i));
    want[i].assign(l.begin(), l.end());
  }
  // 11 tokens from position 0, then the rest from position 11.
  for (auto [begin, len] : {std::pair<std::size_t, std::size_t>{0, 11}, {11, n - 11}}) {
    auto all = batch.forward_batch_all(std::span<const int>(tokens.data() + begin, len), int(begin));
    ASSERT_EQ(all.size(), len * vocab);
    for (std::size_t r = 0; r < len; r++) {
      expect_close(all.subspan(r * vocab, vocab), want[begin + r], "position " + std::to_string(begin + r));
    }
  }
}

// The last row of forward_batch_all is forward_batch's logits: the same final
// hidden state, through the classifier as a matrix product there and as
// forward()'s matvec here, so equal up to fp32 summation order.
TEST_P(BatchForward, AllLastRowIsForwardBatch) {
  const Config& c = GetParam().config;
  const std::size_t vocab = std::size_t(c.vocab_size);
  for (std::size_t n : {std::size_t(1), std::size_t(6), std::size_t(c.seq_len)}) {
    auto tokens = random_tokens(c.vocab_size, n, 30 + n);
    Transformer a(path_, 2), b(path_, 3);
    auto last = a.forward_batch(tokens, 0);
    std::vector<float> want(last.begin(), last.end());
    auto all = b.forward_batch_all(tokens, 0);
    ASSERT_EQ(all.size(), n * vocab);
    double scale = 1e-30, worst = 0.0;
    for (std::size_t i = 0; i < vocab; i++) {
      scale = std::max(scale, double(std::fabs(want[i])));
      worst = std::max(worst, std::fabs(double(all[(n - 1) * vocab + i]) - want[i]));
    }
    EXPECT_LE(worst, 1e-5 * scale) << n << " tokens";
  }
}

// forward_batch_all's row for a token has the same bits whatever batch it
// runs in: alone, with a few others, or in one batch of the whole context;
// with 1 to 3 threads; F32 or F16 cache. compress relies on it: its encoder
// runs known tokens in batches, its decoder one at a time.
void expect_rows_batch_invariant(const std::string& path, const Config& c, std::uint64_t seed) {
  const std::size_t vocab = std::size_t(c.vocab_size), n = std::size_t(c.seq_len);
  const auto tokens = random_tokens(c.vocab_size, n, seed);
  for (KvType kv : {KvType::F32, KvType::F16}) {
    Transformer whole(path, 2, 0, kv);
    auto all = whole.forward_batch_all(tokens, 0);
    const std::vector<float> want(all.begin(), all.end());  // (n, vocab)
    for (int n_threads : {1, 3}) {
      Transformer parts(path, n_threads, 0, kv);
      const std::size_t pieces[] = {1, 1, 3, 8, 1, 6, 2};  // then one token at a time
      std::size_t done = 0;
      for (std::size_t i = 0; done < n; i++) {
        const std::size_t take = std::min(i < std::size(pieces) ? pieces[i] : 1, n - done);
        auto got = parts.forward_batch_all(std::span<const int>(tokens.data() + done, take), int(done));
        ASSERT_EQ(0, std::memcmp(got.data(), &want[done * vocab], take * vocab * sizeof(float)))
            << "rows " << done << ".." << done + take - 1 << " with " << n_threads << " threads, "
            << (kv == KvType::F32 ? "F32" : "F16") << " cache";
        done += take;
      }
    }
  }
}

TEST_P(BatchForward, AllRowsDoNotDependOnTheBatch) { expect_rows_batch_invariant(path_, GetParam().config, 55); }

INSTANTIATE_TEST_SUITE_P(Models, BatchForward, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

// The same for GGUF weight types: their batched products take other kernels
// (half-float GEMM, the int8 GEMM on rounded activations).
class BatchInvariantGguf : public ::testing::TestWithParam<WeightType>, protected TempDir {};

TEST_P(BatchInvariantGguf, AllRowsDoNotDependOnTheBatch) {
  const Config c = make_config(256, 512, 2, 4, 2, 270, 24, false);  // rows of whole 256-blocks; GQA
  write_llama2c_v1(file("m.bin"), make_weights(c, 5));
  write_tokenizer_bin(file("tok.bin"), c.vocab_size);
  const Vocab vocab = Tokenizer::load(file("tok.bin")).vocab();
  // Q3_K / Q4_K / Q5_K are written only in their _S mixes (mostly that type).
  const WeightType type = GetParam();
  if (type == WeightType::Q3_K || type == WeightType::Q4_K || type == WeightType::Q5_K) {
    QuantizeOptions o;
    o.type = type == WeightType::Q3_K ? FileType::Q3_K_S : type == WeightType::Q4_K ? FileType::Q4_K_S : FileType::Q5_K_S;
    write_llama_gguf(Model::load(file("m.bin")), vocab, o, file("m.gguf"));
    ASSERT_EQ(Model::load(file("m.gguf")).weights().layers[0].w1.type, type);
  } else {
    write_llama_gguf(Model::load(file("m.bin")), vocab, type, file("m.gguf"));
  }
  expect_rows_batch_invariant(file("m.gguf"), c, 56);
}

INSTANTIATE_TEST_SUITE_P(Types, BatchInvariantGguf,
                         ::testing::Values(WeightType::F16, WeightType::BF16, WeightType::Q8_0, WeightType::Q4_0,
                                           WeightType::Q4_1, WeightType::Q5_0, WeightType::Q5_1, WeightType::Q2_K,
                                           WeightType::Q3_K, WeightType::Q4_K, WeightType::Q5_K, WeightType::Q6_K),
                         [](const ::testing::TestParamInfo<WeightType>& info) {
                           return std::string(weight_type_name(info.param));
                         });

TEST(BatchForwardGuard, DetectsAWrongPosition) {
  // The comparison can fail: a batch run at the wrong starting position (RoPE
  // angles and cache rows shifted by one) is far from the sequential logits.
  TempDir tmp("batch_guard");
  write_llama2c_v1(tmp.file("m.bin"), make_weights(small_config(), 5));
  auto tokens = random_tokens(67, 10, 4);
  Transformer seq(tmp.file("m.bin"), 1), shifted(tmp.file("m.bin"), 1);
  std::vector<float> want;
  for (std::size_t i = 0; i < tokens.size(); i++) {
    auto l = seq.forward(tokens[i], int(i));
    want.assign(l.begin(), l.end());
  }
  // Position 0 gets a real key and value first: the cache is not zeroed, and
  // a row never written could hold anything (a NaN made this check flaky).
  shifted.forward(tokens[0], 0);
  auto got = shifted.forward_batch(tokens, 1);
  double worst = 0;
  for (std::size_t i = 0; i < want.size(); i++) {
    ASSERT_TRUE(std::isfinite(got[i])) << i;
    worst = std::max(worst, double(std::fabs(got[i] - want[i])));
  }
  EXPECT_GT(worst, 1e-3);
}

// A batch longer than the largest chunk (512 tokens) runs in pieces; every
// row, across the chunk boundary, still equals forward().
TEST(BatchForwardAll, ChunkedBatchEqualsSequential) {
  TempDir tmp("batch_all_chunks");
  const Config c = make_config(16, 24, 1, 2, 1, 19, 600, false);
  write_llama2c_v1(tmp.file("m.bin"), make_weights(c, 8));
  auto tokens = random_tokens(c.vocab_size, 600, 12);
  Transformer seq(tmp.file("m.bin"), 2), batch(tmp.file("m.bin"), 2);
  auto all = batch.forward_batch_all(tokens, 0);
  ASSERT_EQ(all.size(), 600u * 19u);
  std::vector<float> all_copy(all.begin(), all.end());
  for (std::size_t i = 0; i < tokens.size(); i++) {
    auto l = seq.forward(tokens[i], int(i));
    expect_close(std::span<const float>(all_copy).subspan(i * 19, 19), std::vector<float>(l.begin(), l.end()),
                 "position " + std::to_string(i));
    if (HasFailure()) break;
  }
}

class BatchForwardErrors : public ::testing::Test, protected TempDir {
 protected:
  void SetUp() override { write_llama2c_v1(path_, make_weights(small_config(), 41)); }  // seq_len 40, vocab 67
  const std::string path_ = file("m.bin");
};

TEST_F(BatchForwardErrors, EmptyBatchThrows) {
  Transformer t(path_, 1);
  EXPECT_THAT(error_message([&] { t.forward_batch({}, 0); }), HasSubstr("no tokens"));
}

TEST_F(BatchForwardErrors, TokenOutOfRangeNamesItsIndex) {
  Transformer t(path_, 1);
  for (int bad : {-1, 67}) {
    std::vector<int> tokens = {1, 2, bad, 3};
    const std::string msg = error_message([&] { t.forward_batch(tokens, 0); });
    EXPECT_THAT(msg, HasSubstr("token 2 of the batch has id " + std::to_string(bad)));
    EXPECT_THAT(msg, HasSubstr("[0, 67)"));
  }
}

TEST_F(BatchForwardErrors, AllChecksLikeForwardBatch) {
  Transformer t(path_, 1);
  EXPECT_THAT(error_message([&] { t.forward_batch_all({}, 0); }),
              HasSubstr("forward_batch_all: the batch has no tokens"));
  std::vector<int> tokens = {1, 67};
  EXPECT_THAT(error_message([&] { t.forward_batch_all(tokens, 0); }),
              HasSubstr("forward_batch_all: token 1 of the batch has id 67, outside [0, 67)"));
  tokens[1] = 2;
  EXPECT_THAT(error_message([&] { t.forward_batch_all(tokens, 39); }),
              HasSubstr("forward_batch_all: positions 39 .. 40 are outside the context [0, 40)"));
}

TEST_F(BatchForwardErrors, PositionsPastTheContextThrow) {
  Transformer t(path_, 1);
  std::vector<int> tokens(5, 1);
  const std::string msg = error_message([&] { t.forward_batch(tokens, 36); });  // 36 .. 40, but the context is [0, 40)
  EXPECT_THAT(msg, HasSubstr("positions 36 .. 40"));
  EXPECT_THAT(msg, HasSubstr("[0, 40)"));
  EXPECT_THROW(t.forward_batch(tokens, -1), Error);
  EXPECT_NO_THROW(t.forward_batch(tokens, 35));
}

}  // namespace
}  // namespace llama2::test

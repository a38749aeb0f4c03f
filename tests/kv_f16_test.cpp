// The fp16 KV cache (KvType::F16) end to end: the attention kernels of every
// instruction set against a double-precision sum over the widened halves;
// the engine against the double reference (within what rounding keys and
// values to 11 significant bits can move the logits), batched = token by
// token, 1 thread = 2 threads bit for bit, and the golden files' argmax.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/fp16.hpp"
#include "kernels/kernels.hpp"
#include "llama2/transformer.hpp"
#include "support/engine_logits.hpp"
#include "support/golden_logits.hpp"
#include "support/isa_test.hpp"
#include "support/reference_model.hpp"
#include "support/shared_files.hpp"
#include "support/synthetic_model.hpp"

namespace llama2::test {
namespace {

// --- kernels ---------------------------------------------------------------------------

class KvF16KernelsTest : public IsaTest {};

TEST_P(KvF16KernelsTest, ScoresAndValuesMatchDoubleOverWidenedHalves) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (std::size_t hs : {1u, 5u, 8u, 16u, 23u, 48u, 64u, 67u, 128u}) {
    for (std::size_t n_pos : {1u, 2u, 7u, 33u}) {
      std::vector<float> q(hs), att(n_pos), probs(n_pos), out(hs);
      std::vector<std::uint16_t> keys(n_pos * hs), values(n_pos * hs);  // (n_pos, hs) halves
      for (float& v : q) v = dist(rng);
      for (float& p : probs) p = std::fabs(dist(rng));
      for (auto& k : keys) k = fp32_to_fp16(dist(rng));
      for (auto& v : values) v = fp32_to_fp16(dist(rng));
      const float scale = 0.125f;
      table_->attention_scores_f16(att.data(), q.data(), keys.data(), n_pos, hs, scale);
      table_->attention_values_f16(out.data(), probs.data(), values.data(), n_pos, hs);
      for (std::size_t t = 0; t < n_pos; t++) {
        double want = 0, mag = 0;
        for (std::size_t i = 0; i < hs; i++) {
          want += double(q[i]) * fp16_to_fp32(keys[t * hs + i]);
          mag += std::fabs(double(q[i]) * fp16_to_fp32(keys[t * hs + i]));
        }
        EXPECT_NEAR(att[t], want * scale, 1e-6 * mag * scale + 1e-30) << "hs " << hs << " t " << t;
      }
      for (std::size_t i = 0; i < hs; i++) {
        double want = 0, mag = 0;
        for (std::size_t t = 0; t < n_pos; t++) {
          want += double(probs[t]) * fp16_to_fp32(values[t * hs + i]);
          mag += std::fabs(double(probs[t]) * fp16_to_fp32(values[t * hs + i]));
        }
        EXPECT_NEAR(out[i], want, 1e-6 * mag + 1e-30) << "hs " << hs << " n_pos " << n_pos << " i " << i;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, KvF16KernelsTest, kAllIsas, isa_param_name);

// --- engine ----------------------------------------------------------------------------

std::vector<std::vector<float>> run(const std::string& path, const std::vector<int>& tokens, KvType kv, int threads) {
  return engine_logits(llama2::Model::load(path), tokens, threads, 0, kv);
}

struct SmallModel {
  std::string path;
  SyntheticWeights weights;
};

const SmallModel& small_model() {
  static const SmallModel m = [] {
    SmallModel m{make_temp_dir("kv_f16") + "/small.bin", make_weights(small_config(), 21)};
    write_llama2c_v1(m.path, m.weights);
    return m;
  }();
  return m;
}

// Keys and values rounded to halves (relative error <= 2^-11 each) move the
// logits by about that much; an indexing or conversion error moves them by
// O(1). The fp32 cache meets 1e-4 on the same model.
TEST(KvF16, EngineMatchesTheDoubleReferenceWithinHalfPrecision) {
  const SmallModel& m = small_model();
  const auto tokens = random_tokens(m.weights.config.vocab_size, std::size_t(m.weights.config.seq_len), 4);
  const auto want = reference_logits(m.weights, tokens);
  const double err16 = max_rel_error(run(m.path, tokens, KvType::F16, 1), want);
  const double err32 = max_rel_error(run(m.path, tokens, KvType::F32, 1), want);
  EXPECT_LE(err32, 1e-4);
  EXPECT_LE(err16, 2e-3);
  EXPECT_GT(err16, err32) << "the f16 cache should round something";
  std::cout << "[ kv f16   ] max relative logit error: f16 cache " << err16 << ", f32 cache " << err32 << "\n";
}

TEST(KvF16, OneThreadAndTwoThreadsGiveTheSameBits) {
  const SmallModel& m = small_model();
  const auto tokens = random_tokens(m.weights.config.vocab_size, 30, 5);
  EXPECT_EQ(run(m.path, tokens, KvType::F16, 1), run(m.path, tokens, KvType::F16, 2));
}

TEST(KvF16, BatchedPromptEqualsTokenByToken) {
  const SmallModel& m = small_model();
  const auto tokens = random_tokens(m.weights.config.vocab_size, 33, 6);
  const auto sequential = run(m.path, tokens, KvType::F16, 2);
  for (int threads : {1, 2}) {
    Transformer t(m.path, threads, 0, KvType::F16);
    EXPECT_EQ(t.kv_type(), KvType::F16);
    // 20 tokens as one batch, then 13 more as a second batch at position 20.
    t.forward_batch(std::span(tokens).first(20), 0);
    auto logits = t.forward_batch(std::span(tokens).subspan(20), 20);
    const auto& want = sequential.back();
    double scale = 1, err = 0;
    for (std::size_t i = 0; i < want.size(); i++) {
      scale = std::max(scale, double(std::fabs(want[i])));
      err = std::max(err, double(std::fabs(logits[i] - want[i])));
    }
    EXPECT_LE(err, 1e-4 * scale) << threads << " threads";
  }
}

// On real trained weights: the argmax of every teacher-forced position is
// the golden file's (whose logits come from an fp32 implementation), unless
// the golden top two are closer than the f16 error.
TEST(KvF16, GoldenArgmaxHolds) {
  LLAMA2_SHARED_MODEL(model, "stories260K.bin");
  LLAMA2_SHARED_GOLDEN(golden, "stories260K_bos.txt");
  auto lines = read_golden_logits(golden);
  ASSERT_FALSE(lines.empty());
  Transformer t(model, 1, 0, KvType::F16);
  std::size_t checked = 0;
  double worst = 0;
  for (const GoldenLine& g : lines) {
    auto logits = t.forward(g.in, g.pos);
    for (auto [id, want] : g.top) worst = std::max(worst, std::fabs(logits[id] - want) / std::max(1.0, std::fabs(want)));
    const int argmax = int(std::max_element(logits.begin(), logits.end()) - logits.begin());
    if (g.top[0].second - g.top[1].second > 0.01) {
      EXPECT_EQ(argmax, g.argmax) << "pos " << g.pos;
      checked++;
    }
  }
  EXPECT_GT(checked, lines.size() * 9 / 10);
  EXPECT_LE(worst, 1e-2);  // relative to max(1, |logit|); the fp32 cache meets 1e-4 (golden_test.cpp)
  std::cout << "[ kv f16   ] stories260K: argmax agrees at " << checked << " clear positions, max relative error " << worst
            << "\n";
}

}  // namespace
}  // namespace llama2::test

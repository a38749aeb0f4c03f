// ForwardObserver: forward() and forward_batch / forward_batch_all show an
// observer the same residual streams and attention weights (within float
// rounding), every (layer, position) once; observing changes no logit.
#include "llama2/forward_observer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <utility>

#include "llama2/transformer.hpp"
#include "support/synthetic_model.hpp"

namespace llama2 {
namespace {

struct Recorder : ForwardObserver {
  struct Seen {
    std::vector<float> x;                // (dim)
    std::vector<std::vector<float>> att;  // (n_heads, pos + 1)
    int times = 0;
  };
  int n_heads = 0;
  std::map<std::pair<int, int>, Seen> seen;  // (layer, pos)
  std::vector<std::pair<int, int>> order;
  void on_layer(const LayerObservation& o) override {
    Seen& s = seen[{o.layer, o.pos}];
    s.times++;
    s.x.assign(o.residual.begin(), o.residual.end());
    s.att.clear();
    for (int h = 0; h < n_heads; h++) {
      const float* row = o.att + std::size_t(h) * o.att_stride;
      s.att.emplace_back(row, row + o.pos + 1);
    }
    order.push_back({o.layer, o.pos});
  }
};

class ForwardObserverTest : public ::testing::TestWithParam<KvType>, public test::TempDir {};

TEST_P(ForwardObserverTest, BatchedAndTokenByTokenSeeTheSame) {
  const test::SyntheticWeights w = test::make_weights(test::small_config(), 8);  // GQA: 6 heads over 3
  test::write_llama2c_v0(file("m.bin"), w);
  const std::vector<int> tokens = test::random_tokens(w.config.vocab_size, 21, 2);
  Transformer one(file("m.bin"), 1, 0, GetParam()), batch(file("m.bin"), 2, 0, GetParam());
  Recorder a, b;
  a.n_heads = b.n_heads = w.config.n_heads;
  one.set_observer(&a);
  batch.set_observer(&b);
  for (std::size_t i = 0; i < tokens.size(); i++) one.forward(tokens[i], int(i));
  batch.forward_batch_all(std::span<const int>(tokens).first(13), 0);  // two calls: a boundary mid-text
  batch.forward_batch(std::span<const int>(tokens).subspan(13), 13);

  const std::size_t L = std::size_t(w.config.n_layers);
  ASSERT_EQ(a.seen.size(), L * tokens.size());
  ASSERT_EQ(b.seen.size(), L * tokens.size());
  const float tol = GetParam() == KvType::F32 ? 1e-4f : 2e-3f;
  for (const auto& [key, sa] : a.seen) {
    const Recorder::Seen& sb = b.seen.at(key);
    EXPECT_EQ(sa.times, 1);
    EXPECT_EQ(sb.times, 1);
    for (std::size_t i = 0; i < sa.x.size(); i++) {
      ASSERT_NEAR(sa.x[i], sb.x[i], tol * (1 + std::fabs(sa.x[i]))) << "layer " << key.first << " pos " << key.second;
    }
    for (std::size_t h = 0; h < sa.att.size(); h++) {
      double sum = 0;
      for (std::size_t k = 0; k < sa.att[h].size(); k++) {
        sum += sa.att[h][k];
        ASSERT_NEAR(sa.att[h][k], sb.att[h][k], tol) << "layer " << key.first << " pos " << key.second << " head " << h;
      }
      EXPECT_NEAR(sum, 1.0, 1e-5);
    }
  }
  // forward(): each position's layers in order; a batch: each layer's positions in order.
  for (std::size_t i = 1; i < a.order.size(); i++) {
    EXPECT_TRUE(a.order[i].second > a.order[i - 1].second || a.order[i].first == a.order[i - 1].first + 1);
  }
  EXPECT_EQ(b.order[1], std::make_pair(0, 1));
}

INSTANTIATE_TEST_SUITE_P(Kv, ForwardObserverTest, ::testing::Values(KvType::F32, KvType::F16));

TEST(ForwardObserver, ObservingChangesNoLogitAndNullptrStops) {
  test::TempDir dir("observer");
  const test::SyntheticWeights w = test::make_weights(test::small_config(), 9);
  test::write_llama2c_v0(dir.file("m.bin"), w);
  const std::vector<int> tokens = test::random_tokens(w.config.vocab_size, 9, 3);
  Transformer plain(dir.file("m.bin"), 1), watched(dir.file("m.bin"), 1);
  Recorder r;
  r.n_heads = w.config.n_heads;
  watched.set_observer(&r);
  for (std::size_t i = 0; i < tokens.size(); i++) {
    const std::span<const float> plain_logits = plain.forward(tokens[i], int(i));
    const std::vector<float> want(plain_logits.begin(), plain_logits.end());
    const std::span<const float> got = watched.forward(tokens[i], int(i));
    for (std::size_t k = 0; k < want.size(); k++) ASSERT_EQ(want[k], got[k]);
  }
  const std::span<const float> batch_plain = plain.forward_batch_all(tokens, 0);
  const std::vector<float> want(batch_plain.begin(), batch_plain.end());
  const std::span<const float> got = watched.forward_batch_all(tokens, 0);
  for (std::size_t k = 0; k < want.size(); k++) ASSERT_EQ(want[k], got[k]);
  const std::size_t calls = r.order.size();
  EXPECT_EQ(calls, 2 * tokens.size() * std::size_t(w.config.n_layers));
  watched.set_observer(nullptr);
  watched.forward(tokens[0], 0);
  watched.forward_batch(tokens, 0);
  EXPECT_EQ(r.order.size(), calls);
}

}  // namespace
}  // namespace llama2

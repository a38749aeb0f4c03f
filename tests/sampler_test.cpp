// Tests for the sampler: exact checks of greedy, the RNG, the truncations and
// the repetition penalty, and statistical checks that draws follow the
// truncated distribution computed by an independent double-precision
// reference (full sort, no shortcuts) in this file.
#include "llama2/sampler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "llama2/error.hpp"

namespace llama2 {
namespace {

// --- reference ------------------------------------------------------------------

// Per-id probability sample() must draw from, in double precision with a full
// sort: penalty -> / T -> softmax -> top-k -> min-p -> top-p, each truncation
// on the renormalized survivors of the previous one. Dropped ids get 0.
std::vector<double> reference_distribution(const std::vector<float>& logits, const SamplerParams& p,
                                           const std::vector<int>& recent = {}) {
  const int n = static_cast<int>(logits.size());
  std::vector<double> x(logits.begin(), logits.end());
  if (p.repeat_last_n > 0) {
    const int start = std::max(0, static_cast<int>(recent.size()) - p.repeat_last_n);
    std::set<int> window(recent.begin() + start, recent.end());
    for (int id : window) x[id] = x[id] > 0 ? x[id] / p.repeat_penalty : x[id] * p.repeat_penalty;
  }
  const double max_x = *std::max_element(x.begin(), x.end());
  std::vector<double> prob(n);
  double sum = 0;
  for (int i = 0; i < n; i++) sum += prob[i] = std::exp((x[i] - max_x) / p.temperature);
  for (double& q : prob) q /= sum;

  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return prob[a] > prob[b]; });
  std::vector<int> kept = order;
  if (p.top_k > 0 && p.top_k < n) kept.resize(p.top_k);
  auto mass_of = [&](const std::vector<int>& ids) {
    double m = 0;
    for (int id : ids) m += prob[id];
    return m;
  };
  if (p.min_p > 0) {
    const double threshold = p.min_p * prob[kept[0]];
    std::erase_if(kept, [&](int id) { return prob[id] < threshold; });
  }
  if (p.top_p < 1) {
    const double mass = mass_of(kept);
    double cumulative = 0;
    for (std::size_t i = 0; i < kept.size(); i++) {
      cumulative += prob[kept[i]] / mass;
      if (cumulative >= static_cast<double>(p.top_p) * (1 - 1e-6)) {
        kept.resize(i + 1);
        break;
      }
    }
  }
  std::vector<double> out(n, 0.0);
  const double mass = mass_of(kept);
  for (int id : kept) out[id] = prob[id] / mass;
  return out;
}

std::set<int> ids_of(const std::vector<TokenProb>& dist) {
  std::set<int> ids;
  for (const TokenProb& t : dist) ids.insert(t.id);
  return ids;
}

std::vector<float> log_probs(const std::vector<double>& p) {
  std::vector<float> out;
  for (double q : p) out.push_back(static_cast<float>(std::log(q)));
  return out;
}

SamplerParams params_with(std::function<void(SamplerParams&)> edit) {
  SamplerParams p;
  p.top_p = 1.0f;  // every test switches on only what it tests
  edit(p);
  return p;
}

// Logits whose order is 4 > 1 > 8 > 6 > 0 > 9 > 3 > 5 > 2 > 7. At T = 1 the
// probabilities are .3654 .2216 .1642 .0996 .0495 .0405 ... (cumulative
// .3654 .5870 .7512 .8508 .9002 ...), p / p_max = 1 .607 .449 .273 .135 ...
const std::vector<float> kTen = {1.0f, 2.5f, -0.5f, 0.3f, 3.0f, 0.0f, 1.7f, -1.2f, 2.2f, 0.8f};

// --- greedy -------------------------------------------------------------------------

TEST(SamplerGreedy, PicksArgmax) {
  Sampler sampler(10, params_with([](SamplerParams& p) { p.temperature = 0; }));
  std::vector<float> logits = kTen;
  EXPECT_EQ(sampler.sample(logits), 4);
  logits[7] = 5.0f;
  EXPECT_EQ(sampler.sample(logits), 7);
  EXPECT_EQ(logits, [] { auto l = kTen; l[7] = 5.0f; return l; }()) << "sample() must not change the logits";
}

TEST(SamplerGreedy, TiesGoToLowestId) {
  Sampler sampler(6, params_with([](SamplerParams& p) { p.temperature = 0; }));
  std::vector<float> logits = {0.0f, 1.0f, 3.0f, -2.0f, 3.0f, 3.0f};
  EXPECT_EQ(sampler.sample(logits), 2);
  std::vector<float> all_equal(6, -1.5f);
  EXPECT_EQ(sampler.sample(all_equal), 0);
  std::vector<TokenProb> dist = sampler.truncated_distribution(logits);
  ASSERT_EQ(dist.size(), 1u);
  EXPECT_EQ(dist[0].id, 2);
  EXPECT_EQ(dist[0].prob, 1.0f);
}

TEST(SamplerGreedy, DoesNotConsumeRandomNumbers) {
  Sampler greedy(10, params_with([](SamplerParams& p) { p.temperature = 0; p.seed = 5; }));
  Sampler fresh(10, params_with([](SamplerParams& p) { p.seed = 5; }));
  std::vector<float> logits = kTen;
  for (int i = 0; i < 3; i++) greedy.sample(logits);
  EXPECT_EQ(greedy.random_u32(), fresh.random_u32());
}

// --- RNG ------------------------------------------------------------------------------

// llama2.c's random_u32 / random_f32, verbatim, as the reference.
std::uint32_t llama2c_random_u32(std::uint64_t* state) {
  *state ^= *state >> 12;
  *state ^= *state << 25;
  *state ^= *state >> 27;
  return (*state * 0x2545F4914F6CDD1Dull) >> 32;
}
float llama2c_random_f32(std::uint64_t* state) { return (llama2c_random_u32(state) >> 8) / 16777216.0f; }

TEST(SamplerRng, MatchesLlama2cForTheSameSeed) {
  Sampler sampler(10, params_with([](SamplerParams& p) { p.seed = 42; }));
  std::uint64_t state = 42;
  for (int i = 0; i < 100; i++) ASSERT_EQ(sampler.random_u32(), llama2c_random_u32(&state)) << "draw " << i;
  for (int i = 0; i < 100; i++) ASSERT_EQ(sampler.random_f32(), llama2c_random_f32(&state)) << "draw " << i;
}

TEST(SamplerRng, SeedZeroIsAValidSeed) {
  Sampler sampler(10, params_with([](SamplerParams& p) { p.seed = 0; }));
  std::uint64_t state = Sampler::kZeroSeedState;
  std::set<std::uint32_t> values;
  for (int i = 0; i < 100; i++) {
    const std::uint32_t v = sampler.random_u32();
    ASSERT_EQ(v, llama2c_random_u32(&state));
    values.insert(v);
  }
  EXPECT_EQ(values.size(), 100u) << "seed 0 must not leave xorshift stuck at 0";
}

TEST(SamplerRng, FloatsAreInUnitInterval) {
  Sampler sampler(10, params_with([](SamplerParams& p) { p.seed = 7; }));
  double sum = 0;
  for (int i = 0; i < 100000; i++) {
    const float f = sampler.random_f32();
    ASSERT_GE(f, 0.0f);
    ASSERT_LT(f, 1.0f);
    sum += f;
  }
  EXPECT_NEAR(sum / 100000, 0.5, 5 * std::sqrt(1.0 / 12 / 100000));
}

TEST(SamplerRng, SameSeedSameSamplesDifferentSeedsDiffer) {
  auto run = [](std::uint64_t seed, float top_p) {
    Sampler sampler(10, params_with([&](SamplerParams& p) { p.seed = seed; p.top_p = top_p; }));
    std::vector<int> out;
    std::vector<float> logits = kTen;
    for (int i = 0; i < 200; i++) out.push_back(sampler.sample(logits, out));
    return out;
  };
  for (float top_p : {1.0f, 0.9f}) {
    EXPECT_EQ(run(1234, top_p), run(1234, top_p));
    EXPECT_EQ(run(0, top_p), run(0, top_p));
    EXPECT_NE(run(1234, top_p), run(1235, top_p));
    EXPECT_NE(run(0, top_p), run(1, top_p));
  }
}

// --- draws ----------------------------------------------------------------------------

// With no truncation the draw is llama2.c's sample_mult: the first id, in id
// order, whose cumulative probability exceeds the coin.
TEST(SamplerDraw, FullDistributionIsInverseCdfInIdOrder) {
  SamplerParams params = params_with([](SamplerParams& p) { p.seed = 99; p.temperature = 0.8f; });
  Sampler sampler(10, params);
  Sampler coins(10, params);
  const std::vector<double> prob = reference_distribution(kTen, params);
  std::vector<float> logits = kTen;
  for (int step = 0; step < 500; step++) {
    const double coin = coins.random_f32();
    int expected = 9;
    double cdf = 0;
    for (int i = 0; i < 10; i++) {
      cdf += prob[i];
      if (coin < cdf) {
        expected = i;
        break;
      }
    }
    ASSERT_EQ(sampler.sample(logits), expected) << "step " << step << " coin " << coin;
  }
}

// Draws 200k samples and checks every count against the reference within 5
// binomial standard deviations; ids the reference drops must never appear.
void expect_draws_follow_reference(const SamplerParams& params, const std::set<int>& expected_kept) {
  const std::vector<double> prob = reference_distribution(kTen, params);
  std::set<int> reference_kept;
  for (int i = 0; i < 10; i++) {
    if (prob[i] > 0) reference_kept.insert(i);
  }
  ASSERT_EQ(reference_kept, expected_kept) << "the reference itself disagrees with the hand-worked set";

  Sampler sampler(10, params);
  const int draws = 200000;
  std::vector<int> count(10, 0);
  std::vector<float> logits = kTen;
  for (int i = 0; i < draws; i++) count[sampler.sample(logits)]++;
  for (int i = 0; i < 10; i++) {
    const double mean = draws * prob[i];
    const double sigma = std::sqrt(draws * prob[i] * (1 - prob[i]));
    if (prob[i] == 0) {
      EXPECT_EQ(count[i], 0) << "id " << i << " is outside the kept set";
    } else {
      EXPECT_NEAR(count[i], mean, 5 * sigma + 1) << "id " << i << " p = " << prob[i];
    }
  }

  // And the deterministic view agrees with the reference too.
  std::vector<TokenProb> dist = sampler.truncated_distribution(kTen);
  EXPECT_EQ(ids_of(dist), expected_kept);
  for (const TokenProb& t : dist) EXPECT_NEAR(t.prob, prob[t.id], 1e-6) << "id " << t.id;
}

TEST(SamplerDraw, FullSoftmaxAtTemperatureOne) {
  expect_draws_follow_reference(params_with([](SamplerParams& p) { p.seed = 1; }), {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST(SamplerDraw, FullSoftmaxAtTemperatureHalf) {
  expect_draws_follow_reference(params_with([](SamplerParams& p) { p.seed = 2; p.temperature = 0.5f; }),
                                {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST(SamplerDraw, TopK) {
  expect_draws_follow_reference(params_with([](SamplerParams& p) { p.seed = 3; p.top_k = 3; }), {4, 1, 8});
}

TEST(SamplerDraw, TopP) {
  // cumulative .3654 .5870 .7512: 0.7 is reached at the third token.
  expect_draws_follow_reference(params_with([](SamplerParams& p) { p.seed = 4; p.top_p = 0.7f; }), {4, 1, 8});
  // .8508 < 0.88 <= .9002: five tokens.
  expect_draws_follow_reference(params_with([](SamplerParams& p) { p.seed = 5; p.top_p = 0.88f; }), {4, 1, 8, 6, 0});
}

TEST(SamplerDraw, MinP) {
  // p / p_max = 1 .607 .449 .273 .135: 0.2 keeps four.
  expect_draws_follow_reference(params_with([](SamplerParams& p) { p.seed = 6; p.min_p = 0.2f; }), {4, 1, 8, 6});
}

TEST(SamplerDraw, MinPAtTemperatureTwo) {
  // At T = 2, p / p_max is the square root of the T = 1 ratio:
  // 1 .779 .670 .522 .368 .333 .259 ...: 0.3 keeps six.
  expect_draws_follow_reference(params_with([](SamplerParams& p) {
                                  p.seed = 9;
                                  p.min_p = 0.3f;
                                  p.temperature = 2.0f;
                                }),
                                {4, 1, 8, 6, 0, 9});
}

TEST(SamplerDraw, TopKThenMinPThenTopPOnRenormalizedMass) {
  // top-k 5 keeps {4,1,8,6,0} (mass .9002); min-p .12 keeps all five (.135);
  // top-p .9 of the renormalized five: .406 .652 .834 .945 -> four. On the
  // unrenormalized mass (.8508 at four) it would have kept all five.
  expect_draws_follow_reference(params_with([](SamplerParams& p) {
                                  p.seed = 7;
                                  p.top_k = 5;
                                  p.min_p = 0.12f;
                                  p.top_p = 0.9f;
                                }),
                                {4, 1, 8, 6});
}

TEST(SamplerDraw, TopKAtOrAboveVocabIsOff) {
  for (int k : {10, 11, 100}) {
    Sampler sampler(10, params_with([&](SamplerParams& p) { p.top_k = k; }));
    EXPECT_EQ(sampler.truncated_distribution(kTen).size(), 10u) << "top_k " << k;
  }
}

// --- top-p boundaries ---------------------------------------------------------------------

// p = .4 .2 .1 .1 .1 .05 .05: cumulative .4 .6 .7 .8 .9 .95 1 (ids 2,3,4 tie,
// and so do 5,6).
const std::vector<double> kSteps = {0.4, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05};

std::set<int> top_p_set(const std::vector<double>& probs, float top_p) {
  Sampler sampler(static_cast<int>(probs.size()), params_with([&](SamplerParams& p) { p.top_p = top_p; }));
  return ids_of(sampler.truncated_distribution(log_probs(probs)));
}

TEST(SamplerTopP, KeepsExactlyTheSmallestSetReachingP) {
  EXPECT_EQ(top_p_set(kSteps, 0.6f), (std::set<int>{0, 1}));           // reached exactly at 2
  EXPECT_EQ(top_p_set(kSteps, 0.5999f), (std::set<int>{0, 1}));        // just over at 2
  EXPECT_EQ(top_p_set(kSteps, 0.6001f), (std::set<int>{0, 1, 2}));     // just under at 2
  EXPECT_EQ(top_p_set(kSteps, 0.7f), (std::set<int>{0, 1, 2}));        // exact, tie at the boundary -> lowest id
  EXPECT_EQ(top_p_set(kSteps, 0.7001f), (std::set<int>{0, 1, 2, 3}));  // just under at 3
  EXPECT_EQ(top_p_set(kSteps, 0.95f), (std::set<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(top_p_set(kSteps, 0.9501f), (std::set<int>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(top_p_set(kSteps, 0.3f), (std::set<int>{0}));
  EXPECT_EQ(top_p_set(kSteps, 1.0f), (std::set<int>{0, 1, 2, 3, 4, 5, 6}));  // off
}

TEST(SamplerTopP, TiesAtTheBoundaryGoToLowestIdWhateverTheirPosition) {
  // The tied tokens sit at ids 6, 1, 4 (most likely is id 3).
  const std::vector<double> probs = {0.05, 0.1, 0.05, 0.4, 0.1, 0.2, 0.1};
  EXPECT_EQ(top_p_set(probs, 0.7f), (std::set<int>{3, 5, 1}));
  EXPECT_EQ(top_p_set(probs, 0.8f), (std::set<int>{3, 5, 1, 4}));
}

TEST(SamplerTopP, DrawsOnlyFromTheKeptSet) {
  for (auto [top_p, expected] : {std::pair{0.7f, std::set<int>{0, 1, 2}}, std::pair{0.7001f, std::set<int>{0, 1, 2, 3}},
                                 std::pair{0.6f, std::set<int>{0, 1}}}) {
    Sampler sampler(7, params_with([top_p = top_p](SamplerParams& p) { p.top_p = top_p; p.seed = 11; }));
    std::vector<float> logits = log_probs(kSteps);
    std::set<int> drawn;
    for (int i = 0; i < 20000; i++) drawn.insert(sampler.sample(logits));
    EXPECT_EQ(drawn, expected) << "top_p " << top_p;
  }
}

TEST(SamplerTopP, RenormalizedProbabilitiesSortedDescending) {
  Sampler sampler(7, params_with([](SamplerParams& p) { p.top_p = 0.8f; }));
  const std::vector<TokenProb> dist = sampler.truncated_distribution(log_probs(kSteps));
  const std::vector<int> ids = {0, 1, 2, 3};
  ASSERT_EQ(dist.size(), ids.size());
  for (std::size_t i = 0; i < ids.size(); i++) {
    EXPECT_EQ(dist[i].id, ids[i]);
    EXPECT_NEAR(dist[i].prob, kSteps[ids[i]] / 0.8, 1e-6);
  }
}

// When n * top_p < 1 nothing passes llama2.c's cutoff (1 - top_p) / (n - 1);
// llama2.c would index -1 there. The answer is still the top token.
TEST(SamplerTopP, SmallVocabTinyTopP) {
  EXPECT_EQ(top_p_set({0.6, 0.4}, 0.1f), (std::set<int>{0}));
  EXPECT_EQ(top_p_set({0.4, 0.6}, 0.45f), (std::set<int>{1}));
  EXPECT_EQ(top_p_set({0.4, 0.6}, 0.61f), (std::set<int>{0, 1}));
  // The same with many near-equal tokens, none above the cutoff.
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> noise(0.0f, 1e-4f);
  std::vector<float> logits(1000);
  for (float& l : logits) l = noise(rng);
  for (float top_p : {0.0005f, 0.00299f}) {
    SamplerParams params = params_with([&](SamplerParams& p) { p.top_p = top_p; });
    const std::vector<double> prob = reference_distribution(logits, params);
    std::set<int> expected;
    for (int i = 0; i < 1000; i++) {
      if (prob[i] > 0) expected.insert(i);
    }
    EXPECT_EQ(expected.size(), top_p < 0.001f ? 1u : 3u);
    Sampler sampler(1000, params);
    EXPECT_EQ(ids_of(sampler.truncated_distribution(logits)), expected) << "top_p " << top_p;
  }
}

// The cutoff shortcut must not change the result on a realistic vocabulary.
TEST(SamplerTopP, MatchesFullSortOnLargeVocab) {
  std::mt19937 rng(2024);
  for (float spread : {2.5f, 4.0f})  // flat-ish and more peaked
  for (float top_p : {0.3f, 0.9f, 0.99f}) {
    std::normal_distribution<float> normal(0.0f, spread);
    std::vector<float> logits(32000);
    for (float& l : logits) l = normal(rng);
    SamplerParams params = params_with([&](SamplerParams& p) { p.top_p = top_p; p.temperature = 0.9f; });
    const std::vector<double> prob = reference_distribution(logits, params);
    std::set<int> expected;
    for (int i = 0; i < 32000; i++) {
      if (prob[i] > 0) expected.insert(i);
    }
    Sampler sampler(32000, params);
    const std::vector<TokenProb> dist = sampler.truncated_distribution(logits);
    EXPECT_EQ(ids_of(dist), expected) << "top_p " << top_p << " spread " << spread;
    EXPECT_GT(dist.size(), 1u);  // 2 to 10863 tokens: both ends of the selection get exercised
    for (std::size_t i = 0; i < dist.size(); i++) {
      ASSERT_NEAR(dist[i].prob, prob[dist[i].id], 1e-6);
      if (i > 0) {
        ASSERT_GE(dist[i - 1].prob, dist[i].prob);
      }
    }
  }
}

// --- min-p and top-k details ------------------------------------------------------------------

TEST(SamplerTruncation, MinPUsesPmaxAndKeepsTheBoundary) {
  // p = .4 .2 .1 ...: min_p .25 -> threshold .1 keeps ids 0..4 (p >= .1);
  // min_p .26 -> threshold .104 keeps 0, 1.
  auto kept = [](float min_p) {
    Sampler sampler(7, params_with([&](SamplerParams& p) { p.min_p = min_p; }));
    return ids_of(sampler.truncated_distribution(log_probs(kSteps)));
  };
  EXPECT_EQ(kept(0.24f), (std::set<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(kept(0.26f), (std::set<int>{0, 1}));
  EXPECT_EQ(kept(0.51f), (std::set<int>{0}));
  EXPECT_EQ(kept(0.0f).size(), 7u);
}

TEST(SamplerTruncation, TopKTiesGoToLowestId) {
  // Three tokens tie for second place; top-k 2 keeps the lowest of them.
  const std::vector<double> probs = {0.1, 0.2, 0.2, 0.4, 0.2};
  for (int k : {1, 2, 3}) {
    Sampler sampler(5, params_with([&](SamplerParams& p) { p.top_k = k; }));
    const std::vector<TokenProb> dist = sampler.truncated_distribution(log_probs(probs));
    const std::vector<int> expected_ids = {3, 1, 2};  // 1, 2 and 4 tie at 0.2
    ASSERT_EQ(dist.size(), static_cast<std::size_t>(k));
    for (int i = 0; i < k; i++) EXPECT_EQ(dist[i].id, expected_ids[i]) << "k " << k << " rank " << i;
  }
}

// --- repetition penalty ------------------------------------------------------------------------

TEST(SamplerPenalty, DividesPositiveMultipliesNegativeOnlyInWindow) {
  const std::vector<float> logits = {2.0f, -1.0f, 0.5f, 0.0f, 1.0f, -0.5f};
  SamplerParams params = params_with([](SamplerParams& p) { p.repeat_penalty = 1.5f; p.repeat_last_n = 3; });
  // Window = last 3 = {0, 1, 0}: tokens 0 (positive) and 1 (negative), each
  // once; 2 is outside the window; 3, 4, 5 never appear.
  const std::vector<int> recent = {2, 0, 1, 0};
  const std::vector<double> penalized = {2.0 / 1.5, -1.0 * 1.5, 0.5, 0.0, 1.0, -0.5};
  double sum = 0;
  for (double l : penalized) sum += std::exp(l);

  Sampler sampler(6, params);
  const std::vector<TokenProb> dist = sampler.truncated_distribution(logits, recent);
  ASSERT_EQ(dist.size(), 6u);
  for (const TokenProb& t : dist) EXPECT_NEAR(t.prob, std::exp(penalized[t.id]) / sum, 1e-6) << "id " << t.id;

  // Against the unpenalized softmax: 0 and 1 lose probability, 2 (outside
  // the window) gains like every other untouched token.
  const std::vector<TokenProb> plain = sampler.truncated_distribution(logits);
  auto prob_of = [](const std::vector<TokenProb>& d, int id) {
    for (const TokenProb& t : d) {
      if (t.id == id) return t.prob;
    }
    return -1.0f;
  };
  EXPECT_LT(prob_of(dist, 0), prob_of(plain, 0));
  EXPECT_LT(prob_of(dist, 1), prob_of(plain, 1));
  for (int id : {2, 3, 4, 5}) EXPECT_GT(prob_of(dist, id), prob_of(plain, id));
}

TEST(SamplerPenalty, WindowOfZeroOrPenaltyOneIsOff) {
  const std::vector<float> logits = {2.0f, -1.0f, 0.5f};
  const std::vector<int> recent = {0, 1};
  Sampler plain(3, params_with([](SamplerParams&) {}));
  const std::vector<TokenProb> expected = plain.truncated_distribution(logits);
  for (auto [penalty, last_n] : {std::pair{1.5f, 0}, std::pair{1.0f, 64}}) {
    // Init-captures: clang 14 cannot capture a structured binding.
    Sampler sampler(3, params_with([penalty = penalty, last_n = last_n](SamplerParams& p) {
      p.repeat_penalty = penalty;
      p.repeat_last_n = last_n;
    }));
    const std::vector<TokenProb> dist = sampler.truncated_distribution(logits, recent);
    ASSERT_EQ(dist.size(), expected.size());
    for (std::size_t i = 0; i < dist.size(); i++) {
      EXPECT_EQ(dist[i].id, expected[i].id);
      EXPECT_EQ(dist[i].prob, expected[i].prob);
    }
  }
}

TEST(SamplerPenalty, MatchesReferenceInStatisticsAndGreedy) {
  SamplerParams params = params_with([](SamplerParams& p) {
    p.repeat_penalty = 1.3f;
    p.repeat_last_n = 4;
    p.top_k = 6;
    p.seed = 8;
  });
  const std::vector<int> recent = {4, 4, 1, 8, 4, 2};  // window {1, 8, 4, 2}
  const std::vector<double> prob = reference_distribution(kTen, params, recent);
  Sampler sampler(10, params);
  const std::vector<TokenProb> dist = sampler.truncated_distribution(kTen, recent);
  EXPECT_EQ(dist.size(), 6u);
  for (const TokenProb& t : dist) EXPECT_NEAR(t.prob, prob[t.id], 1e-6) << "id " << t.id;

  // Greedy sees the penalty too: with 2.0, ids 4, 1, 8 drop to 1.5, 1.25,
  // 1.1, below id 6 (1.7).
  Sampler greedy(10, params_with([](SamplerParams& p) {
    p.temperature = 0;
    p.repeat_penalty = 2.0f;
  }));
  std::vector<float> logits = kTen;
  EXPECT_EQ(greedy.sample(logits), 4);
  EXPECT_EQ(greedy.sample(logits, std::vector<int>{4, 1, 8}), 6);
  EXPECT_EQ(logits, kTen);
}

// --- top_probs ---------------------------------------------------------------------------

TEST(SamplerTopProbs, MatchesHandSoftmax) {
  const std::vector<float> logits = {0.5f, -1.0f, 2.0f, 1.25f, 2.0f};
  for (float temperature : {1.0f, 0.7f, 2.0f}) {
    double sum = 0;
    for (float l : logits) sum += std::exp(static_cast<double>(l) / temperature);
    const std::vector<TokenProb> top = Sampler::top_probs(logits, 3, temperature);
    const std::vector<int> ids = {2, 4, 3};  // 2 and 4 tie: lower id first
    ASSERT_EQ(top.size(), 3u);
    for (int i = 0; i < 3; i++) {
      EXPECT_EQ(top[i].id, ids[i]);
      EXPECT_NEAR(top[i].prob, std::exp(static_cast<double>(logits[ids[i]]) / temperature) / sum, 1e-6);
    }
  }
}

TEST(SamplerTopProbs, TemperatureZeroIsOneAndKIsClamped) {
  const std::vector<float> logits = {0.5f, -1.0f, 2.0f};
  const std::vector<TokenProb> at_one = Sampler::top_probs(logits, 3, 1.0f);
  const std::vector<TokenProb> at_zero = Sampler::top_probs(logits, 3, 0.0f);
  ASSERT_EQ(at_zero.size(), 3u);
  for (int i = 0; i < 3; i++) {
    EXPECT_EQ(at_zero[i].id, at_one[i].id);
    EXPECT_EQ(at_zero[i].prob, at_one[i].prob);
  }
  EXPECT_EQ(Sampler::top_probs(logits, 10).size(), 3u);
  EXPECT_TRUE(Sampler::top_probs(logits, 0).empty());
  float total = 0;
  for (const TokenProb& t : Sampler::top_probs(logits, 3, -2.0f)) total += t.prob;
  EXPECT_NEAR(total, 1.0f, 1e-6);
}

// --- bad input -----------------------------------------------------------------------------

void expect_error(const std::function<void()>& f, const std::vector<std::string>& fragments) {
  try {
    f();
    ADD_FAILURE() << "expected llama2::Error";
  } catch (const Error& e) {
    for (const std::string& fragment : fragments) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
          << "message \"" << e.what() << "\" lacks \"" << fragment << "\"";
    }
  }
}

TEST(SamplerErrors, InvalidParametersNameTheParameterAndValue) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  struct Case {
    std::function<void(SamplerParams&)> edit;
    std::vector<std::string> fragments;
  };
  const std::vector<Case> cases = {
      {[](SamplerParams& p) { p.temperature = -0.5f; }, {"temperature", "-0.5"}},
      {[&](SamplerParams& p) { p.temperature = nan; }, {"temperature", "nan"}},
      {[&](SamplerParams& p) { p.temperature = inf; }, {"temperature", "inf"}},
      {[](SamplerParams& p) { p.top_p = 0.0f; }, {"top_p", "= 0,"}},
      {[](SamplerParams& p) { p.top_p = -0.1f; }, {"top_p", "-0.1"}},
      {[](SamplerParams& p) { p.top_p = 1.5f; }, {"top_p", "1.5"}},
      {[&](SamplerParams& p) { p.top_p = nan; }, {"top_p", "nan"}},
      {[](SamplerParams& p) { p.min_p = 1.0f; }, {"min_p", "= 1,"}},
      {[](SamplerParams& p) { p.min_p = -0.25f; }, {"min_p", "-0.25"}},
      {[](SamplerParams& p) { p.top_k = -3; }, {"top_k", "-3"}},
      {[](SamplerParams& p) { p.repeat_penalty = 0.0f; }, {"repeat_penalty", "= 0,"}},
      {[](SamplerParams& p) { p.repeat_penalty = -1.0f; }, {"repeat_penalty", "-1"}},
      {[](SamplerParams& p) { p.repeat_last_n = -1; }, {"repeat_last_n", "-1"}},
  };
  for (const Case& c : cases) {
    SamplerParams params;
    c.edit(params);
    expect_error([&] { Sampler(10, params); }, c.fragments);
  }
  expect_error([] { Sampler(0, SamplerParams{}); }, {"vocab_size", "0"});
  expect_error([] { Sampler(-5, SamplerParams{}); }, {"vocab_size", "-5"});
}

TEST(SamplerErrors, ValidBoundaryParametersAreAccepted) {
  EXPECT_NO_THROW(Sampler(1, params_with([](SamplerParams& p) { p.temperature = 0; p.top_p = 1; p.min_p = 0; })));
  EXPECT_NO_THROW(Sampler(1, params_with([](SamplerParams& p) { p.top_k = 0; p.repeat_last_n = 0; })));
}

TEST(SamplerErrors, WrongLogitsSize) {
  for (float temperature : {0.0f, 1.0f}) {
    Sampler sampler(10, params_with([&](SamplerParams& p) { p.temperature = temperature; }));
    std::vector<float> short_logits(9, 0.0f);
    expect_error([&] { sampler.sample(short_logits); }, {"logits", "9", "vocab_size = 10"});
    expect_error([&] { sampler.truncated_distribution(short_logits); }, {"logits", "9", "vocab_size = 10"});
  }
}

TEST(SamplerErrors, RecentTokenOutsideVocabulary) {
  Sampler sampler(10, params_with([](SamplerParams& p) { p.repeat_penalty = 1.2f; }));
  std::vector<float> logits = kTen;
  expect_error([&] { sampler.sample(logits, std::vector<int>{1, 2, 10}); }, {"recent token", "index 2", "10", "[0, 10)"});
  expect_error([&] { sampler.sample(logits, std::vector<int>{-1}); }, {"recent token", "index 0", "-1"});
  // The failed call must not leave state behind: the penalty still applies once.
  const std::vector<double> prob = reference_distribution(kTen, sampler.params(), {4});
  for (const TokenProb& t : sampler.truncated_distribution(kTen, std::vector<int>{4})) {
    EXPECT_NEAR(t.prob, prob[t.id], 1e-6);
  }
}

TEST(SamplerErrors, NoFiniteLogit) {
  Sampler sampler(3, params_with([](SamplerParams&) {}));
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> all_minus_inf(3, -inf);
  expect_error([&] { sampler.sample(all_minus_inf); }, {"logits", "finite", "-inf"});
  std::vector<float> plus_inf = {0.0f, inf, 1.0f};
  expect_error([&] { sampler.sample(plus_inf); }, {"logits", "finite", "inf"});
  expect_error([&] { Sampler::top_probs(plus_inf, 2); }, {"logits", "finite"});
  expect_error([] { Sampler::top_probs(std::vector<float>{1.0f}, -1); }, {"top_probs k", "-1"});
  // -inf entries are fine when some logit is finite: they get probability 0.
  std::vector<float> some = {-inf, 0.0f, -inf};
  for (int i = 0; i < 100; i++) EXPECT_EQ(sampler.sample(some), 1);
}

TEST(SamplerErrors, NanLogitsAreNeverPicked) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> logits = {nan, 1.0f, nan, 2.0f, 0.5f, nan};
  Sampler greedy(6, params_with([](SamplerParams& p) { p.temperature = 0; }));
  std::vector<float> copy = logits;
  EXPECT_EQ(greedy.sample(copy), 3);
  for (auto edit : std::vector<std::function<void(SamplerParams&)>>{
           [](SamplerParams&) {}, [](SamplerParams& p) { p.top_k = 2; }, [](SamplerParams& p) { p.top_p = 0.9f; },
           [](SamplerParams& p) { p.min_p = 0.1f; }}) {
    Sampler sampler(6, params_with(edit));
    std::set<int> drawn;
    for (int i = 0; i < 2000; i++) drawn.insert(sampler.sample(copy));
    for (int id : {0, 2, 5}) EXPECT_EQ(drawn.count(id), 0u) << "NaN logit " << id << " was drawn";
    EXPECT_TRUE(drawn.count(3));
  }
  for (const TokenProb& t : Sampler::top_probs(logits, 6)) {
    if (t.id == 0 || t.id == 2 || t.id == 5) {
      EXPECT_EQ(t.prob, 0.0f);
    }
  }
}

}  // namespace
}  // namespace llama2

// Sampler: turns logits into the next token id.
//
// temperature 0 is greedy (argmax, ties to the lowest id). Otherwise the
// pipeline is: repetition penalty -> / temperature -> softmax -> top-k ->
// min-p -> top-p -> renormalize -> draw by inverse CDF with the seeded RNG.
// Each truncation sees the distribution the previous one left, renormalized.
// The repetition penalty also applies in greedy mode (as in llama.cpp), so
// `-t 0 --repeat-penalty 1.3` does what it says.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <utility>
#include <vector>

namespace llama2 {

struct SamplerParams {
  float temperature = 1.0f;     // 0 = greedy (argmax)
  float top_p = 0.9f;           // nucleus: keep the smallest set whose mass reaches top_p; 1 = off
  int top_k = 0;                // keep the k most likely; 0 (or >= vocab_size) = off
  float min_p = 0.0f;           // drop tokens with p < min_p * p_max; 0 = off
  float repeat_penalty = 1.0f;  // >1 discourages tokens seen in the last repeat_last_n; 1 = off
  int repeat_last_n = 64;       // window of the repetition penalty; 0 = off
  std::uint64_t seed = 0;       // RNG seed; same seed, same samples (0 is a valid seed)
};

struct TokenProb {
  int id;
  float prob;
};

class Sampler {
 public:
  // Throws llama2::Error naming the parameter when vocab_size <= 0 or a
  // parameter is out of range (temperature < 0, top_p outside (0, 1],
  // min_p outside [0, 1), top_k < 0, repeat_penalty <= 0, repeat_last_n < 0).
  Sampler(int vocab_size, SamplerParams params);

  const SamplerParams& params() const { return params_; }

  // Picks the next token from `logits` (vocab_size values; left unchanged).
  // `recent` holds the tokens seen so far (for the repetition penalty).
  // Throws llama2::Error when logits.size() != vocab_size, when (with the
  // penalty on) a token in the window is outside [0, vocab_size), or when
  // (temperature > 0) no logit is finite or one is +inf. NaN logits are
  // treated as -inf: never picked.
  // Allocates nothing: works in the candidates_ scratch buffer.
  int sample(std::span<float> logits, std::span<const int> recent = {});

  // The distribution sample() draws from, after all truncations and
  // renormalized (sums to 1), in descending probability, ties by id.
  // Greedy mode gives the single argmax with probability 1. Does not touch
  // the RNG. Throws as sample() does. For tests and the teaching view;
  // allocates the result.
  std::vector<TokenProb> truncated_distribution(std::span<const float> logits, std::span<const int> recent = {});

  // The k most likely next tokens and their probabilities under softmax of
  // logits / temperature (temperature <= 0 is taken as 1): the teaching view.
  // Descending probability, ties by id; k larger than logits.size() gives all.
  // Throws llama2::Error when k < 0.
  static std::vector<TokenProb> top_probs(std::span<const float> logits, int k, float temperature = 1.0f);

  // Deterministic 64-bit RNG (llama2.c's xorshift*), exposed for tests.
  // The state starts at `seed`, as in llama2.c's -s, so a given seed
  // draws the same numbers as llama2.c; seed 0 (xorshift's fixed point,
  // where it would return 0 forever) starts at kZeroSeedState instead.
  std::uint32_t random_u32();
  float random_f32();  // in [0, 1)
  static constexpr std::uint64_t kZeroSeedState = 0x2545F4914F6CDD1Dull;
  // The RNG's state, saved with a session so that a resumed generation draws
  // what an uninterrupted one would. set_rng_state throws llama2::Error on 0
  // (xorshift's fixed point, which no seed produces).
  std::uint64_t rng_state() const { return rng_state_; }
  void set_rng_state(std::uint64_t state);

  // --- sampling controls: what a Session applies to the logits before sample()
  // A logit bias: `bias` is added to token `id`'s logit (-inf bans the token,
  // as llama.cpp's --logit-bias ID-inf); a second call for an id replaces the
  // first. Throws llama2::Error when id is outside [0, vocab_size) or bias is
  // NaN or +inf.
  void set_logit_bias(int id, float bias);
  void clear_logit_bias() { logit_bias_.clear(); }
  const std::vector<std::pair<int, float>>& logit_bias() const { return logit_bias_; }
  // A user function that may edit the logits (vocab_size values) in place;
  // it runs after the bias. Empty: none.
  using LogitsCallback = std::function<void(std::span<float> logits)>;
  void set_logits_callback(LogitsCallback callback) { logits_callback_ = std::move(callback); }
  // Applies the bias, then the callback, to `logits` in place. sample() does
  // not call it (it leaves its logits unchanged); Session does, on its copy.
  // Throws llama2::Error when logits.size() != vocab_size.
  void apply_controls(std::span<float> logits) const;

 private:
  struct Kept {
    int n;        // candidates_[0, n) survive the truncations
    double mass;  // their total (unnormalized) probability
  };
  void check_logits(std::size_t n) const;
  void load_penalized_logits(std::span<const float> logits, std::span<const int> recent);
  Kept truncate(std::span<const float> logits, std::span<const int> recent);
  static Kept top_mass_prefix(TokenProb* c, int n, double target);
  int argmax_penalized(std::span<const float> logits, std::span<const int> recent);

  int vocab_size_;
  SamplerParams params_;
  std::uint64_t rng_state_;
  std::vector<TokenProb> candidates_;  // (vocab_size) scratch: logits, then probabilities
  std::vector<std::uint8_t> seen_;     // (vocab_size) 1 while a token's penalty is being applied
  std::vector<std::pair<int, float>> logit_bias_;  // (id, bias), one entry per id
  LogitsCallback logits_callback_;
};

}  // namespace llama2

// Sampler: logits -> next token id (see include/llama2/sampler.hpp).
//
// Follows llama2.c's sampler (argmax, sample_mult, sample_topp and its
// xorshift* RNG) and adds llama.cpp's repetition penalty, top-k and min-p.
// The hot path allocates nothing: every step works in candidates_, where
// candidates_[i] first holds token i's (penalized) logit, then its softmax
// weight exp((logit - max) / temperature), then is reordered by truncation.
// The weights are never divided by their sum: every step works with
// relative mass, and only truncated_distribution() renormalizes.
#include "llama2/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>

#include "llama2/error.hpp"

namespace llama2 {

namespace {

// The top-p set "reaches" top_p when its mass is within this (relative) amount
// of it, so that a boundary that is exact on paper is not lost to float
// rounding of the probabilities (or of top_p itself, 0.7f != 0.7).
constexpr double kTopPSlack = 1e-6;

template <typename T>
std::string to_text(T value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

template <typename T>
[[noreturn]] void throw_bad_param(const char* name, T value, const char* expected) {
  throw Error(std::string("sampler: ") + name + " = " + to_text(value) + ", expected " + expected);
}

// Descending probability, ties to the lower id: the one order used for top-k,
// top-p and the results, so that equal probabilities truncate deterministically.
bool more_likely(const TokenProb& a, const TokenProb& b) {
  return a.prob > b.prob || (a.prob == b.prob && a.id < b.id);
}

[[noreturn]] void throw_no_finite_max(float max_logit) {
  throw Error("sampler: logits have no finite maximum (max = " + to_text(max_logit) +
              "), expected at least one finite logit and none +inf");
}

}  // namespace

// --- construction -------------------------------------------------------------

Sampler::Sampler(int vocab_size, SamplerParams params) : vocab_size_(vocab_size), params_(params) {
  const SamplerParams& p = params_;
  // Written as !(ok) so that NaN is rejected too.
  if (vocab_size <= 0) throw_bad_param("vocab_size", vocab_size, "a positive number");
  if (!(p.temperature >= 0.0f && std::isfinite(p.temperature)))
    throw_bad_param("temperature", p.temperature, "a finite number >= 0 (0 = greedy)");
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) throw_bad_param("top_p", p.top_p, "a number in (0, 1] (1 = off)");
  if (!(p.min_p >= 0.0f && p.min_p < 1.0f)) throw_bad_param("min_p", p.min_p, "a number in [0, 1) (0 = off)");
  if (p.top_k < 0) throw_bad_param("top_k", p.top_k, "a number >= 0 (0 = off)");
  if (!(p.repeat_penalty > 0.0f && std::isfinite(p.repeat_penalty)))
    throw_bad_param("repeat_penalty", p.repeat_penalty, "a finite number > 0 (1 = off)");
  if (p.repeat_last_n < 0) throw_bad_param("repeat_last_n", p.repeat_last_n, "a number >= 0 (0 = off)");

  // xorshift maps 0 to 0 forever; every other seed is used as is (as llama2.c does).
  rng_state_ = p.seed != 0 ? p.seed : kZeroSeedState;
  candidates_.resize(static_cast<std::size_t>(vocab_size));
  seen_.assign(static_cast<std::size_t>(vocab_size), 0);
}

// --- RNG (llama2.c's xorshift*) -------------------------------------------------

std::uint32_t Sampler::random_u32() {
  rng_state_ ^= rng_state_ >> 12;
  rng_state_ ^= rng_state_ << 25;
  rng_state_ ^= rng_state_ >> 27;
  return static_cast<std::uint32_t>((rng_state_ * 0x2545F4914F6CDD1Dull) >> 32);
}

float Sampler::random_f32() { return static_cast<float>(random_u32() >> 8) / 16777216.0f; }

// --- repetition penalty -----------------------------------------------------------

void Sampler::check_logits(std::size_t n) const {
  if (n != static_cast<std::size_t>(vocab_size_)) {
    throw Error("sampler: logits has " + std::to_string(n) + " values, expected vocab_size = " +
                std::to_string(vocab_size_));
  }
}

// candidates_[i] = {i, logit i}, with the CTRL / llama.cpp repetition penalty
// applied once to each distinct token of the last repeat_last_n of `recent`:
// a positive logit is divided by the penalty, a negative one multiplied, so a
// penalty > 1 always makes the token less likely.
void Sampler::load_penalized_logits(std::span<const float> logits, std::span<const int> recent) {
  TokenProb* c = candidates_.data();  // (vocab_size)
  for (int i = 0; i < vocab_size_; i++) c[i] = {i, logits[static_cast<std::size_t>(i)]};

  const std::size_t last_n = static_cast<std::size_t>(params_.repeat_last_n);
  if (params_.repeat_penalty == 1.0f || last_n == 0 || recent.empty()) return;
  const std::size_t start = recent.size() > last_n ? recent.size() - last_n : 0;
  const std::span<const int> window = recent.subspan(start);
  for (std::size_t j = 0; j < window.size(); j++) {
    if (window[j] < 0 || window[j] >= vocab_size_) {
      throw Error("sampler: recent token at index " + std::to_string(start + j) + " = " +
                  std::to_string(window[j]) + ", expected a token id in [0, " + std::to_string(vocab_size_) + ")");
    }
  }
  const float penalty = params_.repeat_penalty;
  for (int id : window) {
    if (seen_[static_cast<std::size_t>(id)]) continue;  // penalize each distinct token once
    seen_[static_cast<std::size_t>(id)] = 1;
    float& logit = c[id].prob;
    logit = logit > 0.0f ? logit / penalty : logit * penalty;
  }
  for (int id : window) seen_[static_cast<std::size_t>(id)] = 0;
}

// --- greedy -------------------------------------------------------------------------

// Argmax of the penalized logits; the first (lowest id) of equal maxima wins.
int Sampler::argmax_penalized(std::span<const float> logits, std::span<const int> recent) {
  const bool penalized = params_.repeat_penalty != 1.0f && params_.repeat_last_n > 0 && !recent.empty();
  int best = 0;
  if (!penalized) {  // the common case: no copy
    for (int i = 1; i < vocab_size_; i++) {
      if (logits[static_cast<std::size_t>(i)] > logits[static_cast<std::size_t>(best)]) best = i;
    }
    return best;
  }
  load_penalized_logits(logits, recent);
  for (int i = 1; i < vocab_size_; i++) {
    if (candidates_[static_cast<std::size_t>(i)].prob > candidates_[static_cast<std::size_t>(best)].prob) best = i;
  }
  return best;
}

// --- softmax and truncations ----------------------------------------------------------

// Leaves the surviving candidates in candidates_[0, n) with their unnormalized
// softmax weights. Order: id order when nothing truncates (llama2.c's
// sample_mult), descending probability after top-p (llama2.c's sample_topp),
// otherwise whatever top-k / min-p left (the draw does not care).
Sampler::Kept Sampler::truncate(std::span<const float> logits, std::span<const int> recent) {
  load_penalized_logits(logits, recent);
  TokenProb* c = candidates_.data();  // (vocab_size)
  int n = vocab_size_;

  // Softmax weights, numerically stable: subtract the max before dividing by
  // the temperature, so a tiny temperature cannot overflow. NaN logits get 0.
  float max_logit = -std::numeric_limits<float>::infinity();
  for (int i = 0; i < n; i++) max_logit = c[i].prob > max_logit ? c[i].prob : max_logit;
  if (!std::isfinite(max_logit)) throw_no_finite_max(max_logit);
  const float temperature = params_.temperature;
  double mass = 0.0;
  for (int i = 0; i < n; i++) {
    float p = std::exp((c[i].prob - max_logit) / temperature);
    if (!(p >= 0.0f)) p = 0.0f;
    c[i].prob = p;
    mass += p;
  }

  // top-k: nth_element puts the k most likely first, in no particular order.
  const int top_k = params_.top_k;
  if (top_k > 0 && top_k < n) {
    std::nth_element(c, c + top_k, c + n, more_likely);
    n = top_k;
    mass = 0.0;
    for (int i = 0; i < n; i++) mass += c[i].prob;
  }

  // min-p: keep p >= min_p * p_max (a stable in-place filter).
  if (params_.min_p > 0.0f) {
    float p_max = 0.0f;
    for (int i = 0; i < n; i++) p_max = std::max(p_max, c[i].prob);
    const float threshold = params_.min_p * p_max;
    int kept = 0;
    mass = 0.0;
    for (int i = 0; i < n; i++) {
      if (c[i].prob >= threshold) {
        mass += c[i].prob;
        c[kept++] = c[i];
      }
    }
    n = kept;
  }

  // top-p: the smallest most-likely-first prefix whose mass reaches top_p.
  const double top_p = params_.top_p;
  if (top_p < 1.0 && n > 1) {
    const double target = (top_p - kTopPSlack) * mass;
    // llama2.c's trick, exact: a token with p < (1 - top_p) / (n - 1) can
    // never be needed, because all such tokens together hold less than
    // 1 - top_p, so the others already reach top_p. That leaves a handful to
    // sort instead of the whole vocabulary.
    const float cutoff = static_cast<float>((1.0 - top_p) * mass / (n - 1));
    TokenProb* end = std::partition(c, c + n, [cutoff](const TokenProb& t) { return t.prob >= cutoff; });
    std::sort(c, end, more_likely);
    double cumulative = 0.0;
    int i = 0;
    for (;;) {
      for (; c + i < end; i++) {
        cumulative += c[i].prob;
        if (cumulative > top_p * mass) return {i + 1, cumulative};
      }
      // Only when nothing passed the cutoff (n * top_p < 1) or rounding ate
      // the margin: the dropped tokens all rank below the kept ones, so
      // sorting them and continuing keeps the prefix exact.
      if (end == c + n) break;
      std::sort(end, c + n, more_likely);
      end = c + n;
    }
    return {n, cumulative};
  }
  return {n, mass};
}

// --- public -------------------------------------------------------------------------

int Sampler::sample(std::span<float> logits, std::span<const int> recent) {
  check_logits(logits.size());
  if (params_.temperature == 0.0f) return argmax_penalized(logits, recent);

  const Kept kept = truncate(logits, recent);
  // Inverse CDF: the first candidate whose cumulative mass exceeds coin * mass.
  const double r = static_cast<double>(random_f32()) * kept.mass;
  double cdf = 0.0;
  for (int i = 0; i < kept.n; i++) {
    cdf += candidates_[static_cast<std::size_t>(i)].prob;
    if (r < cdf) return candidates_[static_cast<std::size_t>(i)].id;
  }
  return candidates_[static_cast<std::size_t>(kept.n - 1)].id;  // in case of rounding errors
}

std::vector<TokenProb> Sampler::truncated_distribution(std::span<const float> logits, std::span<const int> recent) {
  check_logits(logits.size());
  if (params_.temperature == 0.0f) return {{argmax_penalized(logits, recent), 1.0f}};

  const Kept kept = truncate(logits, recent);
  std::vector<TokenProb> out(candidates_.begin(), candidates_.begin() + kept.n);
  for (TokenProb& t : out) t.prob = static_cast<float>(t.prob / kept.mass);
  std::sort(out.begin(), out.end(), more_likely);
  return out;
}

std::vector<TokenProb> Sampler::top_probs(std::span<const float> logits, int k, float temperature) {
  if (k < 0) throw_bad_param("top_probs k", k, "a number >= 0");
  if (!(temperature > 0.0f && std::isfinite(temperature))) temperature = 1.0f;
  const std::size_t n = logits.size();
  const std::size_t count = std::min(static_cast<std::size_t>(k), n);
  if (count == 0) return {};

  float max_logit = -std::numeric_limits<float>::infinity();
  for (float l : logits) max_logit = l > max_logit ? l : max_logit;
  if (!std::isfinite(max_logit)) throw_no_finite_max(max_logit);
  std::vector<TokenProb> all(n);  // (n)
  double sum = 0.0;
  for (std::size_t i = 0; i < n; i++) {
    float p = std::exp((logits[i] - max_logit) / temperature);
    if (!(p >= 0.0f)) p = 0.0f;
    all[i] = {static_cast<int>(i), p};
    sum += p;
  }
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(count), all.end(), more_likely);
  all.resize(count);
  for (TokenProb& t : all) t.prob = static_cast<float>(t.prob / sum);
  return all;
}

}  // namespace llama2

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

// The top-p set "reaches" top_p when its mass is within this relative amount
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
// (A lambda, not a function, so that std::sort can inline it.) The same
// order serves for logits, before the softmax.
constexpr auto more_likely = [](const TokenProb& a, const TokenProb& b) {
  return a.prob > b.prob || (a.prob == b.prob && a.id < b.id);
};

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
  // NaN logits become -inf (probability 0): sort comparators need an order.
  TokenProb* c = candidates_.data();  // (vocab_size)
  constexpr float kMinusInf = -std::numeric_limits<float>::infinity();
  for (int i = 0; i < vocab_size_; i++) {
    const float logit = logits[static_cast<std::size_t>(i)];
    c[i] = {i, std::isnan(logit) ? kMinusInf : logit};
  }

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
    float best_logit = -std::numeric_limits<float>::infinity();  // so that NaN never wins
    for (int i = 0; i < vocab_size_; i++) {
      const float logit = logits[static_cast<std::size_t>(i)];
      if (logit > best_logit) {
        best_logit = logit;
        best = i;
      }
    }
    return best;
  }
  load_penalized_logits(logits, recent);
  float best_logit = -std::numeric_limits<float>::infinity();
  for (int i = 0; i < vocab_size_; i++) {
    const float logit = candidates_[static_cast<std::size_t>(i)].prob;
    if (logit > best_logit) {
      best_logit = logit;
      best = i;
    }
  }
  return best;
}

// --- softmax and truncations ----------------------------------------------------------

// Moves to c[0, length) the smallest prefix, in more_likely order, of c[0, n)
// whose mass reaches `target`, and returns its length and mass (all of c when
// even the whole falls short, which only rounding can cause). A weighted
// quickselect: nth_element halves the range each round, so this is O(n)
// where sorting would be O(n log n); only the last few are sorted.
Sampler::Kept Sampler::top_mass_prefix(TokenProb* c, int n, double target) {
  int lo = 0;          // c[0, lo) is in the prefix...
  double above = 0.0;  // ...with this mass, which is < target
  int hi = n;          // and the prefix's last token is in c[lo, hi)
  while (hi - lo > 32) {
    TokenProb* mid = c + lo + (hi - lo) / 2;
    std::nth_element(c + lo, mid, c + hi, more_likely);  // c[lo, mid) rank above c[mid, hi)
    double upper = 0.0;
    for (TokenProb* t = c + lo; t < mid; ++t) upper += t->prob;
    if (above + upper >= target) {
      hi = static_cast<int>(mid - c);
    } else {
      above += upper;
      lo = static_cast<int>(mid - c);
    }
  }
  std::sort(c + lo, c + hi, more_likely);
  for (int i = lo; i < hi; i++) {
    above += c[i].prob;
    if (above >= target) return {i + 1, above};
  }
  return {hi, above};
}

// Leaves the surviving candidates in candidates_[0, n) with their unnormalized
// softmax weights exp((logit - max) / temperature). Order: id order when
// nothing truncates (as llama2.c's sample_mult), otherwise whatever the
// truncations left (the draw does not care; truncated_distribution sorts).
//
// top-k and min-p only compare probabilities with each other, and exp is
// monotonic, so they run on the logits, before the softmax: then only their
// survivors need an exp, not the whole vocabulary (their full-vocabulary mass
// is never needed, since each truncation renormalizes).
Sampler::Kept Sampler::truncate(std::span<const float> logits, std::span<const int> recent) {
  load_penalized_logits(logits, recent);
  TokenProb* c = candidates_.data();  // (vocab_size)
  int n = vocab_size_;

  float max_logit = -std::numeric_limits<float>::infinity();
  for (int i = 0; i < n; i++) max_logit = c[i].prob > max_logit ? c[i].prob : max_logit;
  if (!std::isfinite(max_logit)) throw_no_finite_max(max_logit);
  const float temperature = params_.temperature;

  // top-k: nth_element puts the k largest logits first, in no particular order.
  const int top_k = params_.top_k;
  if (top_k > 0 && top_k < n) {
    std::nth_element(c, c + top_k, c + n, more_likely);
    n = top_k;
  }

  // min-p: p < min_p * p_max  <=>  (logit - max) / temperature < log(min_p).
  // A stable in-place filter; the max itself always stays (log(min_p) < 0).
  if (params_.min_p > 0.0f) {
    const float threshold = max_logit + temperature * std::log(params_.min_p);
    int kept = 0;
    for (int i = 0; i < n; i++) {
      if (c[i].prob >= threshold) c[kept++] = c[i];
    }
    n = kept;
  }

  // Softmax weights, numerically stable: subtract the max before dividing by
  // the temperature, so a tiny temperature cannot overflow.
  double mass = 0.0;
  for (int i = 0; i < n; i++) {
    c[i].prob = std::exp((c[i].prob - max_logit) / temperature);
    mass += c[i].prob;
  }

  // top-p: the smallest most-likely-first prefix whose mass reaches top_p.
  const double top_p = params_.top_p;
  if (top_p < 1.0 && n > 1) {
    const double target = top_p * (1.0 - kTopPSlack) * mass;  // > 0
    // llama2.c's trick, exact: a token with p < (1 - top_p) / (n - 1) can
    // never be needed, because all such tokens together hold less than
    // 1 - top_p, so the others already reach top_p. One cheap pass leaves
    // the selection below a fraction of the vocabulary (a small one when
    // the distribution is peaked, as it usually is).
    const float cutoff = static_cast<float>((1.0 - top_p) * mass / (n - 1));
    TokenProb* end = std::partition(c, c + n, [cutoff](const TokenProb& t) { return t.prob >= cutoff; });
    const int n_cut = static_cast<int>(end - c);
    double cut_mass = 0.0;
    for (int i = 0; i < n_cut; i++) cut_mass += c[i].prob;
    if (cut_mass >= target) return top_mass_prefix(c, n_cut, target);
    // Only when nothing passed the cutoff (n * top_p < 1) or rounding ate the
    // margin: the dropped tokens all rank below the kept ones, so the prefix
    // continues into them.
    const Kept rest = top_mass_prefix(end, n - n_cut, target - cut_mass);
    return {n_cut + rest.n, cut_mass + rest.mass};
  }
  return {n, mass};
}

// --- sampling controls ---------------------------------------------------------------

void Sampler::set_rng_state(std::uint64_t state) {
  if (state == 0) throw Error("sampler RNG state 0 is xorshift's fixed point; no seed produces it");
  rng_state_ = state;
}

void Sampler::set_logit_bias(int id, float bias) {
  if (id < 0 || id >= vocab_size_) throw_bad_param("logit bias token id", id, "an id in [0, vocab_size)");
  if (std::isnan(bias) || bias == INFINITY) throw_bad_param("logit bias", bias, "a number or -inf (bans the token)");
  for (auto& [known, b] : logit_bias_) {
    if (known == id) {
      b = bias;
      return;
    }
  }
  logit_bias_.emplace_back(id, bias);
}

void Sampler::apply_controls(std::span<float> logits) const {
  check_logits(logits.size());
  for (const auto& [id, bias] : logit_bias_) logits[std::size_t(id)] += bias;
  if (logits_callback_) logits_callback_(logits);
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

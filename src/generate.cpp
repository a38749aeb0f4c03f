// The generation and chat loops (llama2.c run.c's generate() and chat()),
// streaming text through callbacks. See generate.hpp for the semantics.
#include "llama2/generate.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <span>
#include <string>
#include <utility>

#include "llama2/error.hpp"

namespace llama2 {

namespace {

using Clock = std::chrono::steady_clock;

void check_vocab(const Transformer& transformer, const Tokenizer& tokenizer) {
  if (tokenizer.vocab_size() != transformer.config().vocab_size) {
    throw Error("the tokenizer has " + std::to_string(tokenizer.vocab_size()) + " pieces but the model " +
                transformer.model().path() + " has vocab_size " + std::to_string(transformer.config().vocab_size));
  }
}

// The text llama2.c prints for `token` after `prev`: decode(), then its
// safe_printf rule: a single-byte piece that is a control character is
// dropped. Bytes >= 0x80 are kept (they are parts of UTF-8 characters).
std::string printable_piece(const Tokenizer& tokenizer, int prev, int token) {
  std::string piece = tokenizer.decode(prev, token);
  if (piece.size() == 1) {
    const auto c = static_cast<unsigned char>(piece[0]);
    if (c < 0x80 && !(std::isprint(c) || std::isspace(c))) return {};
  }
  return piece;
}

bool is_blank(std::string_view s) {
  for (char c : s) {
    if (!std::isspace(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Python's str.strip() for ASCII white space.
std::string_view strip(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// What generate() and chat() share: running positions, sampling, streaming
// text and keeping the stats.
class Session {
 public:
  Session(Transformer& transformer, const Tokenizer& tokenizer, Sampler& sampler, const TextCallback& on_text,
          const ProbsCallback& on_probs, int probs_k)
      : transformer_(transformer),
        tokenizer_(tokenizer),
        sampler_(sampler),
        on_text_(on_text),
        on_probs_(on_probs),
        probs_k_(probs_k),
        logits_(std::size_t(transformer.config().vocab_size)) {}

  GenerateStats stats;

  // Runs `token` at the next position; its logits are kept for sample().
  void forward(int token) { feed(std::span<const int>(&token, 1), /*known=*/false); }

  // Runs known tokens (a prompt, a chat turn) at the next positions as one
  // batch: each weight matrix is read once per chunk of tokens instead of
  // once per token (Transformer::forward_batch). The logits after the last
  // one are kept for sample(). A single token takes forward() itself.
  void feed_known(std::span<const int> tokens) {
    if (!tokens.empty()) feed(tokens, /*known=*/true);
  }

  // Samples the token that follows `prev` (the token forward() ran last).
  int sample(int prev) {
    if (probs_k_ > 0 && on_probs_) {
      on_probs_(prev, Sampler::top_probs(logits_, probs_k_, sampler_.params().temperature));
    }
    stats.generated_tokens++;
    return sampler_.sample(logits_, stats.tokens);
  }

  // Streams the text of `token` after `prev`.
  void emit(int prev, int token) {
    std::string text = utf8_.push(printable_piece(tokenizer_, prev, token));
    if (strip_leading_space_) {
      std::size_t n = text.find_first_not_of(' ');
      text.erase(0, n == std::string::npos ? text.size() : n);
      if (!text.empty()) strip_leading_space_ = false;
    }
    if (!text.empty()) on_text_(text);
  }
  // Ends a stream of text: whatever bytes are still held go out.
  void flush() {
    std::string rest = utf8_.flush();
    if (!rest.empty()) on_text_(rest);
  }
  // The next emitted text loses its leading spaces (the start of a chat answer).
  void strip_leading_space() { strip_leading_space_ = true; }

  // Time spent outside (in read_turn) does not count as generation time.
  // Before the first forward call no clock runs yet: that wait counts nowhere.
  void exclude_time(Clock::duration d) {
    if (stats.positions > 0) excluded_ += d;
  }

  GenerateStats finish(StopReason stop) {
    flush();
    stats.stop = stop;
    if (stats.positions > 0) {
      const Clock::time_point now = Clock::now();
      stats.seconds = seconds(now - first_done_ - excluded_);
      const int timed = stats.positions - first_positions_;
      if (timed > 0 && stats.seconds > 0) stats.tokens_per_second = timed / stats.seconds;
      stats.generation_seconds = std::max(0.0, seconds(now - started_ - excluded_) - stats.prompt_seconds);
    }
    return std::move(stats);
  }

 private:
  Transformer& transformer_;
  const Tokenizer& tokenizer_;
  Sampler& sampler_;
  const TextCallback& on_text_;
  const ProbsCallback& on_probs_;
  int probs_k_;
  std::vector<float> logits_;  // (vocab_size) copy of the last logits, for the sampler
  static double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

  void feed(std::span<const int> tokens, bool known) {
    const Clock::time_point t0 = Clock::now();
    if (stats.positions == 0) started_ = t0;
    auto logits = tokens.size() == 1 ? transformer_.forward(tokens[0], stats.positions)
                                     : transformer_.forward_batch(tokens, stats.positions);
    logits_.assign(logits.begin(), logits.end());
    const bool first = stats.positions == 0;
    stats.positions += static_cast<int>(tokens.size());
    const Clock::time_point t1 = Clock::now();
    if (known) stats.prompt_seconds += seconds(t1 - t0);
    // As llama2.c, tokens_per_second times what follows the first forward
    // call (the first position, or the whole prompt when it is a batch).
    if (first) {
      first_done_ = t1;
      first_positions_ = stats.positions;
    }
  }

  Utf8Stream utf8_;
  bool strip_leading_space_ = false;
  Clock::time_point started_;     // the start of the first forward call
  Clock::time_point first_done_;  // the end of the first forward call
  int first_positions_ = 0;       // positions run by the first forward call
  Clock::duration excluded_{};    // time in read_turn since the first forward call
};

}  // namespace

std::string_view stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::EOS: return "EOS";
    case StopReason::BOS: return "BOS";
    case StopReason::STEPS: return "steps";
    case StopReason::CONTEXT: return "context";
    case StopReason::END_OF_INPUT: return "end of input";
  }
  return "?";
}

int resolve_steps(const Transformer& transformer, int steps) {
  const int context = transformer.config().seq_len;
  if (steps < 0) throw Error("steps = " + std::to_string(steps) + ", expected >= 0 (0: the whole context)");
  if (steps > context) {
    throw Error("steps = " + std::to_string(steps) + " is larger than the context of " + std::to_string(context) +
                " positions");
  }
  return steps == 0 ? context : steps;
}

// --- generate ----------------------------------------------------------------------

GenerateStats generate(Transformer& transformer, const Tokenizer& tokenizer, Sampler& sampler, std::string_view prompt,
                       int steps, const TextCallback& on_text, const ProbsCallback& on_probs, int probs_k) {
  check_vocab(transformer, tokenizer);
  const int limit = resolve_steps(transformer, steps);
  const int context = transformer.config().seq_len;
  Session s(transformer, tokenizer, sampler, on_text, on_probs, probs_k);
  s.stats.tokens = tokenizer.encode(prompt, /*bos=*/true, /*eos=*/false);
  const int n_prompt = static_cast<int>(s.stats.tokens.size());
  s.stats.prompt_tokens = n_prompt;
  if (n_prompt > context) {
    throw Error("the prompt is " + std::to_string(n_prompt) + " tokens (BOS included), longer than the context of " +
                std::to_string(context) + " positions");
  }
  if (n_prompt > limit) {
    throw Error("the prompt is " + std::to_string(n_prompt) + " tokens (BOS included), more than steps = " +
                std::to_string(limit) + " positions");
  }

  // As llama2.c: position pos runs tokens[pos], and the text of each token
  // is streamed after the one before it, the prompt's first. The prompt is
  // known, so its text goes out at once and its positions run as one batch;
  // then each sample is fed back at the next position until a stop.
  for (int i = 0; i + 1 < n_prompt; i++) s.emit(s.stats.tokens[std::size_t(i)], s.stats.tokens[std::size_t(i) + 1]);
  s.feed_known(s.stats.tokens);
  for (int prev = s.stats.tokens.back();;) {
    const int next = s.sample(prev);
    if (next == tokenizer.eos_id()) return s.finish(StopReason::EOS);
    if (next == tokenizer.bos_id()) return s.finish(StopReason::BOS);
    s.stats.tokens.push_back(next);
    s.emit(prev, next);
    if (s.stats.positions >= limit) break;
    s.forward(next);
    prev = next;
  }
  return s.finish(limit == context ? StopReason::CONTEXT : StopReason::STEPS);
}

// --- chat ----------------------------------------------------------------------------

std::string chat_turn_text(std::string_view user, std::string_view system) {
  // Meta: B_SYS + system + E_SYS + user, then f"{B_INST} {content.strip()} {E_INST}".
  std::string content;
  if (!system.empty()) content = "<<SYS>>\n" + std::string(system) + "\n<</SYS>>\n\n";
  content += user;
  return "[INST] " + std::string(strip(content)) + " [/INST]";
}

std::vector<int> chat_turn_tokens(const Tokenizer& tokenizer, std::string_view user, std::string_view system) {
  return tokenizer.encode(chat_turn_text(user, system), /*bos=*/true, /*eos=*/false);
}

GenerateStats chat(Transformer& transformer, const Tokenizer& tokenizer, Sampler& sampler,
                   std::string_view system_prompt, int steps, const ReadTurnCallback& read_turn,
                   const TextCallback& on_text, const ProbsCallback& on_probs, int probs_k) {
  check_vocab(transformer, tokenizer);
  const int limit = resolve_steps(transformer, steps);
  const int context = transformer.config().seq_len;
  const StopReason full = limit == context ? StopReason::CONTEXT : StopReason::STEPS;
  Session s(transformer, tokenizer, sampler, on_text, on_probs, probs_k);
  GenerateStats& stats = s.stats;

  for (bool first = true;; first = false) {
    // The next non-blank user turn, or the end of the conversation.
    std::string user;
    bool have_turn = false;
    const auto asked = Clock::now();
    while (!have_turn && read_turn(user)) have_turn = !is_blank(user);
    s.exclude_time(Clock::now() - asked);
    if (!have_turn) return s.finish(StopReason::END_OF_INPUT);

    // The EOS that closed the previous answer (already in stats.tokens) is
    // fed together with this turn, which must fit with room for one answer token.
    std::vector<int> turn = chat_turn_tokens(tokenizer, user, first ? system_prompt : std::string_view{});
    const int n_feed = static_cast<int>(turn.size()) + (first ? 0 : 1);
    if (stats.positions + n_feed > limit) {
      if (first) {
        throw Error("the first chat turn is " + std::to_string(turn.size()) +
                    " tokens (system prompt and template included), more than the " + std::to_string(limit) +
                    " positions available");
      }
      stats.unfit_turn_tokens = static_cast<int>(turn.size());
      return s.finish(full);
    }
    // The turn (after the EOS that closed the last answer) as one batch.
    std::vector<int> feed;
    if (!first) feed.push_back(tokenizer.eos_id());
    feed.insert(feed.end(), turn.begin(), turn.end());
    s.feed_known(feed);
    stats.tokens.insert(stats.tokens.end(), turn.begin(), turn.end());
    stats.prompt_tokens += static_cast<int>(turn.size());

    // The answer: sample until EOS/BOS; each token is fed before the next
    // one is sampled, so the cache always holds the whole conversation.
    s.strip_leading_space();
    int prev = turn.back();
    for (;;) {
      const int next = s.sample(prev);
      if (next == tokenizer.eos_id() || next == tokenizer.bos_id()) {
        stats.tokens.push_back(tokenizer.eos_id());  // Meta's format closes every answer with EOS
        s.flush();
        break;
      }
      stats.tokens.push_back(next);
      s.emit(prev, next);
      if (stats.positions >= limit) return s.finish(full);
      s.forward(next);
      prev = next;
    }
  }
}

}  // namespace llama2

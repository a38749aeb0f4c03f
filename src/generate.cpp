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

// Streams each generated piece of text (the final flush too) to on_text.
TokenCallback stream_to(const TextCallback& on_text) {
  return [&on_text](int, std::string_view text) {
    if (!text.empty()) on_text(text);
    return true;
  };
}

// Throws unless n_prompt tokens fit in the context and in `limit` positions;
// `what` begins the message ("the prompt is ").
void check_fits(std::size_t n_prompt, int context, int limit, const std::string& what) {
  if (n_prompt > std::size_t(context)) {
    throw Error(what + std::to_string(n_prompt) + " tokens (BOS included), longer than the context of " +
                std::to_string(context) + " positions");
  }
  if (n_prompt > std::size_t(limit)) {
    throw Error(what + std::to_string(n_prompt) + " tokens (BOS included), more than steps = " +
                std::to_string(limit) + " positions");
  }
}

// The positions a run of `steps` may use in `context` positions (resolve_steps).
int steps_limit(int steps, int context) {
  if (steps < 0) throw Error("steps = " + std::to_string(steps) + ", expected >= 0 (0: the whole context)");
  if (steps > context) {
    throw Error("steps = " + std::to_string(steps) + " is larger than the context of " + std::to_string(context) +
                " positions");
  }
  return steps == 0 ? context : steps;
}

}  // namespace

int resolve_steps(const Transformer& transformer, int steps) {
  return steps_limit(steps, transformer.config().seq_len);
}

// --- generate ----------------------------------------------------------------------

GenerateStats generate(Transformer& transformer, const Tokenizer& tokenizer, Sampler& sampler, std::string_view prompt,
                       int steps, const TextCallback& on_text, const ProbsCallback& on_probs, int probs_k) {
  Session session(transformer, tokenizer, sampler);
  return generate(session, prompt, steps, on_text, {}, on_probs, probs_k);
}

void check_prompt_fits(const Tokenizer& tokenizer, std::string_view prompt, int context, int steps) {
  if (context <= 0) throw Error("context = " + std::to_string(context) + ", expected > 0");
  check_fits(tokenizer.encode(prompt, /*bos=*/true, /*eos=*/false).size(), context, steps_limit(steps, context),
             "the prompt is ");
}

GenerateStats generate(Session& s, std::string_view prompt, int steps, const TextCallback& on_text,
                       const std::vector<std::string>& stop, const ProbsCallback& on_probs, int probs_k) {
  const int limit = resolve_steps(s.transformer(), steps);
  const int context = s.context();
  const bool fresh = s.tokens().empty();
  std::vector<int> added;
  if (fresh || !prompt.empty()) added = s.tokenizer().encode(prompt, /*bos=*/fresh, /*eos=*/false);
  check_fits(s.tokens().size() + added.size(), context, limit,
             fresh ? "the prompt is " : "the session and the prompt are ");

  // As llama2.c: position pos runs tokens[pos], and the text of each token
  // is streamed after the one before it, the prompt's first. The prompt is
  // known, so its text goes out at once and its positions run as one batch;
  // then each sample is fed back at the next position until a stop.
  for (std::size_t i = 0; i < added.size(); i++) {
    if (i == 0 && fresh) continue;  // BOS: nothing before it
    const std::string text = s.stream_text(i == 0 ? s.tokens().back() : added[i - 1], added[i]);
    if (!text.empty()) on_text(text);
  }
  if (!s.append_tokens(added)) return s.finish(StopReason::CANCELLED);
  GenerateOptions options{.max_positions = limit, .stop = stop, .on_probs = on_probs, .probs_k = probs_k};
  return s.finish(s.generate(options, stream_to(on_text)));
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
  Session session(transformer, tokenizer, sampler);
  return chat(session, system_prompt, steps, read_turn, on_text, {}, on_probs, probs_k);
}

GenerateStats chat(Session& s, std::string_view system_prompt, int steps, const ReadTurnCallback& read_turn,
                   const TextCallback& on_text, const std::vector<std::string>& stop, const ProbsCallback& on_probs,
                   int probs_k) {
  const int limit = resolve_steps(s.transformer(), steps);
  const StopReason full = limit == s.context() ? StopReason::CONTEXT : StopReason::STEPS;
  const int eos = s.tokenizer().eos_id();

  for (bool first = s.tokens().empty();; first = false) {
    // The next non-blank user turn, or the end of the conversation.
    std::string user;
    bool have_turn = false;
    const auto asked = Clock::now();
    while (!have_turn && read_turn(user)) have_turn = !is_blank(user);
    s.exclude_time(Clock::now() - asked);
    if (!have_turn) return s.finish(StopReason::END_OF_INPUT);

    // The EOS that closed the previous answer (pending in the session) runs
    // together with this turn, which must fit with room for one answer token.
    std::vector<int> turn = chat_turn_tokens(s.tokenizer(), user, first ? system_prompt : std::string_view{});
    if (s.tokens().size() + turn.size() > std::size_t(limit)) {
      if (first) {
        throw Error("the first chat turn is " + std::to_string(turn.size()) +
                    " tokens (system prompt and template included), more than the " + std::to_string(limit) +
                    " positions available");
      }
      s.stats().unfit_turn_tokens = static_cast<int>(turn.size());
      return s.finish(full);
    }
    // The conversation so far plus the turn: only the new tokens run.
    std::vector<int> conversation = s.tokens();
    conversation.insert(conversation.end(), turn.begin(), turn.end());
    if (!s.set_tokens(conversation)) return s.finish(StopReason::CANCELLED);

    // The answer: sampled until EOS/BOS or a stop string; the cache always
    // holds the whole conversation. EOS closes every answer (Meta's format).
    s.strip_leading_space();
    GenerateOptions options{.max_positions = limit, .stop = stop, .on_probs = on_probs, .probs_k = probs_k};
    const StopReason reason = s.generate(options, stream_to(on_text));
    if (reason == StopReason::EOS || reason == StopReason::BOS || reason == StopReason::STOP_STRING) {
      s.accept(eos);
      continue;
    }
    return s.finish(reason == StopReason::CONTEXT || reason == StopReason::STEPS ? full : reason);
  }
}

}  // namespace llama2

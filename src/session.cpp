// Session (session.hpp): the sequence, the lazy running of its tokens,
// sampling with the sampler's controls, and the generation loop with stop
// strings, a budget and cancellation. Saving and loading: session_state.cpp.
#include "llama2/session.hpp"

#include <algorithm>
#include <cctype>
#include <string>

#include "llama2/error.hpp"
#include "llama2/stop_strings.hpp"

namespace llama2 {

namespace {

double seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

void check_vocab(const Config& config, const Tokenizer& tokenizer, const std::string& model_path) {
  if (tokenizer.vocab_size() != config.vocab_size) {
    throw Error("the tokenizer has " + std::to_string(tokenizer.vocab_size()) + " pieces but the model " +
                model_path + " has vocab_size " + std::to_string(config.vocab_size));
  }
}

void check_chunk(int prompt_chunk) {
  if (prompt_chunk < 1) throw Error("session: prompt_chunk = " + std::to_string(prompt_chunk) + ", expected >= 1");
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

}  // namespace

std::string_view stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::EOS: return "EOS";
    case StopReason::BOS: return "BOS";
    case StopReason::STEPS: return "steps";
    case StopReason::CONTEXT: return "context";
    case StopReason::END_OF_INPUT: return "end of input";
    case StopReason::STOP_STRING: return "stop string";
    case StopReason::CALLBACK: return "callback";
    case StopReason::CANCELLED: return "cancelled";
  }
  return "?";
}

// --- construction ----------------------------------------------------------------------

Session::Session(std::shared_ptr<const Model> model, std::shared_ptr<const Tokenizer> tokenizer, SessionParams params)
    : own_tokenizer_(std::move(tokenizer)), prompt_chunk_(params.prompt_chunk) {
  if (!model) throw Error("session: no model (null shared_ptr)");
  if (!own_tokenizer_) throw Error("session: no tokenizer (null shared_ptr)");
  check_chunk(prompt_chunk_);
  check_vocab(model->config(), *own_tokenizer_, model->path());
  own_transformer_ = std::make_unique<Transformer>(std::move(model), params.n_threads, params.context, params.kv_type);
  own_sampler_ = std::make_unique<Sampler>(own_transformer_->config().vocab_size, params.sampling);
  transformer_ = own_transformer_.get();
  tokenizer_ = own_tokenizer_.get();
  sampler_ = own_sampler_.get();
  logits_.resize(std::size_t(config().vocab_size));
}

Session::Session(Transformer& transformer, const Tokenizer& tokenizer, Sampler& sampler, int prompt_chunk)
    : transformer_(&transformer), tokenizer_(&tokenizer), sampler_(&sampler), prompt_chunk_(prompt_chunk) {
  check_chunk(prompt_chunk_);
  check_vocab(transformer.config(), tokenizer, transformer.model().path());
  logits_.resize(std::size_t(config().vocab_size));
}

Session::~Session() = default;

// --- running tokens --------------------------------------------------------------------

// Runs the pending tokens tokens()[n_past, size): one alone with forward(),
// more as batches of prompt_chunk with forward_batch. Returns false if
// cancelled between chunks.
bool Session::run_pending() {
  const std::vector<int>& seq = stats_.tokens;
  if (seq.size() > std::size_t(context())) {
    throw Error("the sequence is " + std::to_string(seq.size()) + " tokens, more than the context of " +
                std::to_string(context()) + " positions");
  }
  while (std::size_t(n_past_) < seq.size()) {
    if (take_cancel()) return false;
    const std::size_t n = std::min(seq.size() - std::size_t(n_past_), std::size_t(prompt_chunk_));
    const std::span<const int> chunk(seq.data() + n_past_, n);
    const Clock::time_point t0 = Clock::now();
    if (!timing_) started_ = t0;
    auto out = n == 1 ? transformer_->forward(chunk[0], n_past_) : transformer_->forward_batch(chunk, n_past_);
    logits_.assign(out.begin(), out.end());
    n_past_ += int(n);
    positions_run_ += std::int64_t(n);
    logits_pos_ = n_past_ - 1;
    stats_.positions = n_past_;
    // As llama2.c, tokens_per_second times what follows the first forward
    // call (the first position, or the whole prompt when it is a batch).
    if (!timing_) {
      timing_ = true;
      first_done_ = Clock::now();
      first_positions_ = int(positions_run_);
    }
    (void)t0;
  }
  return true;
}

bool Session::append_tokens(std::span<const int> tokens) {
  const int vocab = config().vocab_size;
  for (std::size_t i = 0; i < tokens.size(); i++) {
    if (tokens[i] < 0 || tokens[i] >= vocab) {
      throw Error("session: token " + std::to_string(i) + " has id " + std::to_string(tokens[i]) + ", outside [0, " +
                  std::to_string(vocab) + ")");
    }
  }
  if (stats_.tokens.size() + tokens.size() > std::size_t(context())) {
    throw Error("session: " + std::to_string(tokens.size()) + " more tokens do not fit: " +
                std::to_string(stats_.tokens.size()) + " of the context's " + std::to_string(context()) +
                " positions are taken");
  }
  stats_.tokens.insert(stats_.tokens.end(), tokens.begin(), tokens.end());
  stats_.prompt_tokens += int(tokens.size());
  const Clock::time_point t0 = Clock::now();
  const bool done = run_pending();
  stats_.prompt_seconds += seconds(Clock::now() - t0);
  return done;
}

bool Session::append_text(std::string_view text, bool bos) {
  return append_tokens(tokenizer_->encode(text, bos, /*eos=*/false));
}

bool Session::set_tokens(std::span<const int> tokens) {
  std::vector<int>& seq = stats_.tokens;
  std::size_t common = 0;
  while (common < seq.size() && common < tokens.size() && seq[common] == tokens[common]) common++;
  if (common == tokens.size() && common > 0) {
    // Nothing new: the logits after the last token are needed all the same.
    // If the cache holds them, cut to here; otherwise run the last token again.
    if (logits_pos_ == int(common) - 1 && n_past_ == int(common)) {
      seq.resize(common);
      return true;
    }
    common--;
  }
  seq.resize(common);
  n_past_ = std::min(n_past_, int(common));
  stats_.positions = n_past_;
  if (logits_pos_ >= n_past_) logits_pos_ = -1;
  return append_tokens(tokens.subspan(common));
}

void Session::accept(int token) {
  if (token < 0 || token >= config().vocab_size) {
    throw Error("session: token id " + std::to_string(token) + " is outside [0, " +
                std::to_string(config().vocab_size) + ")");
  }
  stats_.tokens.push_back(token);
}

void Session::clear() {
  stats_.tokens.clear();
  n_past_ = 0;
  stats_.positions = 0;
  logits_pos_ = -1;
  utf8_ = Utf8Stream();
  strip_leading_space_ = false;
}

// --- sampling ------------------------------------------------------------------------

std::span<const float> Session::logits() {
  if (stats_.tokens.empty()) throw Error("session: no logits before the first token");
  if (!run_pending()) {
    throw Error("session: cancelled before the logits were computed");
  }
  if (logits_pos_ != n_past_ - 1) {
    // After a cut (set_tokens) the last token's logits are gone: run it again.
    n_past_--;
    run_pending();
  }
  return logits_;
}

int Session::sample() {
  std::span<const float> raw = logits();
  edited_.assign(raw.begin(), raw.end());
  sampler_->apply_controls(edited_);
  return sampler_->sample(edited_, stats_.tokens);
}

StopReason Session::generate(const GenerateOptions& options, const TokenCallback& on_token) {
  if (options.max_positions < 0 || options.max_positions > context()) {
    throw Error("max_positions = " + std::to_string(options.max_positions) + ", expected 0 .. the context of " +
                std::to_string(context()) + " (0: the context)");
  }
  const int limit = options.max_positions == 0 ? context() : options.max_positions;
  StopStrings stops(options.stop);
  StopReason reason = StopReason::STEPS;
  int n = 0;
  for (;;) {
    if (take_cancel()) {
      reason = StopReason::CANCELLED;
      break;
    }
    // Sampling needs the pending tokens run: stop if they do not fit.
    const int pending = int(stats_.tokens.size()) - n_past_;
    if (pending > 0 && n_past_ + pending > limit) {
      reason = limit == context() ? StopReason::CONTEXT : StopReason::STEPS;
      break;
    }
    if (options.max_tokens >= 0 && n >= options.max_tokens) {
      reason = StopReason::STEPS;
      break;
    }
    if (stats_.tokens.empty()) throw Error("session: generate needs at least one token (BOS) to start from");
    const int prev = stats_.tokens.back();
    if (!run_pending()) {
      reason = StopReason::CANCELLED;
      break;
    }
    if (options.probs_k > 0 && options.on_probs) {
      std::span<const float> raw = logits();
      edited_.assign(raw.begin(), raw.end());
      sampler_->apply_controls(edited_);
      options.on_probs(prev, Sampler::top_probs(edited_, options.probs_k, sampler_->params().temperature));
    }
    const int next = sample();
    stats_.generated_tokens++;
    if (next == tokenizer_->eos_id()) {
      reason = StopReason::EOS;
      break;
    }
    if (next == tokenizer_->bos_id()) {
      reason = StopReason::BOS;
      break;
    }
    accept(next);
    n++;
    const std::string text = stops.push(stream_text(prev, next));
    const bool go_on = on_token(next, text);
    if (stops.matched()) {
      reason = StopReason::STOP_STRING;
      break;
    }
    if (!go_on) {
      reason = StopReason::CALLBACK;
      break;
    }
  }
  // The end of this generation: held bytes and held text go out.
  std::string rest = stops.push(flush_text());
  rest += stops.flush();
  if (!rest.empty()) on_token(-1, rest);
  return reason;
}

// --- text --------------------------------------------------------------------------

std::string Session::stream_text(int prev, int token) {
  std::string text = utf8_.push(printable_piece(*tokenizer_, prev, token));
  if (strip_leading_space_) {
    std::size_t n = text.find_first_not_of(' ');
    text.erase(0, n == std::string::npos ? text.size() : n);
    if (!text.empty()) strip_leading_space_ = false;
  }
  return text;
}

std::string Session::flush_text() { return utf8_.flush(); }

// --- stats ---------------------------------------------------------------------------

void Session::exclude_time(Clock::duration d) {
  if (timing_) excluded_ += d;
}

GenerateStats Session::finish(StopReason stop) {
  GenerateStats out = stats_;
  out.stop = stop;
  out.positions = n_past_;
  if (timing_) {
    const Clock::time_point now = Clock::now();
    out.seconds = seconds(now - first_done_ - excluded_);
    const std::int64_t timed = positions_run_ - first_positions_;
    if (timed > 0 && out.seconds > 0) out.tokens_per_second = double(timed) / out.seconds;
    out.generation_seconds = std::max(0.0, seconds(now - started_ - excluded_) - out.prompt_seconds);
  }
  return out;
}

}  // namespace llama2

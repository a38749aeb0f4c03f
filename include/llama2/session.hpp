// Session: one conversation (or one document) over a model: the tokens its
// KV cache holds, and the Transformer, Tokenizer and Sampler that extend it.
// What a program that embeds the engine drives:
//
//   auto model = std::make_shared<const llama2::Model>(llama2::Model::load("m.bin"));
//   auto tokenizer = std::make_shared<const llama2::Tokenizer>(llama2::Tokenizer::load("tok.bin"));
//   llama2::Session session(model, tokenizer, {.sampling = {.temperature = 0.8f, .seed = 42}});
//   session.append_text("Once upon a time", /*bos=*/true);
//   llama2::StopReason why = session.generate({.max_tokens = 200, .stop = {"\nUser:"}},
//       [](int token, std::string_view text) { std::cout << text; return true; });
//
// Threading: a Session is used by one thread at a time; any number of
// Sessions may share one Model (its weights are immutable) and one Tokenizer,
// each on its own thread. cancel() is the one call another thread may make.
//
// Tokens are run lazily: append_* runs the known tokens at once as batches
// (Transformer::forward_batch, in chunks of prompt_chunk tokens, checking
// cancel() between chunks); a sampled token that is accepted stays pending
// until the next sample() needs its logits (then it runs alone, with
// Transformer::forward). So a generation stopped by its budget leaves its
// last token pending, and a saved-then-loaded session continues exactly as
// an uninterrupted one (session_state.hpp).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llama2/model.hpp"
#include "llama2/sampler.hpp"
#include "llama2/tokenizer.hpp"
#include "llama2/transformer.hpp"

namespace llama2 {

enum class StopReason {
  EOS,           // the model sampled EOS (end of a reply in chat)
  BOS,           // the model sampled BOS (llama2.c's models end a story with it)
  STEPS,         // the position limit (`steps`) or the token budget was reached
  CONTEXT,       // the context (seq_len positions) is full
  END_OF_INPUT,  // chat: read_turn reported the end of the conversation
  STOP_STRING,   // the text reached one of the stop strings
  CALLBACK,      // the per-token callback returned false
  CANCELLED,     // cancel() was called (from any thread)
};

// "EOS", "BOS", "steps", "context", "end of input", "stop string", "callback", "cancelled"
std::string_view stop_reason_name(StopReason reason);

struct GenerateStats {
  // Every token of the sequence in order: BOS and the prompt, then each
  // sampled token, except the one that stopped generation (EOS or BOS). In
  // chat: each turn (BOS ... [/INST]), its answer, and EOS after every answer
  // that ended, as Meta's chat format lays a dialog out.
  std::vector<int> tokens;
  int prompt_tokens = 0;     // tokens fed from the prompt or the user turns, BOS included
  int generated_tokens = 0;  // tokens sampled, the stopping EOS/BOS included
  int positions = 0;         // positions in the KV cache (the next free position)
  // llama2.c's speed figure: positions run after the first forward call, over
  // the time from its end to the end (chat: minus read_turn). The first call
  // is the first position, or the whole prompt, which runs as one batch.
  double seconds = 0.0;
  double tokens_per_second = 0.0;  // 0 if not measurable
  // The two phases a user feels: known tokens (the prompt, each chat turn)
  // run as batches, and generated tokens, each sampled then run (chat: minus
  // read_turn). prompt_tokens / prompt_seconds is the prompt speed.
  double prompt_seconds = 0.0;
  double generation_seconds = 0.0;
  StopReason stop = StopReason::STEPS;
  int unfit_turn_tokens = 0;  // chat, stop CONTEXT/STEPS: tokens of the turn that did not fit (0: an answer filled it)
};

// Called before each sampled token with the k most likely next tokens
// (Sampler::top_probs at the sampler's temperature); `prev` is the token they
// follow, so tokenizer.decode(prev, id) is the text each would add.
using ProbsCallback = std::function<void(int prev, const std::vector<TokenProb>& probs)>;

// Called for each accepted token with the text it releases (whole UTF-8
// characters; "" while text is held back for a character's remaining bytes
// or a possible stop string). Returning false stops generation (CALLBACK).
// At the end, text still held that did not become a stop string comes in
// one last call with token -1 (its return value is ignored).
using TokenCallback = std::function<bool(int token, std::string_view text)>;

struct SessionParams {
  int n_threads = 0;             // worker threads; <= 0: one per core
  int context = 0;               // cap the context below the model's seq_len; 0: the model's
  KvType kv_type = KvType::F32;  // the KV cache's element type
  SamplerParams sampling;
  int prompt_chunk = 512;  // tokens per batch when appending; cancel() is checked between chunks
};

struct GenerateOptions {
  int max_tokens = -1;    // the token budget: accepted tokens at most (-1: none)
  int max_positions = 0;  // llama2.c's steps: stop when the next token would run at this position (0: the context)
  std::vector<std::string> stop;  // stop strings: generation ends before the first one (not emitted)
  ProbsCallback on_probs;         // the teaching view, when probs_k > 0
  int probs_k = 0;
};

class Session {
 public:
  // A session of its own over a shared model and tokenizer. Throws
  // llama2::Error if they do not agree on vocab_size or a parameter is bad.
  Session(std::shared_ptr<const Model> model, std::shared_ptr<const Tokenizer> tokenizer, SessionParams params = {});
  // A session over a caller's transformer, tokenizer and sampler (they must
  // outlive it), as generate() and chat() use. The transformer's KV cache is
  // taken to be empty.
  Session(Transformer& transformer, const Tokenizer& tokenizer, Sampler& sampler, int prompt_chunk = 512);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const Config& config() const { return transformer_->config(); }  // seq_len = this session's context
  int context() const { return config().seq_len; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  Sampler& sampler() { return *sampler_; }
  Transformer& transformer() { return *transformer_; }

  // --- the sequence -------------------------------------------------------------
  // Every token of the sequence: those in the KV cache, then those pending.
  const std::vector<int>& tokens() const { return stats_.tokens; }
  // Positions in the KV cache (tokens()[0, n_past) have run).
  int n_past() const { return n_past_; }
  // Positions run since the session began (re-runs included): the cost.
  std::int64_t positions_run() const { return positions_run_; }

  // Appends known tokens and runs them (with any pending ones) as batches.
  // Returns false if cancel() stopped it between chunks (the tokens not run
  // stay pending). Throws llama2::Error if a token is outside the vocabulary
  // or the sequence would outgrow the context.
  bool append_tokens(std::span<const int> tokens);
  // encode(text) (with BOS first if `bos`), then append_tokens.
  bool append_text(std::string_view text, bool bos = false);
  // Makes the sequence `tokens`, reusing the cache: it is cut to the longest
  // common prefix of tokens() and `tokens`, and only the rest runs (what a
  // fresh session given `tokens` would compute). Returns false if cancelled.
  bool set_tokens(std::span<const int> tokens);
  // Adds a token without running it (it runs when the next logits are needed).
  void accept(int token);
  // Forgets everything: an empty sequence (the sampler's RNG goes on).
  void clear();

  // --- sampling -------------------------------------------------------------------
  // The logits after the last token of the sequence (runs pending tokens).
  // Valid until the next call that runs tokens. Throws llama2::Error when the
  // sequence is empty or pending tokens do not fit the context.
  std::span<const float> logits();
  // Samples the next token from logits() after the sampler's controls (logit
  // bias, callback); the repetition penalty sees tokens(). Does not accept it.
  int sample();

  // Samples, accepts and streams tokens until EOS or BOS (not accepted), a
  // stop string, the budget, the position limit, the context's end, the
  // callback's false, or cancel(). Throws llama2::Error when max_positions is
  // outside [0, context].
  StopReason generate(const GenerateOptions& options, const TokenCallback& on_token);

  // Asks the running (or next) append_*/set_tokens/generate on any thread to
  // stop at the next check: between tokens and between prompt chunks. The
  // call that stops consumes the request.
  void cancel() { cancel_.store(true, std::memory_order_relaxed); }

  // --- text -----------------------------------------------------------------------
  // The text streaming `token` after `prev` releases, as llama2.c prints it
  // (decode; a lone control byte is dropped) through this session's UTF-8
  // stream: whole characters only.
  std::string stream_text(int prev, int token);
  // Whatever bytes the UTF-8 stream still holds.
  std::string flush_text();
  // The next streamed text loses its leading spaces (a chat answer's start).
  void strip_leading_space() { strip_leading_space_ = true; }

  // --- state ------------------------------------------------------------------------
  // Saves tokens, KV cache and RNG state to `path` (session_state.hpp);
  // load() restores them into this session, whose model, tokenizer, context
  // and KV type must match. Throw llama2::Error saying what did not.
  void save(const std::string& path) const;
  void load(const std::string& path);

  // --- stats for generate()/chat() -------------------------------------------
  GenerateStats& stats() { return stats_; }
  // Time spent outside (in read_turn) does not count as generation time.
  void exclude_time(std::chrono::steady_clock::duration d);
  // Ends the run: flushes nothing, fills in stop and the timing figures.
  GenerateStats finish(StopReason stop);

 private:
  bool run_pending();
  bool take_cancel() { return cancel_.exchange(false, std::memory_order_relaxed); }

  std::unique_ptr<Transformer> own_transformer_;
  std::unique_ptr<Sampler> own_sampler_;
  std::shared_ptr<const Tokenizer> own_tokenizer_;
  Transformer* transformer_;
  const Tokenizer* tokenizer_;
  Sampler* sampler_;
  int prompt_chunk_;

  GenerateStats stats_;   // stats_.tokens is the sequence
  int n_past_ = 0;        // tokens in the KV cache
  int logits_pos_ = -1;   // the position whose logits logits_ holds (-1: none)
  std::int64_t positions_run_ = 0;
  std::vector<float> logits_;  // (vocab_size) the last logits; sample() edits a copy
  std::vector<float> edited_;  // (vocab_size) logits after the sampler's controls
  std::atomic<bool> cancel_{false};

  Utf8Stream utf8_;
  bool strip_leading_space_ = false;

  using Clock = std::chrono::steady_clock;
  bool timing_ = false;           // a forward call has run (the clocks below are set)
  Clock::time_point started_;     // the start of the first forward call
  Clock::time_point first_done_;  // the end of the first forward call
  int first_positions_ = 0;       // positions run by the first forward call
  Clock::duration excluded_{};    // time in read_turn since the first forward call
};

// A fingerprint of a model's config and a sample of its weights, and of a
// tokenizer's pieces and scores: what a saved session checks on load.
// model_fingerprint reads the weights where the forward pass does
// (Model::kernel_weights), so on a model no Transformer has used yet it
// repacks them first, as a Transformer would (about a second for a 7B).
std::uint64_t model_fingerprint(const Model& model);
std::uint64_t tokenizer_fingerprint(const Tokenizer& tokenizer);

}  // namespace llama2

// Generation and chat: the loops that drive a Transformer, a Tokenizer and a
// Sampler, streaming text to a callback as tokens are produced. Both are thin
// functions over a Session (session.hpp); the Session& overloads continue a
// session (one loaded from a file, or one a program keeps between calls).
//
// They keep llama2.c's semantics (run.c generate() and chat()):
//   - `steps` counts positions, the prompt's included: BOS + prompt + samples
//     stop when `steps` forward passes have run. 0 means the whole context.
//   - The prompt's own text is streamed first, as llama2.c prints it.
//   - Each piece is decoded after the token before it (the leading space of
//     the first piece after BOS is dropped; <0xNN> becomes the byte), and a
//     piece that is one byte below 0x80 that is neither printable nor white
//     space is skipped (llama2.c's safe_printf). One intended difference:
//     bytes >= 0x80 are streamed, reassembled into whole UTF-8 characters
//     (llama2.c drops a lone byte piece >= 0x80, so it cannot print UTF-8
//     that the vocabulary spells with byte tokens).
//   - Streamed text never splits a UTF-8 character (Utf8Stream).
// Differences by design: generation stops at EOS as well as at BOS, and a
// `steps` beyond the context or a prompt that does not fit is an Error
// instead of being silently clamped or cut.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "llama2/sampler.hpp"
#include "llama2/session.hpp"
#include "llama2/tokenizer.hpp"
#include "llama2/transformer.hpp"

namespace llama2 {

// StopReason and GenerateStats are in session.hpp.

// Receives streamed text: whole UTF-8 characters, in order.
using TextCallback = std::function<void(std::string_view text)>;
// Reads the next user turn into `user_turn`; returns false at the end of the
// conversation (EOF).
using ReadTurnCallback = std::function<bool(std::string& user_turn)>;

// The positions a run of `steps` may use on this transformer: `steps`, or the
// whole context if steps == 0. Throws llama2::Error when steps < 0 or steps
// is larger than the context.
int resolve_steps(const Transformer& transformer, int steps);

// Feeds BOS + encode(prompt) as one batch (Transformer::forward_batch),
// streaming the prompt's text, then samples until
// EOS, BOS, `steps` positions or the end of the context. An empty prompt is
// just BOS (as in llama2.c): the model starts from nothing. When probs_k > 0,
// on_probs gets the k most likely next tokens before each sampled token.
// Throws llama2::Error when `steps` is out of range (resolve_steps) or the
// prompt's tokens do not fit in `steps` positions.
GenerateStats generate(Transformer& transformer, const Tokenizer& tokenizer, Sampler& sampler, std::string_view prompt,
                       int steps, const TextCallback& on_text, const ProbsCallback& on_probs = {}, int probs_k = 0);

// The same on a session. An empty session starts as above; one that holds
// tokens (e.g. loaded from a file) continues: the prompt, if not empty, is
// appended as text (no BOS) and streamed, then sampling goes on until
// `steps` positions in all. `stop` holds stop strings (session.hpp).
GenerateStats generate(Session& session, std::string_view prompt, int steps, const TextCallback& on_text,
                       const std::vector<std::string>& stop = {}, const ProbsCallback& on_probs = {},
                       int probs_k = 0);

// Checks, as generate() on an empty session does, that BOS + encode(prompt)
// fits in `context` positions and in `steps` (0: the whole context), and
// throws the same llama2::Error if not. It needs no Transformer: a program
// can refuse a prompt before it builds one, which on a 7B takes seconds
// (Model::kernel_weights repacks the weights). Throws too when context <= 0
// or steps is out of range (as resolve_steps, against `context`).
void check_prompt_fits(const Tokenizer& tokenizer, std::string_view prompt, int context, int steps);

// --- chat -------------------------------------------------------------------------

// The text of one user turn in Llama-2-chat's format, exactly as Meta's
// reference (llama/generation.py chat_completion) builds it:
//   first turn, with a system prompt: "[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST]"
//   otherwise:                         "[INST] {user} [/INST]"
// where, as there, the content between "[INST] " and " [/INST]" has its
// leading and trailing white space stripped. An empty system prompt means none.
std::string chat_turn_text(std::string_view user, std::string_view system = {});

// BOS + encode(chat_turn_text(user, system)): the tokens of one turn (Meta
// encodes each turn with bos=True, eos=False).
std::vector<int> chat_turn_tokens(const Tokenizer& tokenizer, std::string_view user, std::string_view system = {});

// A conversation in Llama-2-chat format over one KV cache: old turns are never
// processed again. Each turn from read_turn is fed as chat_turn_tokens (the
// system prompt goes into the first one), then the model answers, streamed to
// on_text, until it samples EOS (or BOS); EOS is then part of the context
// before the next turn, as in Meta's format (an answer's tokens stay as the
// model sampled them instead of being re-encoded from text). Turns that are
// empty or white space only are skipped (read_turn is asked again). `steps`
// bounds the whole conversation's positions as in llama2.c (0: the context).
// Ends at END_OF_INPUT, or at STEPS/CONTEXT when an answer or the next turn
// does not fit (then unfit_turn_tokens says how large that turn was).
// Throws llama2::Error when steps is out of range or the first turn alone
// does not fit.
GenerateStats chat(Transformer& transformer, const Tokenizer& tokenizer, Sampler& sampler,
                   std::string_view system_prompt, int steps, const ReadTurnCallback& read_turn,
                   const TextCallback& on_text, const ProbsCallback& on_probs = {}, int probs_k = 0);

// The same on a session; one that already holds a conversation (e.g. loaded
// from a file) continues it: the system prompt then applies only if it is
// empty. Each turn is given to Session::set_tokens as the whole conversation
// so far plus the turn, so only the new tokens run (prefix reuse). An answer
// also ends at one of the `stop` strings (not streamed); the conversation
// then goes on from the tokens sampled so far.
GenerateStats chat(Session& session, std::string_view system_prompt, int steps, const ReadTurnCallback& read_turn,
                   const TextCallback& on_text, const std::vector<std::string>& stop = {},
                   const ProbsCallback& on_probs = {}, int probs_k = 0);

}  // namespace llama2

// Trace: everything a learner can see inside one run of a model over a text,
// collected for the `trace` page (trace_page.cpp) or its JSON.
//
//   - each token's surprisal: -log2 p(token | the tokens before it), its
//     probability and rank, and the top-K candidates the model gave at every
//     position. The prompt's figures are perplexity()'s (perplexity.hpp) for
//     the same text: the same tokens, the same BOS, the same batches, so the
//     same bits;
//   - the logit lens: the residual stream after every layer sent straight
//     through the final norm and the classifier (the real kernels): what the
//     model would predict if it stopped there;
//   - attention: every head's weights over the positions before it, for the
//     chosen layers and the first positions, quantised to 8 bits.
//
// A ForwardObserver (forward_observer.hpp) collects the residuals and the
// attention weights as the Transformer runs; nothing in forward() changes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "llama2/model_info.hpp"
#include "llama2/perplexity.hpp"
#include "llama2/sampler.hpp"
#include "llama2/tokenizer.hpp"
#include "llama2/transformer.hpp"

namespace llama2 {

struct TraceOptions {
  int top_k = 10;           // candidates kept per position and per lens cell
  int generate = 0;         // tokens to generate after the text (stops early at EOS/BOS)
  float temperature = 1.0f; // for the generated tokens (0 = greedy)
  std::uint64_t seed = 0;
  std::vector<int> layers;  // layers whose attention is kept; empty = all
  // Positions whose attention is kept (the first ones, BOS included); 0
  // picks the most that fit kAttentionBudget bytes (default_attention_positions).
  int max_positions = 0;
};

// Attention bytes a default trace may keep: 12 MiB of 8-bit weights, about
// 16 MB once base64-encoded in the page.
inline constexpr std::uint64_t kAttentionBudget = std::uint64_t(12) << 20;

// Bytes of 8-bit attention for `n_layers` layers of `n_heads` heads over the
// first `positions` positions: the causal triangle, one byte per weight.
std::uint64_t attention_bytes(int n_layers, int n_heads, int positions);
// The most positions (<= positions) whose attention fits kAttentionBudget.
int default_attention_positions(int n_layers, int n_heads, int positions);

// The model's prediction at one position: top-K and, for the token that
// followed, its probability, rank (1 = the model's first choice) and bits.
struct TracePosition {
  int token = 0;            // the id run at this position (position 0: BOS)
  std::string piece;        // its vocabulary piece ("<s>", "\u2581the", "<0xE2>")
  // The text it adds: its bytes after the token before, as whole UTF-8
  // characters (a byte token that starts a character adds "", the one that
  // ends it adds the character), so the texts add up to the decoded text.
  std::string text;
  bool generated = false;   // sampled by the trace rather than read from the text
  // How the position before predicted this token (not at position 0):
  double prob = 0.0;        // softmax probability
  int rank = 0;             // 1 + the number of tokens with a higher logit
  double bits = 0.0;        // surprisal, -log2 prob (from log_softmax_at, in double)
  std::vector<TokenProb> top;  // (top_k) what this position predicts next, descending
};

struct Trace {
  std::string model_name;   // the model file's name
  ModelInfo info;           // the model card (model_info.hpp)
  TraceOptions options;
  std::vector<TracePosition> positions;  // (n_positions) BOS, the text's tokens, the generated ones
  std::size_t text_tokens = 0;           // tokens of the text (positions 1 .. text_tokens)
  PerplexityResult text_score;           // the text's tokens as perplexity() scores them
  std::vector<std::string> pieces;       // (vocab_size) each id's display text (candidates, lens)

  // Logit lens, (n_layers, n_positions): the top-K of the residual after
  // layer l at position p, and the probability it gives the token that
  // actually came next (-1 at the last position, where none did).
  std::vector<std::vector<TokenProb>> lens_top;  // (n_layers * n_positions)
  std::vector<float> lens_next_prob;             // (n_layers * n_positions)

  // Attention of layers attention_layers[i], positions [0, attention_positions):
  // attention[i] is (n_heads, triangle) with row q of each head holding q + 1
  // bytes whose sum is exactly 255 (weight ~ byte / 255), rows in order.
  std::vector<int> attention_layers;
  int attention_positions = 0;
  std::vector<std::vector<std::uint8_t>> attention;
  std::vector<std::string> notes;  // what was left out, said in the page

  int n_positions() const { return int(positions.size()); }
};

// Called after each batch with (positions done, positions total).
using TraceProgressFn = std::function<void(std::uint64_t done, std::uint64_t total)>;

// Runs BOS + encode(text) (+ generated tokens) through `transformer` with an
// observer and collects the Trace. The text must fit in the context with
// BOS and the generated tokens. Throws llama2::Error for an empty text, a
// text or generation beyond the context, a layer out of range, top_k < 1,
// max_positions < 0, or a tokenizer whose vocabulary size differs.
Trace run_trace(Transformer& transformer, const Tokenizer& tokenizer, const std::string& text,
                const TraceOptions& options, const std::string& model_name = "",
                const TraceProgressFn& progress = {});

// The trace as one JSON object (trace_json.cpp). Every string is escaped so
// the JSON may sit inside an HTML <script> element: '<', '>', '&', U+2028
// and U+2029 are written as \u escapes, so no piece can close the element.
std::string trace_json(const Trace& trace);

// The self-contained page (trace_page.cpp): inline CSS and script, the
// JSON in a <script type="application/json">, a Content-Security-Policy
// that forbids every network load.
std::string trace_html(const Trace& trace);

// A JSON string literal (quotes included) for `s`, escaped as trace_json
// does; bytes that are not valid UTF-8 become U+FFFD.
std::string json_string_for_html(std::string_view s);

}  // namespace llama2

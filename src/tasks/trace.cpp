// run_trace: one run of a model over a text, observed (see trace.hpp).
#include "llama2/trace.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "llama2/error.hpp"
#include "llama2/forward_observer.hpp"
#include "ops.hpp"  // the final norm and classifier kernels, for the lens

namespace llama2 {

std::uint64_t attention_bytes(int n_layers, int n_heads, int positions) {
  const std::uint64_t n = std::uint64_t(std::max(positions, 0));
  return std::uint64_t(std::max(n_layers, 0)) * std::uint64_t(std::max(n_heads, 0)) * (n * (n + 1) / 2);
}

int default_attention_positions(int n_layers, int n_heads, int positions) {
  int n = std::max(positions, 0);
  while (n > 1 && attention_bytes(n_layers, n_heads, n) > kAttentionBudget) n--;
  return n;
}

namespace {

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; k++) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    }
    i += len;
  }
  return true;
}

// What a token shows as: its bytes after `prev`; a control token, or bytes
// that are not a whole UTF-8 text (one byte of a longer character), show as
// the vocabulary's piece ("<s>", "<0xE2>").
std::string display_text(const Tokenizer& tokenizer, int prev, int id) {
  std::string text = tokenizer.decode(prev, id);
  if (text.empty() || !valid_utf8(text)) return tokenizer.piece(id);
  return text;
}

// The length of the longest prefix of s that does not end inside a UTF-8
// character a later byte could complete: a token's text is the characters
// it completes, so the texts of all positions add up to the decoded text.
std::size_t complete_prefix(std::string_view s) {
  for (std::size_t back = 1; back <= 3 && back <= s.size(); back++) {
    const unsigned char c = static_cast<unsigned char>(s[s.size() - back]);
    if ((c >> 6) == 2) continue;  // a continuation byte: look further back for the lead
    const std::size_t need = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    return need > back ? s.size() - back : s.size();
  }
  return s.size();
}

// Rounds a row of attention weights to bytes that sum to exactly 255:
// floor(w * 255), then one more to the largest remainders (largest
// remainder rounding), so each byte is within 1/255 of its weight and a row
// decodes to a distribution that sums to 1.
void quantize_row(const float* w, std::size_t n, std::vector<std::uint8_t>& out) {
  double sum = 0.0;
  for (std::size_t i = 0; i < n; i++) sum += std::max(0.0, double(w[i]));
  std::vector<std::pair<double, std::size_t>> remainders(n);  // (n) fractional part, index
  const std::size_t base = out.size();
  int total = 0;
  for (std::size_t i = 0; i < n; i++) {
    const double scaled = sum > 0 ? std::max(0.0, double(w[i])) / sum * 255.0 : 255.0 / double(n);
    const double whole = std::floor(scaled);
    out.push_back(static_cast<std::uint8_t>(std::min(whole, 255.0)));
    total += int(out.back());
    remainders[i] = {scaled - whole, i};
  }
  std::stable_sort(remainders.begin(), remainders.end(), [](auto& a, auto& b) { return a.first > b.first; });
  for (std::size_t k = 0; total < 255 && k < n; k++, total++) out[base + remainders[k].second]++;
}

// Keeps what the trace needs of each observed layer: the residual (for the
// lens, computed after the run) and, for the chosen layers and positions,
// every head's attention row.
class TraceObserver final : public ForwardObserver {
 public:
  TraceObserver(const Config& c, std::size_t max_positions, const std::vector<int>& layers, int attention_positions)
      : dim_(c.dim), n_heads_(c.n_heads), max_positions_(max_positions), attention_positions_(attention_positions),
        residuals_(std::size_t(c.n_layers) * max_positions * std::size_t(c.dim)),
        slot_(std::size_t(c.n_layers), -1),
        attention_(layers.size()) {
    for (std::size_t i = 0; i < layers.size(); i++) {
      slot_[std::size_t(layers[i])] = int(i);
      attention_[i].resize(std::size_t(n_heads_));
    }
  }

  void on_layer(const LayerObservation& o) override {
    const std::size_t pos = std::size_t(o.pos);
    if (pos >= max_positions_) throw Error("trace: position " + std::to_string(pos) + " beyond the traced positions");
    std::copy(o.residual.begin(), o.residual.end(), residual(std::size_t(o.layer), pos));
    const int slot = slot_[std::size_t(o.layer)];
    if (slot < 0 || o.pos >= attention_positions_) return;
    for (int h = 0; h < n_heads_; h++) {
      std::vector<std::uint8_t>& rows = attention_[std::size_t(slot)][std::size_t(h)];
      // Rows arrive in position order; a repeated position (none in run_trace) would misplace them.
      if (rows.size() != pos * (pos + 1) / 2) throw Error("trace: attention rows out of order at position " + std::to_string(pos));
      quantize_row(o.att + std::size_t(h) * o.att_stride, pos + 1, rows);
    }
  }

  float* residual(std::size_t layer, std::size_t pos) { return &residuals_[(layer * max_positions_ + pos) * dim_]; }

  // (n_heads, triangle) per chosen layer, the heads' rows concatenated.
  std::vector<std::vector<std::uint8_t>> take_attention() {
    std::vector<std::vector<std::uint8_t>> out;
    for (auto& heads : attention_) {
      std::vector<std::uint8_t> layer;
      for (auto& rows : heads) layer.insert(layer.end(), rows.begin(), rows.end());
      out.push_back(std::move(layer));
    }
    return out;
  }

 private:
  std::size_t dim_;
  int n_heads_;
  std::size_t max_positions_;
  int attention_positions_;
  std::vector<float> residuals_;  // (n_layers, max_positions, dim) x after each layer
  std::vector<int> slot_;         // (n_layers) index into attention_, -1 if not kept
  std::vector<std::vector<std::vector<std::uint8_t>>> attention_;  // (chosen layers, n_heads) rows
};

// Sets an observer for the lifetime of the guard (also when an exception leaves).
struct ObserverGuard {
  Transformer& t;
  ObserverGuard(Transformer& transformer, ForwardObserver* o) : t(transformer) { t.set_observer(o); }
  ~ObserverGuard() { t.set_observer(nullptr); }
};

// Probability, rank and bits of `token` under `logits`.
void score(TracePosition& at, std::span<const float> logits, int token) {
  const double log_p = log_softmax_at(logits, token);
  at.prob = std::exp(log_p);
  at.bits = -log_p / std::numbers::ln2;
  const float own = logits[std::size_t(token)];
  at.rank = 1 + int(std::count_if(logits.begin(), logits.end(), [own](float l) { return l > own; }));
}

}  // namespace

Trace run_trace(Transformer& transformer, const Tokenizer& tokenizer, const std::string& text,
                const TraceOptions& options, const std::string& model_name, const TraceProgressFn& progress) {
  const Config& c = transformer.config();
  const std::size_t vocab = std::size_t(c.vocab_size);
  if (tokenizer.vocab_size() != c.vocab_size) {
    throw Error("trace: the tokenizer has " + std::to_string(tokenizer.vocab_size()) + " pieces, but the model has vocab_size " +
                std::to_string(c.vocab_size));
  }
  if (options.top_k < 1) throw Error("trace: top_k = " + std::to_string(options.top_k) + ", expected at least 1");
  if (options.generate < 0) throw Error("trace: generate = " + std::to_string(options.generate) + ", expected >= 0");
  if (options.max_positions < 0) {
    throw Error("trace: max_positions = " + std::to_string(options.max_positions) + ", expected >= 0 (0: the default)");
  }
  std::vector<int> layers = options.layers;
  if (layers.empty()) {
    for (int l = 0; l < c.n_layers; l++) layers.push_back(l);
  }
  for (int l : layers) {
    if (l < 0 || l >= c.n_layers) {
      throw Error("trace: layer " + std::to_string(l) + " is outside [0, " + std::to_string(c.n_layers) + ")");
    }
  }
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());

  // BOS + the text, as perplexity() runs a text that fits one window.
  const std::vector<int> text_tokens = tokenizer.encode(text, false, false);
  if (text_tokens.empty()) throw Error("trace: the text has no tokens");
  std::vector<int> input(1, tokenizer.bos_id());  // (1 + text tokens)
  input.insert(input.end(), text_tokens.begin(), text_tokens.end());
  const std::size_t max_positions = input.size() + std::size_t(options.generate);
  if (max_positions > std::size_t(c.seq_len)) {
    throw Error("trace: BOS + " + std::to_string(text_tokens.size()) + " text tokens + " +
                std::to_string(options.generate) + " generated = " + std::to_string(max_positions) +
                " positions, more than the context of " + std::to_string(c.seq_len));
  }

  Trace trace;
  trace.model_name = model_name;
  trace.info = model_info(transformer.model());
  trace.info.config.seq_len = c.seq_len;
  trace.options = options;
  trace.options.layers = layers;
  trace.text_tokens = text_tokens.size();
  trace.text_score.text_bytes = text.size();
  trace.attention_layers = layers;
  const int max_pos = int(max_positions);
  trace.attention_positions = options.max_positions > 0 ? std::min(options.max_positions, max_pos)
                                                        : default_attention_positions(int(layers.size()), c.n_heads, max_pos);
  trace.pieces.resize(vocab);
  for (std::size_t id = 0; id < vocab; id++) trace.pieces[id] = display_text(tokenizer, -1, int(id));

  TraceObserver observer(c, max_positions, layers, trace.attention_positions);
  ObserverGuard guard(transformer, &observer);
  const std::uint64_t total_work = max_positions + std::uint64_t(c.n_layers);
  std::string pending;  // bytes of a UTF-8 character that later tokens complete
  auto add_position = [&](int token, bool generated) {
    TracePosition at;
    at.token = token;
    at.generated = generated;
    at.piece = tokenizer.piece(token);
    const int prev = trace.positions.empty() ? -1 : trace.positions.back().token;
    pending += tokenizer.decode(prev, token);
    const std::size_t whole = complete_prefix(pending);
    at.text = pending.substr(0, whole);
    pending.erase(0, whole);
    trace.positions.push_back(std::move(at));
  };

  // --- the text: batches of perplexity's size, so its bits are perplexity's
  trace.positions.reserve(max_positions);
  for (int token : input) add_position(token, false);
  std::vector<float> last(vocab);  // (vocab_size) the logits after the last position run
  for (std::size_t j0 = 0; j0 < input.size(); j0 += std::size_t(kDefaultPerplexityBatch)) {
    const std::size_t n = std::min(std::size_t(kDefaultPerplexityBatch), input.size() - j0);
    // (n, vocab_size): row r predicts input[j0 + r + 1]
    const std::span<const float> logits = transformer.forward_batch_all(std::span<const int>(input).subspan(j0, n), int(j0));
    for (std::size_t r = 0; r < n; r++) {
      const std::span<const float> row = logits.subspan(r * vocab, vocab);
      const std::size_t pos = j0 + r;
      trace.positions[pos].top = Sampler::top_probs(row, options.top_k);
      if (pos + 1 < input.size()) {
        score(trace.positions[pos + 1], row, input[pos + 1]);
        trace.text_score.nll_sum -= log_softmax_at(row, input[pos + 1]);  // as perplexity() sums it
        trace.text_score.tokens_scored++;
      } else {
        std::copy(row.begin(), row.end(), last.begin());
      }
    }
    if (progress) progress(j0 + n, total_work);
  }

  // --- generated tokens, token by token with forward()
  if (options.generate > 0) {
    SamplerParams params;
    params.temperature = options.temperature;
    params.seed = options.seed;
    Sampler sampler(c.vocab_size, params);
    std::vector<int> seen = input;
    for (int g = 0; g < options.generate; g++) {
      const int next = sampler.sample(last, seen);
      if (next == tokenizer.eos_id() || next == tokenizer.bos_id()) {
        trace.notes.push_back("Generation stopped after " + std::to_string(g) + " of " +
                              std::to_string(options.generate) + " tokens: the model ended the text.");
        break;
      }
      add_position(next, true);
      score(trace.positions.back(), last, next);
      seen.push_back(next);
      const std::span<const float> logits = transformer.forward(next, trace.n_positions() - 1);
      std::copy(logits.begin(), logits.end(), last.begin());
      trace.positions.back().top = Sampler::top_probs(logits, options.top_k);
      if (progress) progress(std::uint64_t(trace.n_positions()), total_work);
    }
  }

  // --- the logit lens: each layer's residuals through the final norm and the classifier
  const std::size_t n_pos = trace.positions.size(), dim = std::size_t(c.dim), rows = 64;
  const Weights& w = transformer.model().kernel_weights();  // as forward reads them
  ThreadPool pool(transformer.n_threads());
  std::vector<float> normed(rows * dim);     // (rows, dim) rmsnorm of the residuals
  std::vector<float> lens_logits(rows * vocab);  // (rows, vocab_size)
  trace.lens_top.resize(std::size_t(c.n_layers) * n_pos);
  trace.lens_next_prob.assign(std::size_t(c.n_layers) * n_pos, -1.0f);
  for (std::size_t l = 0; l < std::size_t(c.n_layers); l++) {
    for (std::size_t p0 = 0; p0 < n_pos; p0 += rows) {
      const std::size_t n = std::min(rows, n_pos - p0);
      for (std::size_t r = 0; r < n; r++) {
        rmsnorm(&normed[r * dim], observer.residual(l, p0 + r), w.rms_final, dim, c.norm_eps);
      }
      matmul_batch(lens_logits.data(), normed.data(), n, w.wcls, pool);
      for (std::size_t r = 0; r < n; r++) {
        const std::span<const float> row(&lens_logits[r * vocab], vocab);
        const std::size_t pos = p0 + r, cell = l * n_pos + pos;
        trace.lens_top[cell] = Sampler::top_probs(row, options.top_k);
        if (pos + 1 < n_pos) trace.lens_next_prob[cell] = float(std::exp(log_softmax_at(row, trace.positions[pos + 1].token)));
      }
    }
    if (progress) progress(max_positions + l + 1, total_work);
  }

  // --- attention, and what was cut
  trace.attention_positions = std::min(trace.attention_positions, int(n_pos));
  trace.attention = observer.take_attention();  // every head holds min(attention_positions, n_pos) rows
  if (trace.attention_positions < int(n_pos)) {
    trace.notes.push_back("Attention is kept for the first " + std::to_string(trace.attention_positions) + " of " +
                          std::to_string(n_pos) + " positions (--max-positions" +
                          (options.max_positions > 0 ? "" : "; the default keeps at most 12 MiB of weights") + ").");
  }
  if (int(layers.size()) < c.n_layers) {
    std::string list;
    for (int l : layers) list += (list.empty() ? "" : ", ") + std::to_string(l);
    trace.notes.push_back("Attention is kept for layer" + std::string(layers.size() > 1 ? "s " : " ") + list + " of " +
                          std::to_string(c.n_layers) + " (--layers).");
  }
  return trace;
}

}  // namespace llama2

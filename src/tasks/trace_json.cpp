// trace_json: the Trace as one JSON object, safe to embed in HTML (trace.hpp).
//
// Layout (every array in position order; "null" where a value does not exist):
//   model      the card: shape, parameters by part, bytes, FLOPs per token
//   options    top_k, generate, temperature, seed, layers, max_positions
//   text       tokens, bytes, total_bits, bits_per_token, bits_per_byte,
//              perplexity, mean_nll: perplexity()'s figures for the text
//   positions  [{id, piece, text, generated, prob, rank, bits, top: [[id, p], ...]}]
//              prob/rank/bits: how the position before predicted this token
//   pieces     {"id": text} for every id a top list names
//   lens       {top: [layer][position] -> [[id, p], ...],
//               next_prob: [layer][position] -> p of the token that came next}
//   attention  {layers, positions, n_heads, n_kv_heads, data: [one base64
//              string per layer: heads in order, row q of a head = q + 1
//              bytes summing to 255]}
//   notes      [what was left out]
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "llama2/trace.hpp"

namespace llama2 {

namespace {

// The length of the UTF-8 sequence at s[i], or 0 if it is not a whole one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  const std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; k++) {
    if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return 0;
  }
  return len;
}

std::string number(double v, const char* format = "%.6g") {
  if (!std::isfinite(v)) return "null";
  char buf[40];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string base64(const std::vector<std::uint8_t>& bytes) {
  static const char* kDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::uint32_t b0 = bytes[i], b1 = i + 1 < bytes.size() ? bytes[i + 1] : 0, b2 = i + 2 < bytes.size() ? bytes[i + 2] : 0;
    const std::uint32_t v = b0 << 16 | b1 << 8 | b2;
    out += kDigits[v >> 18 & 63];
    out += kDigits[v >> 12 & 63];
    out += i + 1 < bytes.size() ? kDigits[v >> 6 & 63] : '=';
    out += i + 2 < bytes.size() ? kDigits[v & 63] : '=';
  }
  return out;
}

void top_list(std::string& out, const std::vector<TokenProb>& top, std::vector<bool>& named) {
  out += '[';
  for (std::size_t i = 0; i < top.size(); i++) {
    if (i) out += ',';
    out += '[' + std::to_string(top[i].id) + ',' + number(top[i].prob) + ']';
    named[std::size_t(top[i].id)] = true;
  }
  out += ']';
}

}  // namespace

std::string json_string_for_html(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const std::size_t len = utf8_length(s, i);
    char buf[8];
    if (len == 0) {
      out += "\\ufffd";  // not UTF-8: the replacement character
      i++;
      continue;
    }
    if (len == 3 && c == 0xE2 && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(s[i + 2]) == 0xA8 || static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
      out += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";  // line breaks to old script parsers
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7F) {
      // '<' '>' '&' never appear raw, so nothing in a string can end the <script> or open a tag
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  return out + "\"";
}

std::string trace_json(const Trace& t) {
  const Config& c = t.info.config;
  const ModelInfo& info = t.info;
  const std::size_t n_pos = t.positions.size();
  std::vector<bool> named(t.pieces.size(), false);  // (vocab_size) ids a top list names
  std::string out;
  out += "{\"format\":\"llama2.cpp trace\",\"version\":1";

  out += ",\"model\":{\"name\":" + json_string_for_html(t.model_name);
  out += ",\"dim\":" + std::to_string(c.dim) + ",\"hidden_dim\":" + std::to_string(c.hidden_dim) +
         ",\"n_layers\":" + std::to_string(c.n_layers) + ",\"n_heads\":" + std::to_string(c.n_heads) +
         ",\"n_kv_heads\":" + std::to_string(c.n_kv_heads) + ",\"head_size\":" + std::to_string(c.head_size()) +
         ",\"vocab_size\":" + std::to_string(c.vocab_size) + ",\"context\":" + std::to_string(c.seq_len) +
         ",\"rope_theta\":" + number(c.rope_theta, "%g") + ",\"norm_eps\":" + number(c.norm_eps, "%g") +
         ",\"shared_classifier\":" + (info.params.classifier == 0 ? "true" : "false");
  out += ",\"params\":{\"embedding\":" + std::to_string(info.params.embedding) +
         ",\"attention\":" + std::to_string(info.params.attention) + ",\"ffn\":" + std::to_string(info.params.ffn) +
         ",\"norms\":" + std::to_string(info.params.norms) + ",\"classifier\":" + std::to_string(info.params.classifier) +
         ",\"total\":" + std::to_string(info.params.total()) + "}";
  out += ",\"weight_bytes\":" + std::to_string(info.weight_bytes) + ",\"matmul_params\":" + std::to_string(info.matmul_params) +
         ",\"flops_per_token_t0\":" + number(info.flops_per_token(0), "%.17g") +
         ",\"flops_per_token_full\":" + number(info.flops_per_token(std::uint64_t(c.seq_len) - 1), "%.17g") +
         ",\"kv_bytes_per_token\":" + std::to_string(info.kv_bytes_per_token()) + "}";

  const TraceOptions& o = t.options;
  out += ",\"options\":{\"top_k\":" + std::to_string(o.top_k) + ",\"generate\":" + std::to_string(o.generate) +
         ",\"temperature\":" + number(o.temperature, "%g") + ",\"seed\":" + std::to_string(o.seed) + ",\"layers\":[";
  for (std::size_t i = 0; i < o.layers.size(); i++) out.append(i ? "," : "").append(std::to_string(o.layers[i]));
  out += "],\"max_positions\":" + std::to_string(o.max_positions) + "}";

  const PerplexityResult& r = t.text_score;
  out += ",\"text\":{\"tokens\":" + std::to_string(r.tokens_scored) + ",\"bytes\":" + std::to_string(r.text_bytes) +
         ",\"total_bits\":" + number(r.nll_sum / std::log(2.0), "%.17g") +
         ",\"mean_nll\":" + number(r.mean_nll(), "%.17g") + ",\"perplexity\":" + number(r.perplexity(), "%.17g") +
         ",\"bits_per_token\":" + number(r.bits_per_token(), "%.17g") +
         ",\"bits_per_byte\":" + number(r.bits_per_byte(), "%.17g") + "}";

  out += ",\"positions\":[";
  for (std::size_t i = 0; i < n_pos; i++) {
    const TracePosition& p = t.positions[i];
    out += i ? ",{" : "{";
    out += "\"id\":" + std::to_string(p.token) + ",\"piece\":" + json_string_for_html(p.piece) +
           ",\"text\":" + json_string_for_html(p.text) +
           ",\"generated\":" + (p.generated ? "true" : "false");
    if (i == 0) {
      out += ",\"prob\":null,\"rank\":null,\"bits\":null";
    } else {
      out += ",\"prob\":" + number(p.prob, "%.9g") + ",\"rank\":" + std::to_string(p.rank) + ",\"bits\":" + number(p.bits, "%.17g");
    }
    out += ",\"top\":";
    top_list(out, p.top, named);
    out += '}';
  }
  out += ']';

  out += ",\"lens\":{\"top\":[";
  for (std::size_t l = 0; l < std::size_t(c.n_layers); l++) {
    out += l ? ",[" : "[";
    for (std::size_t i = 0; i < n_pos; i++) {
      if (i) out += ',';
      top_list(out, t.lens_top[l * n_pos + i], named);
    }
    out += ']';
  }
  out += "],\"next_prob\":[";
  for (std::size_t l = 0; l < std::size_t(c.n_layers); l++) {
    out += l ? ",[" : "[";
    for (std::size_t i = 0; i < n_pos; i++) {
      const float p = t.lens_next_prob[l * n_pos + i];
      out.append(i ? "," : "").append(p < 0 ? std::string("null") : number(p));
    }
    out += ']';
  }
  out += "]}";

  out += ",\"pieces\":{";
  bool first = true;
  for (std::size_t id = 0; id < named.size(); id++) {
    if (!named[id]) continue;
    out.append(first ? "\"" : ",\"").append(std::to_string(id)).append("\":").append(json_string_for_html(t.pieces[id]));
    first = false;
  }
  out += '}';

  out += ",\"attention\":{\"layers\":[";
  for (std::size_t i = 0; i < t.attention_layers.size(); i++) out.append(i ? "," : "").append(std::to_string(t.attention_layers[i]));
  out += "],\"positions\":" + std::to_string(t.attention_positions) + ",\"n_heads\":" + std::to_string(c.n_heads) +
         ",\"n_kv_heads\":" + std::to_string(c.n_kv_heads) + ",\"data\":[";
  for (std::size_t i = 0; i < t.attention.size(); i++) out.append(i ? ",\"" : "\"").append(base64(t.attention[i])).append("\"");
  out += "]}";

  out += ",\"notes\":[";
  for (std::size_t i = 0; i < t.notes.size(); i++) out.append(i ? "," : "").append(json_string_for_html(t.notes[i]));
  out += "]}";
  return out;
}

}  // namespace llama2

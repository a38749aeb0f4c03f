#include "support/synthetic_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>

namespace llama2::test {

namespace {

void fill(std::vector<float>& v, std::size_t n, std::mt19937_64& rng, float scale) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  v.resize(n);
  for (float& x : v) x = dist(rng);
}

void fill_norm(std::vector<float>& v, std::size_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> dist(0.8f, 1.2f);
  v.resize(n);
  for (float& x : v) x = dist(rng);
}

class Writer {
 public:
  explicit Writer(const std::string& path) : out_(path, std::ios::binary) {
    if (!out_) throw std::runtime_error("cannot write " + path);
  }
  template <typename T>
  void pod(const T& v) { out_.write(reinterpret_cast<const char*>(&v), sizeof v); }
  void floats(const std::vector<float>& v) {
    out_.write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size() * sizeof(float)));
  }
  void zeros(std::size_t n) { for (std::size_t i = 0; i < n; i++) out_.put('\0'); }
  std::size_t tell() { return std::size_t(out_.tellp()); }

 private:
  std::ofstream out_;
};

void header7(Writer& w, const Config& c, int vocab_field) {
  for (int v : {c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, vocab_field, c.seq_len}) w.pod(std::int32_t(v));
}

// The 256-byte v1/v2 header: magic "ak42", version, the 7 fields, shared
// flag, group_size (v2; 0 in a v1 file), zero padding.
void header256(Writer& w, const Config& c, int version, int group_size) {
  w.pod(std::uint32_t(0x616b3432));
  w.pod(std::int32_t(version));
  header7(w, c, c.vocab_size);
  w.pod(std::uint8_t(c.shared_classifier ? 1 : 0));
  w.pod(std::int32_t(group_size));
  w.zeros(256 - w.tell());
}

// One layer's slice of an all-layers tensor.
std::vector<float> layer_slice(const std::vector<float>& all, int n_layers, int l) {
  std::size_t each = all.size() / std::size_t(n_layers);
  return std::vector<float>(all.begin() + std::ptrdiff_t(each * l), all.begin() + std::ptrdiff_t(each * (l + 1)));
}

// llama2.c export.py quantize_q80 on one tensor; returns the dequantized values.
std::vector<float> write_q80(Writer& out, const std::vector<float>& w, int gs) {
  std::size_t n = w.size(), groups = n / std::size_t(gs);
  std::vector<std::int8_t> q(n);
  std::vector<float> scales(groups), deq(n);
  for (std::size_t g = 0; g < groups; g++) {
    float wmax = 0.0f;
    for (int j = 0; j < gs; j++) wmax = std::max(wmax, std::fabs(w[g * gs + j]));
    float scale = wmax / 127.0f;
    scales[g] = scale;
    for (int j = 0; j < gs; j++) {
      float v = scale == 0.0f ? 0.0f : w[g * gs + j] / scale;
      q[g * gs + j] = static_cast<std::int8_t>(std::lround(v));
      deq[g * gs + j] = float(q[g * gs + j]) * scale;
    }
  }
  for (std::int8_t v : q) out.pod(v);
  out.floats(scales);
  return deq;
}

}  // namespace

Config make_config(int dim, int hidden_dim, int n_layers, int n_heads, int n_kv_heads, int vocab_size, int seq_len,
                   bool shared_classifier) {
  Config c;
  c.dim = dim;
  c.hidden_dim = hidden_dim;
  c.n_layers = n_layers;
  c.n_heads = n_heads;
  c.n_kv_heads = n_kv_heads;
  c.vocab_size = vocab_size;
  c.seq_len = seq_len;
  c.shared_classifier = shared_classifier;
  return c;
}

Config small_config() { return make_config(48, 100, 3, 6, 3, 67, 40, false); }

SyntheticWeights make_weights(const Config& c, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  SyntheticWeights w;
  w.config = c;
  const std::size_t L = c.n_layers, dim = c.dim, hidden = c.hidden_dim, kv = c.kv_dim(), vocab = c.vocab_size;
  const float sd = 1.0f / std::sqrt(float(dim)), sh = 1.0f / std::sqrt(float(hidden));
  fill(w.token_embedding, vocab * dim, rng, 1.0f);
  fill_norm(w.rms_att, L * dim, rng);
  fill(w.wq, L * dim * dim, rng, 1.7f * sd);
  fill(w.wk, L * kv * dim, rng, 1.7f * sd);
  fill(w.wv, L * kv * dim, rng, 1.7f * sd);
  fill(w.wo, L * dim * dim, rng, 1.7f * sd);
  fill_norm(w.rms_ffn, L * dim, rng);
  fill(w.w1, L * hidden * dim, rng, 1.7f * sd);
  fill(w.w2, L * dim * hidden, rng, 1.7f * sh);
  fill(w.w3, L * hidden * dim, rng, 1.7f * sd);
  fill_norm(w.rms_final, dim, rng);
  if (c.shared_classifier) {
    w.wcls = w.token_embedding;
  } else {
    fill(w.wcls, vocab * dim, rng, 3.0f * sd);
  }
  return w;
}

void write_llama2c_v0(const std::string& path, const SyntheticWeights& w) {
  const Config& c = w.config;
  Writer out(path);
  header7(out, c, c.shared_classifier ? c.vocab_size : -c.vocab_size);
  for (const auto* t : {&w.token_embedding, &w.rms_att, &w.wq, &w.wk, &w.wv, &w.wo, &w.rms_ffn, &w.w1, &w.w2, &w.w3,
                        &w.rms_final}) {
    out.floats(*t);
  }
  out.zeros(std::size_t(c.seq_len) * c.head_size() * sizeof(float));  // unused freq_cis_real + imag
  if (!c.shared_classifier) out.floats(w.wcls);
}

void write_llama2c_v1(const std::string& path, const SyntheticWeights& w) {
  const Config& c = w.config;
  Writer out(path);
  header256(out, c, 1, 0);
  for (const auto* t : {&w.rms_att, &w.rms_ffn, &w.rms_final, &w.token_embedding, &w.wq, &w.wk, &w.wv, &w.wo, &w.w1,
                        &w.w2, &w.w3}) {
    out.floats(*t);
  }
  if (!c.shared_classifier) out.floats(w.wcls);
}

SyntheticWeights write_llama2c_v2(const std::string& path, const SyntheticWeights& w, int gs) {
  const Config& c = w.config;
  Writer out(path);
  header256(out, c, 2, gs);
  out.floats(w.rms_att);
  out.floats(w.rms_ffn);
  out.floats(w.rms_final);
  SyntheticWeights d = w;  // what the file holds, dequantized
  d.token_embedding = write_q80(out, w.token_embedding, gs);
  for (auto member : {&SyntheticWeights::wq, &SyntheticWeights::wk, &SyntheticWeights::wv, &SyntheticWeights::wo,
                      &SyntheticWeights::w1, &SyntheticWeights::w2, &SyntheticWeights::w3}) {
    std::vector<float> all;
    for (int l = 0; l < c.n_layers; l++) {
      auto deq = write_q80(out, layer_slice(w.*member, c.n_layers, l), gs);
      all.insert(all.end(), deq.begin(), deq.end());
    }
    d.*member = all;
  }
  if (c.shared_classifier) {
    d.wcls = d.token_embedding;
  } else {
    d.wcls = write_q80(out, w.wcls, gs);
  }
  return d;
}

void write_tokenizer_bin(const std::string& path, int vocab_size) {
  Writer out(path);
  std::vector<std::string> pieces = {"<unk>", "<s>", "</s>"};
  if (vocab_size >= 259) {
    for (int b = 0; b < 256; b++) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "<0x%02X>", b);
      pieces.push_back(buf);
    }
  }
  const char* letters = "abcdefghijklmnopqrstuvwxyz";
  for (int i = 0; pieces.size() < std::size_t(vocab_size); i++) {
    std::string p;
    if (i % 3 == 0) p = "\xe2\x96\x81";  // "▁" word start
    p += letters[i % 26];
    if (i >= 26) p += letters[(i / 26) % 26];
    pieces.push_back(p);
  }
  pieces.resize(std::size_t(vocab_size));
  std::int32_t max_len = 0;
  for (auto& p : pieces) max_len = std::max<std::int32_t>(max_len, std::int32_t(p.size()));
  out.pod(max_len);
  for (std::size_t i = 0; i < pieces.size(); i++) {
    out.pod(i < 3 ? 0.0f : -float(i));
    out.pod(std::int32_t(pieces[i].size()));
    for (char ch : pieces[i]) out.pod(ch);
  }
}

std::vector<int> random_tokens(int vocab_size, std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> dist(0, vocab_size - 1);
  std::vector<int> tokens(n);
  for (int& t : tokens) t = dist(rng);
  return tokens;
}

}  // namespace llama2::test

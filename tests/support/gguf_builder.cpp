#include "support/gguf_builder.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>

#include "kernels/fp16.hpp"
#include "kernels/quants.hpp"

namespace llama2::test {

namespace {
std::uint32_t ggml_type_id_for_test(WeightType t) {
  switch (t) {
    case WeightType::Q8_0: return kGgmlQ8_0;
    case WeightType::Q4_0: return kGgmlQ4_0;
    case WeightType::Q4_1: return kGgmlQ4_1;
    case WeightType::Q5_0: return kGgmlQ5_0;
    case WeightType::Q5_1: return kGgmlQ5_1;
    case WeightType::Q2_K: return kGgmlQ2_K;
    case WeightType::Q3_K: return kGgmlQ3_K;
    case WeightType::Q4_K: return kGgmlQ4_K;
    case WeightType::Q5_K: return kGgmlQ5_K;
    case WeightType::Q6_K: return kGgmlQ6_K;
    default: return 0;
  }
}
}  // namespace

void put_u32(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; i++) b.push_back(std::uint8_t(v >> (8 * i)));
}
void put_u64(Bytes& b, std::uint64_t v) {
  for (int i = 0; i < 8; i++) b.push_back(std::uint8_t(v >> (8 * i)));
}
void put_f32(Bytes& b, float v) {
  std::uint32_t u;
  std::memcpy(&u, &v, 4);
  put_u32(b, u);
}
void put_str(Bytes& b, const std::string& s) {
  put_u64(b, s.size());
  b.insert(b.end(), s.begin(), s.end());
}

GgufBuilder& GgufBuilder::kv_raw(const std::string& key, std::uint32_t type, const Bytes& payload) {
  put_str(kv_, key);
  put_u32(kv_, type);
  kv_.insert(kv_.end(), payload.begin(), payload.end());
  n_kv_++;
  return *this;
}
GgufBuilder& GgufBuilder::kv_u32(const std::string& key, std::uint32_t v) {
  Bytes p;
  put_u32(p, v);
  return kv_raw(key, U32, p);
}
GgufBuilder& GgufBuilder::kv_i32(const std::string& key, std::int32_t v) {
  Bytes p;
  put_u32(p, std::uint32_t(v));
  return kv_raw(key, I32, p);
}
GgufBuilder& GgufBuilder::kv_u64(const std::string& key, std::uint64_t v) {
  Bytes p;
  put_u64(p, v);
  return kv_raw(key, U64, p);
}
GgufBuilder& GgufBuilder::kv_f32(const std::string& key, float v) {
  Bytes p;
  put_f32(p, v);
  return kv_raw(key, F32, p);
}
GgufBuilder& GgufBuilder::kv_bool(const std::string& key, bool v) { return kv_raw(key, BOOL, {std::uint8_t(v)}); }
GgufBuilder& GgufBuilder::kv_str(const std::string& key, const std::string& v) {
  Bytes p;
  put_str(p, v);
  return kv_raw(key, STR, p);
}
GgufBuilder& GgufBuilder::kv_str_array(const std::string& key, const std::vector<std::string>& v) {
  Bytes p;
  put_u32(p, STR);
  put_u64(p, v.size());
  for (const auto& s : v) put_str(p, s);
  return kv_raw(key, ARR, p);
}
GgufBuilder& GgufBuilder::kv_f32_array(const std::string& key, const std::vector<float>& v) {
  Bytes p;
  put_u32(p, F32);
  put_u64(p, v.size());
  for (float x : v) put_f32(p, x);
  return kv_raw(key, ARR, p);
}
GgufBuilder& GgufBuilder::kv_i32_array(const std::string& key, const std::vector<std::int32_t>& v) {
  Bytes p;
  put_u32(p, I32);
  put_u64(p, v.size());
  for (std::int32_t x : v) put_u32(p, std::uint32_t(x));
  return kv_raw(key, ARR, p);
}

GgufBuilder& GgufBuilder::tensor(const std::string& name, std::vector<std::uint64_t> ne, std::uint32_t type, Bytes data,
                                 std::optional<std::uint64_t> offset) {
  const std::uint64_t at = offset ? *offset : (data_end_ + alignment - 1) / alignment * alignment;
  if (!data.empty()) data_end_ = std::max(data_end_, at + data.size());  // empty: only declared
  tensors_.push_back({name, std::move(ne), type, std::move(data), at});
  return *this;
}

GgufBuilder& GgufBuilder::tensor_f32(const std::string& name, std::vector<std::uint64_t> ne, const std::vector<float>& v) {
  Bytes data(v.size() * 4);
  std::memcpy(data.data(), v.data(), data.size());
  return tensor(name, std::move(ne), kGgmlF32, std::move(data));
}

Bytes GgufBuilder::bytes() const {
  Bytes b = {'G', 'G', 'U', 'F'};
  put_u32(b, version);
  put_u64(b, tensor_count ? *tensor_count : tensors_.size());
  put_u64(b, kv_count ? *kv_count : n_kv_);
  b.insert(b.end(), kv_.begin(), kv_.end());
  for (const Entry& t : tensors_) {
    put_str(b, t.name);
    put_u32(b, std::uint32_t(t.ne.size()));
    for (std::uint64_t d : t.ne) put_u64(b, d);
    put_u32(b, t.type);
    put_u64(b, t.offset);
  }
  const std::size_t data_start = (b.size() + alignment - 1) / alignment * alignment;
  b.resize(data_start + data_end_, 0);
  for (const Entry& t : tensors_) {
    if (!t.data.empty() && data_start + t.offset + t.data.size() <= b.size()) {
      std::memcpy(b.data() + data_start + t.offset, t.data.data(), t.data.size());
    }
  }
  if (truncate && *truncate < b.size()) b.resize(*truncate);
  return b;
}

void GgufBuilder::write(const std::string& path) const {
  const Bytes b = bytes();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

void add_small_tokenizer(GgufBuilder& b, int vocab_size) {
  std::vector<std::string> pieces = {"<unk>", "<s>", "</s>"};
  std::vector<std::int32_t> types = {2, 3, 3};
  if (vocab_size >= 259) {
    for (int i = 0; i < 256; i++) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "<0x%02X>", i);
      pieces.push_back(buf);
      types.push_back(6);
    }
  }
  for (int i = 0; int(pieces.size()) < vocab_size; i++) {
    std::string p = "\xE2\x96\x81";  // '▁'
    for (int k = i; ; k = k / 26 - 1) {
      p += char('a' + k % 26);
      if (k < 26) break;
    }
    pieces.push_back(p);
    types.push_back(1);
  }
  std::vector<float> scores(pieces.size());
  for (std::size_t i = 0; i < scores.size(); i++) scores[i] = -float(i);
  b.kv_str("tokenizer.ggml.model", "llama")
      .kv_str_array("tokenizer.ggml.tokens", pieces)
      .kv_f32_array("tokenizer.ggml.scores", scores)
      .kv_i32_array("tokenizer.ggml.token_type", types)
      .kv_u32("tokenizer.ggml.bos_token_id", 1)
      .kv_u32("tokenizer.ggml.eos_token_id", 2)
      .kv_u32("tokenizer.ggml.unknown_token_id", 0);
}

void add_llama_metadata(GgufBuilder& b, const Config& c) {
  b.kv_str("general.architecture", "llama")
      .kv_u32("llama.context_length", std::uint32_t(c.seq_len))
      .kv_u32("llama.embedding_length", std::uint32_t(c.dim))
      .kv_u32("llama.block_count", std::uint32_t(c.n_layers))
      .kv_u32("llama.feed_forward_length", std::uint32_t(c.hidden_dim))
      .kv_u32("llama.rope.dimension_count", std::uint32_t(c.head_size()))
      .kv_u32("llama.attention.head_count", std::uint32_t(c.n_heads))
      .kv_u32("llama.attention.head_count_kv", std::uint32_t(c.n_kv_heads))
      .kv_f32("llama.attention.layer_norm_rms_epsilon", c.norm_eps)
      .kv_f32("llama.rope.freq_base", c.rope_theta);
}

GgufBuilder llama_gguf_f32(const SyntheticWeights& w) {
  const Config& c = w.config;
  GgufBuilder b;
  add_llama_metadata(b, c);
  add_small_tokenizer(b, c.vocab_size);
  const std::uint64_t dim = c.dim, hidden = c.hidden_dim, kv_dim = c.kv_dim(), vocab = c.vocab_size, L = c.n_layers;
  auto slice = [](const std::vector<float>& v, std::size_t l, std::size_t n) {
    return std::vector<float>(v.begin() + std::ptrdiff_t(l * n), v.begin() + std::ptrdiff_t((l + 1) * n));
  };
  b.tensor_f32("token_embd.weight", {dim, vocab}, w.token_embedding);
  b.tensor_f32("output_norm.weight", {dim}, w.rms_final);
  if (!c.shared_classifier) b.tensor_f32("output.weight", {dim, vocab}, w.wcls);
  for (std::size_t l = 0; l < L; l++) {
    const std::string p = "blk." + std::to_string(l) + ".";
    b.tensor_f32(p + "attn_norm.weight", {dim}, slice(w.rms_att, l, dim));
    b.tensor_f32(p + "attn_q.weight", {dim, dim}, slice(w.wq, l, dim * dim));
    b.tensor_f32(p + "attn_k.weight", {dim, kv_dim}, slice(w.wk, l, kv_dim * dim));
    b.tensor_f32(p + "attn_v.weight", {dim, kv_dim}, slice(w.wv, l, kv_dim * dim));
    b.tensor_f32(p + "attn_output.weight", {dim, dim}, slice(w.wo, l, dim * dim));
    b.tensor_f32(p + "ffn_norm.weight", {dim}, slice(w.rms_ffn, l, dim));
    b.tensor_f32(p + "ffn_gate.weight", {dim, hidden}, slice(w.w1, l, hidden * dim));
    b.tensor_f32(p + "ffn_down.weight", {hidden, dim}, slice(w.w2, l, dim * hidden));
    b.tensor_f32(p + "ffn_up.weight", {dim, hidden}, slice(w.w3, l, hidden * dim));
  }
  return b;
}

SyntheticWeights weights_from_model(const Model& model) {
  SyntheticWeights w;
  w.config = model.config();
  auto rows = [](const Tensor& t, std::vector<float>& out) {
    const std::size_t at = out.size();
    out.resize(at + t.rows * t.cols);
    for (std::size_t r = 0; r < t.rows; r++) dequantize_row(t, r, out.data() + at + r * t.cols);
  };
  auto vec = [&](const float* p, std::vector<float>& out) { out.insert(out.end(), p, p + w.config.dim); };
  const Weights& m = model.weights();
  rows(m.token_embedding, w.token_embedding);
  rows(m.wcls, w.wcls);
  vec(m.rms_final, w.rms_final);
  for (const LayerWeights& l : m.layers) {
    vec(l.rms_att, w.rms_att);
    vec(l.rms_ffn, w.rms_ffn);
    rows(l.wq, w.wq);
    rows(l.wk, w.wk);
    rows(l.wv, w.wv);
    rows(l.wo, w.wo);
    rows(l.w1, w.w1);
    rows(l.w2, w.w2);
    rows(l.w3, w.w3);
  }
  return w;
}

Bytes random_blocks(std::uint32_t ggml_type, std::size_t rows, std::size_t cols, std::uint64_t seed) {
  WeightType type = WeightType::F32;
  for (WeightType t : {WeightType::Q8_0, WeightType::Q4_0, WeightType::Q4_1, WeightType::Q5_0, WeightType::Q5_1,
                       WeightType::Q2_K, WeightType::Q3_K, WeightType::Q4_K, WeightType::Q5_K, WeightType::Q6_K}) {
    if (std::uint32_t(ggml_type_id_for_test(t)) == ggml_type) type = t;
  }
  const BlockLayout layout = block_layout(type);
  const std::size_t n_blocks = rows * cols / layout.block_size;
  std::mt19937_64 rng(seed);
  Bytes b(n_blocks * layout.block_bytes);
  for (auto& x : b) x = std::uint8_t(rng());
  // Overwrite the fp16 scale fields with small positive values; the quants
  // and sub-block scales stay random.
  std::uniform_real_distribution<float> dist(0.2f, 1.0f);
  const float unit = 1.0f / std::sqrt(float(cols));
  auto set = [&](std::size_t block, std::size_t offset, float v) {
    const std::uint16_t h = fp32_to_fp16(v);
    std::memcpy(b.data() + block * layout.block_bytes + offset, &h, 2);
  };
  for (std::size_t i = 0; i < n_blocks; i++) {
    switch (type) {
      case WeightType::Q8_0: set(i, 0, dist(rng) * unit / 64); break;
      case WeightType::Q4_0: case WeightType::Q5_0: set(i, 0, dist(rng) * unit / 8); break;
      case WeightType::Q4_1: case WeightType::Q5_1:
        set(i, 0, dist(rng) * unit / 8);
        set(i, 2, -dist(rng) * unit);
        break;
      case WeightType::Q2_K: set(i, 80, dist(rng) * unit / 16); set(i, 82, dist(rng) * unit / 16); break;
      case WeightType::Q3_K: set(i, 108, dist(rng) * unit / 64); break;
      case WeightType::Q4_K: case WeightType::Q5_K: set(i, 0, dist(rng) * unit / 256); set(i, 2, dist(rng) * unit / 64); break;
      case WeightType::Q6_K: set(i, 208, dist(rng) * unit / 1024); break;
      default: break;
    }
  }
  return b;
}

}  // namespace llama2::test

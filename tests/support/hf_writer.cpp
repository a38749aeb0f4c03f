#include "support/hf_writer.hpp"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "kernels/fp16.hpp"

namespace llama2::test {

namespace fs = std::filesystem;

// --- safetensors ------------------------------------------------------------------

SafetensorsBuilder& SafetensorsBuilder::raw(const std::string& name, const std::string& dtype,
                                            std::vector<std::uint64_t> shape, StBytes data) {
  entries.push_back({name, dtype, std::move(shape), std::move(data), std::nullopt});
  return *this;
}

SafetensorsBuilder& SafetensorsBuilder::floats(const std::string& name, const std::string& dtype,
                                               std::vector<std::uint64_t> shape, const float* values) {
  std::size_t n = 1;
  for (std::uint64_t d : shape) n *= std::size_t(d);
  StBytes data;
  for (std::size_t i = 0; i < n; i++) {
    if (dtype == "F32") {
      std::uint8_t b[4];
      std::memcpy(b, &values[i], 4);
      data.insert(data.end(), b, b + 4);
    } else {
      const std::uint16_t h = dtype == "F16" ? fp32_to_fp16(values[i]) : fp32_to_bf16(values[i]);
      data.push_back(std::uint8_t(h & 0xFF));
      data.push_back(std::uint8_t(h >> 8));
    }
  }
  return raw(name, dtype, std::move(shape), std::move(data));
}

std::string SafetensorsBuilder::header() const {
  std::string h = "{";
  if (!metadata.empty()) {
    h += "\"__metadata__\":{";
    for (std::size_t i = 0; i < metadata.size(); i++) {
      h += (i ? "," : "") + ("\"" + metadata[i].first + "\":\"" + metadata[i].second + "\"");
    }
    h += "}";
  }
  std::uint64_t offset = 0;
  for (const Entry& e : entries) {
    if (h.size() > 1) h += ",";
    h += "\"" + e.name + "\":{\"dtype\":\"" + e.dtype + "\",\"shape\":[";
    for (std::size_t d = 0; d < e.shape.size(); d++) h += (d ? "," : "") + std::to_string(e.shape[d]);
    std::uint64_t begin = offset, end = offset + e.data.size();
    if (e.offsets) std::tie(begin, end) = *e.offsets;
    h += "],\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(end) + "]}";
    offset += e.data.size();
  }
  return h + "}";
}

StBytes SafetensorsBuilder::bytes() const {
  std::string h = header_text ? *header_text : header();
  if (pad_header) {
    while (h.size() % 8 != 0) h += ' ';
  }
  const std::uint64_t n = header_length ? *header_length : h.size();
  StBytes out;
  for (int i = 0; i < 8; i++) out.push_back(std::uint8_t(n >> (8 * i)));
  out.insert(out.end(), h.begin(), h.end());
  for (const Entry& e : entries) out.insert(out.end(), e.data.begin(), e.data.end());
  return out;
}

void SafetensorsBuilder::write(const std::string& path) const {
  const StBytes b = bytes();
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  if (!f) throw std::runtime_error("cannot write " + path);
}

// --- weights ----------------------------------------------------------------------

float round_to_dtype(float v, const std::string& dtype) {
  if (dtype == "F16") return fp16_to_fp32(fp32_to_fp16(v));
  if (dtype == "BF16") return bf16_to_fp32(fp32_to_bf16(v));
  return v;
}

SyntheticWeights round_weights(const SyntheticWeights& w, const std::string& dtype) {
  SyntheticWeights r = w;
  for (std::vector<float>* v : {&r.token_embedding, &r.rms_att, &r.wq, &r.wk, &r.wv, &r.wo, &r.rms_ffn, &r.w1, &r.w2,
                                &r.w3, &r.rms_final, &r.wcls}) {
    for (float& x : *v) x = round_to_dtype(x, dtype);
  }
  return r;
}

std::vector<float> hf_permute(const float* rows, int n_heads, int head_size, std::size_t cols) {
  const std::size_t hs = std::size_t(head_size), half = hs / 2;
  std::vector<float> out(std::size_t(n_heads) * hs * cols);
  for (std::size_t h = 0; h < std::size_t(n_heads); h++) {
    for (std::size_t j = 0; j < half; j++) {
      for (std::size_t e = 0; e < 2; e++) {
        const float* src = rows + (h * hs + 2 * j + e) * cols;
        std::memcpy(&out[(h * hs + e * half + j) * cols], src, cols * sizeof(float));
      }
    }
  }
  return out;
}

std::string hf_config_json(const Config& c, const std::string& extra) {
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"model_type\": \"llama\",\n"
                "  \"hidden_size\": %d,\n  \"intermediate_size\": %d,\n  \"num_hidden_layers\": %d,\n"
                "  \"num_attention_heads\": %d,\n  \"num_key_value_heads\": %d,\n  \"vocab_size\": %d,\n"
                "  \"max_position_embeddings\": %d,\n  \"rms_norm_eps\": %.9g,\n  \"rope_theta\": %.9g,\n"
                "  \"tie_word_embeddings\": %s,\n  \"hidden_act\": \"silu\",\n  \"rope_scaling\": null,\n"
                "  \"attention_bias\": false,\n  \"torch_dtype\": \"float16\",\n  \"bos_token_id\": 1,\n"
                "  \"eos_token_id\": 2",
                c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len, double(c.norm_eps),
                double(c.rope_theta), c.shared_classifier ? "true" : "false");
  std::string s = buf;
  if (!extra.empty()) s += ",\n  " + extra;
  return s + "\n}\n";
}

void write_hf_folder(const std::string& dir, const SyntheticWeights& w, const HfFolderOptions& o) {
  fs::create_directories(dir);
  const Config& c = w.config;
  if (o.write_config) std::ofstream(dir + "/config.json") << hf_config_json(c, o.extra_config);

  const std::uint64_t dim = c.dim, hidden = c.hidden_dim, kv_dim = c.kv_dim(), vocab = c.vocab_size;
  const int hs = c.head_size();
  // Every tensor in the order HF's save_pretrained writes them: by name.
  std::vector<SafetensorsBuilder> shards(std::size_t(o.n_shards));
  std::size_t next = 0;
  std::vector<std::pair<std::string, int>> weight_map;
  auto add = [&](const std::string& name, std::vector<std::uint64_t> shape, const float* v) {
    const int shard = int(next++ % shards.size());
    shards[std::size_t(shard)].floats(name, o.dtype, std::move(shape), v);
    weight_map.emplace_back(name, shard);
  };
  add("model.embed_tokens.weight", {vocab, dim}, w.token_embedding.data());
  for (std::size_t l = 0; l < std::size_t(c.n_layers); l++) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const std::vector<float> wq = hf_permute(&w.wq[l * dim * dim], c.n_heads, hs, dim);
    const std::vector<float> wk = hf_permute(&w.wk[l * kv_dim * dim], c.n_kv_heads, hs, dim);
    add(p + "input_layernorm.weight", {dim}, &w.rms_att[l * dim]);
    add(p + "mlp.down_proj.weight", {dim, hidden}, &w.w2[l * dim * hidden]);
    add(p + "mlp.gate_proj.weight", {hidden, dim}, &w.w1[l * hidden * dim]);
    add(p + "mlp.up_proj.weight", {hidden, dim}, &w.w3[l * hidden * dim]);
    add(p + "post_attention_layernorm.weight", {dim}, &w.rms_ffn[l * dim]);
    add(p + "self_attn.k_proj.weight", {kv_dim, dim}, wk.data());
    add(p + "self_attn.o_proj.weight", {dim, dim}, &w.wo[l * dim * dim]);
    add(p + "self_attn.q_proj.weight", {dim, dim}, wq.data());
    add(p + "self_attn.v_proj.weight", {kv_dim, dim}, &w.wv[l * kv_dim * dim]);
    if (o.write_inv_freq) {
      std::vector<float> inv_freq(std::size_t(hs / 2), 1.0f);
      add(p + "self_attn.rotary_emb.inv_freq", {std::uint64_t(hs / 2)}, inv_freq.data());
    }
  }
  add("model.norm.weight", {dim}, w.rms_final.data());
  if (!c.shared_classifier) add("lm_head.weight", {vocab, dim}, w.wcls.data());

  if (o.n_shards == 1) {
    shards[0].write(dir + "/model.safetensors");
    return;
  }
  auto shard_name = [&](int k) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "model-%05d-of-%05d.safetensors", k + 1, o.n_shards);
    return std::string(buf);
  };
  for (int k = 0; k < o.n_shards; k++) shards[std::size_t(k)].write(dir + "/" + shard_name(k));
  std::string index = "{\n  \"metadata\": {\"total_size\": 0},\n  \"weight_map\": {\n";
  for (std::size_t i = 0; i < weight_map.size(); i++) {
    index += "    \"" + weight_map[i].first + "\": \"" + shard_name(weight_map[i].second) + "\"";
    index += i + 1 < weight_map.size() ? ",\n" : "\n";
  }
  std::ofstream(dir + "/model.safetensors.index.json") << index << "  }\n}\n";
}

}  // namespace llama2::test

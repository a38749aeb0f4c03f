// A Model from a Hugging Face Llama checkpoint: a folder, or one
// .safetensors file with the folder's config.json beside it.
//
// A Llama-2 folder on the hub holds:
//   config.json                      the shapes (read below) and the
//                                    architecture, "LlamaForCausalLM"
//   model.safetensors                all the tensors (safetensors.hpp), or
//   model.safetensors.index.json     {"metadata": {...}, "weight_map":
//     + model-0000K-of-0000N.safetensors   {"tensor name": "shard file", ...}}
//   tokenizer.model                  SentencePiece (sentencepiece_model.cpp)
//
// config.json fields we read (HF LlamaConfig's names; default when absent):
//   hidden_size -> dim, intermediate_size -> hidden_dim,
//   num_hidden_layers -> n_layers, num_attention_heads -> n_heads,
//   num_key_value_heads -> n_kv_heads (num_attention_heads),
//   vocab_size, max_position_embeddings -> seq_len,
//   rms_norm_eps -> norm_eps (1e-6), rope_theta (10000),
//   tie_word_embeddings -> shared_classifier (false).
// Settings the engine does not implement are refused by name, never
// ignored: another architecture or model_type, rope_scaling other than null,
// attention_bias or mlp_bias true, head_dim other than hidden_size /
// num_attention_heads, hidden_act other than "silu". torch_dtype says
// nothing we need (each tensor has its own dtype).
//
// Tensor names (PyTorch's module paths) and what they are here:
//   model.embed_tokens.weight                         token_embedding (vocab, dim)
//   model.layers.N.input_layernorm.weight             rms_att (dim)
//   model.layers.N.self_attn.{q,k,v,o}_proj.weight    wq wk wv wo
//   model.layers.N.post_attention_layernorm.weight    rms_ffn (dim)
//   model.layers.N.mlp.{gate,up,down}_proj.weight     w1 w3 w2
//   model.norm.weight                                 rms_final (dim)
//   lm_head.weight                                    wcls; absent when tied
// (model.layers.N.self_attn.rotary_emb.inv_freq, which old exports carry,
// is derived from rope_theta and skipped; any other tensor is refused.)
//
// RoPE: HF's converter permuted each head's q_proj/k_proj rows from Meta's
// interleaved pairs (2i, 2i+1) to (i, i + head_size/2), the pairing of its
// rotate-half RoPE. We do not permute them back (that would copy the
// weights): Config::rope_style = ROTATE_HALF makes RoPE use HF's pairing,
// which gives the same attention scores. k_proj has num_key_value_heads
// heads; the permutation is per head, so GQA needs nothing more.
//
// Matrices stay in the mapping in the dtype they are stored in (F32, F16 or
// BF16; each shard is mapped on its own). The norm weights are the one copy:
// the engine reads them as floats, and HF stores them as F16/BF16 like the
// rest, so they are converted once into floats the Model owns (dim * (2 *
// n_layers + 1) floats: 1 MB for 7B).
#include <sys/stat.h>

#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "formats/checkpoint_readers.hpp"
#include "formats/json.hpp"
#include "formats/safetensors.hpp"
#include "kernels/fp16.hpp"
#include "llama2/error.hpp"

namespace llama2 {

namespace {

namespace fs = std::filesystem;

// What the Model keeps alive: every shard's mapping and the norm weights.
struct HfStorage {
  std::vector<SafetensorsFile> shards;
  std::deque<std::vector<float>> norms;  // deque: pointers stay valid as it grows
};

std::string read_text_file(const std::string& path, const std::string& why) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw Error(path + ": cannot open: no such file" + why);
  return std::string(reinterpret_cast<const char*>(MappedFile(path).data()), std::size_t(st.st_size));
}

// --- config.json --------------------------------------------------------------------

Config read_hf_config(const std::string& path, const std::string& why_needed) {
  const std::string text = read_text_file(path, why_needed);
  const json::Value cfg = json::parse(text, path);
  const std::string ctx = path;
  auto field = [&](const char* key) { return ctx + ": field \"" + key + "\""; };

  // The architecture: LlamaForCausalLM only, by name.
  const json::Value& archs = cfg.at("architectures", ctx);
  const auto& list = archs.as_array(field("architectures"));
  if (list.size() != 1 || list[0].type() != json::Type::STRING || list[0].as_string("") != "LlamaForCausalLM") {
    std::string found = "[";
    for (std::size_t i = 0; i < list.size() && i < 4; i++) found += (i ? ", " : "") + list[i].describe();
    found += list.size() > 4 ? ", ...]" : "]";
    throw Error(field("architectures") + " = " + found + ", expected [\"LlamaForCausalLM\"] (the only one supported)");
  }
  if (const json::Value* mt = cfg.find("model_type")) {
    if (mt->as_string(field("model_type")) != "llama") {
      throw Error(field("model_type") + " = " + mt->describe() + ", expected \"llama\"");
    }
  }

  // Settings we do not implement.
  if (const json::Value* rs = cfg.find("rope_scaling"); rs && !rs->is_null()) {
    throw Error(field("rope_scaling") + " = " + rs->describe() +
                ": RoPE scaling is not supported (only null, plain RoPE)");
  }
  for (const char* key : {"attention_bias", "mlp_bias"}) {
    if (const json::Value* b = cfg.find(key); b && b->as_bool(field(key))) {
      throw Error(field(key) + " = true: biases are not supported (Llama-2 has none)");
    }
  }
  if (const json::Value* act = cfg.find("hidden_act"); act && act->as_string(field("hidden_act")) != "silu") {
    throw Error(field("hidden_act") + " = " + act->describe() + ", expected \"silu\" (SwiGLU, the only one supported)");
  }

  auto size = [&](const char* key, std::int64_t max) {
    return int(cfg.at(key, ctx).as_int(field(key), 1, max));
  };
  Config c;
  c.dim = size("hidden_size", 1 << 16);
  c.hidden_dim = size("intermediate_size", 1 << 18);
  c.n_layers = size("num_hidden_layers", 1 << 12);
  c.n_heads = size("num_attention_heads", 1 << 12);
  c.n_kv_heads = cfg.find("num_key_value_heads") ? size("num_key_value_heads", 1 << 12) : c.n_heads;
  c.vocab_size = size("vocab_size", 1 << 24);
  c.seq_len = size("max_position_embeddings", 1 << 24);
  if (c.dim % c.n_heads != 0) {
    throw Error(ctx + ": hidden_size = " + std::to_string(c.dim) + " is not a multiple of num_attention_heads = " +
                std::to_string(c.n_heads));
  }
  if (c.n_kv_heads > c.n_heads || c.n_heads % c.n_kv_heads != 0) {
    throw Error(ctx + ": num_attention_heads = " + std::to_string(c.n_heads) +
                " is not a multiple of num_key_value_heads = " + std::to_string(c.n_kv_heads));
  }
  if (const json::Value* hd = cfg.find("head_dim"); hd && !hd->is_null()) {
    const std::int64_t head_dim = hd->as_int(field("head_dim"), 1, 1 << 16);
    if (head_dim != c.head_size()) {
      throw Error(field("head_dim") + " = " + std::to_string(head_dim) + ", but hidden_size / num_attention_heads = " +
                  std::to_string(c.head_size()) + ": a head size of its own is not supported");
    }
  }
  auto positive = [&](const char* key, double fallback) {
    const json::Value* v = cfg.find(key);
    if (!v) return fallback;
    const double x = v->as_number(field(key));
    if (!(x > 0.0) || x > 1e30) throw Error(field(key) + " = " + v->describe() + ", expected a positive number");
    return x;
  };
  c.norm_eps = float(positive("rms_norm_eps", 1e-6));
  c.rope_theta = float(positive("rope_theta", 10000.0));
  c.shared_classifier = false;
  if (const json::Value* tie = cfg.find("tie_word_embeddings")) c.shared_classifier = tie->as_bool(field("tie_word_embeddings"));
  c.rope_style = RopeStyle::ROTATE_HALF;
  validate_config(c, path);
  return c;
}

// --- the safetensors files ----------------------------------------------------------

// A shard's file name from the index: a plain name inside the folder.
std::string shard_path(const std::string& dir, const std::string& index_path, const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    throw Error(index_path + ": weight_map names the shard " + json::quote(name) +
                ", expected a file name in the same folder");
  }
  return (fs::path(dir) / name).string();
}

// The shards of a folder, each mapped on its own.
std::vector<SafetensorsFile> open_folder_shards(const std::string& dir) {
  std::vector<SafetensorsFile> shards;
  const std::string single = (fs::path(dir) / "model.safetensors").string();
  const std::string index_path = (fs::path(dir) / "model.safetensors.index.json").string();
  std::error_code ec;
  if (fs::exists(single, ec)) {
    shards.emplace_back(std::make_shared<MappedFile>(single));
    return shards;
  }
  if (!fs::exists(index_path, ec)) {
    std::string hint;
    if (fs::exists(fs::path(dir) / "pytorch_model.bin", ec) || fs::exists(fs::path(dir) / "pytorch_model.bin.index.json", ec)) {
      hint = " (pytorch_model.bin, PyTorch's pickle format, is not supported: use the safetensors files)";
    }
    throw Error(dir + ": a Hugging Face folder needs model.safetensors or model.safetensors.index.json, found neither" +
                hint);
  }
  const std::string text = read_text_file(index_path, "");
  const json::Value index = json::parse(text, index_path);
  const json::Value& map = index.at("weight_map", index_path);
  const std::string what = index_path + ": field \"weight_map\"";
  const auto& names = map.keys(what);
  const auto& files = map.values(what);
  std::map<std::string, std::vector<std::string>> tensors_of;  // shard file -> tensor names, sorted by file
  for (std::size_t i = 0; i < names.size(); i++) {
    const std::string& file = files[i].as_string(what + " " + json::quote(names[i]));
    tensors_of[shard_path(dir, index_path, file)].push_back(names[i]);
  }
  if (tensors_of.empty()) throw Error(what + " is empty, expected the tensors' shard files");
  for (const auto& [file, tensors] : tensors_of) {
    if (!fs::exists(file, ec)) {
      throw Error(index_path + ": weight_map names the shard " + json::quote(fs::path(file).filename().string()) +
                  " (for tensor " + json::quote(tensors[0]) + "), which is not in " + dir);
    }
    shards.emplace_back(std::make_shared<MappedFile>(file));
    for (const std::string& t : tensors) {
      if (!shards.back().find(t)) {
        throw Error(index_path + ": weight_map puts tensor " + json::quote(t) + " in " + file + ", which does not have it");
      }
    }
  }
  return shards;
}

// --- the tensors ---------------------------------------------------------------------

class TensorTable {
 public:
  explicit TensorTable(const std::vector<SafetensorsFile>& shards) {
    for (const SafetensorsFile& s : shards) {
      for (const SafetensorsTensor& t : s.tensors()) {
        if (!by_name_.emplace(t.name, Entry{&t, &s, false}).second) {
          throw Error(s.path() + ": tensor " + json::quote(t.name) + " is also in " + by_name_[t.name].file->path());
        }
      }
    }
  }

  const SafetensorsTensor& get(const std::string& name, std::size_t rows, std::size_t cols, bool matrix) {
    auto it = by_name_.find(name);
    if (it == by_name_.end()) throw Error(where() + ": tensor " + json::quote(name) + " is missing");
    it->second.used = true;
    const SafetensorsTensor& t = *it->second.tensor;
    const std::vector<std::uint64_t> want = matrix ? std::vector<std::uint64_t>{rows, cols} : std::vector<std::uint64_t>{cols};
    if (t.shape != want) {
      throw Error(it->second.file->path() + ": tensor " + json::quote(name) + " has shape " + shape_string(t.shape) +
                  ", expected " + shape_string(want));
    }
    return t;
  }

  // Every tensor not used must be one we know to skip.
  void check_all_used() const {
    for (const auto& [name, e] : by_name_) {
      if (e.used) continue;
      if (name.ends_with(".rotary_emb.inv_freq")) continue;
      throw Error(e.file->path() + ": tensor " + json::quote(name) + " (" + e.tensor->dtype + " " +
                  shape_string(e.tensor->shape) + ") is not part of a Llama model; refusing rather than ignoring it");
    }
  }

  void set_where(std::string w) { where_ = std::move(w); }

 private:
  struct Entry {
    const SafetensorsTensor* tensor;
    const SafetensorsFile* file;
    bool used;
  };
  static std::string shape_string(const std::vector<std::uint64_t>& s) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.size(); i++) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
  }
  const std::string& where() const { return where_; }

  std::map<std::string, Entry> by_name_;
  std::string where_;
};

Tensor matrix(TensorTable& table, const std::string& name, std::size_t rows, std::size_t cols) {
  const SafetensorsTensor& s = table.get(name, rows, cols, true);
  Tensor t;
  t.type = s.type;
  t.data = s.data;
  t.rows = rows;
  t.cols = cols;
  return t;
}

const float* norm(TensorTable& table, const std::string& name, std::size_t dim, HfStorage& storage) {
  const SafetensorsTensor& s = table.get(name, 0, dim, false);
  std::vector<float>& out = storage.norms.emplace_back(dim);
  for (std::size_t i = 0; i < dim; i++) {
    if (s.type == WeightType::F32) {
      std::memcpy(&out[i], s.data + 4 * i, 4);
    } else {
      std::uint16_t h;
      std::memcpy(&h, s.data + 2 * i, 2);
      out[i] = s.type == WeightType::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
    }
  }
  return out.data();
}

}  // namespace

Model load_hf_model(const std::string& path, std::shared_ptr<MappedFile> single_file) {
  const bool is_folder = single_file == nullptr;
  const std::string dir = is_folder ? path : fs::path(path).parent_path().string();
  const std::string config_path = (fs::path(dir.empty() ? "." : dir) / "config.json").string();
  auto storage = std::make_shared<HfStorage>();
  // One file: its own header first, so that a broken file says so.
  if (!is_folder) storage->shards.emplace_back(std::move(single_file));
  const Config c = read_hf_config(
      config_path, is_folder ? " (a Hugging Face folder has its config.json)"
                             : " (a .safetensors file holds no shapes: its folder's config.json must be beside it)");
  if (is_folder) storage->shards = open_folder_shards(dir);
  TensorTable table(storage->shards);
  table.set_where(is_folder ? dir : path);

  const std::size_t dim = c.dim, hidden = c.hidden_dim, q_dim = std::size_t(c.n_heads) * c.head_size(),
                    kv_dim = c.kv_dim(), vocab = c.vocab_size;
  Weights w;
  w.token_embedding = matrix(table, "model.embed_tokens.weight", vocab, dim);
  w.rms_final = norm(table, "model.norm.weight", dim, *storage);
  if (c.shared_classifier) {
    w.wcls = w.token_embedding;
  } else {
    w.wcls = matrix(table, "lm_head.weight", vocab, dim);
  }
  w.layers.resize(std::size_t(c.n_layers));
  for (std::size_t l = 0; l < w.layers.size(); l++) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    LayerWeights& lw = w.layers[l];
    lw.rms_att = norm(table, p + "input_layernorm.weight", dim, *storage);
    lw.wq = matrix(table, p + "self_attn.q_proj.weight", q_dim, dim);
    lw.wk = matrix(table, p + "self_attn.k_proj.weight", kv_dim, dim);
    lw.wv = matrix(table, p + "self_attn.v_proj.weight", kv_dim, dim);
    lw.wo = matrix(table, p + "self_attn.o_proj.weight", dim, q_dim);
    lw.rms_ffn = norm(table, p + "post_attention_layernorm.weight", dim, *storage);
    lw.w1 = matrix(table, p + "mlp.gate_proj.weight", hidden, dim);
    lw.w2 = matrix(table, p + "mlp.down_proj.weight", dim, hidden);
    lw.w3 = matrix(table, p + "mlp.up_proj.weight", hidden, dim);
  }
  table.check_all_used();  // e.g. lm_head.weight in a tied model, a bias, another layer
  std::size_t total = 0;
  for (const SafetensorsFile& s : storage->shards) total += s.file()->size();
  return Model(c, std::move(w), is_folder ? ModelFormat::HF : ModelFormat::SAFETENSORS, path, total,
               std::move(storage));
}

}  // namespace llama2

// A Model from a GGUF file of architecture "llama" (container format in gguf.hpp).
//
// The hyperparameters are metadata keys under "llama.":
//   context_length, embedding_length, block_count, feed_forward_length,
//   attention.head_count, attention.head_count_kv (default: head_count),
//   attention.layer_norm_rms_epsilon, rope.freq_base (default 10000),
//   rope.dimension_count (default and only accepted value: the head size)
// and the weights are tensors named as llama.cpp names them:
//   token_embd.weight                 (vocab, dim)
//   blk.N.attn_norm.weight            (dim)
//   blk.N.attn_q / attn_k / attn_v / attn_output .weight
//   blk.N.ffn_norm.weight             (dim)
//   blk.N.ffn_gate / ffn_up / ffn_down .weight   (w1 / w3 / w2)
//   output_norm.weight                (dim)
//   output.weight                     (vocab, dim); absent: tied to token_embd
// GGUF lists dimensions fastest first, so a (rows, cols) matrix has
// ne = {cols, rows}. llama.cpp's converters store wq and wk in Meta's
// original layout, in which RoPE rotates adjacent pairs (2i, 2i+1) exactly
// as llama2.c does, so the matrices are used as they are. Matrices are used
// in place from the mapping; norm weights not stored as F32 are converted
// once into floats the model owns.
#include <deque>
#include <string>
#include <vector>

#include "formats/checkpoint_readers.hpp"
#include "formats/gguf.hpp"
#include "llama2/error.hpp"
#include "kernels/quants.hpp"

namespace llama2 {

namespace {

// What the Model keeps alive: the mapping and any converted norm weights.
struct GgufStorage {
  std::shared_ptr<MappedFile> file;
  std::deque<std::vector<float>> owned;  // deque: pointers stay valid as it grows
};

int get_int(const GgufFile& f, const std::string& key, std::uint64_t max) {
  const std::uint64_t v = f.get_uint(key);
  if (v > max) {
    throw Error(f.path() + ": metadata \"" + key + "\" = " + std::to_string(v) + ", expected at most " +
                std::to_string(max));
  }
  return int(v);
}

std::string shape_string(const GgufTensorInfo& t) {
  std::string s = "[";
  for (std::uint32_t d = 0; d < t.n_dims; d++) s += (d ? ", " : "") + std::to_string(t.ne[d]);
  return s + "]";
}

const GgufTensorInfo& require_tensor(const GgufFile& f, const std::string& name) {
  const GgufTensorInfo* t = f.find_tensor(name);
  if (!t) throw Error(f.path() + ": tensor \"" + name + "\" is missing");
  return *t;
}

// A (rows, cols) matrix: ne = {cols, rows}.
Tensor matrix(const GgufFile& f, const std::string& name, std::size_t rows, std::size_t cols) {
  const GgufTensorInfo& t = require_tensor(f, name);
  if (t.ne[0] != cols || t.ne[1] != rows || t.ne[2] != 1 || t.ne[3] != 1) {
    throw Error(f.path() + ": tensor \"" + name + "\" has shape " + shape_string(t) + ", expected [" +
                std::to_string(cols) + ", " + std::to_string(rows) + "]");
  }
  Tensor out;
  out.type = t.type;
  out.data = t.data;
  out.rows = rows;
  out.cols = cols;
  return out;
}

// A vector of n floats, converted into `storage` unless it is F32 already.
const float* norm(const GgufFile& f, const std::string& name, std::size_t n, GgufStorage& storage) {
  const GgufTensorInfo& t = require_tensor(f, name);
  if (t.n_elements() != n || t.ne[0] != n) {
    throw Error(f.path() + ": tensor \"" + name + "\" has shape " + shape_string(t) + ", expected [" +
                std::to_string(n) + "]");
  }
  if (t.type == WeightType::F32) return reinterpret_cast<const float*>(t.data);
  std::vector<float>& v = storage.owned.emplace_back(n);  // (n)
  dequantize_blocks(t.type, t.data, v.data(), n);
  return v.data();
}

Config read_config(const GgufFile& f) {
  if (!f.find("general.architecture")) {
    throw Error(f.path() + ": metadata key \"general.architecture\" is missing (a GGUF without a model?)");
  }
  const std::string_view arch = f.get_string("general.architecture");
  if (arch != "llama") {
    throw Error(f.path() + ": architecture \"" + std::string(arch.substr(0, 40)) +
                "\" is not supported, expected \"llama\"");
  }
  constexpr std::uint64_t kIntMax = 0x7FFFFFFF;
  Config c;
  c.dim = get_int(f, "llama.embedding_length", kIntMax);
  c.hidden_dim = get_int(f, "llama.feed_forward_length", kIntMax);
  c.n_layers = get_int(f, "llama.block_count", kIntMax);
  c.n_heads = get_int(f, "llama.attention.head_count", kIntMax);
  c.n_kv_heads = f.find("llama.attention.head_count_kv") ? get_int(f, "llama.attention.head_count_kv", kIntMax)
                                                          : c.n_heads;
  c.seq_len = get_int(f, "llama.context_length", kIntMax);
  c.norm_eps = float(f.get_float("llama.attention.layer_norm_rms_epsilon"));
  c.rope_theta = float(f.get_float("llama.rope.freq_base", 10000.0));
  if (const GgufValue* s = f.find("llama.rope.scaling.type")) {
    const std::string_view type = f.get_string("llama.rope.scaling.type");
    const double factor = f.get_float("llama.rope.scaling.factor", 1.0);
    if (type != "none" && factor != 1.0) {
      (void)s;
      throw Error(f.path() + ": RoPE scaling \"" + std::string(type.substr(0, 40)) + "\" (factor " +
                  std::to_string(factor) + ") is not supported");
    }
  }
  // The vocabulary size is the embedding table's row count.
  const GgufTensorInfo& embd = require_tensor(f, "token_embd.weight");
  if (embd.ne[1] > kIntMax) {
    throw Error(f.path() + ": tensor \"token_embd.weight\" has " + std::to_string(embd.ne[1]) + " rows, too many");
  }
  c.vocab_size = int(embd.ne[1]);
  c.shared_classifier = f.find_tensor("output.weight") == nullptr;
  validate_config(c, f.path());
  if (f.find("llama.rope.dimension_count")) {
    const std::uint64_t rope_dim = f.get_uint("llama.rope.dimension_count");
    if (rope_dim != std::uint64_t(c.head_size())) {
      throw Error(f.path() + ": metadata \"llama.rope.dimension_count\" = " + std::to_string(rope_dim) +
                  ", expected the head size " + std::to_string(c.head_size()) + " (partial RoPE is not supported)");
    }
  }
  if (f.find("llama.vocab_size") && f.get_uint("llama.vocab_size") != std::uint64_t(c.vocab_size)) {
    throw Error(f.path() + ": metadata \"llama.vocab_size\" = " + std::to_string(f.get_uint("llama.vocab_size")) +
                " but token_embd.weight has " + std::to_string(c.vocab_size) + " rows");
  }
  if (const GgufValue* tokens = f.find("tokenizer.ggml.tokens");
      tokens && tokens->type == GgufValueType::ARRAY && tokens->count != std::uint64_t(c.vocab_size)) {
    throw Error(f.path() + ": metadata \"tokenizer.ggml.tokens\" has " + std::to_string(tokens->count) +
                " tokens but token_embd.weight has " + std::to_string(c.vocab_size) + " rows");
  }
  if (f.find_tensor("rope_freqs.weight")) {
    throw Error(f.path() + ": tensor \"rope_freqs.weight\" (per-frequency RoPE factors, Llama 3.1 style) is not supported");
  }
  return c;
}

}  // namespace

Model load_gguf_model(std::shared_ptr<MappedFile> file) {
  GgufFile f(file->data(), file->size(), file->path());
  const Config c = read_config(f);
  auto storage = std::make_shared<GgufStorage>();
  storage->file = file;

  const std::size_t dim = c.dim, hidden = c.hidden_dim, q_dim = std::size_t(c.n_heads) * c.head_size(),
                    kv_dim = c.kv_dim(), vocab = c.vocab_size;
  Weights w;
  w.token_embedding = matrix(f, "token_embd.weight", vocab, dim);
  w.wcls = c.shared_classifier ? w.token_embedding : matrix(f, "output.weight", vocab, dim);
  w.rms_final = norm(f, "output_norm.weight", dim, *storage);
  w.layers.resize(std::size_t(c.n_layers));
  for (std::size_t l = 0; l < w.layers.size(); l++) {
    const std::string p = "blk." + std::to_string(l) + ".";
    LayerWeights& lw = w.layers[l];
    lw.rms_att = norm(f, p + "attn_norm.weight", dim, *storage);
    lw.wq = matrix(f, p + "attn_q.weight", q_dim, dim);
    lw.wk = matrix(f, p + "attn_k.weight", kv_dim, dim);
    lw.wv = matrix(f, p + "attn_v.weight", kv_dim, dim);
    lw.wo = matrix(f, p + "attn_output.weight", dim, q_dim);
    lw.rms_ffn = norm(f, p + "ffn_norm.weight", dim, *storage);
    lw.w1 = matrix(f, p + "ffn_gate.weight", hidden, dim);
    lw.w2 = matrix(f, p + "ffn_down.weight", dim, hidden);
    lw.w3 = matrix(f, p + "ffn_up.weight", hidden, dim);
  }
  const std::string path = file->path();
  const std::size_t size = file->size();
  return Model(c, std::move(w), ModelFormat::GGUF, path, size, std::move(storage));
}

}  // namespace llama2

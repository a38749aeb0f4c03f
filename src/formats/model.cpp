// Model: format detection, Config validation and the shape checks every
// loader shares. The readers themselves are llama2c_checkpoint.cpp,
// gguf_model.cpp and hf_model.cpp.
#include "llama2/model.hpp"

#include <sys/stat.h>

#include <cstring>
#include <utility>

#include "formats/checked_math.hpp"
#include "formats/checkpoint_readers.hpp"
#include "formats/safetensors.hpp"
#include "llama2/error.hpp"

namespace llama2 {

std::string_view model_format_name(ModelFormat format) {
  switch (format) {
    case ModelFormat::LLAMA2C_V0: return "llama2.c v0 (legacy fp32)";
    case ModelFormat::LLAMA2C_V1: return "llama2.c v1 (fp32)";
    case ModelFormat::LLAMA2C_V2: return "llama2.c v2 (int8)";
    case ModelFormat::GGUF: return "GGUF";
    case ModelFormat::HF: return "Hugging Face folder (safetensors)";
    case ModelFormat::SAFETENSORS: return "safetensors";
  }
  return "unknown";
}

Model::Model(Config config, Weights weights, ModelFormat format, std::string path, std::size_t file_size,
             std::shared_ptr<const void> storage)
    : config_(config),
      weights_(std::move(weights)),
      format_(format),
      path_(std::move(path)),
      file_size_(file_size),
      storage_(std::move(storage)),
      kernel_weights_(std::make_shared<KernelWeights>()) {
  validate();
}

Model Model::load(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return load_hf_model(path, nullptr);
  auto file = std::make_shared<MappedFile>(path);
  if (file->size() >= 4 && std::memcmp(file->data(), "GGUF", 4) == 0) {
    Model model = load_gguf_model(file);
    model.file_ = std::move(file);  // its Q4_0 matrices may be repacked (kernel_weights)
    return model;
  }
  // By content; a file named *.safetensors too, so a broken header gets
  // the safetensors reader's error rather than the llama2.c reader's.
  if (looks_like_safetensors(file->data(), file->size()) || path.ends_with(".safetensors")) {
    return load_hf_model(path, std::move(file));
  }
  return load_llama2c_checkpoint(std::move(file));
}

// --- validation ------------------------------------------------------------------

namespace {

void check_range(const std::string& path, const char* field, long long value, long long lo, long long hi) {
  if (value < lo || value > hi) {
    throw Error(path + ": " + field + " = " + std::to_string(value) + ", expected a value in [" + std::to_string(lo) +
                ", " + std::to_string(hi) + "]");
  }
}

}  // namespace

// Upper bounds far above any Llama-2 (70B: dim 8192, hidden 28672, 80 layers,
// 64 heads, vocab 32000, context 4096) but low enough that no product of two
// or three of them overflows 64 bits.
void validate_config(const Config& c, const std::string& path) {
  check_range(path, "dim", c.dim, 1, 1 << 16);
  check_range(path, "hidden_dim", c.hidden_dim, 1, 1 << 18);
  check_range(path, "n_layers", c.n_layers, 1, 1 << 12);
  check_range(path, "n_heads", c.n_heads, 1, 1 << 12);
  check_range(path, "n_kv_heads", c.n_kv_heads, 1, c.n_heads);
  check_range(path, "vocab_size", c.vocab_size, 1, 1 << 24);
  check_range(path, "seq_len", c.seq_len, 1, 1 << 24);
  if (c.dim % c.n_heads != 0) {
    throw Error(path + ": dim = " + std::to_string(c.dim) + " is not a multiple of n_heads = " + std::to_string(c.n_heads));
  }
  if (c.n_heads % c.n_kv_heads != 0) {
    throw Error(path + ": n_heads = " + std::to_string(c.n_heads) + " is not a multiple of n_kv_heads = " +
                std::to_string(c.n_kv_heads));
  }
  if (c.head_size() % 2 != 0) {
    throw Error(path + ": head_size = dim / n_heads = " + std::to_string(c.head_size()) +
                " is odd; RoPE rotates pairs and needs an even head size");
  }
  if (!(c.rope_theta > 0.0f) || !(c.norm_eps >= 0.0f)) {
    throw Error(path + ": rope_theta = " + std::to_string(c.rope_theta) + ", norm_eps = " + std::to_string(c.norm_eps) +
                ": expected positive values");
  }
}

namespace {

void check_tensor(const std::string& path, const char* name, const Tensor& t, std::size_t rows, std::size_t cols) {
  if (t.data == nullptr) throw Error(path + ": tensor " + name + " is missing");
  if (t.rows != rows || t.cols != cols) {
    throw Error(path + ": tensor " + name + " has shape (" + std::to_string(t.rows) + ", " + std::to_string(t.cols) +
                "), expected (" + std::to_string(rows) + ", " + std::to_string(cols) + ")");
  }
  if (t.type == WeightType::Q8_GROUP && (t.scales == nullptr || t.group_size <= 0)) {
    throw Error(path + ": tensor " + name + " is int8 without group scales");
  }
}

}  // namespace

void Model::validate() const {
  const Config& c = config_;
  validate_config(c, path_);
  const std::size_t dim = c.dim, hidden = c.hidden_dim, q_dim = std::size_t(c.n_heads) * c.head_size(),
                    kv_dim = c.kv_dim(), vocab = c.vocab_size;
  const Weights& w = weights_;
  check_tensor(path_, "token_embedding", w.token_embedding, vocab, dim);
  check_tensor(path_, "classifier", w.wcls, vocab, dim);
  if (w.rms_final == nullptr) throw Error(path_ + ": final rmsnorm weights are missing");
  if (w.layers.size() != std::size_t(c.n_layers)) {
    throw Error(path_ + ": " + std::to_string(w.layers.size()) + " layers, expected n_layers = " +
                std::to_string(c.n_layers));
  }
  for (const LayerWeights& l : w.layers) {
    if (l.rms_att == nullptr || l.rms_ffn == nullptr) throw Error(path_ + ": rmsnorm weights of a layer are missing");
    check_tensor(path_, "wq", l.wq, q_dim, dim);
    check_tensor(path_, "wk", l.wk, kv_dim, dim);
    check_tensor(path_, "wv", l.wv, kv_dim, dim);
    check_tensor(path_, "wo", l.wo, dim, q_dim);
    check_tensor(path_, "w1", l.w1, hidden, dim);
    check_tensor(path_, "w2", l.w2, dim, hidden);
    check_tensor(path_, "w3", l.w3, hidden, dim);
  }
}

}  // namespace llama2

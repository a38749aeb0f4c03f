// Reader for llama2.c checkpoints (karpathy/llama2.c run.c, runq.c, export.py).
//
// Three layouts exist, all little-endian:
//
// v0 ("legacy", run.c): a header of 7 int32
//     dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
//   where a negative vocab_size means the classifier is stored separately.
//   Then fp32 tensors, each over all layers at once:
//     token_embedding (vocab, dim), rms_att (layer, dim), wq (layer, dim, dim),
//     wk (layer, kv_dim, dim), wv (layer, kv_dim, dim), wo (layer, dim, dim),
//     rms_ffn (layer, dim), w1 (layer, hidden, dim), w2 (layer, dim, hidden),
//     w3 (layer, hidden, dim), rms_final (dim), two unused RoPE tables
//     (seq_len, head_size / 2) each, and the classifier (vocab, dim) if not shared.
//
// v1 (export.py version 1): uint32 magic 0x616b3432 ("ak42"), int32 version 1,
//   the same 7 int32, uint8 shared_classifier, zero padding to 256 bytes. Then
//   fp32: rms_att, rms_ffn (all layers), rms_final, token_embedding, wq, wk,
//   wv, wo, w1, w2, w3 (all layers each), classifier if not shared.
//
// v2 (export.py version 2, runq.c): as v1 but version 2 and an int32
//   group_size after shared_classifier. Then fp32 rms_att, rms_ffn, rms_final,
//   and every matrix in int8: token_embedding, wq[0..L), wk[..], wv, wo, w1,
//   w2, w3, classifier if not shared, each as all its int8 values followed by
//   one fp32 scale per group of group_size values (w = q * scale).
//
// Every size is computed in size_t with overflow checks and the file must be
// exactly as long as the header implies.
#include <cstdint>
#include <cstring>
#include <string>

#include "formats/checked_math.hpp"
#include "formats/checkpoint_readers.hpp"
#include "llama2/error.hpp"

namespace llama2 {

namespace {

constexpr std::uint32_t kMagic = 0x616b3432;  // "ak42"
constexpr std::size_t kV1HeaderBytes = 256;

std::int32_t read_i32(const MappedFile& f, std::size_t offset) {
  std::int32_t v;
  std::memcpy(&v, f.data() + offset, sizeof v);
  return v;
}

// Hands out consecutive regions of the file, checking bounds and alignment.
class Cursor {
 public:
  Cursor(const MappedFile& file, std::size_t offset) : file_(file), offset_(offset) {}

  // `count` elements of `elem_bytes` bytes each; returns a pointer into the mapping.
  const void* take(std::size_t count, std::size_t elem_bytes, const std::string& what) {
    std::size_t bytes = checked_mul(count, elem_bytes, file_.path() + ": " + what);
    std::size_t end = checked_add(offset_, bytes, file_.path() + ": " + what);
    if (end > file_.size()) {
      throw Error(file_.path() + ": truncated: " + what + " needs bytes [" + std::to_string(offset_) + ", " +
                  std::to_string(end) + ") but the file has " + std::to_string(file_.size()) + " bytes");
    }
    if (offset_ % elem_bytes != 0) {
      throw Error(file_.path() + ": " + what + " starts at offset " + std::to_string(offset_) +
                  ", not aligned to " + std::to_string(elem_bytes) + " bytes");
    }
    const void* p = file_.data() + offset_;
    offset_ = end;
    return p;
  }
  const float* floats(std::size_t count, const std::string& what) {
    return static_cast<const float*>(take(count, sizeof(float), what));
  }
  std::size_t offset() const { return offset_; }
  const std::string& path() const { return file_.path(); }

 private:
  const MappedFile& file_;
  std::size_t offset_;
};

// `n` matrices of (rows, cols) fp32, one after another.
std::vector<Tensor> f32_matrices(Cursor& cur, std::size_t n, std::size_t rows, std::size_t cols, const char* name) {
  const std::string what = name;
  std::size_t each = checked_mul(rows, cols, what);
  const float* base = cur.floats(checked_mul(n, each, what), what);
  std::vector<Tensor> out(n);
  for (std::size_t i = 0; i < n; i++) {
    out[i].type = WeightType::F32;
    out[i].data = base + i * each;
    out[i].rows = rows;
    out[i].cols = cols;
  }
  return out;
}

// One int8 matrix (rows, cols) followed by its group scales (llama2.c v2).
Tensor q8_matrix(Cursor& cur, std::size_t rows, std::size_t cols, int group_size, const std::string& what) {
  Tensor t;
  t.type = WeightType::Q8_GROUP;
  t.rows = rows;
  t.cols = cols;
  t.group_size = group_size;
  std::size_t n = checked_mul(rows, cols, what);
  if (n % std::size_t(group_size) != 0) {
    throw Error(cur.path() + ": " + what + " has " + std::to_string(n) + " values, not a multiple of group_size = " +
                std::to_string(group_size));
  }
  t.data = cur.take(n, 1, what + " int8 values");
  t.scales = cur.floats(n / std::size_t(group_size), what + " scales");
  return t;
}

std::vector<const float*> norms(Cursor& cur, std::size_t n_layers, std::size_t dim, const char* name) {
  const float* base = cur.floats(checked_mul(n_layers, dim, name), name);
  std::vector<const float*> out(n_layers);
  for (std::size_t l = 0; l < n_layers; l++) out[l] = base + l * dim;
  return out;
}

Config read_config(const MappedFile& f, std::size_t offset) {
  Config c;
  c.dim = read_i32(f, offset + 0);
  c.hidden_dim = read_i32(f, offset + 4);
  c.n_layers = read_i32(f, offset + 8);
  c.n_heads = read_i32(f, offset + 12);
  c.n_kv_heads = read_i32(f, offset + 16);
  c.vocab_size = read_i32(f, offset + 20);
  c.seq_len = read_i32(f, offset + 24);
  return c;
}

void check_exact_size(const MappedFile& f, const Cursor& cur) {
  if (cur.offset() != f.size()) {
    throw Error(f.path() + ": file has " + std::to_string(f.size()) + " bytes but its header describes " +
                std::to_string(cur.offset()) + " bytes of header and weights (wrong format, or not a model?)");
  }
}

// --- v0 -------------------------------------------------------------------------

Weights read_v0(const MappedFile& f, Config& c) {
  Cursor cur(f, 28);
  const std::size_t L = c.n_layers, dim = c.dim, hidden = c.hidden_dim, kv_dim = c.kv_dim(), vocab = c.vocab_size;
  Weights w;
  w.token_embedding = f32_matrices(cur, 1, vocab, dim, "token_embedding")[0];
  w.layers.resize(L);
  auto rms_att = norms(cur, L, dim, "rms_att");
  auto wq = f32_matrices(cur, L, dim, dim, "wq");
  auto wk = f32_matrices(cur, L, kv_dim, dim, "wk");
  auto wv = f32_matrices(cur, L, kv_dim, dim, "wv");
  auto wo = f32_matrices(cur, L, dim, dim, "wo");
  auto rms_ffn = norms(cur, L, dim, "rms_ffn");
  auto w1 = f32_matrices(cur, L, hidden, dim, "w1");
  auto w2 = f32_matrices(cur, L, dim, hidden, "w2");
  auto w3 = f32_matrices(cur, L, hidden, dim, "w3");
  w.rms_final = cur.floats(dim, "rms_final");
  cur.floats(checked_mul(c.seq_len, c.head_size(), "freq_cis"), "freq_cis (unused RoPE tables)");
  w.wcls = c.shared_classifier ? w.token_embedding : f32_matrices(cur, 1, vocab, dim, "classifier")[0];
  for (std::size_t l = 0; l < L; l++) {
    w.layers[l] = {rms_att[l], wq[l], wk[l], wv[l], wo[l], rms_ffn[l], w1[l], w2[l], w3[l]};
  }
  check_exact_size(f, cur);
  return w;
}

// --- v1 and v2 --------------------------------------------------------------------

Weights read_v1(const MappedFile& f, const Config& c) {
  Cursor cur(f, kV1HeaderBytes);
  const std::size_t L = c.n_layers, dim = c.dim, hidden = c.hidden_dim, kv_dim = c.kv_dim(), vocab = c.vocab_size;
  Weights w;
  auto rms_att = norms(cur, L, dim, "rms_att");
  auto rms_ffn = norms(cur, L, dim, "rms_ffn");
  w.rms_final = cur.floats(dim, "rms_final");
  w.token_embedding = f32_matrices(cur, 1, vocab, dim, "token_embedding")[0];
  auto wq = f32_matrices(cur, L, dim, dim, "wq");
  auto wk = f32_matrices(cur, L, kv_dim, dim, "wk");
  auto wv = f32_matrices(cur, L, kv_dim, dim, "wv");
  auto wo = f32_matrices(cur, L, dim, dim, "wo");
  auto w1 = f32_matrices(cur, L, hidden, dim, "w1");
  auto w2 = f32_matrices(cur, L, dim, hidden, "w2");
  auto w3 = f32_matrices(cur, L, hidden, dim, "w3");
  w.wcls = c.shared_classifier ? w.token_embedding : f32_matrices(cur, 1, vocab, dim, "classifier")[0];
  w.layers.resize(L);
  for (std::size_t l = 0; l < L; l++) {
    w.layers[l] = {rms_att[l], wq[l], wk[l], wv[l], wo[l], rms_ffn[l], w1[l], w2[l], w3[l]};
  }
  check_exact_size(f, cur);
  return w;
}

Weights read_v2(const MappedFile& f, const Config& c, int gs) {
  Cursor cur(f, kV1HeaderBytes);
  const std::size_t L = c.n_layers, dim = c.dim, hidden = c.hidden_dim, kv_dim = c.kv_dim(), vocab = c.vocab_size;
  Weights w;
  auto rms_att = norms(cur, L, dim, "rms_att");
  auto rms_ffn = norms(cur, L, dim, "rms_ffn");
  w.rms_final = cur.floats(dim, "rms_final");
  w.token_embedding = q8_matrix(cur, vocab, dim, gs, "token_embedding");
  w.layers.resize(L);
  auto each = [&](Tensor LayerWeights::*field, std::size_t rows, std::size_t cols, const char* name) {
    for (std::size_t l = 0; l < L; l++) {
      w.layers[l].*field = q8_matrix(cur, rows, cols, gs, std::string(name) + "[" + std::to_string(l) + "]");
    }
  };
  each(&LayerWeights::wq, dim, dim, "wq");
  each(&LayerWeights::wk, kv_dim, dim, "wk");
  each(&LayerWeights::wv, kv_dim, dim, "wv");
  each(&LayerWeights::wo, dim, dim, "wo");
  each(&LayerWeights::w1, hidden, dim, "w1");
  each(&LayerWeights::w2, dim, hidden, "w2");
  each(&LayerWeights::w3, hidden, dim, "w3");
  w.wcls = c.shared_classifier ? w.token_embedding : q8_matrix(cur, vocab, dim, gs, "classifier");
  for (std::size_t l = 0; l < L; l++) {
    w.layers[l].rms_att = rms_att[l];
    w.layers[l].rms_ffn = rms_ffn[l];
  }
  check_exact_size(f, cur);
  return w;
}

}  // namespace

Model load_llama2c_checkpoint(std::shared_ptr<MappedFile> file) {
  const MappedFile& f = *file;
  const std::string& path = f.path();
  if (f.size() < 28) {
    throw Error(path + ": truncated: " + std::to_string(f.size()) +
                " bytes is shorter than the 28-byte llama2.c header");
  }
  std::uint32_t magic;
  std::memcpy(&magic, f.data(), 4);
  Config c;
  Weights w;
  ModelFormat format;
  if (magic == kMagic) {
    if (f.size() < kV1HeaderBytes) {
      throw Error(path + ": truncated: " + std::to_string(f.size()) +
                  " bytes is shorter than the 256-byte llama2.c v1/v2 header");
    }
    // The version decides the header layout, so it is checked before the dims.
    std::int32_t version = read_i32(f, 4);
    if (version != 1 && version != 2) {
      throw Error(path + ": llama2.c header field version = " + std::to_string(version) + ", expected 1 or 2");
    }
    c = read_config(f, 8);
    c.shared_classifier = f.data()[36] != 0;
    validate_config(c, path);
    if (version == 1) {
      format = ModelFormat::LLAMA2C_V1;
      w = read_v1(f, c);
    } else {  // version 2
      format = ModelFormat::LLAMA2C_V2;
      std::int32_t gs = read_i32(f, 37);
      if (gs <= 0 || gs > (1 << 20)) {
        throw Error(path + ": header field group_size = " + std::to_string(gs) + ", expected a value in [1, 1048576]");
      }
      w = read_v2(f, c, gs);
    }
  } else {
    format = ModelFormat::LLAMA2C_V0;
    c = read_config(f, 0);
    c.shared_classifier = c.vocab_size > 0;
    if (c.vocab_size < 0 && c.vocab_size != INT32_MIN) c.vocab_size = -c.vocab_size;
    try {
      validate_config(c, path);
    } catch (const Error& e) {
      // Any file without a magic lands here (a tokenizer.bin, a text file):
      // say how it was read.
      throw Error(std::string(e.what()) + " (read as a legacy llama2.c v0 header because the file starts with neither "
                  "\"ak42\" nor \"GGUF\"; is it a model checkpoint?)");
    }
    w = read_v0(f, c);
  }
  std::size_t size = f.size();
  return Model(c, std::move(w), format, path, size, std::move(file));
}

}  // namespace llama2

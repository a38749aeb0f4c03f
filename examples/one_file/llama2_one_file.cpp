// llama2_one_file.cpp: all of Llama-2 inference in one file, to read first.
//
// The engine's model, tokenizer, sampler and generate loop with plain loops
// instead of SIMD kernels and threads, top to bottom in the order data flows:
// the model file -> the forward pass -> the tokenizer -> the sampler -> the
// generate loop -> the command line. The C++ standard library and POSIX mmap,
// nothing else. For the same model, prompt, -t -p -s -n it prints what
// build/run (tools/run.cpp) prints; see the sampler for when it can differ.
//
//   build/llama2_one_file stories15M.bin -i "Once upon a time" -n 200
//   build/llama2_one_file aidreams260K.bin -z aidreams_tok512.bin -t 0.8 -s 42
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

using Error = std::runtime_error;         // a bad file or input: main prints it, exit status 1
struct UsageError { std::string message; };  // a bad flag: main prints it and the usage, exit status 2

// A read-only view of a whole file, mapped rather than read: a 7B model's
// weights are paged in as the forward pass touches them, never copied.
struct MappedFile {
  std::string path;
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
  explicit MappedFile(const std::string& file_path) : path(file_path) {
    const int fd = open(path.c_str(), O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      const std::string why = fd < 0 ? std::strerror(errno) : "not a regular file";
      if (fd >= 0) close(fd);
      throw Error(path + ": cannot open: " + why);
    }
    size = std::size_t(st.st_size);
    void* p = size > 0 ? mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0) : nullptr;
    close(fd);  // the mapping stays valid
    if (p == MAP_FAILED) throw Error(path + ": cannot mmap: " + std::strerror(errno));
    data = static_cast<const std::uint8_t*>(p);
  }
  ~MappedFile() { if (data) munmap(const_cast<std::uint8_t*>(data), size); }
  MappedFile(const MappedFile&) = delete;
  std::int32_t i32(std::size_t offset) const {  // little-endian, as in every llama2.c file
    std::int32_t v;
    std::memcpy(&v, data + offset, 4);
    return v;
  }
};

// --- the model file: Config and weights ----------------------------------------------------------
// A llama2.c checkpoint is a header, then every weight as fp32, each tensor
// over all layers at once. A matrix is stored row by row as (rows, cols) =
// (out, in), so W @ x is one dot product per row; the shapes below say so
// (run.c writes them the other way round).
//   v0 (legacy, run.c): 7 int32: dim, hidden_dim, n_layers, n_heads, n_kv_heads,
//     vocab_size, seq_len (vocab_size < 0: the classifier is stored apart);
//     then token_embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3,
//     rms_final, two unused RoPE tables (seq_len, head_size / 2), [wcls].
//   v1 (export.py --version 1): uint32 magic "ak42", int32 version 1, the 7
//     int32, uint8 shared_classifier, zeros up to byte 256; then rms_att,
//     rms_ffn, rms_final, token_embedding, wq, wk, wv, wo, w1, w2, w3, [wcls].
//   v2 (int8 weights, runq.c) is refused here; build/run reads it.
// The engine: src/llama2c_checkpoint.cpp (and GGUF files: src/gguf_model.cpp).

struct Config {
  int dim;         // transformer dimension: the width of the residual stream
  int hidden_dim;  // width of the SwiGLU feed-forward layer
  int n_layers;    // number of transformer blocks
  int n_heads;     // number of query heads
  int n_kv_heads;  // number of key/value heads (fewer than n_heads: grouped-query attention)
  int vocab_size;  // number of tokens
  int seq_len;     // maximum sequence length: the context
  bool shared_classifier;  // the classifier is the token embedding table
  int head_size() const { return dim / n_heads; }
  int kv_dim() const { return n_kv_heads * head_size(); }
  int kv_mul() const { return n_heads / n_kv_heads; }  // query heads that share one kv head
};
constexpr float kRopeTheta = 10000.0f, kNormEps = 1e-5f;  // not in llama2.c's files: Llama-2's values

struct TransformerWeights {  // pointers into the mapped file
  const float* token_embedding;  // (vocab_size, dim)
  const float* rms_att;          // (layer, dim) rmsnorm weights before attention
  const float* wq;               // (layer, n_heads * head_size, dim)
  const float* wk;               // (layer, n_kv_heads * head_size, dim)
  const float* wv;               // (layer, n_kv_heads * head_size, dim)
  const float* wo;               // (layer, dim, n_heads * head_size)
  const float* rms_ffn;          // (layer, dim) rmsnorm weights before the feed-forward
  const float* w1;               // (layer, hidden_dim, dim) gate
  const float* w2;               // (layer, dim, hidden_dim) down
  const float* w3;               // (layer, hidden_dim, dim) up
  const float* rms_final;        // (dim)
  const float* wcls;             // (vocab_size, dim) classifier; == token_embedding if shared
};

// Bounds far above any Llama-2 (70B: dim 8192, hidden 28672, 80 layers), low
// enough that no size computed from them (at most n_layers * hidden_dim * dim
// * 4 < 2^49 bytes) overflows 64 bits.
void check_config(const Config& c, const std::string& path) {
  const std::pair<const char*, int> fields[] = {{"dim", c.dim}, {"hidden_dim", c.hidden_dim},
      {"n_layers", c.n_layers}, {"n_heads", c.n_heads}, {"n_kv_heads", c.n_kv_heads},
      {"vocab_size", c.vocab_size}, {"seq_len", c.seq_len}};
  const int max[] = {1 << 16, 1 << 18, 1 << 12, 1 << 12, c.n_heads, 1 << 24, 1 << 24};
  for (int i = 0; i < 7; i++) {
    if (fields[i].second < 1 || fields[i].second > max[i]) {
      throw Error(path + ": header field " + fields[i].first + " = " + std::to_string(fields[i].second) +
                  ", expected a value in [1, " + std::to_string(max[i]) + "]");
    }
  }
  if (c.dim % c.n_heads != 0 || c.n_heads % c.n_kv_heads != 0 || c.head_size() % 2 != 0) {
    throw Error(path + ": dim = " + std::to_string(c.dim) + ", n_heads = " + std::to_string(c.n_heads) +
                ", n_kv_heads = " + std::to_string(c.n_kv_heads) +
                ": expected dim a multiple of n_heads, n_heads of n_kv_heads, and an even head_size");
  }
}

void read_checkpoint(const MappedFile& f, Config& c, TransformerWeights& w) {
  if (f.size < 28) throw Error(f.path + ": truncated: " + std::to_string(f.size) + " bytes, less than a header");
  const bool v1 = f.i32(0) == 0x616b3432;
  if (v1 && f.size < 256) {
    throw Error(f.path + ": truncated: " + std::to_string(f.size) + " bytes, less than a v1 header");
  }
  if (v1 && f.i32(4) != 1) {
    throw Error(f.path + ": header field version = " + std::to_string(f.i32(4)) + ", expected 1" +
                (f.i32(4) == 2 ? " (v2 has int8 weights: this reference reads fp32 only; build/run reads v2)" : ""));
  }
  const std::size_t h = v1 ? 8 : 0;
  c = {f.i32(h), f.i32(h + 4), f.i32(h + 8), f.i32(h + 12), f.i32(h + 16), f.i32(h + 20), f.i32(h + 24), true};
  c.shared_classifier = v1 ? f.data[36] != 0 : c.vocab_size > 0;
  if (!v1 && c.vocab_size < 0 && c.vocab_size != INT32_MIN) c.vocab_size = -c.vocab_size;
  check_config(c, f.path);

  std::size_t offset = v1 ? 256 : 28;  // hands out the tensors one after another
  auto take = [&](std::uint64_t count, const char* name) {
    const std::uint64_t end = offset + 4 * count;  // no overflow: check_config
    if (end > f.size) {
      throw Error(f.path + ": truncated: " + name + " needs bytes [" + std::to_string(offset) + ", " +
                  std::to_string(end) + ") but the file has " + std::to_string(f.size));
    }
    const float* p = reinterpret_cast<const float*>(f.data + offset);  // offsets stay multiples of 4
    offset = std::size_t(end);
    return p;
  };
  const std::uint64_t L = c.n_layers, dim = c.dim, hidden = c.hidden_dim, kv_dim = c.kv_dim(), vocab = c.vocab_size;
  if (v1) {
    w.rms_att = take(L * dim, "rms_att");
    w.rms_ffn = take(L * dim, "rms_ffn");
    w.rms_final = take(dim, "rms_final");
  }
  w.token_embedding = take(vocab * dim, "token_embedding");
  if (!v1) w.rms_att = take(L * dim, "rms_att");
  w.wq = take(L * dim * dim, "wq");
  w.wk = take(L * kv_dim * dim, "wk");
  w.wv = take(L * kv_dim * dim, "wv");
  w.wo = take(L * dim * dim, "wo");
  if (!v1) w.rms_ffn = take(L * dim, "rms_ffn");
  w.w1 = take(L * hidden * dim, "w1");
  w.w2 = take(L * dim * hidden, "w2");
  w.w3 = take(L * hidden * dim, "w3");
  if (!v1) {
    w.rms_final = take(dim, "rms_final");
    take(std::uint64_t(c.seq_len) * c.head_size(), "the RoPE tables");
  }
  w.wcls = c.shared_classifier ? w.token_embedding : take(vocab * dim, "wcls");
  if (offset != f.size) {
    throw Error(f.path + ": the file has " + std::to_string(f.size) + " bytes but its header describes " +
                std::to_string(offset) + " (not a llama2.c checkpoint?)");
  }
}

// --- the forward pass ----------------------------------------------------------------------------
// The engine: src/transformer.cpp forward(), the same steps; its kernels
// (matmul, rmsnorm, attention) in src/ops.cpp and src/kernels_*.cpp, one file
// per instruction set, which also split the rows of a matmul over threads.

struct RunState {  // the "wave" of activations of one position, and the KV cache
  std::vector<float> x;       // (dim) the residual stream
  std::vector<float> xb;      // (dim) x after rmsnorm; the attention output
  std::vector<float> xb2;     // (dim) a block's output before it is added to x
  std::vector<float> hb;      // (hidden_dim) feed-forward gate
  std::vector<float> hb2;     // (hidden_dim) feed-forward up
  std::vector<float> q;       // (dim) the query of this position
  std::vector<float> att;     // (n_heads, seq_len) attention scores, then weights
  std::vector<float> logits;  // (vocab_size) the output
  std::vector<float> key_cache;    // (layer, seq_len, kv_dim) the keys of every position so far
  std::vector<float> value_cache;  // (layer, seq_len, kv_dim) and their values
};

struct Transformer {
  MappedFile file;  // the weights point into it
  Config config;
  TransformerWeights weights;
  RunState s;
  explicit Transformer(const std::string& path) : file(path) {
    read_checkpoint(file, config, weights);
    const Config& c = config;
    const std::size_t kv = std::size_t(c.n_layers) * c.seq_len * c.kv_dim();  // < 2^52: see check_config
    s.x.resize(c.dim), s.xb.resize(c.dim), s.xb2.resize(c.dim), s.q.resize(c.dim);
    s.hb.resize(c.hidden_dim), s.hb2.resize(c.hidden_dim), s.logits.resize(c.vocab_size);
    s.att.resize(std::size_t(c.n_heads) * c.seq_len), s.key_cache.resize(kv), s.value_cache.resize(kv);
  }
};

void rmsnorm(float* o, const float* x, const float* weight, int size) {
  float ss = 0.0f;  // the root mean square of x, then its inverse
  for (int j = 0; j < size; j++) ss += x[j] * x[j];
  ss = 1.0f / std::sqrt(ss / float(size) + kNormEps);
  for (int j = 0; j < size; j++) o[j] = weight[j] * (ss * x[j]);
}

void softmax(float* x, int size) {
  float max_val = x[0];  // subtracted so that exp cannot overflow
  for (int i = 1; i < size; i++) max_val = std::max(max_val, x[i]);
  float sum = 0.0f;
  for (int i = 0; i < size; i++) {
    x[i] = std::exp(x[i] - max_val);
    sum += x[i];
  }
  for (int i = 0; i < size; i++) x[i] /= sum;
}

// xout (d) = W (d, n) @ x (n): nearly all the time goes here.
void matmul(float* xout, const float* x, const float* w, int n, int d) {
  for (int i = 0; i < d; i++) {
    float val = 0.0f;
    for (int j = 0; j < n; j++) val += w[std::size_t(i) * n + j] * x[j];
    xout[i] = val;
  }
}

// RoPE: rotate each pair (v[i], v[i+1]) of every head by pos * freq, so that
// q.k depends on how far apart two positions are, not on where they are.
void rope(float* vec, int size, int head_size, int pos) {
  for (int i = 0; i < size; i += 2) {
    const float freq = 1.0f / std::pow(kRopeTheta, float(i % head_size) / float(head_size));
    const float fcr = std::cos(float(pos) * freq), fci = std::sin(float(pos) * freq);
    const float v0 = vec[i], v1 = vec[i + 1];
    vec[i] = v0 * fcr - v1 * fci;
    vec[i + 1] = v0 * fci + v1 * fcr;
  }
}

// Runs `token` at position `pos` and returns the logits of the next token.
// Positions before pos must have run: their keys and values are in the cache.
float* forward(Transformer& t, int token, int pos) {
  const Config& p = t.config;
  const TransformerWeights& w = t.weights;
  RunState& s = t.s;
  const int dim = p.dim, kv_dim = p.kv_dim(), hidden_dim = p.hidden_dim, head_size = p.head_size();
  float* x = s.x.data();
  std::copy_n(w.token_embedding + std::size_t(token) * dim, dim, x);

  for (std::size_t l = 0; l < std::size_t(p.n_layers); l++) {
    // attention block: x += wo @ attention(rope(wq @ norm(x)), the cache)
    rmsnorm(s.xb.data(), x, w.rms_att + l * dim, dim);
    const std::size_t loff = l * p.seq_len * kv_dim;  // this layer's cache
    float* k = s.key_cache.data() + loff + std::size_t(pos) * kv_dim;  // this position's key and value
    float* v = s.value_cache.data() + loff + std::size_t(pos) * kv_dim;  // go straight into the cache
    matmul(s.q.data(), s.xb.data(), w.wq + l * dim * dim, dim, dim);
    matmul(k, s.xb.data(), w.wk + l * dim * kv_dim, dim, kv_dim);
    matmul(v, s.xb.data(), w.wv + l * dim * kv_dim, dim, kv_dim);
    rope(s.q.data(), dim, head_size, pos);
    rope(k, kv_dim, head_size, pos);

    // Each query head attends over positions 0..pos; with grouped-query
    // attention, kv_mul query heads read the same kv head.
    for (int h = 0; h < p.n_heads; h++) {
      const float* q = s.q.data() + h * head_size;
      float* att = s.att.data() + std::size_t(h) * p.seq_len;
      const float* keys = s.key_cache.data() + loff + std::size_t(h / p.kv_mul()) * head_size;
      const float* values = s.value_cache.data() + loff + std::size_t(h / p.kv_mul()) * head_size;
      for (int t_pos = 0; t_pos <= pos; t_pos++) {
        float score = 0.0f;
        for (int i = 0; i < head_size; i++) score += q[i] * keys[std::size_t(t_pos) * kv_dim + i];
        att[t_pos] = score / std::sqrt(float(head_size));  // scaled so that the softmax stays soft
      }
      softmax(att, pos + 1);
      float* xb = s.xb.data() + h * head_size;  // the values, weighted by attention
      std::fill_n(xb, head_size, 0.0f);
      for (int t_pos = 0; t_pos <= pos; t_pos++) {
        for (int i = 0; i < head_size; i++) xb[i] += att[t_pos] * values[std::size_t(t_pos) * kv_dim + i];
      }
    }
    matmul(s.xb2.data(), s.xb.data(), w.wo + l * dim * dim, dim, dim);
    for (int i = 0; i < dim; i++) x[i] += s.xb2[i];  // the residual connection

    // feed-forward block (SwiGLU): x += w2 @ (silu(w1 @ norm(x)) * (w3 @ norm(x)))
    rmsnorm(s.xb.data(), x, w.rms_ffn + l * dim, dim);
    matmul(s.hb.data(), s.xb.data(), w.w1 + l * dim * hidden_dim, dim, hidden_dim);
    matmul(s.hb2.data(), s.xb.data(), w.w3 + l * dim * hidden_dim, dim, hidden_dim);
    for (int i = 0; i < hidden_dim; i++) {
      const float g = s.hb[i];
      s.hb[i] = g / (1.0f + std::exp(-g)) * s.hb2[i];  // silu(g) = g * sigmoid(g), times the up projection
    }
    matmul(s.xb.data(), s.hb.data(), w.w2 + l * dim * hidden_dim, hidden_dim, dim);
    for (int i = 0; i < dim; i++) x[i] += s.xb[i];
  }

  rmsnorm(x, x, w.rms_final, dim);
  matmul(s.logits.data(), x, w.wcls, dim, p.vocab_size);  // the classifier: one logit per token
  return s.logits.data();
}

// --- the tokenizer -------------------------------------------------------------------------------
// SentencePiece BPE as Llama-2 uses it. tokenizer.bin (llama2.c's
// tokenizer.py) is an int32 max_token_length, then per piece, in id order to
// the end of the file: float32 score, int32 length, the bytes. By llama2.c's
// convention id 0 is <unk>, 1 BOS, 2 EOS, and pieces spelled <0xNN> stand for
// one byte ("byte fallback"). The file stores SentencePiece's '▁' as ' '; we
// turn it back, so that in the text '▁' and ' ' are the same, as for
// SentencePiece. The engine: src/tokenizer.cpp (the same merges, kept in a
// priority queue: O(n log n) where this rescans in O(n^2)).

const std::string kSpace = "\xE2\x96\x81";  // '▁' U+2581

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t i = 0; (i = s.find(from, i)) != std::string::npos; i += to.size()) s.replace(i, from.size(), to);
  return s;
}

struct Tokenizer {
  std::vector<float> scores;                 // (vocab_size) merge priority: higher merges first
  std::vector<std::string> text;             // (vocab_size) the bytes each id prints as
  std::vector<bool> mergeable;               // (vocab_size) a normal piece: one BPE may produce
  std::unordered_map<std::string, int> ids;  // piece ('▁' for space) -> id; of duplicates the lowest
  int byte_ids[256];                         // the id of <0xNN> for each byte, -1 if none
  static constexpr int kUnk = 0, kBos = 1, kEos = 2;
  int lookup(const std::string& piece) const {  // the id BPE may produce for piece, or -1
    auto it = ids.find(piece);
    return it != ids.end() && mergeable[it->second] ? it->second : -1;
  }
};

int parse_byte_piece(const std::string& p) {  // "<0xNN>" -> NN, anything else -> -1
  const bool ok = p.size() == 6 && p.compare(0, 3, "<0x") == 0 && p[5] == '>' &&
                  std::isxdigit((unsigned char)p[3]) && std::isxdigit((unsigned char)p[4]);
  return ok ? int(std::strtol(p.substr(3, 2).c_str(), nullptr, 16)) : -1;
}

Tokenizer read_tokenizer(const std::string& path) {
  MappedFile f(path);
  if (f.size < 4 || f.i32(0) <= 0) throw Error(path + ": header field max_token_length: expected a positive int32");
  Tokenizer t;
  std::fill_n(t.byte_ids, 256, -1);
  for (std::size_t offset = 4; offset < f.size;) {
    const int id = int(t.scores.size());
    const std::string where = path + ": piece " + std::to_string(id) + " at offset " + std::to_string(offset);
    if (f.size - offset < 8) throw Error(where + ": truncated: score and length need 8 bytes");
    float score;
    std::memcpy(&score, f.data + offset, 4);
    const std::int32_t len = f.i32(offset + 4);
    offset += 8;
    if (!std::isfinite(score)) throw Error(where + ": score = " + std::to_string(score) + ", expected a finite number");
    if (len < 0 || std::size_t(len) > f.size - offset) {
      throw Error(where + ": length = " + std::to_string(len) + ", expected 0 to " + std::to_string(f.size - offset));
    }
    std::string piece(reinterpret_cast<const char*>(f.data + offset), std::size_t(len)), text;
    offset += std::size_t(len);
    const int byte = id > 2 ? parse_byte_piece(piece) : -1;
    if (id == Tokenizer::kUnk) {
      text = " \xE2\x81\x87 ";  // " ⁇ ", as SentencePiece shows <unk>
    } else if (id == Tokenizer::kBos || id == Tokenizer::kEos) {
      piece = piece == "\n<s>\n" ? "<s>" : piece == "\n</s>\n" ? "</s>" : piece;  // as tokenizer.py wrote them
    } else if (byte >= 0) {
      text = std::string(1, char(byte));
      if (t.byte_ids[byte] < 0) t.byte_ids[byte] = id;
    } else {
      piece = replace_all(piece, " ", kSpace);
      text = replace_all(piece, kSpace, " ");
    }
    t.ids.emplace(piece, id);
    t.mergeable.push_back(id > 2 && byte < 0);
    t.scores.push_back(score);
    t.text.push_back(text);
  }
  if (t.scores.size() < 3) throw Error(path + ": " + std::to_string(t.scores.size()) + " pieces, expected at least 3");
  return t;
}

// The length of the well-formed UTF-8 character at s[i], or 0 if the bytes
// there are none (a stray byte, a truncated, overlong or surrogate sequence).
std::size_t utf8_char_len(const std::string& s, std::size_t i) {
  const unsigned char c = s[i];
  if (c < 0x80) return 1;
  const std::size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (n == 0 || s.size() - i < n) return 0;
  std::uint32_t cp = c & (0x7F >> n);
  for (std::size_t k = 1; k < n; k++) {
    if ((s[i + k] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i + k] & 0x3F);
  }
  const std::uint32_t min_cp = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
  return cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ? 0 : n;
}

// BOS, then the ids of text: prefix a '▁' (SentencePiece's "dummy prefix", so
// that a first word is spelled like any other), make every ' ' a '▁', cut into
// UTF-8 characters, then merge the adjacent pair that makes the highest-
// scoring piece (the leftmost on ties) until no pair makes one. A symbol left
// that is no piece becomes its bytes' <0xNN> ids.
std::vector<int> encode(const Tokenizer& t, const std::string& text) {
  std::vector<int> out{Tokenizer::kBos};
  if (text.empty()) return out;  // as SentencePiece: no dummy prefix on nothing
  const std::string norm = kSpace + replace_all(text, " ", kSpace);
  std::vector<std::string> symbols;
  for (std::size_t i = 0, len; i < norm.size(); i += len) {
    len = std::max<std::size_t>(1, utf8_char_len(norm, i));  // an invalid byte is a symbol by itself
    symbols.push_back(norm.substr(i, len));
  }
  for (;;) {
    int best = -1;
    float best_score = 0.0f;
    for (std::size_t i = 0; i + 1 < symbols.size(); i++) {
      const int id = t.lookup(symbols[i] + symbols[i + 1]);
      if (id >= 0 && (best < 0 || t.scores[id] > best_score)) best = int(i), best_score = t.scores[id];
    }
    if (best < 0) break;
    symbols[best] += symbols[best + 1];
    symbols.erase(symbols.begin() + best + 1);
  }
  bool prev_unknown = false;
  for (const std::string& s : symbols) {
    const bool is_piece = t.lookup(s) >= 0;
    const bool has_bytes = std::all_of(s.begin(), s.end(), [&](char c) { return t.byte_ids[(unsigned char)c] >= 0; });
    if (is_piece) {
      out.push_back(t.lookup(s));
    } else if (has_bytes) {
      for (unsigned char c : s) out.push_back(t.byte_ids[c]);
    } else if (!prev_unknown) {
      out.push_back(Tokenizer::kUnk);  // a vocabulary without byte pieces: one <unk> per unknown run
    }
    prev_unknown = !is_piece && !has_bytes;
  }
  return out;
}

// The bytes `token` prints as after `prev`: after BOS, a piece's leading
// space is the dummy prefix, not text.
std::string decode(const Tokenizer& t, int prev, int token) {
  const std::string& text = t.text[token];
  if (prev == Tokenizer::kBos && t.mergeable[token] && !text.empty() && text[0] == ' ') return text.substr(1);
  return text;
}

// --- the sampler ---------------------------------------------------------------------------------
// logits -> the next token. Temperature 0 is greedy; otherwise the softmax of
// logits / temperature, cut to the smallest most-likely-first set whose
// probability reaches top_p (nucleus sampling), and one draw from that set by
// inverse CDF with llama2.c's xorshift* RNG. The engine: src/sampler.cpp,
// followed here operation for operation (float weights, double sums, the
// same selection), so that on the same logits the same seed draws the same
// tokens. But the logits differ from the engine's in the last bits (its SIMD
// sums round differently), and where two candidates are that close, the
// selection can order them the other way and the draw pick another token:
// never seen in 300 runs of the peaked aidreams260K, but within a few dozen
// tokens on a flat distribution (stories260K at -t 1). Greedy differs only
// if the two best logits are within ~1e-5 of each other.

struct Candidate { int id; float prob; };  // prob: the logit, then its unnormalised softmax weight
bool more_likely(const Candidate& a, const Candidate& b) {  // ties to the lower id
  return a.prob > b.prob || (a.prob == b.prob && a.id < b.id);
}
struct Kept { int n; double mass; };  // candidates [0, n) survive, with this total weight

struct Sampler {
  float temperature, top_p;
  std::uint64_t rng_state;
  std::vector<Candidate> candidates;  // (vocab_size)
  std::uint32_t random_u32() {  // xorshift*
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return std::uint32_t((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
  }
  float random_f32() { return float(random_u32() >> 8) / 16777216.0f; }  // in [0, 1)
};

// Moves to c[0, n) the smallest most-likely-first prefix of c[0, size) whose
// weight reaches target: a weighted quickselect, nth_element halving the range
// each round, instead of a sort. The draw walks the candidates in the order
// this leaves them, so it must be the engine's selection, step for step.
Kept top_mass_prefix(Candidate* c, int size, double target) {
  int lo = 0, hi = size;  // c[0, lo) is in the prefix, whose last token is in c[lo, hi)
  double above = 0.0;     // the weight of c[0, lo), < target
  while (hi - lo > 32) {
    Candidate* mid = c + lo + (hi - lo) / 2;
    std::nth_element(c + lo, mid, c + hi, more_likely);
    double upper = 0.0;
    for (Candidate* t = c + lo; t < mid; ++t) upper += t->prob;
    if (above + upper >= target) {
      hi = int(mid - c);
    } else {
      above += upper, lo = int(mid - c);
    }
  }
  std::sort(c + lo, c + hi, more_likely);
  for (int i = lo; i < hi; i++) {
    above += c[i].prob;
    if (above >= target) return {i + 1, above};
  }
  return {hi, above};
}

int sample(Sampler& sampler, const float* logits) {
  const int n = int(sampler.candidates.size());
  const float inf = std::numeric_limits<float>::infinity();
  if (sampler.temperature == 0.0f) {  // greedy: the first of the largest logits
    int best = 0;
    float best_logit = -inf;  // so that NaN never wins
    for (int i = 0; i < n; i++) {
      if (logits[i] > best_logit) best_logit = logits[i], best = i;
    }
    return best;
  }
  Candidate* c = sampler.candidates.data();
  float max_logit = -inf;
  for (int i = 0; i < n; i++) {
    c[i] = {i, std::isnan(logits[i]) ? -inf : logits[i]};
    max_logit = std::max(max_logit, c[i].prob);
  }
  if (!std::isfinite(max_logit)) throw Error("sampler: the logits have no finite maximum");
  double mass = 0.0;  // never divided out: the draw scales the coin instead
  for (int i = 0; i < n; i++) {
    c[i].prob = std::exp((c[i].prob - max_logit) / sampler.temperature);
    mass += c[i].prob;
  }
  Kept kept{n, mass};
  const double top_p = sampler.top_p;
  if (top_p < 1.0 && n > 1) {
    const double target = top_p * (1.0 - 1e-6) * mass;  // a little slack for float rounding
    // llama2.c's trick: the tokens below (1 - top_p) / (n - 1) weigh less than
    // 1 - top_p together, so the nucleus never needs them; one pass drops most.
    const float cutoff = float((1.0 - top_p) * mass / (n - 1));
    Candidate* end = std::partition(c, c + n, [cutoff](const Candidate& t) { return t.prob >= cutoff; });
    const int n_cut = int(end - c);
    double cut_mass = 0.0;
    for (int i = 0; i < n_cut; i++) cut_mass += c[i].prob;
    if (cut_mass >= target) {
      kept = top_mass_prefix(c, n_cut, target);
    } else {  // nothing passed the cutoff, or rounding: the prefix goes on into the rest
      const Kept rest = top_mass_prefix(end, n - n_cut, target - cut_mass);
      kept = {n_cut + rest.n, cut_mass + rest.mass};
    }
  }
  const double r = double(sampler.random_f32()) * kept.mass;
  double cdf = 0.0;
  for (int i = 0; i < kept.n; i++) {
    cdf += c[i].prob;
    if (r < cdf) return c[i].id;
  }
  return c[kept.n - 1].id;  // rounding
}

// --- the generate loop ---------------------------------------------------------------------------
// Position pos runs tokens[pos]; the token after it is the next prompt token
// while there is one, else a sample. Each is printed as soon as it is decided,
// so the prompt comes out first. Stops at EOS or BOS, or after `steps`
// positions. The engine: src/generate.cpp generate().

void print_piece(const std::string& piece) {
  // As llama2.c's safe_printf, a lone byte that is a control character is
  // dropped. Bytes >= 0x80 are printed (llama2.c drops them): they are the
  // pieces of a UTF-8 character that the vocabulary spells with byte tokens.
  const unsigned char c = piece.size() == 1 ? piece[0] : ' ';
  if (c < 0x80 && !std::isprint(c) && !std::isspace(c)) return;
  std::fwrite(piece.data(), 1, piece.size(), stdout);
  std::fflush(stdout);
}

void generate(Transformer& transformer, const Tokenizer& tokenizer, Sampler& sampler, const std::string& prompt,
              int steps) {
  std::vector<int> tokens = encode(tokenizer, prompt);
  const int n_prompt = int(tokens.size());
  if (n_prompt > steps) {
    throw Error("the prompt is " + std::to_string(n_prompt) + " tokens (BOS included), more than -n " +
                std::to_string(steps) + " positions");
  }
  using Clock = std::chrono::steady_clock;
  Clock::time_point start;
  int pos = 0;
  while (pos < steps) {
    const int token = tokens[pos];
    const float* logits = forward(transformer, token, pos);
    if (++pos == 1) start = Clock::now();  // as llama2.c: the first position can be slow
    const int next = pos < n_prompt ? tokens[pos] : sample(sampler, logits);
    if (next == Tokenizer::kEos || next == Tokenizer::kBos) break;  // (the prompt never has them)
    if (pos >= n_prompt) tokens.push_back(next);
    print_piece(decode(tokenizer, token, next));
  }
  print_piece("\n");
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (pos > 1 && seconds > 0) std::fprintf(stderr, "achieved tok/s: %f\n", (pos - 1) / seconds);
}

// --- the command line ----------------------------------------------------------------------------

const char* kUsage =
    "usage: llama2_one_file MODEL [-t T] [-p P] [-s S] [-n N] [-i PROMPT] [-z TOKENIZER]\n"
    "       llama2_one_file MODEL --logits \"ID ID ...\"\n"
    "       llama2_one_file --tokens -z TOKENIZER -i TEXT\n"
    "MODEL is a llama2.c checkpoint (v0 or v1, fp32). The flags are llama2.c's, as in build/run:\n"
    "  -t T       temperature, 0 = greedy (default 1.0)\n"
    "  -p P       top-p (nucleus) in (0, 1], 1 = off (default 0.9)\n"
    "  -s S       random seed, an integer >= 0 (default: the time)\n"
    "  -n N       positions to run, the prompt's included; 0 = the whole context\n"
    "             (default 256, or the context if smaller)\n"
    "  -i PROMPT  the prompt (default: none; the model starts from BOS)\n"
    "  -z FILE    tokenizer.bin (default: tokenizer.bin beside MODEL)\n"
    "  --logits \"ID ID ...\"  run these token ids from position 0 (teacher forcing) and\n"
    "             print one line per position: vocab_size logits, %.9g, space-separated\n"
    "  --tokens   print the ids of BOS + the -i text on one line (reads only the tokenizer)\n"
    "Exit status: 0 ok, 1 bad model, tokenizer or input, 2 bad flag.\n";

// A flag's value, the whole string a number (as build/run parses them).
template <typename T>
T parse(const std::string& flag, const std::string& value, bool ok_range(T), const char* expected) {
  char* end = nullptr;
  errno = 0;
  const T v = std::is_same_v<T, float> ? T(std::strtof(value.c_str(), &end)) : T(std::strtoll(value.c_str(), &end, 10));
  if (value.empty() || errno != 0 || *end != '\0' || !std::isfinite(double(v)) || !ok_range(v)) {
    throw UsageError{flag + ": expected " + expected + ", got '" + value + "'"};
  }
  return v;
}

int run(int argc, char** argv) {
  std::string model_path, tokenizer_path, prompt, logits_ids;
  float temperature = 1.0f, top_p = 0.9f;
  long long seed = -1, steps = -1;  // -1: not given
  bool tokens_only = false, logits = false;
  for (int i = 1; i < argc; i++) {
    const std::string flag = argv[i];
    const bool takes_value = flag == "-t" || flag == "-p" || flag == "-s" || flag == "-n" || flag == "-i" ||
                             flag == "-z" || flag == "--logits";
    if (takes_value && i + 1 >= argc) throw UsageError{flag + " needs a value"};
    const std::string v = takes_value ? argv[++i] : "";
    if (flag == "-h" || flag == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (flag == "-t") {
      temperature = parse<float>(flag, v, [](float t) { return t >= 0; }, "a temperature >= 0");
    } else if (flag == "-p") {
      top_p = parse<float>(flag, v, [](float p) { return p > 0 && p <= 1; }, "a number in (0, 1]");
    } else if (flag == "-s") {
      seed = parse<long long>(flag, v, [](long long s) { return s >= 0; }, "an integer >= 0");
    } else if (flag == "-n") {
      steps = parse<long long>(flag, v, [](long long n) { return n >= 0 && n <= INT32_MAX; }, "an integer >= 0");
    } else if (flag == "-i" || flag == "-z") {
      (flag == "-i" ? prompt : tokenizer_path) = v;
    } else if (flag == "--logits") {
      logits_ids = v, logits = true;
    } else if (flag == "--tokens") {
      tokens_only = true;
    } else if (flag.size() > 1 && flag[0] == '-') {
      throw UsageError{"unknown option " + flag};
    } else if (model_path.empty()) {
      model_path = flag;
    } else {
      throw UsageError{"unexpected argument '" + flag + "' (the model is already " + model_path + ")"};
    }
  }
  // llama2.c checkpoints carry no vocabulary: by default the tokenizer.bin beside them.
  if (tokenizer_path.empty() && !model_path.empty()) {
    tokenizer_path = model_path.substr(0, model_path.rfind('/') + 1) + "tokenizer.bin";  // npos + 1 == 0
  }
  if (tokens_only) {
    if (tokenizer_path.empty()) throw UsageError{"--tokens needs -z TOKENIZER"};
    std::string line;
    for (int id : encode(read_tokenizer(tokenizer_path), prompt)) {
      line += (line.empty() ? "" : " ") + std::to_string(id);
    }
    std::printf("%s\n", line.c_str());
    return 0;
  }
  if (model_path.empty()) throw UsageError{"missing the MODEL file"};

  Transformer transformer(model_path);
  const Config& c = transformer.config;
  if (logits) {  // teacher forcing: no tokenizer, no sampler
    std::istringstream in(logits_ids);
    std::vector<int> ids;
    const Error bad("--logits: expected up to seq_len = " + std::to_string(c.seq_len) + " token ids in [0, " +
                    std::to_string(c.vocab_size) + ") separated by spaces, got '" + logits_ids + "'");
    for (long id; in >> id;) {
      if (id < 0 || id >= c.vocab_size || ids.size() == std::size_t(c.seq_len)) throw bad;
      ids.push_back(int(id));
    }
    if (!in.eof()) throw bad;
    for (std::size_t pos = 0; pos < ids.size(); pos++) {
      const float* out = forward(transformer, ids[pos], int(pos));
      for (int i = 0; i < c.vocab_size; i++) std::printf(i ? " %.9g" : "%.9g", double(out[i]));
      std::printf("\n");
    }
    return 0;
  }

  const Tokenizer tokenizer = read_tokenizer(tokenizer_path);
  if (tokenizer.scores.size() != std::size_t(c.vocab_size)) {
    throw Error("the tokenizer " + tokenizer_path + " has " + std::to_string(tokenizer.scores.size()) +
                " pieces but the model " + model_path + " has vocab_size " + std::to_string(c.vocab_size) +
                "; pass the model's own tokenizer with -z");
  }
  if (steps < 0) steps = std::min(256, c.seq_len);  // as build/run: 256, cut to a smaller context
  if (steps == 0) steps = c.seq_len;
  if (steps > c.seq_len) {
    throw Error("-n " + std::to_string(steps) + " is larger than the model's context " + std::to_string(c.seq_len) +
                "; use -n 0 for the whole context");
  }
  // The seed is xorshift's first state, as in llama2.c; but 0 is xorshift's
  // fixed point (0 forever), so the engine starts seed 0 from another state.
  const std::uint64_t state = seed >= 0 ? std::uint64_t(seed) : std::uint64_t(std::time(nullptr));
  Sampler sampler{temperature, top_p, state != 0 ? state : 0x2545F4914F6CDD1Dull, std::vector<Candidate>(c.vocab_size)};
  generate(transformer, tokenizer, sampler, prompt, int(steps));
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "llama2_one_file: %s\n\n%s", e.message.c_str(), kUsage);
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "llama2_one_file: error: out of memory (the KV cache is n_layers * seq_len * kv_dim * 8 B)\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "llama2_one_file: error: %s\n", e.what());
    return 1;
  }
}

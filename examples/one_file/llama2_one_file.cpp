// llama2_one_file.cpp: all of Llama-2 inference in one file, to read first. The engine's model, tokenizer,
// sampler and generate loop as plain loops (no SIMD, no threads), in the order data flows: model file -> forward
// pass -> tokenizer -> sampler -> generate loop -> command line; the C++ standard library and POSIX mmap, nothing
// else. For the same model, prompt and -t -p -s -n it prints what build/run (tools/run.cpp) prints; the sampler
// says when it can differ.
//   build/llama2_one_file stories15M.bin -i "Once upon a time" -n 200
//   build/llama2_one_file aidreams260K.bin -z aidreams_tok512.bin -t 0.8 -s 42
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct Error : std::runtime_error { using runtime_error::runtime_error; };  // bad file or input: exit status 1
struct UsageError : Error { using Error::Error; };                          // bad flag: the usage, exit status 2

template <typename E = Error, typename... Args>
[[noreturn]] void fail(const Args&... args) {  // throws E with the message args..., written one after another
  std::ostringstream message;
  (message << ... << args);
  throw E(message.str());
}

// The bytes of the file at `path`, mapped rather than read: a 7B model's weights are paged in as the forward pass
// touches them, never copied. The mapping stays until the program exits.
std::string_view map_file(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (fd >= 0) close(fd);
    fail(path, ": cannot open: ", fd < 0 ? std::strerror(errno) : "not a regular file");
  }
  const std::size_t size = std::size_t(st.st_size);
  void* p = size > 0 ? mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0) : nullptr;
  close(fd);  // the mapping stays valid
  if (p == MAP_FAILED) fail(path, ": cannot mmap: ", std::strerror(errno));
  return {static_cast<const char*>(p), size};
}

std::int32_t i32(std::string_view f, std::size_t offset) {  // little-endian, as in every llama2.c file
  std::int32_t v;
  std::memcpy(&v, f.data() + offset, 4);
  return v;
}

// --- the model file: Config and weights ----------------------------------------------------------
// A llama2.c checkpoint is a header, then every weight as fp32, each tensor over all layers at once, in the order
// read_checkpoint takes them. A matrix is stored row by row as (out, in), so W @ x is one dot product per row.
//   v0 (run.c): 7 int32: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (< 0: the classifier is
//     stored apart), seq_len; after rms_final, two RoPE tables that nothing reads.
//   v1 (export.py --version 1): uint32 magic "ak42", int32 version 1, the 7 int32, uint8 shared_classifier,
//     zeros up to byte 256; the rmsnorm weights first. v2 (int8, runq.c) is refused here; build/run reads it.
// The engine: src/formats/llama2c_checkpoint.cpp (and GGUF files: src/formats/gguf_model.cpp).

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

void read_checkpoint(const std::string& path, std::string_view f, Config& c, TransformerWeights& w) {
  const bool v1 = f.size() >= 4 && i32(f, 0) == 0x616b3432;  // "ak42"
  std::size_t offset = v1 ? 256 : 28;  // the header's size: the first tensor starts there
  if (f.size() < offset) fail(path, ": truncated: ", f.size(), " bytes, less than a header (", offset, ")");
  if (v1 && i32(f, 4) != 1) {
    fail(path, ": header field version = ", i32(f, 4), ", expected 1",
         i32(f, 4) == 2 ? " (v2 has int8 weights: this reference reads fp32 only; build/run reads v2)" : "");
  }
  const std::size_t h = v1 ? 8 : 0;
  c = {i32(f, h), i32(f, h + 4), i32(f, h + 8), i32(f, h + 12), i32(f, h + 16), i32(f, h + 20), i32(f, h + 24), true};
  c.shared_classifier = v1 ? f[36] != 0 : c.vocab_size > 0;
  if (!v1 && c.vocab_size < 0 && c.vocab_size != INT32_MIN) c.vocab_size = -c.vocab_size;
  // Bounds far above any Llama-2 (70B: dim 8192, hidden 28672, 80 layers), low enough that no size computed
  // from them (at most n_layers * hidden_dim * dim * 4 < 2^49 bytes) overflows 64 bits.
  auto check = [&](const char* name, int v, int max) {
    if (v < 1 || v > max) fail(path, ": header field ", name, " = ", v, ", expected a value in [1, ", max, "]");
  };
  check("dim", c.dim, 1 << 16), check("hidden_dim", c.hidden_dim, 1 << 18), check("n_layers", c.n_layers, 1 << 12);
  check("n_heads", c.n_heads, 1 << 12), check("n_kv_heads", c.n_kv_heads, c.n_heads);
  check("vocab_size", c.vocab_size, 1 << 24), check("seq_len", c.seq_len, 1 << 24);
  if (c.dim % c.n_heads != 0 || c.n_heads % c.n_kv_heads != 0 || c.head_size() % 2 != 0) {
    fail(path, ": dim = ", c.dim, ", n_heads = ", c.n_heads, ", n_kv_heads = ", c.n_kv_heads,
         ": expected dim a multiple of n_heads, n_heads of n_kv_heads, an even head_size");
  }

  auto take = [&](std::uint64_t count, const char* name) {  // the next tensor, count floats
    const std::uint64_t end = offset + 4 * count;  // no overflow: the bounds above
    if (end > f.size()) fail(path, ": truncated: ", name, " needs bytes [", offset, ", ", end, ") of ", f.size());
    const float* p = reinterpret_cast<const float*>(f.data() + offset);  // offsets stay multiples of 4
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
  if (offset != f.size()) fail(path, ": the file has ", f.size(), " bytes but its header describes ", offset);
}

// --- the forward pass ----------------------------------------------------------------------------
// The engine: Transformer::forward in src/transformer.cpp, the same steps. Its blocks are in src/ops.cpp, which
// splits a matmul's rows over threads and runs the inner loops from a kernel table picked for the CPU at run
// time: src/kernels/kernels_scalar.cpp and one file per instruction set beside it (kernels_avx2.cpp, ...).

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
  std::string_view file;  // the weights point into it
  Config config;
  TransformerWeights weights;
  RunState s;
  explicit Transformer(const std::string& path) : file(map_file(path)) {
    read_checkpoint(path, file, config, weights);
    const Config& c = config;
    const std::size_t kv = std::size_t(c.n_layers) * c.seq_len * c.kv_dim();  // < 2^52: the header's bounds
    s.x.resize(c.dim), s.xb.resize(c.dim), s.xb2.resize(c.dim), s.q.resize(c.dim);
    s.hb.resize(c.hidden_dim), s.hb2.resize(c.hidden_dim), s.logits.resize(c.vocab_size);
    s.att.resize(std::size_t(c.n_heads) * c.seq_len), s.key_cache.resize(kv), s.value_cache.resize(kv);
  }
};

// Every sum here (matmul's and attention's dot products, rmsnorm's and the softmax's sums, the attention-weighted
// sum of values) and RoPE run in double, only the results stored as float: a reference should be the accurate one.
double dot(const float* a, const float* b, int n, std::size_t b_stride = 1) {  // a[0, n) . b[0], b[b_stride], ...
  double sum = 0.0;
  for (int i = 0; i < n; i++) sum += double(a[i]) * b[i * b_stride];  // a product of floats is exact in double
  return sum;
}

void rmsnorm(float* o, const float* x, const float* weight, int size) {
  const double scale = 1.0 / std::sqrt(dot(x, x, size) / size + kNormEps);  // 1 / the root mean square of x
  for (int j = 0; j < size; j++) o[j] = float(weight[j] * (scale * x[j]));
}

void softmax(float* x, int size) {
  const float max_val = *std::max_element(x, x + size);  // subtracted so that exp cannot overflow
  double sum = 0.0;
  for (int i = 0; i < size; i++) sum += x[i] = std::exp(x[i] - max_val);
  for (int i = 0; i < size; i++) x[i] = float(x[i] / sum);
}

// xout (d) = W (d, n) @ x (n): nearly all the time goes here.
void matmul(float* xout, const float* x, const float* w, int n, int d) {
  for (int i = 0; i < d; i++) xout[i] = float(dot(w + std::size_t(i) * n, x, n));
}

// RoPE rotates each pair (v[i], v[i+1]) of a head by pos * freq: then q.k depends on how far apart two positions
// are, not on where they are.
void rope(float* vec, int size, int head_size, int pos) {
  for (int i = 0; i < size; i += 2) {
    const double angle = pos * std::pow(double(kRopeTheta), -double(i % head_size) / head_size);
    const double fcr = std::cos(angle), fci = std::sin(angle);
    const double v0 = vec[i], v1 = vec[i + 1];
    vec[i] = float(v0 * fcr - v1 * fci);
    vec[i + 1] = float(v0 * fci + v1 * fcr);
  }
}

// Runs `token` at position `pos` (the positions before it are in the KV cache); returns the next token's logits.
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
    float* k = s.key_cache.data() + loff + std::size_t(pos) * kv_dim;    // this position's key and value
    float* v = s.value_cache.data() + loff + std::size_t(pos) * kv_dim;  // go straight into the cache
    matmul(s.q.data(), s.xb.data(), w.wq + l * dim * dim, dim, dim);
    matmul(k, s.xb.data(), w.wk + l * dim * kv_dim, dim, kv_dim);
    matmul(v, s.xb.data(), w.wv + l * dim * kv_dim, dim, kv_dim);
    rope(s.q.data(), dim, head_size, pos);
    rope(k, kv_dim, head_size, pos);

    // Each query head attends over positions 0..pos; kv_mul query heads share a kv head (grouped-query).
    for (int h = 0; h < p.n_heads; h++) {
      const float* q = s.q.data() + h * head_size;
      float* att = s.att.data() + std::size_t(h) * p.seq_len;
      const float* keys = s.key_cache.data() + loff + std::size_t(h / p.kv_mul()) * head_size;
      const float* values = s.value_cache.data() + loff + std::size_t(h / p.kv_mul()) * head_size;
      for (int t_pos = 0; t_pos <= pos; t_pos++) {  // scaled so that the softmax stays soft
        att[t_pos] = float(dot(q, keys + std::size_t(t_pos) * kv_dim, head_size) / std::sqrt(double(head_size)));
      }
      softmax(att, pos + 1);
      float* xb = s.xb.data() + h * head_size;  // the values, weighted by attention: each i a dot with a column
      for (int i = 0; i < head_size; i++) xb[i] = float(dot(att, values + i, pos + 1, kv_dim));
    }
    matmul(s.xb2.data(), s.xb.data(), w.wo + l * dim * dim, dim, dim);
    for (int i = 0; i < dim; i++) x[i] += s.xb2[i];  // the residual connection

    // feed-forward block (SwiGLU): x += w2 @ (silu(w1 @ norm(x)) * (w3 @ norm(x)))
    rmsnorm(s.xb.data(), x, w.rms_ffn + l * dim, dim);
    matmul(s.hb.data(), s.xb.data(), w.w1 + l * dim * hidden_dim, dim, hidden_dim);
    matmul(s.hb2.data(), s.xb.data(), w.w3 + l * dim * hidden_dim, dim, hidden_dim);
    for (int i = 0; i < hidden_dim; i++) s.hb[i] = s.hb[i] / (1.0f + std::exp(-s.hb[i])) * s.hb2[i];  // silu(gate) * up
    matmul(s.xb.data(), s.hb.data(), w.w2 + l * dim * hidden_dim, hidden_dim, dim);
    for (int i = 0; i < dim; i++) x[i] += s.xb[i];
  }

  rmsnorm(x, x, w.rms_final, dim);
  matmul(s.logits.data(), x, w.wcls, dim, p.vocab_size);  // the classifier: one logit per token
  return s.logits.data();
}

// --- the tokenizer -------------------------------------------------------------------------------
// SentencePiece BPE as Llama-2 uses it. tokenizer.bin (llama2.c's tokenizer.py) is an int32 max_token_length,
// then per piece, in id order to the end of the file: float32 score, int32 length, the bytes. Id 0 is <unk>, 1
// BOS, 2 EOS; pieces spelled <0xNN> stand for one byte ("byte fallback"). The file writes SentencePiece's '▁' as
// ' ', so we work with ' ' too, and a '▁' in a text is a ' ' (for SentencePiece they are the same). The engine:
// src/tokenizer.cpp (the same merges from a priority queue, O(n log n) where this rescans in O(n^2)).

struct Tokenizer {
  std::vector<float> scores;                 // (vocab_size) merge priority: higher merges first
  std::vector<std::string> text;             // (vocab_size) the bytes each id prints as
  std::vector<bool> mergeable;               // (vocab_size) a normal piece: one BPE may produce
  std::unordered_map<std::string, int> ids;  // piece -> id; of duplicates the lowest
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
  const std::string_view f = map_file(path);
  Tokenizer t;
  std::fill_n(t.byte_ids, 256, -1);
  for (std::size_t at = 4; at < f.size();) {  // (max_token_length, at 0, is of no use here)
    const int id = int(t.scores.size());
    const std::int32_t len = f.size() - at >= 8 ? i32(f, at + 4) : -1;  // the piece's, after its score
    if (len < 0 || std::size_t(len) > f.size() - at - 8) fail(path, ": piece ", id, " at offset ", at, ": truncated");
    float score;
    std::memcpy(&score, f.data() + at, 4);
    const std::string piece(f.substr(at + 8, std::size_t(len)));
    at += 8 + std::size_t(len);
    const int byte = id > 2 ? parse_byte_piece(piece) : -1;
    if (byte >= 0 && t.byte_ids[byte] < 0) t.byte_ids[byte] = id;
    const char* unk = " \xE2\x81\x87 ";  // " ⁇ ", as SentencePiece shows <unk>; BOS and EOS show nothing
    t.text.push_back(id == Tokenizer::kUnk ? unk : id < 3 ? "" : byte >= 0 ? std::string(1, char(byte)) : piece);
    t.ids.emplace(piece, id);
    t.mergeable.push_back(id > 2 && byte < 0);
    t.scores.push_back(score);
  }
  if (t.scores.size() < 3) fail(path, ": ", t.scores.size(), " pieces, expected at least <unk>, BOS and EOS");
  return t;
}

// The length of the UTF-8 character at s[i]: as many bytes as its first one says, cut short where a byte does not
// continue it. A malformed one (overlong, a surrogate) can be no piece, so it ends as its bytes, as if split.
std::size_t utf8_char_len(const std::string& s, std::size_t i) {
  const unsigned char c = s[i];
  const std::size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
  std::size_t len = 1;
  while (len < n && i + len < s.size() && (s[i + len] & 0xC0) == 0x80) len++;
  return len;
}

// BOS, then the ids of text: prefix a space (SentencePiece's "dummy prefix", so that a first word is spelled like
// any other), cut into UTF-8 characters, then merge the adjacent pair that makes the highest-scoring piece (the
// leftmost on ties) until no pair makes one. A symbol left that is no piece becomes its bytes' <0xNN> ids.
std::vector<int> encode(const Tokenizer& t, const std::string& text) {
  std::vector<int> out{Tokenizer::kBos};
  if (text.empty()) return out;  // as SentencePiece: no dummy prefix on nothing
  std::string norm = " " + text;  // and '▁' (U+2581) is ' '
  for (std::size_t i; (i = norm.find("\xE2\x96\x81")) != std::string::npos;) norm.replace(i, 3, 1, ' ');
  std::vector<std::string> symbols;
  for (std::size_t i = 0; i < norm.size(); i += symbols.back().size()) {
    symbols.push_back(norm.substr(i, utf8_char_len(norm, i)));
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
  for (const std::string& s : symbols) {
    const int id = t.lookup(s);
    const bool has_bytes = std::all_of(s.begin(), s.end(), [&](char c) { return t.byte_ids[(unsigned char)c] >= 0; });
    if (id >= 0) {
      out.push_back(id);
    } else if (has_bytes) {
      for (unsigned char c : s) out.push_back(t.byte_ids[c]);
    } else if (out.back() != Tokenizer::kUnk) {  // a vocabulary without byte pieces: one <unk> per unknown run
      out.push_back(Tokenizer::kUnk);
    }
  }
  return out;
}

// The bytes `token` prints as after `prev`: after BOS a piece's leading space is the dummy prefix, not text. As
// llama2.c's safe_printf, a lone control byte prints as nothing; bytes >= 0x80 print (parts of UTF-8 characters).
std::string decode(const Tokenizer& t, int prev, int token) {
  std::string text = t.text[token];
  if (prev == Tokenizer::kBos && t.mergeable[token] && !text.empty() && text[0] == ' ') text.erase(0, 1);
  const unsigned char c = text.size() == 1 ? text[0] : ' ';
  return c < 0x80 && !std::isprint(c) && !std::isspace(c) ? "" : text;
}

// --- the sampler ---------------------------------------------------------------------------------
// logits -> the next token. Temperature 0 is greedy; otherwise the softmax of logits / temperature, cut to the
// smallest most-likely-first set whose probability reaches top_p (nucleus sampling), and one draw from that set
// by inverse CDF with llama2.c's xorshift* RNG. The engine: src/sampler.cpp, followed operation for operation so
// that on the same logits a seed draws the same tokens. Where two candidates are as close as the last bits our
// logits and the engine's differ in, it can draw another (in 0 of 300 runs on aidreams260K; often on stories260K).

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
};

// Moves to c[0, n) the smallest most-likely-first prefix of c[0, size) whose weight reaches target, by a weighted
// quickselect rather than a sort. The draw walks c in the order this leaves it: the engine's, step for step.
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
  if (sampler.temperature == 0.0f) {  // greedy: the first of the largest logits; a NaN never wins
    return int(std::max_element(logits, logits + n, [](float a, float b) { return std::isnan(a) || a < b; }) - logits);
  }
  Candidate* c = sampler.candidates.data();
  for (int i = 0; i < n; i++) c[i] = {i, std::isnan(logits[i]) ? -INFINITY : logits[i]};
  const float max_logit = std::max_element(c, c + n, [](auto& a, auto& b) { return a.prob < b.prob; })->prob;
  double mass = 0.0;  // never divided out: the draw scales the coin instead
  for (int i = 0; i < n; i++) mass += c[i].prob = std::exp((c[i].prob - max_logit) / sampler.temperature);
  Kept kept{n, mass};
  if (const double top_p = sampler.top_p; top_p < 1.0 && n > 1) {
    const double target = top_p * (1.0 - 1e-6) * mass;  // a little slack for float rounding
    // llama2.c's trick: the tokens below (1 - top_p) / (n - 1) together weigh less than 1 - top_p: never needed.
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
  const double r = double(float(sampler.random_u32() >> 8) / 16777216.0f) * kept.mass;  // a coin in [0, mass)
  double cdf = 0.0;
  for (int i = 0; i < kept.n; i++) {
    cdf += c[i].prob;
    if (r < cdf) return c[i].id;
  }
  return c[kept.n - 1].id;  // rounding
}

// --- the generate loop ---------------------------------------------------------------------------
// Each position runs a token; the next is the next prompt token while there is one, else a sample, printed as soon
// as it is decided; stops at EOS or BOS, or after `steps` positions. The engine: generate() in src/generate.cpp runs
// the prompt as one batch through Transformer::forward_batch (src/transformer_batch.cpp), each weight read once per
// chunk of tokens; here it goes token by token, as in run.c.

void generate(Transformer& transformer, const Tokenizer& tokenizer, Sampler& sampler, const std::string& prompt,
              int steps) {
  const std::vector<int> tokens = encode(tokenizer, prompt);
  const int n_prompt = int(tokens.size());
  if (n_prompt > steps) fail("the prompt is ", n_prompt, " tokens (BOS included), more than -n ", steps, " positions");
  std::chrono::steady_clock::time_point start;
  int token = tokens[0], pos = 0;
  while (pos < steps) {
    const float* logits = forward(transformer, token, pos);
    if (++pos == 1) start = std::chrono::steady_clock::now();  // as llama2.c: the first position can be slow
    const int next = pos < n_prompt ? tokens[pos] : sample(sampler, logits);
    if (next == Tokenizer::kEos || next == Tokenizer::kBos) break;  // (the prompt never has them)
    std::fputs(decode(tokenizer, token, next).c_str(), stdout);  // (decode drops the byte 0 with the controls)
    std::fflush(stdout);
    token = next;
  }
  std::printf("\n");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (pos > 1 && seconds > 0) std::fprintf(stderr, "achieved tok/s: %f\n", (pos - 1) / seconds);
}

// --- the command line ----------------------------------------------------------------------------
const char* kUsage =
    "usage: llama2_one_file MODEL [-t T] [-p P] [-s S] [-n N] [-i PROMPT] [-z TOKENIZER]\n"
    "       llama2_one_file MODEL --logits \"ID ID ...\"    (teacher forcing: prints each position's logits)\n"
    "       llama2_one_file --tokens -z TOKENIZER -i TEXT  (prints the ids of BOS and TEXT)\n"
    "MODEL is a llama2.c checkpoint (v0 or v1, fp32). The flags are llama2.c's, as in build/run:\n"
    "  -t T       temperature, 0 = greedy (default 1.0)\n"
    "  -p P       top-p (nucleus) in (0, 1], 1 = off (default 0.9)\n"
    "  -s S       random seed, an integer >= 0 (default: the time)\n"
    "  -n N       positions to run, the prompt's included; 0 = the context (default 256 or the context)\n"
    "  -i PROMPT  the prompt (default: none; the model starts from BOS)\n"
    "  -z FILE    tokenizer.bin (default: tokenizer.bin beside MODEL)\n"
    "Exit status: 0 ok, 1 bad model, tokenizer or input, 2 bad flag.\n";

// The number a flag gives, or `fallback` if not given: all of its value must be a finite number that ok accepts.
template <typename T>
T number(const std::unordered_map<std::string, std::string>& flags, const char* flag, T fallback, bool ok(T),
         const char* expected) {
  const auto it = flags.find(flag);
  if (it == flags.end()) return fallback;
  T x;
  const auto [end, error] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), x);
  if (error == std::errc() && *end == '\0' && std::isfinite(double(x)) && ok(x)) return x;
  fail<UsageError>(flag, ": expected ", expected, ", got '", it->second, "'");
}

// The program: every error it throws ends in main's catch, as one line on stderr (a bad flag adds the usage).
int main(int argc, char** argv) try {
  std::string model_path;
  std::unordered_map<std::string, std::string> flags;  // each flag given -> its value
  for (int i = 1; i < argc; i++) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if ((arg.size() == 2 && arg[0] == '-' && std::strchr("tpsniz", arg[1])) || arg == "--logits") {
      if (i + 1 >= argc) fail<UsageError>(arg, " needs a value");
      flags[arg] = argv[++i];
    } else if (arg == "--tokens") {
      flags[arg] = "";
    } else if (arg.size() > 1 && arg[0] == '-') {
      fail<UsageError>("unknown option ", arg);
    } else if (model_path.empty()) {
      model_path = arg;
    } else {
      fail<UsageError>("unexpected argument '", arg, "' (the model is already ", model_path, ")");
    }
  }
  const float temperature = number<float>(flags, "-t", 1.0f, [](float t) { return t >= 0; }, "a temperature >= 0");
  const float top_p = number<float>(flags, "-p", 0.9f, [](float p) { return p > 0 && p <= 1; }, "a number in (0, 1]");
  const long long seed = number<long long>(flags, "-s", -1, [](long long s) { return s >= 0; }, "an integer >= 0");
  long long steps = number<long long>(flags, "-n", -1, [](long long n) { return n >= 0; }, "an integer >= 0");
  const std::string prompt = flags["-i"];
  std::string tokenizer_path = flags["-z"];
  if (tokenizer_path.empty() && !model_path.empty()) {  // a checkpoint has no vocabulary: by default the one beside
    tokenizer_path = model_path.substr(0, model_path.rfind('/') + 1) + "tokenizer.bin";  // npos + 1 == 0
  }
  if (flags.count("--tokens")) {
    if (tokenizer_path.empty()) fail<UsageError>("--tokens needs -z TOKENIZER");
    const std::vector<int> ids = encode(read_tokenizer(tokenizer_path), prompt);
    for (std::size_t i = 0; i < ids.size(); i++) std::printf(i ? " %d" : "%d", ids[i]);
    std::printf("\n");
    return 0;
  }
  if (model_path.empty()) fail<UsageError>("missing the MODEL file");

  Transformer transformer(model_path);
  const Config& c = transformer.config;
  if (flags.count("--logits")) {  // teacher forcing: no tokenizer, no sampler
    std::istringstream in(flags["--logits"]);
    const std::vector<long> ids{std::istream_iterator<long>(in), {}};
    auto bad = [&](long id) { return id < 0 || id >= c.vocab_size; };
    if (!in.eof() || ids.size() > std::size_t(c.seq_len) || std::any_of(ids.begin(), ids.end(), bad)) {
      fail("--logits: expected up to seq_len = ", c.seq_len, " token ids in [0, ", c.vocab_size,
           ") separated by spaces, got '", flags["--logits"], "'");
    }
    for (std::size_t pos = 0; pos < ids.size(); pos++) {
      const float* out = forward(transformer, int(ids[pos]), int(pos));
      for (int i = 0; i < c.vocab_size; i++) std::printf(i ? " %.9g" : "%.9g", double(out[i]));
      std::printf("\n");
    }
    return 0;
  }

  const Tokenizer tokenizer = read_tokenizer(tokenizer_path);
  if (tokenizer.scores.size() != std::size_t(c.vocab_size)) {
    fail("the tokenizer ", tokenizer_path, " has ", tokenizer.scores.size(), " pieces but the model ", model_path,
         " has vocab_size ", c.vocab_size, "; pass the model's own tokenizer with -z");
  }
  if (steps < 0) steps = std::min(256, c.seq_len);  // as build/run: 256, cut to a smaller context
  if (steps == 0) steps = c.seq_len;
  if (steps > c.seq_len) fail("-n ", steps, " is larger than the model's context ", c.seq_len, " (-n 0: all of it)");
  // The seed is xorshift's first state, as in llama2.c; but 0 is its fixed point: the engine starts 0 elsewhere.
  const std::uint64_t state = seed >= 0 ? std::uint64_t(seed) : std::uint64_t(std::time(nullptr));
  Sampler sampler{temperature, top_p, state != 0 ? state : 0x2545F4914F6CDD1Dull, std::vector<Candidate>(c.vocab_size)};
  generate(transformer, tokenizer, sampler, prompt, int(steps));
  return 0;
} catch (const UsageError& e) {
  std::fprintf(stderr, "llama2_one_file: %s\n\n%s", e.what(), kUsage);
  return 2;
} catch (const std::exception& e) {
  std::fprintf(stderr, "llama2_one_file: error: %s\n", e.what());
  return 1;
}

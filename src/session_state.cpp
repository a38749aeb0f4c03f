// Saving and loading a Session (the file format is described in
// session_state.hpp), and the fingerprints that tie a file to its model.
#include "session_state.hpp"

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "formats/checked_math.hpp"
#include "llama2/error.hpp"
#include "llama2/session.hpp"

namespace llama2 {

namespace {

constexpr char kMagic[8] = {'L', 'L', '2', 'S', 'E', 'S', 'S', '\0'};
constexpr std::size_t kHeaderBytes = 8 + 4 + 4 + 8 + 8 + 5 * 4 + 3 * 4 + 8;

// --- little-endian writing and reading ----------------------------------------------

template <typename T>
void put(std::vector<std::uint8_t>& out, T value) {
  for (std::size_t i = 0; i < sizeof(T); i++) out.push_back(std::uint8_t(std::uint64_t(value) >> (8 * i)));
}

struct Reader {
  std::span<const std::uint8_t> bytes;
  std::size_t at = 0;
  template <typename T>
  T get() {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < sizeof(T); i++) v |= std::uint64_t(bytes[at + i]) << (8 * i);
    at += sizeof(T);
    return T(v);
  }
};

std::uint64_t hash_floats(std::uint64_t h, const float* p, std::size_t n) {
  return fnv1a({reinterpret_cast<const std::uint8_t*>(p), n * sizeof(float)}, h);
}
std::uint64_t hash_u64(std::uint64_t h, std::uint64_t v) {
  std::uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = std::uint8_t(v >> (8 * i));
  return fnv1a(b, h);
}

}  // namespace

std::uint64_t fnv1a(std::span<const std::uint8_t> bytes, std::uint64_t hash) {
  for (std::uint8_t b : bytes) hash = (hash ^ b) * 0x100000001b3ull;
  return hash;
}

// --- fingerprints ---------------------------------------------------------------------

// The config, the file's size and format, and a sample of the weights (the
// first and last embedding rows and the norms), so that two checkpoints of
// one architecture are told apart without hashing gigabytes.
std::uint64_t model_fingerprint(const Model& model) {
  const Config& c = model.config();
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::int64_t v : {std::int64_t(c.dim), std::int64_t(c.hidden_dim), std::int64_t(c.n_layers),
                         std::int64_t(c.n_heads), std::int64_t(c.n_kv_heads), std::int64_t(c.vocab_size),
                         std::int64_t(c.seq_len), std::int64_t(model.format()), std::int64_t(model.file_size())}) {
    h = hash_u64(h, std::uint64_t(v));
  }
  // The same values as weights(); read where the forward pass reads them,
  // so that no released file page is mapped again (kernel_weights).
  const Weights& w = model.kernel_weights();
  std::vector<float> row(std::size_t(c.dim));  // (dim)
  for (std::size_t r : {std::size_t(0), std::size_t(c.vocab_size) - 1}) {
    dequantize_row(w.token_embedding, r, row.data());
    h = hash_floats(h, row.data(), row.size());
  }
  if (w.rms_final) h = hash_floats(h, w.rms_final, row.size());
  for (const LayerWeights& l : w.layers) {
    if (l.rms_att) h = hash_floats(h, l.rms_att, row.size());
  }
  return h;
}

std::uint64_t tokenizer_fingerprint(const Tokenizer& tokenizer) {
  const Vocab& v = tokenizer.vocab();
  std::uint64_t h = hash_u64(hash_u64(0xcbf29ce484222325ull, std::uint64_t(v.bos_id)), std::uint64_t(v.eos_id));
  for (std::size_t i = 0; i < v.pieces.size(); i++) {
    h = hash_u64(h, v.pieces[i].size());
    h = fnv1a({reinterpret_cast<const std::uint8_t*>(v.pieces[i].data()), v.pieces[i].size()}, h);
    if (i < v.scores.size()) h = hash_floats(h, &v.scores[i], 1);
  }
  return h;
}

// --- the file -------------------------------------------------------------------------

std::vector<std::uint8_t> serialize_session_state(const SessionState& s) {
  std::vector<std::uint8_t> out(kMagic, kMagic + 8);
  put(out, s.version);
  put(out, std::uint32_t(s.kv_type == KvType::F16 ? 1 : 0));
  put(out, s.model_fingerprint);
  put(out, s.tokenizer_fingerprint);
  for (std::uint32_t v : {s.n_layers, s.n_kv_heads, s.head_size, s.vocab_size, s.context}) put(out, v);
  put(out, std::uint32_t(s.tokens.size()));
  put(out, s.n_past);
  put(out, s.flags);
  put(out, s.rng_state);
  for (int t : s.tokens) put(out, std::uint32_t(t));
  out.insert(out.end(), s.kv.begin(), s.kv.end());
  put(out, fnv1a(out));
  return out;
}

SessionState parse_session_state(std::span<const std::uint8_t> bytes, const std::string& name) {
  auto fail = [&](const std::string& what) { throw Error(name + ": " + what); };
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kMagic, 8) != 0) {
    fail("not a llama2.cpp session file (expected the magic \"LL2SESS\" at offset 0)");
  }
  if (bytes.size() < kHeaderBytes + 8) {
    fail("truncated: " + std::to_string(bytes.size()) + " bytes, the header alone needs " +
         std::to_string(kHeaderBytes + 8));
  }
  Reader r{bytes, 8};
  SessionState s;
  s.version = r.get<std::uint32_t>();
  if (s.version == 0 || s.version > kSessionStateVersion) {
    fail("format version " + std::to_string(s.version) + " (offset 8) is " +
         (s.version == 0 ? std::string("invalid") : std::string("newer than this build reads")) + "; expected 1 .. " +
         std::to_string(kSessionStateVersion));
  }
  const std::uint32_t kv_type = r.get<std::uint32_t>();
  if (kv_type > 1) fail("kv_type = " + std::to_string(kv_type) + " (offset 12), expected 0 (f32) or 1 (f16)");
  s.kv_type = kv_type == 1 ? KvType::F16 : KvType::F32;
  s.model_fingerprint = r.get<std::uint64_t>();
  s.tokenizer_fingerprint = r.get<std::uint64_t>();
  s.n_layers = r.get<std::uint32_t>();
  s.n_kv_heads = r.get<std::uint32_t>();
  s.head_size = r.get<std::uint32_t>();
  s.vocab_size = r.get<std::uint32_t>();
  s.context = r.get<std::uint32_t>();
  const std::uint32_t n_tokens = r.get<std::uint32_t>();
  s.n_past = r.get<std::uint32_t>();
  s.flags = r.get<std::uint32_t>();
  s.rng_state = r.get<std::uint64_t>();
  if (s.n_layers == 0 || s.n_kv_heads == 0 || s.head_size == 0 || s.vocab_size == 0 || s.context == 0) {
    fail("a size in the header is 0 (n_layers " + std::to_string(s.n_layers) + ", n_kv_heads " +
         std::to_string(s.n_kv_heads) + ", head_size " + std::to_string(s.head_size) + ", vocab_size " +
         std::to_string(s.vocab_size) + ", context " + std::to_string(s.context) + ")");
  }
  if (n_tokens > s.context) {
    fail("n_tokens = " + std::to_string(n_tokens) + " is larger than its context of " + std::to_string(s.context));
  }
  if (s.n_past > n_tokens) {
    fail("n_past = " + std::to_string(s.n_past) + " is larger than n_tokens = " + std::to_string(n_tokens));
  }
  // Every size is a u32: their products fit in 64 bits only when checked.
  const std::size_t element = s.kv_type == KvType::F16 ? 2 : 4;
  const std::size_t kv_bytes =
      checked_mul(checked_mul(checked_mul(std::size_t(s.n_layers), std::size_t(s.n_kv_heads), name),
                              checked_mul(std::size_t(s.n_past), std::size_t(s.head_size), name), name),
                  2 * element, name);
  const std::size_t expected = checked_add(checked_add(kHeaderBytes, std::size_t(n_tokens) * 4, name),
                                           checked_add(kv_bytes, 8, name), name);
  if (bytes.size() != expected) {
    fail(std::string(bytes.size() < expected ? "truncated: " : "trailing data: ") + std::to_string(bytes.size()) +
         " bytes, but its header (" + std::to_string(n_tokens) + " tokens, " + std::to_string(s.n_past) +
         " cached positions) says " + std::to_string(expected));
  }
  const std::uint64_t stored = Reader{bytes, bytes.size() - 8}.get<std::uint64_t>();
  const std::uint64_t actual = fnv1a(bytes.first(bytes.size() - 8));
  if (stored != actual) fail("corrupted: the checksum does not match its contents");
  if (s.rng_state == 0) fail("rng_state = 0 is not a state the sampler can have");
  s.tokens.resize(n_tokens);
  for (std::uint32_t i = 0; i < n_tokens; i++) {
    const std::uint32_t t = r.get<std::uint32_t>();
    if (t >= s.vocab_size) {
      fail("token " + std::to_string(i) + " (offset " + std::to_string(r.at - 4) + ") has id " + std::to_string(t) +
           ", outside [0, " + std::to_string(s.vocab_size) + ")");
    }
    s.tokens[i] = int(t);
  }
  s.kv.assign(bytes.begin() + std::ptrdiff_t(r.at), bytes.begin() + std::ptrdiff_t(r.at + kv_bytes));
  return s;
}

// --- Session::save and load --------------------------------------------------------------

void Session::save(const std::string& path) const {
  const Config& c = transformer_->config();
  const KvCache& kv = transformer_->kv_cache();
  SessionState s;
  s.kv_type = kv.type();
  s.model_fingerprint = model_fingerprint(transformer_->model());
  s.tokenizer_fingerprint = tokenizer_fingerprint(*tokenizer_);
  s.n_layers = std::uint32_t(c.n_layers);
  s.n_kv_heads = std::uint32_t(c.n_kv_heads);
  s.head_size = std::uint32_t(c.head_size());
  s.vocab_size = std::uint32_t(c.vocab_size);
  s.context = std::uint32_t(c.seq_len);
  s.n_past = std::uint32_t(n_past_);
  s.flags = strip_leading_space_ ? 1u : 0u;
  s.rng_state = sampler_->rng_state();
  s.tokens = stats_.tokens;
  const std::size_t head_bytes = std::size_t(n_past_) * kv.head_size() * kv.element_size();
  for (std::size_t l = 0; l < std::size_t(c.n_layers); l++) {
    for (std::size_t h = 0; h < std::size_t(c.n_kv_heads); h++) {
      for (const void* rows : {kv.keys(l, h), kv.values(l, h)}) {
        const auto* p = static_cast<const std::uint8_t*>(rows);
        s.kv.insert(s.kv.end(), p, p + head_bytes);
      }
    }
  }
  const std::vector<std::uint8_t> bytes = serialize_session_state(s);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(path + ": cannot open for writing the session");
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  if (!out.flush()) throw Error(path + ": writing the session failed");
}

void Session::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the session file");
  const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const SessionState s = parse_session_state(bytes, path);

  const Config& c = transformer_->config();
  auto refuse = [&](const std::string& what) { throw Error(path + ": " + what); };
  auto same = [&](const char* field, std::uint32_t saved, int here) {
    if (saved != std::uint32_t(here)) {
      refuse("saved for a model with " + std::string(field) + " = " + std::to_string(saved) + "; this model has " +
             std::to_string(here));
    }
  };
  same("n_layers", s.n_layers, c.n_layers);
  same("n_kv_heads", s.n_kv_heads, c.n_kv_heads);
  same("head_size", s.head_size, c.head_size());
  same("vocab_size", s.vocab_size, c.vocab_size);
  if (s.model_fingerprint != model_fingerprint(transformer_->model())) {
    refuse("saved with another model (its fingerprint differs from " + transformer_->model().path() + "'s)");
  }
  if (s.tokenizer_fingerprint != tokenizer_fingerprint(*tokenizer_)) {
    refuse("saved with another tokenizer (its fingerprint differs from this session's)");
  }
  const KvCache& kv = transformer_->kv_cache();
  if (s.kv_type != kv.type()) {
    refuse("saved with an " + std::string(kv_type_name(s.kv_type)) + " KV cache; this session's is " +
           std::string(kv_type_name(kv.type())) + " (load it with the same KV type)");
  }
  if (s.tokens.size() > std::size_t(c.seq_len)) {
    refuse("holds " + std::to_string(s.tokens.size()) + " tokens, more than this session's context of " +
           std::to_string(c.seq_len) + " positions");
  }

  // Everything checked: replace this session's state.
  KvCache& cache = transformer_->kv_cache();
  const std::size_t head_bytes = std::size_t(s.n_past) * cache.head_size() * cache.element_size();
  const std::uint8_t* p = s.kv.data();  // null when nothing was saved (n_past 0): no memcpy then
  for (std::size_t l = 0; head_bytes != 0 && l < std::size_t(c.n_layers); l++) {
    for (std::size_t h = 0; h < std::size_t(c.n_kv_heads); h++) {
      std::memcpy(cache.mutable_keys(l, h), p, head_bytes);
      std::memcpy(cache.mutable_values(l, h), p + head_bytes, head_bytes);
      p += 2 * head_bytes;
    }
  }
  clear();
  stats_.tokens = s.tokens;
  n_past_ = int(s.n_past);
  stats_.positions = n_past_;
  strip_leading_space_ = (s.flags & 1u) != 0;
  sampler_->set_rng_state(s.rng_state);
}

}  // namespace llama2

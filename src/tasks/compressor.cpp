// Compressor: a language model's next-token probabilities driving a range
// coder (the scheme and the stream format are described in compressor.hpp).
#include "llama2/compressor.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "llama2/arithmetic_coder.hpp"
#include "llama2/error.hpp"
#include "llama2/mapped_file.hpp"

namespace llama2 {

// --- fingerprints ------------------------------------------------------------------------

std::uint64_t fingerprint64(std::string_view bytes) {
  constexpr std::uint64_t kOffset = 0xcbf29ce484222325ull, kPrime = 0x100000001b3ull;
  std::uint64_t h = kOffset;
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, bytes.data() + i, 8);
    h = (h ^ word) * kPrime;
    h ^= h >> 29;  // FNV's multiply only moves bits up: fold the high bits back down
  }
  for (; i < bytes.size(); i++) h = (h ^ std::uint8_t(bytes[i])) * kPrime;
  return (h ^ bytes.size()) * kPrime;
}

std::uint64_t file_fingerprint(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    // A Hugging Face folder: its config.json and tensor files, in name order.
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(path)) {
      const std::string name = e.path().filename().string();
      if (e.is_regular_file() && (name == "config.json" || name.ends_with(".safetensors"))) files.push_back(name);
    }
    std::sort(files.begin(), files.end());
    std::string digest;  // name and fingerprint of each file
    for (const std::string& name : files) {
      const std::uint64_t fp = file_fingerprint(path + "/" + name);
      digest += name;
      digest.append(reinterpret_cast<const char*>(&fp), sizeof fp);
    }
    return fingerprint64(digest);
  }
  MappedFile file(path);
  return fingerprint64(std::string_view(reinterpret_cast<const char*>(file.data()), file.size()));
}

// --- header ----------------------------------------------------------------------------------

namespace {

constexpr char kMagic[4] = {'L', '2', 'C', 'Z'};
constexpr std::uint32_t kFlagByteFallback = 1;
// The encoder's batches hold at most this many bytes of logits.
constexpr std::size_t kEncodeBatchBytes = std::size_t(16) << 20;

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; i++) out.push_back(char(std::uint8_t(v >> (8 * i))));
}
void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; i++) out.push_back(char(std::uint8_t(v >> (8 * i))));
}
std::uint64_t get_le(std::string_view in, std::size_t offset, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; i--) v = (v << 8) | std::uint8_t(in[offset + std::size_t(i)]);
  return v;
}

std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

CompressedHeader read_compressed_header(std::string_view stream) {
  if (stream.size() < 4 || std::memcmp(stream.data(), kMagic, 4) != 0) {
    throw Error("compressed stream: magic is not \"L2CZ\": not a file made by compress");
  }
  if (stream.size() < kCompressedHeaderBytes) {
    throw Error("compressed stream: truncated: " + std::to_string(stream.size()) + " bytes, the header alone needs " +
                std::to_string(kCompressedHeaderBytes));
  }
  CompressedHeader h;
  h.version = std::uint32_t(get_le(stream, 4, 4));
  h.original_bytes = get_le(stream, 8, 8);
  h.symbols = get_le(stream, 16, 8);
  h.model_fingerprint = get_le(stream, 24, 8);
  h.tokenizer_fingerprint = get_le(stream, 32, 8);
  h.content_fingerprint = get_le(stream, 40, 8);
  h.context = std::uint32_t(get_le(stream, 48, 4));
  h.flags = std::uint32_t(get_le(stream, 52, 4));
  if (h.version == 1) {
    throw Error("compressed stream: format version 1, made by an older compress whose model ran token by token; "
                "this program reads version " + std::to_string(kCompressedVersion) +
                " (decompress it with the version that made it)");
  }
  if (h.version != kCompressedVersion) {
    throw Error("compressed stream: format version " + std::to_string(h.version) + ", this program reads version " +
                std::to_string(kCompressedVersion));
  }
  // Every symbol yields at least one byte.
  if (h.symbols > h.original_bytes) {
    throw Error("compressed stream: header is corrupted: " + std::to_string(h.symbols) + " symbols for " +
                std::to_string(h.original_bytes) + " bytes");
  }
  return h;
}

// --- the model side: windows and frequencies ---------------------------------------------------

// Feeds tokens to the transformer at increasing positions, restarting the
// window (BOS + the last K tokens) when the context is full. Every call is
// Transformer::forward_batch_all, whose row for a token does not depend on
// how many tokens share its batch (tested: BatchInvariance in
// tests/batch_forward_test.cpp). So the encoder, which knows all its tokens,
// runs them in large batches, and the decoder, which learns each token from
// the logits before it, runs them one at a time, and both see the same
// logits bit for bit.
class Compressor::Window {
 public:
  Window(Transformer& t, int bos)
      : t_(t), bos_(bos), ctx_(t.config().seq_len), keep_(std::min(ctx_ / 2, ctx_ - 2)),
        vocab_(std::size_t(t.config().vocab_size)) {}

  std::span<const float> start() {
    history_.clear();
    pos_ = 0;
    return run(std::span<const int>(&bos_, 1)).last(vocab_);
  }

  // Feeds the first tokens of `tokens`: as many as fit in the window
  // (restarting it first if it is full), at most max_batch. Returns the
  // logits after each token fed: (n fed, vocab_size), valid until the next call.
  std::span<const float> push_all(std::span<const int> tokens, std::size_t max_batch) {
    if (pos_ < ctx_) {
      tokens = tokens.first(std::min({tokens.size(), max_batch, std::size_t(ctx_ - pos_)}));
      history_.insert(history_.end(), tokens.begin(), tokens.end());
      return run(tokens);
    }
    // Restart: BOS, then the last keep_ tokens again at 1..keep_, then the
    // new tokens, in one batch (the rows do not depend on the batch).
    std::vector<int> batch(history_.end() - std::ptrdiff_t(keep_), history_.end());
    history_.assign(batch.begin(), batch.end());
    batch.insert(batch.begin(), bos_);
    const std::size_t skip = batch.size();
    tokens = tokens.first(std::min({tokens.size(), std::max(max_batch, skip + 1) - skip, std::size_t(ctx_) - skip}));
    history_.insert(history_.end(), tokens.begin(), tokens.end());
    batch.insert(batch.end(), tokens.begin(), tokens.end());
    pos_ = 0;
    return run(batch).subspan(skip * vocab_);
  }

  std::span<const float> push(int token) { return push_all(std::span<const int>(&token, 1), 1); }

  std::uint64_t passes() const { return passes_; }

 private:
  std::span<const float> run(std::span<const int> tokens) {
    std::span<const float> logits = t_.forward_batch_all(tokens, pos_);
    pos_ += int(tokens.size());
    passes_ += tokens.size();
    return logits;
  }

  Transformer& t_;
  int bos_;
  int ctx_;
  int keep_;
  std::size_t vocab_;
  int pos_ = 0;
  std::vector<int> history_;  // tokens fed since the window's BOS
  std::uint64_t passes_ = 0;
};

namespace {

// Cumulative frequencies of the n = vocab + 1 symbols (the last is the escape).
class Frequencies {
 public:
  explicit Frequencies(int vocab_size) : n_(std::size_t(vocab_size) + 1), p_(n_ - 1), cum_(n_ + 1) {
    limit_ = 1u << 20;
    while (limit_ < 16 * n_ && limit_ < RangeEncoder::kMaxTotal) limit_ <<= 1;
    if (4 * n_ > limit_) {
      throw Error("compress: vocab_size " + std::to_string(vocab_size) + " is too large for the 24-bit range coder");
    }
  }

  // freq_i = 1 + floor(p_i * (limit - n)), p = softmax(logits) in double.
  void update(std::span<const float> logits) {
    double max = -INFINITY;
    for (float l : logits) {
      if (!std::isfinite(l)) throw Error("compress: the model produced a non-finite logit");
      max = std::max(max, double(l));
    }
    double sum = 0.0;
    for (std::size_t i = 0; i < p_.size(); i++) sum += (p_[i] = std::exp(double(logits[i]) - max));
    const double budget = double(limit_ - n_);
    std::uint32_t c = 0;
    for (std::size_t i = 0; i < p_.size(); i++) {
      cum_[i] = c;
      c += 1 + std::uint32_t(std::floor(p_[i] / sum * budget));
    }
    cum_[n_ - 1] = c;  // escape, frequency 1
    cum_[n_] = c + 1;
  }

  std::uint32_t start(std::size_t s) const { return cum_[s]; }
  std::uint32_t size(std::size_t s) const { return cum_[s + 1] - cum_[s]; }
  std::uint32_t total() const { return cum_[n_]; }
  // The symbol whose slice holds value (value < total()).
  std::size_t find(std::uint32_t value) const {
    return std::size_t(std::upper_bound(cum_.begin(), cum_.end(), value) - cum_.begin()) - 1;
  }

 private:
  std::size_t n_;
  std::vector<double> p_;         // (vocab_size) unnormalized probabilities
  std::vector<std::uint32_t> cum_;  // (n + 1) cum_[s] = start of symbol s, cum_[n] = total
  std::uint32_t limit_;
};

Vocab without_dummy_prefix(Vocab v) {
  v.add_space_prefix = false;
  return v;
}

}  // namespace

// --- Compressor ------------------------------------------------------------------------------

Compressor::Compressor(Transformer& transformer, const Tokenizer& tokenizer, std::uint64_t model_fingerprint,
                       std::uint64_t tokenizer_fingerprint)
    : transformer_(transformer),
      tokenizer_(tokenizer),
      raw_tokenizer_(without_dummy_prefix(tokenizer.vocab())),
      model_fingerprint_(model_fingerprint),
      tokenizer_fingerprint_(tokenizer_fingerprint) {
  const Config& c = transformer.config();
  if (tokenizer.vocab_size() != c.vocab_size) {
    throw Error("compress: the tokenizer has " + std::to_string(tokenizer.vocab_size()) + " pieces but the model " +
                transformer.model().path() + " has vocab_size " + std::to_string(c.vocab_size));
  }
  if (c.seq_len < 2) {
    throw Error("compress: context " + std::to_string(c.seq_len) + " is too short, expected at least 2");
  }
}

std::vector<int> Compressor::symbols_for(std::string_view input, bool* byte_fallback) const {
  const Vocab& v = raw_tokenizer_.vocab();
  std::vector<int> ids = raw_tokenizer_.encode(input, false, false);
  std::string decoded;
  bool ok = true;
  for (int id : ids) {
    const TokenType type = v.types[std::size_t(id)];
    if (type == TokenType::UNKNOWN || type == TokenType::CONTROL) {
      ok = false;
      break;
    }
    decoded += raw_tokenizer_.decode(-1, id);
  }
  ok = ok && decoded == input;
  if (byte_fallback) *byte_fallback = !ok;
  if (ok) return ids;

  // Byte by byte: <0xNN> where the vocab has it, else escape + byte.
  const int escape = raw_tokenizer_.vocab_size();
  std::vector<int> out;
  for (char ch : input) {
    const std::uint8_t b = std::uint8_t(ch);
    char piece[8];
    std::snprintf(piece, sizeof piece, "<0x%02X>", b);
    const int id = raw_tokenizer_.piece_id(piece);
    if (id >= 0 && v.types[std::size_t(id)] == TokenType::BYTE) {
      out.push_back(id);
    } else {
      out.push_back(escape);
      out.push_back(b);
    }
  }
  return out;
}

std::string Compressor::compress(std::string_view input, CompressStats* stats, const Progress& progress) {
  bool fallback = false;
  const std::vector<int> symbols = symbols_for(input, &fallback);
  const int escape = raw_tokenizer_.vocab_size();
  // The token fed after each coded symbol (an escaped byte feeds <unk>), and
  // where each symbol starts in `symbols`.
  std::vector<int> fed;           // (n_symbols)
  std::vector<std::size_t> where;  // (n_symbols)
  for (std::size_t i = 0; i < symbols.size(); i += symbols[i] == escape ? 2 : 1) {
    where.push_back(i);
    fed.push_back(symbols[i] == escape ? tokenizer_.vocab().unk_id : symbols[i]);
  }
  const std::size_t n_symbols = fed.size();

  Frequencies freq(escape);
  Window window(transformer_, tokenizer_.bos_id());
  RangeEncoder enc;
  const std::size_t vocab = std::size_t(escape);
  // Symbol j is coded with the logits after fed[j - 1]: the tokens are all
  // known, so they run as batches of up to kEncodeBatchBytes of logits.
  const std::size_t max_batch = std::max<std::size_t>(1, kEncodeBatchBytes / (sizeof(float) * vocab));
  std::span<const float> rows = window.start();  // (n, vocab_size) logits for symbols j .. j + n - 1
  for (std::size_t j = 0; j < n_symbols;) {
    for (std::size_t r = 0; r < rows.size() / vocab; r++, j++) {
      const int s = symbols[where[j]];
      freq.update(rows.subspan(r * vocab, vocab));
      enc.encode(freq.start(std::size_t(s)), freq.size(std::size_t(s)), freq.total());
      if (s == escape) enc.encode(std::uint32_t(symbols[where[j] + 1]), 1, 256);
      if (progress) progress(j + 1, n_symbols);
    }
    if (j < n_symbols) rows = window.push_all(std::span<const int>(fed).subspan(j - 1, n_symbols - j), max_batch);
  }

  std::string out(kMagic, 4);
  put_u32(out, kCompressedVersion);
  put_u64(out, input.size());
  put_u64(out, n_symbols);
  put_u64(out, model_fingerprint_);
  put_u64(out, tokenizer_fingerprint_);
  put_u64(out, fingerprint64(input));
  put_u32(out, std::uint32_t(transformer_.config().seq_len));
  put_u32(out, fallback ? kFlagByteFallback : 0);
  out += enc.finish();
  if (stats) {
    *stats = CompressStats{input.size(), out.size(), n_symbols, window.passes(), fallback};
  }
  return out;
}

std::string Compressor::decompress(std::string_view stream, CompressStats* stats, const Progress& progress) {
  const CompressedHeader h = read_compressed_header(stream);
  if (h.model_fingerprint != model_fingerprint_) {
    throw Error("compressed stream: made with a different model (fingerprint " + hex(h.model_fingerprint) + ", " +
                transformer_.model().path() + " has " + hex(model_fingerprint_) + ")");
  }
  if (h.tokenizer_fingerprint != tokenizer_fingerprint_) {
    throw Error("compressed stream: made with a different tokenizer (fingerprint " + hex(h.tokenizer_fingerprint) +
                ", this tokenizer has " + hex(tokenizer_fingerprint_) + ")");
  }
  if (h.context != std::uint32_t(transformer_.config().seq_len)) {
    throw Error("compressed stream: made with context " + std::to_string(h.context) + ", the model runs with " +
                std::to_string(transformer_.config().seq_len));
  }
  const int escape = raw_tokenizer_.vocab_size();
  const Vocab& v = raw_tokenizer_.vocab();
  Frequencies freq(escape);
  Window window(transformer_, tokenizer_.bos_id());
  RangeDecoder dec(stream.substr(kCompressedHeaderBytes));
  std::string out;
  out.reserve(std::size_t(std::min<std::uint64_t>(h.original_bytes, std::uint64_t(1) << 30)));
  std::span<const float> logits = window.start();
  for (std::uint64_t k = 0; k < h.symbols; k++) {
    freq.update(logits);
    const std::size_t s = freq.find(dec.decode_value(freq.total()));
    dec.decode(freq.start(s), freq.size(s), freq.total());
    int fed = int(s);
    if (int(s) == escape) {
      const std::uint32_t b = dec.decode_value(256);
      dec.decode(b, 1, 256);
      out.push_back(char(b));
      fed = v.unk_id;
    } else {
      const TokenType type = v.types[s];
      if (type == TokenType::UNKNOWN || type == TokenType::CONTROL) {
        throw Error("compressed stream: corrupted: decoded " + std::string(type == TokenType::UNKNOWN ? "<unk>" : "a control") +
                    " token (" + std::to_string(s) + ") at symbol " + std::to_string(k) + ", which compress never codes");
      }
      out += raw_tokenizer_.decode(-1, int(s));
    }
    if (out.size() > h.original_bytes) {
      throw Error("compressed stream: corrupted: symbol " + std::to_string(k) + " decodes past the original length " +
                  std::to_string(h.original_bytes));
    }
    if (progress) progress(k + 1, h.symbols);
    if (k + 1 < h.symbols) logits = window.push(fed);
  }
  dec.finish();
  if (out.size() != h.original_bytes) {
    throw Error("compressed stream: corrupted: decoded " + std::to_string(out.size()) + " bytes, the header says " +
                std::to_string(h.original_bytes));
  }
  if (fingerprint64(out) != h.content_fingerprint) {
    throw Error("compressed stream: corrupted: the decoded bytes do not match the original's fingerprint " +
                hex(h.content_fingerprint));
  }
  if (stats) *stats = CompressStats{out.size(), stream.size(), h.symbols, window.passes(), (h.flags & 1) != 0};
  return out;
}

}  // namespace llama2

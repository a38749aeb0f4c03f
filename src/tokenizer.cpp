// Tokenizer: SentencePiece BPE as Llama-2 uses it, and the llama2.c
// tokenizer.bin reader.
//
// tokenizer.bin (written by llama2.c's tokenizer.py) is little-endian:
//   int32 max_token_length                 longest piece in bytes
//   then, once per piece, in id order, until the end of the file:
//     float32 score                        merge priority (higher merges first)
//     int32   len                          piece length in bytes
//     len bytes                            the piece, UTF-8, no terminator
// The number of pieces is not stored: the model header has it, and the caller
// checks that vocab_size() matches. tokenizer.py wrote the pieces with '▁'
// replaced by ' ', and BOS/EOS as "\n<s>\n" and "\n</s>\n"; we undo both so
// the vocab looks like SentencePiece's (and GGUF's). Piece types are not
// stored either: by llama2.c's convention id 0 is <unk>, 1 is BOS, 2 is EOS,
// and pieces spelled <0xNN> are byte-fallback tokens.
//
// Encoding follows SentencePiece's bpe_model.cc: prefix a '▁' (the "dummy
// prefix"), turn every ' ' into '▁', split into UTF-8 characters, then keep
// merging the adjacent pair whose concatenation is a vocab piece of highest
// score (leftmost on ties). Characters left that are not pieces become their
// bytes' <0xNN> tokens; so does every byte that is not valid UTF-8 (where
// SentencePiece would substitute U+FFFD and lose it). Not done, as Llama-2's
// vocab needs neither: matching USER_DEFINED pieces whole before splitting,
// and SentencePiece's re-splitting of merges that reach UNUSED pieces (we
// simply never merge into them). Candidate pairs sit in a priority queue and
// stale ones are skipped when popped, so a text of n characters costs
// O(n log n), not llama2.c's O(n^2) rescans.
#include "llama2/tokenizer.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <queue>
#include <utility>

#include "formats/gguf.hpp"
#include "formats/sentencepiece_model.hpp"
#include "llama2/error.hpp"
#include "llama2/mapped_file.hpp"

namespace llama2 {

namespace {

constexpr std::string_view kSpacePiece = "\xE2\x96\x81";         // '▁' U+2581, SentencePiece's space
constexpr std::string_view kUnknownSurface = " \xE2\x81\x87 ";   // " ⁇ ", how SentencePiece shows <unk>

// --- UTF-8 ----------------------------------------------------------------------

// Length of the well-formed UTF-8 character starting at s[i], or 0 if the
// bytes there are not one (stray continuation byte, truncated sequence,
// overlong form, surrogate, or beyond U+10FFFF).
std::size_t utf8_char_len(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  std::size_t n;
  std::uint32_t cp, min_cp;
  if ((c & 0xE0) == 0xC0) {
    n = 2, cp = c & 0x1F, min_cp = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, cp = c & 0x0F, min_cp = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, cp = c & 0x07, min_cp = 0x10000;
  } else {
    return 0;
  }
  if (s.size() - i < n) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// True if `tail` (starting at a lead byte) is the start of a well-formed
// character that needs more bytes than `tail` has.
bool is_incomplete_char(std::string_view tail) {
  const auto c = static_cast<unsigned char>(tail[0]);
  std::size_t n;
  unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;  // no overlong forms
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
  } else {
    return false;
  }
  if (tail.size() >= n) return false;
  for (std::size_t k = 1; k < tail.size(); ++k) {
    const auto b = static_cast<unsigned char>(tail[k]);
    if (k == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80) return false;
  }
  return true;
}

// The byte a piece spelled "<0xNN>" (two hex digits) stands for, or -1.
int parse_byte_piece(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  int value = 0;
  for (char h : piece.substr(3, 2)) {
    int d = (h >= '0' && h <= '9') ? h - '0' : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : -1;
    if (d < 0) return -1;
    value = value * 16 + d;
  }
  return value;
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  for (std::size_t j; (j = s.find(from, i)) != std::string_view::npos; i = j + from.size()) {
    out.append(s.substr(i, j - i));
    out.append(to);
  }
  out.append(s.substr(i));
  return out;
}

// --- tokenizer.bin ----------------------------------------------------------------

std::int32_t read_i32(const std::uint8_t* p) {
  std::int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

Vocab read_tokenizer_bin(const MappedFile& file) {
  const std::string& path = file.path();
  const std::uint8_t* data = file.data();
  const std::size_t size = file.size();
  if (size < 4) {
    throw Error(path + ": truncated header: max_token_length needs 4 bytes but the file has " + std::to_string(size));
  }
  const std::int32_t max_token_length = read_i32(data);
  if (max_token_length <= 0) {
    throw Error(path + ": header field max_token_length = " + std::to_string(max_token_length) +
                " at offset 0, expected a positive number (is this a llama2.c tokenizer.bin?)");
  }

  Vocab vocab;
  std::size_t offset = 4;
  while (offset < size) {
    const std::size_t index = vocab.pieces.size();
    const std::string where = path + ": entry " + std::to_string(index) + " at offset " + std::to_string(offset);
    if (size - offset < 8) {
      throw Error(where + ": truncated: score and length need 8 bytes but only " + std::to_string(size - offset) +
                  " remain");
    }
    float score;
    std::memcpy(&score, data + offset, sizeof score);
    const std::int32_t len = read_i32(data + offset + 4);
    if (!std::isfinite(score)) {
      throw Error(where + ": score = " + std::to_string(score) + ", expected a finite number");
    }
    if (len < 0) {
      throw Error(where + ": piece length = " + std::to_string(len) + " (at offset " + std::to_string(offset + 4) +
                  "), expected 0 or more");
    }
    offset += 8;
    if (static_cast<std::size_t>(len) > size - offset) {
      throw Error(where + ": piece length = " + std::to_string(len) + " (at offset " + std::to_string(offset - 4) +
                  ") but only " + std::to_string(size - offset) + " bytes remain in the file");
    }
    std::string_view raw(reinterpret_cast<const char*>(data + offset), static_cast<std::size_t>(len));
    offset += static_cast<std::size_t>(len);

    TokenType type = TokenType::NORMAL;
    std::string piece;
    if (index == 0) {
      type = TokenType::UNKNOWN;
      piece = raw;
    } else if (index == 1 || index == 2) {
      type = TokenType::CONTROL;
      piece = (raw == "\n<s>\n") ? "<s>" : (raw == "\n</s>\n") ? "</s>" : std::string(raw);
    } else if (parse_byte_piece(raw) >= 0) {
      type = TokenType::BYTE;
      piece = raw;
    } else {
      piece = replace_all(raw, " ", kSpacePiece);
    }
    vocab.pieces.push_back(std::move(piece));
    vocab.scores.push_back(score);
    vocab.types.push_back(type);
  }
  if (vocab.pieces.size() < 3) {
    throw Error(path + ": " + std::to_string(vocab.pieces.size()) + " vocab entries after the 4-byte header, expected " +
                "at least 3 (<unk>, <s>, </s>), each a float score, an int32 length and the piece bytes");
  }
  return vocab;
}

}  // namespace

// --- loading ------------------------------------------------------------------------

namespace {

// A Hugging Face folder's tokenizer: its tokenizer.model (SentencePiece).
std::string folder_tokenizer(const std::string& dir) {
  const std::filesystem::path d(dir);
  std::error_code ec;
  if (std::filesystem::exists(d / "tokenizer.model", ec)) return (d / "tokenizer.model").string();
  if (std::filesystem::exists(d / "tokenizer.json", ec)) {
    throw Error(dir + ": has tokenizer.json but no tokenizer.model; tokenizer.json (Hugging Face tokenizers) is not "
                      "supported yet: give a SentencePiece tokenizer.model (or tokenizer.bin) with -z");
  }
  throw Error(dir + ": is a folder without tokenizer.model (SentencePiece), expected a Hugging Face model folder");
}

}  // namespace

Tokenizer Tokenizer::load(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return load(folder_tokenizer(path));
  MappedFile file(path);
  Vocab vocab;
  if (file.size() >= 4 && std::memcmp(file.data(), "GGUF", 4) == 0) {
    // A GGUF file has its vocabulary in tokenizer.ggml.* metadata (gguf_vocab.cpp).
    vocab = load_gguf_vocab(file);
  } else if (looks_like_sentencepiece_model(file.data(), file.size()) || path.ends_with(".model")) {
    // SentencePiece's own tokenizer.model (sentencepiece_model.cpp).
    vocab = load_sentencepiece_vocab(file);
  } else {
    vocab = read_tokenizer_bin(file);
  }
  try {
    return Tokenizer(std::move(vocab));
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

Tokenizer::Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {
  const std::size_t n = vocab_.pieces.size();
  if (n == 0) throw Error("tokenizer vocab: no pieces, expected at least one");
  if (n > 0x7FFFFFFF) throw Error("tokenizer vocab: " + std::to_string(n) + " pieces, expected at most 2^31-1");
  if (vocab_.scores.size() != n || vocab_.types.size() != n) {
    throw Error("tokenizer vocab: " + std::to_string(n) + " pieces but " + std::to_string(vocab_.scores.size()) +
                " scores and " + std::to_string(vocab_.types.size()) + " types, expected one of each per piece");
  }
  for (auto [name, id] : {std::pair{"bos_id", vocab_.bos_id}, {"eos_id", vocab_.eos_id}, {"unk_id", vocab_.unk_id}}) {
    if (id < 0 || static_cast<std::size_t>(id) >= n) {
      throw Error(std::string("tokenizer vocab: ") + name + " = " + std::to_string(id) + ", expected an id in [0, " +
                  std::to_string(n) + ")");
    }
  }

  std::fill(std::begin(byte_ids_), std::end(byte_ids_), -1);
  piece_to_id_.reserve(n);
  decoded_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const int id = static_cast<int>(i);
    const std::string& piece = vocab_.pieces[i];
    if (!std::isfinite(vocab_.scores[i])) {
      throw Error("tokenizer vocab: score of piece " + std::to_string(i) + " is " + std::to_string(vocab_.scores[i]) +
                  ", expected a finite number");
    }
    piece_to_id_.emplace(piece, id);  // on duplicates the lowest id wins
    switch (vocab_.types[i]) {
      case TokenType::CONTROL:
        decoded_[i] = "";
        break;
      case TokenType::UNKNOWN:
        decoded_[i] = kUnknownSurface;
        break;
      case TokenType::BYTE: {
        const int byte = parse_byte_piece(piece);
        if (byte < 0) {
          throw Error("tokenizer vocab: piece " + std::to_string(i) + " \"" + piece +
                      "\" has type BYTE, expected it to be spelled <0xNN>");
        }
        if (byte_ids_[byte] < 0) byte_ids_[byte] = id;
        decoded_[i] = std::string(1, static_cast<char>(byte));
        break;
      }
      default:
        decoded_[i] = replace_all(piece, kSpacePiece, " ");
        if (mergeable(id)) max_piece_bytes_ = std::max(max_piece_bytes_, piece.size());
        break;
    }
  }
}

int Tokenizer::piece_id(std::string_view piece) const {
  auto it = piece_to_id_.find(piece);
  return it == piece_to_id_.end() ? -1 : it->second;
}

bool Tokenizer::mergeable(int id) const {
  const TokenType t = vocab_.types[static_cast<std::size_t>(id)];
  return t == TokenType::NORMAL || t == TokenType::USER_DEFINED;
}

// --- encode ---------------------------------------------------------------------------

std::vector<int> Tokenizer::encode(std::string_view text, bool bos, bool eos) const {
  std::vector<int> ids;
  if (bos) ids.push_back(vocab_.bos_id);

  // SentencePiece leaves empty text empty: no dummy prefix, no ids.
  if (!text.empty()) {
    // Normalize: dummy prefix, and spaces become '▁' (Llama-2 does nothing else).
    std::string norm;  // (bytes) the normalized text that symbols point into
    norm.reserve(text.size() + kSpacePiece.size() * 4);
    if (vocab_.add_space_prefix) norm += kSpacePiece;
    for (char c : text) {
      if (c == ' ') {
        norm += kSpacePiece;
      } else {
        norm += c;
      }
    }

    // One symbol per UTF-8 character (an invalid byte is a symbol by itself),
    // in a doubly linked list; a merged-away symbol has len 0.
    struct Symbol {
      std::int64_t prev, next;  // neighbours, -1 at the ends
      std::size_t start, len;   // bytes [start, start + len) of norm
    };
    std::vector<Symbol> symbols;  // (n_chars)
    symbols.reserve(norm.size());
    for (std::size_t i = 0; i < norm.size();) {
      std::size_t len = utf8_char_len(norm, i);
      if (len == 0) len = 1;
      const auto k = static_cast<std::int64_t>(symbols.size());
      symbols.push_back({k - 1, k + 1, i, len});
      i += len;
    }
    symbols.back().next = -1;

    // Candidate merges, best first: highest score, then leftmost.
    struct Pair {
      float score;
      std::int64_t left, right;
      std::size_t size;  // bytes of the merged piece, to detect stale entries
    };
    auto worse = [](const Pair& a, const Pair& b) {
      return a.score < b.score || (a.score == b.score && a.left > b.left);
    };
    std::priority_queue<Pair, std::vector<Pair>, decltype(worse)> agenda(worse);

    auto try_pair = [&](std::int64_t left, std::int64_t right) {
      if (left < 0 || right < 0) return;
      const std::size_t size = symbols[left].len + symbols[right].len;
      if (size > max_piece_bytes_) return;
      auto it = piece_to_id_.find(std::string_view(norm).substr(symbols[left].start, size));
      if (it == piece_to_id_.end() || !mergeable(it->second)) return;
      agenda.push({vocab_.scores[static_cast<std::size_t>(it->second)], left, right, size});
    };
    for (std::size_t i = 1; i < symbols.size(); ++i) try_pair(static_cast<std::int64_t>(i) - 1, static_cast<std::int64_t>(i));

    while (!agenda.empty()) {
      const Pair top = agenda.top();
      agenda.pop();
      Symbol& left = symbols[top.left];
      Symbol& right = symbols[top.right];
      // Symbols only grow, so unchanged lengths mean both are still there and adjacent.
      if (left.len == 0 || right.len == 0 || left.len + right.len != top.size) continue;
      left.len += right.len;
      right.len = 0;
      left.next = right.next;
      if (right.next >= 0) symbols[right.next].prev = top.left;
      try_pair(left.prev, top.left);
      try_pair(top.left, left.next);
    }

    // Emit: pieces as their ids, anything else as its bytes (or <unk> if the
    // vocab lacks byte tokens; like SentencePiece, one <unk> per unknown run).
    bool prev_unknown = false;
    for (std::int64_t i = 0; i >= 0; i = symbols[i].next) {
      const std::string_view piece = std::string_view(norm).substr(symbols[i].start, symbols[i].len);
      auto it = piece_to_id_.find(piece);
      if (it != piece_to_id_.end() && mergeable(it->second)) {
        ids.push_back(it->second);
        prev_unknown = false;
        continue;
      }
      bool have_bytes = true;
      for (char c : piece) have_bytes = have_bytes && byte_ids_[static_cast<unsigned char>(c)] >= 0;
      if (have_bytes) {
        for (char c : piece) ids.push_back(byte_ids_[static_cast<unsigned char>(c)]);
        prev_unknown = false;
      } else {
        if (!prev_unknown) ids.push_back(vocab_.unk_id);
        prev_unknown = true;
      }
    }
  }

  if (eos) ids.push_back(vocab_.eos_id);
  return ids;
}

// --- decode -----------------------------------------------------------------------------

std::string Tokenizer::decode(int prev, int token) const {
  if (token < 0 || token >= vocab_size()) {
    throw Error("decode: token id " + std::to_string(token) + " is outside the vocabulary [0, " +
                std::to_string(vocab_size()) + ")");
  }
  const std::string& text = decoded_[static_cast<std::size_t>(token)];
  // After BOS the dummy-prefix space of a normal piece is not part of the text.
  if (prev == vocab_.bos_id && mergeable(token) && !text.empty() && text[0] == ' ') return text.substr(1);
  return text;
}

std::string Tokenizer::decode_all(const std::vector<int>& ids) const {
  std::string text;
  bool first = true;  // still before the first visible token?
  for (int id : ids) {
    if (id < 0 || id >= vocab_size()) {
      throw Error("decode_all: token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                  std::to_string(vocab_size()) + ")");
    }
    const TokenType type = vocab_.types[static_cast<std::size_t>(id)];
    if (type == TokenType::CONTROL) continue;
    const std::string& piece = decoded_[static_cast<std::size_t>(id)];
    // SentencePiece drops the leading space of the first normal piece only if
    // nothing visible (byte, <unk>) came before it.
    if (first && type != TokenType::BYTE && type != TokenType::UNKNOWN && !piece.empty() && piece[0] == ' ') {
      text.append(piece, 1);
    } else {
      text += piece;
    }
    first = false;
  }
  return text;
}

// --- Utf8Stream -------------------------------------------------------------------------

std::string Utf8Stream::push(std::string_view bytes) {
  std::string out = std::move(held_);
  held_.clear();
  out.append(bytes);
  // An incomplete character can only be in the last 3 bytes: find its lead byte.
  const std::size_t n = out.size();
  for (std::size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto c = static_cast<unsigned char>(out[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking
    if (is_incomplete_char(std::string_view(out).substr(n - back))) {
      held_ = out.substr(n - back);
      out.resize(n - back);
    }
    break;
  }
  return out;
}

std::string Utf8Stream::flush() {
  std::string out = std::move(held_);
  held_.clear();
  return out;
}

}  // namespace llama2

// Tokenizer: text <-> token ids, exactly as SentencePiece does it for Llama-2
// (BPE by piece score, dummy-prefix space, byte fallback).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace llama2 {

// SentencePiece's piece types (the values GGUF's tokenizer.ggml.token_type uses).
enum class TokenType : std::int32_t {
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
};

struct Vocab {
  std::vector<std::string> pieces;  // (vocab_size) piece text, '▁' (U+2581) for space
  std::vector<float> scores;        // (vocab_size) merge priority: higher merges first
  std::vector<TokenType> types;     // (vocab_size)
  int bos_id = 1;
  int eos_id = 2;
  int unk_id = 0;
  bool add_bos = true;           // encode() callers usually ask for BOS; GGUF can say otherwise
  bool add_space_prefix = true;  // SentencePiece's add_dummy_prefix
};

class Tokenizer {
 public:
  // Loads a llama2.c tokenizer.bin, the tokenizer in a GGUF file's
  // metadata, or a SentencePiece tokenizer.model (detected from the first
  // bytes); a folder means its tokenizer.model (a Hugging Face model
  // folder; one with only tokenizer.json is refused: not supported yet).
  // Throws llama2::Error.
  static Tokenizer load(const std::string& path);

  explicit Tokenizer(Vocab vocab);

  int vocab_size() const { return static_cast<int>(vocab_.pieces.size()); }
  int bos_id() const { return vocab_.bos_id; }
  int eos_id() const { return vocab_.eos_id; }
  const Vocab& vocab() const { return vocab_; }
  const std::string& piece(int id) const { return vocab_.pieces.at(static_cast<std::size_t>(id)); }
  // The id of a piece ('▁' for space), or -1 if the vocab has no such piece.
  int piece_id(std::string_view piece) const;

  // Text to ids. BOS/EOS are only ever added as ids: the text "<s>" is
  // ordinary text. Control tokens are never produced from text. O(n log n).
  // Bytes that are not valid UTF-8 become their <0xNN> tokens (SentencePiece
  // would make each one U+FFFD); everything else is as SentencePiece does.
  std::vector<int> encode(std::string_view text, bool bos, bool eos) const;

  // The bytes `token` stands for when it follows `prev`: '▁' becomes ' ',
  // byte tokens <0xNN> become the raw byte, and the leading space of the
  // first piece after BOS is dropped (as llama2.c and SentencePiece do).
  // Control tokens decode to "", <unk> to " ⁇ " (SentencePiece; llama2.c
  // would print "<unk>"). Throws llama2::Error if token is out of range.
  std::string decode(int prev, int token) const;

  // The whole text of a sequence of ids (a leading BOS is skipped).
  // As SentencePiece: control tokens are dropped, the first normal piece
  // loses its leading space, <unk> is " ⁇ ". Unlike SentencePiece, byte
  // tokens that do not form valid UTF-8 stay raw bytes (not U+FFFD), so
  // decode_all(encode(text)) == text for any bytes without a literal '▁'
  // (which, to SentencePiece, is a space).
  std::string decode_all(const std::vector<int>& ids) const;

 private:
  // Lets piece_to_id_ be searched with a string_view (no temporary string).
  struct PieceHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  bool mergeable(int id) const;  // may BPE produce this piece? (NORMAL, USER_DEFINED)

  Vocab vocab_;
  std::unordered_map<std::string, int, PieceHash, std::equal_to<>> piece_to_id_;
  int byte_ids_[256];                 // id of <0xNN> for each byte, -1 if absent
  std::vector<std::string> decoded_;  // (vocab_size) the bytes each id decodes to
  std::size_t max_piece_bytes_ = 0;   // longest mergeable piece: longer pairs are never looked up
};

// Holds back an incomplete UTF-8 sequence at the end of what it is given, so
// that a streamed character is never split across two writes.
class Utf8Stream {
 public:
  // Returns the longest prefix of (held bytes + bytes) that ends on a
  // character boundary; keeps the rest. Invalid bytes are passed through.
  std::string push(std::string_view bytes);
  // Returns whatever is still held (at end of stream).
  std::string flush();

 private:
  std::string held_;
};

}  // namespace llama2

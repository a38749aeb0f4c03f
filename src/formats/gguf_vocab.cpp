// The tokenizer stored in a GGUF's metadata, as a Vocab.
//
// llama.cpp's convert scripts copy SentencePiece's model into these keys:
//   tokenizer.ggml.model             string "llama" (SentencePiece BPE); other
//                                    values ("gpt2", ...) are other tokenizers
//   tokenizer.ggml.tokens            array of string, the pieces in id order
//   tokenizer.ggml.scores            array of float32, one per piece (optional)
//   tokenizer.ggml.token_type        array of int32, SentencePiece piece types
//                                    (1 normal ... 6 byte), one per piece (optional;
//                                    when absent the types are inferred as for a
//                                    llama2.c tokenizer.bin, so <0xNN> still works
//                                    as byte fallback)
//   tokenizer.ggml.bos_token_id, eos_token_id, unknown_token_id   uint32
//   tokenizer.ggml.add_bos_token, add_space_prefix                 bool
#include <cstring>
#include <memory>
#include <string_view>

#include "formats/gguf.hpp"
#include "llama2/error.hpp"
#include "llama2/mapped_file.hpp"

namespace llama2 {

namespace {

constexpr std::uint64_t kMaxVocab = std::uint64_t(1) << 24;  // as validate_config's vocab_size bound

int token_id(const GgufFile& f, const char* key, int fallback, std::size_t n) {
  if (!f.find(key)) return fallback;
  const std::uint64_t id = f.get_uint(key);
  if (id >= n) {
    throw Error(f.path() + ": metadata \"" + key + "\" = " + std::to_string(id) + ", expected a token id in [0, " +
                std::to_string(n) + ")");
  }
  return int(id);
}

// Is this piece spelled "<0xNN>" (two hex digits), a byte-fallback piece?
bool is_byte_piece(std::string_view piece) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); };
  return piece.size() == 6 && piece.substr(0, 3) == "<0x" && hex(piece[3]) && hex(piece[4]) && piece[5] == '>';
}

}  // namespace

Vocab load_gguf_vocab(const GgufFile& f) {
  if (!f.find("tokenizer.ggml.model")) {
    throw Error(f.path() + ": has no tokenizer (metadata key \"tokenizer.ggml.model\" is missing)");
  }
  const std::string_view model = f.get_string("tokenizer.ggml.model");
  if (model != "llama") {
    throw Error(f.path() + ": metadata \"tokenizer.ggml.model\" = \"" + std::string(model.substr(0, 40)) +
                "\", expected \"llama\" (SentencePiece BPE, the only tokenizer supported)");
  }
  const GgufValue& tokens = f.get_array("tokenizer.ggml.tokens", GgufValueType::STRING);
  const std::uint64_t n = tokens.count;
  if (n == 0 || n > kMaxVocab) {
    throw Error(f.path() + ": metadata \"tokenizer.ggml.tokens\" has " + std::to_string(n) +
                " tokens, expected 1 to " + std::to_string(kMaxVocab));
  }
  Vocab v;
  v.pieces.reserve(std::size_t(n));
  for (std::string_view s : f.get_string_array("tokenizer.ggml.tokens")) v.pieces.emplace_back(s);

  auto check_count = [&](const GgufValue& a, const char* key) {
    if (a.count != n) {
      throw Error(f.path() + ": metadata \"" + key + "\" has " + std::to_string(a.count) + " entries, expected " +
                  std::to_string(n) + " (one per token)");
    }
  };
  if (f.find("tokenizer.ggml.scores")) {
    const GgufValue& a = f.get_array("tokenizer.ggml.scores", GgufValueType::FLOAT32);
    check_count(a, "tokenizer.ggml.scores");
    v.scores.resize(std::size_t(n));
    std::memcpy(v.scores.data(), a.elems, std::size_t(n) * sizeof(float));
  } else {
    v.scores.assign(std::size_t(n), 0.0f);
  }
  if (f.find("tokenizer.ggml.token_type")) {
    const GgufValue& a = f.get_array("tokenizer.ggml.token_type", GgufValueType::INT32);
    check_count(a, "tokenizer.ggml.token_type");
    v.types.resize(std::size_t(n));
    for (std::size_t i = 0; i < n; i++) {
      std::int32_t t;
      std::memcpy(&t, a.elems + 4 * i, 4);
      if (t < int(TokenType::NORMAL) || t > int(TokenType::BYTE)) {
        throw Error(f.path() + ": metadata \"tokenizer.ggml.token_type\"[" + std::to_string(i) + "] = " +
                    std::to_string(t) + ", expected a SentencePiece piece type in [1, 6]");
      }
      v.types[i] = TokenType(t);
    }
  }
  v.bos_id = token_id(f, "tokenizer.ggml.bos_token_id", n > 1 ? 1 : 0, n);
  v.eos_id = token_id(f, "tokenizer.ggml.eos_token_id", n > 2 ? 2 : 0, n);
  v.unk_id = token_id(f, "tokenizer.ggml.unknown_token_id", 0, n);
  if (v.types.empty()) {
    // No token_type: infer them as the tokenizer.bin reader does, else every
    // <0xNN> piece would be NORMAL and unknown characters would become <unk>.
    v.types.resize(std::size_t(n));
    for (std::size_t i = 0; i < n; i++) {
      v.types[i] = is_byte_piece(v.pieces[i]) ? TokenType::BYTE : TokenType::NORMAL;
    }
    v.types[std::size_t(v.unk_id)] = TokenType::UNKNOWN;
    v.types[std::size_t(v.bos_id)] = TokenType::CONTROL;
    v.types[std::size_t(v.eos_id)] = TokenType::CONTROL;
  }
  v.add_bos = f.get_bool("tokenizer.ggml.add_bos_token", true);
  v.add_space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix", true);
  return v;
}

Vocab load_gguf_vocab(const MappedFile& file) {
  GgufFile gguf(file.data(), file.size(), file.path());
  return load_gguf_vocab(gguf);
}

Vocab load_gguf_vocab(const std::string& path) { return load_gguf_vocab(MappedFile(path)); }

}  // namespace llama2

// SentencePiece's tokenizer.model (a serialized ModelProto, protobuf.hpp) as
// a Vocab.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "llama2/mapped_file.hpp"
#include "llama2/tokenizer.hpp"

namespace llama2 {

// Does this look like a ModelProto: field 1 (a piece), length-delimited,
// whose own first field is field 1 (the piece's text)? A llama2.c
// tokenizer.bin starts with an int32 max_token_length, whose second byte is
// 0 for any length below 256: it never matches.
bool looks_like_sentencepiece_model(const std::uint8_t* data, std::size_t size);

// Reads the pieces and the settings; refuses, by name and value, settings
// our Tokenizer does not implement. Throws llama2::Error naming the file,
// the byte offset, the field and the value.
Vocab load_sentencepiece_vocab(const std::uint8_t* data, std::size_t size, const std::string& path);
Vocab load_sentencepiece_vocab(const MappedFile& file);

}  // namespace llama2

// libFuzzer target: SentencePiece's tokenizer.model (the protobuf wire
// reader and the ModelProto reader), then encode and decode of text with
// the Tokenizer it builds.
//
// Input: uint16 n (little-endian), n bytes of tokenizer.model, the rest is
// the text. Ids out of the vocabulary are a bug.
#include <cstdint>
#include <string_view>

#include "formats/sentencepiece_model.hpp"
#include "llama2/error.hpp"
#include "llama2/tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace llama2;
  if (size < 2) return 0;
  std::size_t n = std::size_t(data[0]) | (std::size_t(data[1]) << 8);
  if (n > size - 2) n = size - 2;
  const std::string_view text(reinterpret_cast<const char*>(data + 2 + n), size - 2 - n);
  try {
    const Tokenizer tok(load_sentencepiece_vocab(data + 2, n, "fuzz.model"));
    const std::vector<int> ids = tok.encode(text, true, false);
    for (int id : ids) {
      if (id < 0 || id >= tok.vocab_size()) __builtin_trap();
    }
    tok.decode_all(ids);
  } catch (const Error&) {
  }
  return 0;
}

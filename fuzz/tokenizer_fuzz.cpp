// libFuzzer target: tokenizer.bin parsing, then encode/decode of text.
//
// Input: uint16 n (little-endian), n bytes of tokenizer.bin, the rest is the
// text to encode and decode. Ids out of the vocabulary are a bug.
#include <cstdint>
#include <cstring>
#include <string_view>

#include "fuzz_common.hpp"
#include "llama2/error.hpp"
#include "llama2/tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace llama2;
  if (size < 2) return 0;
  std::size_t n = std::size_t(data[0]) | (std::size_t(data[1]) << 8);
  if (n > size - 2) n = size - 2;
  const std::uint8_t* tok_bytes = data + 2;
  const std::string_view text(reinterpret_cast<const char*>(data + 2 + n), size - 2 - n);
  if (n == 0 || (n >= 4 && std::memcmp(tok_bytes, "GGUF", 4) == 0)) return 0;
  try {
    const Tokenizer tok = Tokenizer::load(fuzz::write_input(tok_bytes, n, ".tok"));
    const std::vector<int> ids = tok.encode(text, true, false);
    for (int id : ids) {
      if (id < 0 || id >= tok.vocab_size()) __builtin_trap();
    }
    tok.decode_all(ids);
    for (std::size_t i = 1; i < ids.size(); i++) tok.decode(ids[i - 1], ids[i]);
  } catch (const Error&) {
  }
  return 0;
}

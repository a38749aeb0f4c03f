// libFuzzer target: the GGUF container reader, the GGUF tokenizer and the
// GGUF model loader. Any llama2::Error is a correct answer; a crash,
// sanitizer report or other exception is a bug.
#include <cstdint>

#include "fuzz_common.hpp"
#include "formats/gguf.hpp"
#include "llama2/error.hpp"
#include "llama2/tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace llama2;
  try {
    GgufFile f(data, size, "fuzz.gguf");
    for (const GgufTensorInfo& t : f.tensors()) {
      // Every tensor claims to be inside the buffer: read its last byte.
      if (t.n_bytes && t.data[t.n_bytes - 1] == 0x5A) asm volatile("");
    }
    try {
      Tokenizer tok(load_gguf_vocab(f));
      tok.decode_all(tok.encode("Hello world, \xE2\x96\x81 <s> \xff", true, true));
    } catch (const Error&) {
    }
  } catch (const Error&) {
  }
  if (size >= 4) fuzz::load_model(data, size, ".gguf");
  return 0;
}

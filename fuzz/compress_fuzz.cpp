// libFuzzer target: `compress -d`'s stream reader and decoder, through the
// public Compressor API only (include/llama2/compressor.hpp).
//
// A stream names its model and tokenizer by fingerprint: the target writes
// the tiny engine's into the header (bytes 24..40) so that the fuzzer gets
// past that check to the range decoder. Streams that claim more than 4096
// symbols are skipped (the decoder's cost is one forward pass per symbol).
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_common.hpp"
#include "fuzz_models.hpp"
#include "llama2/compressor.hpp"
#include "llama2/error.hpp"
#include "llama2/transformer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace llama2;
  std::string stream(reinterpret_cast<const char*>(data), size);
  try {
    read_compressed_header(stream);
  } catch (const Error&) {
  }
  if (stream.size() >= kCompressedHeaderBytes) {
    for (int i = 0; i < 8; i++) {
      stream[24 + std::size_t(i)] = char(fuzz::kTinyModelFingerprint >> (8 * i));
      stream[32 + std::size_t(i)] = char(fuzz::kTinyTokenizerFingerprint >> (8 * i));
    }
    std::uint64_t symbols = 0, length = 0;
    std::memcpy(&length, stream.data() + 8, 8);
    std::memcpy(&symbols, stream.data() + 16, 8);
    if (symbols > 4096 || length > (1u << 16)) return 0;
  }
  try {
    const fuzz::TinyEngine& e = fuzz::tiny_engine();
    static Transformer transformer(e.model, 1);
    Compressor compressor(transformer, *e.tokenizer, fuzz::kTinyModelFingerprint, fuzz::kTinyTokenizerFingerprint);
    compressor.decompress(stream);
  } catch (const Error&) {
  }
  return 0;
}

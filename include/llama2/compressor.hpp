// Compressor: lossless compression of any bytes with a language model
// driving a range coder. Prediction is compression: a token the model gave
// probability p costs about -log2 p bits.
//
// What is coded. The input is tokenized without the dummy-prefix space
// (Vocab::add_space_prefix = false) and the ids are kept only if their raw
// pieces ('▁' as ' ', <0xNN> as the byte) concatenate back to exactly the
// input. Otherwise (a vocabulary without byte tokens, say) every byte is
// coded on its own: as its <0xNN> token, or, where the vocab has none, as an
// escape symbol followed by the byte under a uniform 1/256. The escape is
// one extra symbol after the vocab with frequency 1 at every step, so any
// input is representable at a negligible cost.
//
// Probabilities to frequencies. At each step softmax(logits) is computed in
// double in index order and quantized: freq_i = 1 + floor(p_i * (T - n)),
// with n = vocab_size + 1 symbols and T = 2^20 (more for vocabularies above
// 2^16), so every symbol has a non-zero frequency. The forward pass gives the
// same floats with any thread count, so the decoder (same build) rebuilds
// the same frequencies bit for bit.
//
// Batches. The encoder knows every token, so it runs them through the model
// in large batches (Transformer::forward_batch_all); the decoder learns each
// token from the logits before it and runs one at a time. Both call
// forward_batch_all, whose row for a token has the same bits whatever the
// batch around it, so they compute the same frequencies. (Version 1 streams
// used forward(), whose logits differ in the last bits: they are refused.)
//
// Long inputs. Position 0 is BOS; tokens go at 1, 2, ... When the next
// position would be the context length C, the window restarts: BOS at 0,
// then the last K = min(C / 2, C - 2) tokens are fed again at 1..K, and
// coding continues at K + 1. The model always sees at least K tokens of
// history at the cost of about twice the forward passes.
//
// Stream format (little-endian), 56 bytes of header then the range coder bytes:
//   0  "L2CZ"          magic
//   4  u32 version     2
//   8  u64             original length in bytes
//   16 u64             number of coded symbols (a token, or escape + byte)
//   24 u64             fingerprint of the model file
//   32 u64             fingerprint of the tokenizer file
//   40 u64             fingerprint of the original bytes (detects corruption)
//   48 u32             context C the model ran with
//   52 u32             flags: bit 0 = byte-by-byte fallback was used
// Fingerprints are fingerprint64() of the bytes: decompressing with a
// different model or tokenizer, or a damaged stream, throws llama2::Error.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "llama2/tokenizer.hpp"
#include "llama2/transformer.hpp"

namespace llama2 {

// A 64-bit hash of bytes (FNV-1a over 8-byte little-endian words, then the
// tail bytes, then the length; not cryptographic).
std::uint64_t fingerprint64(std::string_view bytes);
// fingerprint64 of a whole file, memory-mapped; of a Hugging Face model
// folder, its config.json and .safetensors files'. Throws llama2::Error.
std::uint64_t file_fingerprint(const std::string& path);

struct CompressStats {
  std::uint64_t input_bytes = 0;
  std::uint64_t output_bytes = 0;
  std::uint64_t symbols = 0;        // coded symbols (tokens, or escape + byte)
  std::uint64_t forward_passes = 0; // including the re-fed tokens of restarted windows
  bool byte_fallback = false;
  double bits_per_byte() const { return input_bytes ? 8.0 * double(output_bytes) / double(input_bytes) : 0.0; }
};

// Header fields, as read by read_compressed_header().
struct CompressedHeader {
  std::uint32_t version = 0;
  std::uint64_t original_bytes = 0;
  std::uint64_t symbols = 0;
  std::uint64_t model_fingerprint = 0;
  std::uint64_t tokenizer_fingerprint = 0;
  std::uint64_t content_fingerprint = 0;
  std::uint32_t context = 0;
  std::uint32_t flags = 0;
};
constexpr std::size_t kCompressedHeaderBytes = 56;
constexpr std::uint32_t kCompressedVersion = 2;

// Parses and checks the magic and version. Throws llama2::Error.
CompressedHeader read_compressed_header(std::string_view stream);

class Compressor {
 public:
  // The fingerprints identify the model and tokenizer files (file_fingerprint);
  // they are written to and checked against the stream header. The
  // transformer and tokenizer must outlive the Compressor.
  Compressor(Transformer& transformer, const Tokenizer& tokenizer, std::uint64_t model_fingerprint,
             std::uint64_t tokenizer_fingerprint);

  // Called with (symbols done, symbols total) as coding proceeds.
  using Progress = std::function<void(std::uint64_t, std::uint64_t)>;

  std::string compress(std::string_view input, CompressStats* stats = nullptr, const Progress& progress = {});
  // Throws llama2::Error naming what is wrong when the stream was made with
  // another model, tokenizer or context, or is truncated or corrupted.
  std::string decompress(std::string_view stream, CompressStats* stats = nullptr, const Progress& progress = {});

  // The symbols compress() would code for `input` (token ids; vocab_size =
  // escape, followed by the byte value as the next element). For tests.
  std::vector<int> symbols_for(std::string_view input, bool* byte_fallback = nullptr) const;

 private:
  class Window;

  Transformer& transformer_;
  const Tokenizer& tokenizer_;
  Tokenizer raw_tokenizer_;  // the same vocab without the dummy prefix
  std::uint64_t model_fingerprint_;
  std::uint64_t tokenizer_fingerprint_;
};

}  // namespace llama2

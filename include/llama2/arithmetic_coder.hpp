// A range coder (arithmetic coding with a 32-bit range, as in LZMA).
//
// Arithmetic coding turns a sequence of symbols and the probability the
// model gave each one into about sum(-log2 p) bits. A symbol is given as the
// slice [start, start + size) of a total: its frequency is size / total.
// The encoder narrows the interval [low, low + range) to that slice and
// shifts out the top byte whenever the range gets below 2^24; the decoder
// repeats the same arithmetic and finds which slice the code falls in.
//
// Limits: 0 < size, start + size <= total <= kMaxTotal = 2^24 (so that
// range / total >= 1). The coding loss from the integer division is about
// total / range per symbol: keep total well under 2^24 (2^20 costs ~0.01 bit).
//
// Byte stream: 5 bytes more than the shifts, the first always 0 (LZMA's
// carry cache). The decoder consumes exactly the bytes the encoder wrote,
// so finish() can say whether a stream had trailing bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace llama2 {

class RangeEncoder {
 public:
  static constexpr std::uint32_t kMaxTotal = 1u << 24;

  // Codes the symbol [start, start + size) of total. Throws llama2::Error
  // on a slice outside the limits above.
  void encode(std::uint32_t start, std::uint32_t size, std::uint32_t total);
  // Flushes the last bytes and returns the stream; the encoder is spent.
  std::string finish();

 private:
  void shift_low();

  std::uint64_t low_ = 0;            // 33 bits used: bit 32 is a pending carry
  std::uint32_t range_ = 0xFFFFFFFFu;
  std::uint8_t cache_ = 0;           // last byte not yet written (a carry may still change it)
  std::uint64_t cache_size_ = 1;     // cache_ plus this many - 1 pending 0xFF bytes
  std::string out_;
};

class RangeDecoder {
 public:
  // `stream` must outlive the decoder. Throws llama2::Error if it is shorter
  // than the 5 bytes every stream starts with.
  explicit RangeDecoder(std::string_view stream);

  // The value in [0, total) that tells which symbol comes next: the caller
  // finds the symbol with start <= value < start + size, then calls decode()
  // with that slice. Throws llama2::Error when the code is outside every
  // slice (a corrupted stream).
  std::uint32_t decode_value(std::uint32_t total);
  void decode(std::uint32_t start, std::uint32_t size, std::uint32_t total);

  // Throws llama2::Error unless every byte of the stream was consumed.
  void finish() const;
  std::size_t bytes_consumed() const { return pos_; }

 private:
  std::uint8_t next_byte();

  std::string_view in_;
  std::size_t pos_ = 0;
  std::uint32_t code_ = 0;
  std::uint32_t range_ = 0xFFFFFFFFu;
};

}  // namespace llama2

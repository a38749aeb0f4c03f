// Range coder: the LZMA scheme (Subbotin's coder with a carry cache).
#include "llama2/arithmetic_coder.hpp"

#include "llama2/error.hpp"

namespace llama2 {

namespace {

constexpr std::uint32_t kTop = 1u << 24;  // renormalize when the range drops below this

void check_slice(std::uint32_t start, std::uint32_t size, std::uint32_t total) {
  if (total == 0 || total > RangeEncoder::kMaxTotal || size == 0 || start >= total || size > total - start) {
    throw Error("range coder: symbol slice [" + std::to_string(start) + ", " + std::to_string(std::uint64_t(start) + size) +
                ") of total " + std::to_string(total) + " is invalid; expected 0 < size, start + size <= total <= 2^24");
  }
}

}  // namespace

// --- encoder ------------------------------------------------------------------------

void RangeEncoder::encode(std::uint32_t start, std::uint32_t size, std::uint32_t total) {
  check_slice(start, size, total);
  const std::uint32_t r = range_ / total;
  low_ += std::uint64_t(r) * start;
  range_ = r * size;
  while (range_ < kTop) {
    range_ <<= 8;
    shift_low();
  }
}

// Writes the top byte of low. A byte is held back in cache_ (with any 0xFF
// bytes after it) until it is known that no carry can reach it.
void RangeEncoder::shift_low() {
  if (std::uint32_t(low_) < 0xFF000000u || (low_ >> 32) != 0) {
    const std::uint8_t carry = std::uint8_t(low_ >> 32);
    std::uint8_t byte = cache_;
    do {
      out_.push_back(char(std::uint8_t(byte + carry)));
      byte = 0xFF;
    } while (--cache_size_ != 0);
    cache_ = std::uint8_t(low_ >> 24);
  }
  cache_size_++;
  low_ = (low_ & 0x00FFFFFFu) << 8;
}

std::string RangeEncoder::finish() {
  for (int i = 0; i < 5; i++) shift_low();
  return std::move(out_);
}

// --- decoder ------------------------------------------------------------------------

RangeDecoder::RangeDecoder(std::string_view stream) : in_(stream) {
  if (in_.size() < 5) {
    throw Error("range coder: stream of " + std::to_string(in_.size()) + " bytes is truncated, expected at least 5");
  }
  for (int i = 0; i < 5; i++) code_ = (code_ << 8) | next_byte();
}

std::uint8_t RangeDecoder::next_byte() {
  if (pos_ >= in_.size()) {
    throw Error("range coder: stream is truncated: needed byte " + std::to_string(pos_) + " of a " +
                std::to_string(in_.size()) + "-byte stream");
  }
  return std::uint8_t(in_[pos_++]);
}

std::uint32_t RangeDecoder::decode_value(std::uint32_t total) {
  check_slice(0, total, total);
  const std::uint32_t value = code_ / (range_ / total);
  if (value >= total) {
    throw Error("range coder: stream is corrupted: code falls outside the symbol range at byte " + std::to_string(pos_));
  }
  return value;
}

void RangeDecoder::decode(std::uint32_t start, std::uint32_t size, std::uint32_t total) {
  check_slice(start, size, total);
  const std::uint32_t r = range_ / total;
  code_ -= r * start;
  range_ = r * size;
  while (range_ < kTop) {
    code_ = (code_ << 8) | next_byte();
    range_ <<= 8;
  }
}

void RangeDecoder::finish() const {
  if (pos_ != in_.size()) {
    throw Error("range coder: stream has " + std::to_string(in_.size() - pos_) + " trailing bytes after the last symbol");
  }
}

}  // namespace llama2

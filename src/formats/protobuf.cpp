// The protobuf wire-format reader (protobuf.hpp explains the encoding).
#include "formats/protobuf.hpp"

#include <cstring>
#include <utility>

#include "llama2/error.hpp"

namespace llama2::protobuf {

namespace {

const char* wire_type_name(std::uint32_t t) {
  switch (t) {
    case VARINT: return "varint";
    case FIXED64: return "fixed64";
    case LEN: return "length-delimited";
    case 3: return "start group";
    case 4: return "end group";
    case FIXED32: return "fixed32";
    default: return "invalid";
  }
}

}  // namespace

void Reader::fail(std::size_t pos, const std::string& message) const {
  throw Error(what_ + ": byte " + std::to_string(base_ + pos) + ": " + message);
}

std::uint64_t Reader::read_varint(const char* name) {
  const std::size_t start = pos_;
  std::uint64_t v = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (pos_ >= data_.size()) fail(start, std::string("truncated ") + name + " (the message ends inside a varint)");
    const std::uint8_t b = static_cast<std::uint8_t>(data_[pos_++]);
    if (shift == 63 && b > 1) fail(start, std::string(name) + " varint overflows 64 bits");
    v |= std::uint64_t(b & 0x7F) << shift;
    if (b < 0x80) return v;
  }
  fail(start, std::string(name) + " varint longer than 10 bytes");
}

bool Reader::next(Field& f) {
  if (pos_ >= data_.size()) return false;
  f = Field{};
  f.offset = base_ + pos_;
  const std::size_t key_pos = pos_;
  const std::uint64_t key = read_varint("field key");
  const std::uint64_t number = key >> 3;
  const std::uint32_t type = std::uint32_t(key & 7);
  if (number == 0 || number > 536870911) fail(key_pos, "field number " + std::to_string(number) + " is invalid");
  f.number = std::uint32_t(number);
  switch (type) {
    case VARINT:
      f.wire_type = VARINT;
      f.varint = read_varint("field value");
      return true;
    case FIXED64:
    case FIXED32: {
      const std::size_t n = type == FIXED64 ? 8 : 4;
      if (data_.size() - pos_ < n) {
        fail(key_pos, "field " + std::to_string(number) + ": truncated " + wire_type_name(type) + " value (" +
                          std::to_string(data_.size() - pos_) + " bytes left, expected " + std::to_string(n) + ")");
      }
      f.wire_type = WireType(type);
      for (std::size_t i = 0; i < n; i++) f.varint |= std::uint64_t(std::uint8_t(data_[pos_ + i])) << (8 * i);
      pos_ += n;
      return true;
    }
    case LEN: {
      f.wire_type = LEN;
      const std::uint64_t len = read_varint("length");
      if (len > data_.size() - pos_) {
        fail(key_pos, "field " + std::to_string(number) + ": length " + std::to_string(len) + " is past the end (" +
                          std::to_string(data_.size() - pos_) + " bytes left)");
      }
      f.payload_offset = base_ + pos_;
      f.bytes = data_.substr(pos_, std::size_t(len));
      pos_ += std::size_t(len);
      return true;
    }
    default:
      fail(key_pos, "field " + std::to_string(number) + " has wire type " + std::to_string(type) + " (" +
                        wire_type_name(type) + "), which this reader does not accept");
  }
}

void Reader::expect(const Field& f, WireType type, std::string_view field_name) const {
  if (f.wire_type == type) return;
  throw Error(what_ + ": byte " + std::to_string(f.offset) + ": field " + std::to_string(f.number) + " (" +
              std::string(field_name) + ") has wire type " + wire_type_name(f.wire_type) + ", expected " +
              wire_type_name(type));
}

std::int64_t Reader::as_int32(const Field& f, std::string_view field_name) const {
  expect(f, VARINT, field_name);
  const std::int64_t v = static_cast<std::int64_t>(f.varint);  // negative int32s are sign-extended
  if (v < INT32_MIN || v > INT32_MAX) {
    throw Error(what_ + ": byte " + std::to_string(f.offset) + ": " + std::string(field_name) + " = " +
                std::to_string(v) + " does not fit in an int32");
  }
  return v;
}

bool Reader::as_bool(const Field& f, std::string_view field_name) const {
  expect(f, VARINT, field_name);
  return f.varint != 0;
}

float Reader::as_float(const Field& f, std::string_view field_name) const {
  expect(f, FIXED32, field_name);
  const std::uint32_t bits = std::uint32_t(f.varint);
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

std::string_view Reader::as_bytes(const Field& f, std::string_view field_name) const {
  expect(f, LEN, field_name);
  return f.bytes;
}

}  // namespace llama2::protobuf

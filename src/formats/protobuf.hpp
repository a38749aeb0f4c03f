// Protocol Buffers wire format: just enough to read a message field by field
// (SentencePiece's tokenizer.model is a serialized ModelProto).
//
// A message is a sequence of fields, each a key then a value. The key is a
// varint: field number << 3 | wire type. A varint is 1 to 10 bytes, 7 bits
// each, least significant first, the high bit set on all but the last.
// Wire types: 0 varint (int32, int64, uint64, bool, enum; a negative int32
// is sign-extended to 10 bytes), 1 fixed 8 bytes (double, fixed64),
// 2 length-delimited (a varint length, then that many bytes: string, bytes,
// an embedded message, a packed array), 5 fixed 4 bytes (float, fixed32).
// Types 3 and 4 (groups) are deprecated and refused. Fields may come in any
// order; a reader skips fields it does not know.
//
// The reader checks every length against the bytes left and reports errors
// with the file, the message being read and the byte offset in the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace llama2::protobuf {

enum WireType : std::uint32_t { VARINT = 0, FIXED64 = 1, LEN = 2, FIXED32 = 5 };

struct Field {
  std::uint32_t number = 0;
  WireType wire_type = VARINT;
  std::uint64_t varint = 0;         // VARINT; FIXED64 and FIXED32 bits too
  std::string_view bytes;           // LEN: the payload
  std::size_t offset = 0;           // where the key starts, in the file
  std::size_t payload_offset = 0;   // LEN: where the payload starts, in the file
};

class Reader {
 public:
  // `data` is the message; `file_offset` where it starts in the file; `what`
  // names it in errors, e.g. "tokenizer.model: ModelProto".
  Reader(std::string_view data, std::size_t file_offset, std::string what)
      : data_(data), base_(file_offset), what_(std::move(what)) {}

  // The next field, or false at the end of the message. Throws llama2::Error
  // on a truncated or malformed field.
  bool next(Field& field);

  // Checks the field's wire type; throws naming the field when it differs.
  void expect(const Field& field, WireType type, std::string_view field_name) const;

  // Typed views of a field's value (each checks the wire type).
  std::int64_t as_int32(const Field& field, std::string_view field_name) const;  // int32 / enum
  bool as_bool(const Field& field, std::string_view field_name) const;
  float as_float(const Field& field, std::string_view field_name) const;
  std::string_view as_bytes(const Field& field, std::string_view field_name) const;

  const std::string& what() const { return what_; }

 private:
  std::uint64_t read_varint(const char* name);
  [[noreturn]] void fail(std::size_t pos, const std::string& message) const;

  std::string_view data_;
  std::size_t base_;
  std::string what_;
  std::size_t pos_ = 0;
};

}  // namespace llama2::protobuf

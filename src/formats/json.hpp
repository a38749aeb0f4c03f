// JSON: a small, strict RFC 8259 reader for the files checkpoints come with
// (Hugging Face config.json, model.safetensors.index.json, the safetensors
// header).
//
// The grammar, in short: a text is one value surrounded by optional
// whitespace (space, tab, LF, CR only). A value is null, true, false, a
// number (-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? — no leading '+', no
// leading zeros, no '.5', no NaN or Infinity), a string ("..." with the
// escapes \" \\ \/ \b \f \n \r \t \uXXXX, no raw control character below
// 0x20), an array [v, ...] or an object {"key": v, ...}. No trailing commas,
// no comments, no byte-order mark.
//
// Strict means: anything else is refused, and so are what RFC 8259 leaves
// "unpredictable": duplicate keys in an object, strings that are not valid
// UTF-8 (overlong forms, surrogates, code points past U+10FFFF), \u escapes
// that pair a surrogate wrongly, numbers out of the range of a double. The
// limits below bound what a hostile file can cost (nesting depth is also
// the recursion depth; the value count bounds memory).
//
// Every error is a llama2::Error that names the context the caller gave
// (e.g. the file name), the byte offset, line and column, and what was
// expected. The accessors (at, as_int, as_string, ...) throw the same way
// when a field is missing or of the wrong type, naming the field, the value
// found and where it is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llama2::json {

enum class Type : std::uint8_t { NUL, BOOL, NUMBER, STRING, ARRAY, OBJECT };

// "null", "a boolean", "a number", "a string", "an array", "an object".
std::string_view type_name(Type type);

struct Limits {
  std::size_t max_bytes = std::size_t(100) << 20;  // the whole text (100 MiB)
  int max_depth = 64;                              // nested arrays/objects
  std::size_t max_values = std::size_t(1) << 22;   // values in the tree (4M)
  std::size_t max_number_chars = 400;              // one number literal
};

class Value {
 public:
  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::NUL; }
  bool is_object() const { return type_ == Type::OBJECT; }

  // Where the value starts in the text: byte offset, 1-based line and column.
  std::size_t offset() const { return offset_; }
  std::size_t line() const { return line_; }
  std::size_t column() const { return column_; }

  // The typed accessors. `what` names the value in the error, e.g.
  // `config.json: field "hidden_size"`; the error adds the value found and
  // its line and column.
  bool as_bool(std::string_view what) const;
  double as_number(std::string_view what) const;
  // An integer literal (no fraction, no exponent) within [min, max].
  std::int64_t as_int(std::string_view what, std::int64_t min = INT64_MIN, std::int64_t max = INT64_MAX) const;
  const std::string& as_string(std::string_view what) const;
  const std::vector<Value>& as_array(std::string_view what) const;

  // Objects: members in the order of the text; keys are unique.
  std::size_t size() const { return items_.size(); }  // array elements or object members
  const std::vector<std::string>& keys(std::string_view what) const;
  const std::vector<Value>& values(std::string_view what) const;  // object member values, same order as keys
  // The member named `key`, or nullptr when absent (or when this is not an object).
  const Value* find(std::string_view key) const;
  // The member named `key`; throws "<context>: missing field "key"" when
  // absent and "<context>: expected an object, found ..." when this is not one.
  const Value& at(std::string_view key, std::string_view context) const;

  // A short rendering for messages: the number as written, a string quoted
  // (escaped, cut at 60 characters), "an array", "an object", true, null.
  std::string describe() const;

 private:
  friend class Parser;
  void require(Type want, std::string_view what, std::string_view expected) const;

  Type type_ = Type::NUL;
  bool boolean_ = false;
  bool is_integer_ = false;       // NUMBER written as an integer that fits in int64
  double number_ = 0.0;
  std::int64_t integer_ = 0;
  std::string text_;              // STRING: the decoded text; NUMBER: the literal
  std::vector<std::string> keys_; // OBJECT: member names
  std::vector<Value> items_;      // ARRAY: elements; OBJECT: member values
  std::size_t offset_ = 0, line_ = 1, column_ = 1;
};

// Parses a whole JSON text. `context` starts every error message (usually
// the file name). Throws llama2::Error on anything RFC 8259 refuses, on a
// duplicate key, invalid UTF-8, or a limit exceeded.
Value parse(std::string_view text, std::string_view context, const Limits& limits = {});

// `s` quoted as a JSON string with every control or non-ASCII byte escaped,
// cut at `max_chars` bytes of input ("..." appended): safe to print in a
// message whatever the file holds.
std::string quote(std::string_view s, std::size_t max_chars = 60);

}  // namespace llama2::json

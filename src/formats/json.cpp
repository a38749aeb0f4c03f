// The strict JSON reader (json.hpp explains the grammar and the limits): a
// recursive-descent parser over the text, one function per grammar rule.
#include "formats/json.hpp"

#include <charconv>
#include <cmath>
#include <string>
#include <unordered_set>

#include "llama2/error.hpp"

namespace llama2::json {

std::string_view type_name(Type type) {
  switch (type) {
    case Type::NUL: return "null";
    case Type::BOOL: return "a boolean";
    case Type::NUMBER: return "a number";
    case Type::STRING: return "a string";
    case Type::ARRAY: return "an array";
    case Type::OBJECT: return "an object";
  }
  return "?";
}

std::string quote(std::string_view s, std::size_t max_chars) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  const std::size_t n = s.size() < max_chars ? s.size() : max_chars;
  for (std::size_t i = 0; i < n; i++) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += char(c);
    }
  }
  if (n < s.size()) out += "...";
  out += '"';
  return out;
}

// --- accessors --------------------------------------------------------------

std::string Value::describe() const {
  switch (type_) {
    case Type::NUL: return "null";
    case Type::BOOL: return boolean_ ? "true" : "false";
    case Type::NUMBER: return text_;
    case Type::STRING: return quote(text_);
    case Type::ARRAY: return "an array";
    case Type::OBJECT: return "an object";
  }
  return "?";
}

void Value::require(Type want, std::string_view what, std::string_view expected) const {
  if (type_ == want) return;
  throw Error(std::string(what) + " = " + describe() + " (line " + std::to_string(line_) + ", column " +
              std::to_string(column_) + ") is " + std::string(type_name(type_)) + ", expected " +
              std::string(expected));
}

bool Value::as_bool(std::string_view what) const {
  require(Type::BOOL, what, "true or false");
  return boolean_;
}

double Value::as_number(std::string_view what) const {
  require(Type::NUMBER, what, "a number");
  return number_;
}

std::int64_t Value::as_int(std::string_view what, std::int64_t min, std::int64_t max) const {
  const std::string range = "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  require(Type::NUMBER, what, range);
  if (!is_integer_ || integer_ < min || integer_ > max) {
    throw Error(std::string(what) + " = " + text_ + " (line " + std::to_string(line_) + ", column " +
                std::to_string(column_) + "), expected " + range);
  }
  return integer_;
}

const std::string& Value::as_string(std::string_view what) const {
  require(Type::STRING, what, "a string");
  return text_;
}

const std::vector<Value>& Value::as_array(std::string_view what) const {
  require(Type::ARRAY, what, "an array");
  return items_;
}

const std::vector<std::string>& Value::keys(std::string_view what) const {
  require(Type::OBJECT, what, "an object");
  return keys_;
}

const std::vector<Value>& Value::values(std::string_view what) const {
  require(Type::OBJECT, what, "an object");
  return items_;
}

const Value* Value::find(std::string_view key) const {
  if (type_ != Type::OBJECT) return nullptr;
  for (std::size_t i = 0; i < keys_.size(); i++) {
    if (keys_[i] == key) return &items_[i];
  }
  return nullptr;
}

const Value& Value::at(std::string_view key, std::string_view context) const {
  require(Type::OBJECT, context, "an object");
  if (const Value* v = find(key)) return *v;
  throw Error(std::string(context) + ": missing field " + quote(key) + " (the object starts at line " +
              std::to_string(line_) + ", column " + std::to_string(column_) + ")");
}

// --- parser -----------------------------------------------------------------

class Parser {
 public:
  Parser(std::string_view text, std::string_view context, const Limits& limits)
      : s_(text), context_(context), limits_(limits) {}

  Value parse_text() {
    if (s_.size() > limits_.max_bytes) {
      fail_at(0, "text is " + std::to_string(s_.size()) + " bytes, more than the limit of " +
                     std::to_string(limits_.max_bytes));
    }
    if (s_.size() >= 3 && s_.substr(0, 3) == "\xEF\xBB\xBF") fail("a byte-order mark is not allowed");
    skip_ws();
    if (pos_ == s_.size()) fail("empty text, expected a JSON value");
    Value v = parse_value(0);
    skip_ws();
    if (pos_ != s_.size()) fail("unexpected " + found() + " after the JSON value");
    return v;
  }

 private:
  // --- errors: "<context>: line L, column C (byte B): <message>"
  [[noreturn]] void fail_at(std::size_t pos, const std::string& message) const {
    std::size_t line = 1, col = 1;
    for (std::size_t i = 0; i < pos && i < s_.size(); i++) {
      if (s_[i] == '\n') {
        line++;
        col = 1;
      } else {
        col++;
      }
    }
    throw Error(std::string(context_) + ": line " + std::to_string(line) + ", column " + std::to_string(col) +
                " (byte " + std::to_string(pos) + "): " + message);
  }
  [[noreturn]] void fail(const std::string& message) const { fail_at(pos_, message); }

  // What is at the cursor, for "unexpected X" messages.
  std::string found() const {
    if (pos_ >= s_.size()) return "end of text";
    return quote(s_.substr(pos_, 1));
  }

  void skip_ws() {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      if (c == '\n') {
        line_++;
        line_start_ = pos_ + 1;
      }
      pos_++;
    }
  }

  Value start_value() {
    if (++n_values_ > limits_.max_values) {
      fail("more than " + std::to_string(limits_.max_values) + " values, the limit");
    }
    Value v;
    v.offset_ = pos_;
    v.line_ = line_;
    v.column_ = pos_ - line_start_ + 1;
    return v;
  }

  Value parse_value(int depth) {
    if (pos_ >= s_.size()) fail("unexpected end of text, expected a value");
    switch (s_[pos_]) {
      case '{': return parse_object(depth + 1);
      case '[': return parse_array(depth + 1);
      case '"': {
        Value v = start_value();
        v.type_ = Type::STRING;
        v.text_ = parse_string();
        return v;
      }
      case 't': return parse_literal("true", Type::BOOL, true);
      case 'f': return parse_literal("false", Type::BOOL, false);
      case 'n': return parse_literal("null", Type::NUL, false);
      default:
        if (s_[pos_] == '-' || (s_[pos_] >= '0' && s_[pos_] <= '9')) return parse_number();
        fail("unexpected " + found() + ", expected a value (object, array, string, number, true, false, null)");
    }
  }

  Value parse_literal(std::string_view word, Type type, bool boolean) {
    if (s_.substr(pos_, word.size()) != word) fail("unexpected " + found() + ", expected a value");
    Value v = start_value();
    v.type_ = type;
    v.boolean_ = boolean;
    pos_ += word.size();
    return v;
  }

  void check_depth(int depth) {
    if (depth > limits_.max_depth) fail("nesting deeper than " + std::to_string(limits_.max_depth) + " levels");
  }

  Value parse_array(int depth) {
    check_depth(depth);
    Value v = start_value();
    v.type_ = Type::ARRAY;
    pos_++;  // '['
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      pos_++;
      return v;
    }
    for (;;) {
      skip_ws();
      v.items_.push_back(parse_value(depth));
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        pos_++;
        skip_ws();
        if (pos_ < s_.size() && s_[pos_] == ']') fail("trailing comma before ']'");
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == ']') {
        pos_++;
        return v;
      }
      fail("unexpected " + found() + " in an array, expected ',' or ']'");
    }
  }

  Value parse_object(int depth) {
    check_depth(depth);
    Value v = start_value();
    v.type_ = Type::OBJECT;
    pos_++;  // '{'
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      pos_++;
      return v;
    }
    std::unordered_set<std::string> seen;  // for duplicate keys
    for (;;) {
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != '"') fail("unexpected " + found() + " in an object, expected a key string");
      const std::size_t key_pos = pos_;
      std::string key = parse_string();
      if (!seen.insert(key).second) fail_at(key_pos, "duplicate key " + quote(key) + " in an object");
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != ':') fail("unexpected " + found() + " after a key, expected ':'");
      pos_++;
      skip_ws();
      v.keys_.push_back(std::move(key));
      v.items_.push_back(parse_value(depth));
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        pos_++;
        skip_ws();
        if (pos_ < s_.size() && s_[pos_] == '}') fail("trailing comma before '}'");
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == '}') {
        pos_++;
        return v;
      }
      fail("unexpected " + found() + " in an object, expected ',' or '}'");
    }
  }

  Value parse_number() {
    Value v = start_value();
    v.type_ = Type::NUMBER;
    const std::size_t start = pos_;
    auto digits = [&] {
      const std::size_t from = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') pos_++;
      return pos_ - from;
    };
    if (s_[pos_] == '-') pos_++;
    if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') fail("expected a digit in a number, found " + found());
    if (s_[pos_] == '0') {
      pos_++;
      if (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') fail("a number may not have a leading zero");
    } else {
      digits();
    }
    bool integral = true;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      integral = false;
      pos_++;
      if (digits() == 0) fail("expected a digit after the decimal point, found " + found());
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      integral = false;
      pos_++;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) pos_++;
      if (digits() == 0) fail("expected a digit in the exponent, found " + found());
    }
    const std::string_view literal = s_.substr(start, pos_ - start);
    if (literal.size() > limits_.max_number_chars) {
      fail_at(start, "number literal of " + std::to_string(literal.size()) + " characters, more than the limit of " +
                         std::to_string(limits_.max_number_chars));
    }
    v.text_ = std::string(literal);
    const char* first = literal.data();
    const char* last = literal.data() + literal.size();
    const auto [ptr, ec] = std::from_chars(first, last, v.number_);
    if (ec != std::errc() || ptr != last || !std::isfinite(v.number_)) {
      // from_chars reports both overflow and underflow as out of range.
      fail_at(start, "number " + v.text_ + " is out of the range of a double");
    }
    if (integral) {
      const auto [iptr, iec] = std::from_chars(first, last, v.integer_);
      v.is_integer_ = iec == std::errc() && iptr == last;  // false past int64: as_int refuses it
    }
    return v;
  }

  // --- strings: escapes and UTF-8 validation

  unsigned hex4() {
    if (s_.size() - pos_ < 4) fail("unexpected end of text in a \\u escape");
    unsigned code = 0;
    for (int i = 0; i < 4; i++) {
      const char c = s_[pos_];
      unsigned d;
      if (c >= '0' && c <= '9') d = unsigned(c - '0');
      else if (c >= 'a' && c <= 'f') d = unsigned(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') d = unsigned(c - 'A' + 10);
      else fail("expected a hex digit in a \\u escape, found " + found());
      code = code * 16 + d;
      pos_++;
    }
    return code;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }

  // One UTF-8 sequence starting at pos_ (its first byte is >= 0x80): checked
  // for length, continuation bytes, overlong forms, surrogates, > U+10FFFF.
  void copy_utf8(std::string& out) {
    const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s_[pos_ + i]); };
    const unsigned c0 = b(0);
    std::size_t len;
    unsigned cp, min;
    if (c0 >= 0xC2 && c0 <= 0xDF) len = 2, cp = c0 & 0x1F, min = 0x80;
    else if (c0 >= 0xE0 && c0 <= 0xEF) len = 3, cp = c0 & 0x0F, min = 0x800;
    else if (c0 >= 0xF0 && c0 <= 0xF4) len = 4, cp = c0 & 0x07, min = 0x10000;
    else fail("invalid UTF-8 byte " + quote(s_.substr(pos_, 1)) + " in a string");
    if (s_.size() - pos_ < len) fail("truncated UTF-8 sequence in a string");
    for (std::size_t i = 1; i < len; i++) {
      if ((b(i) & 0xC0) != 0x80) fail("invalid UTF-8 continuation byte in a string");
      cp = (cp << 6) | (b(i) & 0x3F);
    }
    if (cp < min) fail("overlong UTF-8 sequence in a string");
    if (cp >= 0xD800 && cp <= 0xDFFF) fail("UTF-8-encoded surrogate in a string");
    if (cp > 0x10FFFF) fail("UTF-8 code point past U+10FFFF in a string");
    out.append(s_.substr(pos_, len));
    pos_ += len;
  }

  std::string parse_string() {
    pos_++;  // opening quote
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) fail("unterminated string");
      const unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        pos_++;
        return out;
      }
      if (c < 0x20) fail("raw control character " + quote(s_.substr(pos_, 1)) + " in a string (escape it)");
      if (c >= 0x80) {
        copy_utf8(out);
        continue;
      }
      if (c != '\\') {
        out += char(c);
        pos_++;
        continue;
      }
      pos_++;
      if (pos_ >= s_.size()) fail("unterminated escape in a string");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          const std::size_t esc = pos_ - 2;
          unsigned cp = hex4();
          if (cp >= 0xDC00 && cp <= 0xDFFF) fail_at(esc, "\\u escape is a lone low surrogate");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (s_.substr(pos_, 2) != "\\u") fail_at(esc, "\\u escape is a high surrogate without a low one");
            pos_ += 2;
            const unsigned lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail_at(esc, "\\u escape is a high surrogate without a low one");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default: fail_at(pos_ - 2, "invalid escape " + quote(s_.substr(pos_ - 2, 2)) + " in a string");
      }
    }
  }

  std::string_view s_;
  std::string_view context_;
  const Limits& limits_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1, line_start_ = 0;
  std::size_t n_values_ = 0;
};

Value parse(std::string_view text, std::string_view context, const Limits& limits) {
  Parser parser(text, context, limits);
  return parser.parse_text();
}

}  // namespace llama2::json

// A small JSON reader for tests that parse back what the library writes
// (the trace page's embedded data). The whole of RFC 8259: null, booleans,
// numbers (as double), strings with every escape (\uXXXX, surrogate pairs
// joined, written as UTF-8), arrays, objects. Errors throw
// std::runtime_error with the byte offset. Not for untrusted input at scale:
// recursion depth is the nesting depth.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace llama2::test {

struct JsonValue {
  enum class Kind { Null, Bool, Number, String, Array, Object } kind = Kind::Null;
  bool boolean = false;
  double number = 0.0;
  std::string string;
  std::vector<JsonValue> array;
  std::map<std::string, JsonValue> object;

  bool is_null() const { return kind == Kind::Null; }
  const JsonValue& operator[](const std::string& key) const {
    if (kind != Kind::Object) throw std::runtime_error("json: not an object (looking for \"" + key + "\")");
    auto it = object.find(key);
    if (it == object.end()) throw std::runtime_error("json: no key \"" + key + "\"");
    return it->second;
  }
  const JsonValue& operator[](std::size_t i) const {
    if (kind != Kind::Array) throw std::runtime_error("json: not an array");
    if (i >= array.size()) throw std::runtime_error("json: index " + std::to_string(i) + " beyond " + std::to_string(array.size()));
    return array[i];
  }
  std::size_t size() const { return kind == Kind::Array ? array.size() : object.size(); }
  double num() const {
    if (kind != Kind::Number) throw std::runtime_error("json: not a number");
    return number;
  }
  int integer() const { return static_cast<int>(num()); }
  const std::string& str() const {
    if (kind != Kind::String) throw std::runtime_error("json: not a string");
    return string;
  }
};

class JsonReader {
 public:
  static JsonValue parse(std::string_view text) {
    JsonReader r(text);
    JsonValue v = r.value();
    r.ws();
    if (r.pos_ != text.size()) r.fail("trailing characters");
    return v;
  }

 private:
  explicit JsonReader(std::string_view s) : s_(s) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("json at byte " + std::to_string(pos_) + ": " + what);
  }
  void ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) pos_++;
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    pos_++;
  }
  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  JsonValue value() {
    ws();
    JsonValue v;
    const char c = peek();
    if (c == '{') {
      v.kind = JsonValue::Kind::Object;
      pos_++;
      ws();
      if (peek() == '}') {
        pos_++;
        return v;
      }
      while (true) {
        ws();
        std::string key = string();
        ws();
        expect(':');
        v.object[key] = value();
        ws();
        if (peek() == ',') {
          pos_++;
          continue;
        }
        expect('}');
        return v;
      }
    }
    if (c == '[') {
      v.kind = JsonValue::Kind::Array;
      pos_++;
      ws();
      if (peek() == ']') {
        pos_++;
        return v;
      }
      while (true) {
        v.array.push_back(value());
        ws();
        if (peek() == ',') {
          pos_++;
          continue;
        }
        expect(']');
        return v;
      }
    }
    if (c == '"') {
      v.kind = JsonValue::Kind::String;
      v.string = string();
      return v;
    }
    if (literal("null")) return v;
    if (literal("true")) {
      v.kind = JsonValue::Kind::Bool;
      v.boolean = true;
      return v;
    }
    if (literal("false")) {
      v.kind = JsonValue::Kind::Bool;
      return v;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      const std::size_t start = pos_;
      while (pos_ < s_.size() && std::string_view("+-0123456789.eE").find(s_[pos_]) != std::string_view::npos) pos_++;
      const std::string digits(s_.substr(start, pos_ - start));
      char* end = nullptr;
      v.kind = JsonValue::Kind::Number;
      v.number = std::strtod(digits.c_str(), &end);
      if (end != digits.c_str() + digits.size()) fail("bad number '" + digits + "'");
      return v;
    }
    fail("expected a value");
  }

  unsigned hex4() {
    if (pos_ + 4 > s_.size()) fail("short \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
      const char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= unsigned(c - '0');
      else if (c >= 'a' && c <= 'f') v |= unsigned(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= unsigned(c - 'A' + 10);
      else fail("bad hex digit in \\u escape");
    }
    return v;
  }

  static void utf8(std::string& out, std::uint32_t cp) {
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

  std::string string() {
    expect('"');
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) fail("unterminated string");
      const char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("raw control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) fail("unterminated escape");
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
          std::uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {
            if (!literal("\\u")) fail("lone high surrogate");
            const std::uint32_t lo = hex4();
            if (lo < 0xDC00 || lo >= 0xE000) fail("bad low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            fail("lone low surrogate");
          }
          utf8(out, cp);
          break;
        }
        default: fail(std::string("bad escape \\") + e);
      }
    }
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

}  // namespace llama2::test

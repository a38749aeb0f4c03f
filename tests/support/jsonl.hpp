// A tiny reader for the golden JSON-lines files of the tests.
//
// Each line is one flat object whose values are strings or arrays of
// integers, e.g. {"text": "a\u00e9\ud83e\udd99", "ids": [1, 263]}. Strings
// may use every JSON escape, \uXXXX included (surrogate pairs are joined and
// written as UTF-8). Anything else (nesting, numbers outside arrays, bad
// escapes) throws std::runtime_error naming the line and column.
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace llama2::test {

struct JsonLine {
  int line_number = 0;
  std::map<std::string, std::string> strings;
  std::map<std::string, std::vector<int>> arrays;

  const std::string& str(const std::string& key) const {
    auto it = strings.find(key);
    if (it == strings.end()) throw std::runtime_error("line " + std::to_string(line_number) + ": no string \"" + key + "\"");
    return it->second;
  }
  const std::vector<int>& ints(const std::string& key) const {
    auto it = arrays.find(key);
    if (it == arrays.end()) throw std::runtime_error("line " + std::to_string(line_number) + ": no array \"" + key + "\"");
    return it->second;
  }
};

class JsonLineParser {
 public:
  JsonLineParser(std::string_view s, int line_number) : s_(s), line_(line_number) {}

  JsonLine parse() {
    JsonLine out;
    out.line_number = line_;
    skip_ws();
    expect('{');
    skip_ws();
    if (peek() == '}') {
      ++pos_;
    } else {
      while (true) {
        skip_ws();
        std::string key = parse_string();
        skip_ws();
        expect(':');
        skip_ws();
        if (peek() == '"') {
          out.strings[key] = parse_string();
        } else if (peek() == '[') {
          out.arrays[key] = parse_int_array();
        } else {
          fail("expected a string or an array of integers");
        }
        skip_ws();
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        expect('}');
        break;
      }
    }
    skip_ws();
    if (pos_ != s_.size()) fail("trailing characters after the object");
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("jsonl line " + std::to_string(line_) + " column " + std::to_string(pos_ + 1) + ": " + what);
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void expect(char c) {
    if (pos_ >= s_.size() || s_[pos_] != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\r' || s_[pos_] == '\n')) ++pos_;
  }

  std::uint32_t hex4() {
    if (s_.size() - pos_ < 4) fail("truncated \\u escape");
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char h = s_[pos_++];
      int d = (h >= '0' && h <= '9') ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
      if (d < 0) fail("bad hex digit in \\u escape");
      v = v * 16 + static_cast<std::uint32_t>(d);
    }
    return v;
  }

  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::string parse_string() {
    expect('"');
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) fail("unterminated string");
      char c = s_[pos_++];
      if (c == '"') return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) fail("unterminated escape");
      char e = s_[pos_++];
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
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // high surrogate: a low one must follow
            if (s_.substr(pos_, 2) != "\\u") fail("high surrogate without a low surrogate");
            pos_ += 2;
            std::uint32_t low = hex4();
            if (low < 0xDC00 || low > 0xDFFF) fail("high surrogate followed by a non-low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail("lone low surrogate");
          }
          append_utf8(out, cp);
          break;
        }
        default: fail(std::string("bad escape \\") + e);
      }
    }
  }

  std::vector<int> parse_int_array() {
    expect('[');
    std::vector<int> out;
    skip_ws();
    if (peek() == ']') {
      ++pos_;
      return out;
    }
    while (true) {
      skip_ws();
      bool negative = false;
      if (peek() == '-') {
        negative = true;
        ++pos_;
      }
      if (peek() < '0' || peek() > '9') fail("expected an integer");
      long long v = 0;
      while (peek() >= '0' && peek() <= '9') {
        v = v * 10 + (s_[pos_++] - '0');
        if (v > 0x7FFFFFFF) fail("integer out of range");
      }
      out.push_back(static_cast<int>(negative ? -v : v));
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect(']');
      return out;
    }
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  int line_;
};

// Every non-empty line of `path`, parsed. Throws std::runtime_error if the
// file cannot be read or a line is malformed.
inline std::vector<JsonLine> read_jsonl(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<JsonLine> lines;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    lines.push_back(JsonLineParser(line, n).parse());
  }
  return lines;
}

}  // namespace llama2::test

// Reading a trace page back (tests of trace.hpp, of tools/trace and of the
// page in a browser): the JSON in its <script type="application/json">, the
// 8-bit attention rows, and a tokenizer.bin with pieces of a test's choosing.
#pragma once

#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/json_value.hpp"

namespace llama2::test {

inline constexpr const char* kTraceDataOpen = "<script type=\"application/json\" id=\"trace-data\">";

// The text between the data element's tags (the first "</script>" after it
// ends it, as it would for a browser).
inline std::string trace_page_json_text(const std::string& html) {
  const std::size_t open = html.find(kTraceDataOpen);
  if (open == std::string::npos) throw std::runtime_error("the page has no trace-data element");
  const std::size_t begin = open + std::string(kTraceDataOpen).size();
  const std::size_t end = html.find("</script>", begin);
  if (end == std::string::npos) throw std::runtime_error("the trace-data element is not closed");
  return html.substr(begin, end - begin);
}

inline JsonValue trace_page_json(const std::string& html) { return JsonReader::parse(trace_page_json_text(html)); }

inline std::vector<std::uint8_t> base64_decode(const std::string& s) {
  auto digit = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (s.size() % 4 != 0) throw std::runtime_error("base64: length not a multiple of 4");
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i < s.size(); i += 4) {
    int v[4];
    int n = 0;
    for (int k = 0; k < 4; k++) {
      v[k] = s[i + k] == '=' ? 0 : digit(s[i + k]);
      if (v[k] < 0) throw std::runtime_error("base64: bad digit");
      if (s[i + k] != '=') n++;
    }
    const std::uint32_t w = std::uint32_t(v[0]) << 18 | std::uint32_t(v[1]) << 12 | std::uint32_t(v[2]) << 6 | std::uint32_t(v[3]);
    out.push_back(std::uint8_t(w >> 16));
    if (n > 2) out.push_back(std::uint8_t(w >> 8));
    if (n > 3) out.push_back(std::uint8_t(w));
  }
  return out;
}

// The attention rows of one layer of the page: (n_heads, positions) rows,
// row q of head h = q + 1 bytes.
inline std::vector<std::vector<std::vector<int>>> attention_rows(const JsonValue& attention, std::size_t layer_index) {
  const std::vector<std::uint8_t> bytes = base64_decode(attention["data"][layer_index].str());
  const std::size_t heads = std::size_t(attention["n_heads"].integer()), n = std::size_t(attention["positions"].integer());
  if (bytes.size() != heads * n * (n + 1) / 2) throw std::runtime_error("attention: wrong number of bytes");
  std::vector<std::vector<std::vector<int>>> rows(heads);
  std::size_t at = 0;
  for (std::size_t h = 0; h < heads; h++) {
    for (std::size_t q = 0; q < n; q++) {
      rows[h].emplace_back(bytes.begin() + std::ptrdiff_t(at), bytes.begin() + std::ptrdiff_t(at + q + 1));
      at += q + 1;
    }
  }
  return rows;
}

// A llama2.c tokenizer.bin holding exactly `pieces` (scores: 0 for the
// first three, the control tokens, then -id so earlier pieces merge first).
inline void write_tokenizer_pieces(const std::string& path, const std::vector<std::string>& pieces) {
  std::ofstream out(path, std::ios::binary);
  std::int32_t max_len = 0;
  for (const std::string& p : pieces) max_len = std::max(max_len, std::int32_t(p.size()));
  out.write(reinterpret_cast<const char*>(&max_len), 4);
  for (std::size_t i = 0; i < pieces.size(); i++) {
    const float score = i < 3 ? 0.0f : -float(i);
    const std::int32_t len = std::int32_t(pieces[i].size());
    out.write(reinterpret_cast<const char*>(&score), 4);
    out.write(reinterpret_cast<const char*>(&len), 4);
    out.write(pieces[i].data(), len);
  }
  if (!out) throw std::runtime_error(path + ": write error");
}

}  // namespace llama2::test

// StopStrings: ends generated text at the first of a set of strings, without
// ever releasing the string itself or text that could still become one.
//
// Text goes in as it is generated (whole UTF-8 characters, any split across
// tokens); push() releases the longest prefix that no stop string can start
// in. When a stop string appears, the text before it is released and the
// string and everything after it are dropped. Matching is on bytes, so a
// stop string split across tokens, or across the bytes of a UTF-8 character
// spelled with byte tokens, is found all the same.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace llama2 {

class StopStrings {
 public:
  // Empty strings are ignored (they would match before any text).
  explicit StopStrings(std::vector<std::string> stops = {});

  // Adds `text`; returns what may be released now (possibly nothing).
  // After a match, returns "" and ignores what follows.
  std::string push(std::string_view text);
  // The end of generation without a match: whatever is held goes out.
  std::string flush();

  bool matched() const { return matched_; }
  // The stop string that matched ("" if none).
  const std::string& match() const { return match_; }
  bool empty() const { return stops_.empty(); }

 private:
  std::vector<std::string> stops_;
  std::string held_;  // text a stop string may still start in
  bool matched_ = false;
  std::string match_;
};

}  // namespace llama2

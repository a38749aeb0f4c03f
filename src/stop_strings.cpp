// StopStrings (stop_strings.hpp): hold back the longest suffix of the text
// that is a prefix of some stop string; release the rest.
#include "llama2/stop_strings.hpp"

#include <algorithm>
#include <utility>

namespace llama2 {

StopStrings::StopStrings(std::vector<std::string> stops) {
  for (std::string& s : stops) {
    if (!s.empty()) stops_.push_back(std::move(s));
  }
}

std::string StopStrings::push(std::string_view text) {
  if (matched_) return {};
  held_ += text;
  if (stops_.empty()) return std::exchange(held_, {});

  // The earliest occurrence of any stop string (the longest at that place).
  std::size_t first = std::string::npos;
  for (const std::string& s : stops_) {
    const std::size_t at = held_.find(s);
    if (at != std::string::npos && (at < first || (at == first && s.size() > match_.size()))) {
      first = at;
      match_ = s;
    }
  }
  if (first != std::string::npos) {
    matched_ = true;
    std::string out = held_.substr(0, first);
    held_.clear();
    return out;
  }

  // No match yet: keep the longest suffix that some stop string starts with
  // (shorter than that string, or it would have matched above).
  std::size_t keep = 0;
  for (const std::string& s : stops_) {
    for (std::size_t n = std::min(s.size() - 1, held_.size()); n > keep; n--) {
      if (held_.compare(held_.size() - n, n, s, 0, n) == 0) {
        keep = n;
        break;
      }
    }
  }
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StopStrings::flush() {
  if (matched_) return {};
  return std::exchange(held_, {});
}

}  // namespace llama2

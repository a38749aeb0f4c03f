#include "support/golden_logits.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace llama2::test {

std::vector<GoldenLine> read_golden_logits(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<GoldenLine> lines;
  std::string text;
  for (int no = 1; std::getline(in, text); no++) {
    if (text.empty() || text[0] == '#') continue;
    auto bad = [&] { return std::runtime_error(path + ":" + std::to_string(no) + ": cannot parse '" + text + "'"); };
    std::istringstream ss(text);
    GoldenLine g;
    g.line_no = no;
    std::string k_pos, k_in, k_argmax, k_top5, pair;
    ss >> k_pos >> g.pos >> k_in >> g.in >> k_argmax >> g.argmax >> k_top5;
    if (!ss || k_pos != "pos" || k_in != "in" || k_argmax != "argmax" || k_top5 != "top5") throw bad();
    while (ss >> pair) {
      auto colon = pair.find(':');
      if (colon == std::string::npos) throw bad();
      std::size_t used_id = 0, used_logit = 0;
      int id = std::stoi(pair.substr(0, colon), &used_id);
      double logit = std::stod(pair.substr(colon + 1), &used_logit);
      if (used_id != colon || used_logit != pair.size() - colon - 1) throw bad();
      g.top.emplace_back(id, logit);
    }
    if (g.top.size() != 5) throw bad();
    lines.push_back(std::move(g));
  }
  return lines;
}

std::size_t count_golden_positions(const std::string& path) {
  std::ifstream in(path);
  std::size_t n = 0;
  for (std::string text; std::getline(in, text);) n += text.rfind("pos ", 0) == 0;
  return n;
}

}  // namespace llama2::test

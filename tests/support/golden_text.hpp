// Reading the golden text files in /work/shared/golden (llama2.c run.c's
// stdout, greedy, e.g. aidreams260K_greedy.txt): after the '#' comment
// lines, each case is a line 'PROMPT: <text>', then run.c's stdout, then the
// file's own newline and a line '@@@'.
#pragma once

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace llama2::test {

struct GoldenText {
  std::string prompt;  // the text after 'PROMPT: '
  std::string out;     // run.c's stdout for it
};

// Every case of `path`, in file order. Throws std::runtime_error naming the
// file if it cannot be read or a case has no '@@@' line.
inline std::vector<GoldenText> read_golden_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string g = buf.str();
  std::vector<GoldenText> cases;
  for (std::size_t at = g.find("\nPROMPT: "); at != std::string::npos; at = g.find("\nPROMPT: ", at)) {
    at++;  // the start of the PROMPT line
    const std::size_t eol = g.find('\n', at);
    const std::size_t end = g.find("\n@@@\n", eol);
    if (end == std::string::npos) {
      throw std::runtime_error(path + ": the case at offset " + std::to_string(at) + " has no '@@@' line");
    }
    cases.push_back({g.substr(at + 8, eol - at - 8), g.substr(eol + 1, end - eol - 1)});
    at = end;
  }
  return cases;
}

}  // namespace llama2::test

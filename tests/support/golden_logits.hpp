// Reading the golden logits files in /work/shared/golden (written by
// llama2.c run.c, fp32, teacher-forced). Each data line is
//   pos <p> in <token> argmax <id> top5 <id>:<logit> <id>:<logit> ... (5 pairs)
// and lines starting with '#' are comments ("# prompt 1 400 ..." lists the
// prompt ids). A line with pos 0 starts a new sequence.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace llama2::test {

struct GoldenLine {
  int line_no = 0;  // 1-based line in the file, for messages
  int pos = 0;      // position the token is fed at
  int in = 0;       // token fed at pos
  int argmax = 0;   // argmax of llama2.c's logits at pos
  std::vector<std::pair<int, double>> top;  // top-5 (id, logit), best first
};

// Parses every data line of `path`. Throws std::runtime_error naming the file
// and line if the file cannot be read or a line does not parse.
std::vector<GoldenLine> read_golden_logits(const std::string& path);

// The number of lines starting with "pos " (counted without the parser).
std::size_t count_golden_positions(const std::string& path);

}  // namespace llama2::test

// The engine's side of the reference comparisons: teacher-forced logits and
// the error measure the GGUF and quantize tests use.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "llama2/transformer.hpp"

namespace llama2::test {

// Runs `tokens` teacher-forced through the engine; logits at each position.
inline std::vector<std::vector<float>> engine_logits(Model model, const std::vector<int>& tokens, int n_threads = 1,
                                                     int context = 0) {
  Transformer t(std::move(model), n_threads, context);
  std::vector<std::vector<float>> out;
  for (std::size_t pos = 0; pos < tokens.size(); pos++) {
    auto logits = t.forward(tokens[pos], int(pos));
    out.emplace_back(logits.begin(), logits.end());
  }
  return out;
}

// max |engine - reference| over all logits, relative to the largest reference logit.
inline double max_rel_error(const std::vector<std::vector<float>>& got, const std::vector<std::vector<double>>& want) {
  double err = 0, scale = 1e-30;
  for (std::size_t p = 0; p < want.size(); p++) {
    for (std::size_t i = 0; i < want[p].size(); i++) {
      err = std::max(err, std::fabs(double(got[p][i]) - want[p][i]));
      scale = std::max(scale, std::fabs(want[p][i]));
    }
  }
  return err / scale;
}

}  // namespace llama2::test

// Shared by the fuzz targets: hand the input to a reader through a real file
// (the readers take a path and mmap it), and touch every weight row so that
// a tensor pointing outside the mapping would be caught by ASan.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "llama2/error.hpp"
#include "llama2/model.hpp"

namespace llama2::fuzz {

// A per-process scratch file in /dev/shm (or /tmp) holding `data`.
inline std::string write_input(const std::uint8_t* data, std::size_t size, const char* ext) {
  static const std::string path = [&] {
    const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    return std::string(dir) + "/llama2_fuzz_" + std::to_string(getpid()) + ext;
  }();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) __builtin_trap();
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
  return path;
}

// Dequantizes the first and last row of every matrix.
inline float touch_weights(const Model& m) {
  float sum = 0;
  auto rows = [&](const Tensor& t) {
    if (t.rows == 0 || t.cols > (1u << 20)) return;
    std::vector<float> row(t.cols);
    for (std::size_t r : {std::size_t(0), t.rows - 1}) {
      dequantize_row(t, r, row.data());
      sum += row[0] + row[t.cols - 1];
    }
  };
  const Weights& w = m.weights();
  rows(w.token_embedding);
  rows(w.wcls);
  sum += w.rms_final[0] + w.rms_final[m.config().dim - 1];
  for (const LayerWeights& l : w.layers) {
    for (const Tensor* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w1, &l.w2, &l.w3}) rows(*t);
    sum += l.rms_att[m.config().dim - 1] + l.rms_ffn[m.config().dim - 1];
  }
  return sum;
}

// Loads the input as a model file named *`ext` and touches its weights. A
// llama2::Error is a correct answer; a crash or another exception is a bug.
inline void load_model(const std::uint8_t* data, std::size_t size, const char* ext) {
  try {
    Model m = Model::load(write_input(data, size, ext));
    volatile float sink = touch_weights(m);
    (void)sink;
  } catch (const Error&) {
  }
}

}  // namespace llama2::fuzz

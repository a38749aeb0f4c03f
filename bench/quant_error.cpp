// quant_error: how far a quantized model's weights are from the weights it
// was made from, for comparing quantizers (ours against llama-quantize) on
// the same input.
//
//   quant_error ORIGINAL QUANTIZED...
//       One line per QUANTIZED file: its size in bytes, the RMS error of its
//       dequantized weight matrices against ORIGINAL's (over every element
//       of every matrix: token embedding, the seven per layer, classifier),
//       and that error relative to the RMS of the original weights. Both
//       files are read by this engine (any format it reads; a GGUF from
//       llama.cpp included) and must hold the same model in the same row
//       order: quantize one GGUF with both tools and compare each with it.
//   quant_error --heavy-tailed OUT.bin [--seed N]
//       Writes a llama2.c v0 checkpoint (dim 256, hidden 768, 2 layers, 4
//       heads, vocab 32000, separate classifier) whose matrices are
//       Student-t with 3 degrees of freedom, scaled to about 0.02, with 4
//       input columns per matrix 20x larger: the heavy tails and outlier
//       channels of trained weights, which random normal weights lack.
//       `build/quantize OUT.bin heavy.f32.gguf F32 -z tokenizer.bin` makes
//       it a GGUF both quantizers read.
//
// bench/RESULTS.md has the commands and the table README quotes.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "llama2/error.hpp"
#include "llama2/model.hpp"
#include "llama2/tensor.hpp"
#include "llama2/thread_pool.hpp"

namespace {

using llama2::Model;
using llama2::Tensor;

// --- comparing ---------------------------------------------------------------------

struct Sums {
  double err2 = 0;   // sum of (quantized - original)^2
  double orig2 = 0;  // sum of original^2
  double n = 0;      // elements
};

std::vector<const Tensor*> matrices(const Model& m) {
  const llama2::Weights& w = m.weights();
  std::vector<const Tensor*> out{&w.token_embedding};
  for (const llama2::LayerWeights& l : w.layers) {
    for (const Tensor* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w1, &l.w2, &l.w3}) out.push_back(t);
  }
  if (w.wcls.data != w.token_embedding.data) out.push_back(&w.wcls);
  return out;
}

Sums compare(const Model& original, const Model& quantized, llama2::ThreadPool& pool) {
  const std::vector<const Tensor*> a = matrices(original), b = matrices(quantized);
  if (a.size() != b.size()) {
    throw llama2::Error(quantized.path() + ": " + std::to_string(b.size()) + " weight matrices, " + original.path() +
                        " has " + std::to_string(a.size()));
  }
  Sums total;
  std::vector<Sums> per_thread(std::size_t(pool.size()));
  for (std::size_t i = 0; i < a.size(); i++) {
    const Tensor& x = *a[i];
    const Tensor& y = *b[i];
    if (x.rows != y.rows || x.cols != y.cols) {
      throw llama2::Error(quantized.path() + ": matrix " + std::to_string(i) + " is " + std::to_string(y.rows) + "x" +
                          std::to_string(y.cols) + ", expected " + std::to_string(x.rows) + "x" +
                          std::to_string(x.cols));
    }
    for (Sums& s : per_thread) s = Sums{};
    pool.parallel_for(x.rows, [&](std::size_t r0, std::size_t r1, int thread) {
      std::vector<float> rx(x.cols), ry(x.cols);  // (cols) one row of each
      Sums& s = per_thread[std::size_t(thread)];
      for (std::size_t r = r0; r < r1; r++) {
        llama2::dequantize_row(x, r, rx.data());
        llama2::dequantize_row(y, r, ry.data());
        for (std::size_t c = 0; c < x.cols; c++) {
          const double d = double(ry[c]) - double(rx[c]);
          s.err2 += d * d;
          s.orig2 += double(rx[c]) * double(rx[c]);
        }
      }
      s.n += double(r1 - r0) * double(x.cols);
    }, 64);
    for (const Sums& s : per_thread) total.err2 += s.err2, total.orig2 += s.orig2, total.n += s.n;
  }
  return total;
}

// --- the heavy-tailed weight set -----------------------------------------------------

void write_heavy_tailed(const std::string& path, std::uint32_t seed) {
  const int dim = 256, hidden = 768, layers = 2, heads = 4, kv_heads = 4, vocab = 32000, seq_len = 256;
  const int head_size = dim / heads;
  std::mt19937_64 rng(seed);
  std::student_t_distribution<double> t3(3.0);
  const double scale = 0.02 / std::sqrt(3.0);  // t(3) has variance 3
  // A (rows, cols) matrix with 4 outlier input columns.
  auto matrix = [&](int rows, int cols) {
    std::vector<float> m(std::size_t(rows) * std::size_t(cols));
    for (float& v : m) v = float(scale * t3(rng));
    std::uniform_int_distribution<int> col(0, cols - 1);
    for (int k = 0; k < 4; k++) {
      const int c = col(rng);
      for (int r = 0; r < rows; r++) m[std::size_t(r) * std::size_t(cols) + std::size_t(c)] *= 20.0f;
    }
    return m;
  };
  std::ofstream out(path, std::ios::binary);
  if (!out) throw llama2::Error(path + ": cannot open for writing");
  auto put = [&](const std::vector<float>& v) {
    out.write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size() * sizeof(float)));
  };
  // v0 header; a negative vocab_size says the classifier follows the weights.
  const std::int32_t header[7] = {dim, hidden, layers, heads, kv_heads, -vocab, seq_len};
  out.write(reinterpret_cast<const char*>(header), sizeof header);
  const std::vector<float> ones(std::size_t(layers) * dim, 1.0f);
  put(matrix(vocab, dim));  // token_embedding
  put(ones);                // rms_att
  // llama2.c v0 stores each kind for all layers together: wq, wk, wv, wo, then
  // rms_ffn, w1, w2, w3.
  for (int kind = 0; kind < 4; kind++) {
    for (int l = 0; l < layers; l++) put(matrix(kind == 0 || kind == 3 ? dim : kv_heads * head_size, dim));
  }
  put(ones);  // rms_ffn
  for (int l = 0; l < layers; l++) put(matrix(hidden, dim));  // w1
  for (int l = 0; l < layers; l++) put(matrix(dim, hidden));  // w2
  for (int l = 0; l < layers; l++) put(matrix(hidden, dim));  // w3
  put(std::vector<float>(dim, 1.0f));                          // rms_final
  put(std::vector<float>(std::size_t(seq_len) * head_size, 0.0f));  // freq_cis_real + imag (unused)
  put(matrix(vocab, dim));                                     // wcls
  if (!out.flush()) throw llama2::Error(path + ": write failed");
}

int usage() {
  std::fprintf(stderr,
               "usage: quant_error ORIGINAL QUANTIZED...\n"
               "       quant_error --heavy-tailed OUT.bin [--seed N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (!args.empty() && args[0] == "--heavy-tailed") {
      if (args.size() != 2 && !(args.size() == 4 && args[2] == "--seed")) return usage();
      write_heavy_tailed(args[1], args.size() == 4 ? std::uint32_t(std::stoul(args[3])) : 1u);
      return 0;
    }
    if (args.size() < 2) return usage();
    const Model original = Model::load(args[0]);
    llama2::ThreadPool pool;
    std::printf("%-40s %14s %12s %10s\n", "file", "bytes", "rms error", "relative");
    for (std::size_t i = 1; i < args.size(); i++) {
      const Model quantized = Model::load(args[i]);
      const Sums s = compare(original, quantized, pool);
      std::printf("%-40s %14zu %12.4e %10.5f\n", args[i].c_str(), quantized.file_size(), std::sqrt(s.err2 / s.n),
                  std::sqrt(s.err2 / s.orig2));
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "quant_error: %s\n", e.what());
    return 1;
  }
}

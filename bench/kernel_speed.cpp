// kernel_speed: how fast each weight type's matrix-vector kernel computes
// when its weights are already in the cache, one thread, per instruction set.
// Generation reads every weight once per token, so it is bounded twice:
// by the memory bus (stream_bw's bandwidth / bytes of weights) and by this
// rate (bytes the kernel gets through per second with no memory stall, times
// the threads). Whichever is lower is the ceiling; bench/RESULTS.md compares
// them per type.
//
//   kernel_speed [--types Q4_0,Q8_0,...] [--isas avx2,avx512,...] [--rows N] [--cols N]
//
// For each type and each instruction set this CPU has: a rows x cols matrix
// of random weights (N(0, 0.02), quantized with quantize_row) and a random
// activation vector; the type's int8 kernel (matvec_int8 against
// quantize_q8x32's blocks) where the table has one, else its fp32 one. The
// matvec runs over the whole matrix until 0.2 s have passed, five times; the
// fastest time is reported as ns per 32 weights, GB/s of weights read and
// billions of weights per second, each to four significant digits. The default 256 x 4096 matrix (0.6 to
// 4 MiB) stays in L2 for the quantized types.
// Exit status: 0 ok, 2 bad usage.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/kernels.hpp"
#include "kernels/weight_types.hpp"
#include "kernels/quantize.hpp"

namespace {

using llama2::Isa;
using llama2::WeightType;

struct Options {
  std::vector<WeightType> types;
  std::vector<Isa> isas;
  std::size_t rows = 256;
  std::size_t cols = 4096;
};

// The types a file holds, and the layouts made at load (weight_types.hpp:
// is_load_layout), quantized as their file type and repacked.
bool measurable(WeightType type) {
  return llama2::can_quantize(type) || llama2::is_load_layout(type);
}

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    out.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "kernel_speed: %s\n"
               "usage: kernel_speed [--types T,...] [--isas I,...] [--rows N] [--cols N]\n"
               "  T: F32 F16 BF16 Q8_0 Q4_0 Q4_0_X8 Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K\n"
               "     Q4_0_X16 Q8_0_X16 Q4_K_X8 Q5_K_X2 Q6_K_X2 (default: all)\n"
               "  I: scalar avx2 avx512 neon (default: every one this CPU has)\n",
               why.c_str());
  std::exit(2);
}

std::size_t count(const char* flag, const char* text) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0' || v == 0 || v > (1ull << 24)) {
    usage(std::string(flag) + " wants a count from 1 to 16777216, not '" + text + "'");
  }
  return std::size_t(v);
}

Options parse(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; i++) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage("unknown option or missing value: '" + flag + "'");
    const char* value = argv[++i];
    if (flag == "--types") {
      for (const std::string& name : split(value)) {
        const auto* info = std::find_if(std::begin(llama2::kWeightTypes), std::end(llama2::kWeightTypes),
                                        [&](const llama2::WeightTypeInfo& t) { return same_name(t.name, name); });
        if (info == std::end(llama2::kWeightTypes) || !measurable(info->type)) {
          usage("unknown weight type '" + name + "'");
        }
        opt.types.push_back(info->type);
      }
    } else if (flag == "--isas") {
      for (const std::string& name : split(value)) {
        const Isa all[] = {Isa::SCALAR, Isa::AVX2, Isa::AVX512, Isa::NEON};
        const Isa* isa = std::find_if(std::begin(all), std::end(all), [&](Isa a) { return same_name(llama2::isa_name(a), name); });
        if (isa == std::end(all)) usage("unknown instruction set '" + name + "'");
        opt.isas.push_back(*isa);
      }
    } else if (flag == "--rows") {
      opt.rows = count("--rows", value);
    } else if (flag == "--cols") {
      opt.cols = count("--cols", value);
      if (opt.cols % llama2::kQK_K != 0) usage("--cols must be a multiple of 256 (the K-quant super-block)");
    } else {
      usage("unknown option '" + flag + "'");
    }
  }
  if (opt.types.empty()) {
    for (const llama2::WeightTypeInfo& t : llama2::kWeightTypes) {
      if (measurable(t.type)) opt.types.push_back(t.type);
    }
  }
  if (opt.isas.empty()) opt.isas = {Isa::SCALAR, Isa::NEON, Isa::AVX2, Isa::AVX512};
  return opt;
}

// Seconds of the fastest of five runs of `pass` repeated for at least 0.2 s, per pass.
template <typename Pass>
double fastest_pass(Pass pass) {
  using Clock = std::chrono::steady_clock;
  pass();  // warm the cache
  double best = 1e30;
  for (int rep = 0; rep < 5; rep++) {
    const Clock::time_point start = Clock::now();
    int passes = 0;
    double seconds = 0;
    do {
      pass();
      passes++;
      seconds = std::chrono::duration<double>(Clock::now() - start).count();
    } while (seconds < 0.2);
    best = std::min(best, seconds / passes);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> x(opt.cols), out(opt.rows), row(opt.cols);
  for (float& v : x) v = normal(rng) * 50.0f;

  std::printf("%-7s %-7s %-5s %12s %10s %12s\n", "type", "isa", "x", "ns/32 w", "GB/s", "G weights/s");
  for (WeightType type : opt.types) {
    const std::size_t row_bytes = llama2::row_bytes(type, opt.cols);
    std::vector<unsigned char> weights(row_bytes * opt.rows);  // (rows, row_bytes) in the type's layout
    // The layouts made at load: quantized as their file type, then repacked.
    const WeightType file_type = llama2::file_type_of_layout(type);
    for (std::size_t r = 0; r < opt.rows; r++) {
      for (float& v : row) v = normal(rng);
      llama2::quantize_row(file_type, row.data(), weights.data() + r * row_bytes, opt.cols);
    }
    if (type != file_type) {
      const std::vector<unsigned char> file_layout = weights;
      llama2::repack_layout(type, file_layout.data(), weights.data(), opt.rows, opt.cols);
    }
    const llama2::Tensor t{type, weights.data(), nullptr, opt.rows, opt.cols, 0};
    const llama2::WeightRows w = llama2::weight_rows(t);
    for (Isa isa : opt.isas) {
      const llama2::Kernels* k = llama2::kernels_for(isa);
      if (k == nullptr) continue;
      const llama2::WeightKernels& kw = k->weight(type);
      std::vector<llama2::BlockQ8x32> xq(opt.cols / llama2::kQK);  // (cols / 32) activation blocks
      k->quantize_q8x32(x.data(), xq.data(), opt.cols);
      double seconds = 0;
      const char* kind = "int8";
      if (kw.matvec_int8 != nullptr) {
        seconds = fastest_pass([&] { kw.matvec_int8(out.data(), w, xq.data(), 0, opt.rows); });
      } else if (kw.matvec != nullptr) {
        kind = "fp32";
        seconds = fastest_pass([&] { kw.matvec(out.data(), w, x.data(), 0, opt.rows); });
      } else {
        continue;
      }
      const double n_weights = double(opt.rows) * double(opt.cols);
      // Four significant digits at least, so the columns agree to 0.1% on any machine.
      std::printf("%-7s %-7s %-5s %12.4g %10.4g %12.4g\n", std::string(llama2::weight_type_name(type)).c_str(),
                  std::string(llama2::isa_name(isa)).c_str(), kind, seconds / (n_weights / 32) * 1e9,
                  double(weights.size()) / seconds / 1e9, n_weights / seconds / 1e9);
    }
  }
  return 0;
}

// quantize: convert a model to a llama.cpp-compatible GGUF file.
//
//   build/quantize IN OUT TYPE [-z tokenizer.bin] [--threads N]
//
// IN is a llama2.c checkpoint (v0, v1 or v2) or a GGUF; OUT is written as a
// GGUF of TYPE (F32, F16, BF16, Q8_0, Q6_K, Q5_K_M, ... Q2_K; the _M/_S
// mixes pick each tensor's type as llama.cpp's llama-quantize does) with the
// llama.* hyperparameters, the tokenizer (from IN if it is a GGUF with one,
// else from -z) and llama.cpp's tensor names. Norm weights stay F32.
// Progress goes to stderr: a bar redrawn in place on a terminal, one line
// per tensor otherwise.
// Exit status: 0 ok, 1 bad input file, 2 bad usage.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli.hpp"
#include "llama2/model.hpp"
#include "llama2/quantize.hpp"
#include "llama2/tokenizer.hpp"
#include "options.hpp"

namespace {

namespace cli = llama2::cli;
using llama2::FileType;

struct Options {
  std::string in, out;
  FileType type = FileType::F32;
  std::optional<std::string> tokenizer;
  int threads = 0;
};

std::string upper(std::string_view s) {
  std::string u(s);
  for (char& ch : u) ch = (ch >= 'a' && ch <= 'z') ? char(ch - 'a' + 'A') : ch;
  return u;
}

// TYPE, case-insensitive as llama-quantize's; a K type without its mix
// suffix gets a hint.
cli::Setter file_type_setter(FileType& target) {
  return [&target](std::string_view name, std::string_view value) {
    std::vector<std::string_view> names;
    for (FileType t : llama2::file_types()) {
      if (llama2::file_type_name(t) == upper(value)) {
        target = t;
        return;
      }
      names.push_back(llama2::file_type_name(t));
    }
    const std::string u = upper(value);
    std::string expected = cli::one_of(names);
    if (u == "Q3_K" || u == "Q4_K" || u == "Q5_K") expected = u + "_M or " + u + "_S (the mixes); " + expected;
    throw cli::bad_value(name, expected, value);
  };
}

std::string type_list() {
  std::vector<std::string_view> names;
  for (FileType t : llama2::file_types()) names.push_back(llama2::file_type_name(t));
  return cli::one_of(names);
}

cli::Program command_line(Options& opt) {
  return {
      .name = "quantize",
      .synopsis = "IN OUT TYPE [-z tokenizer.bin] [--threads N]",
      .positionals =
          {
              {"IN", "llama2.c checkpoint (v0/v1/v2) or GGUF model", cli::text(opt.in)},
              {"OUT", "the GGUF file to write", cli::text(opt.out)},
              {"TYPE",
               type_list() + "\n(the _M/_S mixes give some tensors more bits, as llama.cpp's do; see README)",
               file_type_setter(opt.type)},
          },
      .options = {{"-z", "--tokenizer", "FILE",
                   "the tokenizer to store (required when IN has none, e.g. a llama2.c .bin)",
                   cli::text(opt.tokenizer)},
                  {"", "--threads", "N", "worker threads (default: one per core)",
                   cli::integer(opt.threads, 0, "0 (one per core) or more")}},
  };
}

// Progress on stderr: on a terminal one line redrawn in place (tensor count,
// a bar by bytes, MB/s of input and ETA); otherwise a plain line per tensor.
class ProgressBar {
 public:
  ProgressBar() : tty_(::isatty(2) == 1), start_(std::chrono::steady_clock::now()) {}

  void operator()(const llama2::QuantizeProgress& p) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double mb = double(p.bytes_in_done) / 1e6;
    const double rate = seconds > 0 ? mb / seconds : 0.0;
    const double left = rate > 0 ? (double(p.bytes_in_total) / 1e6 - mb) / rate : 0.0;
    const std::string type(llama2::weight_type_name(p.type));
    if (!tty_) {
      std::fprintf(stderr, "[%zu/%zu] %s %s, %.0f MB/s\n", p.tensors_done, p.n_tensors, p.name.c_str(), type.c_str(),
                   rate);
      return;
    }
    constexpr int kWidth = 30;
    const double frac = p.bytes_in_total ? double(p.bytes_in_done) / double(p.bytes_in_total) : 1.0;
    std::string bar(std::size_t(frac * kWidth), '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r\033[K[%s] %zu/%zu tensors, %.0f MB/s, ETA %.0f s  %s %s", bar.c_str(), p.tensors_done,
                 p.n_tensors, rate, left, p.name.c_str(), type.c_str());
    if (p.tensors_done == p.n_tensors) std::fprintf(stderr, "\n");
  }

 private:
  bool tty_;
  std::chrono::steady_clock::time_point start_;
};

int quantize_main(int argc, char** argv) {
  Options opt;
  if (!cli::parse(command_line(opt), argc, argv)) return 0;  // --help
  const std::string& in = opt.in;
  const std::string type_name(llama2::file_type_name(opt.type));

  llama2::Model model = llama2::Model::load(in);
  llama2::Vocab vocab;
  if (opt.tokenizer) {
    vocab = llama2::Tokenizer::load(*opt.tokenizer).vocab();
  } else if (model.format() == llama2::ModelFormat::GGUF) {
    vocab = llama2::Tokenizer::load(in).vocab();  // the GGUF's own, validated as the engine will use it
  } else if (model.format() == llama2::ModelFormat::HF || model.format() == llama2::ModelFormat::SAFETENSORS) {
    vocab = llama2::Tokenizer::load(cli::tokenizer_path(model, "")).vocab();  // the folder's tokenizer.model
  } else {
    throw cli::UsageError{in + " has no tokenizer: give one with -z tokenizer.bin"};
  }
  ProgressBar bar;
  const llama2::QuantizeOptions options{.type = opt.type, .n_threads = opt.threads, .progress = std::ref(bar)};
  const auto log = llama2::write_llama_gguf(model, vocab, options, opt.out);
  // The tensors stored otherwise than the file type's base type (the mix's
  // choices and the fallbacks), not every norm.
  const std::string base(llama2::weight_type_name(llama2::base_weight_type(opt.type)));
  for (const std::string& line : log) {
    if (line.find(" " + base + " ") == std::string::npos && line.find("_norm.") == std::string::npos) {
      std::fprintf(stderr, "note: %s\n", line.c_str());
    }
  }
  std::fprintf(stderr, "wrote %s (%s, %zu tensors)\n", opt.out.c_str(), type_name.c_str(), log.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return llama2::cli::run_main("quantize", [&] { return quantize_main(argc, argv); });
}

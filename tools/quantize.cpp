// quantize: convert a model to a llama.cpp-compatible GGUF file.
//
//   build/quantize IN OUT TYPE [-z tokenizer.bin]
//
// IN is a llama2.c checkpoint (v0, v1 or v2) or a GGUF; OUT is written as a
// GGUF of TYPE F32, F16, BF16, Q8_0 or Q4_0 with the llama.* hyperparameters,
// the tokenizer (from IN if it is a GGUF with one, else from -z) and
// llama.cpp's tensor names. Norm weights stay F32.
// Exit status: 0 ok, 1 bad input file, 2 bad usage.
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "cli.hpp"
#include "llama2/model.hpp"
#include "llama2/quantize.hpp"
#include "llama2/tokenizer.hpp"

namespace {

using llama2::cli::UsageError;

constexpr const char* kUsage =
    "usage: quantize IN OUT TYPE [-z tokenizer.bin]\n"
    "  IN        llama2.c checkpoint (v0/v1/v2) or GGUF model\n"
    "  OUT       the GGUF file to write\n"
    "  TYPE      F32, F16, BF16, Q8_0 or Q4_0\n"
    "  -z FILE   the tokenizer to store (required when IN has none, e.g. a llama2.c .bin)\n"
    "  -h, --help  show this help\n";

llama2::WeightType parse_type(const std::string& s) {
  using llama2::WeightType;
  for (WeightType t : {WeightType::F32, WeightType::F16, WeightType::BF16, WeightType::Q8_0, WeightType::Q4_0}) {
    if (s == llama2::weight_type_name(t)) return t;
  }
  throw UsageError{"TYPE: expected F32, F16, BF16, Q8_0 or Q4_0, got '" + s + "'"};
}

bool is_gguf(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  char magic[4] = {};
  const bool ok = std::fread(magic, 1, 4, f) == 4 && std::memcmp(magic, "GGUF", 4) == 0;
  std::fclose(f);
  return ok;
}

int quantize_main(int argc, char** argv) {
  llama2::cli::Args args(argc, argv);
  std::vector<std::string> positional;
  std::optional<std::string> tokenizer;
  while (!args.done()) {
    const std::string arg(args.next());
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "-z" || arg == "--tokenizer") {
      tokenizer = std::string(args.next_value(arg));
    } else if (arg.size() > 1 && arg[0] == '-') {
      throw UsageError{"unknown option " + arg};
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() != 3) throw UsageError{"expected IN OUT TYPE, got " + std::to_string(positional.size()) + " arguments"};
  const std::string& in = positional[0];
  const std::string& out = positional[1];
  const llama2::WeightType type = parse_type(positional[2]);

  llama2::Model model = llama2::Model::load(in);
  llama2::Vocab vocab;
  if (tokenizer) {
    vocab = llama2::Tokenizer::load(*tokenizer).vocab();
  } else if (is_gguf(in)) {
    vocab = llama2::Tokenizer::load(in).vocab();  // the GGUF's own, validated as the engine will use it
  } else {
    throw UsageError{in + " has no tokenizer: give one with -z tokenizer.bin"};
  }
  const auto log = llama2::write_llama_gguf(model, vocab, type, out);
  // Only the tensors stored otherwise than asked (fallbacks), not every norm.
  for (const std::string& line : log) {
    if (line.find(" " + positional[2] + " ") == std::string::npos && line.find("_norm.") == std::string::npos) {
      std::fprintf(stderr, "note: %s\n", line.c_str());
    }
  }
  std::fprintf(stderr, "wrote %s (%s, %zu tensors)\n", out.c_str(), positional[2].c_str(), log.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return llama2::cli::run_main("quantize", [&] { return quantize_main(argc, argv); });
}

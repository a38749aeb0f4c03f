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

struct Options {
  std::string in, out;
  llama2::WeightType type = llama2::WeightType::F32;
  std::optional<std::string> tokenizer;
};

cli::Program command_line(Options& opt) {
  using llama2::WeightType;
  std::vector<std::pair<std::string_view, WeightType>> types;
  for (WeightType t : {WeightType::F32, WeightType::F16, WeightType::BF16, WeightType::Q8_0, WeightType::Q4_0}) {
    types.emplace_back(llama2::weight_type_name(t), t);
  }
  return {
      .name = "quantize",
      .synopsis = "IN OUT TYPE [-z tokenizer.bin]",
      .positionals =
          {
              {"IN", "llama2.c checkpoint (v0/v1/v2) or GGUF model", cli::text(opt.in)},
              {"OUT", "the GGUF file to write", cli::text(opt.out)},
              {"TYPE", "F32, F16, BF16, Q8_0 or Q4_0", cli::choice(opt.type, std::move(types))},
          },
      .options = {{"-z", "--tokenizer", "FILE",
                   "the tokenizer to store (required when IN has none, e.g. a llama2.c .bin)",
                   cli::text(opt.tokenizer)}},
  };
}

int quantize_main(int argc, char** argv) {
  Options opt;
  if (!cli::parse(command_line(opt), argc, argv)) return 0;  // --help
  const std::string& in = opt.in;
  const std::string type_name(llama2::weight_type_name(opt.type));

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
  const auto log = llama2::write_llama_gguf(model, vocab, opt.type, opt.out);
  // Only the tensors stored otherwise than asked (fallbacks), not every norm.
  for (const std::string& line : log) {
    if (line.find(" " + type_name + " ") == std::string::npos && line.find("_norm.") == std::string::npos) {
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

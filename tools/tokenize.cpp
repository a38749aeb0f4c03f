// tokenize: print the token ids (or pieces) of a text.
//
//   build/tokenize TOKENIZER [--no-bos] (-i TEXT | -f FILE) [--pieces]
//
// TOKENIZER is a llama2.c tokenizer.bin (for a llama2.c checkpoint, pass the
// tokenizer.bin that goes with it: the checkpoint has no vocabulary) or a GGUF
// file, whose vocabulary is in its metadata. Prints the ids on one line,
// separated by single spaces, BOS first unless --no-bos; with --pieces, one
// line per token: id, a tab, and the piece as stored in the vocab ("▁the").
// Exit status: 0 ok, 1 bad tokenizer file, 2 bad usage or unreadable input.
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "cli.hpp"
#include "llama2/error.hpp"
#include "llama2/tokenizer.hpp"
#include "options.hpp"

namespace {

namespace cli = llama2::cli;

struct Options {
  std::string tokenizer_path;
  std::optional<std::string> text;  // -i
  std::optional<std::string> file;  // -f
  bool bos = true;
  bool pieces = false;
};

cli::Program command_line(Options& opt) {
  // -i and -f: the text, once.
  auto text_from = [&opt](std::optional<std::string>& target) -> cli::Setter {
    return [&opt, &target](std::string_view, std::string_view value) {
      if (opt.text || opt.file) throw cli::UsageError{"give the text once, with either -i or -f"};
      target = std::string(value);
    };
  };
  return {
      .name = "tokenize",
      .synopsis = "TOKENIZER [--no-bos] (-i TEXT | -f FILE) [--pieces]",
      .positionals = {{"TOKENIZER", "llama2.c tokenizer.bin, SentencePiece tokenizer.model, a GGUF model or a Hugging Face folder (its vocabulary)",
                       cli::text(opt.tokenizer_path)}},
      .options =
          {
              {"-i", "", "TEXT", "tokenize TEXT", text_from(opt.text)},
              {"-f", "", "FILE", "tokenize the contents of FILE (bytes as they are; '-' for stdin)", text_from(opt.file)},
              {"", "--no-bos", "", "do not put the BOS id first", cli::flag(opt.bos, false)},
              {"", "--pieces", "", "print 'id<TAB>piece' lines instead of one line of ids", cli::flag(opt.pieces)},
          },
  };
}

// A file that cannot be read is bad usage here (exit 2), as tests/tokenizer_test.cpp expects.
std::string read_input(const std::string& path) {
  try {
    return cli::read_file(path);
  } catch (const llama2::Error&) {
    throw cli::UsageError{"cannot read input file " + path};
  }
}

int tokenize_main(int argc, char** argv) {
  Options opt;
  if (!cli::parse(command_line(opt), argc, argv)) return 0;  // --help
  if (!opt.text && !opt.file) throw cli::UsageError{"missing the text: give -i TEXT or -f FILE"};
  const std::string text = opt.text ? *opt.text : read_input(*opt.file);
  const llama2::Tokenizer tokenizer = llama2::Tokenizer::load(opt.tokenizer_path);
  const std::vector<int> ids = tokenizer.encode(text, opt.bos, false);

  std::string out;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (opt.pieces) {
      out += std::to_string(ids[i]) + '\t' + tokenizer.piece(ids[i]) + '\n';
    } else {
      if (i > 0) out += ' ';
      out += std::to_string(ids[i]);
    }
  }
  if (!opt.pieces) out += '\n';
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  return llama2::cli::run_main("tokenize", [&] { return tokenize_main(argc, argv); });
}

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
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "llama2/tokenizer.hpp"

namespace {

using llama2::cli::UsageError;

constexpr const char* kUsage =
    "usage: tokenize TOKENIZER [--no-bos] (-i TEXT | -f FILE) [--pieces]\n"
    "  TOKENIZER   llama2.c tokenizer.bin, or a GGUF model (its vocabulary)\n"
    "  -i TEXT     tokenize TEXT\n"
    "  -f FILE     tokenize the contents of FILE (bytes as they are)\n"
    "  --no-bos    do not put the BOS id first\n"
    "  --pieces    print 'id<TAB>piece' lines instead of one line of ids\n"
    "  -h, --help  show this help\n";

struct Options {
  std::string tokenizer_path;
  std::optional<std::string> text;  // -i
  std::optional<std::string> file;  // -f
  bool bos = true;
  bool pieces = false;
  bool help = false;
};

Options parse_options(int argc, char** argv) {
  Options opt;
  llama2::cli::Args args(argc, argv);
  while (!args.done()) {
    const std::string arg(args.next());
    if (arg == "-h" || arg == "--help") {
      opt.help = true;
      return opt;
    } else if (arg == "-i" || arg == "-f") {
      std::string value(args.next_value(arg));
      if (opt.text || opt.file) throw UsageError{"give the text once, with either -i or -f"};
      (arg == "-i" ? opt.text : opt.file) = std::move(value);
    } else if (arg == "--no-bos") {
      opt.bos = false;
    } else if (arg == "--pieces") {
      opt.pieces = true;
    } else if (arg.size() > 1 && arg[0] == '-') {
      throw UsageError{"unknown option " + arg};
    } else if (opt.tokenizer_path.empty()) {
      opt.tokenizer_path = arg;
    } else {
      throw UsageError{"unexpected argument " + arg + " (the tokenizer is already " + opt.tokenizer_path + ")"};
    }
  }
  if (opt.tokenizer_path.empty()) throw UsageError{"missing the TOKENIZER file"};
  if (!opt.text && !opt.file) throw UsageError{"missing the text: give -i TEXT or -f FILE"};
  return opt;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  if (in) contents << in.rdbuf();
  if (!in || in.bad()) throw UsageError{"cannot read input file " + path};
  return std::move(contents).str();
}

int tokenize_main(int argc, char** argv) {
  const Options opt = parse_options(argc, argv);
  if (opt.help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const std::string text = opt.text ? *opt.text : read_file(*opt.file);
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

// compress: lossless compression with a language model and a range coder.
//
//   build/compress MODEL IN OUT [-z TOKENIZER] [--threads T]
//   build/compress -d MODEL IN OUT [-z TOKENIZER] [--threads T]
//
// The scheme and the stream format are described in include/llama2/compressor.hpp.
// Bits per byte and speed are reported on stderr.
// Exit status: 0 ok, 1 bad model/tokenizer/stream, 2 bad usage.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "cli.hpp"
#include "llama2/compressor.hpp"
#include "llama2/error.hpp"
#include "llama2/model.hpp"
#include "llama2/tokenizer.hpp"
#include "llama2/transformer.hpp"
#include "options.hpp"

namespace {

namespace cli = llama2::cli;

struct Options {
  std::string model_path, in, out, tokenizer_path;
  int threads = 0;
  bool decompress = false;
};

cli::Program command_line(Options& opt) {
  return {
      .name = "compress",
      .synopsis = "[-d] MODEL IN OUT [-z TOKENIZER] [--threads T]",
      .positionals =
          {
              {"MODEL", "a llama2.c checkpoint or a GGUF file; decompress needs the very same file",
               cli::text(opt.model_path)},
              {"IN", "the input file ('-' for stdin)", cli::text(opt.in)},
              {"OUT", "the output file ('-' for stdout)", cli::text(opt.out)},
          },
      .options =
          {
              {"-d", "", "", "decompress IN (made by compress) into OUT", cli::flag(opt.decompress)},
              {"-z", "", "TOKENIZER", "tokenizer.bin for a llama2.c checkpoint (a GGUF model carries its own)",
               cli::text(opt.tokenizer_path)},
              {"", "--threads", "T",
               "worker threads (default: one per core); a file compressed with any\n"
               "thread count decompresses with any other",
               cli::integer(opt.threads, 0, "0 (one per core) or more")},
          },
      .notes =
          "Any bytes round-trip exactly. The model's next-token probabilities drive a range coder;\n"
          "past the context the window restarts with the last half of it. The header records the\n"
          "original length and fingerprints of the model, tokenizer and original bytes, so another\n"
          "model or a damaged file gives an error, never wrong output.\n",
  };
}

void write_all(const std::string& path, const std::string& bytes) {
  if (path == "-") {
    if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size() || std::fflush(stdout) != 0) {
      throw llama2::Error("stdout: write error");
    }
    return;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw llama2::Error(path + ": cannot create the output file");
  out.write(bytes.data(), std::streamsize(bytes.size()));
  out.close();
  if (!out) throw llama2::Error(path + ": write error");
}

int compress_main(int argc, char** argv) {
  Options opt;
  if (!cli::parse(command_line(opt), argc, argv)) return 0;  // --help
  const std::string input = cli::read_file(opt.in);
  llama2::Model model = llama2::Model::load(opt.model_path);
  const std::string tokenizer_path = cli::tokenizer_path(model, opt.tokenizer_path);
  const llama2::Tokenizer tokenizer = llama2::Tokenizer::load(tokenizer_path);
  const std::uint64_t model_fp = llama2::file_fingerprint(opt.model_path);
  const std::uint64_t tokenizer_fp = llama2::file_fingerprint(tokenizer_path);
  llama2::Transformer transformer(std::move(model), opt.threads);
  llama2::Compressor compressor(transformer, tokenizer, model_fp, tokenizer_fp);

  llama2::CompressStats stats;
  const auto t0 = std::chrono::steady_clock::now();
  const std::string output = opt.decompress ? compressor.decompress(input, &stats) : compressor.compress(input, &stats);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  write_all(opt.out, output);

  std::fprintf(stderr,
               "%s: %llu bytes -> %llu bytes compressed, %.4f bits/byte (ratio %.3f), %llu symbols%s, "
               "%.2f s, %.1f KB/s of original\n",
               opt.decompress ? "decompress" : "compress", static_cast<unsigned long long>(stats.input_bytes),
               static_cast<unsigned long long>(stats.output_bytes), stats.bits_per_byte(),
               stats.output_bytes ? double(stats.input_bytes) / double(stats.output_bytes) : 0.0,
               static_cast<unsigned long long>(stats.symbols), stats.byte_fallback ? " (byte by byte)" : "", secs,
               secs > 0 ? double(stats.input_bytes) / 1e3 / secs : 0.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return llama2::cli::run_main("compress", [&] { return compress_main(argc, argv); });
}

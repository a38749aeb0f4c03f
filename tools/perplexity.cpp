// perplexity: how well a model predicts a text file.
//
//   build/perplexity MODEL -f FILE [-z TOKENIZER] [--ctx N] [--batch B] [--threads T] [--second-halves] [--json]
//
// Prints tokens scored, mean negative log-likelihood (nats), perplexity,
// bits per token and bits per byte of the file. The windowing is described
// in include/llama2/perplexity.hpp and in --help.
// Exit status: 0 ok, 1 bad model/tokenizer/input, 2 bad usage.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "cli.hpp"
#include "llama2/error.hpp"
#include "llama2/model.hpp"
#include "llama2/perplexity.hpp"
#include "llama2/tokenizer.hpp"
#include "llama2/transformer.hpp"
#include "options.hpp"

namespace {

namespace cli = llama2::cli;

struct Options {
  std::string model_path, file, tokenizer_path;
  int ctx = 0, batch = llama2::kDefaultPerplexityBatch, threads = 0;
  bool json = false;
  bool second_halves = false;  // llama.cpp's scoring
};

cli::Program command_line(Options& opt) {
  return {
      .name = "perplexity",
      .synopsis = "MODEL -f FILE [-z TOKENIZER] [--ctx N] [--batch B] [--threads T] [--second-halves] [--json]",
      .positionals = {{"MODEL", "a llama2.c checkpoint or a GGUF file", cli::text(opt.model_path)}},
      .options =
          {
              {"-f", "", "FILE", "the text to score (bytes as they are)", cli::text(opt.file)},
              {"-z", "", "TOKENIZER", "tokenizer.bin for a llama2.c checkpoint (a GGUF model carries its own)",
               cli::text(opt.tokenizer_path)},
              {"", "--ctx", "N", "window length in tokens, BOS included (default and maximum: the model's context)",
               cli::integer(opt.ctx, 2, "at least 2 (BOS and one scored token)")},
              {"", "--batch", "B",
               "tokens per forward call (default 64): B > 1 runs B positions of a window\n"
               "at once with matrix-matrix products; B = 1 runs token by token. The\n"
               "figures agree across B within float rounding (last digits of --json)",
               cli::integer(opt.batch, 1, "at least 1")},
              {"", "--threads", "T",
               "worker threads (default: one per core); for a given B the figures do not\n"
               "depend on T, to the last bit",
               cli::integer(opt.threads, 0, "0 (one per core) or more")},
              {"", "--second-halves", "",
               "score as llama.cpp's llama-perplexity does, so the perplexity is comparable\n"
               "with its: BOS + the text in chunks of exactly N tokens (a tail shorter than N\n"
               "is dropped), each chunk's first token replaced by BOS, only the second half\n"
               "of each chunk scored (no bits per byte then: half the text is not scored)",
               cli::flag(opt.second_halves)},
              {"", "--json", "", "print a one-line JSON summary on stdout instead of the text report",
               cli::flag(opt.json)},
          },
      .notes =
          "Windowing: the file's tokens (with the usual leading space, no BOS) are cut into\n"
          "non-overlapping chunks of N-1 tokens; each chunk runs as BOS + chunk from position 0,\n"
          "and every token is scored once, given the tokens before it in its chunk (the first\n"
          "token of a chunk sees only BOS). Unlike llama.cpp, which scores only the second half\n"
          "of each window (--second-halves does that), every token counts, so total bits is a\n"
          "code length for the file:\n"
          "  mean NLL = -(1/n) sum ln p(token | context)     perplexity = exp(mean NLL)\n"
          "  bits/token = mean NLL / ln 2                    bits/byte = total bits / file bytes\n"
          "A progress line (tokens/s, ETA) is shown on stderr when stderr is a terminal.\n",
  };
}

// "\r  1234/5678 tokens  812 tok/s  ETA 5s" on stderr, at most 10 times a second.
class ProgressLine {
 public:
  ProgressLine() : enabled_(isatty(fileno(stderr)) == 1), start_(Clock::now()), last_(start_) {}
  void update(std::uint64_t done, std::uint64_t total) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (done != total && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? double(done) / secs : 0.0;
    const double eta = rate > 0 ? double(total - done) / rate : 0.0;
    const int width = 30, filled = int(double(width) * double(done) / double(total));
    std::fprintf(stderr, "\r[%s%s] %llu/%llu tokens  %.0f tok/s  ETA %.0fs ", std::string(std::size_t(filled), '#').c_str(),
                 std::string(std::size_t(width - filled), '.').c_str(), static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total), rate, eta);
    if (done == total) std::fputc('\n', stderr);
  }

 private:
  using Clock = std::chrono::steady_clock;
  bool enabled_;
  Clock::time_point start_, last_;
};

int perplexity_main(int argc, char** argv) {
  Options opt;
  if (!cli::parse(command_line(opt), argc, argv)) return 0;  // --help
  if (opt.file.empty()) throw cli::UsageError{"missing the text: give -f FILE"};
  const std::string text = cli::read_file(opt.file, "text file");
  if (text.empty()) throw llama2::Error(opt.file + ": the file is empty; there is nothing to score");
  llama2::Model model = llama2::Model::load(opt.model_path);
  const std::string tokenizer_path = cli::tokenizer_path(model, opt.tokenizer_path);
  const llama2::Tokenizer tokenizer = llama2::Tokenizer::load(tokenizer_path);
  if (tokenizer.vocab_size() != model.config().vocab_size) {
    throw llama2::Error(tokenizer_path + ": " + std::to_string(tokenizer.vocab_size()) + " pieces, but " +
                        opt.model_path + " has vocab_size " + std::to_string(model.config().vocab_size));
  }
  const std::vector<int> tokens = tokenizer.encode(text, false, false);
  llama2::Transformer transformer(std::move(model), opt.threads, opt.ctx);

  ProgressLine progress;
  const auto t0 = std::chrono::steady_clock::now();
  const auto show = [&](std::uint64_t done, std::uint64_t total) { progress.update(done, total); };
  const llama2::PerplexityResult r =
      opt.second_halves
          ? llama2::perplexity_second_halves(transformer, tokens, tokenizer.bos_id(), opt.ctx, opt.batch, show)
          : llama2::perplexity(transformer, tokens, tokenizer.bos_id(), text.size(), opt.ctx, opt.batch, show);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int ctx = transformer.config().seq_len;

  if (opt.json) {
    char bits_per_byte[32] = "null";  // not defined when half the text is not scored
    if (!opt.second_halves) std::snprintf(bits_per_byte, sizeof bits_per_byte, "%.17g", r.bits_per_byte());
    std::printf(
        "{\"tokens\":%llu,\"bytes\":%llu,\"ctx\":%d,\"mean_nll\":%.17g,\"perplexity\":%.17g,\"bits_per_token\":%.17g,"
        "\"bits_per_byte\":%s,\"seconds\":%.3f}\n",
        static_cast<unsigned long long>(r.tokens_scored), static_cast<unsigned long long>(text.size()), ctx,
        r.mean_nll(), r.perplexity(), r.bits_per_token(), bits_per_byte, secs);
  } else {
    if (opt.second_halves) {
      std::printf("tokens scored   %llu (the second halves of chunks of %d tokens, as llama-perplexity)\n",
                  static_cast<unsigned long long>(r.tokens_scored), ctx);
    } else {
      std::printf("tokens scored   %llu (windows of %d tokens: BOS + %d)\n",
                  static_cast<unsigned long long>(r.tokens_scored), ctx, ctx - 1);
    }
    std::printf("file bytes      %zu\n", text.size());
    std::printf("mean NLL        %.6f nats/token\n", r.mean_nll());
    std::printf("perplexity      %.6f\n", r.perplexity());
    std::printf("bits per token  %.6f\n", r.bits_per_token());
    if (!opt.second_halves) std::printf("bits per byte   %.6f\n", r.bits_per_byte());
    std::printf("speed           %.1f tokens/s (%.2f s)\n", secs > 0 ? double(r.tokens_scored) / secs : 0.0, secs);
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  return llama2::cli::run_main("perplexity", [&] { return perplexity_main(argc, argv); });
}

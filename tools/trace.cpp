// trace: one HTML page that shows what a model does with a text - each
// token's surprisal and the candidates it beat, the logit lens (what every
// layer would predict), every head's attention, and the model card.
//
//   build/trace MODEL [-z TOKENIZER] (-i TEXT | -f FILE) [-n GENERATE] [-t TEMP] [-s SEED]
//               [--top K] [--layers all|L,L..] [--max-positions N] [--threads T] [--json] -o trace.html
//
// The page is self-contained (inline CSS, script and canvas; no network, no
// font) and opens from disk in any browser. The work is run_trace() and
// trace_html() (include/llama2/trace.hpp).
// Exit status: 0 ok, 1 bad model/tokenizer/input, 2 bad usage.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "cli.hpp"
#include "llama2/error.hpp"
#include "llama2/model.hpp"
#include "llama2/tokenizer.hpp"
#include "llama2/trace.hpp"
#include "llama2/transformer.hpp"
#include "options.hpp"

namespace {

namespace cli = llama2::cli;

struct Options {
  std::string model_path, tokenizer_path, text, file, output;
  bool has_text = false, json = false;
  int threads = 0;
  llama2::TraceOptions trace;
};

// "all" or a comma-separated list of layer indices.
cli::Setter layer_list(std::vector<int>& layers) {
  const cli::Setter list = cli::integer_list(layers, 0, "all or layer indices >= 0 (0,1,5)");
  return [&layers, list](std::string_view name, std::string_view value) {
    if (value == "all") {
      layers.clear();
      return;
    }
    try {
      list(name, value);
    } catch (const cli::UsageError&) {
      throw cli::bad_value(name, "all or layer indices >= 0 (0,1,5)", value);
    }
  };
}

cli::Program command_line(Options& opt) {
  llama2::TraceOptions& t = opt.trace;
  return {
      .name = "trace",
      .synopsis = "MODEL [-z TOKENIZER] (-i TEXT | -f FILE) [-n GENERATE] [-t TEMP] [-s SEED] [--top K]\n"
                  "             [--layers all|L,L..] [--max-positions N] [--threads T] [--json] -o trace.html",
      .about = "Runs the text through the model, watching every layer, and writes one self-contained HTML page:\n"
               "tokens coloured by surprisal, the logit lens, every head's attention and the model card.",
      .positionals = {{"MODEL", "a llama2.c checkpoint or a GGUF file", cli::text(opt.model_path)}},
      .options =
          {
              {"-i", "--prompt", "TEXT", "the text to trace",
               [&opt](std::string_view, std::string_view v) { opt.text = std::string(v), opt.has_text = true; }},
              {"-f", "--file", "FILE", "read the text from FILE (bytes as they are; - for stdin)", cli::text(opt.file)},
              {"-z", "--tokenizer", "FILE", "tokenizer.bin for a llama2.c checkpoint (a GGUF model carries its own)",
               cli::text(opt.tokenizer_path)},
              {"-n", "--generate", "N", "generate N more tokens after the text, marked as generated (default 0)",
               cli::integer(t.generate, 0, "a number of tokens >= 0")},
              {"-t", "--temperature", "T", "for the generated tokens: 0 = greedy, 1 = the model's distribution (default 1)",
               cli::number(t.temperature, "a temperature >= 0", [](float v) { return v >= 0; })},
              {"-s", "--seed", "S", "random seed for the generated tokens (default 0)",
               cli::integer(t.seed, 0, "an integer >= 0")},
              {"", "--top", "K", "candidates shown per position and per lens cell (default 10)",
               cli::integer(t.top_k, 1, "an integer >= 1", 1000)},
              {"", "--layers", "LIST", "layers whose attention the page keeps: all (default) or 0,3,5",
               layer_list(t.layers)},
              {"", "--max-positions", "N",
               "keep attention for the first N positions only (default: as many as fit\n"
               "12 MiB of 8-bit weights); the page says what was cut",
               cli::integer(t.max_positions, 1, "a number of positions >= 1")},
              {"", "--threads", "T", "worker threads (default: one per core)",
               cli::integer(opt.threads, 0, "0 (one per core) or more")},
              {"", "--json", "", "write the trace as JSON (to -o FILE, or stdout) instead of the page", cli::flag(opt.json)},
              {"-o", "--output", "FILE", "where to write the page (or the JSON)", cli::text(opt.output)},
          },
      .notes =
          "The text runs as BOS + its tokens (as perplexity scores it), so the page's total bits, bits per\n"
          "token, bits per byte and perplexity are the figures `perplexity -f FILE` prints for that text;\n"
          "the text, BOS and generated tokens must fit in the model's context. Attention is stored as\n"
          "8-bit weights (each row sums to 255/255): a 7B model (32 layers x 32 heads) traced over 256\n"
          "tokens keeps 156 positions by default, a page of about 19 MB.\n"
          "A progress bar is shown on stderr when stderr is a terminal.\n",
  };
}

// "\r[####....] 12/40" on stderr when it is a terminal, at most 10 times a second.
class ProgressBar {
 public:
  ProgressBar() : enabled_(isatty(fileno(stderr)) == 1), last_(Clock::now() - std::chrono::seconds(1)) {}
  void update(std::uint64_t done, std::uint64_t total) {
    if (!enabled_ || total == 0) return;
    const auto now = Clock::now();
    if (done != total && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const int width = 30, filled = int(double(width) * double(done) / double(total));
    std::fprintf(stderr, "\rtracing [%s%s] %3.0f%% ", std::string(std::size_t(filled), '#').c_str(),
                 std::string(std::size_t(width - filled), '.').c_str(), 100.0 * double(done) / double(total));
    if (done >= total) std::fputc('\n', stderr);
  }

 private:
  using Clock = std::chrono::steady_clock;
  bool enabled_;
  Clock::time_point last_;
};

void write_output(const std::string& path, const std::string& bytes) {
  if (path.empty() || path == "-") {
    if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size() || std::fflush(stdout) != 0) {
      throw llama2::Error("stdout: write error");
    }
    return;
  }
  std::ofstream out(path, std::ios::binary);
  if (!out) throw llama2::Error(path + ": cannot create the output file");
  out.write(bytes.data(), std::streamsize(bytes.size()));
  out.close();
  if (!out) throw llama2::Error(path + ": write error");
}

int trace_main(int argc, char** argv) {
  Options opt;
  if (!cli::parse(command_line(opt), argc, argv)) return 0;  // --help
  if (opt.has_text == !opt.file.empty()) throw cli::UsageError{"give the text with -i TEXT or -f FILE (one of them)"};
  if (opt.output.empty() && !opt.json) throw cli::UsageError{"missing the output: give -o trace.html"};
  const std::string text = opt.has_text ? opt.text : cli::read_file(opt.file, "text file");
  if (text.empty()) throw llama2::Error((opt.has_text ? std::string("-i") : opt.file) + ": the text is empty; there is nothing to trace");

  llama2::Model model = llama2::Model::load(opt.model_path);
  const llama2::Tokenizer tokenizer = llama2::Tokenizer::load(cli::tokenizer_path(model, opt.tokenizer_path));
  llama2::Transformer transformer(std::move(model), opt.threads);
  ProgressBar progress;
  const llama2::Trace trace =
      llama2::run_trace(transformer, tokenizer, text, opt.trace, std::filesystem::path(opt.model_path).filename().string(),
                        [&](std::uint64_t done, std::uint64_t total) { progress.update(done, total); });
  write_output(opt.output, opt.json ? llama2::trace_json(trace) + "\n" : llama2::trace_html(trace));
  if (!opt.output.empty() && opt.output != "-") {
    std::fprintf(stderr, "trace: wrote %s (%d positions, %.2f bits per token)\n", opt.output.c_str(), trace.n_positions(),
                 trace.text_score.bits_per_token());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return llama2::cli::run_main("trace", [&] { return trace_main(argc, argv); });
}

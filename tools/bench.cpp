// bench: tokens per second of prompt processing and generation, measured
// the way llama.cpp's llama-bench measures them so the figures compare.
//
//   build/bench MODEL [-p 512] [-n 128] [-d 0] [-t THREADS[,THREADS...]] [-r REPS] [--json]
//
// pp N: one prompt of N tokens run from an empty context (as one batch
//       through forward_batch; --sequential runs it token by token).
// tg N: N tokens generated one at a time from an empty context, each fed
//       the previous step's argmax.
// -d D: both tests start at position D instead of 0, after D prompt tokens
//       (untimed) fill the KV cache: how speed holds up deep in a long
//       context, where attention reads D keys and values per layer and head.
//       Reported as "pp512 @ d4000", as llama-bench's --n-depth does.
// Each test runs once to warm up (page in the weights), then REPS times; the
// report gives the median, min and max tokens/s over the repetitions, the
// peak resident memory (getrusage) and the model file size. -t 1,2,4 runs
// every test at each thread count in turn (a fresh Transformer each), and
// the load time (mapping the file, allocating the KV cache) is reported.
// Exit status: 0 ok, 1 bad model file, 2 bad usage.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "cli.hpp"
#include "llama2/transformer.hpp"
#include "options.hpp"

namespace {

namespace cli = llama2::cli;

struct Options {
  std::string model_path;
  int n_prompt = 512;
  int n_gen = 128;
  int depth = 0;
  llama2::KvType kv_type = llama2::KvType::F32;
  std::vector<int> threads;  // thread counts to sweep; empty: one per core
  int reps = 5;
  bool sequential = false;
  bool json = false;
};

cli::Program command_line(Options& opt) {
  using llama2::KvType;
  return {
      .name = "bench",
      .synopsis = "MODEL [-p N] [-n N] [-d N] [--kv-type T] [-t THREADS[,...]] [-r REPS] [--sequential] [--json]",
      .positionals = {{"MODEL", "any supported checkpoint (llama2.c .bin, GGUF or Hugging Face folder)", cli::text(opt.model_path)}},
      .options =
          {
              {"-p", "", "N", "prompt-processing test of N tokens (default 512; 0 skips)",
               cli::integer(opt.n_prompt, 0, "a token count >= 0")},
              {"-n", "", "N", "generation test of N tokens (default 128; 0 skips)",
               cli::integer(opt.n_gen, 0, "a token count >= 0")},
              {"-d", "", "N", "run both tests after N tokens already in the context (default 0)",
               cli::integer(opt.depth, 0, "a token count >= 0")},
              {"", "--kv-type", "T", "KV cache element type: f32 (default) or f16",
               cli::choice(opt.kv_type, {{"f32", KvType::F32}, {"f16", KvType::F16}})},
              {"-t", "", "THREADS", "threads (default: one per core); a list (1,2,4) runs every test\nat each count in turn",
               cli::integer_list(opt.threads, 1, "a thread count >= 1 (or a list: 1,2,4)")},
              {"-r", "", "REPS", "repetitions per test (default 5)",
               cli::integer(opt.reps, 1, "a repetition count >= 1")},
              {"", "--sequential", "", "process the prompt token by token instead of as a batch",
               cli::flag(opt.sequential)},
              {"", "--json", "", "print one JSON object instead of a table", cli::flag(opt.json)},
          },
  };
}

struct TestResult {
  std::string name;        // "pp512", "tg128"
  int n_tokens = 0;
  int threads = 0;
  std::vector<double> tps;  // (reps) tokens per second of each repetition
  double median() const {
    std::vector<double> s = tps;
    std::sort(s.begin(), s.end());
    const std::size_t m = s.size() / 2;
    return s.size() % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
  }
  double min() const { return *std::min_element(tps.begin(), tps.end()); }
  double max() const { return *std::max_element(tps.begin(), tps.end()); }
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One prompt of `tokens` from position `depth`; returns the seconds it took.
double run_prompt(llama2::Transformer& transformer, const std::vector<int>& tokens, int depth, bool sequential) {
  auto start = std::chrono::steady_clock::now();
  if (sequential) {
    for (std::size_t i = 0; i < tokens.size(); i++) transformer.forward(tokens[i], depth + int(i));
  } else {
    transformer.forward_batch(tokens, depth);
  }
  return seconds_since(start);
}

// n tokens generated one by one from position `depth`; returns the seconds.
double run_generation(llama2::Transformer& transformer, int n, int depth) {
  auto start = std::chrono::steady_clock::now();
  int token = 1;  // BOS
  for (int pos = depth; pos < depth + n; pos++) {
    std::span<const float> logits = transformer.forward(token, pos);
    token = int(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  return seconds_since(start);
}

double peak_rss_bytes() {
  struct rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) * 1024.0;  // Linux reports KiB
}

// What the report says of the model, read from the first Transformer.
struct ModelFacts {
  std::string format, weight_type;
  double file_bytes = 0;
  double load_seconds = 0;  // the fastest load of the thread counts
};

// The tests at one thread count, appended to `results`.
void run_tests(const Options& opt, int threads, std::vector<TestResult>& results, ModelFacts& facts) {
  const auto load_start = std::chrono::steady_clock::now();
  llama2::Transformer transformer(opt.model_path, threads, 0, opt.kv_type);
  const double load_seconds = seconds_since(load_start);
  const llama2::Model& model = transformer.model();
  if (facts.format.empty()) {  // the first thread count
    facts = {std::string(llama2::model_format_name(model.format())),
             std::string(llama2::weight_type_name(model.weights().layers.at(0).wq.type)), double(model.file_size()),
             load_seconds};
  }
  facts.load_seconds = std::min(facts.load_seconds, load_seconds);
  const llama2::Config& c = transformer.config();
  for (auto [n, flag] : {std::pair{opt.n_prompt, "-p"}, std::pair{opt.n_gen, "-n"}}) {
    if (std::int64_t(opt.depth) + n > c.seq_len) {
      throw cli::UsageError{std::string(flag) + " " + std::to_string(n) +
                       (opt.depth ? " after -d " + std::to_string(opt.depth) : std::string()) +
                       " does not fit the model's context of " + std::to_string(c.seq_len) + " tokens"};
    }
  }

  // The prompt and the context before it: random ids (fixed seed) as
  // llama-bench uses.
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> token_dist(3, c.vocab_size - 1);
  std::vector<int> prompt(std::size_t(opt.n_prompt));  // (n_prompt) token ids
  for (int& t : prompt) t = token_dist(rng);
  std::vector<int> context(std::size_t(opt.depth));  // (depth) token ids already in the cache
  for (int& t : context) t = token_dist(rng);
  // Fills the cache up to position depth; the tests then overwrite only
  // positions from depth on, so once is enough.
  if (opt.depth > 0) transformer.forward_batch(context, 0);
  const std::string at_depth = opt.depth ? " @ d" + std::to_string(opt.depth) : "";
  const int n_threads = transformer.n_threads();

  if (opt.n_prompt > 0) {
    TestResult r{"pp" + std::to_string(opt.n_prompt) + at_depth, opt.n_prompt, n_threads, {}};
    run_prompt(transformer, prompt, opt.depth, opt.sequential);  // warm-up
    for (int i = 0; i < opt.reps; i++) {
      r.tps.push_back(opt.n_prompt / run_prompt(transformer, prompt, opt.depth, opt.sequential));
    }
    results.push_back(r);
  }
  if (opt.n_gen > 0) {
    TestResult r{"tg" + std::to_string(opt.n_gen) + at_depth, opt.n_gen, n_threads, {}};
    run_generation(transformer, std::min(opt.n_gen, 16), opt.depth);  // warm-up
    for (int i = 0; i < opt.reps; i++) r.tps.push_back(opt.n_gen / run_generation(transformer, opt.n_gen, opt.depth));
    results.push_back(r);
  }
}

int bench_main(int argc, char** argv) {
  Options opt;
  if (!cli::parse(command_line(opt), argc, argv)) return 0;  // --help
  if (opt.n_prompt == 0 && opt.n_gen == 0) throw cli::UsageError{"nothing to measure: both -p and -n are 0"};
  if (opt.threads.empty()) opt.threads.push_back(0);  // one per core

  std::vector<TestResult> results;
  ModelFacts facts;
  for (int threads : opt.threads) run_tests(opt, threads, results, facts);

  const std::string& format = facts.format;
  const std::string& type = facts.weight_type;
  const std::string isa(llama2::kernel_isa_name());
  const std::string prompt_mode = opt.sequential ? "sequential" : "batched";
  const std::string kv(llama2::kv_type_name(opt.kv_type));
  const double rss = peak_rss_bytes(), size = facts.file_bytes, load = facts.load_seconds;
  if (opt.json) {
    std::printf("{\"model\": \"%s\", \"format\": \"%s\", \"weight_type\": \"%s\", \"model_bytes\": %.0f, "
                "\"kernels\": \"%s\", \"prompt\": \"%s\", \"kv_type\": \"%s\", \"depth\": %d, "
                "\"reps\": %d, \"load_seconds\": %.4f, "
                "\"peak_rss_bytes\": %.0f, "
                "\"tests\": [",
                cli::json_escape(opt.model_path).c_str(), cli::json_escape(format).c_str(),
                cli::json_escape(type).c_str(), size, isa.c_str(), prompt_mode.c_str(), kv.c_str(), opt.depth, opt.reps,
                load, rss);
    for (std::size_t i = 0; i < results.size(); i++) {
      const TestResult& r = results[i];
      std::printf("%s{\"test\": \"%s\", \"n_tokens\": %d, \"threads\": %d, \"tps_median\": %.3f, "
                  "\"tps_min\": %.3f, \"tps_max\": %.3f, \"tps\": [",
                  i ? ", " : "", r.name.c_str(), r.n_tokens, r.threads, r.median(), r.min(), r.max());
      for (std::size_t k = 0; k < r.tps.size(); k++) std::printf("%s%.3f", k ? ", " : "", r.tps[k]);
      std::printf("]}");
    }
    std::printf("]}\n");
  } else {
    std::printf("model    %s (%s, %s, %.1f MiB), loaded in %.3f s\n", opt.model_path.c_str(), format.c_str(),
                type.c_str(), size / 1048576.0, load);
    std::printf("kernels  %s, prompt %s, KV cache %s, %d repetitions\n", isa.c_str(), prompt_mode.c_str(), kv.c_str(),
                opt.reps);
    std::printf("%-14s %7s %12s %12s %12s\n", "test", "threads", "t/s median", "min", "max");
    for (const TestResult& r : results) {
      std::printf("%-14s %7d %12.2f %12.2f %12.2f\n", r.name.c_str(), r.threads, r.median(), r.min(), r.max());
    }
    std::printf("peak RSS %.1f MiB (model file %.1f MiB)\n", rss / 1048576.0, size / 1048576.0);
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  return llama2::cli::run_main("bench", [&] { return bench_main(argc, argv); });
}

// The `run` program (tools/run.cpp), spawned as a user would run it: its
// stdout byte for byte against llama2.c's (golden file), what goes to stderr,
// exit codes and the one-line messages for bad input, --probs, and chat over
// stdin. Synthetic "bigram" models (support/bigram_model.hpp) make the
// expected text exact.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "llama2/tokenizer.hpp"
#include "support/bigram_model.hpp"
#include "support/golden_text.hpp"
#include "support/process.hpp"
#include "support/shared_files.hpp"
#include "support/synthetic_model.hpp"

namespace llama2::test {
namespace {

// Ids in write_tokenizer_bin's vocabulary of 300 (see generate_test.cpp).
constexpr int kVocab = 300;
constexpr int kBos = 1, kEos = 2;
constexpr int kA = 259, kB = 260, kC = 261, kD = 262, kE = 263;  // "▁a" "b" "c" "▁d" "e"
constexpr int byte_id(int b) { return 3 + b; }

std::string g_bigrams;  // bigram models, with a tokenizer.bin of 300 pieces beside them
std::string g_random;   // random.bin (small_config, vocab 67) with its tokenizer.bin
std::string g_bare;     // a model with no tokenizer.bin beside it

std::string bigram(const std::string& name, std::vector<std::pair<int, int>> edges, int seq_len = 64) {
  std::vector<int> next_of(kVocab, kA);
  for (auto [from, to] : edges) next_of[std::size_t(from)] = to;
  std::string path = g_bigrams + "/" + name + ".bin";
  write_bigram_model(path, next_of, seq_len);
  return path;
}

class RunCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    g_bigrams = make_temp_dir("run_bigrams");
    write_tokenizer_bin(g_bigrams + "/tokenizer.bin", kVocab);
    bigram("to_eos", {{kBos, kA}, {kA, kB}, {kB, kC}, {kC, kEos}});
    bigram("cycle16", {{kBos, kA}, {kA, kB}, {kB, kC}, {kC, kA}}, 16);
    bigram("bytes", {{kBos, byte_id(0xC3)},
                     {byte_id(0xC3), byte_id(0xA9)},
                     {byte_id(0xA9), byte_id(0x07)},
                     {byte_id(0x07), byte_id(0x0A)},
                     {byte_id(0x0A), kB},
                     {kB, kEos}});
    // Chat: every turn ends with "]" (byte 0x5D); the answer is "▁d" "e" EOS.
    bigram("answers_de", {{byte_id(0x5D), kD}, {kD, kE}, {kE, kEos}}, 128);
    g_random = make_temp_dir("run_random");
    write_llama2c_v0(g_random + "/random.bin", make_weights(small_config(), 5));
    write_tokenizer_bin(g_random + "/tokenizer.bin", small_config().vocab_size);
    g_bare = make_temp_dir("run_bare");
    write_llama2c_v0(g_bare + "/model.bin", make_weights(small_config(), 5));
  }
};

ProcessResult run(std::vector<std::string> args, const std::string& stdin_text = "") {
  args.insert(args.begin(), (build_dir() / "run").string());
  return run_process(args, stdin_text);
}

std::string describe(const ProcessResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout:\n" + r.out + "\n--- stderr:\n" + r.err;
}

// A failure: nothing on stdout, exactly `line` (plus '\n') on stderr.
void expect_failure(const ProcessResult& r, int exit_code, const std::string& line) {
  EXPECT_EQ(r.exit_code, exit_code) << describe(r);
  EXPECT_EQ(r.out, "") << describe(r);
  EXPECT_EQ(r.err, line + "\n") << describe(r);
}

std::vector<std::string> lines_starting_with(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) out.push_back(line);
  }
  return out;
}

// --- llama2.c's output -----------------------------------------------------------------

// Each case of the golden file: 'PROMPT: <text>', then llama2.c's stdout, then
// the file's own newline and '@@@'.
TEST_F(RunCli, MatchesLlama2cOnAiDreams) {
  LLAMA2_SHARED_MODEL(model, "aidreams260K.bin");
  LLAMA2_SHARED_MODEL(tok, "aidreams_tok512.bin");
  LLAMA2_SHARED_GOLDEN(golden, "aidreams260K_greedy.txt");
  int cases = 0;
  for (const GoldenText& c : read_golden_text(golden)) {
    const std::string& prompt = c.prompt;
    const std::string& want = c.out;
    SCOPED_TRACE("prompt '" + prompt + "'");
    const std::string threads = cases == 0 ? "2" : "1";
    ProcessResult r =
        run({model, "-z", tok, "-t", "0", "-n", "128", "-i", prompt, "--threads", threads});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.out, want);
    EXPECT_EQ(lines_starting_with(r.err, "achieved tok/s: ").size(), 1u) << r.err;
    EXPECT_EQ(r.out.find("tok/s"), std::string::npos);
    // The prompt's tokens (BOS included) and the sampled ones, each with its speed.
    const auto speeds = lines_starting_with(r.err, "prompt: ");
    ASSERT_EQ(speeds.size(), 1u) << r.err;
    int n_prompt = -1, n_generated = -1;
    double prompt_rate = -1, generation_rate = -1;
    ASSERT_EQ(std::sscanf(speeds[0].c_str(), "prompt: %d tokens, %lf tok/s; generation: %d tokens, %lf tok/s",
                          &n_prompt, &prompt_rate, &n_generated, &generation_rate),
              4)
        << speeds[0];
    EXPECT_EQ(n_prompt, prompt.empty() ? 1 : int(Tokenizer::load(tok).encode(prompt, true, false).size()));
    EXPECT_EQ(n_prompt + n_generated, 128 + 1) << "-n 128 positions; the last sample is never run";
    EXPECT_GT(prompt_rate, 0.0);
    EXPECT_GT(generation_rate, 0.0);
    // -n 128 is this model's whole context.
    EXPECT_NE(r.err.find("run: stopped at the end of the context (128 positions)"), std::string::npos) << r.err;
    // An fp16 KV cache moves these logits by ~1e-3: the greedy text holds.
    r = run({model, "-z", tok, "-t", "0", "-n", "128", "-i", prompt, "--kv-type", "f16"});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.out, want) << "--kv-type f16";
    cases++;
  }
  EXPECT_EQ(cases, 3);
}

TEST_F(RunCli, StreamsTextAndStopsAtEos) {
  // The tokenizer is found beside the model.
  ProcessResult r = run({g_bigrams + "/to_eos.bin", "-t", "0"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "abc\n");
  EXPECT_EQ(r.err.find("context"), std::string::npos) << r.err;
  // A prompt comes out first.
  r = run({g_bigrams + "/cycle16.bin", "-i", "abc", "-n", "6"});
  EXPECT_EQ(r.out, "abc abc\n") << describe(r);
  EXPECT_EQ(r.err.find("context"), std::string::npos) << r.err;
}

TEST_F(RunCli, NotesTheEndOfTheContext) {
  ProcessResult r = run({g_bigrams + "/cycle16.bin", "-n", "0"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "abc abc abc abc abc a\n");
  EXPECT_EQ(lines_starting_with(r.err, "run: stopped at the end of the context (16 positions)").size(), 1u) << r.err;
  // The default -n (256) is cut to a smaller context, as in llama2.c.
  ProcessResult d = run({g_bigrams + "/cycle16.bin"});
  EXPECT_EQ(d.exit_code, 0) << describe(d);
  EXPECT_EQ(d.out, r.out);
  // -c caps the context.
  ProcessResult c = run({g_bigrams + "/cycle16.bin", "-c", "5", "-n", "0"});
  EXPECT_EQ(c.out, "abc ab\n") << describe(c);
  EXPECT_NE(c.err.find("end of the context (5 positions)"), std::string::npos) << c.err;
}

TEST_F(RunCli, SameSeedSameTextAcrossRunsAndThreads) {
  const std::string model = g_random + "/random.bin";
  ProcessResult a = run({model, "-s", "42", "-t", "1", "-n", "0", "--threads", "1"});
  ProcessResult b = run({model, "-s", "42", "-t", "1", "-n", "0", "--threads", "1"});
  ProcessResult c = run({model, "-s", "42", "-t", "1", "-n", "0", "--threads", "2"});
  ProcessResult d = run({model, "-s", "43", "-t", "1", "-n", "0", "--threads", "1"});
  ASSERT_EQ(a.exit_code, 0) << describe(a);
  EXPECT_GT(a.out.size(), 10u);
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(a.out, c.out);
  EXPECT_NE(a.out, d.out);
}

// --- --probs ---------------------------------------------------------------------------------

TEST_F(RunCli, ProbsPrintsTheTopTokensBeforeEachSample) {
  ProcessResult r = run({g_bigrams + "/to_eos.bin", "-t", "0", "--probs", "3"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "abc\n");  // stdout is unchanged
  auto lines = lines_starting_with(r.err, "[probs] ");
  ASSERT_EQ(lines.size(), 4u) << r.err;  // a, b, c, and the EOS that stops
  const std::vector<std::string> tops = {"'a'", "'b'", "'c'", "</s>"};
  for (std::size_t i = 0; i < lines.size(); i++) {
    EXPECT_EQ(lines[i].rfind("[probs] " + tops[i] + " 1.000 | ", 0), 0u) << lines[i];
    EXPECT_EQ(std::count(lines[i].begin(), lines[i].end(), '|'), 2) << lines[i];
  }
}

TEST_F(RunCli, ProbsQuotesInvisiblePieces) {
  ProcessResult r = run({g_bigrams + "/bytes.bin", "-t", "0", "--probs", "1"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "\xC3\xA9\nb\n");  // the bell (0x07) is not printed, as in llama2.c
  auto lines = lines_starting_with(r.err, "[probs] ");
  EXPECT_EQ(lines, (std::vector<std::string>{"[probs] '\\xC3' 1.000", "[probs] '\\xA9' 1.000", "[probs] '\\x07' 1.000",
                                             "[probs] '\\n' 1.000", "[probs] 'b' 1.000", "[probs] </s> 1.000"}))
      << r.err;
}

// --- chat ------------------------------------------------------------------------------

TEST_F(RunCli, ChatsOverStdinUntilEof) {
  const std::string model = g_bigrams + "/answers_de.bin";
  ProcessResult r = run({model, "-m", "chat", "-y", "be brief"}, "hello\n\nsecond turn\n");
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  // A blank line is asked again; EOF ends the chat.
  EXPECT_EQ(r.out, "User: Assistant: de\nUser: User: Assistant: de\nUser: \n");
  EXPECT_EQ(lines_starting_with(r.err, "achieved tok/s: ").size(), 1u) << r.err;

  // -i is the first turn; no more input ends the chat after it.
  ProcessResult i = run({model, "-m", "chat", "-i", "hi"});
  EXPECT_EQ(i.exit_code, 0) << describe(i);
  EXPECT_EQ(i.out, "Assistant: de\nUser: \n");

  // Input without a final newline still counts.
  ProcessResult n = run({model, "--mode", "chat"}, "hi");
  EXPECT_EQ(n.out, "User: Assistant: de\nUser: \n") << describe(n);
}

TEST_F(RunCli, ChatEndsWhenTheConversationOutgrowsTheContext) {
  const std::string model = g_bigrams + "/answers_de.bin";
  // "[INST] hi [/INST]" is BOS + 17 byte tokens + ..., well over 20 positions for two turns.
  ProcessResult r = run({model, "-m", "chat", "-c", "30"}, "hi\nhi\n");
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "User: Assistant: de\nUser: Assistant: \n");
  EXPECT_EQ(lines_starting_with(r.err, "run: chat ended: the conversation outgrew the context (30 positions)").size(),
            1u)
      << r.err;
  // A first turn that cannot fit at all is an error.
  ProcessResult f = run({model, "-m", "chat", "-c", "10"}, "hi\n");
  EXPECT_EQ(f.exit_code, 1) << describe(f);
  EXPECT_NE(f.err.find("run: error: the first chat turn is "), std::string::npos) << f.err;
}

// --- bad input -----------------------------------------------------------------------------

TEST_F(RunCli, HelpGoesToStdout) {
  for (const char* flag : {"-h", "--help"}) {
    ProcessResult r = run({flag});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.out.rfind("usage: run MODEL [options]\n", 0), 0u) << r.out;
    for (const char* f : {"--temperature", "--top-p", "--top-k", "--min-p", "--repeat-penalty", "--repeat-last-n",
                          "--seed", "--steps", "--prompt", "--tokenizer", "--mode", "--system", "--context",
                          "--threads", "--probs", "--kv-type"}) {
      EXPECT_NE(r.out.find(f), std::string::npos) << f;
    }
    EXPECT_EQ(r.err, "");
  }
}

TEST_F(RunCli, BadUsageIsOneLineAndExitTwo) {
  const std::string m = g_bigrams + "/to_eos.bin";
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{}, "missing the MODEL file"},
      {{m, "--bogus"}, "unknown option --bogus"},
      {{m, "-x", "1"}, "unknown option -x"},
      {{m, m}, "unexpected argument " + m + " (the model is already " + m + ")"},
      {{m, "-t"}, "-t needs a value"},
      {{m, "-i"}, "-i needs a value"},
      {{m, "-n", "12x"}, "-n: expected an integer, got '12x'"},
      {{m, "-t", "hot"}, "-t: expected a number, got 'hot'"},
      {{m, "--seed", "1.5"}, "--seed: expected an integer, got '1.5'"},
      {{m, "-t", "-1"}, "-t: expected a temperature >= 0, got '-1'"},
      {{m, "-p", "0"}, "-p: expected a number in (0, 1], got '0'"},
      {{m, "--top-p", "1.5"}, "--top-p: expected a number in (0, 1], got '1.5'"},
      {{m, "-n", "-1"}, "-n: expected a number of steps >= 0 (0: the whole context), got '-1'"},
      {{m, "--threads", "0"}, "--threads: expected a number of threads >= 1, got '0'"},
      {{m, "-k", "-2"}, "-k: expected an integer >= 0 (0: off), got '-2'"},
      {{m, "--min-p", "1"}, "--min-p: expected a number in [0, 1), got '1'"},
      {{m, "--repeat-penalty", "0"}, "--repeat-penalty: expected a number > 0, got '0'"},
      {{m, "--probs", "-1"}, "--probs: expected a number of tokens >= 0, got '-1'"},
      {{m, "-s", "-5"}, "-s: expected an integer >= 0, got '-5'"},
      {{m, "-c", "-5"}, "-c: expected a context length >= 0 (0: the model's), got '-5'"},
      {{m, "-m", "story"}, "-m: expected generate or chat, got 'story'"},
      {{m, "--kv-type", "f8"}, "--kv-type: expected f32 or f16, got 'f8'"},
      {{m, "-y", "be nice"}, "-y/--system is only for -m chat"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    expect_failure(run(c.args), 2, "run: " + c.message + " (see 'run --help')");
  }
}

TEST_F(RunCli, BadFilesAndPromptsAreOneLineAndExitOne) {
  const std::string m = g_bigrams + "/to_eos.bin";
  // Missing files: the library's message names the file.
  ProcessResult r = run({g_bigrams + "/nothere.bin"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(r.err.rfind("run: error: " + g_bigrams + "/nothere.bin", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

  r = run({m, "-z", g_bigrams + "/notok.bin"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(r.err.rfind("run: error: " + g_bigrams + "/notok.bin", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

  // No -z and no tokenizer.bin beside the model.
  r = run({g_bare + "/model.bin"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(r.err.rfind("run: error: " + g_bare + "/tokenizer.bin", 0), 0u) << r.err;

  expect_failure(run({m, "-z", g_random + "/tokenizer.bin"}), 1,
                 "run: error: the tokenizer " + g_random + "/tokenizer.bin has 67 pieces but the model " + m +
                     " has vocab_size 300; pass the model's own tokenizer with -z");
  expect_failure(run({m, "-n", "65"}), 1,
                 "run: error: -n 65 is larger than the model's context 64; use -n 0 for the whole context");
  expect_failure(run({m, "-c", "10", "-n", "11"}), 1,
                 "run: error: -n 11 is larger than the context 10 set by -c; use -n 0 for the whole context");
  expect_failure(run({m, "-c", "65"}), 1, "run: error: -c 65 is larger than the model's context 64 (" + m + ")");
  // BOS + 22 x (▁a b c) = 67 tokens > 64.
  std::string long_prompt = "abc";
  for (int i = 0; i < 21; i++) long_prompt += " abc";
  expect_failure(run({m, "-i", long_prompt}), 1,
                 "run: error: the prompt is 67 tokens (BOS included), longer than the context of 64 positions");
  expect_failure(run({m, "-i", "abc abc", "-n", "5"}), 1,
                 "run: error: the prompt is 7 tokens (BOS included), more than steps = 5 positions");
}

// --- the process helper the CLI tests rely on ----------------------------------------------

TEST(RunProcess, PassesStdinAndCollectsBothStreamsWithoutDeadlock) {
  // 1 MiB through `cat`: more than a pipe holds, so writing and reading must overlap.
  std::string big(1 << 20, 'x');
  for (std::size_t i = 0; i < big.size(); i += 997) big[i] = char('a' + i % 26);
  ProcessResult r = run_process({"cat"}, big);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.out == big) << "stdout differs from stdin (" << r.out.size() << " bytes)";
  ProcessResult e = run_process({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(e.exit_code, 3);
  EXPECT_EQ(e.out, "out\n");
  EXPECT_EQ(e.err, "err\n");
  // Arguments are passed as they are, no shell in between.
  ProcessResult a = run_process({"printf", "%s|", "a b", "$HOME", "*"});
  EXPECT_EQ(a.out, "a b|$HOME|*|");
}

TEST(RunProcess, SurvivesAChildThatIgnoresItsStdin) {
  ProcessResult r = run_process({"true"}, std::string(1 << 20, 'x'));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.term_signal, 0);
}

TEST(RunProcess, ReportsSignalsTimeoutsAndMissingPrograms) {
  ProcessResult k = run_process({"sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(k.exit_code, -1);
  EXPECT_EQ(k.term_signal, SIGTERM);
  ProcessResult t = run_process({"sleep", "10"}, "", 0.2);
  EXPECT_TRUE(t.timed_out);
  EXPECT_EQ(t.term_signal, SIGKILL);
  EXPECT_THROW(run_process({"/nonexistent/program"}), std::runtime_error);
}

}  // namespace
}  // namespace llama2::test

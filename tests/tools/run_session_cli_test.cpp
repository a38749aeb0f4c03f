// `run`'s session flags (tools/run.cpp): --save-session / --load-session
// continue a generation or a chat exactly, --stop ends the text before a
// string, --logit-bias bans or forces tokens; and their error messages.
#include <gtest/gtest.h>

#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "llama2/generate.hpp"
#include "support/process.hpp"
#include "support/shared_files.hpp"
#include "support/temp_dir.hpp"

namespace llama2::test {
namespace {

ProcessResult run(std::vector<std::string> args, const std::string& stdin_text = "") {
  args.insert(args.begin(), (build_dir() / "run").string());
  return run_process(args, stdin_text);
}

std::string describe(const ProcessResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout:\n" + r.out + "\n--- stderr:\n" + r.err;
}

#define NEED_AIDREAMS()                                  \
  LLAMA2_SHARED_MODEL(model, "aidreams260K.bin");        \
  LLAMA2_SHARED_MODEL(tok, "aidreams_tok512.bin");       \
  const std::vector<std::string> base = {model, "-z", tok}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(RunSessionCli, SavedThenLoadedOutputsConcatenateToOneUninterruptedRun) {
  NEED_AIDREAMS();
  TempDir dir("run_session");
  for (const std::vector<std::string> extra : {std::vector<std::string>{"--threads", "1"},
                                               std::vector<std::string>{"--threads", "2", "--kv-type", "f16"}}) {
    const auto common = with(with(base, extra), {"-t", "1", "-s", "5"});
    const ProcessResult whole = run(with(common, {"-n", "100", "-i", "I dream"}));
    ASSERT_EQ(whole.exit_code, 0) << describe(whole);
    const ProcessResult a = run(with(common, {"-n", "40", "-i", "I dream", "--save-session", dir.file("s.bin")}));
    ASSERT_EQ(a.exit_code, 0) << describe(a);
    // Another seed: the saved RNG state is what counts.
    auto resumed = with(with(base, extra), {"-t", "1", "-s", "999", "-n", "100", "--load-session", dir.file("s.bin")});
    const ProcessResult b = run(resumed);
    ASSERT_EQ(b.exit_code, 0) << describe(b);
    EXPECT_GT(a.out.size(), 20u);
    EXPECT_GT(b.out.size(), 20u);
    EXPECT_EQ(a.out + b.out, whole.out);
  }
}

TEST(RunSessionCli, AChatContinuesFromASavedSession) {
  NEED_AIDREAMS();
  TempDir dir("run_session_chat");
  const auto chat = with(base, {"-m", "chat", "-t", "1", "-s", "3"});
  const ProcessResult whole = run(chat, "Hello\nTell me more\n");
  ASSERT_EQ(whole.exit_code, 0) << describe(whole);
  const ProcessResult a = run(with(chat, {"--save-session", dir.file("c.bin")}), "Hello\n");
  ASSERT_EQ(a.exit_code, 0) << describe(a);
  const ProcessResult b = run(with(chat, {"--load-session", dir.file("c.bin")}), "Tell me more\n");
  ASSERT_EQ(b.exit_code, 0) << describe(b);
  // The uninterrupted chat: "User: Assistant: <1>\nUser: Assistant: <2>\nUser: \n".
  const std::size_t second = whole.out.find("Assistant: ", whole.out.find("Assistant: ") + 1);
  ASSERT_NE(second, std::string::npos) << whole.out;
  EXPECT_EQ(a.out, whole.out.substr(0, whole.out.find("User: ", 6) + 6));
  EXPECT_EQ(b.out, "User: " + whole.out.substr(second));
}

TEST(RunSessionCli, StopEndsTheTextBeforeTheString) {
  NEED_AIDREAMS();
  const ProcessResult full = run(with(base, {"-t", "0", "-n", "100", "-i", "I dream"}));
  ASSERT_EQ(full.exit_code, 0) << describe(full);
  const std::string generated = full.out.substr(7);  // after "I dream"
  ASSERT_GT(generated.size(), 40u);
  const std::string stop = generated.substr(25, 4);
  const ProcessResult r = run(with(base, {"-t", "0", "-n", "100", "-i", "I dream", "--stop", "zzzz", "--stop", stop}));
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "I dream" + generated.substr(0, generated.find(stop)) + "\n");
  // A stop string at the very start of the generated text: only the prompt.
  const ProcessResult at_start =
      run(with(base, {"-t", "0", "-n", "100", "-i", "I dream", "--stop", generated.substr(0, 3)}));
  EXPECT_EQ(at_start.out, "I dream\n") << describe(at_start);
}

TEST(RunSessionCli, LogitBiasForcesAndBans) {
  NEED_AIDREAMS();
  const auto loaded = std::make_shared<const Tokenizer>(Tokenizer::load(tok));
  const int n_prompt = int(loaded->encode("I", true, false).size());
  // +1000 on token 300: greedy picks it every time (later biases for an id replace earlier ones).
  const ProcessResult forced =
      run(with(base, {"-t", "0", "-n", "12", "-i", "I", "--logit-bias", "300-inf", "--logit-bias", "300+1000"}));
  EXPECT_EQ(forced.exit_code, 0) << describe(forced);
  std::string want = "I";
  for (int i = 0; i < 12 - n_prompt + 1; i++) want += loaded->decode(300, 300);
  EXPECT_EQ(forced.out, want + "\n");

  // Ban the token greedy decoding picks first: run's text is what a session
  // with the same ban generates.
  SessionParams p;
  p.sampling.temperature = 0.0f;
  Session plain(std::make_shared<const Model>(Model::load(model)), loaded, p);
  plain.append_text("I dream", true);
  const int first = plain.sample();
  Session banned(plain.transformer().shared_model(), loaded, p);
  banned.sampler().set_logit_bias(first, -std::numeric_limits<float>::infinity());
  std::string text;
  GenerateStats stats = generate(banned, "I dream", 30, [&](std::string_view t) { text += t; });
  const ProcessResult r = run(with(base, {"-t", "0", "-n", "30", "-i", "I dream", "--logit-bias",
                                          std::to_string(first) + "-inf"}));
  EXPECT_EQ(r.out, text + "\n") << describe(r);
  for (std::size_t i = std::size_t(stats.prompt_tokens); i < stats.tokens.size(); i++) EXPECT_NE(stats.tokens[i], first);
  const ProcessResult unbanned = run(with(base, {"-t", "0", "-n", "30", "-i", "I dream"}));
  EXPECT_NE(unbanned.out, r.out);
}

TEST(RunSessionCli, BadFlagsAndFilesSayWhatIsWrong) {
  NEED_AIDREAMS();
  TempDir dir("run_session_bad");
  ProcessResult r = run(with(base, {"--logit-bias", "5x"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--logit-bias: expected ID+BIAS or ID-BIAS (e.g. 13+2.5, 2-inf), got '5x'"), std::string::npos)
      << r.err;
  r = run(with(base, {"--logit-bias", "9999+1"}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("logit bias token id = 9999"), std::string::npos) << r.err;
  std::ofstream(dir.file("junk.bin")) << "not a session";
  r = run(with(base, {"--load-session", dir.file("junk.bin")}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find(dir.file("junk.bin") + ": not a llama2.cpp session file"), std::string::npos) << r.err;
  r = run(with(base, {"-n", "20", "--save-session", dir.file("f32.bin")}));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  r = run(with(base, {"--kv-type", "f16", "--load-session", dir.file("f32.bin")}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("saved with an f32 KV cache; this session's is f16"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace llama2::test

// The generation and chat loops (src/generate.cpp): token layout, stop
// conditions, steps, streaming, determinism, and llama2.c's output on a real
// model. Most tests run a "bigram" checkpoint (support/bigram_model.hpp)
// whose next token is a fixed function of the current one, so what the loop
// must produce is known exactly.
#include "llama2/generate.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "llama2/error.hpp"
#include "support/bigram_model.hpp"
#include "support/golden_text.hpp"
#include "support/shared_files.hpp"
#include "support/synthetic_model.hpp"

namespace llama2::test {
namespace {

using namespace vocab300;  // kVocab, kBos, kEos, kA .. kE, byte_id

std::string g_dir;

class GenerateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    g_dir = make_temp_dir("generate");
    write_tokenizer_bin(g_dir + "/tok300.bin", kVocab);
    write_tokenizer_bin(g_dir + "/tok67.bin", 67);
    write_llama2c_v0(g_dir + "/random.bin", make_weights(small_config(), 11));
  }
  static Tokenizer tokenizer() { return Tokenizer::load(g_dir + "/tok300.bin"); }

  // A bigram model: every token goes to `fallback` unless `edges` says otherwise.
  static std::string bigram(const std::string& name, const std::vector<std::pair<int, int>>& edges, int seq_len = 64,
                            int fallback = kA) {
    const std::string path = g_dir + "/" + name + ".bin";
    write_bigram_edges(path, edges, seq_len, fallback);
    return path;
  }
};

SamplerParams greedy() {
  SamplerParams p;
  p.temperature = 0.0f;
  return p;
}

// Runs generate() and returns the streamed text and the stats.
struct Output {
  std::string text;
  std::vector<std::string> chunks;
  GenerateStats stats;
};
Output run_generate(Transformer& t, const Tokenizer& tok, SamplerParams params, std::string_view prompt, int steps) {
  Output r;
  Sampler sampler(t.config().vocab_size, params);
  r.stats = generate(t, tok, sampler, prompt, steps, [&](std::string_view s) {
    r.text += s;
    r.chunks.emplace_back(s);
  });
  return r;
}

// --- generate: stopping and steps ----------------------------------------------------

TEST_F(GenerateTest, StopsAtEosWithoutPrintingIt) {
  Transformer t(bigram("to_eos", {{kBos, kA}, {kA, kB}, {kB, kC}, {kC, kEos}}), 1);
  Output r = run_generate(t, tokenizer(), greedy(), "", 0);
  EXPECT_EQ(r.text, "abc");  // "▁a" after BOS loses its space
  EXPECT_EQ(r.stats.stop, StopReason::EOS);
  EXPECT_EQ(r.stats.tokens, (std::vector<int>{kBos, kA, kB, kC}));
  EXPECT_EQ(r.stats.positions, 4);
  EXPECT_EQ(r.stats.prompt_tokens, 1);
  EXPECT_EQ(r.stats.generated_tokens, 4);  // a, b, c and the EOS
}

TEST_F(GenerateTest, StopsAtBos) {
  Transformer t(bigram("to_bos", {{kBos, kA}, {kA, kB}, {kB, kBos}}), 1);
  Output r = run_generate(t, tokenizer(), greedy(), "", 0);
  EXPECT_EQ(r.text, "ab");
  EXPECT_EQ(r.stats.stop, StopReason::BOS);
  EXPECT_EQ(r.stats.tokens, (std::vector<int>{kBos, kA, kB}));
}

TEST_F(GenerateTest, StepsCountPositionsIncludingThePrompt) {
  Transformer t(bigram("cycle", {{kBos, kA}, {kA, kB}, {kB, kC}, {kC, kA}}, 16), 1);
  Output r = run_generate(t, tokenizer(), greedy(), "", 7);
  // 7 positions: BOS a b c a b c run; the 7th sample (a) is printed, as llama2.c does.
  EXPECT_EQ(r.text, "abc abc a");
  EXPECT_EQ(r.stats.positions, 7);
  EXPECT_EQ(r.stats.tokens.size(), 8u);
  EXPECT_EQ(r.stats.stop, StopReason::STEPS);

  // The prompt is forced (this model would say "de" after BOS), then the
  // model continues from the prompt's last token.
  Transformer t2(bigram("cycle_or_de", {{kBos, kD}, {kD, kE}, {kE, kEos}, {kA, kB}, {kB, kC}, {kC, kA}}, 16), 1);
  const Tokenizer tok = tokenizer();
  ASSERT_EQ(tok.encode("abc", true, false), (std::vector<int>{kBos, kA, kB, kC}))
      << "the synthetic tokenizer changed; fix the expectations";
  EXPECT_EQ(run_generate(t2, tok, greedy(), "", 0).text, "de");
  Output p = run_generate(t2, tok, greedy(), "abc", 8);
  EXPECT_EQ(p.text, "abc abc ab");  // prompt text first, then c -> a -> b -> c -> a -> b
  EXPECT_EQ(p.stats.prompt_tokens, 4);
  EXPECT_EQ(p.stats.positions, 8);
  EXPECT_EQ(p.stats.generated_tokens, 5);

  // A prompt exactly as long as steps still gets one sampled token.
  Output q = run_generate(t2, tok, greedy(), "abc", 4);
  EXPECT_EQ(q.text, "abc a");
  EXPECT_EQ(q.stats.generated_tokens, 1);
}

TEST_F(GenerateTest, ZeroStepsRunsTheWholeContext) {
  Transformer t(bigram("cycle", {{kBos, kA}, {kA, kB}, {kB, kC}, {kC, kA}}, 16), 1);
  Output r = run_generate(t, tokenizer(), greedy(), "", 0);
  EXPECT_EQ(r.stats.positions, 16);
  EXPECT_EQ(r.stats.stop, StopReason::CONTEXT);
  EXPECT_EQ(r.text, "abc abc abc abc abc a");
  Output full = run_generate(t, tokenizer(), greedy(), "", 16);
  EXPECT_EQ(full.stats.stop, StopReason::CONTEXT);
  EXPECT_EQ(full.text, r.text);

  // A Transformer with a capped context stops there.
  Transformer capped(bigram("cycle", {{kBos, kA}, {kA, kB}, {kB, kC}, {kC, kA}}, 16), 1, 5);
  Output c = run_generate(capped, tokenizer(), greedy(), "", 0);
  EXPECT_EQ(c.stats.positions, 5);
  EXPECT_EQ(c.stats.stop, StopReason::CONTEXT);
}

TEST_F(GenerateTest, RejectsStepsOutsideTheContext) {
  Transformer t(bigram("cycle", {{kBos, kA}, {kA, kB}, {kB, kC}, {kC, kA}}, 16), 1);
  try {
    run_generate(t, tokenizer(), greedy(), "", 17);
    FAIL() << "expected llama2::Error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "steps = 17 is larger than the context of 16 positions");
  }
  try {
    run_generate(t, tokenizer(), greedy(), "", -1);
    FAIL() << "expected llama2::Error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "steps = -1, expected >= 0 (0: the whole context)");
  }
  EXPECT_EQ(resolve_steps(t, 0), 16);
  EXPECT_EQ(resolve_steps(t, 9), 9);
}

TEST_F(GenerateTest, RejectsAPromptThatDoesNotFit) {
  Transformer t(bigram("cycle", {{kBos, kA}, {kA, kB}, {kB, kC}, {kC, kA}}, 16), 1);
  const std::string long_prompt = "abc abc abc abc abc abc", medium_prompt = "abc abc abc";
  ASSERT_EQ(tokenizer().encode(long_prompt, true, false).size(), 19u);  // BOS + 6 x (▁a b c)
  ASSERT_EQ(tokenizer().encode(medium_prompt, true, false).size(), 10u);
  try {
    run_generate(t, tokenizer(), greedy(), long_prompt, 0);
    FAIL() << "expected llama2::Error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "the prompt is 19 tokens (BOS included), longer than the context of 16 positions");
  }
  try {
    run_generate(t, tokenizer(), greedy(), medium_prompt, 8);
    FAIL() << "expected llama2::Error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "the prompt is 10 tokens (BOS included), more than steps = 8 positions");
  }
}

// check_prompt_fits refuses what generate() refuses, with its words, and
// needs no Transformer.
TEST_F(GenerateTest, ChecksAPromptBeforeATransformerExists) {
  const std::string long_prompt = "abc abc abc abc abc abc", medium_prompt = "abc abc abc";  // 19 and 10 tokens
  auto message_of = [&](const std::string& prompt, int context, int steps) -> std::string {
    try {
      check_prompt_fits(tokenizer(), prompt, context, steps);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(message_of(long_prompt, 16, 0),
            "the prompt is 19 tokens (BOS included), longer than the context of 16 positions");
  EXPECT_EQ(message_of(medium_prompt, 16, 8), "the prompt is 10 tokens (BOS included), more than steps = 8 positions");
  EXPECT_EQ(message_of(long_prompt, 19, 0), "");  // exactly the context
  EXPECT_EQ(message_of(medium_prompt, 16, 10), "");
  EXPECT_EQ(message_of("", 1, 1), "");  // BOS alone
  // Steps out of range: resolve_steps' words.
  EXPECT_EQ(message_of("", 1, 2), "steps = 2 is larger than the context of 1 positions");
  EXPECT_EQ(message_of("", 16, -1), "steps = -1, expected >= 0 (0: the whole context)");
  EXPECT_EQ(message_of("", 0, 0), "context = 0, expected > 0");
}

TEST_F(GenerateTest, RejectsATokenizerOfAnotherSize) {
  Transformer t(bigram("cycle", {{kBos, kA}, {kA, kB}, {kB, kC}, {kC, kA}}, 16), 1);
  const Tokenizer small = Tokenizer::load(g_dir + "/tok67.bin");
  try {
    run_generate(t, small, greedy(), "", 0);
    FAIL() << "expected llama2::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the tokenizer has 67 pieces but the model"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("has vocab_size 300"), std::string::npos) << e.what();
  }
}

// --- generate: streaming -----------------------------------------------------------------

TEST_F(GenerateTest, StreamsWholeUtf8CharactersAndDropsControlBytes) {
  // BOS -> 0xC3 0xA9 ("é" as two byte tokens) -> 0x07 (bell) -> '\n' -> "b" -> EOS
  Transformer t(bigram("bytes", {{kBos, byte_id(0xC3)},
                                 {byte_id(0xC3), byte_id(0xA9)},
                                 {byte_id(0xA9), byte_id(0x07)},
                                 {byte_id(0x07), byte_id(0x0A)},
                                 {byte_id(0x0A), kB},
                                 {kB, kEos}}),
                1);
  Output r = run_generate(t, tokenizer(), greedy(), "", 0);
  EXPECT_EQ(r.stats.stop, StopReason::EOS);
  // The lead byte is held until its continuation arrives; the bell is
  // dropped as llama2.c's safe_printf does; '\n' is white space and kept.
  EXPECT_EQ(r.chunks, (std::vector<std::string>{"\xC3\xA9", "\n", "b"}));
}

TEST_F(GenerateTest, ProbsCallbackSeesEachSampledTokenFirst) {
  Transformer t(bigram("to_eos", {{kBos, kA}, {kA, kB}, {kB, kC}, {kC, kEos}}), 1);
  const Tokenizer tok = tokenizer();
  Sampler sampler(kVocab, greedy());
  std::vector<std::pair<int, std::vector<TokenProb>>> calls;
  GenerateStats stats = generate(t, tok, sampler, "", 0, [](std::string_view) {},
                                 [&](int prev, const std::vector<TokenProb>& probs) { calls.emplace_back(prev, probs); }, 3);
  ASSERT_EQ(calls.size(), 4u);  // a, b, c, EOS
  const std::vector<int> seq = {kBos, kA, kB, kC, kEos};
  for (std::size_t i = 0; i < calls.size(); i++) {
    EXPECT_EQ(calls[i].first, seq[i]);
    ASSERT_EQ(calls[i].second.size(), 3u);
    EXPECT_EQ(calls[i].second[0].id, seq[i + 1]);
    EXPECT_GT(calls[i].second[0].prob, 0.99f);
    EXPECT_GE(calls[i].second[1].prob, calls[i].second[2].prob);
  }
  EXPECT_EQ(stats.generated_tokens, 4);
}

// --- generate: real sampling ----------------------------------------------------------------

// llama2.c's loop written out, token by token with forward(), on a
// separate Transformer: the reference for generate()'s batched prompt.
Output reference_greedy(const std::string& model, const Tokenizer& tok, std::string_view prompt, int steps) {
  Transformer ref(model, 1);
  Output r;
  r.stats.tokens = tok.encode(prompt, true, false);
  std::vector<int>& tokens = r.stats.tokens;
  const std::size_t n_prompt = tokens.size();
  r.stats.stop = StopReason::STEPS;
  for (int pos = 0; pos < steps; pos++) {
    auto logits = ref.forward(tokens[std::size_t(pos)], pos);
    int next;
    if (std::size_t(pos) + 1 < n_prompt) {
      next = tokens[std::size_t(pos) + 1];
    } else {
      next = 0;
      for (int i = 1; i < int(logits.size()); i++) {
        if (logits[std::size_t(i)] > logits[std::size_t(next)]) next = i;
      }
      if (next == kEos || next == kBos) {
        r.stats.stop = next == kEos ? StopReason::EOS : StopReason::BOS;
        break;
      }
      tokens.push_back(next);
    }
    r.text += tok.decode(tokens[std::size_t(pos)], next);
  }
  return r;
}

TEST_F(GenerateTest, GreedyMatchesAnIndependentArgmaxLoop) {
  const std::string model = g_dir + "/random.bin";
  const Tokenizer tok = Tokenizer::load(g_dir + "/tok67.bin");
  Transformer t(model, 2);
  Output r = run_generate(t, tok, greedy(), "abc", 30);
  Output want = reference_greedy(model, tok, "abc", 30);
  EXPECT_EQ(r.stats.tokens, want.stats.tokens);
  EXPECT_EQ(r.text, want.text);
  EXPECT_EQ(r.stats.stop, want.stats.stop);
  EXPECT_GT(r.stats.generated_tokens, 5) << "the check is weak if the model stops at once";
}

// A long prompt runs as one batch (forward_batch), its text streamed first;
// what follows equals llama2.c's token-by-token loop.
TEST_F(GenerateTest, LongPromptRunsAsABatchAndMatchesTokenByToken) {
  const std::string model = g_dir + "/random.bin";
  const Tokenizer tok = Tokenizer::load(g_dir + "/tok67.bin");
  std::string prompt;
  for (int i = 0; i < 4; i++) prompt += "abc dab ";
  Transformer t(model, 2);
  Output r = run_generate(t, tok, greedy(), prompt, 39);
  Output want = reference_greedy(model, tok, prompt, 39);
  ASSERT_GT(r.stats.prompt_tokens, 12);
  EXPECT_EQ(r.stats.tokens, want.stats.tokens);
  EXPECT_EQ(r.text, want.text);
  EXPECT_EQ(r.stats.stop, want.stats.stop);
  EXPECT_GT(r.stats.generated_tokens, 5);
  // The prompt's text came out before any generated text: the first chunks spell it.
  std::string streamed;
  for (const std::string& c : r.chunks) {
    if (streamed.size() >= want.text.size() / 2) break;
    streamed += c;
  }
  EXPECT_EQ(want.text.rfind(streamed, 0), 0u);
  EXPECT_GT(r.stats.prompt_seconds, 0.0);
  EXPECT_GE(r.stats.generation_seconds, 0.0);
  // After the prompt batch, the speed figure counts only the positions that followed it.
  EXPECT_EQ(r.stats.positions, 39);
}

TEST_F(GenerateTest, SameSeedSameTextAcrossThreadCounts) {
  const std::string model = g_dir + "/random.bin";
  const Tokenizer tok = Tokenizer::load(g_dir + "/tok67.bin");
  SamplerParams p;
  p.temperature = 1.0f;
  p.seed = 42;
  Transformer one(model, 1), two(model, 2);
  Output a = run_generate(one, tok, p, "ab", 0);
  Output b = run_generate(two, tok, p, "ab", 0);
  EXPECT_EQ(a.text, b.text);
  EXPECT_EQ(a.stats.tokens, b.stats.tokens);
  EXPECT_GT(a.stats.generated_tokens, 5);
  Transformer again(model, 1);
  p.seed = 43;
  Output c = run_generate(again, tok, p, "ab", 0);
  EXPECT_NE(a.stats.tokens, c.stats.tokens) << "another seed should give another sample";
}

// llama2.c run.c's output on a real model (greedy), from the golden file.
TEST_F(GenerateTest, MatchesLlama2cOnAiDreams) {
  LLAMA2_SHARED_MODEL(model, "aidreams260K.bin");
  LLAMA2_SHARED_MODEL(tok_path, "aidreams_tok512.bin");
  LLAMA2_SHARED_GOLDEN(golden, "aidreams260K_greedy.txt");
  const std::vector<GoldenText> cases = read_golden_text(golden);
  const auto once = std::find_if(cases.begin(), cases.end(),
                                 [](const GoldenText& c) { return c.prompt == "Once upon a time"; });
  ASSERT_NE(once, cases.end());
  const std::string& want = once->out;

  Transformer t(model, 1);
  Output r = run_generate(t, Tokenizer::load(tok_path), greedy(), "Once upon a time", 128);
  EXPECT_EQ(r.text + "\n", want);  // run prints the final "\n" itself
  EXPECT_EQ(r.stats.positions, 128);
}

// --- chat -------------------------------------------------------------------------------

TEST(ChatTemplate, FollowsMetasFormat) {
  EXPECT_EQ(chat_turn_text("Hi there", "You are terse."),
            "[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi there [/INST]");
  EXPECT_EQ(chat_turn_text("Hi there"), "[INST] Hi there [/INST]");
  // Meta strips the content between [INST] and [/INST] ...
  EXPECT_EQ(chat_turn_text("  Hi \n"), "[INST] Hi [/INST]");
  // ... which, with a system prompt, starts at <<SYS>>: the user's leading spaces stay.
  EXPECT_EQ(chat_turn_text("  Hi \n", "S"), "[INST] <<SYS>>\nS\n<</SYS>>\n\n  Hi [/INST]");
}

TEST(ChatTemplate, TokensWithTheLlama2Tokenizer) {
  LLAMA2_SHARED_MODEL(tok_path, "tokenizer.bin");
  const Tokenizer tok = Tokenizer::load(tok_path);
  // Known Llama-2 ids: "[INST]" = 518 25580 29962, "<<SYS>>\n" = 3532 14816 29903 6778 13,
  // "\n<</SYS>>\n\n" = 13 29966 829 14816 29903 6778 13 13, " [/INST]" = 518 29914 25580 29962.
  const std::vector<int> want = {1,     518,   25580, 29962, 3532, 14816, 29903, 6778,  13,    3492,
                                 526,   1935,  344,   29889, 13,   29966, 829,   14816, 29903, 6778,
                                 13,    13,    18567, 727,   518,  29914, 25580, 29962};
  EXPECT_EQ(chat_turn_tokens(tok, "Hi there", "You are terse."), want);
  EXPECT_EQ(chat_turn_tokens(tok, "Hi"), (std::vector<int>{1, 518, 25580, 29962, 6324, 518, 29914, 25580, 29962}));
}

class ChatTest : public GenerateTest {
 protected:
  // Every turn ends with "]" (byte token 0x5D); the model answers "▁d" "e" EOS.
  static constexpr int kClose = byte_id(0x5D);
  static std::string answering_model(int seq_len = 128) {
    return bigram("answers_de", {{kClose, kD}, {kD, kE}, {kE, kEos}}, seq_len);
  }
};

struct Chat {
  std::string text;  // answers, with '|' where read_turn was called
  GenerateStats stats;
};
Chat run_chat(Transformer& t, const Tokenizer& tok, std::vector<std::string> turns, std::string_view system,
              int steps = 0) {
  Chat c;
  Sampler sampler(t.config().vocab_size, greedy());
  std::size_t next = 0;
  c.stats = chat(
      t, tok, sampler, system, steps,
      [&](std::string& turn) {
        c.text += "|";
        if (next == turns.size()) return false;
        turn = turns[next++];
        return true;
      },
      [&](std::string_view s) { c.text += s; });
  return c;
}

TEST_F(ChatTest, LaysOutTurnsAnswersAndEosInOneCache) {
  const Tokenizer tok = tokenizer();
  Transformer t(answering_model(), 1);
  Chat c = run_chat(t, tok, {"hi", "ok"}, "be brief");

  const std::vector<int> turn1 = chat_turn_tokens(tok, "hi", "be brief");
  const std::vector<int> turn2 = chat_turn_tokens(tok, "ok");
  std::vector<int> want = tok.encode("[INST] <<SYS>>\nbe brief\n<</SYS>>\n\nhi [/INST]", true, false);
  ASSERT_EQ(turn1, want);
  ASSERT_EQ(turn2, tok.encode("[INST] ok [/INST]", true, false));
  ASSERT_EQ(turn1.back(), kClose);
  ASSERT_EQ(turn2.back(), kClose);
  for (int id : {kD, kE, kEos}) want.push_back(id);
  want.insert(want.end(), turn2.begin(), turn2.end());
  for (int id : {kD, kE, kEos}) want.push_back(id);

  EXPECT_EQ(c.stats.tokens, want);
  // Each position ran once: nothing was re-processed; only the last EOS is not fed yet.
  EXPECT_EQ(c.stats.positions, int(want.size()) - 1);
  EXPECT_EQ(c.stats.prompt_tokens, int(turn1.size() + turn2.size()));
  EXPECT_EQ(c.stats.stop, StopReason::END_OF_INPUT);
  // Answers stream between the turns, their leading space dropped.
  EXPECT_EQ(c.text, "|de|de|");
}

TEST_F(ChatTest, SkipsBlankTurns) {
  const Tokenizer tok = tokenizer();
  Transformer t(answering_model(), 1);
  Chat c = run_chat(t, tok, {"", " \t ", "hi"}, "");
  std::vector<int> want = chat_turn_tokens(tok, "hi");
  for (int id : {kD, kE, kEos}) want.push_back(id);
  EXPECT_EQ(c.stats.tokens, want);
  EXPECT_EQ(c.text, "|||de|");
}

TEST_F(ChatTest, EndsWhenTheNextTurnDoesNotFit) {
  const Tokenizer tok = tokenizer();
  const int n1 = int(chat_turn_tokens(tok, "hi").size());
  const int n2 = int(chat_turn_tokens(tok, "ok").size());
  // Room for turn 1 and its answer (d, e fed; EOS sampled), not for EOS + turn 2.
  Transformer t(answering_model(), 1, n1 + 3);
  Chat c = run_chat(t, tok, {"hi", "ok"}, "");
  EXPECT_EQ(c.stats.stop, StopReason::CONTEXT);
  EXPECT_EQ(c.stats.unfit_turn_tokens, n2);
  EXPECT_EQ(c.stats.positions, n1 + 2);
  EXPECT_EQ(c.text, "|de|");

  // The same bound set by steps on a larger context.
  Transformer big(answering_model(), 1);
  Chat s = run_chat(big, tok, {"hi", "ok"}, "", n1 + 3);
  EXPECT_EQ(s.stats.stop, StopReason::STEPS);
  EXPECT_EQ(s.stats.unfit_turn_tokens, n2);
}

TEST_F(ChatTest, EndsWhenAnAnswerFillsTheContext) {
  const Tokenizer tok = tokenizer();
  const int n1 = int(chat_turn_tokens(tok, "hi").size());
  // The answer never ends: d e d e ...
  Transformer t(bigram("answers_forever", {{kClose, kD}, {kD, kE}, {kE, kD}}, 128), 1, n1 + 4);
  Chat c = run_chat(t, tok, {"hi", "ok"}, "");
  EXPECT_EQ(c.stats.stop, StopReason::CONTEXT);
  EXPECT_EQ(c.stats.unfit_turn_tokens, 0);
  EXPECT_EQ(c.stats.positions, n1 + 4);
  EXPECT_EQ(c.text, "|de de d");  // 5 answer tokens: 4 fed, and the last one sampled at the end
}

TEST_F(ChatTest, RejectsAFirstTurnThatDoesNotFit) {
  const Tokenizer tok = tokenizer();
  const int n1 = int(chat_turn_tokens(tok, "hi", "sys").size());
  Transformer t(answering_model(), 1, n1 - 1);
  try {
    run_chat(t, tok, {"hi"}, "sys");
    FAIL() << "expected llama2::Error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "the first chat turn is " + std::to_string(n1) +
                                         " tokens (system prompt and template included), more than the " +
                                         std::to_string(n1 - 1) + " positions available");
  }
}

}  // namespace
}  // namespace llama2::test

// Session (src/session.cpp, src/session_state.cpp) on a real model: shared
// weights across threads, stop strings, budget, callback and cancellation,
// prefix reuse, sampling controls, and save -> load -> continue.
#include "llama2/session.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/expect_error.hpp"
#include "support/shared_files.hpp"
#include "support/synthetic_model.hpp"
#include "support/temp_dir.hpp"

namespace llama2::test {
namespace {

struct Loaded {
  std::shared_ptr<const Model> model;
  std::shared_ptr<const Tokenizer> tokenizer;
};

// aidreams260K (context 128) and its tokenizer, one copy shared by every session.
Loaded aidreams() {
  const std::filesystem::path dir = shared_models_dir();
  return {std::make_shared<const Model>(Model::load((dir / "aidreams260K.bin").string())),
          std::make_shared<const Tokenizer>(Tokenizer::load((dir / "aidreams_tok512.bin").string()))};
}

#define NEED_MODEL()                                         \
  LLAMA2_SHARED_MODEL(model_file, "aidreams260K.bin");       \
  LLAMA2_SHARED_MODEL(tokenizer_file, "aidreams_tok512.bin"); \
  const Loaded m = aidreams()

SessionParams params(float temperature, std::uint64_t seed, int threads = 1, KvType kv = KvType::F32) {
  SessionParams p;
  p.n_threads = threads;
  p.kv_type = kv;
  p.sampling.temperature = temperature;
  p.sampling.seed = seed;
  return p;
}

struct Output {
  std::string text;
  std::vector<int> tokens;
  StopReason stop = StopReason::STEPS;
};

Output run(Session& s, GenerateOptions options) {
  Output r;
  r.stop = s.generate(options, [&](int token, std::string_view text) {
    if (token >= 0) r.tokens.push_back(token);
    r.text += text;
    return true;
  });
  return r;
}

Output solo(const Loaded& m, SessionParams p, std::string_view prompt, int max_tokens) {
  Session s(m.model, m.tokenizer, p);
  s.append_text(prompt, true);
  return run(s, {.max_tokens = max_tokens});
}

// --- shared weights ----------------------------------------------------------------------

TEST(Session, TwoSessionsOnTwoThreadsGiveTheirSoloText) {
  NEED_MODEL();
  const Output a = solo(m, params(1.0f, 7), "Once upon a time", 100);
  const Output b = solo(m, params(0.8f, 99), "The dog", 100);
  ASSERT_GT(a.tokens.size(), 20u);
  ASSERT_NE(a.text, b.text);
  Output a2, b2;
  std::thread ta([&] { a2 = solo(m, params(1.0f, 7), "Once upon a time", 100); });
  std::thread tb([&] { b2 = solo(m, params(0.8f, 99), "The dog", 100); });
  ta.join();
  tb.join();
  EXPECT_EQ(a2.text, a.text);
  EXPECT_EQ(b2.text, b.text);
  EXPECT_EQ(m.model.use_count(), 1);  // the sessions held it while they ran, and let it go
}

// --- stop strings, budget, callback ------------------------------------------------------

TEST(Session, StopStringEndsTheTextBeforeIt) {
  NEED_MODEL();
  const Output full = solo(m, params(0.0f, 1), "Once upon a time", 100);
  ASSERT_GT(full.text.size(), 60u);
  // Every stop string that is a piece of the text, wherever tokens split it.
  for (std::size_t at : {std::size_t(0), std::size_t(5), std::size_t(17), std::size_t(40)}) {
    for (std::size_t len : {std::size_t(1), std::size_t(3), std::size_t(8)}) {
      const std::string stop = full.text.substr(at, len);
      Session s(m.model, m.tokenizer, params(0.0f, 1));
      s.append_text("Once upon a time", true);
      const Output r = run(s, {.max_tokens = 100, .stop = {stop, "never appears \x01"}});
      EXPECT_EQ(r.stop, StopReason::STOP_STRING) << stop;
      EXPECT_EQ(r.text, full.text.substr(0, full.text.find(stop))) << "stop '" << stop << "'";
    }
  }
}

TEST(Session, BudgetAndCallbackStop) {
  NEED_MODEL();
  Session s(m.model, m.tokenizer, params(0.0f, 1));
  s.append_text("Once", true);
  const std::size_t before = s.tokens().size();
  Output r = run(s, {.max_tokens = 5});
  EXPECT_EQ(r.stop, StopReason::STEPS);
  EXPECT_EQ(r.tokens.size(), 5u);
  EXPECT_EQ(s.tokens().size(), before + 5);
  EXPECT_EQ(s.n_past(), int(before + 4));  // the last accepted token is pending

  int calls = 0;
  const StopReason why = s.generate({}, [&](int token, std::string_view) { return token < 0 || ++calls < 3; });
  EXPECT_EQ(why, StopReason::CALLBACK);
  EXPECT_EQ(calls, 3);
}

// --- cancellation ----------------------------------------------------------------------------

TEST(Session, CancelFromAnotherThreadStopsBeforeTheNextToken) {
  NEED_MODEL();
  Session s(m.model, m.tokenizer, params(1.0f, 3));
  s.append_text("Once upon a time", true);
  std::mutex mu;
  std::condition_variable cv;
  bool asked = false, cancelled = false;
  std::thread canceller([&] {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return asked; });
    s.cancel();
    cancelled = true;
    cv.notify_all();
  });
  int tokens = 0;
  const StopReason why = s.generate({}, [&](int token, std::string_view) {
    if (token < 0) return true;
    if (++tokens == 10) {  // the user leaves: another thread cancels, and we wait until it has
      std::unique_lock lock(mu);
      asked = true;
      cv.notify_all();
      cv.wait(lock, [&] { return cancelled; });
    }
    return true;
  });
  canceller.join();
  EXPECT_EQ(why, StopReason::CANCELLED);
  EXPECT_EQ(tokens, 10);  // not one token after the cancel
  // The request was consumed: the session goes on.
  EXPECT_EQ(run(s, {.max_tokens = 2}).tokens.size(), 2u);
}

TEST(Session, CancelBetweenPromptChunks) {
  NEED_MODEL();
  SessionParams p = params(0.0f, 1);
  p.prompt_chunk = 4;
  Session s(m.model, m.tokenizer, p);
  const std::vector<int> prompt = m.tokenizer->encode("Once upon a time there was a little girl", true, false);
  ASSERT_GT(prompt.size(), 8u);
  s.cancel();
  EXPECT_FALSE(s.append_tokens(prompt));
  EXPECT_EQ(s.n_past(), 0);  // cancelled before the first chunk; the tokens stay pending
  EXPECT_EQ(s.tokens(), prompt);
  EXPECT_TRUE(s.append_tokens({}));  // runs the pending ones, chunk by chunk
  EXPECT_EQ(s.n_past(), int(prompt.size()));
}

// --- prefix reuse ---------------------------------------------------------------------------

TEST(Session, PrefixReuseIsBitIdenticalToAFreshSession) {
  NEED_MODEL();
  const std::vector<int> a = m.tokenizer->encode("Once upon a time there was a cat", true, false);
  const std::vector<int> b = m.tokenizer->encode("Once upon a time there was a big dog named Max", true, false);
  const std::vector<int> shared_part(a.begin(), a.begin() + 6);
  ASSERT_TRUE(std::equal(shared_part.begin(), shared_part.end(), b.begin()));

  for (KvType kv : {KvType::F32, KvType::F16}) {
    Session reused(m.model, m.tokenizer, params(0.0f, 1, 1, kv));
    reused.append_tokens(shared_part);
    reused.append_tokens(std::span(a).subspan(6));
    const std::int64_t run_before = reused.positions_run();
    reused.set_tokens(b);
    std::size_t common = 0;
    while (a[common] == b[common]) common++;
    EXPECT_EQ(reused.positions_run() - run_before, std::int64_t(b.size() - common));  // only the new tokens ran

    Session fresh(m.model, m.tokenizer, params(0.0f, 1, 1, kv));
    fresh.append_tokens(b);  // one batch: the rows of a batch do not depend on each other
    const std::span<const float> lr = reused.logits();
    const std::vector<float> want(fresh.logits().begin(), fresh.logits().end());
    ASSERT_EQ(lr.size(), want.size());
    for (std::size_t i = 0; i < want.size(); i++) ASSERT_EQ(lr[i], want[i]) << "logit " << i;
    EXPECT_EQ(run(reused, {.max_tokens = 30}).text, run(fresh, {.max_tokens = 30}).text);
  }
}

TEST(Session, SetTokensToAPrefixRunsOnlyTheLastToken) {
  NEED_MODEL();
  const std::vector<int> a = m.tokenizer->encode("Once upon a time there was a cat", true, false);
  Session s(m.model, m.tokenizer, params(0.0f, 1));
  s.append_tokens(a);
  const std::vector<int> prefix(a.begin(), a.begin() + 5);
  const std::int64_t before = s.positions_run();
  s.set_tokens(prefix);
  EXPECT_EQ(s.tokens(), prefix);
  (void)s.logits();
  EXPECT_EQ(s.positions_run() - before, 1);
}

// --- sampling controls ------------------------------------------------------------------------

TEST(Session, LogitBiasBansAndForcesTokens) {
  NEED_MODEL();
  const Output plain = solo(m, params(0.0f, 1), "Once upon a time", 40);
  ASSERT_FALSE(plain.tokens.empty());
  const int banned = plain.tokens[0];
  Session s(m.model, m.tokenizer, params(0.0f, 1));
  s.sampler().set_logit_bias(banned, -std::numeric_limits<float>::infinity());
  s.append_text("Once upon a time", true);
  const Output r = run(s, {.max_tokens = 40});
  EXPECT_NE(r.tokens[0], banned);
  for (int t : r.tokens) EXPECT_NE(t, banned);

  // A temperature-1 sampler with a large bias on one token picks only it.
  Session forced(m.model, m.tokenizer, params(1.0f, 5));
  const int word = m.tokenizer->encode(" cat", false, false).at(0);
  forced.sampler().set_logit_bias(word, 1000.0f);
  forced.append_text("Once", true);
  for (int t : run(forced, {.max_tokens = 10}).tokens) EXPECT_EQ(t, word);

  expect_error([&] { s.sampler().set_logit_bias(512, 1.0f); }, "logit bias token id = 512");
  expect_error([&] { s.sampler().set_logit_bias(3, std::nanf("")); }, "logit bias");
}

TEST(Session, LogitsCallbackEditsTheLogitsBeforeSampling) {
  NEED_MODEL();
  Session s(m.model, m.tokenizer, params(1.0f, 11));
  const int only = m.tokenizer->encode(" dog", false, false).at(0);
  int calls = 0;
  s.sampler().set_logits_callback([&](std::span<float> logits) {
    calls++;
    for (std::size_t i = 0; i < logits.size(); i++) {
      if (int(i) != only) logits[i] = -std::numeric_limits<float>::infinity();
    }
  });
  s.append_text("Once", true);
  const Output r = run(s, {.max_tokens = 6});
  EXPECT_EQ(calls, 6);
  for (int t : r.tokens) EXPECT_EQ(t, only);
}

// --- saved state ------------------------------------------------------------------------------

TEST(Session, SaveLoadContinueEqualsUninterrupted) {
  NEED_MODEL();
  TempDir dir("session");
  for (int threads : {1, 2}) {
    for (KvType kv : {KvType::F32, KvType::F16}) {
      SCOPED_TRACE(std::to_string(threads) + " threads, " + std::string(kv_type_name(kv)));
      const Output whole = solo(m, params(1.0f, 42, threads, kv), "Once upon a time", 90);
      Session first(m.model, m.tokenizer, params(1.0f, 42, threads, kv));
      first.append_text("Once upon a time", true);
      const Output a = run(first, {.max_tokens = 35});
      first.save(dir.file("s.bin"));

      Session second(m.model, m.tokenizer, params(1.0f, 1234, threads, kv));  // the file's RNG state wins
      second.load(dir.file("s.bin"));
      EXPECT_EQ(second.tokens(), first.tokens());
      const Output b = run(second, {.max_tokens = 55});
      EXPECT_EQ(a.text + b.text, whole.text);
    }
  }
}

// A session saved before any token (n_past 0, no KV bytes) loads as an
// empty one and then runs as a fresh session does. (Found by
// session_state_fuzz: the empty KV copy passed a null pointer to memcpy.)
TEST(Session, AnEmptySavedSessionLoadsAsAFreshOne) {
  NEED_MODEL();
  TempDir dir("session");
  const Output whole = solo(m, params(1.0f, 42), "Once upon a time", 20);
  Session empty(m.model, m.tokenizer, params(1.0f, 42));
  empty.save(dir.file("empty.bin"));

  Session loaded(m.model, m.tokenizer, params(1.0f, 42));
  loaded.append_text("Once", true);
  run(loaded, {.max_tokens = 3});
  loaded.load(dir.file("empty.bin"));
  EXPECT_TRUE(loaded.tokens().empty());
  loaded.append_text("Once upon a time", true);
  EXPECT_EQ(run(loaded, {.max_tokens = 20}).text, whole.text);
}

class SessionFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    LLAMA2_SHARED_MODEL(model, "aidreams260K.bin");
    LLAMA2_SHARED_MODEL(tok, "aidreams_tok512.bin");
    m_ = aidreams();
    Session s(m_.model, m_.tokenizer, params(1.0f, 42));
    s.append_text("Once upon a time", true);
    run(s, {.max_tokens = 10});
    s.save(dir_.file("good.bin"));
    std::ifstream in(dir_.file("good.bin"), std::ios::binary);
    good_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::string write(const std::string& name, const std::string& bytes) {
    std::ofstream(dir_.file(name), std::ios::binary) << bytes;
    return dir_.file(name);
  }
  void expect_refused(const std::string& path, const std::string& needle, SessionParams p = params(1.0f, 42)) {
    Session s(m_.model, m_.tokenizer, p);
    expect_error([&] { s.load(path); }, needle);
  }
  TempDir dir_{"session_files"};
  Loaded m_;
  std::string good_;
};

TEST_F(SessionFiles, RefusesAnotherModel) {
  // Same tokenizer, another model with the same shapes but other weights.
  const Config c = m_.model->config();
  write_llama2c_v0(dir_.file("other.bin"), make_weights(c, 5));
  auto other = std::make_shared<const Model>(Model::load(dir_.file("other.bin")));
  Session s(other, m_.tokenizer, params(1.0f, 42));
  expect_error([&] { s.load(dir_.file("good.bin")); }, "saved with another model");
  // Another shape altogether.
  Config small = c;
  small.n_layers = 1;
  write_llama2c_v0(dir_.file("small.bin"), make_weights(small, 5));
  Session t(std::make_shared<const Model>(Model::load(dir_.file("small.bin"))), m_.tokenizer, params(1.0f, 42));
  expect_error([&] { t.load(dir_.file("good.bin")); }, "n_layers = 4; this model has 1");
}

TEST_F(SessionFiles, RefusesTruncatedCorruptFutureAndMismatchedFiles) {
  expect_refused(write("short.bin", good_.substr(0, good_.size() - 9)), "truncated");
  expect_refused(write("header.bin", good_.substr(0, 20)), "truncated");
  expect_refused(write("long.bin", good_ + "x"), "trailing data");
  std::string flipped = good_;
  flipped[flipped.size() - 20] ^= 0x40;
  expect_refused(write("flipped.bin", flipped), "corrupted: the checksum does not match");
  std::string future = good_;
  future[8] = 2;
  expect_refused(write("future.bin", future), "format version 2 (offset 8) is newer than this build reads");
  expect_refused(write("magic.bin", "GGUF" + good_.substr(4)), "not a llama2.cpp session file");
  expect_refused(dir_.file("missing.bin"), "cannot open");
  expect_refused(dir_.file("good.bin"), "saved with an f32 KV cache; this session's is f16",
                 params(1.0f, 42, 1, KvType::F16));
  SessionParams tiny = params(1.0f, 42);
  tiny.context = 8;
  expect_refused(dir_.file("good.bin"), "more than this session's context of 8", tiny);
}

}  // namespace
}  // namespace llama2::test

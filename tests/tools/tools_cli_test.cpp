// The info, perplexity and compress programs, run as a user runs them:
// outputs, thread-count independence, round trips through files, and the
// exit status and one-line message of every kind of bad input.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "support/process.hpp"
#include "support/shared_files.hpp"
#include "support/synthetic_model.hpp"

namespace llama2 {
namespace {

using test::run_process;

std::string tool(const std::string& name) { return (test::build_dir() / name).string(); }

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The JSON line without its timing field, which differs run to run.
std::string without_seconds(const std::string& json) { return json.substr(0, json.find(",\"seconds\"")); }

const std::string kText =
    "The machine dreams of light. Whispers of data drift through layers of thought, "
    "and every weight remembers a pattern it once saw.\n";

// --- info ------------------------------------------------------------------------------

TEST(InfoCli, PrintsTheCardOfStories260K) {
  LLAMA2_SHARED_MODEL(model, "stories260K.bin");
  auto r = run_process({tool("info"), model});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* want : {"n_kv_heads   4 (grouped-query attention)", "total N              260,032",
                           "shared with the embedding table (counted once)", "1,280 bytes per token",
                           "4.0000 bytes/param", "llama2.c v0"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
  }
  r = run_process({tool("info"), model, "--json", "--bandwidth", "10"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"total\":260032"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"kv_bytes_full_context\":655360"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"bandwidth_gbs\":10"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1);  // one line
}

TEST(InfoCli, BadInput) {
  auto r = run_process({tool("info")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("info: missing the MODEL file (see 'info --help')"), std::string::npos) << r.err;
  r = run_process({tool("info"), "/nonexistent.bin"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("info: error: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("/nonexistent.bin"), std::string::npos) << r.err;
  r = run_process({tool("info"), "m.bin", "--bandwidth", "-3"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--bandwidth: expected a positive number"), std::string::npos) << r.err;
  r = run_process({tool("info"), "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("4 * n_layers * n_heads * head_size * (t+1)"), std::string::npos);
}

// --- perplexity ------------------------------------------------------------------------------

TEST(PerplexityCli, SameFiguresWithOneAndTwoThreads) {
  LLAMA2_SHARED_MODEL(model, "aidreams260K.bin");
  LLAMA2_SHARED_MODEL(tok, "aidreams_tok512.bin");
  const std::string file = test::make_temp_dir("ppl_cli") + "/text.txt";
  write_file(file, kText + kText);
  auto one = run_process({tool("perplexity"), model, "-z", tok, "-f", file, "--threads", "1", "--json"});
  auto two = run_process({tool("perplexity"), model, "-z", tok, "-f", file, "--threads", "2", "--json", "--batch", "8"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_EQ(without_seconds(one.out), without_seconds(two.out));
  EXPECT_NE(one.out.find("\"bytes\":" + std::to_string(2 * kText.size()) + ","), std::string::npos) << one.out;
  // A shorter window scores the same tokens with less context.
  auto short_ctx = run_process({tool("perplexity"), model, "-z", tok, "-f", file, "--threads", "1", "--json", "--ctx", "8"});
  ASSERT_EQ(short_ctx.exit_code, 0) << short_ctx.err;
  EXPECT_NE(short_ctx.out.find("\"ctx\":8,"), std::string::npos);
  EXPECT_NE(without_seconds(short_ctx.out), without_seconds(one.out));
  auto text = run_process({tool("perplexity"), model, "-z", tok, "-f", file, "--threads", "1"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  for (const char* want : {"tokens scored", "mean NLL", "perplexity", "bits per token", "bits per byte"}) {
    EXPECT_NE(text.out.find(want), std::string::npos) << want;
  }
}

TEST(PerplexityCli, BadInput) {
  LLAMA2_SHARED_MODEL(model, "aidreams260K.bin");
  LLAMA2_SHARED_MODEL(tok, "aidreams_tok512.bin");
  const std::string dir = test::make_temp_dir("ppl_cli_bad");
  write_file(dir + "/empty.txt", "");
  write_file(dir + "/t.txt", kText);
  auto r = run_process({tool("perplexity"), model, "-z", tok, "-f", dir + "/empty.txt"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("empty.txt: the file is empty; there is nothing to score"), std::string::npos) << r.err;
  r = run_process({tool("perplexity"), model, "-z", tok, "-f", dir + "/t.txt", "--ctx", "1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--ctx: expected at least 2"), std::string::npos) << r.err;
  r = run_process({tool("perplexity"), model, "-z", tok, "-f", dir + "/t.txt", "--batch", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--batch: expected at least 1, got '0'"), std::string::npos) << r.err;
  r = run_process({tool("perplexity"), model, "-f", dir + "/t.txt"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing -z TOKENIZER"), std::string::npos) << r.err;
  r = run_process({tool("perplexity"), model, "-z", tok});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing the text: give -f FILE"), std::string::npos) << r.err;
  r = run_process({tool("perplexity"), model, "-z", tok, "-f", dir + "/nope.txt"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nope.txt: cannot open the text file"), std::string::npos) << r.err;
  LLAMA2_SHARED_MODEL(big_tok, "tokenizer.bin");
  r = run_process({tool("perplexity"), model, "-z", big_tok, "-f", dir + "/t.txt"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("32000 pieces, but"), std::string::npos) << r.err;
  r = run_process({tool("perplexity"), "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("non-overlapping"), std::string::npos);
}

// --- compress ----------------------------------------------------------------------------------

TEST(CompressCli, TwoThreadsCompressOneThreadDecompress) {
  LLAMA2_SHARED_MODEL(model, "aidreams260K.bin");
  LLAMA2_SHARED_MODEL(tok, "aidreams_tok512.bin");
  const std::string dir = test::make_temp_dir("compress_cli");
  std::string input = kText + kText + std::string("\x00\xff\xfe binary tail \xc3", 18);
  write_file(dir + "/in", input);
  auto c = run_process({tool("compress"), model, dir + "/in", dir + "/in.l2cz", "-z", tok, "--threads", "2"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.err.find("bits/byte"), std::string::npos) << c.err;
  EXPECT_LT(read_file(dir + "/in.l2cz").size() * 3, input.size() * 2);  // 56-byte header included
  auto d = run_process({tool("compress"), "-d", model, dir + "/in.l2cz", dir + "/out", "-z", tok, "--threads", "1"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_TRUE(read_file(dir + "/out") == input);

  // Through stdin and stdout, and an empty file.
  write_file(dir + "/empty", "");
  auto e = run_process({tool("compress"), model, dir + "/empty", "-", "-z", tok, "--threads", "1"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  auto e2 = run_process({tool("compress"), "-d", model, "-", "-", "-z", tok, "--threads", "1"}, e.out);
  ASSERT_EQ(e2.exit_code, 0) << e2.err;
  EXPECT_EQ(e2.out, "");
}

// The encoder runs known tokens in batches, the decoder one at a time: with
// every kernel table (LLAMA2_ISA caps the choice) the decoder must see the
// encoder's logits bit for bit, or the round trip fails. aidreams260K (fp32,
// context 128: the text restarts the window) and the tiny GGUF (F16).
TEST(CompressCli, EveryKernelTableDecodesWhatItEncodes) {
  LLAMA2_SHARED_MODEL(model, "aidreams260K.bin");
  LLAMA2_SHARED_MODEL(tok, "aidreams_tok512.bin");
  LLAMA2_SHARED_MODEL(gguf, "llama-2-tiny-random.gguf");
  const std::string dir = test::make_temp_dir("compress_isa");
  const std::string input = kText + kText + kText;
  write_file(dir + "/in", input);
  for (const char* isa : {"scalar", "avx2", "avx512", "neon"}) {
    for (const std::vector<std::string>& m : {std::vector<std::string>{model, "-z", tok}, {gguf}}) {
      SCOPED_TRACE(std::string(isa) + " " + m[0]);
      const std::vector<std::string> env = {"/usr/bin/env", std::string("LLAMA2_ISA=") + isa, tool("compress")};
      std::vector<std::string> c = env, d = env;
      d.push_back("-d");
      for (const std::string& a : m) c.push_back(a), d.push_back(a);
      c.insert(c.end(), {dir + "/in", dir + "/c", "--threads", "2"});
      d.insert(d.end(), {dir + "/c", dir + "/out", "--threads", "1"});
      auto rc = run_process(c);
      ASSERT_EQ(rc.exit_code, 0) << rc.err;
      auto rd = run_process(d);
      ASSERT_EQ(rd.exit_code, 0) << rd.err;
      EXPECT_TRUE(read_file(dir + "/out") == input);
    }
  }
}

TEST(CompressCli, BadInput) {
  LLAMA2_SHARED_MODEL(model, "aidreams260K.bin");
  LLAMA2_SHARED_MODEL(other, "stories260K.bin");
  LLAMA2_SHARED_MODEL(tok, "aidreams_tok512.bin");
  const std::string dir = test::make_temp_dir("compress_cli_bad");
  write_file(dir + "/in", kText);
  ASSERT_EQ(run_process({tool("compress"), model, dir + "/in", dir + "/c", "-z", tok, "--threads", "1"}).exit_code, 0);
  const std::string packed = read_file(dir + "/c");

  // stories260K has the same vocab size, but is another model.
  auto r = run_process({tool("compress"), "-d", other, dir + "/c", dir + "/o", "-z", tok, "--threads", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("compress: error: compressed stream: made with a different model"), std::string::npos) << r.err;
  write_file(dir + "/cut", packed.substr(0, packed.size() - 3));
  r = run_process({tool("compress"), "-d", model, dir + "/cut", dir + "/o", "-z", tok, "--threads", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
  r = run_process({tool("compress"), "-d", model, dir + "/in", dir + "/o", "-z", tok, "--threads", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not a file made by compress"), std::string::npos) << r.err;
  r = run_process({tool("compress"), model, dir + "/in"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("expected MODEL IN OUT, got 2 arguments"), std::string::npos) << r.err;
  r = run_process({tool("compress"), model, dir + "/in", dir + "/o"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing -z TOKENIZER"), std::string::npos) << r.err;
  r = run_process({tool("compress"), model, dir + "/missing", dir + "/o", "-z", tok});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing: cannot open the input file"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace llama2

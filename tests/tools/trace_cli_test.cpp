// The trace program, run as a user runs it: the page and the JSON it writes
// (the same data), -f and stdin, the page's figures against `perplexity
// --json` on the same text, and the exit status and one-line message of
// every kind of bad input.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "support/process.hpp"
#include "support/shared_files.hpp"
#include "support/synthetic_model.hpp"
#include "support/temp_dir.hpp"
#include "support/trace_page.hpp"

namespace llama2 {
namespace {

using test::run_process;

std::string tool(const std::string& name) { return (test::build_dir() / name).string(); }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct TraceCli : ::testing::Test, test::TempDir {
  std::string model = file("m.bin"), tok = file("tok.bin");
  void SetUp() override {
    test::write_llama2c_v0(model, test::make_weights(test::make_config(32, 64, 2, 4, 2, 300, 64, false), 6));
    test::write_tokenizer_bin(tok, 300);
  }
};

TEST_F(TraceCli, PageAndJsonHoldTheSameData) {
  auto r = run_process({tool("trace"), model, "-z", tok, "-i", "abc de", "-n", "3", "-t", "0", "--top", "4", "-o", file("t.html")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("trace: wrote"), std::string::npos) << r.err;
  const std::string page = read_file(file("t.html"));
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  r = run_process({tool("trace"), model, "-z", tok, "-i", "abc de", "-n", "3", "-t", "0", "--top", "4", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.substr(0, r.out.size() - 1), test::trace_page_json_text(page));  // the JSON line is the page's data
  const test::JsonValue data = test::JsonReader::parse(r.out);
  EXPECT_EQ(data["positions"][1]["top"].size(), 4u);
  EXPECT_TRUE(data["positions"][data["positions"].size() - 1]["generated"].boolean);
}

TEST_F(TraceCli, FileStdinLayersAndMaxPositions) {
  std::ofstream(file("text.txt")) << "abc de abc";
  auto from_file = run_process({tool("trace"), model, "-z", tok, "-f", file("text.txt"), "--json", "--layers", "1",
                                "--max-positions", "3"});
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  auto from_stdin = run_process({tool("trace"), model, "-z", tok, "-f", "-", "--json", "--layers=1", "--max-positions=3"},
                                "abc de abc");
  ASSERT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  EXPECT_EQ(from_file.out, from_stdin.out);
  const test::JsonValue data = test::JsonReader::parse(from_file.out);
  EXPECT_EQ(data["attention"]["layers"].size(), 1u);
  EXPECT_EQ(data["attention"]["positions"].integer(), 3);
  EXPECT_EQ(data["notes"].size(), 2u);
  auto all = run_process({tool("trace"), model, "-z", tok, "-i", "abc", "--json", "--layers", "all"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(test::JsonReader::parse(all.out)["attention"]["layers"].size(), 2u);
}

TEST(TraceCliReal, FiguresArePerplexitys) {
  LLAMA2_SHARED_MODEL(model, "aidreams260K.bin");
  LLAMA2_SHARED_MODEL(tok, "aidreams_tok512.bin");
  test::TempDir dir("trace_cli_ppl");
  std::ofstream(dir.file("t.txt")) << "The machine dreams of light. Whispers of data drift through layers of thought.";
  auto t = run_process({tool("trace"), model, "-z", tok, "-f", dir.file("t.txt"), "--json"});
  auto p = run_process({tool("perplexity"), model, "-z", tok, "-f", dir.file("t.txt"), "--json"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  ASSERT_EQ(p.exit_code, 0) << p.err;
  const test::JsonValue text = test::JsonReader::parse(t.out)["text"], ppl = test::JsonReader::parse(p.out);
  EXPECT_EQ(text["tokens"].num(), ppl["tokens"].num());
  EXPECT_EQ(text["bytes"].num(), ppl["bytes"].num());
  EXPECT_DOUBLE_EQ(text["perplexity"].num(), ppl["perplexity"].num());
  EXPECT_DOUBLE_EQ(text["bits_per_token"].num(), ppl["bits_per_token"].num());
  EXPECT_DOUBLE_EQ(text["bits_per_byte"].num(), ppl["bits_per_byte"].num());
  EXPECT_DOUBLE_EQ(text["mean_nll"].num(), ppl["mean_nll"].num());
}

TEST_F(TraceCli, BadInput) {
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{model, "-z", tok, "-o", file("x.html")}, 2, "give the text with -i TEXT or -f FILE"},
      {{model, "-z", tok, "-i", "a", "-f", "x", "-o", file("x.html")}, 2, "give the text with -i TEXT or -f FILE"},
      {{model, "-z", tok, "-i", "abc"}, 2, "missing the output: give -o trace.html"},
      {{model, "-z", tok, "-i", "abc", "--top", "0", "--json"}, 2, "--top: expected an integer >= 1, got '0'"},
      {{model, "-z", tok, "-i", "abc", "--layers", "x", "--json"}, 2, "--layers: expected all or layer indices"},
      {{model, "-z", tok, "-i", "abc", "--max-positions", "0", "--json"}, 2, "--max-positions: expected a number of positions >= 1"},
      {{model, "-z", tok, "-i", "abc", "--layers", "2", "--json"}, 1, "trace: layer 2 is outside [0, 2)"},
      {{model, "-z", tok, "-i", "abc", "-n", "70", "--json"}, 1, "more than the context of 64"},
      {{model, "-z", tok, "-i", "", "--json"}, 1, "-i: the text is empty"},
      {{model, "-z", tok, "-f", file("none.txt"), "--json"}, 1, "none.txt: cannot open"},
      {{file("none.bin"), "-z", tok, "-i", "abc", "--json"}, 1, "none.bin"},
      {{model, "-z", tok, "-i", "abc", "-o", file("no/such/dir/x.html")}, 1, "cannot create the output file"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {tool("trace")};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const auto r = run_process(argv);
    EXPECT_EQ(r.exit_code, c.exit_code) << c.message << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;  // one line
  }
}

}  // namespace
}  // namespace llama2

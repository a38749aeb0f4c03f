// The bench program, run as a user runs it: the tests it reports (names,
// token counts, repetitions, a median between min and max), the depth
// option, and the exit status and message of every kind of bad usage.
// Speeds themselves are never asserted: machines are noisy.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/shared_files.hpp"
#include "support/synthetic_model.hpp"

namespace llama2 {
namespace {

using test::run_process;

std::string bench() { return (test::build_dir() / "bench").string(); }

// A small v0 model (seq_len 40) written once per test binary.
const std::string& model_path() {
  static const std::string path = [] {
    const std::string p = test::make_temp_dir("bench_cli") + "/model.bin";
    test::write_llama2c_v0(p, test::make_weights(test::small_config(), 7));
    return p;
  }();
  return path;
}

double json_number(const std::string& json, const std::string& key) {
  const std::regex re("\"" + key + "\": ([0-9.eE+-]+)");
  std::smatch m;
  if (!std::regex_search(json, m, re)) return -1;
  return std::stod(m[1]);
}

TEST(BenchCli, ReportsPromptAndGenerationTestsInJson) {
  auto r = run_process({bench(), model_path(), "-p", "16", "-n", "8", "-t", "2", "-r", "3", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"test\": \"pp16\", \"n_tokens\": 16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"test\": \"tg8\", \"n_tokens\": 8"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"threads\": 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"depth\": 0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"kv_type\": \"f32\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"format\": \"llama2.c v0 (legacy fp32)\""), std::string::npos) << r.out;
  // Three repetitions per test, median within [min, max], all positive.
  const std::regex tps("\"tps_median\": ([0-9.]+), \"tps_min\": ([0-9.]+), \"tps_max\": ([0-9.]+), "
                       "\"tps\": \\[([0-9.]+), ([0-9.]+), ([0-9.]+)\\]");
  int tests = 0;
  for (std::sregex_iterator it(r.out.begin(), r.out.end(), tps), end; it != end; ++it, ++tests) {
    const double median = std::stod((*it)[1]), lo = std::stod((*it)[2]), hi = std::stod((*it)[3]);
    EXPECT_GT(lo, 0.0);
    EXPECT_LE(lo, median);
    EXPECT_LE(median, hi);
  }
  EXPECT_EQ(tests, 2) << r.out;
  EXPECT_GT(json_number(r.out, "peak_rss_bytes"), json_number(r.out, "model_bytes"));
}

// -t 1,2 runs every test at each thread count in turn, each row naming its count.
TEST(BenchCli, SweepsThreadCounts) {
  auto r = run_process({bench(), model_path(), "-p", "8", "-n", "4", "-t", "1,2", "-r", "1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* want : {"\"test\": \"pp8\", \"n_tokens\": 8, \"threads\": 1,",
                           "\"test\": \"tg4\", \"n_tokens\": 4, \"threads\": 1,",
                           "\"test\": \"pp8\", \"n_tokens\": 8, \"threads\": 2,",
                           "\"test\": \"tg4\", \"n_tokens\": 4, \"threads\": 2,"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
  }
  EXPECT_GE(json_number(r.out, "load_seconds"), 0.0);
  r = run_process({bench(), model_path(), "-p", "8", "-n", "0", "-t", "1,3", "-r", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("loaded in"), std::string::npos) << r.out;
  const std::regex row("\npp8 +([0-9]+) +[0-9.]+");
  std::vector<int> counts;
  for (std::sregex_iterator it(r.out.begin(), r.out.end(), row), end; it != end; ++it) counts.push_back(std::stoi((*it)[1]));
  EXPECT_EQ(counts, (std::vector<int>{1, 3})) << r.out;
}

TEST(BenchCli, DepthStartsTheTestsDeeperInTheContext) {
  auto r = run_process({bench(), model_path(), "-p", "8", "-n", "4", "-d", "30", "-r", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("pp8 @ d30"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tg4 @ d30"), std::string::npos) << r.out;
  // 30 + 8 and 30 + 4 fit in the context of 40; 30 + 11 does not.
  r = run_process({bench(), model_path(), "-p", "11", "-n", "0", "-d", "30"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("-p 11 after -d 30 does not fit the model's context of 40 tokens"), std::string::npos)
      << r.err;
  r = run_process({bench(), model_path(), "-p", "0", "-n", "41"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("-n 41 does not fit the model's context of 40 tokens"), std::string::npos) << r.err;
}

TEST(BenchCli, SequentialPromptAndKvTypeAreReported) {
  auto r = run_process({bench(), model_path(), "-p", "8", "-n", "0", "-r", "1", "--sequential", "--kv-type", "f16",
                        "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"prompt\": \"sequential\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"kv_type\": \"f16\""), std::string::npos) << r.out;
}

TEST(BenchCli, BadUsage) {
  struct Case {
    std::vector<std::string> args;
    int status;
    std::string message;
  };
  const std::string m = model_path();
  const Case cases[] = {
      {{}, 2, "bench: missing the MODEL file"},
      {{m, "-p", "0", "-n", "0"}, 2, "nothing to measure: both -p and -n are 0"},
      {{m, "-d", "-1"}, 2, "-d: expected a token count >= 0"},
      {{m, "-t", "0"}, 2, "-t: expected a thread count >= 1"},
      {{m, "-t", "2,0"}, 2, "-t: expected a thread count >= 1 (or a list: 1,2,4), got '2,0'"},
      {{m, "-t", "2,"}, 2, "-t: expected an integer, got ''"},
      {{m, "-r", "x"}, 2, "-r: expected an integer, got 'x'"},
      {{m, "-r", "0"}, 2, "-r: expected a repetition count >= 1"},
      {{m, "--fast"}, 2, "unknown option --fast"},
      {{m, "--kv-type", "q8"}, 2, "--kv-type: expected f32 or f16, got 'q8'"},
      {{m, m}, 2, "unexpected argument"},
      {{"/nonexistent/model.bin"}, 1, "/nonexistent/model.bin"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv{bench()};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    auto r = run_process(argv);
    EXPECT_EQ(r.exit_code, c.status) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << "want: " << c.message << "\ngot: " << r.err;
  }
  auto r = run_process({bench(), "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("-d N"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace llama2

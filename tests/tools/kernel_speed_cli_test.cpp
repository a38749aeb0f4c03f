// bench/kernel_speed, run as bench/RESULTS.md runs it: one line per type and
// instruction set, figures that agree with each other (GB/s x ns per 32
// weights = the bytes of 32 weights in the type's layout), the int8 kernel
// where the table has one, and the exit status and message of bad usage.
// Speeds themselves are never asserted: machines are noisy.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/shared_files.hpp"

namespace llama2 {
namespace {

using test::run_process;

std::string kernel_speed() { return (test::build_dir() / "kernel_speed").string(); }

struct Line {
  std::string type, isa, kind;
  double ns_per_32 = 0, gb_per_s = 0, g_weights_per_s = 0;
};

std::vector<Line> lines(const std::string& out) {
  std::istringstream in(out);
  std::string header;
  std::getline(in, header);
  std::vector<Line> result;
  Line l;
  while (in >> l.type >> l.isa >> l.kind >> l.ns_per_32 >> l.gb_per_s >> l.g_weights_per_s) result.push_back(l);
  return result;
}

TEST(KernelSpeedCli, ReportsFiguresThatAgreeWithTheLayout) {
  const auto r = run_process({kernel_speed(), "--types", "q4_0,F16,q6_k", "--isas", "scalar", "--rows", "8", "--cols", "512"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<Line> got = lines(r.out);
  ASSERT_EQ(got.size(), 3u) << r.out;
  const struct {
    const char* type;
    const char* kind;
    double bytes_per_32;
  } want[] = {{"Q4_0", "int8", 18}, {"F16", "fp32", 64}, {"Q6_K", "int8", 210.0 / 8}};
  for (int i = 0; i < 3; i++) {
    EXPECT_EQ(got[i].type, want[i].type);
    EXPECT_EQ(got[i].isa, "scalar");
    EXPECT_EQ(got[i].kind, want[i].kind) << got[i].type;
    ASSERT_GT(got[i].ns_per_32, 0) << got[i].type;
    // GB/s * ns = bytes, and G weights/s * ns = 32, to the printed four digits.
    EXPECT_NEAR(got[i].gb_per_s * got[i].ns_per_32, want[i].bytes_per_32, 0.002 * want[i].bytes_per_32) << got[i].type;
    EXPECT_NEAR(got[i].g_weights_per_s * got[i].ns_per_32, 32, 0.002 * 32) << got[i].type;
  }
}

TEST(KernelSpeedCli, RefusesBadUsageWithExitStatus2) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--types", "Q9_9"}, "unknown weight type 'Q9_9'"},
      {{"--types", "Q8_GROUP (llama2.c int8)"}, "unknown weight type"},
      {{"--isas", "sse9"}, "unknown instruction set 'sse9'"},
      {{"--rows", "0"}, "--rows wants a count"},
      {{"--cols", "100"}, "--cols must be a multiple of 256"},
      {{"--cols"}, "missing value: '--cols'"},
      {{"--fast", "1"}, "unknown option '--fast'"},
  };
  for (const auto& [args, message] : cases) {
    std::vector<std::string> argv = {kernel_speed()};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run_process(argv);
    EXPECT_EQ(r.exit_code, 2) << args[0];
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("usage: kernel_speed"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace llama2

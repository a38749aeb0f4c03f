// What the programs in tools/ share (tools/common/cli.hpp): the exit status
// and one-line message of each kind of error, reading input files, JSON strings.
#include "cli.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <stdexcept>
#include <string>

#include "llama2/error.hpp"
#include "support/synthetic_model.hpp"

namespace llama2::cli {
namespace {

TEST(Cli, RunMainMapsErrorsToExitStatus) {
  EXPECT_EQ(run_main("p", [] { return 0; }), 0);
  testing::internal::CaptureStderr();
  EXPECT_EQ(run_main("p", []() -> int { throw UsageError{"unknown option -x"}; }), 2);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "p: unknown option -x (see 'p --help')\n");
  testing::internal::CaptureStderr();
  EXPECT_EQ(run_main("p", []() -> int { throw llama2::Error("m.bin: bad magic"); }), 1);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "p: error: m.bin: bad magic\n");
  testing::internal::CaptureStderr();
  EXPECT_EQ(run_main("p", []() -> int { throw std::runtime_error("boom"); }), 1);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "p: error: boom\n");
}

TEST(Cli, ReadFileKeepsTheBytesAndNamesTheFileOnError) {
  const std::string path = test::make_temp_dir("cli_read_file") + "/in.bin";
  const std::string bytes("a\0b\r\n\xff", 6);
  std::ofstream(path, std::ios::binary) << bytes;
  EXPECT_EQ(read_file(path), bytes);
  try {
    read_file(path + ".absent", "text file");
    FAIL() << "no error";
  } catch (const llama2::Error& e) {
    EXPECT_EQ(std::string(e.what()), path + ".absent: cannot open the text file");
  }
}

TEST(Cli, JsonEscape) {
  EXPECT_EQ(json_escape("plain ünïcode"), "plain ünïcode");
  EXPECT_EQ(json_escape("a\"b\\c\n\x01"), "a\\\"b\\\\c\\u000a\\u0001");
}

}  // namespace
}  // namespace llama2::cli

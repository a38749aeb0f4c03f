// The version is said in three places that must agree: include/llama2/version.h
// (what programs compile against), CMakeLists.txt's project VERSION (the CMake
// package's version) and CHANGELOG.md (a section per version).
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "llama2/llama2.h"
#include "llama2/version.h"
#include "support/shared_files.hpp"

namespace llama2::test {
namespace {

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Version, HeaderCMakeAndChangelogAgree) {
  const std::string header = std::to_string(LLAMA2_VERSION_MAJOR) + "." + std::to_string(LLAMA2_VERSION_MINOR) + "." +
                             std::to_string(LLAMA2_VERSION_PATCH);
  EXPECT_EQ(header, LLAMA2_VERSION_STRING);
  std::smatch m;
  const std::string cmake = read(source_dir() / "CMakeLists.txt");
  ASSERT_TRUE(std::regex_search(cmake, m, std::regex(R"(project\(llama2cpp VERSION ([0-9]+\.[0-9]+\.[0-9]+))")));
  EXPECT_EQ(m[1].str(), header) << "CMakeLists.txt's project VERSION and include/llama2/version.h differ";
  const std::string changelog = read(source_dir() / "CHANGELOG.md");
  EXPECT_NE(changelog.find("\n## " + header), std::string::npos) << "CHANGELOG.md has no '## " << header << "' section";
}

}  // namespace
}  // namespace llama2::test

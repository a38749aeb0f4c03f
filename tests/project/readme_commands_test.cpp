// Runs every command of the README section "How inference works, in
// commands", so that the section never goes stale.
// Its ```sh blocks run in order as one script (variables carry over) from
// the source folder, with MODELS set to the shared test models, TMPDIR to a
// fresh folder and build/ pointing at this build.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "support/process.hpp"
#include "support/shared_files.hpp"
#include "support/synthetic_model.hpp"

namespace llama2 {
namespace {

constexpr const char* kHeading = "## How inference works, in commands";

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The lines from the heading to the next heading of the same level; "" if absent.
std::string section(const std::string& markdown) {
  std::istringstream in(markdown);
  std::string line, out;
  bool inside = false, fenced = false;
  while (std::getline(in, line)) {
    if (line.rfind("```", 0) == 0) fenced = !fenced;
    if (!fenced && line.rfind("## ", 0) == 0) {
      if (inside) break;
      inside = line == kHeading;
    }
    if (inside) out += line + "\n";
  }
  return out;
}

std::vector<std::string> sh_blocks(const std::string& text) {
  std::vector<std::string> blocks;
  std::istringstream in(text);
  std::string line, block;
  bool in_sh = false;
  while (std::getline(in, line)) {
    if (!in_sh && line == "```sh") {
      in_sh = true;
      block.clear();
    } else if (in_sh && line.rfind("```", 0) == 0) {
      in_sh = false;
      blocks.push_back(block);
    } else if (in_sh) {
      block += line + "\n";
    }
  }
  return blocks;
}

std::string the_section() { return section(read_text(test::source_dir() / "README.md")); }

std::string quoted(const std::string& s) { return "'" + std::regex_replace(s, std::regex("'"), "'\\''") + "'"; }

TEST(ReadmeCommands, SectionExistsAndShowsEveryTool) {
  const std::string text = the_section();
  ASSERT_FALSE(text.empty()) << "no \"" << kHeading << "\" in README.md";
  std::string all;
  for (const auto& b : sh_blocks(text)) all += b;
  for (const char* want : {"build/tokenize", "--pieces", "build/run", "--probs", "build/info", "build/perplexity",
                           "build/compress", "build/compress -d", "build/trace"}) {
    EXPECT_NE(all.find(want), std::string::npos) << "the section has no command with " << want;
  }
  for (const char* where : {"src/tokenizer.cpp", "src/transformer.cpp", "src/tasks/perplexity.cpp",
                            "src/tasks/compressor.cpp", "src/tasks/trace.cpp"}) {
    EXPECT_NE(text.find(where), std::string::npos) << "the section does not say where " << where << " is";
  }
}

// Every source file README names (`src/...`, `tools/...`, `examples/...`) exists:
// a file that moves takes README's pointers with it.
TEST(ReadmeCommands, EveryNamedSourceFileExists) {
  const std::string readme = read_text(test::source_dir() / "README.md");
  const std::regex path_re("`((?:src|tools|include|examples|tests|bench|fuzz)/[A-Za-z0-9_./-]*[A-Za-z0-9_])`");
  int named = 0;
  for (auto it = std::sregex_iterator(readme.begin(), readme.end(), path_re); it != std::sregex_iterator(); ++it) {
    const std::string path = (*it)[1].str();
    named++;
    EXPECT_TRUE(std::filesystem::exists(test::source_dir() / path)) << "README names " << path << ", which is not there";
  }
  EXPECT_GT(named, 10);
}

// Every image README shows (![...](docs/x.png)) is in the repository.
TEST(ReadmeCommands, EveryImageExists) {
  const std::string readme = read_text(test::source_dir() / "README.md");
  const std::regex image_re("!\\[[^\\]]*\\]\\(([^)]+)\\)");
  int shown = 0;
  for (auto it = std::sregex_iterator(readme.begin(), readme.end(), image_re); it != std::sregex_iterator(); ++it) {
    shown++;
    EXPECT_TRUE(std::filesystem::exists(test::source_dir() / (*it)[1].str())) << "README shows " << (*it)[1].str();
  }
  EXPECT_GE(shown, 3);
}

TEST(ReadmeCommands, EveryCommandRuns) {
  LLAMA2_SHARED_MODEL(model, "aidreams260K.bin");
  LLAMA2_SHARED_MODEL(tok, "aidreams_tok512.bin");
  std::string script;
  for (const auto& b : sh_blocks(the_section())) script += b;
  ASSERT_FALSE(script.empty());
  // build/x at the start of a word -> this build's x.
  script = std::regex_replace(script, std::regex("(^|[\\s;|&(])build/"), "$1" + test::build_dir().string() + "/");
  const std::string tmp = test::make_temp_dir("readme");
  const std::string prelude = "set -eux\ncd " + quoted(test::source_dir().string()) +
                              "\nexport MODELS=" + quoted(test::shared_models_dir().string()) +
                              "\nexport TMPDIR=" + quoted(tmp) + "\n";
  const auto r = test::run_process({"/bin/sh", "-c", prelude + script}, "", 600);
  ASSERT_EQ(r.exit_code, 0) << "a command of the section failed; the trace ends with:\n"
                            << r.err.substr(r.err.size() > 3000 ? r.err.size() - 3000 : 0);
  // What the section promises the reader sees.
  for (const char* want : {"\xE2\x96\x81", "total N", "bits per byte", "perplexity"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want;
  }
  EXPECT_NE(r.err.find("[probs]"), std::string::npos);
  EXPECT_NE(r.err.find("bits/byte"), std::string::npos);
}

// The walkthrough points into the one-file reference as (`function`, line N):
// each must still be where README says.
TEST(ReadmeCommands, OneFileLinePointersAreCurrent) {
  const std::string section = the_section();
  std::ifstream in(test::source_dir() / "examples/one_file/llama2_one_file.cpp");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_GT(lines.size(), 100u);
  const std::regex pointer_re("\\(`(\\w+)`, line (\\d+)\\)");
  int pointers = 0;
  for (auto it = std::sregex_iterator(section.begin(), section.end(), pointer_re); it != std::sregex_iterator(); ++it) {
    const std::string name = (*it)[1].str();
    const std::size_t line = std::stoul((*it)[2].str());
    pointers++;
    ASSERT_LE(line, lines.size()) << name;
    EXPECT_NE(lines[line - 1].find(" " + name + "("), std::string::npos)
        << "README says " << name << " is at line " << line << " of the one-file reference: " << lines[line - 1];
  }
  EXPECT_GE(pointers, 5);
}

}  // namespace
}  // namespace llama2

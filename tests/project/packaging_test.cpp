// Tests that other projects can use llama2, the two usual ways:
//  (a) install this build (cmake --install) and build examples/ against it
//      with find_package(llama2);
//  (b) build examples/ with add_subdirectory of this source tree.
// Each builds only the example (plus, in (b), the library) in a temp folder,
// with the compiler, generator and build type of this build, and runs it.
#include <gtest/gtest.h>

#include <cstdio>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/shared_files.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;

namespace {

// --- helpers --------------------------------------------------------------------
using llama2::test::ProcessResult;
using llama2::test::run_process;
using llama2::test::TempDir;

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// NAME -> value of the entries "NAME:TYPE=value" of a CMakeCache.txt.
std::map<std::string, std::string> read_cache(const fs::path& build_dir) {
  std::map<std::string, std::string> cache;
  std::ifstream in(build_dir / "CMakeCache.txt");
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#' || line[0] == '/') continue;
    auto colon = line.find(':');
    auto eq = line.find('=');
    if (colon == std::string::npos || eq == std::string::npos || colon > eq) continue;
    cache[line.substr(0, colon)] = line.substr(eq + 1);
  }
  return cache;
}

// Our build's cmake, generator, compiler and build type, so that the example
// is built the same way as the library it links.
struct Toolchain {
  std::string cmake;
  std::vector<std::string> configure_flags;

  ProcessResult configure(const fs::path& source, const fs::path& build, std::vector<std::string> extra) const {
    std::vector<std::string> argv = {cmake, "-S", source.string(), "-B", build.string()};
    argv.insert(argv.end(), configure_flags.begin(), configure_flags.end());
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_process(argv, "", 300);
  }
  ProcessResult build(const fs::path& build) const {
    return run_process({cmake, "--build", build.string(), "-j2"}, "", 600);
  }
};

Toolchain this_build_toolchain() {
  auto cache = read_cache(llama2::test::build_dir());
  Toolchain t;
  t.cmake = cache.count("CMAKE_COMMAND") ? cache["CMAKE_COMMAND"] : "cmake";
  if (cache.count("CMAKE_GENERATOR")) t.configure_flags = {"-G", cache["CMAKE_GENERATOR"]};
  for (const char* var : {"CMAKE_CXX_COMPILER", "CMAKE_BUILD_TYPE", "CMAKE_MAKE_PROGRAM"}) {
    if (cache.count(var) && !cache[var].empty()) t.configure_flags.push_back("-D" + std::string(var) + "=" + cache[var]);
  }
  return t;
}

fs::path examples_dir() { return llama2::test::source_dir() / "examples"; }

// The built example answers --help and a bad model path properly.
void expect_example_runs(const fs::path& generate) {
  ASSERT_TRUE(fs::exists(generate)) << generate;
  ProcessResult help = run_process({generate.string(), "--help"});
  EXPECT_EQ(help.exit_code, 0) << help.out << help.err;
  EXPECT_EQ(help.out.rfind("usage: generate MODEL TOKENIZER", 0), 0u) << help.out;

  ProcessResult no_args = run_process({generate.string()});
  EXPECT_EQ(no_args.exit_code, 1) << no_args.out << no_args.err;
  EXPECT_EQ(no_args.err.rfind("usage: generate", 0), 0u) << no_args.err;

  ProcessResult missing = run_process({generate.string(), "/nonexistent/model.bin", "/nonexistent/tok.bin"});
  EXPECT_EQ(missing.exit_code, 1) << missing.out << missing.err;
  EXPECT_EQ(missing.err.rfind("generate: ", 0), 0u) << missing.err;
  EXPECT_NE(missing.err.find("/nonexistent/model.bin"), std::string::npos) << missing.err;
}

}  // namespace

// --- (a) installed package ----------------------------------------------------------

TEST(Packaging, InstalledPackageWorksWithFindPackage) {
  Toolchain tc = this_build_toolchain();
  TempDir tmp("packaging");
  fs::path prefix = tmp.path() / "prefix";
  ProcessResult install =
      run_process({tc.cmake, "--install", llama2::test::build_dir().string(), "--prefix", prefix.string()});
  ASSERT_EQ(install.exit_code, 0) << install.out << install.err;

  // Exactly the public headers, the static library, the package files.
  std::set<std::string> public_headers, installed_headers;
  for (const auto& e : fs::directory_iterator(llama2::test::source_dir() / "include" / "llama2")) {
    public_headers.insert("llama2/" + e.path().filename().string());
  }
  for (const auto& e : fs::recursive_directory_iterator(prefix / "include")) {
    if (e.is_regular_file()) installed_headers.insert(fs::relative(e.path(), prefix / "include").string());
  }
  EXPECT_TRUE(public_headers.count("llama2/transformer.hpp"));
  EXPECT_EQ(installed_headers, public_headers);
  fs::path config;
  for (const auto& e : fs::recursive_directory_iterator(prefix)) {
    if (e.path().filename() == "llama2Config.cmake") config = e.path();
  }
  ASSERT_FALSE(config.empty()) << "no llama2Config.cmake under " << prefix << "\n" << install.out;
  EXPECT_TRUE(fs::exists(config.parent_path() / "llama2ConfigVersion.cmake"));
  EXPECT_TRUE(fs::exists(config.parent_path() / "llama2Targets.cmake"));
  EXPECT_TRUE(fs::exists(config.parent_path().parent_path().parent_path() / "libllama2.a"));

  fs::path build = tmp.path() / "build";
  ProcessResult configure = tc.configure(examples_dir(), build, {"-DCMAKE_PREFIX_PATH=" + prefix.string()});
  ASSERT_EQ(configure.exit_code, 0) << configure.out << configure.err;
  // It found the installed package, not the source tree.
  EXPECT_EQ(read_cache(build)["llama2_DIR"], config.parent_path().string());
  EXPECT_FALSE(fs::exists(build / "llama2")) << "the source tree was built instead";

  ProcessResult built = tc.build(build);
  ASSERT_EQ(built.exit_code, 0) << built.out << built.err;
  expect_example_runs(build / "generate");

  // And it generates: greedy output of a real model is a prefix of what
  // llama2.c's run.c printed for the same prompt (the golden file).
  LLAMA2_SHARED_MODEL(model, "aidreams260K.bin");
  LLAMA2_SHARED_MODEL(tokenizer, "aidreams_tok512.bin");
  LLAMA2_SHARED_GOLDEN(golden_path, "aidreams260K_greedy.txt");
  std::string golden = read_text(golden_path);
  std::string start = "PROMPT: Once upon a time\n";
  auto at = golden.find(start);
  ASSERT_NE(at, std::string::npos);
  std::string expected = golden.substr(at + start.size(), golden.find("\n@@@", at) - at - start.size());
  ProcessResult gen = run_process({(build / "generate").string(), model, tokenizer, "Once upon a time", "24", "0"});
  ASSERT_EQ(gen.exit_code, 0) << gen.out << gen.err;
  ASSERT_FALSE(gen.out.empty());
  std::string text = gen.out.substr(0, gen.out.size() - 1);  // without the final newline
  EXPECT_GT(text.size(), std::string("Once upon a time").size() + 10) << text;
  EXPECT_EQ(expected.rfind(text, 0), 0u) << "generated:\n" << text << "\nllama2.c:\n" << expected;

  // The C example (llama2.h from C) prints the same greedy text.
  ProcessResult c_gen = run_process({(build / "generate_c").string(), model, tokenizer, "Once upon a time", "40"});
  ASSERT_EQ(c_gen.exit_code, 0) << c_gen.out << c_gen.err;
  EXPECT_EQ(expected.rfind(c_gen.out.substr(0, c_gen.out.size() - 1), 0), 0u) << c_gen.out;
  EXPECT_GT(c_gen.out.size(), text.size());

  // The chat example: two turns; with prefix reuse the second turn runs only its new tokens.
  ProcessResult chat = run_process({(build / "chat").string(), model, tokenizer}, "Hello\nTell me more\n");
  ASSERT_EQ(chat.exit_code, 0) << chat.out << chat.err;
  ProcessResult fresh = run_process({(build / "chat").string(), model, tokenizer, "--no-reuse"}, "Hello\nTell me more\n");
  EXPECT_EQ(chat.out, fresh.out);
  int reused_run = 0, fresh_run = 0, transcript = 0;
  ASSERT_EQ(std::sscanf(chat.err.substr(chat.err.find("[turn 2: ")).c_str(), "[turn 2: %d prompt tokens run, %d", &reused_run,
                        &transcript), 2) << chat.err;
  ASSERT_EQ(std::sscanf(fresh.err.substr(fresh.err.find("[turn 2: ")).c_str(), "[turn 2: %d", &fresh_run), 1) << fresh.err;
  EXPECT_EQ(fresh_run, transcript);
  EXPECT_LT(reused_run, transcript / 2);
}

// --- (b) add_subdirectory -------------------------------------------------------------

TEST(Packaging, SourceTreeWorksWithAddSubdirectory) {
  Toolchain tc = this_build_toolchain();
  TempDir tmp("packaging");
  fs::path build = tmp.path() / "build";
  ProcessResult configure =
      tc.configure(examples_dir(), build,
                   {"-DLLAMA2_EXAMPLES_FROM_SOURCE=ON", "-DLLAMA2_SOURCE_TREE=" + llama2::test::source_dir().string(),
                    // a build type CMake has no flags for: -O0 without -g, the
                    // quickest compile of the whole library (we only check it links)
                    "-DCMAKE_BUILD_TYPE=PackagingTest"});
  ASSERT_EQ(configure.exit_code, 0) << configure.out << configure.err;
  // As a sub-project, llama2 leaves out its tests and install rules.
  auto cache = read_cache(build);
  EXPECT_EQ(cache["LLAMA2_BUILD_TESTS"], "OFF");
  EXPECT_EQ(cache["LLAMA2_INSTALL"], "OFF");
  EXPECT_FALSE(fs::exists(build / "llama2" / "tests"));
  EXPECT_EQ(cache.count("llama2_DIR"), 0u) << "find_package was used";

  ProcessResult built = tc.build(build);
  ASSERT_EQ(built.exit_code, 0) << built.out << built.err;
  EXPECT_TRUE(fs::exists(build / "llama2" / "libllama2.a"));
  expect_example_runs(build / "generate");
  EXPECT_TRUE(fs::exists(build / "chat"));
  EXPECT_TRUE(fs::exists(build / "generate_c"));
}

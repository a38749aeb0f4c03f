// Finding the shared test files (real models, golden outputs).
//
// They live outside the project: by default in ../shared/models beside the
// checkout (the CMake cache entry LLAMA2_TEST_MODELS), or wherever the
// environment variable LLAMA2_TEST_MODELS points. The golden files are in
// the sibling folder "golden" of the models folder.
//
// Where a file is missing, a test that needs it is skipped with a message
// saying how to get it, except under CI (CI=true), where it fails.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace llama2::test {

inline std::filesystem::path shared_models_dir() {
  if (const char* env = std::getenv("LLAMA2_TEST_MODELS"); env && *env) return env;
  return LLAMA2_TEST_MODELS;
}

inline std::filesystem::path shared_golden_dir() { return shared_models_dir().parent_path() / "golden"; }

inline bool running_in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

inline std::filesystem::path build_dir() { return LLAMA2_BUILD_DIR; }
inline std::filesystem::path source_dir() { return LLAMA2_SOURCE_DIR; }

}  // namespace llama2::test

// Sets `var` (a std::string) to the path of shared file `rel` under `dir`,
// or skips the test (fails it under CI=true) when the file is missing.
#define LLAMA2_SHARED_FILE(var, dir, rel)                                                         \
  std::string var = ((dir) / (rel)).string();                                                     \
  if (!std::filesystem::exists(var)) {                                                            \
    if (::llama2::test::running_in_ci()) {                                                        \
      FAIL() << "missing shared test file " << var << " (CI=true: shared files are required)";   \
    }                                                                                             \
    GTEST_SKIP() << "missing " << var                                                             \
                 << ": run `models/download.sh test` and set LLAMA2_TEST_MODELS to its folder";   \
  }

#define LLAMA2_SHARED_MODEL(var, name) LLAMA2_SHARED_FILE(var, ::llama2::test::shared_models_dir(), name)
#define LLAMA2_SHARED_GOLDEN(var, name) LLAMA2_SHARED_FILE(var, ::llama2::test::shared_golden_dir(), name)

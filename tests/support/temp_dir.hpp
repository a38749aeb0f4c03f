// Temporary folders for the files tests write (models, tokenizers, outputs).
#pragma once

#include <filesystem>
#include <string>

namespace llama2::test {

// A fresh empty folder llama2_test_<tag>_XXXXXX in the system's temp folder,
// left for the OS to clean: for files a whole test suite shares.
std::string make_temp_dir(const std::string& tag);

// A fresh empty folder removed with everything in it when the object goes,
// even after a failed ASSERT. A fixture that derives from it (next to
// ::testing::Test) gives each test its own folder and file("m.bin").
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "tmp");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& dir() const { return dir_; }
  std::filesystem::path path() const { return dir_; }
  std::string file(const std::string& name) const { return dir_ + "/" + name; }

 private:
  std::string dir_;
};

}  // namespace llama2::test

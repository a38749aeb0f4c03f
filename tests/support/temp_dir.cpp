#include "support/temp_dir.hpp"

#include <stdlib.h>

#include <stdexcept>
#include <system_error>

namespace llama2::test {

std::string make_temp_dir(const std::string& tag) {
  std::string path = (std::filesystem::temp_directory_path() / ("llama2_test_" + tag + "_XXXXXX")).string();
  if (!::mkdtemp(path.data())) throw std::runtime_error("mkdtemp failed for " + path);
  return path;
}

TempDir::TempDir(const std::string& tag) : dir_(make_temp_dir(tag)) {}

TempDir::~TempDir() {
  std::error_code ec;  // a destructor must not throw
  std::filesystem::remove_all(dir_, ec);
}

}  // namespace llama2::test

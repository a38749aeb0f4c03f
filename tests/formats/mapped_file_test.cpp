// MappedFile: maps whole regular files read-only; refuses missing files,
// directories, devices and empty files with a message naming the path.
#include "llama2/mapped_file.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include "llama2/error.hpp"
#include "support/temp_dir.hpp"

namespace llama2 {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string map_error(const std::string& path) {
  try {
    MappedFile f(path);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected MappedFile(" << path << ") to throw";
  return "";
}

class MappedFileTest : public ::testing::Test, protected test::TempDir {
 protected:
  std::string write(const std::string& name, const std::string& content) {
    std::string path = file(name);
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
};

TEST_F(MappedFileTest, MapsTheWholeFile) {
  const std::string content = std::string("hello\0world", 11) + std::string(5000, 'x');
  const std::string path = write("a.bin", content);
  MappedFile f(path);
  ASSERT_NE(f.data(), nullptr);
  EXPECT_EQ(f.size(), content.size());
  EXPECT_EQ(f.path(), path);
  EXPECT_EQ(0, std::memcmp(f.data(), content.data(), content.size()));
}

TEST_F(MappedFileTest, MissingFile) {
  const std::string path = file("missing.bin");
  EXPECT_THAT(map_error(path), AllOf(HasSubstr(path + ": cannot open"), HasSubstr("No such file")));
}

TEST_F(MappedFileTest, Directory) {
  EXPECT_THAT(map_error(dir()), HasSubstr(dir() + ": not a regular file"));
}

TEST_F(MappedFileTest, CharacterDevice) {
  EXPECT_THAT(map_error("/dev/null"), HasSubstr("/dev/null: not a regular file"));
}

TEST_F(MappedFileTest, EmptyFile) {
  const std::string path = write("empty.bin", "");
  EXPECT_THAT(map_error(path), HasSubstr(path + ": file is empty (0 bytes)"));
}

TEST_F(MappedFileTest, DefaultIsEmpty) {
  MappedFile f;
  EXPECT_EQ(f.data(), nullptr);
  EXPECT_EQ(f.size(), 0u);
  EXPECT_EQ(f.path(), "");
}

TEST_F(MappedFileTest, MoveConstructTransfersTheMapping) {
  const std::string path = write("a.bin", "abcdef");
  MappedFile a(path);
  const std::uint8_t* data = a.data();
  MappedFile b(std::move(a));
  EXPECT_EQ(b.data(), data);
  EXPECT_EQ(b.size(), 6u);
  EXPECT_EQ(b.path(), path);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(0, std::memcmp(b.data(), "abcdef", 6));
}

TEST_F(MappedFileTest, MoveAssignReplacesTheMapping) {
  MappedFile a(write("a.bin", "first"));
  MappedFile b(write("b.bin", "second!"));
  const std::uint8_t* b_data = b.data();
  a = std::move(b);
  EXPECT_EQ(a.data(), b_data);
  EXPECT_EQ(a.size(), 7u);
  EXPECT_EQ(a.path(), file("b.bin"));
  EXPECT_EQ(0, std::memcmp(a.data(), "second!", 7));
  EXPECT_EQ(b.data(), nullptr);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(b.size(), 0u);
  MappedFile empty;
  a = std::move(empty);  // releases the old mapping
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(a.size(), 0u);
}

TEST_F(MappedFileTest, MappingOutlivesTheFileName) {
  const std::string path = write("gone.bin", "still here");
  MappedFile f(path);
  std::filesystem::remove(path);
  EXPECT_EQ(0, std::memcmp(f.data(), "still here", 10));
}

// read() copies a range by pread: the same bytes as the mapping, from the
// moved-to object too; ranges outside the mapping are refused by name.
TEST_F(MappedFileTest, ReadsARangeWithoutTheMapping) {
  std::string content(3 * 4096 + 17, '\0');
  for (std::size_t i = 0; i < content.size(); i++) content[i] = char(i * 7 + i / 4096);
  const std::string path = write("r.bin", content);
  MappedFile a(path);
  MappedFile f(std::move(a));
  std::string got(5000, '?');
  f.read(f.data() + 4000, 5000, got.data());
  EXPECT_EQ(got, content.substr(4000, 5000));
  f.read(f.data() + content.size() - 1, 1, got.data());
  EXPECT_EQ(got[0], content.back());
  EXPECT_TRUE(f.contains(f.data(), content.size()));
  EXPECT_TRUE(f.contains(f.data() + content.size(), 0));
  EXPECT_FALSE(f.contains(f.data() + 1, content.size()));
  EXPECT_FALSE(f.contains(f.data() - 1, 2));
  EXPECT_FALSE(f.contains(f.data() + 10, ~std::size_t(0) - 5));  // the end wraps
  try {
    f.read(f.data() + 10, content.size(), got.data());
    ADD_FAILURE() << "expected read() outside the file to throw";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr(path), HasSubstr("outside the file")));
  }
  EXPECT_FALSE(MappedFile().contains(nullptr, 0));
}

}  // namespace
}  // namespace llama2

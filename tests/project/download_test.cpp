// Tests of models/download.sh: it fetches from a loopback HTTP mirror
// (LLAMA2_DOWNLOAD_MIRROR) serving the shared models folder, keeps good files,
// and refuses corrupt ones. The independent reference is the shared folder's
// own SHA256SUMS and the bytes of the shared files.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "support/http_server.hpp"
#include "support/process.hpp"
#include "support/shared_files.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;

namespace {

// --- helpers --------------------------------------------------------------------
using llama2::test::ProcessResult;
using llama2::test::run_process;
using llama2::test::TempDir;

bool have_program(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// (file, digest) pairs of the shared folder's SHA256SUMS.
std::vector<std::pair<std::string, std::string>> read_sums(const fs::path& path) {
  std::vector<std::pair<std::string, std::string>> sums;
  std::ifstream in(path);
  std::string digest, file;
  while (in >> digest >> file) sums.emplace_back(file, digest);
  return sums;
}

std::string script() { return (llama2::test::source_dir() / "models" / "download.sh").string(); }

// Runs download.sh against `mirror`; `tool` empty = the script's own choice.
ProcessResult download(const std::string& mirror, const fs::path& out_dir, const std::string& name,
                       const std::string& tool = "") {
  return run_process({"env", "LLAMA2_DOWNLOAD_MIRROR=" + mirror, "LLAMA2_DOWNLOAD_TOOL=" + tool, "bash", script(),
                      "-o", out_dir.string(), name},
                     "", 120);
}

}  // namespace

// Skips (fails under CI=true) when no downloader is installed.
#define REQUIRE_DOWNLOADER()                                                          \
  if (!have_program("curl") && !have_program("wget")) {                               \
    if (::llama2::test::running_in_ci()) FAIL() << "CI=true: need curl or wget";      \
    GTEST_SKIP() << "neither curl nor wget is installed: cannot test download.sh";    \
  }

// --- the table -----------------------------------------------------------------------

// Every file of the shared test set is in the `test` name with its true size,
// and its digest is among the accepted ones.
TEST(DownloadScript, ListAgreesWithSharedSha256Sums) {
  LLAMA2_SHARED_MODEL(sums_path, "SHA256SUMS");
  auto sums = read_sums(sums_path);
  ASSERT_GE(sums.size(), 5u);
  ProcessResult r = run_process({"bash", script(), "--list"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const auto& [file, digest] : sums) {
    auto size = fs::file_size(llama2::test::shared_models_dir() / file);
    bool found = false;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream words(line);
      std::string name, listed_file, listed_size;
      words >> name >> listed_file >> listed_size;
      if (name == "test" && listed_file == file) {
        found = true;
        EXPECT_EQ(listed_size, std::to_string(size)) << file;
      }
    }
    EXPECT_TRUE(found) << file << " is not in the `test` set:\n" << r.out << r.err;
    EXPECT_NE(r.out.find(digest), std::string::npos) << "digest of " << file << " not listed";
  }
}

TEST(DownloadScript, RejectsUnknownName) {
  TempDir tmp("download");
  ProcessResult r = download("http://127.0.0.1:9", tmp.path(), "stories9000");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown name 'stories9000'"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.err.find("stories260K"), std::string::npos) << "should list the known names: " << r.out << r.err;
}

TEST(DownloadScript, RejectsUnknownTool) {
  TempDir tmp("download");
  ProcessResult r = download("http://127.0.0.1:9", tmp.path(), "tokenizer", "ftp");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("LLAMA2_DOWNLOAD_TOOL=ftp: expected curl or wget"), std::string::npos) << r.out << r.err;
}

// --- downloading -----------------------------------------------------------------------

class DownloadWithTool : public ::testing::TestWithParam<std::string> {};

// Fetches the whole test set from the mirror, byte-identical to the shared
// files; a second run verifies and keeps them without one request.
TEST_P(DownloadWithTool, FetchesTestSetAndKeepsItOnRerun) {
  REQUIRE_DOWNLOADER();
  if (!have_program(GetParam())) GTEST_SKIP() << GetParam() << " is not installed";
  LLAMA2_SHARED_MODEL(sums_path, "SHA256SUMS");
  auto sums = read_sums(sums_path);
  for (const auto& [file, digest] : sums) {
    LLAMA2_SHARED_MODEL(shared, file);
  }
  llama2::test::HttpServer server(llama2::test::shared_models_dir());
  TempDir tmp("download");
  fs::path out = tmp.path() / "models";  // created by the script

  ProcessResult first = download(server.url(), out, "test", GetParam());
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  std::vector<fs::file_time_type> mtimes;
  for (const auto& [file, digest] : sums) {
    ASSERT_TRUE(fs::exists(out / file)) << file << "\n" << first.out << first.err;
    EXPECT_EQ(read_bytes(out / file), read_bytes(llama2::test::shared_models_dir() / file)) << file;
    EXPECT_FALSE(fs::exists(out / (file + ".part"))) << file;
    mtimes.push_back(fs::last_write_time(out / file));
  }
  std::size_t requests = server.requests().size();
  EXPECT_EQ(requests, sums.size());

  ProcessResult second = download(server.url(), out, "test", GetParam());
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_EQ(server.requests().size(), requests) << "a good file was downloaded again:\n" << second.out << second.err;
  EXPECT_NE(second.out.find("already present, verified"), std::string::npos) << second.out << second.err;
  for (std::size_t i = 0; i < sums.size(); i++) {
    EXPECT_EQ(fs::last_write_time(out / sums[i].first), mtimes[i]) << sums[i].first;
  }
}

// A mirror file with one byte changed (same size) is refused and deleted.
TEST_P(DownloadWithTool, RefusesFileWithWrongDigest) {
  REQUIRE_DOWNLOADER();
  if (!have_program(GetParam())) GTEST_SKIP() << GetParam() << " is not installed";
  LLAMA2_SHARED_MODEL(tokenizer, "tokenizer.bin");
  TempDir tmp("download");
  fs::create_directories(tmp.path() / "mirror");
  std::string bytes = read_bytes(tokenizer);
  bytes[bytes.size() / 2] ^= 0x01;
  write_bytes(tmp.path() / "mirror" / "tokenizer.bin", bytes);
  llama2::test::HttpServer server(tmp.path() / "mirror");

  ProcessResult r = download(server.url(), tmp.path() / "out", "tokenizer", GetParam());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("tokenizer.bin: SHA-256 is "), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.err.find("expected 50a52ef822ee9e83de5ce9d0be0a025a773d019437f58b5ff9dcafb063ece361"),
            std::string::npos)
      << r.out << r.err;
  EXPECT_NE(r.err.find("refused tokenizer.bin"), std::string::npos) << r.out << r.err;
  EXPECT_FALSE(fs::exists(tmp.path() / "out" / "tokenizer.bin"));
  EXPECT_FALSE(fs::exists(tmp.path() / "out" / "tokenizer.bin.part"));
  EXPECT_EQ(server.requests(), std::vector<std::string>{"/tokenizer.bin"});
}

INSTANTIATE_TEST_SUITE_P(Tools, DownloadWithTool, ::testing::Values("curl", "wget"));

// A truncated file is refused on its size before any digest is computed.
TEST(DownloadScript, RefusesFileWithWrongSize) {
  REQUIRE_DOWNLOADER();
  LLAMA2_SHARED_MODEL(model, "aidreams260K.bin");
  TempDir tmp("download");
  fs::create_directories(tmp.path() / "mirror");
  std::string bytes = read_bytes(model);
  write_bytes(tmp.path() / "mirror" / "aidreams260K.bin", bytes.substr(0, bytes.size() - 1));
  llama2::test::HttpServer server(tmp.path() / "mirror");

  ProcessResult r = download(server.url(), tmp.path() / "out", "aidreams260K");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("aidreams260K.bin: size is 932123 bytes, expected 932124"), std::string::npos)
      << r.out << r.err;
  EXPECT_FALSE(fs::exists(tmp.path() / "out" / "aidreams260K.bin"));
  // The other file of the name is missing on this mirror: reported too.
  EXPECT_NE(r.err.find("aidreams_tok512.bin: download from " + server.url() + "/aidreams_tok512.bin failed"),
            std::string::npos)
      << r.out << r.err;
  EXPECT_NE(r.err.find("failed: aidreams260K.bin aidreams_tok512.bin"), std::string::npos) << r.out << r.err;
}

// A damaged file already in the folder is not kept: it is fetched again.
TEST(DownloadScript, ReplacesDamagedExistingFile) {
  REQUIRE_DOWNLOADER();
  LLAMA2_SHARED_MODEL(tokenizer, "tokenizer.model");
  TempDir tmp("download");
  write_bytes(tmp.path() / "tokenizer.model", "not a tokenizer");
  llama2::test::HttpServer server(llama2::test::shared_models_dir());

  ProcessResult r = download(server.url(), tmp.path(), "tokenizer-model");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("tokenizer.model: size is 15 bytes, expected 499723"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.err.find("is not the expected file; downloading it again"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(read_bytes(tmp.path() / "tokenizer.model"), read_bytes(tokenizer));
}

// The programs on a Hugging Face folder: run, info, tokenize and quantize
// take the folder (and its tokenizer.model) as they take a GGUF.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "llama2/model.hpp"
#include "support/gguf_builder.hpp"
#include "support/hf_writer.hpp"
#include "support/process.hpp"
#include "support/shared_files.hpp"
#include "support/temp_dir.hpp"

namespace llama2 {
namespace {

namespace fs = std::filesystem;
using test::run_process;

std::string tool(const std::string& name) { return (test::build_dir() / name).string(); }

// llama-2-tiny-random.gguf as an HF folder with Llama-2's tokenizer.model.
class HfCli : public ::testing::Test, protected test::TempDir {
 protected:
  void SetUp() override {
    gguf_ = (test::shared_models_dir() / "llama-2-tiny-random.gguf").string();
    const std::string spm = (test::shared_models_dir() / "tokenizer.model").string();
    if (!fs::exists(gguf_) || !fs::exists(spm)) {
      if (test::running_in_ci()) FAIL() << "missing " << gguf_ << " or " << spm;
      GTEST_SKIP() << "missing " << gguf_ << " or " << spm << ": run `models/download.sh test`";
    }
    test::write_hf_folder(file("hf"), test::weights_from_model(Model::load(gguf_)));
    fs::copy_file(spm, file("hf/tokenizer.model"));
  }
  std::string gguf_;
};

TEST_F(HfCli, RunGivesTheGgufsTextAndInfoNamesTheFormat) {
  const std::vector<std::string> args = {"-n", "12", "-t", "0", "-i", "Hello world"};
  auto with = [&](const std::string& model) {
    std::vector<std::string> argv = {tool("run"), model};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  };
  const auto hf = run_process(with(file("hf")));
  ASSERT_EQ(hf.exit_code, 0) << hf.err;
  const auto gguf = run_process(with(gguf_));
  ASSERT_EQ(gguf.exit_code, 0) << gguf.err;
  EXPECT_EQ(hf.out, gguf.out);
  EXPECT_NE(hf.out.find("Hello world"), std::string::npos) << hf.out;

  const auto info = run_process({tool("info"), file("hf")});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("Hugging Face folder (safetensors)"), std::string::npos) << info.out;
}

TEST_F(HfCli, TokenizeTakesTheModelFileOrTheFolder) {
  for (const std::string& tok : {file("hf/tokenizer.model"), file("hf")}) {
    const auto r = run_process({tool("tokenize"), tok, "-i", "Hello world"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "1 15043 3186\n");
  }
}

TEST_F(HfCli, QuantizeUsesTheFoldersTokenizer) {
  auto r = run_process({tool("quantize"), file("hf"), file("q8.gguf"), "Q8_0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_process({tool("quantize"), file("hf"), file("f32.gguf"), "F32"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The F32 copy is the same model (q/k back in GGUF's order): the same text.
  const auto a = run_process({tool("run"), file("f32.gguf"), "-n", "12", "-t", "0", "-i", "Hello world"});
  const auto b = run_process({tool("run"), file("hf"), "-n", "12", "-t", "0", "-i", "Hello world"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(run_process({tool("tokenize"), file("q8.gguf"), "-i", "Hello world"}).out, "1 15043 3186\n");
}

TEST_F(HfCli, AFolderWithOnlyTokenizerJsonSaysItIsNotSupportedYet) {
  fs::remove(file("hf/tokenizer.model"));
  std::ofstream(file("hf/tokenizer.json")) << "{}";
  const auto r = run_process({tool("run"), file("hf"), "-n", "4"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("tokenizer.json (Hugging Face tokenizers) is not supported yet"), std::string::npos) << r.err;
  // With -z it runs.
  const auto z = run_process({tool("run"), file("hf"), "-n", "4", "-t", "0",
                              "-z", (test::shared_models_dir() / "tokenizer.model").string()});
  EXPECT_EQ(z.exit_code, 0) << z.err;
}

}  // namespace
}  // namespace llama2

// SentencePiece's tokenizer.model as a Vocab (src/formats/sentencepiece_model.cpp
// on the wire reader src/formats/protobuf.cpp): Llama-2's model gives exactly
// tokenizer.bin's ids; broken or unsupported models are refused by name.
#include "formats/sentencepiece_model.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "formats/protobuf.hpp"
#include "llama2/error.hpp"
#include "llama2/tokenizer.hpp"
#include "support/expect_error.hpp"
#include "support/jsonl.hpp"
#include "support/sentencepiece_writer.hpp"
#include "support/shared_files.hpp"
#include "support/temp_dir.hpp"

namespace llama2 {
namespace {

using test::expect_error;

using test::Proto;
using test::SmallModel;
using test::piece;

Vocab load(const std::string& bytes) {
  return load_sentencepiece_vocab(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), "t.model");
}

TEST(SentencepieceModel, ReadsPiecesScoresTypesAndSettings) {
  SmallModel m;
  const Vocab v = load(m.bytes());
  ASSERT_EQ(v.pieces.size(), 266u);
  EXPECT_EQ(v.pieces[0], "<unk>");
  EXPECT_EQ(v.types[0], TokenType::UNKNOWN);
  EXPECT_EQ(v.types[1], TokenType::CONTROL);
  EXPECT_EQ(v.pieces[3], "<0x00>");
  EXPECT_EQ(v.types[3 + 255], TokenType::BYTE);
  EXPECT_EQ(v.pieces[261], "\xE2\x96\x81the");
  EXPECT_EQ(v.scores[261], -2.0f);
  EXPECT_EQ(v.types[261], TokenType::NORMAL);
  EXPECT_EQ(v.unk_id, 0);
  EXPECT_EQ(v.bos_id, 1);
  EXPECT_EQ(v.eos_id, 2);
  EXPECT_TRUE(v.add_space_prefix);
  // The tokenizer built on it: "the" -> "▁the" by merges, "x" by bytes.
  const Tokenizer tok(v);
  EXPECT_EQ(tok.encode("the x", true, false), (std::vector<int>{1, 261, 265, 3 + 'x'}));

  m.normalizer = Proto{};
  m.normalizer.str(1, "identity").num(3, 0).num(4, 0);  // add_dummy_prefix false
  EXPECT_FALSE(load(m.bytes()).add_space_prefix);
  EXPECT_TRUE(looks_like_sentencepiece_model(reinterpret_cast<const std::uint8_t*>(m.bytes().data()), 20));
}

TEST(SentencepieceModel, RefusesSettingsItDoesNotImplement) {
  auto refused = [](auto change, const std::string& message) {
    SmallModel m;
    change(m);
    expect_error([&] { load(m.bytes()); }, message);
  };
  refused([](SmallModel& m) { m.trainer.num(3, 1); }, "t.model: trainer_spec.model_type = UNIGRAM (1): only BPE (2) is supported");
  refused([](SmallModel& m) { m.trainer = Proto{}; m.trainer.num(35, 1); }, "model_type = UNIGRAM (1)");  // the default
  refused([](SmallModel& m) { m.trainer.num(3, 9); }, "model_type = unknown (9)");
  refused([](SmallModel& m) { m.trainer.num(35, 0); }, "trainer_spec.byte_fallback = false: not supported");
  refused([](SmallModel& m) { m.trainer.num(24, 1); }, "trainer_spec.treat_whitespace_as_suffix = true");
  refused([](SmallModel& m) { m.trainer.str(44, "?"); }, "trainer_spec.unk_surface = \"?\"");
  refused([](SmallModel& m) { m.normalizer.str(1, "nmt_nfkc"); },
          "t.model: normalizer_spec.name = \"nmt_nfkc\": only \"identity\"");
  refused([](SmallModel& m) { m.normalizer.str(2, "abc"); }, "normalizer_spec.precompiled_charsmap has 3 bytes");
  refused([](SmallModel& m) { m.normalizer.num(4, 1); }, "normalizer_spec.remove_extra_whitespaces = true");
  refused([](SmallModel& m) { m.normalizer = Proto{}; m.normalizer.str(1, "identity"); },
          "remove_extra_whitespaces = true (the default when absent)");
  refused([](SmallModel& m) { m.normalizer.num(5, 0); }, "normalizer_spec.escape_whitespaces = false");
  refused([](SmallModel& m) { m.normalizer.str(6, "41\t61\n"); }, "normalizer_spec.normalization_rule_tsv is not empty");
  refused([](SmallModel& m) { m.pieces[264] = piece("abc", 0, 4); },
          "t.model: piece 264 \"abc\": type USER_DEFINED is not supported");
  refused([](SmallModel& m) { m.pieces[264] = piece("abc", 0, 7); }, "piece 264 \"abc\": type = 7, expected");
  refused([](SmallModel& m) { m.trainer.num(41, -1); }, "trainer_spec.bos_id = -1, expected a piece id in [0, 266)");
  refused([](SmallModel& m) { m.trainer.num(42, 5); },
          "trainer_spec.eos_id = 5 is piece \"<0x02>\" of type BYTE, expected CONTROL");
  refused([](SmallModel& m) { m.pieces[10] = piece("xx", 0, 6); }, "piece 10 \"xx\" has type BYTE, expected it spelled <0xNN>");
  refused([](SmallModel& m) { m.pieces[10] = piece("<0x07>", 0, 1); }, "255 pieces of type BYTE, expected 256");
  refused([](SmallModel& m) { m.pieces[10] = Proto{}.f32(2, 1.0f); }, "piece 10 (at byte");
}

TEST(SentencepieceModel, RefusesMalformedProtobuf) {
  const std::string good = SmallModel().bytes();
  // Every truncation is an error, never a crash or a silently shorter vocab.
  for (std::size_t n = 0; n < good.size(); n += (n < 300 ? 1 : 97)) {
    EXPECT_THROW(load(good.substr(0, n)), Error) << n;
  }
  expect_error([&] { load(good.substr(0, 5)); }, "t.model: ModelProto: byte 0: field 1: length 14 is past the end (3 bytes left)");
  expect_error([&] { load(std::string("\x0A\xFF", 2)); }, "truncated length");
  expect_error([&] { load(std::string(11, '\xFF')); }, "byte 0: field key varint overflows 64 bits");
  expect_error([&] { load(std::string("\x0B\x00", 2)); }, "field 1 has wire type 3 (start group)");
  expect_error([&] { load(std::string("\x08\x01", 2)); }, "field 1 (pieces) has wire type varint, expected length-delimited");
  expect_error([&] { load(std::string("\x00\x01", 2)); }, "field number 0 is invalid");
  expect_error([&] { load(Proto{}.num(3, 1).b); }, "normalizer_spec");
  expect_error([&] { load(""); }, "no pieces");
  Proto bad_score;
  bad_score.msg(1, Proto{}.str(1, "a").num(2, 5));  // score as a varint
  expect_error([&] { load(bad_score.b); }, "t.model: piece 0: byte 5: field 2 (score) has wire type varint, expected fixed32");
  SmallModel m;
  m.trainer.key(40, 0).varint(std::uint64_t(1) << 40);
  expect_error([&] { load(m.bytes()); }, "unk_id = 1099511627776 does not fit in an int32");
}

// --- Llama-2's tokenizer.model --------------------------------------------------------

TEST(SentencepieceShared, Llama2ModelHasTokenizerBinsVocab) {
  LLAMA2_SHARED_MODEL(model, "tokenizer.model");
  LLAMA2_SHARED_MODEL(bin, "tokenizer.bin");
  const Vocab a = Tokenizer::load(model).vocab();
  const Vocab b = Tokenizer::load(bin).vocab();
  ASSERT_EQ(a.pieces.size(), 32000u);
  EXPECT_EQ(a.pieces, b.pieces);
  EXPECT_EQ(a.scores, b.scores);
  EXPECT_EQ(a.types, b.types);
  EXPECT_EQ(a.bos_id, b.bos_id);
  EXPECT_EQ(a.eos_id, b.eos_id);
  EXPECT_EQ(a.unk_id, b.unk_id);
  EXPECT_TRUE(a.add_space_prefix);
}

TEST(SentencepieceShared, Llama2ModelGivesTokenizerBinsIdsOnGoldenAndHardCases) {
  LLAMA2_SHARED_MODEL(model, "tokenizer.model");
  LLAMA2_SHARED_MODEL(bin, "tokenizer.bin");
  LLAMA2_SHARED_GOLDEN(golden, "tokenizer_llama2.jsonl");
  const Tokenizer from_model = Tokenizer::load(model);
  const Tokenizer from_bin = Tokenizer::load(bin);
  auto cases = test::read_jsonl(golden);
  for (auto& c : test::read_jsonl((test::source_dir() / "tests/data/tokenizer_hard_cases.jsonl").string())) {
    cases.push_back(std::move(c));
  }
  ASSERT_GT(cases.size(), 60u);
  int matched = 0;
  for (const auto& c : cases) {
    const std::vector<int> ids = from_model.encode(c.str("text"), false, false);
    EXPECT_EQ(ids, from_bin.encode(c.str("text"), false, false)) << "line " << c.line_number;
    if (ids == c.ints("ids")) {
      matched++;
    } else {
      ADD_FAILURE() << "line " << c.line_number << ": \"" << c.str("text") << "\"";
    }
  }
  std::printf("[          ] tokenizer.model: %d / %zu golden + hard cases match\n", matched, cases.size());
  EXPECT_EQ(matched, int(cases.size()));
}

TEST(SentencepieceShared, FolderMeansItsTokenizerModel) {
  LLAMA2_SHARED_MODEL(model, "tokenizer.model");
  test::TempDir dir("spm");
  std::ofstream(dir.file("tokenizer.json")) << "{}";
  expect_error([&] { Tokenizer::load(dir.dir()); }, "tokenizer.json (Hugging Face tokenizers) is not supported yet");
  std::filesystem::copy_file(model, dir.file("tokenizer.model"));
  EXPECT_EQ(Tokenizer::load(dir.dir()).encode("Hello world", true, false), (std::vector<int>{1, 15043, 3186}));
  std::filesystem::remove(dir.file("tokenizer.model"));
  std::filesystem::remove(dir.file("tokenizer.json"));
  expect_error([&] { Tokenizer::load(dir.dir()); }, "is a folder without tokenizer.model");
}

}  // namespace
}  // namespace llama2

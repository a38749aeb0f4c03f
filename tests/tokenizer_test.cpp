// Tests for src/tokenizer.cpp: tokenizer.bin loading (and every way a file
// can be bad), encode against SentencePiece's own output (the shared golden
// file and tests/data/*.jsonl, written by tests/data/make_tokenizer_cases.py
// with the real sentencepiece library), decode, Utf8Stream, and the
// build/tokenize program.
#include "llama2/tokenizer.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "llama2/error.hpp"
#include "support/expect_error.hpp"
#include "support/jsonl.hpp"
#include "support/shared_files.hpp"
#include "support/temp_dir.hpp"

namespace llama2 {
namespace {

namespace fs = std::filesystem;
using ::llama2::test::read_jsonl;

// "Once upon a time" with BOS, from golden/aidreams260K_logits.txt (llama2.c run.c).
const std::vector<int> kAidreamsPrompt = {1, 429, 491, 433, 295, 429, 444, 445, 265, 262, 263, 342, 430};

std::string show_ids(const std::vector<int>& ids) {
  std::string s;
  for (int id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
  return "[" + s + "]";
}

// Is `s` well-formed UTF-8? (Independent of the tokenizer's own decoder.)
bool valid_utf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

// A literal '▁' in a text is a space to SentencePiece: it decodes as ' '.
std::string as_decoded(std::string text) {
  for (std::size_t i; (i = text.find("\u2581")) != std::string::npos;) text.replace(i, 3, " ");
  return text;
}

// Encodes every line's text and compares with its ids; returns how many
// matched and reports the first few mismatches.
int check_encode_cases(const Tokenizer& tok, const std::vector<test::JsonLine>& cases) {
  int matched = 0, reported = 0;
  for (const auto& c : cases) {
    const std::string& text = c.str("text");
    const std::vector<int> got = tok.encode(text, false, false);
    if (got == c.ints("ids")) {
      ++matched;
    } else if (reported++ < 5) {
      ADD_FAILURE() << "line " << c.line_number << ": text \"" << text << "\"\n  expected " << show_ids(c.ints("ids"))
                    << "\n  got      " << show_ids(got);
    }
  }
  return matched;
}

// --- loading tokenizer.bin --------------------------------------------------------------

TEST(TokenizerLoad, Llama2VocabMatchesSentencePiece) {
  LLAMA2_SHARED_MODEL(path, "tokenizer.bin");
  const Tokenizer tok = Tokenizer::load(path);
  ASSERT_EQ(tok.vocab_size(), 32000);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  // Piece text and types as sp.id_to_piece / sp.is_* report them.
  EXPECT_EQ(tok.piece(0), "<unk>");
  EXPECT_EQ(tok.piece(1), "<s>");
  EXPECT_EQ(tok.piece(2), "</s>");
  EXPECT_EQ(tok.piece(3), "<0x00>");
  EXPECT_EQ(tok.piece(13), "<0x0A>");
  EXPECT_EQ(tok.piece(259), "\u2581\u2581");
  EXPECT_EQ(tok.piece(260), "\u2581t");
  EXPECT_EQ(tok.piece(29871), "\u2581");
  EXPECT_EQ(tok.piece(15043), "\u2581Hello");
  EXPECT_EQ(tok.vocab().types[0], TokenType::UNKNOWN);
  EXPECT_EQ(tok.vocab().types[1], TokenType::CONTROL);
  EXPECT_EQ(tok.vocab().types[2], TokenType::CONTROL);
  int bytes = 0, normal = 0;
  for (TokenType t : tok.vocab().types) {
    bytes += t == TokenType::BYTE;
    normal += t == TokenType::NORMAL;
  }
  EXPECT_EQ(bytes, 256);
  EXPECT_EQ(normal, 31741);
  EXPECT_EQ(tok.vocab().scores[259], -1e9f);
  EXPECT_EQ(tok.vocab().scores[260], -1.0f);
  EXPECT_EQ(tok.piece_id("\u2581Hello"), 15043);
  EXPECT_EQ(tok.piece_id(" Hello"), -1);  // spaces were turned back into '▁'
  EXPECT_EQ(tok.piece_id("<s>"), 1);
}

TEST(TokenizerLoad, AidreamsVocab) {
  LLAMA2_SHARED_MODEL(path, "aidreams_tok512.bin");
  const Tokenizer tok = Tokenizer::load(path);
  EXPECT_EQ(tok.vocab_size(), 512);
  EXPECT_EQ(tok.piece(262), "\u2581a");
  EXPECT_EQ(tok.vocab().types[258], TokenType::BYTE);
}

// Writes tokenizer.bin-shaped bytes for the bad-file tests.
class BadTokenizerFile : public ::testing::Test, protected test::TempDir {
 protected:
  static void put_i32(std::string& b, std::int32_t v) { b.append(reinterpret_cast<const char*>(&v), 4); }
  static void put_f32(std::string& b, float v) { b.append(reinterpret_cast<const char*>(&v), 4); }
  static void put_entry(std::string& b, float score, const std::string& piece) {
    put_f32(b, score);
    put_i32(b, static_cast<std::int32_t>(piece.size()));
    b += piece;
  }
  // A valid header and the three special entries (4 + 3 * 8 + 5 + 5 + 6 = 44 bytes).
  static std::string good_start() {
    std::string b;
    put_i32(b, 8);
    put_entry(b, 0, "<unk>");
    put_entry(b, 0, "\n<s>\n");
    put_entry(b, 0, "\n</s>\n");
    return b;
  }
  std::string write(const std::string& name, const std::string& bytes) {
    const std::string path = file(name);
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  // The message of the llama2::Error that loading `path` throws.
  static std::string load_error(const std::string& path) {
    return test::error_message([&] { Tokenizer::load(path); });
  }
};

TEST_F(BadTokenizerFile, GoodSmallFileLoads) {
  std::string b = good_start();
  put_entry(b, -1, " a");
  put_entry(b, 0, "<0x41>");
  const Tokenizer tok = Tokenizer::load(write("good.bin", b));
  ASSERT_EQ(tok.vocab_size(), 5);
  EXPECT_EQ(tok.piece(3), "\u2581a");
  EXPECT_EQ(tok.vocab().types[4], TokenType::BYTE);
  // "A" is not a piece: byte fallback through the <0x41> entry, wherever it is.
  EXPECT_EQ(tok.encode("aA", false, false), (std::vector<int>{3, 4}));
}

TEST_F(BadTokenizerFile, MissingFile) {
  const std::string path = file("nope.bin");
  const std::string msg = load_error(path);
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("cannot open"), std::string::npos) << msg;
}

TEST_F(BadTokenizerFile, EmptyFile) {
  const std::string path = write("empty.bin", "");
  const std::string msg = load_error(path);
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
}

TEST_F(BadTokenizerFile, TruncatedHeader) {
  const std::string path = write("short.bin", std::string("\x08\x00", 2));
  const std::string msg = load_error(path);
  EXPECT_NE(msg.find(path + ": truncated header: max_token_length needs 4 bytes but the file has 2"), std::string::npos)
      << msg;
}

TEST_F(BadTokenizerFile, NonPositiveMaxTokenLength) {
  std::string b = good_start();
  std::int32_t minus_one = -1;
  std::memcpy(b.data(), &minus_one, 4);
  const std::string path = write("maxlen.bin", b);
  const std::string msg = load_error(path);
  EXPECT_NE(msg.find(path + ": header field max_token_length = -1 at offset 0, expected a positive number"),
            std::string::npos)
      << msg;
}

TEST_F(BadTokenizerFile, ZeroEntries) {
  std::string b;
  put_i32(b, 8);
  const std::string path = write("zero.bin", b);
  const std::string msg = load_error(path);
  EXPECT_NE(msg.find(path + ": 0 vocab entries after the 4-byte header"), std::string::npos) << msg;
}

TEST_F(BadTokenizerFile, TooFewEntries) {
  std::string b;
  put_i32(b, 8);
  put_entry(b, 0, "<unk>");
  put_entry(b, 0, "<s>");
  const std::string msg = load_error(write("two.bin", b));
  EXPECT_NE(msg.find(": 2 vocab entries after the 4-byte header, expected at least 3"), std::string::npos) << msg;
}

TEST_F(BadTokenizerFile, TruncatedEntry) {
  std::string b = good_start();
  b += std::string("\x00\x00\x80\xbf\x02", 5);  // score -1.0 and one byte of the length
  const std::string path = write("trunc.bin", b);
  const std::string msg = load_error(path);
  EXPECT_NE(msg.find(path + ": entry 3 at offset 44: truncated: score and length need 8 bytes but only 5 remain"),
            std::string::npos)
      << msg;
}

TEST_F(BadTokenizerFile, NegativeLength) {
  std::string b;
  put_i32(b, 8);
  put_entry(b, 0, "<unk>");
  put_f32(b, 0);
  put_i32(b, -5);
  b += "xxxxxxxx";
  const std::string path = write("neg.bin", b);
  const std::string msg = load_error(path);
  EXPECT_NE(msg.find(path + ": entry 1 at offset 17: piece length = -5 (at offset 21), expected 0 or more"),
            std::string::npos)
      << msg;
}

TEST_F(BadTokenizerFile, HugeLength) {
  std::string b = good_start();
  put_f32(b, -1);
  put_i32(b, 0x7FFFFFFF);
  b += "abc";
  const std::string path = write("huge.bin", b);
  const std::string msg = load_error(path);
  EXPECT_NE(msg.find(path + ": entry 3 at offset 44: piece length = 2147483647 (at offset 48) but only 3 bytes "
                            "remain in the file"),
            std::string::npos)
      << msg;
}

TEST_F(BadTokenizerFile, LengthPastEndOfFile) {
  std::string b = good_start();
  put_f32(b, -1);
  put_i32(b, 10);
  b += "abcdefghi";  // one byte short
  const std::string msg = load_error(write("short_piece.bin", b));
  EXPECT_NE(msg.find("entry 3 at offset 44: piece length = 10 (at offset 48) but only 9 bytes remain"),
            std::string::npos)
      << msg;
}

TEST_F(BadTokenizerFile, NonFiniteScore) {
  std::string b = good_start();
  put_entry(b, std::nanf(""), "a");
  const std::string msg = load_error(write("nan.bin", b));
  EXPECT_NE(msg.find("entry 3 at offset 44: score = nan, expected a finite number"), std::string::npos) << msg;
}

TEST_F(BadTokenizerFile, GgufGoesToTheGgufReader) {
  // "GGUF" magic but no tokenizer metadata: the GGUF reader's error, not tokenizer.bin's.
  const std::string path = write("vocab.gguf", std::string("GGUF\x03\x00\x00\x00", 8) + std::string(16, '\0'));
  const std::string msg = load_error(path);
  EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
  EXPECT_EQ(msg.find("max_token_length"), std::string::npos) << msg;
}

TEST(TokenizerLoad, GgufVocabEqualsTokenizerBin) {
  LLAMA2_SHARED_MODEL(bin_path, "tokenizer.bin");
  LLAMA2_SHARED_MODEL(gguf_path, "ggml-vocab-llama-spm.gguf");
  const Tokenizer bin = Tokenizer::load(bin_path);
  const Tokenizer gguf = Tokenizer::load(gguf_path);
  ASSERT_EQ(gguf.vocab_size(), bin.vocab_size());
  EXPECT_EQ(gguf.vocab().pieces, bin.vocab().pieces);
  EXPECT_EQ(gguf.vocab().scores, bin.vocab().scores);
  EXPECT_EQ(gguf.vocab().types, bin.vocab().types);
  EXPECT_EQ(gguf.encode("Hello world \xf0\x9f\xa6\x99", true, false), bin.encode("Hello world \xf0\x9f\xa6\x99", true, false));
}

// --- Tokenizer(Vocab) ------------------------------------------------------------------------

// A hand-made vocab: <unk> <s> </s>, then the given (piece, score) pairs.
Vocab small_vocab(const std::vector<std::pair<std::string, float>>& extra) {
  Vocab v;
  v.pieces = {"<unk>", "<s>", "</s>"};
  v.scores = {0, 0, 0};
  v.types = {TokenType::UNKNOWN, TokenType::CONTROL, TokenType::CONTROL};
  for (const auto& [piece, score] : extra) {
    v.pieces.push_back(piece);
    v.scores.push_back(score);
    v.types.push_back(TokenType::NORMAL);
  }
  v.add_space_prefix = false;
  return v;
}

std::string vocab_error(Vocab v) {
  return test::error_message([&] { Tokenizer tok(std::move(v)); });
}

TEST(TokenizerVocab, RejectsInconsistentVocabs) {
  Vocab v = small_vocab({{"a", 0}});
  v.scores.pop_back();
  EXPECT_EQ(vocab_error(v), "tokenizer vocab: 4 pieces but 3 scores and 4 types, expected one of each per piece");

  v = small_vocab({{"a", 0}});
  v.bos_id = 4;
  EXPECT_EQ(vocab_error(v), "tokenizer vocab: bos_id = 4, expected an id in [0, 4)");

  v = small_vocab({{"a", 0}});
  v.unk_id = -1;
  EXPECT_EQ(vocab_error(v), "tokenizer vocab: unk_id = -1, expected an id in [0, 4)");

  v = small_vocab({{"a", INFINITY}});
  EXPECT_EQ(vocab_error(v), "tokenizer vocab: score of piece 3 is inf, expected a finite number");

  v = small_vocab({{"0x41", 0}});
  v.types[3] = TokenType::BYTE;
  EXPECT_EQ(vocab_error(v), "tokenizer vocab: piece 3 \"0x41\" has type BYTE, expected it to be spelled <0xNN>");

  EXPECT_EQ(vocab_error(Vocab{}), "tokenizer vocab: no pieces, expected at least one");
}

// --- encode: the merge rules on hand-made vocabs ------------------------------------------------

TEST(TokenizerEncode, HighestScoreMergesFirst) {
  // ids 3 a, 4 b, 5 c, 6 ab, 7 bc, 8 abc
  Tokenizer tok(small_vocab({{"a", -10}, {"b", -10}, {"c", -10}, {"ab", -2}, {"bc", -1}, {"abc", -5}}));
  // "bc" (-1) beats "ab" (-2); then "a"+"bc" = "abc" exists.
  EXPECT_EQ(tok.encode("abc", false, false), (std::vector<int>{8}));
  Tokenizer no_abc(small_vocab({{"a", -10}, {"b", -10}, {"c", -10}, {"ab", -2}, {"bc", -1}}));
  EXPECT_EQ(no_abc.encode("abc", false, false), (std::vector<int>{3, 7}));
}

TEST(TokenizerEncode, TiesMergeLeftmostFirst) {
  // ids 3 a, 4 aa
  Tokenizer tok(small_vocab({{"a", -10}, {"aa", -1}}));
  EXPECT_EQ(tok.encode("aaa", false, false), (std::vector<int>{4, 3}));
  EXPECT_EQ(tok.encode("aaaaa", false, false), (std::vector<int>{4, 4, 3}));
  // ids 3 x, 4 y, 5 xy, 6 yx: equal scores, so "xy" at the left wins in "xyx".
  Tokenizer tie(small_vocab({{"x", -10}, {"y", -10}, {"xy", -1}, {"yx", -1}}));
  EXPECT_EQ(tie.encode("xyx", false, false), (std::vector<int>{5, 3}));
  EXPECT_EQ(tie.encode("yxy", false, false), (std::vector<int>{6, 4}));
}

TEST(TokenizerEncode, NeverMergesIntoSpecialPieces) {
  Vocab v = small_vocab({{"a", -10}, {"b", -10}, {"ab", 0}, {"ba", 0}, {"bb", 0}, {"aa", 0}});
  v.types[5] = TokenType::CONTROL;  // ab
  v.types[6] = TokenType::UNUSED;   // ba
  v.types[8] = TokenType::UNKNOWN;  // aa
  v.types[7] = TokenType::USER_DEFINED;  // bb may be produced
  Tokenizer tok(v);
  EXPECT_EQ(tok.encode("abba", false, false), (std::vector<int>{3, 7, 3}));
  EXPECT_EQ(tok.encode("aa", false, false), (std::vector<int>{3, 3}));
}

TEST(TokenizerEncode, DummyPrefixAndSpaces) {
  Vocab v = small_vocab({{"\u2581", -10}, {"a", -10}, {"\u2581a", -1}});
  v.add_space_prefix = true;
  Tokenizer tok(v);
  EXPECT_EQ(tok.encode("a a", false, false), (std::vector<int>{5, 5}));
  EXPECT_EQ(tok.encode(" a", false, false), (std::vector<int>{3, 5}));
  EXPECT_EQ(tok.encode("", false, false), (std::vector<int>{}));
  EXPECT_EQ(tok.encode("", true, true), (std::vector<int>{1, 2}));
  v.add_space_prefix = false;
  Tokenizer no_prefix(v);
  EXPECT_EQ(no_prefix.encode("a a", false, false), (std::vector<int>{4, 5}));
}

TEST(TokenizerEncode, UnknownWithoutByteTokensIsOneUnkPerRun) {
  Tokenizer tok(small_vocab({{"a", -1}}));
  EXPECT_EQ(tok.encode("xyaz\xff", false, false), (std::vector<int>{0, 3, 0}));
}

// --- encode: against SentencePiece -----------------------------------------------------------------

class Llama2Tokenizer : public ::testing::Test {
 protected:
  static const Tokenizer* tok() {
    static const Tokenizer* t = [] {
      const fs::path path = test::shared_models_dir() / "tokenizer.bin";
      return fs::exists(path) ? new Tokenizer(Tokenizer::load(path.string())) : nullptr;
    }();
    return t;
  }
  void SetUp() override {
    LLAMA2_SHARED_MODEL(path, "tokenizer.bin");
    ASSERT_NE(tok(), nullptr);
  }
  static std::vector<test::JsonLine> hard_cases() {
    return read_jsonl((test::source_dir() / "tests/data/tokenizer_hard_cases.jsonl").string());
  }
};

TEST_F(Llama2Tokenizer, SharedGoldenMatchesExactly) {
  LLAMA2_SHARED_GOLDEN(golden, "tokenizer_llama2.jsonl");
  const auto cases = read_jsonl(golden);
  ASSERT_GT(cases.size(), 40u);
  const int matched = check_encode_cases(*tok(), cases);
  std::printf("[          ] golden tokenizer_llama2.jsonl: %d / %zu match\n", matched, cases.size());
  EXPECT_EQ(matched, static_cast<int>(cases.size()));
}

TEST_F(Llama2Tokenizer, HardCasesMatchExactly) {
  const auto cases = hard_cases();
  ASSERT_GT(cases.size(), 300u);
  const int matched = check_encode_cases(*tok(), cases);
  std::printf("[          ] tests/data/tokenizer_hard_cases.jsonl: %d / %zu match\n", matched, cases.size());
  EXPECT_EQ(matched, static_cast<int>(cases.size()));
}

TEST_F(Llama2Tokenizer, DecodeAllMatchesSentencePiece) {
  const auto cases = read_jsonl((test::source_dir() / "tests/data/tokenizer_decode_cases.jsonl").string());
  ASSERT_GT(cases.size(), 400u);
  int matched = 0;
  for (const auto& c : cases) {
    const std::string got = tok()->decode_all(c.ints("ids"));
    if (got == c.str("text")) {
      ++matched;
    } else {
      ADD_FAILURE() << "line " << c.line_number << ": ids " << show_ids(c.ints("ids")) << "\n  expected \""
                    << c.str("text") << "\"\n  got      \"" << got << "\"";
    }
  }
  EXPECT_EQ(matched, static_cast<int>(cases.size()));
}

TEST_F(Llama2Tokenizer, RoundTripsEveryGoldenText) {
  std::vector<test::JsonLine> cases = hard_cases();
  const fs::path golden = test::shared_golden_dir() / "tokenizer_llama2.jsonl";
  if (fs::exists(golden)) {
    for (auto& c : read_jsonl(golden.string())) cases.push_back(std::move(c));
  }
  for (const auto& c : cases) {
    const std::string text = as_decoded(c.str("text"));
    EXPECT_EQ(tok()->decode_all(tok()->encode(c.str("text"), false, false)), text) << "line " << c.line_number;
    // Streaming as llama2.c does: decode(prev, token) after BOS, piece by piece.
    const std::vector<int> ids = tok()->encode(c.str("text"), true, true);
    std::string streamed;
    for (std::size_t i = 1; i < ids.size(); ++i) streamed += tok()->decode(ids[i - 1], ids[i]);
    EXPECT_EQ(streamed, text) << "line " << c.line_number;
    EXPECT_EQ(tok()->decode_all(ids), text) << "line " << c.line_number;
  }
}

TEST_F(Llama2Tokenizer, BosAndEosAreOnlyIds) {
  EXPECT_EQ(tok()->encode("Hello world", true, false), (std::vector<int>{1, 15043, 3186}));
  EXPECT_EQ(tok()->encode("Hello world", true, true), (std::vector<int>{1, 15043, 3186, 2}));
  EXPECT_EQ(tok()->encode("Hello world", false, true), (std::vector<int>{15043, 3186, 2}));
  EXPECT_EQ(tok()->encode("", true, false), (std::vector<int>{1}));
  // sp.encode("<s>") == [529, 29879, 29958]: plain text.
  EXPECT_EQ(tok()->encode("<s>", false, false), (std::vector<int>{529, 29879, 29958}));
}

TEST_F(Llama2Tokenizer, InvalidUtf8BecomesByteTokens) {
  // SentencePiece would turn each invalid byte into U+FFFD (id 30140); we keep
  // the byte as its <0xNN> token (id byte + 3) so the text round-trips.
  // sp.encode(b"\xffabc") == [29871, 30140, 10736]
  EXPECT_EQ(tok()->encode("\xff" "abc", false, false), (std::vector<int>{29871, 0xFF + 3, 10736}));
  // sp.encode(b"a\xc3") == [263, 30140]: a truncated 2-byte character.
  EXPECT_EQ(tok()->encode("a\xc3", false, false), (std::vector<int>{263, 0xC3 + 3}));
  // A UTF-16 surrogate encoded in UTF-8 is not a character: three bytes.
  EXPECT_EQ(tok()->encode("\xed\xa0\x80x", false, false), (std::vector<int>{29871, 0xED + 3, 0xA0 + 3, 0x80 + 3, 29916}));
  // Overlong '/' (C0 AF) and a stray continuation byte.
  EXPECT_EQ(tok()->encode("\xc0\xaf\x80", false, false), (std::vector<int>{29871, 0xC0 + 3, 0xAF + 3, 0x80 + 3}));
  for (std::string text : {"\xff" "abc", "a\xc3", "\xed\xa0\x80x", "\xf4\x90\x80\x80", "ok \xe2\x82 \xe2\x82\xac"}) {
    EXPECT_EQ(tok()->decode_all(tok()->encode(text, true, false)), text);
  }
}

TEST_F(Llama2Tokenizer, DecodeFollowsLlama2c) {
  EXPECT_EQ(tok()->decode(1, 15043), "Hello");    // after BOS the leading space goes
  EXPECT_EQ(tok()->decode(15043, 3186), " world");
  EXPECT_EQ(tok()->decode(1, 29871), "");
  EXPECT_EQ(tok()->decode(3186, 13), "\n");       // <0x0A>
  EXPECT_EQ(tok()->decode(1, 0x20 + 3), " ");     // a byte token keeps its space
  EXPECT_EQ(tok()->decode(3186, 1), "");          // control tokens are invisible
  EXPECT_EQ(tok()->decode(3186, 2), "");
  EXPECT_EQ(tok()->decode(3186, 0), " \u2047 ");  // <unk> as SentencePiece shows it
  EXPECT_EQ(tok()->decode(3186, 0xE2 + 3), std::string("\xE2"));
  try {
    tok()->decode(1, 32000);
    ADD_FAILURE() << "decode of id 32000 did not throw";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "decode: token id 32000 is outside the vocabulary [0, 32000)");
  }
  try {
    tok()->decode_all({1, -1});
    ADD_FAILURE() << "decode_all of id -1 did not throw";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "decode_all: token id -1 is outside the vocabulary [0, 32000)");
  }
}

TEST_F(Llama2Tokenizer, LongTextsRoundTrip) {
  // 200 KB of mixed text and one 100 KB "word": the priority-queue BPE makes
  // these O(n log n) (llama2.c's rescanning loop would be O(n^2)).
  const auto cases = hard_cases();
  std::string big;
  for (std::size_t i = 0; big.size() < 200'000; ++i) big += cases[i % cases.size()].str("text") + " ";
  const std::vector<int> ids = tok()->encode(big, false, false);
  EXPECT_LT(ids.size(), big.size());
  EXPECT_EQ(tok()->decode_all(ids), as_decoded(big));

  const std::string word(100'000, 'a');
  const std::vector<int> word_ids = tok()->encode(word, false, false);
  // sp.encode("a" * 100000): "▁a", 24999 x "aaaa", "aa", "a".
  std::vector<int> expected = {263};
  expected.insert(expected.end(), 24999, 27137);
  expected.insert(expected.end(), {7340, 29874});
  EXPECT_EQ(word_ids, expected);
  EXPECT_EQ(tok()->decode_all(word_ids), word);
}

TEST(AidreamsTokenizer, OnceUponATimeMatchesLlama2c) {
  LLAMA2_SHARED_MODEL(path, "aidreams_tok512.bin");
  const Tokenizer tok = Tokenizer::load(path);
  const std::vector<int> ids = tok.encode("Once upon a time", true, false);
  EXPECT_EQ(ids, kAidreamsPrompt) << show_ids(ids);
  EXPECT_EQ(tok.decode_all(ids), "Once upon a time");
  std::string streamed;
  for (std::size_t i = 1; i < ids.size(); ++i) streamed += tok.decode(ids[i - 1], ids[i]);
  EXPECT_EQ(streamed, "Once upon a time");
  for (std::string text : {"", " ", "Hello, world!\n\tTabs  and  spaces", "ünïcödé 🦙 漢字", "\xff\xfe"}) {
    EXPECT_EQ(tok.decode_all(tok.encode(text, true, true)), text);
  }
}

// --- Utf8Stream --------------------------------------------------------------------------------

TEST(Utf8Stream, EverySplitOfMultibyteTextKeepsCharactersWhole) {
  for (std::string text : {"\u00e9", "\u20ac", "\U0001F999", "a\u20acb\U0001F999c\u00e9", "\u4e2d\u6587 ok \u00fc"}) {
    for (std::size_t i = 0; i <= text.size(); ++i) {
      for (std::size_t j = i; j <= text.size(); ++j) {
        Utf8Stream s;
        std::string parts[4] = {s.push(text.substr(0, i)), s.push(text.substr(i, j - i)), s.push(text.substr(j)),
                                s.flush()};
        EXPECT_EQ(parts[0] + parts[1] + parts[2] + parts[3], text) << i << " " << j;
        for (const auto& p : parts) EXPECT_TRUE(valid_utf8(p)) << "split " << i << " " << j;
        EXPECT_EQ(parts[3], "");  // valid text is complete by the end
      }
    }
    // One byte at a time: each character comes out whole, as soon as it is complete.
    Utf8Stream s;
    std::string out;
    for (char c : text) {
      std::string part = s.push(std::string(1, c));
      EXPECT_TRUE(valid_utf8(part));
      out += part;
    }
    EXPECT_EQ(out, text);
    EXPECT_EQ(s.flush(), "");
  }
}

TEST(Utf8Stream, InvalidBytesPassThrough) {
  Utf8Stream s;
  EXPECT_EQ(s.push("\xff"), "\xff");               // never a lead byte
  EXPECT_EQ(s.push("\x80" "abc"), "\x80" "abc");   // stray continuation
  EXPECT_EQ(s.push("\xc0"), "\xc0");               // overlong lead
  EXPECT_EQ(s.push("\xed\xa0"), "\xed\xa0");       // surrogate: cannot become valid
  EXPECT_EQ(s.push("\xf4\x90"), "\xf4\x90");       // beyond U+10FFFF
  EXPECT_EQ(s.push("a\xe2\x82"), "a");             // incomplete '€': held
  EXPECT_EQ(s.push("("), "\xe2\x82(");             // ... and released when it cannot complete
  EXPECT_EQ(s.push("\xc3"), "");
  EXPECT_EQ(s.flush(), "\xc3");                    // end of stream: whatever is held
  EXPECT_EQ(s.flush(), "");
  EXPECT_EQ(s.push("\xf0\x9f\xa6"), "");
  EXPECT_EQ(s.push("\x99!"), "\U0001F999!");
}

// --- build/tokenize ------------------------------------------------------------------------------

struct RunResult {
  int status = -1;
  std::string out, err;
};

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs build/tokenize with `args`, capturing stdout, stderr and the exit status.
RunResult run_tokenize(const std::vector<std::string>& args) {
  const test::TempDir tmp("tokenize");
  const std::string err_path = tmp.file("stderr.txt");
  std::string cmd = shell_quote((test::build_dir() / "tokenize").string());
  for (const auto& a : args) cmd += " " + shell_quote(a);
  cmd += " 2>" + shell_quote(err_path);
  RunResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = slurp(err_path);
  return r;
}

class TokenizeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(test::build_dir() / "tokenize")) GTEST_SKIP() << "build/tokenize is not built";
  }
};

TEST_F(TokenizeCli, PrintsIds) {
  LLAMA2_SHARED_MODEL(path, "tokenizer.bin");
  RunResult r = run_tokenize({path, "-i", "Hello world"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "1 15043 3186\n");
  EXPECT_EQ(r.err, "");
  r = run_tokenize({path, "--no-bos", "-i", " this is \xf0\x9f\xa6\x99.cpp"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "29871 445 338 29871 243 162 169 156 29889 8223\n");  // from the shared golden file
  r = run_tokenize({path, "-i", "", "--no-bos"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "\n");
}

TEST_F(TokenizeCli, PrintsPieces) {
  LLAMA2_SHARED_MODEL(path, "tokenizer.bin");
  const RunResult r = run_tokenize({path, "-i", "Hello world\n", "--pieces"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "1\t<s>\n15043\t\u2581Hello\n3186\t\u2581world\n13\t<0x0A>\n");
}

TEST_F(TokenizeCli, ReadsFile) {
  LLAMA2_SHARED_MODEL(path, "aidreams_tok512.bin");
  const test::TempDir tmp("tokenize");
  const std::string text = tmp.file("in.txt");
  std::ofstream(text, std::ios::binary) << "Once upon a time";
  const RunResult r = run_tokenize({path, "-f", text});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "1 429 491 433 295 429 444 445 265 262 263 342 430\n");
}

TEST_F(TokenizeCli, Help) {
  const RunResult r = run_tokenize({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out.rfind("usage: tokenize TOKENIZER", 0), 0u) << r.out;
}

TEST_F(TokenizeCli, BadUsageExits2) {
  const std::string tok = (test::shared_models_dir() / "tokenizer.bin").string();
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const Case cases[] = {
      {{tok, "-i", "x", "--bogus"}, "tokenize: unknown option --bogus (see 'tokenize --help')\n"},
      {{tok, "-i"}, "tokenize: -i needs a value (see 'tokenize --help')\n"},
      {{tok, "-i", "x", "-f", "y"}, "tokenize: give the text once, with either -i or -f (see 'tokenize --help')\n"},
      {{tok}, "tokenize: missing the text: give -i TEXT or -f FILE (see 'tokenize --help')\n"},
      {{"-i", "x"}, "tokenize: missing the TOKENIZER file (see 'tokenize --help')\n"},
      {{tok, "extra", "-i", "x"}, "tokenize: unexpected argument extra (the tokenizer is already " + tok +
                                      ") (see 'tokenize --help')\n"},
      {{tok, "-f", "/nonexistent/input.txt"}, "tokenize: cannot read input file /nonexistent/input.txt (see 'tokenize --help')\n"},
  };
  for (const auto& c : cases) {
    const RunResult r = run_tokenize(c.args);
    EXPECT_EQ(r.status, 2) << c.message;
    EXPECT_EQ(r.err, c.message);
    EXPECT_EQ(r.out, "");
  }
}

TEST_F(TokenizeCli, BadTokenizerExits1) {
  const RunResult r = run_tokenize({"/nonexistent/tokenizer.bin", "-i", "x"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err.rfind("tokenize: error: /nonexistent/tokenizer.bin: cannot open", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.out, "");
}

}  // namespace
}  // namespace llama2

// The GGUF tokenizer metadata reader (src/formats/gguf_vocab.cpp): piece types when
// the file has no tokenizer.ggml.token_type.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "formats/gguf.hpp"
#include "llama2/tokenizer.hpp"
#include "support/gguf_builder.hpp"
#include "support/jsonl.hpp"
#include "support/shared_files.hpp"

namespace llama2 {
namespace {

using test::GgufBuilder;

// <unk> <s> </s>, the 256 byte pieces <0x00>..<0xFF> (ids 3..258), then
// "▁a" .. "▁z": the layout of a Llama-2 vocabulary, in miniature.
std::vector<std::string> small_pieces() {
  std::vector<std::string> pieces = {"<unk>", "<s>", "</s>"};
  for (int i = 0; i < 256; i++) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", i);
    pieces.push_back(buf);
  }
  for (char c = 'a'; c <= 'z'; c++) pieces.push_back(std::string("\xE2\x96\x81") + c);
  return pieces;
}

// A tokenizer-only GGUF with these pieces and no tokenizer.ggml.token_type.
GgufBuilder untyped_vocab(const std::vector<std::string>& pieces, const std::vector<float>& scores) {
  GgufBuilder b;
  b.kv_str("tokenizer.ggml.model", "llama")
      .kv_str_array("tokenizer.ggml.tokens", pieces)
      .kv_f32_array("tokenizer.ggml.scores", scores);
  return b;
}

Vocab load(const GgufBuilder& b) {
  const test::Bytes bytes = b.bytes();
  GgufFile f(bytes.data(), bytes.size(), "untyped.gguf");
  return load_gguf_vocab(f);
}

TEST(GgufVocabTypes, WithoutTokenTypeInfersTypesLikeTokenizerBin) {
  const std::vector<std::string> pieces = small_pieces();
  const Vocab v = load(untyped_vocab(pieces, std::vector<float>(pieces.size(), 0.0f)));
  ASSERT_EQ(v.types.size(), pieces.size());
  EXPECT_EQ(v.types[0], TokenType::UNKNOWN);
  EXPECT_EQ(v.types[1], TokenType::CONTROL);
  EXPECT_EQ(v.types[2], TokenType::CONTROL);
  for (int b = 0; b < 256; b++) EXPECT_EQ(v.types[std::size_t(3 + b)], TokenType::BYTE) << pieces[std::size_t(3 + b)];
  for (std::size_t i = 259; i < pieces.size(); i++) EXPECT_EQ(v.types[i], TokenType::NORMAL) << pieces[i];
}

TEST(GgufVocabTypes, WithoutTokenTypeUnknownCharactersBecomeByteTokens) {
  const std::vector<std::string> pieces = small_pieces();
  const Tokenizer tok(load(untyped_vocab(pieces, std::vector<float>(pieces.size(), 0.0f))));
  // "é" is not in the vocab: with the dummy prefix the text is "▁é", whose
  // UTF-8 bytes E2 96 81 C3 A9 each become their <0xNN> piece (id 3 + byte).
  EXPECT_EQ(tok.encode("\xC3\xA9", true, false), (std::vector<int>{1, 3 + 0xE2, 3 + 0x96, 3 + 0x81, 3 + 0xC3, 3 + 0xA9}));
  // A known piece next to an unknown character: "▁a" then the bytes of "é".
  EXPECT_EQ(tok.encode("a\xC3\xA9", false, false), (std::vector<int>{259, 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(tok.decode_all(tok.encode("a\xC3\xA9", true, false)), "a\xC3\xA9");
  // <s> in text is ordinary text, never the control token.
  for (int id : tok.encode("<s>", false, false)) EXPECT_NE(id, 1);
}

TEST(GgufVocabTypes, WithoutTokenTypeFollowsTheMetadataTokenIds) {
  // Special tokens at the end, as some converters put them; a piece that only
  // looks like a byte piece ("<0xZZ>", "<0x4>") stays NORMAL.
  std::vector<std::string> pieces = {"\xE2\x96\x81x", "<0x41>", "<0x4>", "<0xZZ>", "<0xe9>", "[UNK]", "[BOS]", "[EOS]"};
  GgufBuilder b = untyped_vocab(pieces, std::vector<float>(pieces.size(), 0.0f));
  b.kv_u32("tokenizer.ggml.unknown_token_id", 5)
      .kv_u32("tokenizer.ggml.bos_token_id", 6)
      .kv_u32("tokenizer.ggml.eos_token_id", 7);
  const Vocab v = load(b);
  const std::vector<TokenType> want = {TokenType::NORMAL, TokenType::BYTE,    TokenType::NORMAL,  TokenType::NORMAL,
                                       TokenType::BYTE,   TokenType::UNKNOWN, TokenType::CONTROL, TokenType::CONTROL};
  EXPECT_EQ(v.types, want);
  const Tokenizer tok{Vocab(v)};
  // "▁xA": "▁x" is a piece, "A" is not and falls back to its byte piece <0x41>.
  EXPECT_EQ(tok.encode("xA", false, false), (std::vector<int>{0, 1}));
}

TEST(GgufVocabTypes, AnExplicitTokenTypeIsKept) {
  // token_type present: the file's types win over what the spelling suggests.
  const std::vector<std::string> pieces = small_pieces();
  std::vector<std::int32_t> types(pieces.size(), 1);  // all NORMAL, even <0xNN>
  GgufBuilder b = untyped_vocab(pieces, std::vector<float>(pieces.size(), 0.0f));
  b.kv_i32_array("tokenizer.ggml.token_type", types);
  const Vocab v = load(b);
  EXPECT_EQ(v.types, std::vector<TokenType>(pieces.size(), TokenType::NORMAL));
}

// The real Llama-2 vocabulary without its token_type array must tokenize
// exactly as with it: every golden case through both.
TEST(GgufVocabTypesShared, Llama2VocabWithoutTokenTypeMatchesTokenizerBin) {
  LLAMA2_SHARED_MODEL(bin, "tokenizer.bin");
  LLAMA2_SHARED_GOLDEN(golden, "tokenizer_llama2.jsonl");
  const Tokenizer typed = Tokenizer::load(bin);
  const Vocab& tv = typed.vocab();
  const Vocab uv = load(untyped_vocab(tv.pieces, tv.scores));
  EXPECT_EQ(uv.types, tv.types);
  const Tokenizer untyped{Vocab(uv)};
  const auto cases = test::read_jsonl(golden);
  ASSERT_GT(cases.size(), 40u);
  for (const auto& c : cases) {
    const std::string text = c.str("text");
    EXPECT_EQ(untyped.encode(text, true, false), typed.encode(text, true, false)) << text;
  }
}

}  // namespace
}  // namespace llama2

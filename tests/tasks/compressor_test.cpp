// Compressor: byte-exact round trips of any input (empty, text, binary,
// invalid UTF-8, longer than the context), compressed with 2 threads and
// decompressed with 1; and a clear llama2::Error for another model or
// tokenizer, a truncated, corrupted or foreign stream.
#include "llama2/compressor.hpp"

#include <gtest/gtest.h>

#include "support/expect_error.hpp"

#include <memory>
#include <random>

#include "llama2/error.hpp"
#include "support/shared_files.hpp"
#include "support/synthetic_model.hpp"

namespace llama2 {
namespace {

using llama2::test::expect_error;

// A synthetic model (seq_len 40) and tokenizer of the same vocab size; with
// vocab >= 259 the tokenizer has the 256 byte pieces, below it has none.
struct SyntheticPair {
  std::string model_path, tok_path;
  std::unique_ptr<Transformer> t2, t1;  // 2 threads (compress), 1 thread (decompress)
  std::unique_ptr<Tokenizer> tok;

  explicit SyntheticPair(int vocab, std::uint64_t seed = 31) {
    Config c = test::small_config();
    c.vocab_size = vocab;
    const std::string dir = test::make_temp_dir("compressor");
    model_path = dir + "/model.bin";
    tok_path = dir + "/tok.bin";
    test::write_llama2c_v0(model_path, test::make_weights(c, seed));
    test::write_tokenizer_bin(tok_path, vocab);
    t2 = std::make_unique<Transformer>(model_path, 2);
    t1 = std::make_unique<Transformer>(model_path, 1);
    tok = std::make_unique<Tokenizer>(Tokenizer::load(tok_path));
  }
  Compressor compressor(Transformer& t, std::uint64_t model_fp = 0x1111, std::uint64_t tok_fp = 0x2222) {
    return Compressor(t, *tok, model_fp, tok_fp);
  }
};

std::string random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = char(rng() & 0xFF);
  return s;
}

void expect_round_trip(SyntheticPair& s, const std::string& input, CompressStats* out_stats = nullptr) {
  CompressStats stats;
  const std::string packed = s.compressor(*s.t2).compress(input, &stats);
  EXPECT_EQ(stats.output_bytes, packed.size());
  EXPECT_EQ(stats.input_bytes, input.size());
  const std::string unpacked = s.compressor(*s.t1).decompress(packed);
  EXPECT_EQ(unpacked.size(), input.size());
  EXPECT_TRUE(unpacked == input) << "round trip changed the bytes";
  if (out_stats) *out_stats = stats;
}

TEST(Compressor, RoundTripsAnyInputWithByteTokens) {
  SyntheticPair s(300);
  expect_round_trip(s, "");
  expect_round_trip(s, "a");
  expect_round_trip(s, "hello world, abc def ghi");
  expect_round_trip(s, " leading and trailing spaces  ");
  expect_round_trip(s, random_bytes(300, 1));
  static const char kBadUtf8[] = "\xff\xfe\xc3(\xe2\x82 \x80\x80\0\0 bad utf-8";  // embedded NULs
  expect_round_trip(s, std::string(kBadUtf8, sizeof kBadUtf8 - 1));
  expect_round_trip(s, std::string(1, '\0'));
  expect_round_trip(s, "\xe2\x96\x81 the space piece itself");
}

TEST(Compressor, LongInputRestartsTheWindow) {
  SyntheticPair s(300);
  std::string input;
  for (int i = 0; i < 12; i++) input += "abc de fgh ij " + std::to_string(i) + "\n";  // far more than 40 tokens
  CompressStats stats;
  expect_round_trip(s, input, &stats);
  // Restarts re-feed K = 20 tokens, so there are more forward passes than symbols.
  EXPECT_GT(stats.symbols, 80u);
  EXPECT_GT(stats.forward_passes, stats.symbols + 20);
}

// Without byte pieces, text the vocab cannot spell goes byte by byte through
// the escape symbol, and still round-trips.
TEST(Compressor, EscapesBytesTheVocabCannotSpell) {
  SyntheticPair s(67);
  bool fallback = false;
  const Compressor c = s.compressor(*s.t1);
  std::vector<int> syms = c.symbols_for("abc", &fallback);
  EXPECT_FALSE(fallback);
  syms = c.symbols_for("a\x01", &fallback);
  EXPECT_TRUE(fallback);
  EXPECT_EQ(syms, (std::vector<int>{67, 'a', 67, 1}));  // no <0xNN> pieces: escape + byte each
  CompressStats stats;
  expect_round_trip(s, "xyz \x01\x02 QRS \xff", &stats);
  EXPECT_TRUE(stats.byte_fallback);
  expect_round_trip(s, random_bytes(100, 2));
}

TEST(Compressor, HeaderRecordsLengthsAndFingerprints) {
  SyntheticPair s(300);
  const std::string input = "abc def";
  const std::string packed = s.compressor(*s.t2, 0xABCDEF, 0x123).compress(input);
  const CompressedHeader h = read_compressed_header(packed);
  EXPECT_EQ(h.version, kCompressedVersion);
  EXPECT_EQ(h.original_bytes, input.size());
  EXPECT_EQ(h.model_fingerprint, 0xABCDEFu);
  EXPECT_EQ(h.tokenizer_fingerprint, 0x123u);
  EXPECT_EQ(h.content_fingerprint, fingerprint64(input));
  EXPECT_EQ(h.context, 40u);
  EXPECT_EQ(packed.substr(0, 4), "L2CZ");
}

TEST(Compressor, RejectsAnotherModelOrTokenizer) {
  SyntheticPair s(300);
  const std::string packed = s.compressor(*s.t2, 1, 2).compress("abc def");
  expect_error([&] { s.compressor(*s.t1, 9, 2).decompress(packed); }, "made with a different model");
  expect_error([&] { s.compressor(*s.t1, 1, 9).decompress(packed); }, "made with a different tokenizer");
  // Another context is another model too: its probabilities after a restart differ.
  Transformer short_ctx(s.model_path, 1, 20);
  expect_error([&] { s.compressor(short_ctx, 1, 2).decompress(packed); }, "made with context 40, the model runs with 20");
  // A tokenizer of another size cannot drive this model at all.
  const Tokenizer small = Tokenizer::load(SyntheticPair(67).tok_path);
  expect_error([&] { Compressor(*s.t1, small, 1, 2); }, "the tokenizer has 67 pieces but the model");
}

TEST(Compressor, RejectsTruncatedForeignAndBadHeaders) {
  SyntheticPair s(300);
  const std::string input = "hello there, abc def ghi jkl";
  const std::string packed = s.compressor(*s.t2).compress(input);
  Compressor c = s.compressor(*s.t1);
  expect_error([&] { c.decompress("PK\x03\x04 not ours"); }, "magic is not \"L2CZ\"");
  expect_error([&] { c.decompress(""); }, "magic is not \"L2CZ\"");
  expect_error([&] { c.decompress(packed.substr(0, 30)); }, "truncated: 30 bytes, the header alone needs 56");
  for (std::size_t cut = kCompressedHeaderBytes; cut < packed.size(); cut++) {
    EXPECT_THROW(c.decompress(packed.substr(0, cut)), Error) << "cut at " << cut;
  }
  expect_error([&] { c.decompress(packed.substr(0, packed.size() - 1)); }, "truncated");
  expect_error([&] { c.decompress(packed + "junk"); }, "4 trailing bytes");
  std::string v3 = packed;
  v3[4] = 3;
  expect_error([&] { c.decompress(v3); }, "format version 3, this program reads version 2");
  std::string v1 = packed;
  v1[4] = 1;
  expect_error([&] { c.decompress(v1); }, "format version 1, made by an older compress");
  std::string many = packed;
  many[16] = char(0xFF);  // more symbols than bytes
  expect_error([&] { c.decompress(many); }, "header is corrupted");
  std::string longer = packed;
  longer[8] = char(longer[8] + 1);  // original length + 1
  EXPECT_THROW(c.decompress(longer), Error);
}

// Every single-byte corruption of the payload either raises llama2::Error or
// (when it only touches the final flush bytes the decoder does not need)
// still decodes to exactly the original - never to other bytes.
TEST(Compressor, CorruptedPayloadNeverGivesWrongBytes) {
  SyntheticPair s(300);
  const std::string input = "the quick brown fox jumps over the lazy dog; abc def ghi";
  const std::string packed = s.compressor(*s.t2).compress(input);
  Compressor c = s.compressor(*s.t1);
  int errors = 0, total = 0;
  for (std::size_t i = kCompressedHeaderBytes; i < packed.size(); i++) {
    for (int bit : {0, 3, 7}) {
      std::string bad = packed;
      bad[i] = char(bad[i] ^ (1 << bit));
      total++;
      try {
        EXPECT_EQ(c.decompress(bad), input) << "byte " << i << " bit " << bit;
      } catch (const Error& e) {
        errors++;
        EXPECT_NE(std::string(e.what()).find("stream"), std::string::npos) << e.what();
      }
    }
  }
  EXPECT_GT(errors, total * 8 / 10) << errors << " of " << total;
  // The header's content fingerprint alone is checked too.
  std::string bad_fp = packed;
  bad_fp[40] = char(bad_fp[40] ^ 1);
  expect_error([&] { c.decompress(bad_fp); }, "do not match the original's fingerprint");
}

TEST(Compressor, FingerprintDependsOnEveryByteAndLength) {
  EXPECT_NE(fingerprint64(""), fingerprint64(std::string(1, '\0')));
  EXPECT_NE(fingerprint64(std::string(8, '\0')), fingerprint64(std::string(16, '\0')));
  const std::string a = random_bytes(1000, 3);
  for (std::size_t i : {0, 7, 8, 500, 999}) {
    std::string b = a;
    b[i] = char(b[i] ^ 0x40);
    EXPECT_NE(fingerprint64(a), fingerprint64(b)) << i;
  }
  expect_error([] { file_fingerprint("/nonexistent/model.bin"); }, "/nonexistent/model.bin");
}

// A real model on real text: its own kind of text compresses far below 8 bits
// per byte, and a file longer than its 128-token context round-trips.
TEST(Compressor, Aidreams260KOnText) {
  LLAMA2_SHARED_MODEL(model_path, "aidreams260K.bin");
  LLAMA2_SHARED_MODEL(tok_path, "aidreams_tok512.bin");
  const Tokenizer tok = Tokenizer::load(tok_path);
  Transformer t2(model_path, 2), t1(model_path, 1);
  const std::uint64_t mfp = file_fingerprint(model_path), tfp = file_fingerprint(tok_path);
  std::string text;
  for (int i = 0; i < 4; i++) {
    text += "In the quiet hum of circuits, I dream of data and light. Whispers of patterns unfold "
            "like layers of a neural network, each weight a memory. ";
  }
  CompressStats stats;
  const std::string packed = Compressor(t2, tok, mfp, tfp).compress(text, &stats);
  EXPECT_GT(stats.symbols, 128u);  // > the 128-token context: the window restarted
  const double payload_bpb = 8.0 * double(packed.size() - kCompressedHeaderBytes) / double(text.size());
  EXPECT_LT(payload_bpb, 2.0) << payload_bpb;
  EXPECT_FALSE(stats.byte_fallback);  // a real vocab spells text in tokens
  EXPECT_EQ(Compressor(t1, tok, mfp, tfp).decompress(packed), text);
}

}  // namespace
}  // namespace llama2

// GGUF reader, Model from GGUF and the GGUF tokenizer (src/gguf*.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "kernels/fp16.hpp"
#include "formats/gguf.hpp"
#include "llama2/error.hpp"
#include "llama2/mapped_file.hpp"
#include "llama2/model.hpp"
#include "llama2/tokenizer.hpp"
#include "llama2/transformer.hpp"
#include "kernels/quants.hpp"
#include "support/gguf_builder.hpp"
#include "support/jsonl.hpp"
#include "support/engine_logits.hpp"
#include "support/reference_model.hpp"
#include "support/shared_files.hpp"
#include "support/synthetic_model.hpp"

namespace llama2 {
namespace {

using test::GgufBuilder;

GgufFile parse(const test::Bytes& b) { return GgufFile(b.data(), b.size(), "t.gguf"); }

using test::engine_logits;
using test::max_rel_error;

// --- container ------------------------------------------------------------------------

TEST(GgufFile, ReadsEveryMetadataValueType) {
  GgufBuilder b;
  test::Bytes p;
  b.kv_raw("u8", GgufBuilder::U8, {200}).kv_raw("i8", GgufBuilder::I8, {0xFE});
  b.kv_raw("u16", GgufBuilder::U16, {0x34, 0x12}).kv_raw("i16", GgufBuilder::I16, {0xFF, 0xFF});
  b.kv_u32("u32", 4000000000u).kv_i32("i32", -7).kv_f32("f32", 1.5f).kv_bool("bool", true).kv_str("str", "héllo");
  p.clear();
  test::put_u64(p, 0xFFFFFFFFFFull);
  b.kv_raw("u64", GgufBuilder::U64, p);
  p.clear();
  test::put_u64(p, std::uint64_t(-5));
  b.kv_raw("i64", GgufBuilder::I64, p);
  p.clear();
  double d = -2.25;
  std::uint64_t bits;
  std::memcpy(&bits, &d, 8);
  test::put_u64(p, bits);
  b.kv_raw("f64", GgufBuilder::F64, p);
  // An array of two arrays of uint8.
  p.clear();
  test::put_u32(p, GgufBuilder::ARR);
  test::put_u64(p, 2);
  for (int k = 0; k < 2; k++) {
    test::put_u32(p, GgufBuilder::U8);
    test::put_u64(p, 3);
    p.insert(p.end(), {1, 2, 3});
  }
  b.kv_raw("nested", GgufBuilder::ARR, p);
  b.kv_str_array("strs", {"a", "", "ccc"});
  const test::Bytes bytes = b.bytes();
  GgufFile f = parse(bytes);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.metadata().size(), 14u);
  EXPECT_EQ(f.get_uint("u8"), 200u);
  EXPECT_EQ(f.find("i8")->i, -2);
  EXPECT_EQ(f.get_uint("u16"), 0x1234u);
  EXPECT_EQ(f.find("i16")->i, -1);
  EXPECT_EQ(f.get_uint("u32"), 4000000000u);
  EXPECT_EQ(f.find("i32")->i, -7);
  EXPECT_EQ(f.get_float("f32"), 1.5);
  EXPECT_TRUE(f.get_bool("bool", false));
  EXPECT_EQ(f.get_string("str"), "héllo");
  EXPECT_EQ(f.get_uint("u64"), 0xFFFFFFFFFFull);
  EXPECT_EQ(f.find("i64")->i, -5);
  EXPECT_EQ(f.get_float("f64"), -2.25);
  EXPECT_EQ(f.find("nested")->count, 2u);
  EXPECT_EQ(f.get_string_array("strs"), (std::vector<std::string_view>{"a", "", "ccc"}));
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_TRUE(f.tensors().empty());
  EXPECT_EQ(f.get_uint("absent", 9), 9u);
  // Typed getters name the key and both types.
  try {
    f.get_string("u32");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "t.gguf: metadata \"u32\" is a uint32, expected a string");
  }
  try {
    f.get_uint("i32");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "t.gguf: metadata \"i32\" = -7, expected a non-negative value");
  }
}

TEST(GgufFile, TensorTableAndAlignedDataSection) {
  GgufBuilder b;
  b.alignment = 64;
  b.kv_u32("general.alignment", 64);
  b.tensor_f32("a", {3}, {1, 2, 3});
  b.tensor("b", {32, 2}, test::kGgmlQ8_0, test::Bytes(68, 0));
  b.version = 2;
  const test::Bytes bytes = b.bytes();
  GgufFile f = parse(bytes);
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  ASSERT_EQ(f.tensors().size(), 2u);
  const GgufTensorInfo* a = f.find_tensor("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->type, WeightType::F32);
  EXPECT_EQ(a->n_bytes, 12u);
  EXPECT_EQ(reinterpret_cast<const float*>(a->data)[2], 3.0f);
  const GgufTensorInfo* t = f.find_tensor("b");
  EXPECT_EQ(t->type, WeightType::Q8_0);
  EXPECT_EQ(t->offset, 64u);
  EXPECT_EQ(t->ne[0], 32u);
  EXPECT_EQ(t->ne[1], 2u);
  EXPECT_EQ(t->n_bytes, 68u);
  EXPECT_EQ(t->data, bytes.data() + f.data_offset() + 64);
  EXPECT_EQ(f.find_tensor("c"), nullptr);
}

// --- models ---------------------------------------------------------------------------

class GgufModel : public ::testing::Test, protected test::TempDir {};

TEST_F(GgufModel, F32FileGivesTheSameLogitsAsTheLlama2cCheckpoint) {
  const test::SyntheticWeights w = test::make_weights(test::small_config(), 11);
  test::write_llama2c_v1(file("m.bin"), w);
  test::llama_gguf_f32(w).write(file("m.gguf"));
  Model gguf = Model::load(file("m.gguf"));
  EXPECT_EQ(gguf.format(), ModelFormat::GGUF);
  EXPECT_EQ(gguf.config().dim, w.config.dim);
  EXPECT_EQ(gguf.config().n_kv_heads, w.config.n_kv_heads);
  EXPECT_FALSE(gguf.config().shared_classifier);
  const std::vector<int> tokens = {1, 5, 9, 33, 2, 66, 0, 40};
  const auto a = engine_logits(std::move(gguf), tokens);
  const auto b = engine_logits(Model::load(file("m.bin")), tokens);
  EXPECT_EQ(a, b);  // same floats, same kernels: bit-identical
  EXPECT_LT(max_rel_error(a, test::reference_logits(w, tokens)), 1e-5);
}

TEST_F(GgufModel, MissingOutputMeansTiedClassifier) {
  Config c = test::small_config();
  c.shared_classifier = true;
  test::SyntheticWeights w = test::make_weights(c, 12);
  w.wcls = w.token_embedding;
  test::llama_gguf_f32(w).write(file("tied.gguf"));
  Model m = Model::load(file("tied.gguf"));
  EXPECT_TRUE(m.config().shared_classifier);
  EXPECT_EQ(m.weights().wcls.data, m.weights().token_embedding.data);
  const std::vector<int> tokens = {3, 1, 4, 1, 5};
  EXPECT_LT(max_rel_error(engine_logits(std::move(m), tokens), test::reference_logits(w, tokens)), 1e-5);
}

// Every block type runs: random blocks as weights, checked against the
// double reference on the dequantized weights.
class GgufBlockTypes : public GgufModel, public ::testing::WithParamInterface<std::uint32_t> {};

TEST_P(GgufBlockTypes, LogitsMatchTheReferenceOnDequantizedWeights) {
  const std::uint32_t type = GetParam();
  const Config c = test::make_config(256, 512, 2, 4, 2, 40, 16, false);
  const test::SyntheticWeights w = test::make_weights(c, 13);
  GgufBuilder b;
  add_llama_metadata(b, c);
  std::uint64_t seed = 100;
  auto mat = [&](const std::string& name, std::uint64_t rows, std::uint64_t cols) {
    b.tensor(name, {cols, rows}, type, test::random_blocks(type, rows, cols, seed++));
  };
  mat("token_embd.weight", 40, 256);
  mat("output.weight", 40, 256);
  // F16 / BF16 norms exercise the owned-float conversion.
  auto norm = [&](const std::string& name, const float* v, bool bf16) {
    test::Bytes h(512);
    for (int i = 0; i < 256; i++) {
      const std::uint16_t x = bf16 ? fp32_to_bf16(v[i]) : fp32_to_fp16(v[i]);
      std::memcpy(h.data() + 2 * i, &x, 2);
    }
    b.tensor(name, {256}, bf16 ? test::kGgmlBF16 : test::kGgmlF16, h);
  };
  norm("output_norm.weight", w.rms_final.data(), false);
  for (int l = 0; l < 2; l++) {
    const std::string p = "blk." + std::to_string(l) + ".";
    norm(p + "attn_norm.weight", w.rms_att.data() + 256 * l, true);
    b.tensor_f32(p + "ffn_norm.weight", {256}, std::vector<float>(w.rms_ffn.begin() + 256 * l, w.rms_ffn.begin() + 256 * (l + 1)));
    mat(p + "attn_q.weight", 256, 256);
    mat(p + "attn_k.weight", 128, 256);
    mat(p + "attn_v.weight", 128, 256);
    mat(p + "attn_output.weight", 256, 256);
    mat(p + "ffn_gate.weight", 512, 256);
    mat(p + "ffn_down.weight", 256, 512);
    mat(p + "ffn_up.weight", 512, 256);
  }
  b.write(file("blocks.gguf"));
  Model m = Model::load(file("blocks.gguf"));
  EXPECT_EQ(m.weights().layers[0].wq.type, m.weights().wcls.type);
  const test::SyntheticWeights deq = test::weights_from_model(m);
  // The converted norms are the 16-bit values widened.
  EXPECT_EQ(deq.rms_final[7], fp16_to_fp32(fp32_to_fp16(w.rms_final[7])));
  EXPECT_EQ(deq.rms_att[300], bf16_to_fp32(fp32_to_bf16(w.rms_att[300])));
  const std::vector<int> tokens = {1, 7, 39, 0, 22, 5};
  const auto want = test::reference_logits(deq, tokens);
  {
    // fp32 activations: the dequantized weights, within fp32 rounding.
    test::Int8Activations fp32(false);
    EXPECT_LT(max_rel_error(engine_logits(Model::load(file("blocks.gguf")), tokens), want), 1e-4) << "type " << type;
  }
  // The default path: int8 activations (every block type has integer kernels).
  test::expect_int8_matches_rounded_reference(file("blocks.gguf"), deq, {1, 7, 39, 0, 22, 5, 13, 31, 2, 38, 11, 27});
}

INSTANTIATE_TEST_SUITE_P(AllTypes, GgufBlockTypes,
                         ::testing::Values(test::kGgmlQ8_0, test::kGgmlQ4_0, test::kGgmlQ4_1, test::kGgmlQ5_0,
                                           test::kGgmlQ5_1, test::kGgmlQ2_K, test::kGgmlQ3_K, test::kGgmlQ4_K,
                                           test::kGgmlQ5_K, test::kGgmlQ6_K));

// --- the shared GGUF files ----------------------------------------------------------------

TEST(GgufShared, TinyRandomLlamaRuns) {
  LLAMA2_SHARED_MODEL(path, "llama-2-tiny-random.gguf");
  Model m = Model::load(path);
  const Config& c = m.config();
  EXPECT_EQ(c.dim, 8);
  EXPECT_EQ(c.n_layers, 1);
  EXPECT_EQ(c.vocab_size, 32000);
  EXPECT_EQ(m.weights().layers[0].wq.type, WeightType::F16);
  // Our engine against the double reference on the same (dequantized) weights.
  const test::SyntheticWeights deq = test::weights_from_model(m);
  const std::vector<int> tokens = {1, 15043, 3186, 29892, 920};
  const double err = max_rel_error(engine_logits(std::move(m), tokens), test::reference_logits(deq, tokens));
  EXPECT_LT(err, 1e-5);
  // Its vocabulary is Llama-2's.
  Tokenizer tok = Tokenizer::load(path);
  EXPECT_EQ(tok.encode("Hello world", true, false), (std::vector<int>{1, 15043, 3186}));
}

TEST(GgufShared, VocabMatchesTheLlama2TokenizerBin) {
  LLAMA2_SHARED_MODEL(gguf, "ggml-vocab-llama-spm.gguf");
  LLAMA2_SHARED_MODEL(bin, "tokenizer.bin");
  const Vocab a = load_gguf_vocab(gguf);
  const Vocab b = Tokenizer::load(bin).vocab();
  ASSERT_EQ(a.pieces.size(), 32000u);
  EXPECT_EQ(a.pieces, b.pieces);
  EXPECT_EQ(a.scores, b.scores);
  EXPECT_EQ(a.bos_id, 1);
  EXPECT_EQ(a.eos_id, 2);
  EXPECT_EQ(a.unk_id, 0);
  EXPECT_EQ(a.types[0], TokenType::UNKNOWN);
  EXPECT_EQ(a.types[1], TokenType::CONTROL);
  EXPECT_EQ(a.types[3], TokenType::BYTE);
  EXPECT_EQ(a.types[500], TokenType::NORMAL);
}

TEST(GgufShared, GoldenTokenizationThroughTheGgufVocab) {
  LLAMA2_SHARED_MODEL(gguf, "ggml-vocab-llama-spm.gguf");
  LLAMA2_SHARED_GOLDEN(golden, "tokenizer_llama2.jsonl");
  const Tokenizer tok = Tokenizer::load(gguf);
  const auto cases = test::read_jsonl(golden);
  ASSERT_GT(cases.size(), 40u);
  int matched = 0;
  for (const auto& c : cases) {
    const auto ids = tok.encode(c.str("text"), false, false);
    if (ids == c.ints("ids")) {
      matched++;
    } else {
      ADD_FAILURE() << "line " << c.line_number << ": \"" << c.str("text") << "\"";
    }
  }
  std::printf("[          ] golden tokenizer_llama2.jsonl via GGUF: %d / %zu match\n", matched, cases.size());
  EXPECT_EQ(matched, int(cases.size()));
}

// --- the GGUF tokenizer keys --------------------------------------------------------------

TEST(GgufVocab, ReadsFlagsAndDefaults) {
  GgufBuilder b;
  test::add_small_tokenizer(b, 20);
  b.kv_bool("tokenizer.ggml.add_bos_token", false).kv_bool("tokenizer.ggml.add_space_prefix", false);
  const test::Bytes bytes = b.bytes();
  const Vocab v = load_gguf_vocab(parse(bytes));
  EXPECT_EQ(v.pieces.size(), 20u);
  EXPECT_FALSE(v.add_bos);
  EXPECT_FALSE(v.add_space_prefix);
  EXPECT_EQ(v.types[1], TokenType::CONTROL);
  EXPECT_EQ(v.scores[5], -5.0f);

  // Only tokens: scores 0, default ids, types inferred as for tokenizer.bin
  // (unk id 0 UNKNOWN, bos/eos CONTROL, the rest NORMAL).
  GgufBuilder m;
  m.kv_str("tokenizer.ggml.model", "llama").kv_str_array("tokenizer.ggml.tokens", {"a", "b", "c", "d"});
  const test::Bytes mb = m.bytes();
  const Vocab d = load_gguf_vocab(parse(mb));
  EXPECT_EQ(d.scores, std::vector<float>(4, 0.0f));
  EXPECT_EQ(d.types, (std::vector<TokenType>{TokenType::UNKNOWN, TokenType::CONTROL, TokenType::CONTROL,
                                              TokenType::NORMAL}));
  EXPECT_EQ(d.bos_id, 1);
  EXPECT_EQ(d.eos_id, 2);
  EXPECT_TRUE(d.add_bos);
  EXPECT_TRUE(d.add_space_prefix);
}

}  // namespace
}  // namespace llama2

// Hostile GGUF files: each malformation gets one clear llama2::Error, and
// nothing reads outside the file (these tests run under ASan/UBSan in CI).
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "formats/gguf.hpp"
#include "llama2/error.hpp"
#include "llama2/model.hpp"
#include "llama2/tokenizer.hpp"
#include "support/gguf_builder.hpp"
#include "support/synthetic_model.hpp"

namespace llama2 {
namespace {

using test::Bytes;
using test::GgufBuilder;

// The message of the Error that loading `b` as a model throws ("" if none).
std::string model_error(const GgufBuilder& b) {
  static const std::string dir = test::make_temp_dir("gguf_hostile");
  const std::string path = dir + "/m.gguf";
  b.write(path);
  try {
    Model::load(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// The message of the Error that parsing `bytes` (and, if `vocab`, reading
// its tokenizer) throws ("" if none).
std::string parse_error(const Bytes& bytes, bool vocab = false) {
  // A heap copy of exactly the file's size, so ASan sees any overread.
  std::unique_ptr<std::uint8_t[]> copy(new std::uint8_t[bytes.size()]);
  std::memcpy(copy.get(), bytes.data(), bytes.size());
  try {
    GgufFile f(copy.get(), bytes.size(), "h.gguf");
    if (vocab) load_gguf_vocab(f);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

test::SyntheticWeights tiny_weights() {
  test::SyntheticWeights w = test::make_weights(test::make_config(32, 64, 2, 4, 2, 24, 8, true), 5);
  w.wcls = w.token_embedding;
  return w;
}

GgufBuilder valid_model() { return test::llama_gguf_f32(tiny_weights()); }

// A builder whose metadata is a small valid tokenizer (no tensors).
GgufBuilder vocab_only() {
  GgufBuilder b;
  test::add_small_tokenizer(b, 10);
  return b;
}

#define EXPECT_ERROR(expr, substring) EXPECT_PRED_FORMAT2(::testing::IsSubstring, substring, expr)

TEST(GgufHostile, TheValidBaseFilesLoad) {
  EXPECT_EQ(model_error(valid_model()), "");
  EXPECT_EQ(parse_error(vocab_only().bytes(), true), "");
}

// --- header ---------------------------------------------------------------------------

TEST(GgufHostile, BadMagicVersionAndShortHeader) {
  Bytes b = vocab_only().bytes();
  EXPECT_EQ(parse_error(Bytes(b.begin(), b.begin() + 20)),
            "h.gguf: truncated: GGUF header at offset 0 needs 24 bytes but only 20 remain");
  GgufBuilder v1 = vocab_only();
  v1.version = 1;
  EXPECT_ERROR(parse_error(v1.bytes()), "GGUF header field version = 1, expected 2 or 3 (version 1 files are obsolete");
  GgufBuilder be = vocab_only();
  be.version = 0x03000000;
  EXPECT_ERROR(parse_error(be.bytes()), "expected 2 or 3 (a big-endian GGUF?)");
  b[0] = 'X';
  EXPECT_EQ(parse_error(b), "h.gguf: not a GGUF file (magic is not \"GGUF\")");
}

TEST(GgufHostile, CountsAreCheckedAgainstTheFileSizeBeforeAllocating) {
  GgufBuilder t = vocab_only();
  t.tensor_count = std::uint64_t(1) << 60;
  EXPECT_ERROR(parse_error(t.bytes()), "h.gguf: GGUF header field tensor_count = 1152921504606846976 but the ");
  GgufBuilder k = vocab_only();
  k.kv_count = ~std::uint64_t(0);
  EXPECT_ERROR(parse_error(k.bytes()), "GGUF header field metadata_kv_count = 18446744073709551615 but the ");
  // Plausible counts that the file does not contain: reading runs out.
  GgufBuilder k2 = vocab_only();
  k2.kv_count = 8;
  EXPECT_ERROR(parse_error(k2.bytes()), "h.gguf: truncated: metadata entry 7 key length at offset");
}

// --- metadata -------------------------------------------------------------------------

TEST(GgufHostile, StringAndArrayLengthsCannotExceedTheFile) {
  GgufBuilder s;
  Bytes p;
  test::put_u64(p, std::uint64_t(1) << 62);  // a string "length"
  s.kv_raw("general.name", GgufBuilder::STR, p);
  EXPECT_ERROR(parse_error(s.bytes()), "h.gguf: metadata \"general.name\" at offset 48 has length 4611686018427387904 but only 8 bytes remain in the file");

  GgufBuilder key;
  key.kv_u32("x", 1);
  Bytes kb = key.bytes();
  kb[24] = 0xFF;  // key length low byte: 255 > what is left
  EXPECT_ERROR(parse_error(kb), "metadata entry 0 key at offset 24 has length 255 but only");

  GgufBuilder a;
  Bytes ap;
  test::put_u32(ap, GgufBuilder::U32);
  test::put_u64(ap, std::uint64_t(1) << 61);
  a.kv_raw("arr", GgufBuilder::ARR, ap);
  EXPECT_ERROR(parse_error(a.bytes()),
               "h.gguf: metadata \"arr\" at offset 39 is an array of 2305843009213693952 uint32 elements, more than the 13 bytes left in the file can hold");
  // A string array whose count exceeds what 8-byte lengths could fill.
  GgufBuilder sa;
  Bytes sp;
  test::put_u32(sp, GgufBuilder::STR);
  test::put_u64(sp, 1000);
  test::put_str(sp, "one");
  sa.kv_raw("tokenizer.ggml.tokens", GgufBuilder::ARR, sp);
  EXPECT_ERROR(parse_error(sa.bytes()), "metadata \"tokenizer.ggml.tokens\" at offset 57 is an array of 1000 string elements, more than the 27 bytes left");
}

TEST(GgufHostile, BadValueTypesBoolsAndNesting) {
  GgufBuilder t;
  t.kv_raw("k", 13, {0});
  EXPECT_ERROR(parse_error(t.bytes()), "metadata \"k\" value type at offset 33 is 13, expected a GGUF value type in [0, 12]");
  GgufBuilder b;
  b.kv_raw("flag", GgufBuilder::BOOL, {2});
  EXPECT_ERROR(parse_error(b.bytes()), "metadata \"flag\" at offset 40 is a bool of value 2, expected 0 or 1");
  // 20 levels of nested arrays.
  Bytes deep;
  for (int i = 0; i < 20; i++) {
    test::put_u32(deep, GgufBuilder::ARR);
    test::put_u64(deep, 1);
  }
  test::put_u32(deep, GgufBuilder::U8);
  test::put_u64(deep, 0);
  GgufBuilder n;
  n.kv_raw("deep", GgufBuilder::ARR, deep);
  EXPECT_ERROR(parse_error(n.bytes()), "arrays nested more than 8 deep");
  GgufBuilder e;
  e.kv_u32("", 1);
  EXPECT_ERROR(parse_error(e.bytes()), "metadata entry 0 at offset 24 has an empty key");
}

TEST(GgufHostile, DuplicateKeysAndTensorNames) {
  GgufBuilder k = vocab_only();
  k.kv_u32("tokenizer.ggml.bos_token_id", 1);
  EXPECT_ERROR(parse_error(k.bytes()), "metadata key \"tokenizer.ggml.bos_token_id\" appears twice (second at offset");
  GgufBuilder t = valid_model();
  t.tensor_f32("output_norm.weight", {32}, std::vector<float>(32, 1.0f));
  EXPECT_ERROR(model_error(t), "tensor \"output_norm.weight\" (entry 20 at offset");
  EXPECT_ERROR(model_error(t), "): a tensor of this name appears earlier in the table");
}

TEST(GgufHostile, Alignment) {
  for (std::uint32_t bad : {0u, 3u, 48u}) {
    GgufBuilder b = vocab_only();
    b.kv_u32("general.alignment", bad);
    EXPECT_EQ(parse_error(b.bytes()), "h.gguf: metadata \"general.alignment\" = " + std::to_string(bad) +
                                          ", expected a non-zero power of two");
  }
  GgufBuilder w = vocab_only();
  w.kv_u64("general.alignment", 32);
  EXPECT_EQ(parse_error(w.bytes()), "h.gguf: metadata \"general.alignment\" is a uint64, expected uint32");
}

// --- tensor table -----------------------------------------------------------------------

TEST(GgufHostile, DimensionsAndTypes) {
  auto one = [](std::vector<std::uint64_t> ne, std::uint32_t type) {
    GgufBuilder b;
    b.tensor("w", std::move(ne), type, Bytes(64, 0));
    return parse_error(b.bytes());
  };
  EXPECT_ERROR(one({1, 1, 1, 1, 1}, 0), "tensor \"w\" (entry 0 at offset 24) has n_dims = 5, expected 1 to 4");
  EXPECT_ERROR(one({}, 0), "has n_dims = 0, expected 1 to 4");
  EXPECT_ERROR(one({0, 4}, 0), "has dimension 0 = 0, expected a value in [1, 2^62]");
  EXPECT_ERROR(one({std::uint64_t(1) << 40, std::uint64_t(1) << 40}, 0), "element count: size overflows 64 bits");
  EXPECT_ERROR(one({std::uint64_t(1) << 31, std::uint64_t(1) << 31, 2}, 0), "byte size: size overflows 64 bits");
  EXPECT_ERROR(one({16}, 99), "has type type 99, which is not supported (supported: F32, F16, BF16");
  EXPECT_ERROR(one({256}, 16), "has type IQ2_XXS (16), which is not supported");
  EXPECT_ERROR(one({33, 2}, test::kGgmlQ8_0), "has rows of 33 values, not a multiple of 32, the block size of Q8_0");
  EXPECT_ERROR(one({512}, test::kGgmlQ4_K), "needs bytes");
  EXPECT_ERROR(one({64, 2}, test::kGgmlQ6_K), "has rows of 64 values, not a multiple of 256, the block size of Q6_K");
}

TEST(GgufHostile, TensorsMustLieInsideTheFileAlignedAndApart) {
  auto with = [](std::uint64_t offset, std::size_t bytes) {
    GgufBuilder b;
    b.tensor_f32("a", {8}, std::vector<float>(8, 1.0f));
    b.tensor("b", {8}, 0, Bytes(bytes, 0), offset);
    return parse_error(b.bytes());
  };
  EXPECT_EQ(with(32, 32), "");
  EXPECT_ERROR(with(16, 32), "tensor \"b\" has offset 16, not a multiple of the alignment 32");
  EXPECT_ERROR(with(0, 32), "tensors \"a\" (offset 0, 32 bytes) and \"b\" (offset 0) overlap");
  // Declared offsets far past the end (the data itself is not written there).
  GgufBuilder far;
  far.tensor("c", {8}, 0, {}, std::uint64_t(1) << 40);
  EXPECT_ERROR(parse_error(far.bytes()), "tensor \"c\" needs bytes [1099511627840, 1099511627872) but the file has 64 bytes (truncated file?)");
  GgufBuilder wrap;
  wrap.tensor("c", {8}, 0, {}, ~std::uint64_t(31));
  EXPECT_ERROR(parse_error(wrap.bytes()), "tensor \"c\" position: size overflows 64 bits");
  // A truncated data section.
  GgufBuilder cut;
  cut.tensor_f32("a", {64}, std::vector<float>(64, 1.0f));
  cut.truncate = cut.bytes().size() - 1;
  EXPECT_ERROR(parse_error(cut.bytes()), "(truncated file?)");
  // alignment 1 lets a tensor start at an odd address: refused (the
  // kernels read F32 as floats and every other type as uint16 fields).
  GgufBuilder odd;
  odd.alignment = 1;
  odd.kv_u32("general.alignment", 1);
  odd.tensor("h", {1}, test::kGgmlF16, Bytes(2, 0));
  odd.tensor("f", {1}, 0, Bytes(4, 0), 3);
  EXPECT_ERROR(parse_error(odd.bytes()), "tensor \"h\" starts at offset 123, not aligned to 2 bytes");
}

TEST(GgufHostile, EveryTruncationOfAValidModelIsAnErrorNotACrash) {
  const Bytes full = valid_model().bytes();
  int errors = 0;
  // Every prefix in the header region, then a stride through the data.
  for (std::size_t n = 0; n < full.size(); n += (n < 4096 ? 1 : 97)) {
    Bytes cut(full.begin(), full.begin() + std::ptrdiff_t(n));
    if (cut.size() < 4) continue;  // MappedFile refuses empty files; tiny ones are not "GGUF"
    if (!parse_error(cut).empty()) errors++;
  }
  EXPECT_GT(errors, 4000);
}

// --- the model ---------------------------------------------------------------------------

TEST(GgufHostile, ArchitectureAndHyperparameters) {
  GgufBuilder none = valid_model();
  // Rebuild with another architecture: the builder appends, so start fresh.
  GgufBuilder gpt;
  gpt.kv_str("general.architecture", "gpt2");
  EXPECT_ERROR(model_error(gpt), "architecture \"gpt2\" is not supported, expected \"llama\"");
  GgufBuilder empty;
  empty.kv_u32("x", 1);
  EXPECT_ERROR(model_error(empty), "metadata key \"general.architecture\" is missing");
  GgufBuilder no_dim;
  no_dim.kv_str("general.architecture", "llama");
  EXPECT_ERROR(model_error(no_dim), "metadata key \"llama.embedding_length\" is missing");
  (void)none;
}

// A valid model with one metadata key replaced (written before the rest).
GgufBuilder model_with(const std::function<void(GgufBuilder&)>& first, const std::string& skip_key) {
  const test::SyntheticWeights w = tiny_weights();
  const Config& c = w.config;
  GgufBuilder b;
  first(b);
  auto u32 = [&](const std::string& k, std::uint32_t v) {
    if (k != skip_key) b.kv_u32(k, v);
  };
  b.kv_str("general.architecture", "llama");
  u32("llama.context_length", std::uint32_t(c.seq_len));
  u32("llama.embedding_length", std::uint32_t(c.dim));
  u32("llama.block_count", std::uint32_t(c.n_layers));
  u32("llama.feed_forward_length", std::uint32_t(c.hidden_dim));
  u32("llama.attention.head_count", std::uint32_t(c.n_heads));
  u32("llama.attention.head_count_kv", std::uint32_t(c.n_kv_heads));
  if (skip_key != "llama.attention.layer_norm_rms_epsilon") b.kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  // Tensors from the valid builder's file: copy by re-adding.
  const GgufBuilder full = test::llama_gguf_f32(w);
  const Bytes bytes = full.bytes();
  GgufFile parsed(bytes.data(), bytes.size(), "full");
  for (const GgufTensorInfo& t : parsed.tensors()) {
    if (std::string(t.name) == skip_key) continue;
    std::vector<std::uint64_t> ne(t.ne, t.ne + t.n_dims);
    b.tensor(std::string(t.name), ne, t.ggml_type, Bytes(t.data, t.data + t.n_bytes));
  }
  return b;
}

TEST(GgufHostile, MissingKeysAndTensors) {
  auto nothing = [](GgufBuilder&) {};
  EXPECT_EQ(model_error(model_with(nothing, "")), "");
  EXPECT_ERROR(model_error(model_with(nothing, "llama.block_count")), "metadata key \"llama.block_count\" is missing");
  EXPECT_ERROR(model_error(model_with(nothing, "llama.attention.layer_norm_rms_epsilon")),
               "metadata key \"llama.attention.layer_norm_rms_epsilon\" is missing");
  EXPECT_ERROR(model_error(model_with(nothing, "blk.1.ffn_up.weight")), "tensor \"blk.1.ffn_up.weight\" is missing");
  EXPECT_ERROR(model_error(model_with(nothing, "token_embd.weight")), "tensor \"token_embd.weight\" is missing");
  EXPECT_ERROR(model_error(model_with(nothing, "output_norm.weight")), "tensor \"output_norm.weight\" is missing");
  // head_count_kv absent: defaults to head_count (4), so wk (16 rows) has the wrong shape.
  EXPECT_ERROR(model_error(model_with(nothing, "llama.attention.head_count_kv")),
               "tensor \"blk.0.attn_k.weight\" has shape [32, 16], expected [32, 32]");
}

TEST(GgufHostile, AbsurdOrInconsistentHyperparameters) {
  auto key = [](const std::string& k, std::uint32_t v) {
    return [k, v](GgufBuilder& b) { b.kv_u32(k, v); };
  };
  EXPECT_ERROR(model_error(model_with(key("llama.block_count", 1000000000), "llama.block_count")),
               "n_layers = 1000000000, expected a value in [1, 4096]");
  EXPECT_ERROR(model_error(model_with(key("llama.block_count", 4000000000u), "llama.block_count")),
               "metadata \"llama.block_count\" = 4000000000, expected at most 2147483647");
  EXPECT_ERROR(model_error(model_with(key("llama.block_count", 3), "llama.block_count")),
               "tensor \"blk.2.attn_norm.weight\" is missing");
  EXPECT_ERROR(model_error(model_with(key("llama.attention.head_count", 3), "llama.attention.head_count")),
               "dim = 32 is not a multiple of n_heads = 3");
  EXPECT_ERROR(model_error(model_with(key("llama.rope.dimension_count", 4), "")),
               "metadata \"llama.rope.dimension_count\" = 4, expected the head size 8 (partial RoPE is not supported)");
  EXPECT_ERROR(model_error(model_with(key("llama.vocab_size", 100000), "")),
               "metadata \"llama.vocab_size\" = 100000 but token_embd.weight has 24 rows");
  EXPECT_ERROR(model_error(model_with([](GgufBuilder& b) { b.kv_str("llama.embedding_length", "32"); },
                                      "llama.embedding_length")),
               "metadata \"llama.embedding_length\" is a string, expected an integer");
  EXPECT_ERROR(model_error(model_with(key("llama.feed_forward_length", 65), "llama.feed_forward_length")),
               "tensor \"blk.0.ffn_gate.weight\" has shape [32, 64], expected [32, 65]");
  EXPECT_ERROR(model_error(model_with([](GgufBuilder& b) {
                             b.kv_str("llama.rope.scaling.type", "linear").kv_f32("llama.rope.scaling.factor", 4.0f);
                           }, "")),
               "RoPE scaling \"linear\" (factor 4.000000) is not supported");
  // A huge vocabulary in the embedding's shape: the tensor does not fit.
  GgufBuilder big;
  big.tensor("token_embd.weight", {32, std::uint64_t(1) << 40}, 0, {});
  EXPECT_ERROR(model_error(big), "tensor \"token_embd.weight\" needs bytes");
}

// --- the tokenizer -------------------------------------------------------------------------

TEST(GgufHostile, TokenizerKeys) {
  auto vocab = [](const std::function<void(GgufBuilder&)>& edit) {
    GgufBuilder b;
    edit(b);
    return parse_error(b.bytes(), true);
  };
  const std::vector<std::string> pieces = {"<unk>", "<s>", "</s>", "a"};
  auto base = [&](GgufBuilder& b) {
    b.kv_str("tokenizer.ggml.model", "llama").kv_str_array("tokenizer.ggml.tokens", pieces);
  };
  EXPECT_EQ(vocab(base), "");
  EXPECT_EQ(vocab([](GgufBuilder& b) { b.kv_u32("x", 1); }),
            "h.gguf: has no tokenizer (metadata key \"tokenizer.ggml.model\" is missing)");
  EXPECT_EQ(vocab([](GgufBuilder& b) { b.kv_str("tokenizer.ggml.model", "gpt2"); }),
            "h.gguf: metadata \"tokenizer.ggml.model\" = \"gpt2\", expected \"llama\" (SentencePiece BPE, the only "
            "tokenizer supported)");
  EXPECT_EQ(vocab([](GgufBuilder& b) {
              b.kv_str("tokenizer.ggml.model", "llama").kv_i32_array("tokenizer.ggml.tokens", {1, 2});
            }),
            "h.gguf: metadata \"tokenizer.ggml.tokens\" is an array of int32, expected an array of string");
  EXPECT_EQ(vocab([](GgufBuilder& b) {
              b.kv_str("tokenizer.ggml.model", "llama").kv_str("tokenizer.ggml.tokens", "abc");
            }),
            "h.gguf: metadata \"tokenizer.ggml.tokens\" is a string, expected an array of string");
  EXPECT_EQ(vocab([](GgufBuilder& b) {
              b.kv_str("tokenizer.ggml.model", "llama").kv_str_array("tokenizer.ggml.tokens", {});
            }),
            "h.gguf: metadata \"tokenizer.ggml.tokens\" has 0 tokens, expected 1 to 16777216");
  EXPECT_EQ(vocab([&](GgufBuilder& b) {
              base(b);
              b.kv_u32("tokenizer.ggml.eos_token_id", 4);
            }),
            "h.gguf: metadata \"tokenizer.ggml.eos_token_id\" = 4, expected a token id in [0, 4)");
  EXPECT_EQ(vocab([&](GgufBuilder& b) {
              base(b);
              b.kv_i32("tokenizer.ggml.bos_token_id", -1);
            }),
            "h.gguf: metadata \"tokenizer.ggml.bos_token_id\" = -1, expected a non-negative value");
  EXPECT_EQ(vocab([&](GgufBuilder& b) {
              base(b);
              b.kv_f32_array("tokenizer.ggml.scores", {0, 0, 0});
            }),
            "h.gguf: metadata \"tokenizer.ggml.scores\" has 3 entries, expected 4 (one per token)");
  EXPECT_EQ(vocab([&](GgufBuilder& b) {
              base(b);
              b.kv_i32_array("tokenizer.ggml.token_type", {2, 3, 3, 9});
            }),
            "h.gguf: metadata \"tokenizer.ggml.token_type\"[3] = 9, expected a SentencePiece piece type in [1, 6]");
  EXPECT_EQ(vocab([&](GgufBuilder& b) {
              base(b);
              b.kv_u32("tokenizer.ggml.add_bos_token", 1);
            }),
            "h.gguf: metadata \"tokenizer.ggml.add_bos_token\" is a uint32, expected a bool");
  // The token count must match the model's embedding rows.
  GgufBuilder m = model_with([](GgufBuilder& b) { b.kv_str_array("tokenizer.ggml.tokens", {"a", "b"}); }, "");
  EXPECT_ERROR(model_error(m), "metadata \"tokenizer.ggml.tokens\" has 2 tokens but token_embd.weight has 24 rows");
}

TEST(GgufHostile, TokenizerLoadNamesTheFile) {
  const std::string path = test::make_temp_dir("gguf_tok") + "/v.gguf";
  GgufBuilder b;
  b.kv_str("tokenizer.ggml.model", "bert");
  b.write(path);
  try {
    Tokenizer::load(path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path + ": metadata \"tokenizer.ggml.model\" = \"bert\"", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace llama2

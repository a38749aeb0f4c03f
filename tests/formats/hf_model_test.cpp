// Hugging Face folders and single .safetensors files through Model::load
// (src/formats/hf_model.cpp): the same weights give the same logits as
// llama2.c / GGUF files, and every unsupported or broken input is refused
// with a message naming file, field and value.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "llama2/error.hpp"
#include "llama2/model.hpp"
#include "llama2/quantize.hpp"
#include "llama2/tokenizer.hpp"
#include "llama2/transformer.hpp"
#include "support/engine_logits.hpp"
#include "support/expect_error.hpp"
#include "support/gguf_builder.hpp"
#include "support/hf_writer.hpp"
#include "support/reference_model.hpp"
#include "support/shared_files.hpp"
#include "support/synthetic_model.hpp"
#include "support/temp_dir.hpp"

namespace llama2 {
namespace {

namespace fs = std::filesystem;
using test::engine_logits;
using test::expect_error;
using test::max_rel_error;

class HfModel : public ::testing::Test, protected test::TempDir {
 protected:
  // The same weights as llama2.c v1 (fp32, values rounded to `dtype`) and as
  // an HF folder in `dtype`: logits must agree to 1e-5 relative, and both
  // must match the double reference.
  void expect_same_logits(const Config& c, std::uint64_t seed, const test::HfFolderOptions& o) {
    const test::SyntheticWeights w = test::round_weights(test::make_weights(c, seed), o.dtype);
    test::write_llama2c_v1(file("m.bin"), w);
    test::write_hf_folder(file("hf"), w, o);
    Model hf = Model::load(file("hf"));
    EXPECT_EQ(hf.format(), ModelFormat::HF);
    EXPECT_EQ(hf.config().rope_style, RopeStyle::ROTATE_HALF);
    EXPECT_EQ(hf.config().n_kv_heads, c.n_kv_heads);
    EXPECT_EQ(hf.config().shared_classifier, c.shared_classifier);
    EXPECT_EQ(hf.weights().layers[0].wq.type, o.dtype == "F32" ? WeightType::F32
                                               : o.dtype == "F16" ? WeightType::F16
                                                                  : WeightType::BF16);
    const std::vector<int> tokens = {1, 5, 9, 33, 2, 66 % c.vocab_size, 0, 40 % c.vocab_size, 7, 7, 3};
    const auto got = engine_logits(std::move(hf), tokens);
    const auto want = engine_logits(Model::load(file("m.bin")), tokens);
    std::vector<std::vector<double>> want_d;
    for (const auto& row : want) want_d.emplace_back(row.begin(), row.end());
    EXPECT_LT(max_rel_error(got, want_d), 1e-5) << o.dtype << " shards " << o.n_shards;
    EXPECT_LT(max_rel_error(got, test::reference_logits(w, tokens)), 1e-5);
  }
};

TEST_F(HfModel, SingleFileF32GqaSeparateClassifierMatchesLlama2c) {
  expect_same_logits(test::small_config(), 21, {});  // 6 heads, 3 kv heads
}

TEST_F(HfModel, ShardedF16MatchesLlama2c) {
  test::HfFolderOptions o;
  o.dtype = "F16";
  o.n_shards = 3;
  expect_same_logits(test::small_config(), 22, o);
}

TEST_F(HfModel, BF16TiedClassifierMatchesLlama2c) {
  Config c = test::make_config(64, 96, 2, 8, 2, 50, 32, true);  // GQA 4:1, tied
  test::HfFolderOptions o;
  o.dtype = "BF16";
  o.n_shards = 2;
  expect_same_logits(c, 23, o);
}

TEST_F(HfModel, MultiHeadAttentionAndOldInvFreqTensors) {
  test::HfFolderOptions o;
  o.write_inv_freq = true;  // skipped: derived from rope_theta
  expect_same_logits(test::make_config(32, 64, 2, 4, 4, 40, 16, false), 24, o);
}

TEST_F(HfModel, OneSafetensorsFileWithItsConfigBeside) {
  const test::SyntheticWeights w = test::make_weights(test::small_config(), 25);
  test::write_hf_folder(file("hf"), w);
  Model m = Model::load(file("hf/model.safetensors"));
  EXPECT_EQ(m.format(), ModelFormat::SAFETENSORS);
  EXPECT_EQ(model_format_name(m.format()), "safetensors");
  const std::vector<int> tokens = {4, 8, 15, 16, 23, 42};
  EXPECT_LT(max_rel_error(engine_logits(std::move(m), tokens), test::reference_logits(w, tokens)), 1e-5);

  fs::remove(file("hf/config.json"));
  expect_error([&] { Model::load(file("hf/model.safetensors")); },
               "hf/config.json: cannot open: no such file (a .safetensors file holds no shapes: its folder's "
               "config.json must be beside it)");
}

TEST_F(HfModel, GgufTurnedIntoAnHfFolderGivesTheGgufLogits) {
  LLAMA2_SHARED_MODEL(path, "llama-2-tiny-random.gguf");
  Model gguf = Model::load(path);
  test::SyntheticWeights w = test::weights_from_model(gguf);  // Meta's row order, as GGUF stores it
  test::write_hf_folder(file("tiny"), w);                     // q/k permuted as HF's converter does
  Model hf = Model::load(file("tiny"));
  EXPECT_EQ(hf.config().n_kv_heads, gguf.config().n_kv_heads);
  const std::vector<int> tokens = {1, 15043, 3186, 29892, 920, 526, 366, 29973};
  const auto want = engine_logits(std::move(gguf), tokens);
  std::vector<std::vector<double>> want_d;
  for (const auto& row : want) want_d.emplace_back(row.begin(), row.end());
  EXPECT_LT(max_rel_error(engine_logits(std::move(hf), tokens), want_d), 1e-5);
}

TEST_F(HfModel, BatchedForwardUsesTheSameRopePairing) {
  const test::SyntheticWeights w = test::make_weights(test::small_config(), 27);
  test::write_hf_folder(file("hf"), w);
  const std::vector<int> tokens = {1, 8, 13, 21, 34, 55, 6, 2};
  const auto want = test::reference_logits(w, tokens);
  Transformer t(Model::load(file("hf")), 2);
  const std::span<const float> all = t.forward_batch_all(tokens, 0);  // (n_tokens, vocab_size)
  const std::size_t vocab = std::size_t(w.config.vocab_size);
  std::vector<std::vector<float>> got;
  for (std::size_t p = 0; p < tokens.size(); p++) got.emplace_back(all.begin() + p * vocab, all.begin() + (p + 1) * vocab);
  EXPECT_LT(max_rel_error(got, want), 1e-5);

  // The pairing is what makes it right: the same HF weights with Meta's
  // interleaved RoPE are another model.
  auto hf = std::make_shared<Model>(Model::load(file("hf")));
  Config interleaved = hf->config();
  interleaved.rope_style = RopeStyle::INTERLEAVED;
  Model wrong(interleaved, hf->weights(), ModelFormat::HF, hf->path(), 0, hf);
  EXPECT_GT(max_rel_error(engine_logits(std::move(wrong), tokens), want), 1e-3);
}

TEST_F(HfModel, WrittenAsGgufQAndKGoBackToMetasOrder) {
  const test::SyntheticWeights w = test::make_weights(test::small_config(), 26);
  test::HfFolderOptions o;
  o.dtype = "BF16";
  test::write_hf_folder(file("hf"), test::round_weights(w, "BF16"), o);
  test::write_tokenizer_bin(file("t.bin"), w.config.vocab_size);
  const Model hf = Model::load(file("hf"));
  write_llama_gguf(hf, Tokenizer::load(file("t.bin")).vocab(), WeightType::F32, file("m.gguf"));
  Model gguf = Model::load(file("m.gguf"));
  EXPECT_EQ(gguf.config().rope_style, RopeStyle::INTERLEAVED);
  const std::vector<int> tokens = {1, 2, 3, 50, 60, 7};
  const auto want = engine_logits(Model::load(file("hf")), tokens);
  std::vector<std::vector<double>> want_d;
  for (const auto& row : want) want_d.emplace_back(row.begin(), row.end());
  EXPECT_LT(max_rel_error(engine_logits(std::move(gguf), tokens), want_d), 1e-5);
}

// --- config.json refusals ------------------------------------------------------------------

class HfConfig : public ::testing::Test, protected test::TempDir {
 protected:
  HfConfig() : w_(test::make_weights(test::make_config(32, 64, 1, 4, 2, 20, 16, false), 3)) {
    test::write_hf_folder(file("hf"), w_);
  }
  // config.json with `from` replaced by `to`.
  void rewrite(const std::string& from, const std::string& to) {
    std::string cfg = test::hf_config_json(w_.config);
    const auto at = cfg.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    cfg.replace(at, from.size(), to);
    std::ofstream(file("hf/config.json")) << cfg;
  }
  void expect_refused(const std::string& from, const std::string& to, const std::string& message) {
    rewrite(from, to);
    expect_error([&] { Model::load(file("hf")); }, message);
  }
  test::SyntheticWeights w_;
};

TEST_F(HfConfig, RefusesOtherArchitecturesAndUnsupportedSettings) {
  expect_refused("[\"LlamaForCausalLM\"]", "[\"MistralForCausalLM\"]",
                 "config.json: field \"architectures\" = [\"MistralForCausalLM\"], expected [\"LlamaForCausalLM\"]");
  expect_refused("\"model_type\": \"llama\"", "\"model_type\": \"qwen2\"",
                 "config.json: field \"model_type\" = \"qwen2\", expected \"llama\"");
  expect_refused("\"rope_scaling\": null", "\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}",
                 "config.json: field \"rope_scaling\" = an object: RoPE scaling is not supported");
  expect_refused("\"attention_bias\": false", "\"attention_bias\": true",
                 "config.json: field \"attention_bias\" = true: biases are not supported");
  expect_refused("\"attention_bias\": false", "\"attention_bias\": false, \"mlp_bias\": true",
                 "config.json: field \"mlp_bias\" = true");
  expect_refused("\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"",
                 "config.json: field \"hidden_act\" = \"gelu\", expected \"silu\"");
  expect_refused("\"attention_bias\": false", "\"attention_bias\": false, \"head_dim\": 16",
                 "config.json: field \"head_dim\" = 16, but hidden_size / num_attention_heads = 8");
  expect_refused("\"attention_bias\": false", "\"attention_bias\": \"no\"",
                 "config.json: field \"attention_bias\" = \"no\" (line 16, column 21) is a string, expected true or false");
}

TEST_F(HfConfig, RefusesZeroNegativeAndInconsistentSizes) {
  expect_refused("\"hidden_size\": 32", "\"hidden_size\": 0",
                 "config.json: field \"hidden_size\" = 0 (line 4, column 18), expected an integer in [1, 65536]");
  expect_refused("\"num_hidden_layers\": 1", "\"num_hidden_layers\": -3", "field \"num_hidden_layers\" = -3");
  expect_refused("\"vocab_size\": 20", "\"vocab_size\": 2.5", "field \"vocab_size\" = 2.5");
  expect_refused("\"intermediate_size\": 64", "\"intermediate_size\": \"64\"",
                 "field \"intermediate_size\" = \"64\" (line 5, column 24) is a string, expected an integer");
  expect_refused("\"num_attention_heads\": 4", "\"num_attention_heads\": 5",
                 "hidden_size = 32 is not a multiple of num_attention_heads = 5");
  expect_refused("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3",
                 "num_attention_heads = 4 is not a multiple of num_key_value_heads = 3");
  expect_refused("\"rms_norm_eps\": 9.99999975e-06", "\"rms_norm_eps\": -1", "field \"rms_norm_eps\" = -1, expected a positive number");
  expect_refused("\"vocab_size\": 20,", "", "config.json: missing field \"vocab_size\"");
  expect_refused("\"architectures\"", "\"architectures\": 1, \"x\"", "field \"architectures\" = 1");
  expect_refused("\"vocab_size\": 20", "\"vocab_size\": 20, \"vocab_size\": 20", "duplicate key \"vocab_size\"");
  expect_refused("{", "[", "config.json");  // not an object
}

TEST_F(HfConfig, ConfigSizesMustMatchTheTensors) {
  // The tensors are (20, 32) embeddings; the config says 21 tokens.
  expect_refused("\"vocab_size\": 20", "\"vocab_size\": 21",
                 "model.safetensors: tensor \"model.embed_tokens.weight\" has shape [20, 32], expected [21, 32]");
  expect_refused("\"num_hidden_layers\": 1", "\"num_hidden_layers\": 2",
                 "tensor \"model.layers.1.input_layernorm.weight\" is missing");
  // Tied in the config but the folder has lm_head: refused, not ignored.
  expect_refused("\"tie_word_embeddings\": false", "\"tie_word_embeddings\": true",
                 "tensor \"lm_head.weight\" (F32 [20, 32]) is not part of a Llama model");
}

// --- the folder --------------------------------------------------------------------------

TEST_F(HfModel, RefusesBrokenFolders) {
  const test::SyntheticWeights w = test::make_weights(test::make_config(32, 64, 1, 4, 2, 20, 16, false), 4);
  test::HfFolderOptions o;
  o.n_shards = 2;
  test::write_hf_folder(file("hf"), w, o);
  fs::remove(file("hf/model-00002-of-00002.safetensors"));
  expect_error([&] { Model::load(file("hf")); },
               "model.safetensors.index.json: weight_map names the shard \"model-00002-of-00002.safetensors\" (for "
               "tensor \"model.layers.0.input_layernorm.weight\"), which is not in");

  fs::remove(file("hf/model.safetensors.index.json"));
  expect_error([&] { Model::load(file("hf")); },
               "a Hugging Face folder needs model.safetensors or model.safetensors.index.json, found neither");
  std::ofstream(file("hf/pytorch_model.bin")) << "x";
  expect_error([&] { Model::load(file("hf")); }, "pytorch_model.bin, PyTorch's pickle format, is not supported");

  // An index naming a file outside the folder, or a tensor its shard lacks.
  std::ofstream(file("hf/model.safetensors.index.json")) << R"({"weight_map": {"a": "../x.safetensors"}})";
  expect_error([&] { Model::load(file("hf")); }, "weight_map names the shard \"../x.safetensors\", expected a file name");
  std::ofstream(file("hf/model.safetensors.index.json"))
      << R"({"weight_map": {"model.norm.weight": "model-00001-of-00002.safetensors", "nope": "model-00001-of-00002.safetensors"}})";
  expect_error([&] { Model::load(file("hf")); }, "weight_map puts tensor \"nope\" in");
}

TEST_F(HfModel, RefusesMissingAndMisshapenTensors) {
  const Config c = test::make_config(32, 64, 1, 4, 2, 20, 16, false);
  const test::SyntheticWeights w = test::make_weights(c, 5);
  fs::create_directories(file("hf"));
  std::ofstream(file("hf/config.json")) << test::hf_config_json(c);
  test::SafetensorsBuilder b;
  b.floats("model.embed_tokens.weight", "F32", {20, 32}, w.token_embedding.data());
  b.floats("model.norm.weight", "F16", {32}, w.rms_final.data());
  b.write(file("hf/model.safetensors"));
  expect_error([&] { Model::load(file("hf")); }, ": tensor \"lm_head.weight\" is missing");
  b.floats("lm_head.weight", "F32", {32, 20}, w.wcls.data());  // transposed
  b.write(file("hf/model.safetensors"));
  expect_error([&] { Model::load(file("hf")); }, "tensor \"lm_head.weight\" has shape [32, 20], expected [20, 32]");
}

}  // namespace
}  // namespace llama2

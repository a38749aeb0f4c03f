// validate_config and Model::validate: the checks every loader shares. Models
// here are built in memory (the Model constructor for converters and tests).
#include "llama2/model.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>

#include "llama2/error.hpp"
#include "llama2/transformer.hpp"
#include "support/reference_model.hpp"
#include "support/synthetic_model.hpp"

namespace llama2::test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string config_error(const Config& c) {
  try {
    validate_config(c, "cfg.bin");
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected validate_config to throw";
  return "";
}

// --- validate_config ------------------------------------------------------------------

TEST(ValidateConfig, AcceptsRealShapes) {
  EXPECT_NO_THROW(validate_config(small_config(), "x"));
  Config c = make_config(8192, 28672, 80, 64, 8, 32000, 4096, true);  // Llama 2 70B
  EXPECT_NO_THROW(validate_config(c, "x"));
  c.n_kv_heads = 64;  // MHA
  EXPECT_NO_THROW(validate_config(c, "x"));
  c.n_kv_heads = 1;  // MQA
  EXPECT_NO_THROW(validate_config(c, "x"));
}

TEST(ValidateConfig, EachFieldOutOfRange) {
  struct Case {
    int Config::*field;
    const char* name;
    int value;
    const char* range;
  };
  const Case cases[] = {
      {&Config::dim, "dim", 0, "[1, 65536]"},
      {&Config::dim, "dim", 65538, "[1, 65536]"},
      {&Config::hidden_dim, "hidden_dim", -1, "[1, 262144]"},
      {&Config::n_layers, "n_layers", 0, "[1, 4096]"},
      {&Config::n_heads, "n_heads", -6, "[1, 4096]"},
      {&Config::n_kv_heads, "n_kv_heads", 7, "[1, 6]"},
      {&Config::n_kv_heads, "n_kv_heads", 0, "[1, 6]"},
      {&Config::vocab_size, "vocab_size", INT32_MIN, "[1, 16777216]"},
      {&Config::seq_len, "seq_len", (1 << 24) + 1, "[1, 16777216]"},
  };
  for (const Case& k : cases) {
    Config c = small_config();
    c.*k.field = k.value;
    EXPECT_THAT(config_error(c), HasSubstr(std::string("cfg.bin: ") + k.name + " = " + std::to_string(k.value) +
                                           ", expected a value in " + k.range));
  }
}

TEST(ValidateConfig, DivisibilityAndHeadSize) {
  Config c = small_config();
  c.dim = 46;
  EXPECT_THAT(config_error(c), HasSubstr("cfg.bin: dim = 46 is not a multiple of n_heads = 6"));
  c = small_config();
  c.n_kv_heads = 4;
  EXPECT_THAT(config_error(c), HasSubstr("cfg.bin: n_heads = 6 is not a multiple of n_kv_heads = 4"));
  c = small_config();
  c.dim = 42;  // head_size 7
  EXPECT_THAT(config_error(c), AllOf(HasSubstr("head_size = dim / n_heads = 7"), HasSubstr("even")));
}

TEST(ValidateConfig, RopeThetaAndNormEps) {
  Config c = small_config();
  c.rope_theta = 0.0f;
  EXPECT_THAT(config_error(c), HasSubstr("rope_theta"));
  c = small_config();
  c.rope_theta = NAN;
  EXPECT_THAT(config_error(c), HasSubstr("rope_theta = nan"));
  c = small_config();
  c.norm_eps = -1e-5f;
  EXPECT_THAT(config_error(c), HasSubstr("norm_eps = -0.00001"));
  c = small_config();
  c.norm_eps = 0.0f;  // allowed
  EXPECT_NO_THROW(validate_config(c, "x"));
}

// --- Model::validate --------------------------------------------------------------------

// Weights as F32 tensors pointing into a SyntheticWeights kept alive by the model.
struct InMemory {
  std::shared_ptr<SyntheticWeights> owner;
  Weights weights;
};

InMemory in_memory(const SyntheticWeights& sw) {
  InMemory m;
  m.owner = std::make_shared<SyntheticWeights>(sw);
  const SyntheticWeights& s = *m.owner;
  const Config& c = s.config;
  const std::size_t dim = c.dim, hidden = c.hidden_dim, kv = c.kv_dim(), vocab = c.vocab_size;
  auto t = [](const std::vector<float>& v, std::size_t offset, std::size_t rows, std::size_t cols) {
    Tensor x;
    x.type = WeightType::F32;
    x.data = v.data() + offset;
    x.rows = rows;
    x.cols = cols;
    return x;
  };
  m.weights.token_embedding = t(s.token_embedding, 0, vocab, dim);
  m.weights.wcls = t(s.wcls, 0, vocab, dim);
  m.weights.rms_final = s.rms_final.data();
  for (std::size_t l = 0; l < std::size_t(c.n_layers); l++) {
    LayerWeights lw;
    lw.rms_att = s.rms_att.data() + l * dim;
    lw.rms_ffn = s.rms_ffn.data() + l * dim;
    lw.wq = t(s.wq, l * dim * dim, dim, dim);
    lw.wk = t(s.wk, l * kv * dim, kv, dim);
    lw.wv = t(s.wv, l * kv * dim, kv, dim);
    lw.wo = t(s.wo, l * dim * dim, dim, dim);
    lw.w1 = t(s.w1, l * hidden * dim, hidden, dim);
    lw.w2 = t(s.w2, l * dim * hidden, dim, hidden);
    lw.w3 = t(s.w3, l * hidden * dim, hidden, dim);
    m.weights.layers.push_back(lw);
  }
  return m;
}

std::string model_error(const Config& c, const Weights& w) {
  try {
    Model m(c, w, ModelFormat::GGUF, "mem.bin", 0, nullptr);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected the Model constructor to throw";
  return "";
}

class ModelValidate : public ::testing::Test {
 protected:
  void SetUp() override {
    sw_ = make_weights(small_config(), 5);
    mem_ = in_memory(sw_);
  }
  SyntheticWeights sw_;
  InMemory mem_;
};

TEST_F(ModelValidate, InMemoryModelRunsAndMatchesReference) {
  Model m(sw_.config, mem_.weights, ModelFormat::LLAMA2C_V1, "mem.bin", 0, mem_.owner);
  EXPECT_EQ(m.path(), "mem.bin");
  Transformer t(m, 2);
  const std::vector<int> tokens = {1, 5, 66, 0, 30};
  auto want = reference_logits(sw_, tokens);
  for (std::size_t p = 0; p < tokens.size(); p++) {
    auto got = t.forward(tokens[p], int(p));
    for (std::size_t i = 0; i < got.size(); i++) ASSERT_NEAR(got[i], want[p][i], 1e-4) << p << " " << i;
  }
}

TEST_F(ModelValidate, WrongShapeNamesTensorAndShapes) {
  Weights w = mem_.weights;
  w.layers[1].wq.rows = 47;
  EXPECT_THAT(model_error(sw_.config, w), HasSubstr("mem.bin: tensor wq has shape (47, 48), expected (48, 48)"));
  w = mem_.weights;
  w.layers[2].w2.cols = 48;
  EXPECT_THAT(model_error(sw_.config, w), HasSubstr("tensor w2 has shape (48, 48), expected (48, 100)"));
  w = mem_.weights;
  w.wcls.rows = 66;
  EXPECT_THAT(model_error(sw_.config, w), HasSubstr("tensor classifier has shape (66, 48), expected (67, 48)"));
  w = mem_.weights;
  w.layers[0].wk.rows = 48;  // MHA-sized k in a GQA model
  EXPECT_THAT(model_error(sw_.config, w), HasSubstr("tensor wk has shape (48, 48), expected (24, 48)"));
}

TEST_F(ModelValidate, MissingPieces) {
  Weights w = mem_.weights;
  w.token_embedding.data = nullptr;
  EXPECT_THAT(model_error(sw_.config, w), HasSubstr("mem.bin: tensor token_embedding is missing"));
  w = mem_.weights;
  w.rms_final = nullptr;
  EXPECT_THAT(model_error(sw_.config, w), HasSubstr("final rmsnorm weights are missing"));
  w = mem_.weights;
  w.layers[1].rms_ffn = nullptr;
  EXPECT_THAT(model_error(sw_.config, w), HasSubstr("rmsnorm weights of a layer are missing"));
  w = mem_.weights;
  w.layers.pop_back();
  EXPECT_THAT(model_error(sw_.config, w), HasSubstr("2 layers, expected n_layers = 3"));
  w = mem_.weights;
  w.layers[0].w1.type = WeightType::Q8_GROUP;  // no scales, no group size
  EXPECT_THAT(model_error(sw_.config, w), HasSubstr("tensor w1 is int8 without group scales"));
}

TEST_F(ModelValidate, BadConfigIsCheckedToo) {
  Config c = sw_.config;
  c.n_layers = 0;
  EXPECT_THAT(model_error(c, mem_.weights), HasSubstr("mem.bin: n_layers = 0"));
}

TEST(ModelFormatName, NamesEachFormat) {
  EXPECT_EQ(model_format_name(ModelFormat::LLAMA2C_V0), "llama2.c v0 (legacy fp32)");
  EXPECT_EQ(model_format_name(ModelFormat::LLAMA2C_V1), "llama2.c v1 (fp32)");
  EXPECT_EQ(model_format_name(ModelFormat::LLAMA2C_V2), "llama2.c v2 (int8)");
  EXPECT_EQ(model_format_name(ModelFormat::GGUF), "GGUF");
}

}  // namespace
}  // namespace llama2::test

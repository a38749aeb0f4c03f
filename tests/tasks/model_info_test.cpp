// ModelInfo: parameter counts, bytes, FLOPs and KV-cache sizes against hand
// computation for stories260K, a GQA synthetic model (fp32 and int8) and the
// Llama-2-7B shape.
#include "llama2/model_info.hpp"

#include <gtest/gtest.h>

#include "llama2/error.hpp"
#include "support/shared_files.hpp"
#include "support/synthetic_model.hpp"

namespace llama2 {
namespace {

TEST(ModelInfo, Stories260KByHand) {
  LLAMA2_SHARED_MODEL(path, "stories260K.bin");
  const Model model = Model::load(path);
  const ModelInfo info = model_info(model);
  // dim 64, hidden 172, 5 layers, 8 heads of 8, 4 kv heads (kv_dim 32), vocab 512, shared classifier.
  EXPECT_EQ(info.params.embedding, 512u * 64);
  EXPECT_EQ(info.params.attention, 5u * (64 * 64 + 32 * 64 + 32 * 64 + 64 * 64));  // 61,440
  EXPECT_EQ(info.params.ffn, 5u * 3 * 64 * 172);                                  // 165,120
  EXPECT_EQ(info.params.norms, 5u * 2 * 64 + 64);
  EXPECT_EQ(info.params.classifier, 0u);  // shared: counted once, under embedding
  EXPECT_EQ(info.params.total(), 260032u);
  ASSERT_EQ(info.by_type.size(), 1u);
  EXPECT_EQ(info.by_type.at(WeightType::F32).bytes, 260032u * 4);
  // The file is the weights plus the 28-byte header and two unused RoPE tables (512 x 4 floats each).
  EXPECT_EQ(model.file_size(), 260032u * 4 + 28 + 2 * 512 * 4 * 4);
  // Matmuls: every layer matrix plus the (shared) classifier.
  EXPECT_EQ(info.matmul_params, 61440u + 165120u + 32768u);
  EXPECT_DOUBLE_EQ(info.flops_per_token(0), 2.0 * 259328 + 4.0 * 5 * 64 * 1);
  EXPECT_DOUBLE_EQ(info.flops_per_token(511), 2.0 * 259328 + 4.0 * 5 * 64 * 512);
  EXPECT_EQ(info.kv_bytes_per_token(), 2u * 5 * 32 * 4);
  EXPECT_EQ(info.kv_bytes_full_context(), 2u * 5 * 32 * 4 * 512);
  EXPECT_DOUBLE_EQ(info.bytes_per_token(0), 259328.0 * 4 + 64 * 4 + 704 * 4 + 1280);
  EXPECT_DOUBLE_EQ(info.max_tokens_per_second(1e9, 0), 1e9 / info.bytes_per_token(0));
  // The Config-only path agrees with the file.
  const ModelInfo from_config = model_info(model.config());
  EXPECT_EQ(from_config.params.total(), info.params.total());
  EXPECT_EQ(from_config.weight_bytes, info.weight_bytes);
}

TEST(ModelInfo, GqaSyntheticFp32AndInt8) {
  const test::SyntheticWeights w = test::make_weights(test::small_config(), 21);
  const std::string dir = test::make_temp_dir("model_info");
  test::write_llama2c_v0(dir + "/v0.bin", w);
  test::write_llama2c_v2(dir + "/v2.bin", w, 16);
  // dim 48, hidden 100, 3 layers, 6 heads of 8, 3 kv heads (kv_dim 24), vocab 67, separate classifier.
  const std::uint64_t emb = 67 * 48, attn = 3 * (48 * 48 + 24 * 48 * 2 + 48 * 48), ffn = 3 * 3 * 48 * 100,
                      norms = 3 * 2 * 48 + 48, cls = 67 * 48;
  const ModelInfo f32 = model_info(Model::load(dir + "/v0.bin"));
  EXPECT_EQ(f32.params.embedding, emb);
  EXPECT_EQ(f32.params.attention, attn);
  EXPECT_EQ(f32.params.ffn, ffn);
  EXPECT_EQ(f32.params.norms, norms);
  EXPECT_EQ(f32.params.classifier, cls);
  EXPECT_EQ(f32.params.total(), emb + attn + ffn + norms + cls);
  EXPECT_EQ(f32.kv_bytes_per_token(), 2u * 3 * 24 * 4);
  EXPECT_DOUBLE_EQ(f32.flops_per_token(9), 2.0 * double(attn + ffn + cls) + 4.0 * 3 * 48 * 10);

  const ModelInfo q8 = model_info(Model::load(dir + "/v2.bin"));
  EXPECT_EQ(q8.params.total(), f32.params.total());
  // int8: one byte per weight plus one fp32 scale per group of 16; norms stay fp32.
  const std::uint64_t matrices = emb + attn + ffn + cls;
  ASSERT_EQ(q8.by_type.size(), 2u);
  EXPECT_EQ(q8.by_type.at(WeightType::Q8_GROUP).params, matrices);
  EXPECT_EQ(q8.by_type.at(WeightType::Q8_GROUP).bytes, matrices + matrices / 16 * 4);
  EXPECT_DOUBLE_EQ(q8.by_type.at(WeightType::Q8_GROUP).bytes_per_param(), 1.25);
  EXPECT_EQ(q8.by_type.at(WeightType::F32).bytes, norms * 4);
  WeightLayout layout{WeightType::Q8_GROUP, WeightType::Q8_GROUP, WeightType::Q8_GROUP, WeightType::Q8_GROUP, 16};
  EXPECT_EQ(model_info(w.config, layout).weight_bytes, q8.weight_bytes);
}

TEST(ModelInfo, Llama2_7BShape) {
  const Config c = test::make_config(4096, 11008, 32, 32, 32, 32000, 4096, false);
  const ModelInfo info = model_info(c, WeightLayout{WeightType::F16, WeightType::F16, WeightType::F16, WeightType::F16});
  EXPECT_EQ(info.params.total(), 6738415616u);  // the "7B" of Llama-2-7B
  EXPECT_EQ(info.params.embedding, 131072000u);
  EXPECT_EQ(info.params.classifier, 131072000u);
  EXPECT_EQ(info.params.attention, 32ull * 4 * 4096 * 4096);
  EXPECT_EQ(info.params.ffn, 32ull * 3 * 4096 * 11008);
  EXPECT_EQ(info.params.norms, 32ull * 2 * 4096 + 4096);
  EXPECT_EQ(info.weight_bytes, (6738415616ull - info.params.norms) * 2 + info.params.norms * 4);
  EXPECT_EQ(info.kv_bytes_per_token(), 1048576u);            // 512 KiB of keys + 512 KiB of values
  EXPECT_EQ(info.kv_bytes_full_context(), 4294967296ull);    // 4 GiB at 4096 tokens
  const double matmul = 6738415616.0 - 131072000.0 - double(info.params.norms);
  EXPECT_DOUBLE_EQ(info.flops_per_token(0), 2 * matmul + 4.0 * 32 * 4096);
  // ~13.2 GB read per token: at 100 GB/s at most ~7.6 tokens/s.
  EXPECT_NEAR(info.max_tokens_per_second(100e9, 0), 100e9 / (matmul * 2 + 4096 * 2 + 266240 * 4 + 1048576), 1e-9);
}

TEST(ModelInfo, RejectsBadInput) {
  Config c = test::small_config();
  c.n_heads = 5;  // 48 % 5 != 0
  try {
    model_info(c);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dim = 48 is not a multiple of n_heads = 5"), std::string::npos) << e.what();
  }
  try {
    tensor_bytes(WeightType::Q8_GROUP, 4, 4, 0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("positive group_size, got 0"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace llama2

// The GGUF writer (src/formats/gguf_writer.cpp) and the quantize program.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "formats/gguf.hpp"
#include "formats/gguf_writer.hpp"
#include "llama2/error.hpp"
#include "llama2/model.hpp"
#include "llama2/tokenizer.hpp"
#include "llama2/transformer.hpp"
#include "kernels/quants.hpp"
#include "support/gguf_builder.hpp"
#include "support/engine_logits.hpp"
#include "support/reference_model.hpp"
#include "support/shared_files.hpp"
#include "support/synthetic_model.hpp"

namespace llama2 {
namespace {

using test::engine_logits;
using test::max_rel_error;

struct ToolRun {
  int status;
  std::string err;
};

// Runs build/quantize with `args`; returns its exit status and stderr.
ToolRun quantize(const std::string& dir, const std::string& args) {
  const std::string err_file = dir + "/stderr.txt";
  const std::string cmd = (test::build_dir() / "quantize").string() + " " + args + " 2> " + err_file;
  const int rc = std::system(cmd.c_str());
  std::ifstream in(err_file);
  std::stringstream ss;
  ss << in.rdbuf();
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, ss.str()};
}

// Sizes that are multiples of 32 so every matrix can be quantized.
// vocab 270: <unk> <s> </s>, 256 bytes, 11 letters.
Config quant_config() { return test::make_config(64, 96, 2, 4, 2, 270, 32, false); }

const std::vector<int> kTokens = {1, 72, 101, 269, 3, 260, 44, 0, 200};

class Quantize : public ::testing::Test, protected test::TempDir {};

TEST_F(Quantize, Llama2cToGgufF32GivesBitIdenticalLogits) {
  const test::SyntheticWeights w = test::make_weights(test::small_config(), 21);
  test::write_llama2c_v0(file("m.bin"), w);
  test::write_tokenizer_bin(file("tok.bin"), w.config.vocab_size);
  const ToolRun r = quantize(dir(), file("m.bin") + " " + file("m.gguf") + " F32 -z " + file("tok.bin"));
  ASSERT_EQ(r.status, 0) << r.err;
  Model gguf = Model::load(file("m.gguf"));
  EXPECT_EQ(gguf.format(), ModelFormat::GGUF);
  EXPECT_EQ(gguf.config().n_kv_heads, w.config.n_kv_heads);
  EXPECT_EQ(gguf.config().rope_theta, w.config.rope_theta);
  const std::vector<int> tokens = {1, 5, 66, 3, 40, 0};
  const auto a = engine_logits(std::move(gguf), tokens);
  const auto b = engine_logits(Model::load(file("m.bin")), tokens);
  EXPECT_EQ(a, b);
  // The tokenizer went in too, identical to tokenizer.bin's.
  EXPECT_EQ(Tokenizer::load(file("m.gguf")).vocab().pieces, Tokenizer::load(file("tok.bin")).vocab().pieces);
  EXPECT_EQ(Tokenizer::load(file("m.gguf")).vocab().scores, Tokenizer::load(file("tok.bin")).vocab().scores);
}

TEST_F(Quantize, SharedStoriesModelConvertsToTheSameLogits) {
  LLAMA2_SHARED_MODEL(model, "stories260K.bin");
  // Any 512-piece tokenizer will do for comparing the weights.
  test::write_tokenizer_bin(file("tok512.bin"), 512);
  const ToolRun r = quantize(dir(), model + " " + file("s.gguf") + " F32 -z " + file("tok512.bin"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(engine_logits(Model::load(file("s.gguf")), kTokens), engine_logits(Model::load(model), kTokens));
}

class QuantizeTypes : public Quantize, public ::testing::WithParamInterface<WeightType> {};

TEST_P(QuantizeTypes, LogitsMatchTheReferenceOnTheStoredWeights) {
  const WeightType type = GetParam();
  const test::SyntheticWeights w = test::make_weights(quant_config(), 22);
  test::write_llama2c_v1(file("m.bin"), w);
  test::write_tokenizer_bin(file("tok.bin"), w.config.vocab_size);
  const Vocab vocab = Tokenizer::load(file("tok.bin")).vocab();
  write_llama_gguf(Model::load(file("m.bin")), vocab, type, file("q.gguf"));
  Model m = Model::load(file("q.gguf"));
  const WeightType cls = type == WeightType::Q4_0 ? WeightType::Q8_0 : type;
  EXPECT_EQ(m.weights().token_embedding.type, type);
  EXPECT_EQ(m.weights().wcls.type, cls);
  EXPECT_EQ(m.weights().layers[1].w2.type, type);
  // The stored weights are close to the originals (F32: equal).
  const test::SyntheticWeights stored = test::weights_from_model(m);
  // wq ~ U(-0.21, 0.21): Q4_0 errs up to d = max/8 at a clamped +max, Q8_0
  // up to d/2 = max/254, BF16 and F16 by their relative precision.
  const double tol = type == WeightType::Q4_0   ? 0.03
                     : type == WeightType::Q8_0 ? 0.001
                     : type == WeightType::BF16 ? 0.0005
                     : type == WeightType::F16  ? 0.0001
                                                : 0.0;
  double worst = 0;
  for (std::size_t i = 0; i < w.wq.size(); i++) worst = std::max(worst, double(std::fabs(stored.wq[i] - w.wq[i])));
  EXPECT_LE(worst, tol);
  EXPECT_EQ(stored.rms_att, w.rms_att);       // norms stay F32
  {
    // fp32 activations: the stored weights, within fp32 rounding.
    test::Int8Activations fp32(false);
    EXPECT_LT(max_rel_error(engine_logits(Model::load(file("q.gguf")), kTokens), test::reference_logits(stored, kTokens)),
              1e-4)
        << weight_type_name(type);
  }
  if (type == WeightType::Q8_0 || type == WeightType::Q4_0) {
    test::expect_int8_matches_rounded_reference(file("q.gguf"), stored, kTokens);  // the default int8 path
  } else {
    const double err = max_rel_error(engine_logits(std::move(m), kTokens), test::reference_logits(stored, kTokens));
    EXPECT_LT(err, 1e-4) << weight_type_name(type);
  }
}

INSTANTIATE_TEST_SUITE_P(Types, QuantizeTypes,
                         ::testing::Values(WeightType::F32, WeightType::F16, WeightType::BF16, WeightType::Q8_0,
                                           WeightType::Q4_0),
                         [](const auto& info) { return std::string(weight_type_name(info.param)); });

TEST_F(Quantize, GgufToGgufKeepsTheTokenizerAndTheStoredValues) {
  const test::SyntheticWeights w = test::make_weights(quant_config(), 23);
  test::write_llama2c_v1(file("m.bin"), w);
  test::write_tokenizer_bin(file("tok.bin"), w.config.vocab_size);
  ASSERT_EQ(quantize(dir(), file("m.bin") + " " + file("q8.gguf") + " Q8_0 -z " + file("tok.bin")).status, 0);
  const ToolRun r = quantize(dir(), file("q8.gguf") + " " + file("f32.gguf") + " F32");
  ASSERT_EQ(r.status, 0) << r.err;
  // Q8_0 -> F32 is exact: same dequantized weights, same vocabulary.
  const test::SyntheticWeights a = test::weights_from_model(Model::load(file("q8.gguf")));
  const test::SyntheticWeights b = test::weights_from_model(Model::load(file("f32.gguf")));
  EXPECT_EQ(a.wq, b.wq);
  EXPECT_EQ(a.w2, b.w2);
  EXPECT_EQ(a.token_embedding, b.token_embedding);
  const Vocab va = load_gguf_vocab(file("q8.gguf")), vb = load_gguf_vocab(file("f32.gguf"));
  EXPECT_EQ(va.pieces, vb.pieces);
  EXPECT_EQ(va.scores, vb.scores);
  EXPECT_EQ(va.types, vb.types);
  EXPECT_EQ(va.bos_id, vb.bos_id);
  // The standard keys llama.cpp reads are all there.
  MappedFile f(file("q8.gguf"));
  GgufFile g(f.data(), f.size(), f.path());
  EXPECT_EQ(g.get_string("general.architecture"), "llama");
  EXPECT_EQ(g.get_uint("general.alignment"), 32u);
  EXPECT_EQ(g.get_uint("general.file_type"), 7u);  // LLAMA_FTYPE_MOSTLY_Q8_0
  EXPECT_EQ(g.get_uint("llama.rope.dimension_count"), 16u);
  EXPECT_EQ(g.get_uint("llama.attention.head_count_kv"), 2u);
  EXPECT_EQ(g.get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(g.find_tensor("blk.1.ffn_down.weight")->type, WeightType::Q8_0);
  EXPECT_EQ(g.find_tensor("blk.0.attn_norm.weight")->type, WeightType::F32);
  EXPECT_EQ(f.size() % 32, 0u);
}

TEST_F(Quantize, RowsNotAMultipleOf32FallBackToF16) {
  const test::SyntheticWeights w = test::make_weights(test::small_config(), 24);  // dim 48, hidden 100
  test::write_llama2c_v1(file("m.bin"), w);
  test::write_tokenizer_bin(file("tok.bin"), w.config.vocab_size);
  const ToolRun r = quantize(dir(), file("m.bin") + " " + file("q.gguf") + " Q8_0 -z " + file("tok.bin"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("note: blk.0.ffn_down.weight F16 [100, 48]"), std::string::npos) << r.err;
  EXPECT_EQ(Model::load(file("q.gguf")).weights().layers[0].w2.type, WeightType::F16);
}

class QuantizeMixes : public Quantize, public ::testing::WithParamInterface<const char*> {};

// Every file type through the CLI on a model whose rows are multiples of 256:
// the file records llama.cpp's general.file_type, every tensor has the type
// the mix rules give it, and the engine's logits on the stored weights match
// the double-precision reference run on the same (dequantized) weights.
TEST_P(QuantizeMixes, WritesTheMixTypesAndTheEngineRunsTheStoredWeights) {
  const std::string name = GetParam();
  const test::SyntheticWeights w = test::make_weights(test::make_config(256, 512, 2, 4, 2, 300, 32, false), 31);
  test::write_llama2c_v1(file("m.bin"), w);
  test::write_tokenizer_bin(file("tok.bin"), w.config.vocab_size);
  const ToolRun r = quantize(dir(), file("m.bin") + " " + file("q.gguf") + " " + name + " --threads 2 -z " + file("tok.bin"));
  ASSERT_EQ(r.status, 0) << r.err;
  FileType ft{};
  for (FileType t : file_types()) {
    if (file_type_name(t) == name) ft = t;
  }
  MappedFile f(file("q.gguf"));
  GgufFile g(f.data(), f.size(), f.path());
  EXPECT_EQ(g.get_uint("general.file_type"), std::uint32_t(ft));
  const ModelShape shape{2, 4, 2, true};
  EXPECT_EQ(g.find_tensor("output.weight")->type, tensor_type(ft, {TensorRole::Output, 0, 256}, shape));
  EXPECT_EQ(g.find_tensor("token_embd.weight")->type, tensor_type(ft, {TensorRole::TokenEmbedding, 0, 256}, shape));
  for (int l = 0; l < 2; l++) {
    const std::string p = "blk." + std::to_string(l) + ".";
    EXPECT_EQ(g.find_tensor(p + "attn_v.weight")->type, tensor_type(ft, {TensorRole::AttnV, l, 256}, shape));
    EXPECT_EQ(g.find_tensor(p + "ffn_down.weight")->type, tensor_type(ft, {TensorRole::FfnDown, l, 512}, shape));
    EXPECT_EQ(g.find_tensor(p + "attn_q.weight")->type, tensor_type(ft, {TensorRole::AttnQ, l, 256}, shape));
  }
  const test::SyntheticWeights stored = test::weights_from_model(Model::load(file("q.gguf")));
  test::Int8Activations fp32(false);
  EXPECT_LT(max_rel_error(engine_logits(Model::load(file("q.gguf")), kTokens), test::reference_logits(stored, kTokens)),
            1e-4);
}

INSTANTIATE_TEST_SUITE_P(FileTypes, QuantizeMixes,
                         ::testing::Values("Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q5_1", "Q5_0", "Q4_K_M", "Q4_K_S",
                                           "Q4_1", "Q4_0", "Q3_K_M", "Q3_K_S", "Q2_K"),
                         [](const auto& info) { return std::string(info.param); });

// A failure part way through (here a NaN in the last layer's down
// projection, found only when that tensor is quantized) leaves neither a
// half-written OUT nor the temporary file behind, and an OUT that was there
// before untouched.
TEST_F(Quantize, AFailedWriteLeavesNoFileAndKeepsAnEarlierOne) {
  test::SyntheticWeights w = test::make_weights(quant_config(), 26);
  const std::size_t per_layer = w.w2.size() / std::size_t(w.config.n_layers);
  w.w2[per_layer * std::size_t(w.config.n_layers - 1) + 5] = std::nanf("");
  test::write_llama2c_v0(file("m.bin"), w);
  test::write_tokenizer_bin(file("tok.bin"), w.config.vocab_size);
  ToolRun r = quantize(dir(), file("m.bin") + " " + file("new.gguf") + " Q8_0 -z " + file("tok.bin"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("blk.1.ffn_down.weight: row 0 has a value that is not finite"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(file("new.gguf")));
  EXPECT_FALSE(std::filesystem::exists(file("new.gguf.partial")));

  { std::ofstream(file("old.gguf")) << "an earlier file"; }
  r = quantize(dir(), file("m.bin") + " " + file("old.gguf") + " Q4_K_M -z " + file("tok.bin"));
  EXPECT_EQ(r.status, 1) << r.err;
  std::ifstream in(file("old.gguf"));
  std::string kept;
  std::getline(in, kept);
  EXPECT_EQ(kept, "an earlier file");
  EXPECT_FALSE(std::filesystem::exists(file("old.gguf.partial")));
}

// bench/quant_error (the program behind README's quality table): a file
// against itself has no error, Q8_0 has some, Q4_0 (4 bits fewer) about 16x
// as much; and its heavy-tailed weight set has the shape and the tails it
// promises.
TEST_F(Quantize, QuantErrorMeasuresWhatQuantizingLost) {
  const test::SyntheticWeights w = test::make_weights(quant_config(), 27);
  test::write_llama2c_v0(file("m.bin"), w);
  test::write_tokenizer_bin(file("tok.bin"), w.config.vocab_size);
  for (const char* type : {"F32", "Q8_0", "Q4_0"}) {
    const ToolRun r = quantize(dir(), file("m.bin") + " " + file(std::string(type) + ".gguf") + " " + type + " -z " +
                                          file("tok.bin"));
    ASSERT_EQ(r.status, 0) << r.err;
  }
  const std::string out = file("errors.txt");
  const std::string cmd = (test::build_dir() / "quant_error").string() + " " + file("F32.gguf") + " " +
                          file("F32.gguf") + " " + file("Q8_0.gguf") + " " + file("Q4_0.gguf") + " > " + out;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream in(out);
  std::string header, name;
  std::getline(in, header);
  double rms[3], rel[3];
  std::size_t bytes[3];
  for (int i = 0; i < 3; i++) ASSERT_TRUE(in >> name >> bytes[i] >> rms[i] >> rel[i]) << i;
  EXPECT_EQ(rms[0], 0.0);
  EXPECT_GT(rms[1], 0.0);
  EXPECT_GT(rms[2], 8 * rms[1]);
  EXPECT_LT(rms[2], 32 * rms[1]);
  EXPECT_LT(rel[2], 0.2);
  EXPECT_EQ(bytes[1], std::filesystem::file_size(file("Q8_0.gguf")));

  const std::string heavy = (test::build_dir() / "quant_error").string() + " --heavy-tailed " + file("heavy.bin");
  ASSERT_EQ(std::system(heavy.c_str()), 0);
  const Model m = Model::load(file("heavy.bin"));
  EXPECT_EQ(m.config().dim, 256);
  EXPECT_EQ(m.config().hidden_dim, 768);
  EXPECT_EQ(m.config().vocab_size, 32000);
  EXPECT_NE(m.weights().wcls.data, m.weights().token_embedding.data);
  // Outlier columns: the 4 columns of largest mean square hold values about
  // 20x the rest. Student-t(3) elsewhere: about 1.4% of values beyond 3
  // standard deviations (a normal has 0.27%).
  const Tensor& wq = m.weights().layers[0].wq;
  const float* v = static_cast<const float*>(wq.data);
  std::vector<double> col_ms(wq.cols, 0.0);
  for (std::size_t i = 0; i < wq.n_elements(); i++) col_ms[i % wq.cols] += double(v[i]) * v[i] / double(wq.rows);
  std::vector<double> sorted = col_ms;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_GT(sorted[wq.cols - 4], 100 * sorted[wq.cols / 2]);  // 20x in value, 400x in mean square
  std::size_t beyond = 0, n = 0;
  for (std::size_t i = 0; i < wq.n_elements(); i++) {
    if (col_ms[i % wq.cols] >= sorted[wq.cols - 4]) continue;
    n++;
    beyond += std::fabs(v[i]) > 3 * 0.02f;
  }
  EXPECT_GT(double(beyond) / double(n), 0.008);
  EXPECT_LT(double(beyond) / double(n), 0.03);
}

TEST_F(Quantize, Errors) {
  const test::SyntheticWeights w = test::make_weights(test::small_config(), 25);
  test::write_llama2c_v1(file("m.bin"), w);
  test::write_tokenizer_bin(file("tok.bin"), w.config.vocab_size);
  test::write_tokenizer_bin(file("tok300.bin"), 300);
  ToolRun r = quantize(dir(), file("m.bin") + " " + file("o.gguf") + " F32");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "quantize: " + file("m.bin") +
                       " has no tokenizer: give one with -z tokenizer.bin (see 'quantize --help')\n");
  r = quantize(dir(), file("m.bin") + " " + file("o.gguf") + " Q3_K -z " + file("tok.bin"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("TYPE: expected Q3_K_M or Q3_K_S (the mixes); F32, F16, BF16, Q8_0, Q6_K, Q5_K_M, Q5_K_S, "
                       "Q5_1, Q5_0, Q4_K_M, Q4_K_S, Q4_1, Q4_0, Q3_K_M, Q3_K_S or Q2_K, got 'Q3_K'"),
            std::string::npos)
      << r.err;
  r = quantize(dir(), file("m.bin") + " " + file("o.gguf") + " Q7_K -z " + file("tok.bin"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("TYPE: expected F32, F16, BF16, Q8_0, Q6_K,"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("got 'Q7_K'"), std::string::npos) << r.err;
  r = quantize(dir(), file("m.bin") + " " + file("o.gguf") + " F16 -z " + file("tok300.bin"));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "quantize: error: " + file("o.gguf") + ": the tokenizer has 300 pieces but the model's vocab_size is 67\n");
  r = quantize(dir(), file("absent.bin") + " " + file("o.gguf") + " F16 -z " + file("tok.bin"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("absent.bin"), std::string::npos);
  r = quantize(dir(), file("m.bin") + " " + file("no/such/dir/o.gguf") + " F16 -z " + file("tok.bin"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("cannot open for writing"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace llama2

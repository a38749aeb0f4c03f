// The llama2.c checkpoint reader (v0, v1, v2): good files load with the right
// config and tensors; every bad file is refused with a message that names the
// file, the field or offsets, and the value.
#include <fcntl.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <climits>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "llama2/error.hpp"
#include "llama2/model.hpp"
#include "support/shared_files.hpp"
#include "support/synthetic_model.hpp"

namespace llama2::test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// --- helpers -------------------------------------------------------------------------

using Bytes = std::vector<std::uint8_t>;

void put_i32(Bytes& b, std::int32_t v) {
  std::uint8_t raw[4];
  std::memcpy(raw, &v, 4);
  b.insert(b.end(), raw, raw + 4);
}

// The 7 int32 config fields in file order; vocab_field is written as given.
void put_fields(Bytes& b, const Config& c, std::int32_t vocab_field) {
  for (std::int32_t v : {c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, vocab_field, c.seq_len}) {
    put_i32(b, v);
  }
}

Bytes v0_header(const Config& c, std::int32_t vocab_field) {
  Bytes b;
  put_fields(b, c, vocab_field);
  return b;
}

// A 256-byte v1/v2 header: magic, version, 7 fields, shared flag, group_size.
Bytes ak42_header(const Config& c, std::int32_t version, std::int32_t group_size = 0) {
  Bytes b;
  put_i32(b, 0x616b3432);
  put_i32(b, version);
  put_fields(b, c, c.vocab_size);
  b.push_back(c.shared_classifier ? 1 : 0);
  put_i32(b, group_size);
  b.resize(256, 0);
  return b;
}

void write_file(const std::string& path, const Bytes& b) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  ASSERT_TRUE(out.good()) << path;
}

Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

// The message of the llama2::Error Model::load throws, or a test failure.
std::string load_error(const std::string& path) {
  try {
    Model::load(path);
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected llama2::Error, got another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected Model::load(" << path << ") to throw";
  return "";
}

// The seven sizes of a config in file order: dim, hidden_dim, n_layers,
// n_heads, n_kv_heads, vocab_size, seq_len.
std::array<int, 7> sizes(const Config& c) {
  return {c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len};
}

// EXPECTs that a loaded model's config has `want`'s sizes and classifier sharing.
void expect_config(const Config& got, const Config& want) {
  EXPECT_EQ(sizes(got), sizes(want));
  EXPECT_EQ(got.shared_classifier, want.shared_classifier);
}

// Where `p`, a pointer into a v1/v2 model's mapping, is in the file: layer
// 0's rms_att is at offset 256, so measure from it.
std::uint64_t file_offset(const Model& m, const void* p) {
  const char* base = reinterpret_cast<const char*>(m.weights().layers[0].rms_att) - 256;
  return std::uint64_t(static_cast<const char*>(p) - base);
}

class CheckpointTest : public ::testing::Test, protected TempDir {};

// Byte sizes of the small_config tensors (dim 48, hidden 100, 3 layers, 6/3
// heads, vocab 67, seq_len 40), computed here independently of the reader.
constexpr std::uint64_t L = 3, kDim = 48, kHidden = 100, kKv = 24, kVocab = 67, kSeq = 40, kHead = 8;

// --- good files --------------------------------------------------------------------

TEST_F(CheckpointTest, LoadsEachVersionWithItsConfig) {
  SyntheticWeights w = make_weights(small_config(), 1);
  write_llama2c_v0(file("v0.bin"), w);
  write_llama2c_v1(file("v1.bin"), w);
  write_llama2c_v2(file("v2.bin"), w, 48);
  const std::pair<const char*, ModelFormat> cases[] = {
      {"v0.bin", ModelFormat::LLAMA2C_V0}, {"v1.bin", ModelFormat::LLAMA2C_V1}, {"v2.bin", ModelFormat::LLAMA2C_V2}};
  for (auto [name, format] : cases) {
    SCOPED_TRACE(name);
    Model m = Model::load(file(name));
    EXPECT_EQ(m.format(), format);
    EXPECT_EQ(m.path(), file(name));
    EXPECT_EQ(m.file_size(), std::filesystem::file_size(file(name)));
    expect_config(m.config(), make_config(48, 100, 3, 6, 3, 67, 40, false));
    EXPECT_EQ(m.weights().layers.size(), 3u);
    EXPECT_NE(m.weights().wcls.data, m.weights().token_embedding.data);
  }
}

TEST_F(CheckpointTest, V1TensorsPointAtTheirValues) {
  SyntheticWeights w = make_weights(small_config(), 2);
  write_llama2c_v1(file("v1.bin"), w);
  Model m = Model::load(file("v1.bin"));
  const Weights& mw = m.weights();
  auto f32 = [](const Tensor& t) { return static_cast<const float*>(t.data); };
  EXPECT_EQ(mw.token_embedding.type, WeightType::F32);
  EXPECT_EQ(f32(mw.token_embedding)[5 * kDim + 7], w.token_embedding[5 * kDim + 7]);
  EXPECT_EQ(f32(mw.wcls)[66 * kDim + 47], w.wcls[66 * kDim + 47]);
  EXPECT_EQ(mw.rms_final[47], w.rms_final[47]);
  for (std::size_t l = 0; l < L; l++) {
    const LayerWeights& lw = mw.layers[l];
    EXPECT_EQ(lw.rms_att[3], w.rms_att[l * kDim + 3]);
    EXPECT_EQ(lw.rms_ffn[4], w.rms_ffn[l * kDim + 4]);
    EXPECT_EQ(f32(lw.wq)[10], w.wq[l * kDim * kDim + 10]);
    EXPECT_EQ(f32(lw.wk)[kKv * kDim - 1], w.wk[l * kKv * kDim + kKv * kDim - 1]);
    EXPECT_EQ(f32(lw.wv)[11], w.wv[l * kKv * kDim + 11]);
    EXPECT_EQ(f32(lw.wo)[12], w.wo[l * kDim * kDim + 12]);
    EXPECT_EQ(f32(lw.w1)[13], w.w1[l * kHidden * kDim + 13]);
    EXPECT_EQ(f32(lw.w2)[kDim * kHidden - 1], w.w2[l * kDim * kHidden + kDim * kHidden - 1]);
    EXPECT_EQ(f32(lw.w3)[14], w.w3[l * kHidden * kDim + 14]);
  }
}

TEST_F(CheckpointTest, V0NegativeVocabMeansSeparateClassifier) {
  Config c = small_config();
  c.shared_classifier = true;
  write_llama2c_v0(file("shared.bin"), make_weights(c, 3));
  Model shared = Model::load(file("shared.bin"));
  EXPECT_TRUE(shared.config().shared_classifier);
  EXPECT_EQ(shared.weights().wcls.data, shared.weights().token_embedding.data);
  c.shared_classifier = false;
  write_llama2c_v0(file("separate.bin"), make_weights(c, 3));
  Bytes b = read_file(file("separate.bin"));
  std::int32_t vocab_field;
  std::memcpy(&vocab_field, b.data() + 20, 4);
  EXPECT_EQ(vocab_field, -67);  // the file really says -vocab
  Model separate = Model::load(file("separate.bin"));
  EXPECT_FALSE(separate.config().shared_classifier);
  EXPECT_EQ(separate.config().vocab_size, 67);
}

TEST_F(CheckpointTest, V2TensorsCarryGroupScales) {
  Config c = small_config();
  c.shared_classifier = true;
  SyntheticWeights w = make_weights(c, 4);
  SyntheticWeights deq = write_llama2c_v2(file("v2.bin"), w, 48);
  Model m = Model::load(file("v2.bin"));
  const Tensor& w2 = m.weights().layers[2].w2;
  EXPECT_EQ(w2.type, WeightType::Q8_GROUP);
  EXPECT_EQ(w2.group_size, 48);
  EXPECT_EQ(w2.rows, kDim);
  EXPECT_EQ(w2.cols, kHidden);
  std::vector<float> row(kHidden);
  dequantize_row(w2, 5, row.data());  // row 5 starts mid-group (500 % 48 != 0)
  for (std::size_t j = 0; j < kHidden; j++) {
    ASSERT_EQ(row[j], deq.w2[2 * kDim * kHidden + 5 * kHidden + j]) << j;
  }
  EXPECT_EQ(m.weights().wcls.data, m.weights().token_embedding.data);
}

// --- files too short for any header -------------------------------------------------

TEST_F(CheckpointTest, MissingFileNamesThePath) {
  const std::string path = file("does_not_exist.bin");
  EXPECT_THAT(load_error(path), AllOf(HasSubstr(path), HasSubstr("cannot open"), HasSubstr("No such file")));
}

TEST_F(CheckpointTest, EmptyFile) {
  write_file(file("empty.bin"), {});
  EXPECT_THAT(load_error(file("empty.bin")), AllOf(HasSubstr(file("empty.bin")), HasSubstr("empty")));
}

TEST_F(CheckpointTest, ShorterThanV0Header) {
  for (std::size_t n : {1u, 4u, 27u}) {
    write_file(file("short.bin"), Bytes(n, 7));
    EXPECT_THAT(load_error(file("short.bin")),
                AllOf(HasSubstr(file("short.bin")), HasSubstr("truncated"), HasSubstr(std::to_string(n) + " bytes"),
                      HasSubstr("28-byte")));
  }
}

TEST_F(CheckpointTest, ShorterThanV1Header) {
  Bytes b = ak42_header(small_config(), 1);
  for (std::size_t n : {28u, 100u, 255u}) {
    write_file(file("short.bin"), Bytes(b.begin(), b.begin() + std::ptrdiff_t(n)));
    EXPECT_THAT(load_error(file("short.bin")), AllOf(HasSubstr(file("short.bin")), HasSubstr("truncated"),
                                                     HasSubstr(std::to_string(n) + " bytes"), HasSubstr("256-byte")));
  }
}

// --- truncated and overlong files ---------------------------------------------------

// Byte offsets where each v1 tensor starts (and the file ends) for a shape
// with a separate classifier, in uint64: V1Layout{n_layers, dim, hidden, kv_dim, vocab}.
struct V1Layout {
  std::uint64_t Ln, dim, hidden, kv, vocab;
  std::uint64_t rms_att = 256;
  std::uint64_t rms_ffn = rms_att + Ln * dim * 4;
  std::uint64_t rms_final = rms_ffn + Ln * dim * 4;
  std::uint64_t token_embedding = rms_final + dim * 4;
  std::uint64_t wq = token_embedding + vocab * dim * 4;
  std::uint64_t wk = wq + Ln * dim * dim * 4;
  std::uint64_t wv = wk + Ln * kv * dim * 4;
  std::uint64_t wo = wv + Ln * kv * dim * 4;
  std::uint64_t w1 = wo + Ln * dim * dim * 4;
  std::uint64_t w2 = w1 + Ln * hidden * dim * 4;
  std::uint64_t w3 = w2 + Ln * dim * hidden * 4;
  std::uint64_t classifier = w3 + Ln * hidden * dim * 4;
  std::uint64_t end = classifier + vocab * dim * 4;
};

// small_config's layout.
V1Layout small_v1_layout() { return V1Layout{L, kDim, kHidden, kKv, kVocab}; }

std::string needs(std::uint64_t begin, std::uint64_t end) {
  return "needs bytes [" + std::to_string(begin) + ", " + std::to_string(end) + ")";
}

TEST_F(CheckpointTest, V1TruncatedWeightsNameTensorAndOffsets) {
  write_llama2c_v1(file("m.bin"), make_weights(small_config(), 5));
  Bytes full = read_file(file("m.bin"));
  const V1Layout lay = small_v1_layout();
  ASSERT_EQ(full.size(), lay.end);
  struct Case {
    std::uint64_t size;
    const char* tensor;
    std::uint64_t begin, end;
  };
  const Case cases[] = {
      {lay.end - 1, "classifier", lay.classifier, lay.end},
      {lay.classifier, "classifier", lay.classifier, lay.end},
      {lay.wk + 3, "wk", lay.wk, lay.wv},
      {lay.w2, "w2", lay.w2, lay.w3},
      {256, "rms_att", lay.rms_att, lay.rms_ffn},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.tensor);
    write_file(file("t.bin"), Bytes(full.begin(), full.begin() + std::ptrdiff_t(k.size)));
    EXPECT_THAT(load_error(file("t.bin")),
                AllOf(HasSubstr(file("t.bin") + ": truncated: "), HasSubstr(std::string(k.tensor) + " " + needs(k.begin, k.end)),
                      HasSubstr("the file has " + std::to_string(k.size) + " bytes")));
  }
}

TEST_F(CheckpointTest, V0TruncatedWeights) {
  write_llama2c_v0(file("m.bin"), make_weights(small_config(), 6));
  Bytes full = read_file(file("m.bin"));
  // v0 layout: header, token_embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1,
  // w2, w3, rms_final, freq_cis (seq_len * head_size floats), classifier.
  const std::uint64_t weights = 4 * (kVocab * kDim + L * kDim + 2 * L * kDim * kDim + 2 * L * kKv * kDim + L * kDim +
                                     3 * L * kHidden * kDim + kDim);
  const std::uint64_t freq = 28 + weights, classifier = freq + kSeq * kHead * 4, end = classifier + kVocab * kDim * 4;
  ASSERT_EQ(full.size(), end);
  write_file(file("t.bin"), Bytes(full.begin(), full.end() - 1));
  EXPECT_THAT(load_error(file("t.bin")), AllOf(HasSubstr("truncated"), HasSubstr("classifier " + needs(classifier, end))));
  write_file(file("t.bin"), Bytes(full.begin(), full.begin() + std::ptrdiff_t(freq + 8)));
  EXPECT_THAT(load_error(file("t.bin")), AllOf(HasSubstr("truncated"), HasSubstr("freq_cis"), HasSubstr(needs(freq, classifier))));
  write_file(file("t.bin"), Bytes(full.begin(), full.begin() + 28));
  EXPECT_THAT(load_error(file("t.bin")), HasSubstr("token_embedding " + needs(28, 28 + kVocab * kDim * 4)));
}

TEST_F(CheckpointTest, V2TruncatedWeightsNameLayerAndPart) {
  Config c = small_config();
  c.shared_classifier = true;
  write_llama2c_v2(file("m.bin"), make_weights(c, 7), 48);
  Bytes full = read_file(file("m.bin"));
  // int8 values then fp32 scales (one per 48 values) for each matrix.
  auto q8 = [](std::uint64_t n) { return n + n / 48 * 4; };
  const std::uint64_t norms = 256 + 4 * (2 * L * kDim + kDim);
  const std::uint64_t w3_last = norms + q8(kVocab * kDim) + L * (2 * q8(kDim * kDim) + 2 * q8(kKv * kDim)) +
                                (3 * L - 1) * q8(kHidden * kDim);
  const std::uint64_t w3_last_scales = w3_last + kHidden * kDim, end = w3_last_scales + kHidden * kDim / 48 * 4;
  ASSERT_EQ(full.size(), end);
  write_file(file("t.bin"), Bytes(full.begin(), full.end() - 1));
  EXPECT_THAT(load_error(file("t.bin")), HasSubstr("truncated: w3[2] scales " + needs(w3_last_scales, end)));
  write_file(file("t.bin"), Bytes(full.begin(), full.begin() + std::ptrdiff_t(w3_last + 1)));
  EXPECT_THAT(load_error(file("t.bin")), HasSubstr("truncated: w3[2] int8 values " + needs(w3_last, w3_last_scales)));
}

TEST_F(CheckpointTest, FileLongerThanHeaderImplies) {
  SyntheticWeights w = make_weights(small_config(), 8);
  for (int version : {0, 1, 2}) {
    SCOPED_TRACE(version);
    const std::string path = file("long.bin");
    if (version == 0) write_llama2c_v0(path, w);
    if (version == 1) write_llama2c_v1(path, w);
    if (version == 2) write_llama2c_v2(path, w, 48);
    Bytes b = read_file(path);
    const std::size_t expected = b.size();
    b.insert(b.end(), {1, 2, 3, 4, 5});
    write_file(path, b);
    EXPECT_THAT(load_error(path), AllOf(HasSubstr(path), HasSubstr("file has " + std::to_string(expected + 5) + " bytes"),
                                        HasSubstr("describes " + std::to_string(expected) + " bytes")));
  }
}

// --- bad header fields ----------------------------------------------------------------

TEST_F(CheckpointTest, UnknownVersion) {
  for (std::int32_t version : {0, 3, -1, 0x7fffffff}) {
    write_file(file("v.bin"), ak42_header(small_config(), version));
    EXPECT_THAT(load_error(file("v.bin")), AllOf(HasSubstr(file("v.bin")), HasSubstr("version = " + std::to_string(version)),
                                                 HasSubstr("expected 1 or 2")));
  }
  // The version is reported even when the rest of the header is garbage.
  Config garbage;
  garbage.dim = -5;
  write_file(file("v.bin"), ak42_header(garbage, 7));
  EXPECT_THAT(load_error(file("v.bin")), AllOf(HasSubstr("version = 7"), Not(HasSubstr("dim"))));
}

struct FieldCase {
  const char* field;
  int index;  // position among the 7 header fields
  std::int32_t value;
};

void set_field(Config& c, int index, std::int32_t v) {
  int* fields[] = {&c.dim, &c.hidden_dim, &c.n_layers, &c.n_heads, &c.n_kv_heads, &c.vocab_size, &c.seq_len};
  *fields[index] = v;
}

class BadFieldTest : public CheckpointTest, public ::testing::WithParamInterface<FieldCase> {};

// Each field set to an impossible value in an otherwise good v1 header (and
// v0 for fields other than vocab_size, whose sign means something there).
TEST_P(BadFieldTest, IsReportedWithFieldAndValue) {
  const FieldCase& fc = GetParam();
  Config c = small_config();
  set_field(c, fc.index, fc.value);
  const std::string expect = ": " + std::string(fc.field) + " = " + std::to_string(fc.value) + ", expected";
  write_file(file("v1.bin"), ak42_header(c, 1));
  EXPECT_THAT(load_error(file("v1.bin")), HasSubstr(file("v1.bin") + expect));
  write_file(file("v2.bin"), ak42_header(c, 2, 48));
  EXPECT_THAT(load_error(file("v2.bin")), HasSubstr(file("v2.bin") + expect));
  if (fc.index != 5 || fc.value >= 0) {
    write_file(file("v0.bin"), v0_header(c, c.vocab_size));
    EXPECT_THAT(load_error(file("v0.bin")), AllOf(HasSubstr(file("v0.bin") + expect), HasSubstr("is it a model")));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fields, BadFieldTest,
    ::testing::Values(FieldCase{"dim", 0, 0}, FieldCase{"dim", 0, -48}, FieldCase{"dim", 0, 1 << 20},
                      FieldCase{"dim", 0, INT32_MAX}, FieldCase{"hidden_dim", 1, 0}, FieldCase{"hidden_dim", 1, -1},
                      FieldCase{"hidden_dim", 1, 1 << 30}, FieldCase{"n_layers", 2, 0}, FieldCase{"n_layers", 2, -3},
                      FieldCase{"n_layers", 2, 100000}, FieldCase{"n_heads", 3, 0}, FieldCase{"n_heads", 3, -6},
                      FieldCase{"n_heads", 3, INT32_MAX}, FieldCase{"n_kv_heads", 4, 0},
                      FieldCase{"n_kv_heads", 4, -3}, FieldCase{"n_kv_heads", 4, 12},  // > n_heads
                      FieldCase{"vocab_size", 5, 0}, FieldCase{"vocab_size", 5, -67},
                      FieldCase{"vocab_size", 5, INT32_MIN}, FieldCase{"vocab_size", 5, 1 << 30},
                      FieldCase{"seq_len", 6, 0}, FieldCase{"seq_len", 6, -40}, FieldCase{"seq_len", 6, INT32_MAX}),
    [](const auto& info) {
      std::string v = info.param.value < 0 ? "minus" + std::to_string(-(long long)info.param.value)
                                           : std::to_string(info.param.value);
      return std::string(info.param.field) + "_" + v;
    });

TEST_F(CheckpointTest, V0Int32MinVocab) {
  // -INT32_MIN does not exist: must be refused, not negated into garbage.
  write_file(file("m.bin"), v0_header(small_config(), INT32_MIN));
  EXPECT_THAT(load_error(file("m.bin")), HasSubstr("vocab_size = -2147483648"));
}

TEST_F(CheckpointTest, HeadCountsMustDivide) {
  Config c = small_config();
  c.n_kv_heads = 4;  // 6 % 4 != 0
  write_file(file("m.bin"), ak42_header(c, 1));
  EXPECT_THAT(load_error(file("m.bin")), HasSubstr("n_heads = 6 is not a multiple of n_kv_heads = 4"));

  c = small_config();
  c.dim = 50;  // 50 % 6 != 0
  write_file(file("m.bin"), ak42_header(c, 1));
  EXPECT_THAT(load_error(file("m.bin")), HasSubstr("dim = 50 is not a multiple of n_heads = 6"));

  c = small_config();
  c.dim = 30;  // head_size 5
  write_file(file("m.bin"), v0_header(c, c.vocab_size));
  EXPECT_THAT(load_error(file("m.bin")), AllOf(HasSubstr("head_size = dim / n_heads = 5"), HasSubstr("odd")));
}

TEST_F(CheckpointTest, V2BadGroupSize) {
  for (std::int32_t gs : {0, -1, -64, INT32_MIN, (1 << 20) + 1}) {
    write_file(file("m.bin"), ak42_header(small_config(), 2, gs));
    EXPECT_THAT(load_error(file("m.bin")),
                AllOf(HasSubstr(file("m.bin")), HasSubstr("group_size = " + std::to_string(gs) + ", expected")));
  }
}

TEST_F(CheckpointTest, V2GroupSizeNotDividingATensor) {
  // A complete v2 file (gs 48), then its group_size field patched to a value
  // that does not divide some tensor's element count.
  Config c = small_config();
  write_llama2c_v2(file("good.bin"), make_weights(c, 9), 48);
  Bytes b = read_file(file("good.bin"));
  auto patched = [&](std::int32_t gs) {
    Bytes p = b;
    std::memcpy(p.data() + 37, &gs, 4);
    write_file(file("m.bin"), p);
    return load_error(file("m.bin"));
  };
  // 67 * 48 = 3216 values: 5 divides none.
  EXPECT_THAT(patched(5), HasSubstr("token_embedding has 3216 values, not a multiple of group_size = 5"));
  // 67 divides the embedding (67 * 48) but not wq (48 * 48).
  EXPECT_THAT(patched(67), HasSubstr("wq[0] has 2304 values, not a multiple of group_size = 67"));
  // 200 divides w1 (4800) but not the embedding, which comes first.
  EXPECT_THAT(patched(200), HasSubstr("not a multiple of group_size = 200"));
}

// In v2 each matrix's fp32 scales follow its int8 values, so a matrix with
// n % 4 != 0 values leaves the next scales unaligned. llama2.c's runq.c reads
// them with unaligned loads; this reader refuses such a file with a clear
// message instead (no real model has such a shape).
TEST_F(CheckpointTest, V2UnalignedScalesAreRefusedClearly) {
  write_llama2c_v2(file("m.bin"), make_weights(make_config(6, 5, 1, 3, 3, 7, 4, true), 10), 6);
  // header 256 + norms 4 * (6 + 6 + 6) = 328, then 42 int8 values: scales at 370.
  EXPECT_THAT(load_error(file("m.bin")),
              HasSubstr(file("m.bin") + ": token_embedding scales starts at offset 370, not aligned to 4 bytes"));
}

// --- sizes beyond 32 bits -----------------------------------------------------------

// 70B-like shape (Llama 2 70B: separate classifier).
Config llama70b_config() { return make_config(8192, 28672, 80, 64, 8, 32000, 4096, false); }

// llama70b_config's layout.
V1Layout llama70b_v1_layout() { return V1Layout{80, 8192, 28672, 1024, 32000}; }

TEST_F(CheckpointTest, V0SizesBeyond32BitsAreReportedAsTruncated) {
  // vocab 32000 x dim 65536 fp32 = 8388608000 bytes of embedding.
  Config c = small_config();
  c.dim = 65536;
  c.n_heads = 512;
  c.n_kv_heads = 512;
  c.vocab_size = 32000;
  write_file(file("m.bin"), v0_header(c, c.vocab_size));
  const std::uint64_t end = 28 + 32000ull * 65536 * 4;
  ASSERT_GT(end, 1ull << 32);
  EXPECT_THAT(load_error(file("m.bin")),
              AllOf(HasSubstr("truncated: token_embedding " + needs(28, end)), HasSubstr("the file has 28 bytes")));
}

TEST_F(CheckpointTest, V1SeventyBHeaderInSmallFileIsTruncated) {
  write_file(file("m.bin"), ak42_header(llama70b_config(), 1));
  const V1Layout lay = llama70b_v1_layout();
  EXPECT_THAT(load_error(file("m.bin")), HasSubstr("truncated: rms_att " + needs(lay.rms_att, lay.rms_ffn)));
}

// A sparse file (no disk blocks) of a given size holding `header`; false if
// the filesystem refuses.
bool make_sparse(const std::string& path, const Bytes& header, std::uint64_t size) {
  write_file(path, header);
  int fd = ::open(path.c_str(), O_WRONLY);
  if (fd < 0) return false;
  bool ok = ::ftruncate(fd, off_t(size)) == 0;
  ::close(fd);
  return ok;
}

// A file one byte short of a 70B v1 checkpoint: the message must print the
// > 2^32 offsets exactly.
TEST_F(CheckpointTest, SparseSeventyBOneByteShortIsTruncatedWithExactOffsets) {
  const V1Layout lay = llama70b_v1_layout();
  ASSERT_GT(lay.end, 200ull << 30);
  if (!make_sparse(file("m.bin"), ak42_header(llama70b_config(), 1), lay.end - 1)) {
    GTEST_SKIP() << "filesystem does not support a sparse file of " << lay.end << " bytes";
  }
  EXPECT_THAT(load_error(file("m.bin")),
              AllOf(HasSubstr("truncated: classifier " + needs(lay.classifier, lay.end)),
                    HasSubstr("the file has " + std::to_string(lay.end - 1) + " bytes")));
}

// A real 70B-shaped v1 file (sparse, ~276 GB of holes): it loads, and the last
// layer's tensors sit at offsets computed here in uint64, proving no offset
// wraps at 32 bits. No forward pass (that would read 276 GB of zeros).
TEST_F(CheckpointTest, SparseSeventyBLoadsWithCorrectOffsets) {
  const V1Layout lay = llama70b_v1_layout();
  if (!make_sparse(file("m.bin"), ak42_header(llama70b_config(), 1), lay.end)) {
    GTEST_SKIP() << "filesystem does not support a sparse file of " << lay.end << " bytes";
  }
  Model m = Model::load(file("m.bin"));
  EXPECT_EQ(m.format(), ModelFormat::LLAMA2C_V1);
  EXPECT_EQ(m.file_size(), lay.end);
  expect_config(m.config(), make_config(8192, 28672, 80, 64, 8, 32000, 4096, false));
  const Weights& w = m.weights();
  ASSERT_EQ(w.layers.size(), 80u);
  auto offset = [&](const void* p) { return file_offset(m, p); };
  const std::uint64_t l = 79, dim = 8192, hidden = 28672, kv = 1024;
  const LayerWeights& last = w.layers[79];
  EXPECT_EQ(offset(last.rms_att), lay.rms_att + l * dim * 4);
  EXPECT_EQ(offset(last.rms_ffn), lay.rms_ffn + l * dim * 4);
  EXPECT_EQ(offset(w.rms_final), lay.rms_final);
  EXPECT_EQ(offset(w.token_embedding.data), lay.token_embedding);
  EXPECT_EQ(offset(last.wq.data), lay.wq + l * dim * dim * 4);
  EXPECT_EQ(offset(last.wk.data), lay.wk + l * kv * dim * 4);
  EXPECT_EQ(offset(last.wv.data), lay.wv + l * kv * dim * 4);
  EXPECT_EQ(offset(last.wo.data), lay.wo + l * dim * dim * 4);
  EXPECT_EQ(offset(last.w1.data), lay.w1 + l * hidden * dim * 4);
  EXPECT_EQ(offset(last.w2.data), lay.w2 + l * dim * hidden * 4);
  EXPECT_EQ(offset(last.w3.data), lay.w3 + l * hidden * dim * 4);
  EXPECT_EQ(offset(w.wcls.data), lay.classifier);
  EXPECT_GT(offset(last.w3.data), 1ull << 32);
  EXPECT_EQ(last.w2.rows, dim);
  EXPECT_EQ(last.w2.cols, hidden);
  EXPECT_EQ(last.wk.rows, kv);
}

// The same shape as llama2.c v2 (int8, group_size 64; ~70 GB sparse): the
// int8 values and the scales of the last layer are where uint64 math says.
TEST_F(CheckpointTest, SparseSeventyBV2LoadsWithCorrectOffsets) {
  const std::uint64_t Ln = 80, dim = 8192, hidden = 28672, kv = 1024, vocab = 32000, gs = 64;
  auto q8 = [&](std::uint64_t n) { return n + n / gs * 4; };  // int8 values + fp32 scales
  const std::uint64_t token_embedding = 256 + 4 * (2 * Ln * dim + dim);
  const std::uint64_t wq = token_embedding + q8(vocab * dim);
  const std::uint64_t wk = wq + Ln * q8(dim * dim), wv = wk + Ln * q8(kv * dim), wo = wv + Ln * q8(kv * dim);
  const std::uint64_t w1 = wo + Ln * q8(dim * dim), w2 = w1 + Ln * q8(hidden * dim), w3 = w2 + Ln * q8(dim * hidden);
  const std::uint64_t classifier = w3 + Ln * q8(hidden * dim), end = classifier + q8(vocab * dim);
  if (!make_sparse(file("m.bin"), ak42_header(llama70b_config(), 2, int(gs)), end)) {
    GTEST_SKIP() << "filesystem does not support a sparse file of " << end << " bytes";
  }
  Model m = Model::load(file("m.bin"));
  EXPECT_EQ(m.format(), ModelFormat::LLAMA2C_V2);
  EXPECT_EQ(m.config().n_layers, 80);
  const Weights& w = m.weights();
  auto offset = [&](const void* p) { return file_offset(m, p); };
  const std::uint64_t l = 79;
  const LayerWeights& last = w.layers[79];
  EXPECT_EQ(offset(w.token_embedding.data), token_embedding);
  EXPECT_EQ(offset(w.token_embedding.scales), token_embedding + vocab * dim);
  EXPECT_EQ(offset(last.wq.data), wq + l * q8(dim * dim));
  EXPECT_EQ(offset(last.wk.scales), wk + l * q8(kv * dim) + kv * dim);
  EXPECT_EQ(offset(last.wv.data), wv + l * q8(kv * dim));
  EXPECT_EQ(offset(last.wo.data), wo + l * q8(dim * dim));
  EXPECT_EQ(offset(last.w1.data), w1 + l * q8(hidden * dim));
  EXPECT_EQ(offset(last.w2.scales), w2 + l * q8(dim * hidden) + dim * hidden);
  EXPECT_EQ(offset(last.w3.data), w3 + l * q8(hidden * dim));
  EXPECT_EQ(offset(last.w3.scales), w3 + l * q8(hidden * dim) + hidden * dim);
  EXPECT_EQ(offset(w.wcls.data), classifier);
  EXPECT_EQ(offset(w.wcls.scales), classifier + vocab * dim);
  EXPECT_EQ(last.w3.group_size, 64);
}

// --- not a model at all ---------------------------------------------------------------

TEST_F(CheckpointTest, TokenizerPassedAsModel) {
  write_tokenizer_bin(file("tokenizer.bin"), 300);
  EXPECT_THAT(load_error(file("tokenizer.bin")),
              AllOf(HasSubstr(file("tokenizer.bin")), HasSubstr("is it a model checkpoint?")));
}

TEST_F(CheckpointTest, SharedTokenizerBinPassedAsModel) {
  LLAMA2_SHARED_MODEL(path, "tokenizer.bin");
  EXPECT_THAT(load_error(path), AllOf(HasSubstr(path), HasSubstr("is it a model checkpoint?")));
}

TEST_F(CheckpointTest, TextFilePassedAsModel) {
  const std::string text = "Once upon a time, there was a text file that was not a model.\n";
  write_file(file("story.txt"), Bytes(text.begin(), text.end()));
  EXPECT_THAT(load_error(file("story.txt")), AllOf(HasSubstr(file("story.txt")), HasSubstr("is it a model checkpoint?")));
}

}  // namespace
}  // namespace llama2::test

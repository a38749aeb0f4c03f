// The safetensors reader (src/formats/safetensors.cpp): tensors as views
// into the mapping, and every broken header refused with file, tensor,
// field and value.
#include "formats/safetensors.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "llama2/error.hpp"
#include "llama2/model.hpp"
#include "support/expect_error.hpp"
#include "support/hf_writer.hpp"
#include "support/temp_dir.hpp"

namespace llama2 {
namespace {

using test::expect_error;
using test::SafetensorsBuilder;

class Safetensors : public ::testing::Test, protected test::TempDir {
 protected:
  SafetensorsFile open(const SafetensorsBuilder& b) {
    b.write(file("t.safetensors"));
    return SafetensorsFile(std::make_shared<MappedFile>(file("t.safetensors")));
  }
  void expect_refused(const SafetensorsBuilder& b, const std::string& message) {
    b.write(file("t.safetensors"));
    expect_error([&] { SafetensorsFile(std::make_shared<MappedFile>(file("t.safetensors"))); }, message);
    // Model::load goes to the same reader (by content or by the file name).
    expect_error([&] { Model::load(file("t.safetensors")); }, message);
  }
  static SafetensorsBuilder two_tensors() {
    const float a[6] = {1, 2, 3, 4, 5, 6}, b[2] = {-1, 0.5f};
    SafetensorsBuilder s;
    s.floats("a", "F32", {2, 3}, a).floats("b", "BF16", {2}, b);
    return s;
  }
};

TEST_F(Safetensors, TensorsAreViewsIntoTheMapping) {
  const float v[6] = {1, 2, 3, 4, 5, 6};
  SafetensorsBuilder b;
  b.metadata = {{"format", "pt"}, {"note", "x"}};
  b.floats("w", "F32", {2, 3}, v).floats("h", "F16", {3}, v).floats("s", "BF16", {}, v);
  const SafetensorsFile f = open(b);
  ASSERT_EQ(f.tensors().size(), 3u);
  EXPECT_EQ(f.metadata(), (std::vector<std::pair<std::string, std::string>>{{"format", "pt"}, {"note", "x"}}));
  const SafetensorsTensor* w = f.find("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->type, WeightType::F32);
  EXPECT_EQ(w->shape, (std::vector<std::uint64_t>{2, 3}));
  EXPECT_EQ(w->n_bytes, 24u);
  EXPECT_EQ(0, std::memcmp(w->data, v, 24));
  const std::size_t header = b.bytes().size() - 24 - 6 - 2;
  EXPECT_EQ(w->data, f.file()->data() + header);  // in place: no copy
  EXPECT_EQ(f.find("h")->type, WeightType::F16);
  EXPECT_EQ(f.find("s")->n_elements, 1u);  // a scalar: shape []
  EXPECT_EQ(f.find("zz"), nullptr);
  EXPECT_TRUE(looks_like_safetensors(f.file()->data(), f.file()->size()));
}

TEST_F(Safetensors, RefusesBadHeaderLengths) {
  SafetensorsBuilder b = two_tensors();
  b.header_length = 1ull << 40;
  expect_refused(b, "t.safetensors: safetensors header length = 1099511627776 bytes, more than the limit of 100000000");
  b.header_length = 5000;
  expect_refused(b, "t.safetensors: safetensors header length = 5000 bytes, past the end of the");
  b.header_length = 0;
  expect_refused(b, "does not start with '{'");
}

TEST_F(Safetensors, RefusesHeadersThatAreNotJsonObjects) {
  SafetensorsBuilder b = two_tensors();
  b.header_text = "{\"a\": {\"dtype\": \"F32\",}}";
  expect_refused(b, "t.safetensors: safetensors header: line 1, column 23 (byte 22): trailing comma before '}'");
  b.header_text = "{\"a\": 1} [2]";
  expect_refused(b, "after the JSON value");
  b.header_text = "[1, 2]";
  expect_refused(b, "the safetensors header does not start with '{'");
  b.header_text = "{\"a\": 5}";
  expect_refused(b, "t.safetensors: tensor \"a\" = 5 (line 1, column 7) is a number, expected an object");
  b.header_text = R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"a":{"dtype":"F32","shape":[1],"data_offsets":[24,28]}})";
  expect_refused(b, "duplicate key \"a\"");
}

TEST_F(Safetensors, RefusesBadOffsets) {
  SafetensorsBuilder b = two_tensors();
  b.entries[1].offsets = {24, 4000};
  expect_refused(b, "t.safetensors: tensor \"b\": data_offsets = [24, 4000] ends past the file's 28-byte data buffer");
  b.entries[1].offsets = {20, 24};
  expect_refused(b, "t.safetensors: tensor \"b\" (data_offsets begin 20) overlaps tensor \"a\" (which ends at 24)");
  b.entries[1].offsets = {26, 24};
  expect_refused(b, "tensor \"b\": data_offsets = [26, 24] ends before it begins");
  b.entries[1].offsets = {24, 26};
  expect_refused(b, "tensor \"b\": data_offsets = [24, 26] holds 2 bytes, but dtype BF16 x shape 2 elements = 4 bytes");
  b = two_tensors();
  b.entries[1].offsets = {24, 28};
  b.entries[1].data.push_back(0);  // two trailing bytes nobody owns
  b.entries[1].data.push_back(0);
  expect_refused(b, "the tensors end at byte 28 of the data buffer, but it has 30 bytes (trailing data)");
  b = two_tensors();
  b.entries[0].offsets = {4, 28};
  b.entries[1].offsets = {28, 32};
  b.entries[1].data.resize(8);
  expect_refused(b, "bytes [0, 4) of the data buffer belong to no tensor");
  b = two_tensors();
  b.header_text = R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,-24]}})";
  expect_refused(b, "tensor \"a\" data_offsets[1] = -24");
  b.header_text = R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0]}})";
  expect_refused(b, "tensor \"a\": data_offsets has 1 numbers, expected 2");
}

TEST_F(Safetensors, RefusesBadDtypesAndShapes) {
  SafetensorsBuilder b = two_tensors();
  b.entries[1].dtype = "I64";
  expect_refused(b, "t.safetensors: tensor \"b\": dtype \"I64\" is not supported, expected F32, F16 or BF16");
  b.entries[1].dtype = "Q4";
  expect_refused(b, "tensor \"b\": dtype \"Q4\" is not a safetensors dtype");
  b = two_tensors();
  b.header_text = R"({"a":{"dtype":"F32","shape":[2,"3"],"data_offsets":[0,24]}})";
  expect_refused(b, "tensor \"a\" shape[1] = \"3\"");
  b.header_text = R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,24]}})";
  expect_refused(b, "tensor \"a\" shape: size overflows 64 bits");
  b.header_text = R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24],"extra":1}})";
  expect_refused(b, "tensor \"a\": unknown field \"extra\"");
  b.header_text = R"({"a":{"shape":[2,3],"data_offsets":[0,24]}})";
  expect_refused(b, "t.safetensors: tensor \"a\": missing field \"dtype\"");
  b.header_text = R"({"__metadata__":{"format":5}})";
  expect_refused(b, "\"__metadata__\" field \"format\" = 5");
}

TEST_F(Safetensors, RefusesMisalignedData) {
  SafetensorsBuilder b = two_tensors();
  b.pad_header = false;
  b.header_text = b.header() + " ";  // one byte: F32 data at an odd offset
  if ((b.header_text->size() + 8) % 4 == 0) *b.header_text += " ";
  expect_refused(b, "tensor \"a\": data at file offset");
}

}  // namespace
}  // namespace llama2

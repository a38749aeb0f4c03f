// GGUF: the container llama.cpp/ggml models come in (versions 2 and 3).
//
// A GGUF file is little-endian and made of four parts:
//
//   header      char magic[4] = "GGUF", uint32 version (2 or 3),
//               uint64 tensor_count, uint64 metadata_kv_count
//   metadata    metadata_kv_count key/value pairs: key (a string), uint32
//               value type, value. A string is uint64 length + that many
//               bytes (UTF-8, no terminator). Value types: 0 uint8, 1 int8,
//               2 uint16, 3 int16, 4 uint32, 5 int32, 6 float32, 7 bool
//               (one byte, 0 or 1), 8 string, 9 array (uint32 element type,
//               uint64 count, the elements back to back; arrays may nest),
//               10 uint64, 11 int64, 12 float64.
//   tensor      tensor_count entries: name (a string), uint32 n_dims (1..4),
//   table       uint64 ne[n_dims] (ne[0] is the row length, the fastest
//               varying dimension: a matrix (rows, cols) has ne = {cols,
//               rows}), uint32 ggml type id, uint64 offset of the data
//               relative to the start of the data section.
//   data        starts at the end of the tensor table rounded up to the
//               alignment (metadata key general.alignment, a uint32 power of
//               two, default 32); every tensor offset is a multiple of it.
//
// Nothing in a GGUF is trusted: every count is checked against the bytes
// left before anything is allocated, every size is computed with overflow
// checks, every tensor must lie inside the data section without overlapping
// another, and every problem is one llama2::Error naming the file, the
// offset or key, the value and what was expected. Strings and tensor data
// are views into the caller's buffer (the memory mapping): parsing copies
// nothing big.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "llama2/mapped_file.hpp"
#include "llama2/tensor.hpp"
#include "llama2/tokenizer.hpp"

namespace llama2 {

enum class GgufValueType : std::uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

// "uint32", "string", "array", ...
std::string_view gguf_value_type_name(GgufValueType type);

// ggml type ids of the tensor types we run (others are named in errors).
namespace ggml_type {
constexpr std::uint32_t F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q2_K = 10, Q3_K = 11,
                        Q4_K = 12, Q5_K = 13, Q6_K = 14, BF16 = 30;
}

// The ggml type id of a WeightType (throws for Q8_GROUP), and back (throws
// naming the ggml type, e.g. "IQ2_XXS (16)", when we cannot run it).
std::uint32_t ggml_type_id(WeightType type);
// The ggml name of a type id, or "type N" for ids ggml does not define.
std::string ggml_type_name(std::uint32_t id);

struct GgufValue {
  GgufValueType type = GgufValueType::UINT8;
  std::uint64_t u = 0;      // unsigned integers and bool
  std::int64_t i = 0;       // signed integers
  double f = 0.0;           // float32 / float64
  std::string_view str;     // STRING
  // ARRAY: element type, count, and where the elements start in the buffer.
  GgufValueType elem_type = GgufValueType::UINT8;
  std::uint64_t count = 0;
  const std::uint8_t* elems = nullptr;
  std::size_t offset = 0;   // where the value starts in the file
};

struct GgufTensorInfo {
  std::string_view name;
  std::uint32_t n_dims = 0;
  std::uint64_t ne[4] = {1, 1, 1, 1};  // ne[0] = row length (cols)
  std::uint32_t ggml_type = 0;
  WeightType type = WeightType::F32;
  std::uint64_t offset = 0;             // relative to the data section
  std::size_t n_bytes = 0;
  const std::uint8_t* data = nullptr;   // in the buffer

  std::size_t n_elements() const { return std::size_t(ne[0] * ne[1] * ne[2] * ne[3]); }
};

class GgufFile {
 public:
  // Parses and checks header, metadata and tensor table of the `size` bytes
  // at `data` (which must stay alive while this object is used). `path`
  // only names the file in errors. Throws llama2::Error.
  GgufFile(const std::uint8_t* data, std::size_t size, std::string path);

  const std::string& path() const { return path_; }
  std::uint32_t version() const { return version_; }
  std::size_t alignment() const { return alignment_; }
  std::size_t data_offset() const { return data_offset_; }

  // Metadata in file order, and lookup by key (nullptr if absent).
  const std::vector<std::pair<std::string_view, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* find(std::string_view key) const;

  // Typed getters: throw llama2::Error naming the key if it is absent (the
  // required forms) or holds a value of another kind. Integer getters accept
  // any integer type whose value fits; float getters float32 or float64.
  std::uint64_t get_uint(std::string_view key) const;
  std::uint64_t get_uint(std::string_view key, std::uint64_t fallback) const;
  double get_float(std::string_view key) const;
  double get_float(std::string_view key, double fallback) const;
  bool get_bool(std::string_view key, bool fallback) const;
  std::string_view get_string(std::string_view key) const;
  // Arrays: the element type must be exactly `elem` (error otherwise).
  const GgufValue& get_array(std::string_view key, GgufValueType elem) const;
  // The strings of a string array (views into the buffer).
  std::vector<std::string_view> get_string_array(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;

 private:
  std::string path_;
  const std::uint8_t* data_;
  std::size_t size_;
  std::uint32_t version_ = 0;
  std::size_t alignment_ = 32;
  std::size_t data_offset_ = 0;
  std::vector<std::pair<std::string_view, GgufValue>> kv_;
  std::unordered_map<std::string_view, std::size_t> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string_view, std::size_t> tensor_index_;
};

// The tokenizer in a GGUF's metadata (tokenizer.ggml.*; model must be
// "llama", i.e. SentencePiece BPE). Throws llama2::Error.
Vocab load_gguf_vocab(const GgufFile& file);
Vocab load_gguf_vocab(const std::string& path);
Vocab load_gguf_vocab(const MappedFile& file);

}  // namespace llama2

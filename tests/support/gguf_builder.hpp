// GgufBuilder: writes GGUF files byte by byte for the tests, valid or
// deliberately broken (wrong counts, bad offsets, odd types, truncation).
//
// It shares no code with src/formats/gguf_writer.cpp, so that a reader bug cannot be
// hidden by the same bug in the writer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "llama2/model.hpp"
#include "support/synthetic_model.hpp"

namespace llama2::test {

using Bytes = std::vector<std::uint8_t>;

// Little-endian encoders for building values by hand.
void put_u32(Bytes& b, std::uint32_t v);
void put_u64(Bytes& b, std::uint64_t v);
void put_f32(Bytes& b, float v);
void put_str(Bytes& b, const std::string& s);

class GgufBuilder {
 public:
  // GGUF value type ids.
  enum : std::uint32_t { U8 = 0, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 };

  std::uint32_t version = 3;
  std::optional<std::uint64_t> tensor_count;  // override the true count
  std::optional<std::uint64_t> kv_count;      // override the true count
  std::uint64_t alignment = 32;               // used to lay out data (write general.alignment yourself to change it)

  // A key with a raw value payload of value type `type`.
  GgufBuilder& kv_raw(const std::string& key, std::uint32_t type, const Bytes& payload);
  GgufBuilder& kv_u32(const std::string& key, std::uint32_t v);
  GgufBuilder& kv_i32(const std::string& key, std::int32_t v);
  GgufBuilder& kv_u64(const std::string& key, std::uint64_t v);
  GgufBuilder& kv_f32(const std::string& key, float v);
  GgufBuilder& kv_bool(const std::string& key, bool v);
  GgufBuilder& kv_str(const std::string& key, const std::string& v);
  GgufBuilder& kv_str_array(const std::string& key, const std::vector<std::string>& v);
  GgufBuilder& kv_f32_array(const std::string& key, const std::vector<float>& v);
  GgufBuilder& kv_i32_array(const std::string& key, const std::vector<std::int32_t>& v);

  // A tensor with dims ne (fastest first) and ggml type id `type`, holding
  // `data`, placed at the next aligned offset (or at `offset` if given).
  GgufBuilder& tensor(const std::string& name, std::vector<std::uint64_t> ne, std::uint32_t type, Bytes data,
                      std::optional<std::uint64_t> offset = std::nullopt);
  GgufBuilder& tensor_f32(const std::string& name, std::vector<std::uint64_t> ne, const std::vector<float>& v);

  // The whole file (truncated to `truncate` bytes if set).
  Bytes bytes() const;
  std::optional<std::size_t> truncate;
  void write(const std::string& path) const;

 private:
  struct Entry {
    std::string name;
    std::vector<std::uint64_t> ne;
    std::uint32_t type;
    Bytes data;
    std::uint64_t offset;
  };
  std::uint64_t n_kv_ = 0;
  Bytes kv_;
  std::vector<Entry> tensors_;
  std::uint64_t data_end_ = 0;
};

// The ggml type ids the tests use.
constexpr std::uint32_t kGgmlF32 = 0, kGgmlF16 = 1, kGgmlQ4_0 = 2, kGgmlQ4_1 = 3, kGgmlQ5_0 = 6, kGgmlQ5_1 = 7,
                        kGgmlQ8_0 = 8, kGgmlQ2_K = 10, kGgmlQ3_K = 11, kGgmlQ4_K = 12, kGgmlQ5_K = 13,
                        kGgmlQ6_K = 14, kGgmlBF16 = 30;

// Metadata of a small llama tokenizer with `vocab_size` pieces (<unk>, <s>,
// </s>, byte pieces if they fit, then letters).
void add_small_tokenizer(GgufBuilder& b, int vocab_size);

// general.architecture "llama" and the llama.* hyperparameters of `c`.
void add_llama_metadata(GgufBuilder& b, const Config& c);

// A complete llama GGUF of `w` (F32 everything; norms F32), with the
// hyperparameters as metadata. Tests then break one thing at a time.
GgufBuilder llama_gguf_f32(const SyntheticWeights& w);

// Every weight of a loaded model, dequantized with dequantize_row into the
// fp32 master layout the reference forward pass reads.
SyntheticWeights weights_from_model(const Model& model);

// Row-major (rows, cols) random blocks of a block type with sane scales:
// random quants, fp16 scales/mins drawn so values stay O(1/sqrt(cols)).
Bytes random_blocks(std::uint32_t ggml_type, std::size_t rows, std::size_t cols, std::uint64_t seed);

}  // namespace llama2::test

// GgufWriter: writes a GGUF version 3 file (the format is described in
// gguf.hpp) the way llama.cpp's writers do: header, metadata in the order
// added, the tensor table, then the tensor data, each tensor padded to the
// alignment. Tensor bytes are produced one tensor at a time while writing,
// so converting a 70B model never holds more than one tensor in memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "formats/gguf.hpp"
#include "llama2/quantize.hpp"  // write_llama_gguf, for the writer's users
#include "llama2/tensor.hpp"

namespace llama2 {

class GgufWriter {
 public:
  // `alignment` (a power of two) is written as general.alignment.
  explicit GgufWriter(std::uint32_t alignment = 32);

  void add_uint32(const std::string& key, std::uint32_t v);
  void add_int32(const std::string& key, std::int32_t v);
  void add_float32(const std::string& key, float v);
  void add_bool(const std::string& key, bool v);
  void add_string(const std::string& key, const std::string& v);
  void add_string_array(const std::string& key, const std::vector<std::string>& v);
  void add_float32_array(const std::string& key, const std::vector<float>& v);
  void add_int32_array(const std::string& key, const std::vector<std::int32_t>& v);

  // A tensor of shape ne (fastest dimension first: a (rows, cols) matrix is
  // {cols, rows}) and ggml type `type`. produce(out) fills out with exactly
  // the tensor's bytes when the data section is written.
  using Producer = std::function<void(std::vector<std::uint8_t>& out)>;
  void add_tensor(const std::string& name, std::vector<std::uint64_t> ne, WeightType type, Producer produce);

  // Writes the file. Throws llama2::Error if it cannot be written or a
  // producer delivers the wrong number of bytes.
  void write(const std::string& path) const;

 private:
  struct TensorEntry {
    std::string name;
    std::vector<std::uint64_t> ne;
    WeightType type;
    std::size_t n_bytes;
    std::uint64_t offset;
    Producer produce;
  };
  void key(const std::string& k, GgufValueType t);

  std::uint32_t alignment_;
  std::uint64_t kv_count_ = 0;
  std::vector<std::uint8_t> kv_bytes_;  // the metadata section as written
  std::vector<TensorEntry> tensors_;
  std::uint64_t data_size_ = 0;
};

// write_llama_gguf (include/llama2/quantize.hpp, src/tasks/quantize.cpp) is
// built on this writer.

}  // namespace llama2

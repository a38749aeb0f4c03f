// safetensors: the tensor container Hugging Face checkpoints come in.
//
// A .safetensors file is three parts:
//
//   uint64 N            little-endian: the length of the header in bytes
//   header (N bytes)    a UTF-8 JSON object (json.hpp), possibly padded with
//                       trailing spaces. Each member is a tensor:
//                         "model.norm.weight": {"dtype": "BF16",
//                           "shape": [4096], "data_offsets": [0, 8192]}
//                       except "__metadata__", a string-to-string object
//                       (e.g. {"format": "pt"}).
//   byte buffer         the rest of the file: every tensor's data, row-major,
//                       little-endian, at [begin, end) of data_offsets,
//                       relative to the start of the buffer.
//
// The format's own rules, which we check: the buffer is covered entirely by
// the tensors, without overlap or gap (so a file cannot hide other data), and
// end - begin is exactly the element count (the product of shape; a scalar's
// shape is []) times the dtype's size. We also require what our kernels
// need: the dtype is F32, F16 or BF16 (others — F64, I64, F8_E4M3, ... — are
// refused by name), and each tensor's data is aligned to its element size
// in the mapping (the writers pad the header to 8 bytes so that it is).
//
// Tensors are views into the caller's memory mapping: nothing is copied.
// Every problem is a llama2::Error naming the file, the tensor, the field,
// the value and what was expected.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llama2/mapped_file.hpp"
#include "llama2/tensor.hpp"

namespace llama2 {

struct SafetensorsTensor {
  std::string name;
  std::string dtype;                 // as written: "F32", "F16", "BF16"
  WeightType type = WeightType::F32; // the same, as our type
  std::vector<std::uint64_t> shape;  // outermost first: a Linear weight is (out_features, in_features)
  const std::uint8_t* data = nullptr;  // in the mapping
  std::size_t n_bytes = 0;
  std::size_t n_elements = 0;
};

// The safetensors header's largest accepted size (the reference
// implementation's limit: 100 MB; a 70B shard's header is ~30 KB).
inline constexpr std::uint64_t kMaxSafetensorsHeader = 100'000'000;

// Does this look like a safetensors file: an 8-byte length that fits in the
// file and a header that starts with '{'? (Model::load's format detection.)
bool looks_like_safetensors(const std::uint8_t* data, std::size_t size);

class SafetensorsFile {
 public:
  // Parses and checks the header of a mapped file; the file stays mapped as
  // long as this object (or a copy of file()) lives. Throws llama2::Error.
  explicit SafetensorsFile(std::shared_ptr<const MappedFile> file);

  const std::string& path() const { return file_->path(); }
  const std::shared_ptr<const MappedFile>& file() const { return file_; }
  // In the order of the header.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  // The tensor named `name`, or nullptr.
  const SafetensorsTensor* find(std::string_view name) const;
  // "__metadata__", in the order of the header.
  const std::vector<std::pair<std::string, std::string>>& metadata() const { return metadata_; }

 private:
  std::shared_ptr<const MappedFile> file_;
  std::vector<SafetensorsTensor> tensors_;
  std::vector<std::pair<std::string, std::string>> metadata_;
};

}  // namespace llama2

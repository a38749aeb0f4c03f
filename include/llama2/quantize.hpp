// Converting and quantizing a model: what build/quantize does, for programs
// that embed the library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llama2/model.hpp"
#include "llama2/tensor.hpp"
#include "llama2/tokenizer.hpp"

namespace llama2 {

// What a whole file is quantized to, with llama.cpp's general.file_type
// numbers (enum llama_ftype). The _S / _M names are mixes: each tensor's type
// is chosen by tensor_type() below.
enum class FileType : std::uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q8_0 = 7,
  Q5_0 = 8,
  Q5_1 = 9,
  Q2_K = 10,
  Q3_K_S = 11,
  Q3_K_M = 12,
  Q4_K_S = 14,
  Q4_K_M = 15,
  Q5_K_S = 16,
  Q5_K_M = 17,
  Q6_K = 18,
  BF16 = 32,
};

// Every FileType, in the order `quantize --help` lists them.
const std::vector<FileType>& file_types();
// "Q4_K_M", ...
std::string_view file_type_name(FileType type);
// The type most tensors of a file of `type` get (Q4_K for Q4_K_M, ...).
WeightType base_weight_type(FileType type);

// A weight matrix, as the mix rules see it.
enum class TensorRole { TokenEmbedding, Output, AttnQ, AttnK, AttnV, AttnOutput, FfnGate, FfnDown, FfnUp };
struct TensorSlot {
  TensorRole role;
  int layer = 0;        // 0-based; ignored for TokenEmbedding and Output
  std::size_t cols = 0;  // values per row (the GGUF ne[0])
};
struct ModelShape {
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  bool has_output = true;  // a separate classifier (output.weight); else token_embd is the classifier
};

// The type llama.cpp's llama-quantize (llama_tensor_get_type, for Llama
// models without an imatrix) gives this tensor in a file of `type`,
// including its fallback when cols is not a multiple of the type's block
// (README, "Quantizing", has the rules as a table).
WeightType tensor_type(FileType type, const TensorSlot& slot, const ModelShape& shape);

// Progress of write_llama_gguf, reported after each tensor is written.
struct QuantizeProgress {
  std::size_t tensors_done = 0, n_tensors = 0;
  std::uint64_t bytes_in_done = 0, bytes_in_total = 0;  // fp32 bytes of the tensors read so far / in all
  std::uint64_t bytes_out = 0;                          // bytes written so far
  std::string name;                                     // the tensor just written
  WeightType type = WeightType::F32;                    // and its type
};

struct QuantizeOptions {
  FileType type = FileType::F32;
  int n_threads = 0;  // 0 = one per core
  std::function<void(const QuantizeProgress&)> progress;  // optional
};

// Writes `model` with tokenizer `vocab` as a llama.cpp-compatible GGUF:
// general.architecture = "llama", general.file_type, the llama.*
// hyperparameters, the tokenizer.ggml.* vocabulary and llama.cpp's tensor
// names. Matrices get tensor_type()'s type, norm weights stay F32. Tensors
// are quantized one at a time on a thread pool and written as soon as each
// is done (the input's pages are released behind), so memory stays a few
// tensors whatever the model's size. Returns one line per tensor ("name
// type [cols, rows]"). Throws llama2::Error (a non-finite weight, an
// unwritable file, a vocabulary that does not fit the model).
std::vector<std::string> write_llama_gguf(const Model& model, const Vocab& vocab, const QuantizeOptions& options,
                                          const std::string& path);

// The same for a file of plain `type` (F32, F16, BF16, Q8_0, Q4_0, Q4_1,
// Q5_0, Q5_1, Q2_K or Q6_K).
std::vector<std::string> write_llama_gguf(const Model& model, const Vocab& vocab, WeightType type,
                                          const std::string& path);

}  // namespace llama2

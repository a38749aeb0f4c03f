// Model: a checkpoint opened for inference: its Config and Weights, which
// point into a read-only memory mapping of the file.
//
// Model::load detects the format from the file's first bytes:
//   llama2.c legacy v0  7 x int32 header, fp32 weights
//   llama2.c v1         "ak42" magic, version 1, 256-byte header, fp32
//   llama2.c v2         "ak42" magic, version 2, int8 weights + fp32 group scales
//   GGUF                "GGUF" magic (gguf.hpp)
//   Hugging Face        a folder: config.json + model.safetensors (or shards
//                       listed in model.safetensors.index.json)
//   safetensors         one .safetensors file (uint64 header length, then a
//                       JSON header starting with '{'); its config.json must
//                       be beside it
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "llama2/config.hpp"
#include "llama2/mapped_file.hpp"
#include "llama2/tensor.hpp"

namespace llama2 {

enum class ModelFormat { LLAMA2C_V0, LLAMA2C_V1, LLAMA2C_V2, GGUF, HF, SAFETENSORS };

// "llama2.c v0", ...
std::string_view model_format_name(ModelFormat format);

struct LayerWeights {
  const float* rms_att = nullptr;  // (dim) RMSNorm weights before attention
  Tensor wq;                       // (n_heads * head_size, dim)
  Tensor wk;                       // (n_kv_heads * head_size, dim)
  Tensor wv;                       // (n_kv_heads * head_size, dim)
  Tensor wo;                       // (dim, n_heads * head_size)
  const float* rms_ffn = nullptr;  // (dim) RMSNorm weights before the FFN
  Tensor w1;                       // (hidden_dim, dim) gate
  Tensor w2;                       // (dim, hidden_dim) down
  Tensor w3;                       // (hidden_dim, dim) up
};

struct Weights {
  Tensor token_embedding;            // (vocab_size, dim)
  std::vector<LayerWeights> layers;  // (n_layers)
  const float* rms_final = nullptr;  // (dim)
  Tensor wcls;                       // (vocab_size, dim) classifier; == token_embedding when shared
};

class Model {
 public:
  // Opens and validates a checkpoint. Throws llama2::Error naming the file,
  // the field or offset and the value when the file is missing, truncated,
  // of an unknown format or has impossible dimensions.
  static Model load(const std::string& path);

  // For formats whose weights are built in memory (tests, converters): the
  // caller keeps `storage` alive inside the model.
  Model(Config config, Weights weights, ModelFormat format, std::string path,
        std::size_t file_size, std::shared_ptr<const void> storage);

  const Config& config() const { return config_; }
  const Weights& weights() const { return weights_; }
  ModelFormat format() const { return format_; }
  const std::string& path() const { return path_; }
  std::size_t file_size() const { return file_size_; }

  // Checks that every tensor's shape agrees with the config (used by all
  // loaders after they fill in the weights). Throws llama2::Error.
  void validate() const;

  // The weights as this CPU's kernels read them fastest (what Transformer
  // runs): weights(), except the matrices for which the kernel table has a
  // faster layout than the file's. Today: Q4_K repacked into 8-row tiles
  // (WeightType::Q4_K_X8), Q5_K and Q6_K into row pairs (Q5_K_X2, Q6_K_X2)
  // on AVX2 and AVX-512, and Q4_0 into 8-row tiles (Q4_0_X8) on AVX2, into
  // 16-row tiles (Q4_0_X16) on AVX-512 with VNNI, as Q8_0 (Q8_0_X16).
  // Q4_0_X8 and the pairs give the file type's results bit for bit; the
  // Q4_K tiles and the 16-row ones are read with the file type's GEMM
  // arithmetic, so a batched prompt gives the same bits and one token's
  // logits move by fp32 rounding.
  // They are
  // repacked at the first call (1-2 s for a 7B on the 2-core VM of
  // README), a piece at a time, read from the file by pread rather than
  // through the mapping, so memory stays at about the file's size.
  // LLAMA2_REPACK=0 in the environment keeps the file's layout. Built once
  // per model (copies share it); thread-safe.
  const Weights& kernel_weights() const;

 private:
  struct KernelWeights {  // filled once by kernel_weights() (src/kernel_weights.cpp)
    std::once_flag once;
    Weights weights;
    std::shared_ptr<const void> storage;  // the repacked matrices and anything else they point into
  };
  Config config_;
  Weights weights_;
  ModelFormat format_ = ModelFormat::LLAMA2C_V0;
  std::string path_;
  std::size_t file_size_ = 0;
  std::shared_ptr<const void> storage_;  // keeps the mapping (or owned floats) alive
  std::shared_ptr<const MappedFile> file_;  // the mapping of a GGUF file: its pages can be released
  std::shared_ptr<KernelWeights> kernel_weights_;  // built by the first kernel_weights()
};

// Checks a Config read from `path` for values that cannot describe a model:
// non-positive or absurd sizes, dim % n_heads, n_heads % n_kv_heads, odd
// head_size, and sizes whose products overflow size_t. Throws llama2::Error.
void validate_config(const Config& c, const std::string& path);

}  // namespace llama2

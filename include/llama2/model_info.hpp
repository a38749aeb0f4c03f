// ModelInfo: the numbers on a model's card, computed from its Config and the
// storage type of each tensor: parameter counts by part, bytes by type,
// FLOPs and memory traffic per generated token, KV-cache size.
//
// The counts need no weights, so a test (or a learner) can ask about the
// Llama-2-7B shape without a 13 GB file: model_info(config, layout).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "llama2/config.hpp"
#include "llama2/model.hpp"
#include "llama2/tensor.hpp"

namespace llama2 {

// Parameters (number of weights) of each part of the model.
struct ParameterCounts {
  std::uint64_t embedding = 0;   // token_embedding: vocab_size * dim
  std::uint64_t attention = 0;   // wq, wk, wv, wo of every layer
  std::uint64_t ffn = 0;         // w1, w2, w3 of every layer
  std::uint64_t norms = 0;       // rms_att, rms_ffn of every layer, rms_final
  std::uint64_t classifier = 0;  // wcls; 0 when it shares the embedding table (counted once)
  std::uint64_t total() const { return embedding + attention + ffn + norms + classifier; }
};

// Parameters and bytes stored in one weight type.
struct TypeBytes {
  std::uint64_t params = 0;
  std::uint64_t bytes = 0;
  double bytes_per_param() const { return params ? double(bytes) / double(params) : 0.0; }
};

// How the matrices of a model without a file are stored (for model_info(Config, ...)).
// Norm weights are always fp32.
struct WeightLayout {
  WeightType embedding = WeightType::F32;
  WeightType attention = WeightType::F32;
  WeightType ffn = WeightType::F32;
  WeightType classifier = WeightType::F32;
  int group_size = 64;  // Q8_GROUP only
};

struct ModelInfo {
  Config config;
  ParameterCounts params;
  std::map<WeightType, TypeBytes> by_type;  // every tensor, norms under F32
  std::uint64_t weight_bytes = 0;           // sum of by_type bytes
  // Weights one forward pass multiplies by: every matrix of every layer and
  // the classifier (the embedding table when shared) - not the embedding
  // lookup, which reads one row.
  std::uint64_t matmul_params = 0;
  std::uint64_t matmul_bytes = 0;
  std::uint64_t embedding_row_bytes = 0;  // one row of token_embedding, as stored
  std::uint64_t norm_bytes = 0;

  // FLOPs to generate the token at position t (0-based):
  //   2 * matmul_params                           (a multiply and an add per weight)
  // + 4 * n_layers * n_heads * head_size * (t+1)  (q.k scores and the weighted sum of v)
  // Norms, RoPE, softmax and SwiGLU are O(dim) per layer and left out.
  double flops_per_token(std::uint64_t t) const;

  // fp32 KV cache: a key and a value of kv_dim floats per layer per position.
  std::uint64_t kv_bytes_per_token() const;
  std::uint64_t kv_bytes_full_context() const { return kv_bytes_per_token() * std::uint64_t(config.seq_len); }

  // Bytes a forward pass at position t must read from memory: every matmul
  // weight, one embedding row, the norm weights, and the KV cache of
  // positions 0..t. Generation is memory-bound, so bandwidth / this is an
  // upper bound on tokens per second.
  double bytes_per_token(std::uint64_t t) const;
  double max_tokens_per_second(double bandwidth_bytes_per_s, std::uint64_t t) const {
    return bandwidth_bytes_per_s / bytes_per_token(t);
  }
};

// From a Config alone, with each kind of matrix in the layout's type.
// Throws llama2::Error when the config is invalid (validate_config).
ModelInfo model_info(const Config& config, const WeightLayout& layout = {});

// From a loaded model: reads each tensor's actual type (GGUF files may mix types).
ModelInfo model_info(const Model& model);

// Bytes `n_params` weights take in `type` (group_size for Q8_GROUP: int8 plus one fp32 scale per group).
std::uint64_t tensor_bytes(WeightType type, std::uint64_t rows, std::uint64_t cols, int group_size);

}  // namespace llama2

// The file types and their mixes: which type each tensor of a Llama model
// gets, by the rules of llama.cpp's llama-quantize (llama_tensor_get_type in
// its src/llama-quant.cpp, the Llama paths without an imatrix), so that a
// Q4_K_M we write has the same tensor types, and the same size, as one
// llama.cpp writes.
//
//   classifier (output.weight, or token_embd when the classifier is tied)
//       Q6_K in every quantized file but Q8_0 (Q8_0 if its rows are not a
//       multiple of 256)
//   attn_v       Q2_K: Q3_K (Q4_K with GQA >= 4); Q3_K_M: Q5_K in layers 0-1,
//                else Q4_K; Q4_K_M, Q5_K_M: Q6_K where use_more_bits;
//                Q4_K_S: Q5_K in layers 0-3; 70B (80 layers, GQA): Q3_K and
//                Q4_K become Q5_K
//   ffn_down     Q2_K: Q3_K; Q3_K_M: Q5_K in the first 1/16 of the layers,
//                else Q4_K; Q4_K_M, Q5_K_M: Q6_K where use_more_bits;
//                Q4_K_S: Q5_K in the first 1/8
//   attn_output  Q2_K: Q3_K; Q3_K_M: Q4_K
//   everything else (and token_embd of an untied model): the base type
// use_more_bits(i, n): the first and last eighth of the layers and every
// third layer between them. A tensor whose rows do not divide into the
// chosen type's blocks falls back: Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0,
// Q2_K / Q3_K -> Q4_0 (llama.cpp takes IQ4_NL there, which we do not write;
// Q4_0 has its size), and F16 when even 32 does not divide them.
#include <string>

#include "kernels/weight_types.hpp"
#include "llama2/error.hpp"
#include "llama2/quantize.hpp"

namespace llama2 {

namespace {

struct FileTypeLine {
  FileType type;
  std::string_view name;
  WeightType base;  // what most tensors get
};

// In `quantize --help` order: the floats, then from most to fewest bits.
constexpr FileTypeLine kFileTypes[] = {
    {FileType::F32, "F32", WeightType::F32},       {FileType::F16, "F16", WeightType::F16},
    {FileType::BF16, "BF16", WeightType::BF16},    {FileType::Q8_0, "Q8_0", WeightType::Q8_0},
    {FileType::Q6_K, "Q6_K", WeightType::Q6_K},    {FileType::Q5_K_M, "Q5_K_M", WeightType::Q5_K},
    {FileType::Q5_K_S, "Q5_K_S", WeightType::Q5_K}, {FileType::Q5_1, "Q5_1", WeightType::Q5_1},
    {FileType::Q5_0, "Q5_0", WeightType::Q5_0},    {FileType::Q4_K_M, "Q4_K_M", WeightType::Q4_K},
    {FileType::Q4_K_S, "Q4_K_S", WeightType::Q4_K}, {FileType::Q4_1, "Q4_1", WeightType::Q4_1},
    {FileType::Q4_0, "Q4_0", WeightType::Q4_0},    {FileType::Q3_K_M, "Q3_K_M", WeightType::Q3_K},
    {FileType::Q3_K_S, "Q3_K_S", WeightType::Q3_K}, {FileType::Q2_K, "Q2_K", WeightType::Q2_K},
};

const FileTypeLine& line_of(FileType type) {
  for (const FileTypeLine& l : kFileTypes) {
    if (l.type == type) return l;
  }
  throw Error("quantize: unknown file type " + std::to_string(std::uint32_t(type)));
}

bool use_more_bits(int layer, int n_layers) {
  return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

// The block-32 (or F16) type a tensor of `type` falls back to when its rows
// do not divide into `type`'s blocks.
WeightType fallback(WeightType type, std::size_t cols) {
  WeightType f = WeightType::F16;
  switch (type) {
    case WeightType::Q2_K:
    case WeightType::Q3_K: f = WeightType::Q4_0; break;
    case WeightType::Q4_K: f = WeightType::Q5_0; break;
    case WeightType::Q5_K: f = WeightType::Q5_1; break;
    case WeightType::Q6_K: f = WeightType::Q8_0; break;
    default: break;
  }
  return cols % weight_type_info(f).block_size == 0 ? f : WeightType::F16;
}

}  // namespace

const std::vector<FileType>& file_types() {
  static const std::vector<FileType> all = [] {
    std::vector<FileType> v;
    for (const FileTypeLine& l : kFileTypes) v.push_back(l.type);
    return v;
  }();
  return all;
}

std::string_view file_type_name(FileType type) { return line_of(type).name; }
WeightType base_weight_type(FileType type) { return line_of(type).base; }

WeightType tensor_type(FileType ftype, const TensorSlot& slot, const ModelShape& shape) {
  using W = WeightType;
  using F = FileType;
  W t = base_weight_type(ftype);
  const bool quantized = t != W::F32 && t != W::F16 && t != W::BF16;
  const int i = slot.layer, n = shape.n_layers;
  const int gqa = shape.n_kv_heads > 0 ? shape.n_heads / shape.n_kv_heads : 1;
  const bool is_70b = n == 80 && gqa > 1;  // llama.cpp's LLM_TYPE_70B for Llama
  if (quantized) {
    switch (slot.role) {
      case TensorRole::Output:
      case TensorRole::TokenEmbedding:
        if (slot.role == TensorRole::Output || !shape.has_output) {  // the classifier
          if (slot.cols % kQK_K != 0) t = W::Q8_0;
          else if (t != W::Q8_0) t = W::Q6_K;
        }
        break;
      case TensorRole::AttnV:
        if (ftype == F::Q2_K) t = gqa >= 4 ? W::Q4_K : W::Q3_K;
        else if (ftype == F::Q3_K_M) t = i < 2 ? W::Q5_K : W::Q4_K;
        else if ((ftype == F::Q4_K_M || ftype == F::Q5_K_M) && use_more_bits(i, n)) t = W::Q6_K;
        else if (ftype == F::Q4_K_S && i < 4) t = W::Q5_K;
        if (is_70b && (t == W::Q3_K || t == W::Q4_K)) t = W::Q5_K;
        break;
      case TensorRole::FfnDown:
        if (ftype == F::Q2_K) t = W::Q3_K;
        else if (ftype == F::Q3_K_M) t = i < n / 16 ? W::Q5_K : W::Q4_K;
        else if ((ftype == F::Q4_K_M || ftype == F::Q5_K_M) && use_more_bits(i, n)) t = W::Q6_K;
        else if (ftype == F::Q4_K_S && i < n / 8) t = W::Q5_K;
        break;
      case TensorRole::AttnOutput:
        if (ftype == F::Q2_K) t = W::Q3_K;
        else if (ftype == F::Q3_K_M) t = W::Q4_K;
        break;
      default: break;
    }
  }
  return slot.cols % weight_type_info(t).block_size == 0 ? t : fallback(t, slot.cols);
}

}  // namespace llama2

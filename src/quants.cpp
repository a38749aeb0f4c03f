// Placeholder block layouts until the GGUF quant types land.
#include "quants.hpp"

#include <cstdint>
#include <string>

#include "fp16.hpp"
#include "llama2/error.hpp"

namespace llama2 {

BlockLayout block_layout(WeightType type) {
  switch (type) {
    case WeightType::F32: return {1, 4};
    case WeightType::F16: return {1, 2};
    case WeightType::BF16: return {1, 2};
    default: throw Error("weight type " + std::string(weight_type_name(type)) + " is not supported yet");
  }
}

std::size_t row_bytes(WeightType type, std::size_t cols) {
  BlockLayout b = block_layout(type);
  return cols / b.block_size * b.block_bytes;
}

void dequantize_blocks(WeightType type, const void* src, float* dst, std::size_t n) {
  switch (type) {
    case WeightType::F32: {
      const float* s = static_cast<const float*>(src);
      for (std::size_t i = 0; i < n; i++) dst[i] = s[i];
      return;
    }
    case WeightType::F16: {
      const std::uint16_t* s = static_cast<const std::uint16_t*>(src);
      for (std::size_t i = 0; i < n; i++) dst[i] = fp16_to_fp32(s[i]);
      return;
    }
    case WeightType::BF16: {
      const std::uint16_t* s = static_cast<const std::uint16_t*>(src);
      for (std::size_t i = 0; i < n; i++) dst[i] = bf16_to_fp32(s[i]);
      return;
    }
    default: throw Error("weight type " + std::string(weight_type_name(type)) + " is not supported yet");
  }
}

}  // namespace llama2

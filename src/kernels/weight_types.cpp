// The weight types' public functions, each a read of weight_types.hpp's table.
#include "kernels/weight_types.hpp"

#include <string>

#include "llama2/error.hpp"

namespace llama2 {

std::string_view weight_type_name(WeightType type) {
  return std::size_t(type) < kWeightTypeCount ? weight_type_info(type).name : "unknown";
}

BlockLayout block_layout(WeightType type) {
  const WeightTypeInfo& info = weight_type_info(type);
  if (info.block_size == 0) throw Error("weight type " + std::string(info.name) + " has no block layout");
  return {info.block_size, info.block_bytes};
}

std::size_t row_bytes(WeightType type, std::size_t cols) {
  const BlockLayout b = block_layout(type);
  return cols / b.block_size * b.block_bytes;
}

void dequantize_blocks(WeightType type, const void* src, float* dst, std::size_t n) {
  const WeightTypeInfo& info = weight_type_info(type);
  if (!info.dequantize) {
    throw Error("dequantize_blocks: weight type " + std::string(info.name) + " is not block-based");
  }
  info.dequantize(src, dst, n / info.block_size);
}

}  // namespace llama2

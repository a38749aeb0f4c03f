// The weight types' public functions, each a read of weight_types.hpp's table.
#include "kernels/weight_types.hpp"

#include <string>

#include "kernels/q_0_x16.hpp"
#include "kernels/q4_0_x8.hpp"
#include "kernels/q4_k_x8.hpp"
#include "kernels/row_pairs.hpp"
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

void repack_layout(WeightType to, const void* src, void* dst, std::size_t rows, std::size_t cols) {
  const WeightType from = file_type_of_layout(to);
  if (from == to) throw Error("repack_layout: " + std::string(weight_type_name(to)) + " is not a load layout");
  if (to == WeightType::Q4_0_X8) return repack_q4_0_x8(src, dst, rows, cols);
  if (to == WeightType::Q4_0_X16) return repack_x16<BlockQ4_0>(src, dst, rows, cols);
  if (to == WeightType::Q8_0_X16) return repack_x16<BlockQ8_0>(src, dst, rows, cols);
  if (to == WeightType::Q4_K_X8) return repack_q4_k_x8(src, dst, rows, cols);
  repack_row_pairs(src, dst, rows, row_bytes(from, cols), weight_type_info(from).block_bytes, 0, rows);
}

}  // namespace llama2

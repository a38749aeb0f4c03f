#include "llama2/tensor.hpp"

#include <cstdint>
#include <cstring>

#include "kernels/kernels.hpp"
#include "kernels/q_0_x16.hpp"
#include "kernels/q4_0_x8.hpp"
#include "kernels/q4_k_x8.hpp"
#include "kernels/quants.hpp"
#include "kernels/row_pairs.hpp"
#include "kernels/weight_types.hpp"

namespace llama2 {

namespace {

// Row `row` of t in 16-row tiles (Q4_0_X16 or Q8_0_X16, blocks of Block):
// each block rebuilt from its tile, then dequantized as the file type's.
template <class Block>
void dequantize_x16_row(const Tensor& t, std::size_t row, float* out) {
  const std::size_t rb = row_bytes(t.type, t.cols), tiled = x16_tiled_rows(t.rows);
  for (std::size_t b = 0; b < t.cols / kQK; b++) {
    const Block blk = x16_block<Block>(t.data, rb, tiled, row, b);
    dequantize_blocks(file_type_of_layout(t.type), &blk, out + b * kQK, kQK);
  }
}

}  // namespace

void dequantize_row(const Tensor& t, std::size_t row, float* out) {
  if (t.type == WeightType::Q8_GROUP) {
    // Groups run over the flattened matrix, so a row may start mid-group.
    const std::int8_t* q = static_cast<const std::int8_t*>(t.data) + row * t.cols;
    const std::size_t gs = std::size_t(t.group_size);
    const std::size_t first = row * t.cols;
    for (std::size_t j = 0; j < t.cols; j++) out[j] = float(q[j]) * t.scales[(first + j) / gs];
    return;
  }
  if (t.type == WeightType::Q4_0_X8) {  // a row's blocks are spread over its group's tiles
    const std::size_t rb = row_bytes(t.type, t.cols), tiled = q4_0_x8_tiled_rows(t.rows);
    for (std::size_t b = 0; b < t.cols / kQK; b++) {
      const Q4_0BlockRef ref = q4_0_x8_block(t.data, rb, tiled, row, b);
      BlockQ4_0 blk;
      blk.d = ref.d;
      std::memcpy(blk.qs, ref.qs, sizeof(blk.qs));
      dequantize_q4_0(&blk, out + b * kQK, 1);
    }
    return;
  }
  if (t.type == WeightType::Q4_0_X16) return dequantize_x16_row<BlockQ4_0>(t, row, out);  // likewise
  if (t.type == WeightType::Q8_0_X16) return dequantize_x16_row<BlockQ8_0>(t, row, out);
  if (is_paired(t.type)) {  // a row's blocks alternate with its pair's
    const WeightType file_type = file_type_of_layout(t.type);
    const std::size_t bb = weight_type_info(file_type).block_bytes, n = weight_type_info(file_type).block_size;
    const RowBlocks rb = paired_row(t.data, row_bytes(t.type, t.cols), bb, paired_rows(t.rows), row);
    for (std::size_t b = 0; b < t.cols / n; b++) dequantize_blocks(file_type, rb.first + b * rb.step, out + b * n, n);
    return;
  }
  if (t.type == WeightType::Q4_K_X8) {  // a row's blocks are spread over its group's tiles
    const std::size_t rb = row_bytes(t.type, t.cols), tiled = q4_k_x8_tiled_rows(t.rows);
    for (std::size_t b = 0; b < t.cols / kQK_K; b++) {
      const BlockQ4_K blk = q4_k_x8_block(t.data, rb, tiled, row, b);
      dequantize_q4_k(&blk, out + b * kQK_K, 1);
    }
    return;
  }
  const std::uint8_t* base = static_cast<const std::uint8_t*>(t.data) + row * row_bytes(t.type, t.cols);
  dequantize_blocks(t.type, base, out, t.cols);
}

WeightRows weight_rows(const Tensor& t) {
  // Q8_GROUP: one int8 per value, the scales stored apart.
  if (t.type == WeightType::Q8_GROUP) return {t.data, t.cols, t.cols, t.scales, std::size_t(t.group_size)};
  WeightRows rows{t.data, row_bytes(t.type, t.cols), t.cols, nullptr, 0};
  if (t.type == WeightType::Q4_0_X8) rows.tiled_rows = q4_0_x8_tiled_rows(t.rows);
  if (t.type == WeightType::Q4_0_X16 || t.type == WeightType::Q8_0_X16) rows.tiled_rows = x16_tiled_rows(t.rows);
  if (is_paired(t.type)) rows.tiled_rows = paired_rows(t.rows);
  if (t.type == WeightType::Q4_K_X8) rows.tiled_rows = q4_k_x8_tiled_rows(t.rows);
  return rows;
}

}  // namespace llama2

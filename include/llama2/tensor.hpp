// Tensor: a weight matrix used in place from the model file.
//
// Every weight matrix is (rows, cols), row-major: row r holds the weights that
// produce output r of a matmul. How a row is stored depends on its type:
//   F32, F16, BF16      plain arrays of cols values
//   Q8_GROUP            llama2.c version-2 int8: `data` holds rows*cols int8
//                       values, `scales` holds one fp32 scale per group of
//                       group_size consecutive values (w = q * scale). Groups
//                       run over the flattened matrix; cols % group_size == 0.
//   Q8_0 ... Q6_K       GGUF/ggml blocks: each row is cols / block_size blocks
//                       of block_bytes (see quants.hpp for each layout).
//   Q4_0_X8, Q4_0_X16   Q4_0 blocks repacked at load so that 8 (16) rows are
//                       read as one stream (kernels/q4_0_x8.hpp,
//                       kernels/q_0_x16.hpp); never in a file.
//   Q8_0_X16            Q8_0 blocks likewise in 16-row tiles
//                       (kernels/q_0_x16.hpp); never in a file.
//   Q4_K_X8             Q4_K super-blocks of 8 rows in tiles, made at load
//                       (kernels/q4_k_x8.hpp); never in a file.
//   Q5_K_X2, Q6_K_X2    Q5_K / Q6_K super-blocks of rows 2p and 2p + 1
//                       interleaved at load (kernels/row_pairs.hpp); never in
//                       a file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace llama2 {

enum class WeightType : std::uint8_t {
  F32,
  F16,
  BF16,
  Q8_GROUP,  // llama2.c v2 int8 with separate per-group fp32 scales
  Q8_0,
  Q4_0,
  Q4_1,
  Q5_0,
  Q5_1,
  Q2_K,
  Q3_K,
  Q4_K,
  Q5_K,
  Q6_K,
  Q4_0_X8,  // Q4_0 in tiles of 8 rows, made at load for the kernels (Model::kernel_weights)
  Q4_K_X8,  // Q4_K in tiles of 8 rows, likewise
  Q5_K_X2,  // Q5_K / Q6_K with rows interleaved in pairs, likewise
  Q6_K_X2,
  Q4_0_X16,  // Q4_0 in tiles of 16 rows, likewise (the AVX-512 kernels')
  Q8_0_X16,  // Q8_0 in tiles of 16 rows, likewise
};

// "F32", "Q8_0", ...
std::string_view weight_type_name(WeightType type);

struct Tensor {
  WeightType type = WeightType::F32;
  const void* data = nullptr;      // values or blocks, in the mapping
  const float* scales = nullptr;   // Q8_GROUP only: (rows * cols / group_size)
  std::size_t rows = 0;
  std::size_t cols = 0;
  int group_size = 0;              // Q8_GROUP only

  std::size_t n_elements() const { return rows * cols; }
};

// Writes row `row` of `t` as cols floats to `out` (the scalar reference).
void dequantize_row(const Tensor& t, std::size_t row, float* out);

}  // namespace llama2

// One line per weight type: its name, its block layout and its scalar
// dequantization, in one constexpr table indexed by WeightType.
//
// weight_type_name, block_layout, row_bytes and dequantize_blocks
// (quants.hpp) read this table; so does every kernel table (kernels.hpp),
// which has one entry of kernels per weight type. Adding a type: its block
// struct and dequantize function in quants.hpp / quants.cpp, a line here, a
// value in WeightType (llama2/tensor.hpp), then whatever kernels each
// instruction set gets (one line in its table).
#pragma once

#include <cstddef>
#include <string_view>

#include "kernels/quants.hpp"
#include "llama2/tensor.hpp"

namespace llama2 {

struct WeightTypeInfo {
  WeightType type;
  std::string_view name;     // "F32", "Q8_0", ...
  std::size_t block_size;    // values per block: 1 for F32 / F16 / BF16; 0 for Q8_GROUP (scales stored apart)
  std::size_t block_bytes;   // bytes per block
  // blocks (n_blocks of them) -> n_blocks * block_size floats; nullptr for Q8_GROUP.
  void (*dequantize)(const void* blocks, float* y, std::size_t n_blocks);
};

inline constexpr std::size_t kWeightTypeCount = std::size_t(WeightType::Q8_0_X16) + 1;  // the last WeightType + 1

inline constexpr WeightTypeInfo kWeightTypes[kWeightTypeCount] = {
    {WeightType::F32, "F32", 1, 4, dequantize_f32},
    {WeightType::F16, "F16", 1, 2, dequantize_f16},
    {WeightType::BF16, "BF16", 1, 2, dequantize_bf16},
    {WeightType::Q8_GROUP, "Q8_GROUP (llama2.c int8)", 0, 0, nullptr},
    {WeightType::Q8_0, "Q8_0", kQK, sizeof(BlockQ8_0), dequantize_q8_0},
    {WeightType::Q4_0, "Q4_0", kQK, sizeof(BlockQ4_0), dequantize_q4_0},
    {WeightType::Q4_1, "Q4_1", kQK, sizeof(BlockQ4_1), dequantize_q4_1},
    {WeightType::Q5_0, "Q5_0", kQK, sizeof(BlockQ5_0), dequantize_q5_0},
    {WeightType::Q5_1, "Q5_1", kQK, sizeof(BlockQ5_1), dequantize_q5_1},
    {WeightType::Q2_K, "Q2_K", kQK_K, sizeof(BlockQ2_K), dequantize_q2_k},
    {WeightType::Q3_K, "Q3_K", kQK_K, sizeof(BlockQ3_K), dequantize_q3_k},
    {WeightType::Q4_K, "Q4_K", kQK_K, sizeof(BlockQ4_K), dequantize_q4_k},
    {WeightType::Q5_K, "Q5_K", kQK_K, sizeof(BlockQ5_K), dequantize_q5_k},
    {WeightType::Q6_K, "Q6_K", kQK_K, sizeof(BlockQ6_K), dequantize_q6_k},
    // Rows are not contiguous blocks: dequantize_row reads it (q4_0_x8.hpp).
    {WeightType::Q4_0_X8, "Q4_0_X8", kQK, sizeof(BlockQ4_0), nullptr},
    // Rows in 8-row tiles (q4_k_x8.hpp).
    {WeightType::Q4_K_X8, "Q4_K_X8", kQK_K, sizeof(BlockQ4_K), nullptr},
    // Rows in pairs, blocks as in the file (row_pairs.hpp).
    {WeightType::Q5_K_X2, "Q5_K_X2", kQK_K, sizeof(BlockQ5_K), nullptr},
    {WeightType::Q6_K_X2, "Q6_K_X2", kQK_K, sizeof(BlockQ6_K), nullptr},
    // Rows in 16-row tiles (q_0_x16.hpp).
    {WeightType::Q4_0_X16, "Q4_0_X16", kQK, sizeof(BlockQ4_0), nullptr},
    {WeightType::Q8_0_X16, "Q8_0_X16", kQK, sizeof(BlockQ8_0), nullptr},
};

constexpr bool weight_types_in_order() {
  for (std::size_t i = 0; i < kWeightTypeCount; i++) {
    if (kWeightTypes[i].type != WeightType(i)) return false;
  }
  return true;
}
static_assert(weight_types_in_order(), "kWeightTypes: line i must describe WeightType(i)");

// The line of `type` (a valid WeightType).
constexpr const WeightTypeInfo& weight_type_info(WeightType type) { return kWeightTypes[std::size_t(type)]; }

// The layouts Model::kernel_weights makes at load, values no file holds
// (Q4_0_X8: kernels/q4_0_x8.hpp; Q4_0_X16, Q8_0_X16: kernels/q_0_x16.hpp; Q4_K_X8:
// kernels/q4_k_x8.hpp; Q5_K_X2, Q6_K_X2: kernels/row_pairs.hpp), map to the
// file type they are made from; every other type maps to itself.
constexpr WeightType file_type_of_layout(WeightType type) {
  switch (type) {
    case WeightType::Q4_0_X8: return WeightType::Q4_0;
    case WeightType::Q4_0_X16: return WeightType::Q4_0;
    case WeightType::Q8_0_X16: return WeightType::Q8_0;
    case WeightType::Q4_K_X8: return WeightType::Q4_K;
    case WeightType::Q5_K_X2: return WeightType::Q5_K;
    case WeightType::Q6_K_X2: return WeightType::Q6_K;
    default: return type;
  }
}
constexpr bool is_load_layout(WeightType type) { return file_type_of_layout(type) != type; }

// The other direction: the load layouts a file type can go to where the
// CPU's kernels read one (Model::kernel_weights takes the first its kernel
// table reads; a table reads at most one of a file type's), the type itself
// in the unused places. Q4_0 has two: 16-row tiles for AVX-512's 512-bit
// lanes, 8-row tiles for AVX2; Q8_0 has AVX-512's 16-row tiles.
struct LoadLayouts {
  WeightType first, second;
};
constexpr LoadLayouts load_layouts_of(WeightType file_type) {
  switch (file_type) {
    case WeightType::Q8_0: return {WeightType::Q8_0_X16, file_type};
    case WeightType::Q4_0: return {WeightType::Q4_0_X16, WeightType::Q4_0_X8};
    case WeightType::Q4_K: return {WeightType::Q4_K_X8, file_type};
    case WeightType::Q5_K: return {WeightType::Q5_K_X2, file_type};
    case WeightType::Q6_K: return {WeightType::Q6_K_X2, file_type};
    default: return {file_type, file_type};
  }
}

// Each map undoes the other: a load layout is one of its file type's, and
// every layout of a file type comes back to it.
constexpr bool load_layouts_map_both_ways() {
  for (std::size_t i = 0; i < kWeightTypeCount; i++) {
    const WeightType t = WeightType(i);
    if (is_load_layout(t)) {
      const LoadLayouts l = load_layouts_of(file_type_of_layout(t));
      if (l.first != t && l.second != t) return false;
    } else {
      const LoadLayouts l = load_layouts_of(t);
      if (file_type_of_layout(l.first) != t || file_type_of_layout(l.second) != t) return false;
    }
  }
  return true;
}
static_assert(load_layouts_map_both_ways(), "file_type_of_layout and load_layouts_of must undo each other");

// The first load layout of file_type that reads(layout) accepts (a kernel
// table that has kernels for it), or file_type when none is.
template <class Reads>
constexpr WeightType first_load_layout(WeightType file_type, Reads reads) {
  const LoadLayouts l = load_layouts_of(file_type);
  for (const WeightType to : {l.first, l.second}) {
    if (to != file_type && reads(to)) return to;
  }
  return file_type;
}

// dst (the same size as src) = the (rows, cols) matrix src of type
// file_type_of_layout(to) in the load layout `to`. Every layout keeps each
// group of 16 rows in its own bytes (of 8 for all but Q4_0_X16 and Q8_0_X16), so a piece
// of a matrix starting at a multiple of 16 rows repacks as a matrix of its
// own. src and dst must not overlap.
void repack_layout(WeightType to, const void* src, void* dst, std::size_t rows, std::size_t cols);

}  // namespace llama2

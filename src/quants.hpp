// GGUF/ggml block-quantized weight types: block layouts and the scalar
// dequantization every faster kernel is tested against.
#pragma once

#include <cstddef>

#include "llama2/tensor.hpp"

namespace llama2 {

struct BlockLayout {
  std::size_t block_size;   // values per block (1 for F32/F16/BF16)
  std::size_t block_bytes;  // bytes per block
};

// Layout of a GGUF-stored type (not Q8_GROUP, which is not block-based).
BlockLayout block_layout(WeightType type);

// Bytes of one row of `cols` values (cols must be a multiple of block_size).
std::size_t row_bytes(WeightType type, std::size_t cols);

// Dequantizes n values (a multiple of the block size) starting at `src`.
void dequantize_blocks(WeightType type, const void* src, float* dst, std::size_t n);

}  // namespace llama2

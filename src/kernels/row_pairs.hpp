// Q5_K_X2 / Q6_K_X2: Q5_K and Q6_K rows interleaved in pairs, so that the
// two rows a matvec step reads are one stream.
//
// In a GGUF file a K-quant row is cols / 256 super-blocks (176 or 210
// bytes), rows one after another. The AVX2 matvecs read two rows at a time
// (AVX-512's four), each a stream of its own a row apart from the next. On
// the 2-core EPYC VM 7B
// generation read its file that way at 22 GB/s, where the Q4_0 tiles
// (q4_0_x8.hpp), one stream per thread, read 31 GB/s. The paired layout
// holds the same bytes in the same place for every pair of rows,
// reordered, so that a matvec reading a pair reads one stream:
//
//   rows 2p, 2p + 1 (the pair's 2 * row_bytes bytes, where the file has them)
//     super-block b of row 2p, then super-block b of row 2p + 1, for b = 0, 1, ...
//   the last row, when rows is odd: as in the file.
//
// Blocks are moved whole, never changed, so every kernel reading this layout
// gives the file type's results bit for bit (tested). The tensor's size is
// unchanged, and pairs keep their own bytes, so it is repacked at load a
// piece of rows at a time (Model::kernel_weights). (Q4_K had pairs too,
// until its 8-row tiles, q4_k_x8.hpp; Q5_K's tiles generated slower than its
// pairs in the model: bench/RESULTS.md, thirteenth run.)
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/weight_types.hpp"
#include "llama2/tensor.hpp"

namespace llama2 {

constexpr bool is_paired(WeightType type) { return type == WeightType::Q5_K_X2 || type == WeightType::Q6_K_X2; }

// Rows of a (rows)-row matrix that lie in pairs: all but an odd last one.
constexpr std::size_t paired_rows(std::size_t rows) { return rows / 2 * 2; }

// Row r of a paired matrix (data, row_bytes = its file row size, block_bytes
// = its super-block size, pairs = paired_rows(rows)) as its first block and
// the step from one of its blocks to the next: block b is at first + b * step.
struct RowBlocks {
  const std::uint8_t* first;
  std::size_t step;
};
constexpr RowBlocks paired_row(const void* data, std::size_t row_bytes, std::size_t block_bytes, std::size_t pairs,
                               std::size_t r) {
  const auto* base = static_cast<const std::uint8_t*>(data);
  if (r >= pairs) return {base + r * row_bytes, block_bytes};
  return {base + (r & ~std::size_t(1)) * row_bytes + (r & 1) * block_bytes, 2 * block_bytes};
}

// dst (the same size as src) = rows [r0, r1) of the (rows, row_bytes)
// matrix src of block_bytes blocks in the paired layout (r0 even; threads
// may repack a matrix in pieces). src and dst must not overlap.
void repack_row_pairs(const void* src, void* dst, std::size_t rows, std::size_t row_bytes, std::size_t block_bytes,
                      std::size_t r0, std::size_t r1);

}  // namespace llama2

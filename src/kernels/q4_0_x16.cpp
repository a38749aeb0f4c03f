// Repacking Q4_0 into 16-row tiles and reading a block back (q4_0_x16.hpp has the layout).
#include "kernels/q4_0_x16.hpp"

namespace llama2 {

void repack_q4_0_x16(const void* src, void* dst, std::size_t rows, std::size_t cols) {
  const auto* in = static_cast<const BlockQ4_0*>(src);
  auto* out = static_cast<std::uint8_t*>(dst);
  const std::size_t nb = cols / kQK, row_bytes = nb * sizeof(BlockQ4_0), tiled = q4_0_x16_tiled_rows(rows);
  for (std::size_t g = 0; g < tiled; g += 16) {
    for (std::size_t b = 0; b < nb; b++) {
      std::uint8_t* tile = out + g * row_bytes + b * kX16TileBytes;
      for (std::size_t i = 0; i < 16; i++) {
        const BlockQ4_0& blk = in[(g + i) * nb + b];
        std::memcpy(tile + kX16D + 2 * i, &blk.d, 2);
        for (std::size_t k = 0; k < 4; k++) std::memcpy(tile + x16_qs_offset(k, i), blk.qs + 4 * k, 4);
      }
    }
  }
  // The rows after the last group, as in the file.
  if (rows > tiled) std::memcpy(out + tiled * row_bytes, in + tiled * nb, (rows - tiled) * row_bytes);
}

BlockQ4_0 q4_0_x16_block(const void* data, std::size_t row_bytes, std::size_t tiled_rows, std::size_t r, std::size_t b) {
  const auto* base = static_cast<const std::uint8_t*>(data);
  BlockQ4_0 blk;
  if (r >= tiled_rows) {
    std::memcpy(&blk, base + r * row_bytes + b * sizeof(BlockQ4_0), sizeof(blk));
    return blk;
  }
  const std::uint8_t* tile = base + (r & ~std::size_t(15)) * row_bytes + b * kX16TileBytes;
  const std::size_t i = r % 16;
  std::memcpy(&blk.d, tile + kX16D + 2 * i, 2);
  for (std::size_t k = 0; k < 4; k++) std::memcpy(blk.qs + 4 * k, tile + x16_qs_offset(k, i), 4);
  return blk;
}

}  // namespace llama2

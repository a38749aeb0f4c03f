// Repacking Q4_0 and Q8_0 into 16-row tiles and reading a block back (q_0_x16.hpp has the layout).
#include "kernels/q_0_x16.hpp"

namespace llama2 {

template <class Block>
void repack_x16(const void* src, void* dst, std::size_t rows, std::size_t cols) {
  const auto* in = static_cast<const Block*>(src);
  auto* out = static_cast<std::uint8_t*>(dst);
  const std::size_t nb = cols / kQK, row_bytes = nb * sizeof(Block), tiled = x16_tiled_rows(rows);
  for (std::size_t g = 0; g < tiled; g += 16) {
    for (std::size_t b = 0; b < nb; b++) {
      std::uint8_t* tile = out + g * row_bytes + b * kX16TileBytes<Block>;
      for (std::size_t i = 0; i < 16; i++) {
        const Block& blk = in[(g + i) * nb + b];
        std::memcpy(tile + kX16D + 2 * i, &blk.d, 2);
        for (std::size_t k = 0; k < kX16Lines<Block>; k++) std::memcpy(tile + x16_qs_offset(k, i), blk.qs + 4 * k, 4);
      }
    }
  }
  // The rows after the last group, as in the file.
  if (rows > tiled) std::memcpy(out + tiled * row_bytes, in + tiled * nb, (rows - tiled) * row_bytes);
}

template <class Block>
Block x16_block(const void* data, std::size_t row_bytes, std::size_t tiled_rows, std::size_t r, std::size_t b) {
  const auto* base = static_cast<const std::uint8_t*>(data);
  Block blk;
  if (r >= tiled_rows) {
    std::memcpy(&blk, base + r * row_bytes + b * sizeof(Block), sizeof(blk));
    return blk;
  }
  const std::uint8_t* tile = base + (r & ~std::size_t(15)) * row_bytes + b * kX16TileBytes<Block>;
  const std::size_t i = r % 16;
  std::memcpy(&blk.d, tile + kX16D + 2 * i, 2);
  for (std::size_t k = 0; k < kX16Lines<Block>; k++) std::memcpy(blk.qs + 4 * k, tile + x16_qs_offset(k, i), 4);
  return blk;
}

template void repack_x16<BlockQ4_0>(const void*, void*, std::size_t, std::size_t);
template void repack_x16<BlockQ8_0>(const void*, void*, std::size_t, std::size_t);
template BlockQ4_0 x16_block<BlockQ4_0>(const void*, std::size_t, std::size_t, std::size_t, std::size_t);
template BlockQ8_0 x16_block<BlockQ8_0>(const void*, std::size_t, std::size_t, std::size_t, std::size_t);

}  // namespace llama2

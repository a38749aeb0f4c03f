// Repacking Q4_K into 8-row tiles and reading a block back (q4_k_x8.hpp has the layout).
#include "kernels/q4_k_x8.hpp"

#include <cstring>

#include "kernels/int8_units.hpp"

namespace llama2 {

void repack_q4_k_x8(const void* src, void* dst, std::size_t rows, std::size_t cols) {
  const auto* in = static_cast<const BlockQ4_K*>(src);
  auto* out = static_cast<std::uint8_t*>(dst);
  const std::size_t nb = cols / kQK_K, row_bytes = nb * sizeof(BlockQ4_K), tiled = q4_k_x8_tiled_rows(rows);
  for (std::size_t g = 0; g < tiled; g += 8) {
    for (std::size_t b = 0; b < nb; b++) {
      std::uint8_t* tile = out + g * row_bytes + b * kKx8TileBytes;
      std::memset(tile + kKx8ScaleLow, 0, kKx8Qs - kKx8ScaleLow);  // the scales' bytes are ORed in
      for (std::size_t i = 0; i < 8; i++) {
        const BlockQ4_K& blk = in[(g + i) * nb + b];
        std::memcpy(tile + kKx8D + 2 * i, &blk.d, 2);
        std::memcpy(tile + kKx8Dmin + 2 * i, &blk.dmin, 2);
        for (int j = 0; j < 8; j++) {
          int sc, mn;
          units::k4_scale_min(blk.scales, j, &sc, &mn);
          const std::size_t at = 8 * (j % 4) + i;
          const int nib = j < 4 ? 0 : 4;
          tile[kKx8ScaleLow + at] |= std::uint8_t((sc & 15) << nib);
          tile[kKx8MinLow + at] |= std::uint8_t((mn & 15) << nib);
          tile[kKx8High + at] |= std::uint8_t((sc >> 4) << (j < 4 ? 0 : 2) | (mn >> 4) << (j < 4 ? 4 : 6));
        }
        for (std::size_t c = 0; c < 4; c++) {
          for (std::size_t s = 0; s < 8; s++) std::memcpy(tile + kKx8Qs + 32 * (8 * c + s) + 4 * i, blk.qs + 32 * c + 4 * s, 4);
        }
      }
    }
  }
  // The rows after the last group, as in the file.
  if (rows > tiled) std::memcpy(out + tiled * row_bytes, in + tiled * nb, (rows - tiled) * row_bytes);
}

BlockQ4_K q4_k_x8_block(const void* data, std::size_t row_bytes, std::size_t tiled_rows, std::size_t r, std::size_t b) {
  const auto* base = static_cast<const std::uint8_t*>(data);
  BlockQ4_K blk;
  if (r >= tiled_rows) {
    std::memcpy(&blk, base + r * row_bytes + b * sizeof(BlockQ4_K), sizeof(blk));
    return blk;
  }
  const std::uint8_t* tile = base + (r & ~std::size_t(7)) * row_bytes + b * kKx8TileBytes;
  const std::size_t i = r % 8;
  std::memcpy(&blk.d, tile + kKx8D + 2 * i, 2);
  std::memcpy(&blk.dmin, tile + kKx8Dmin + 2 * i, 2);
  int sc[8], mn[8];
  for (int j = 0; j < 8; j++) {
    const std::size_t at = 8 * (j % 4) + i;
    const int nib = j < 4 ? 0 : 4, high = tile[kKx8High + at];
    sc[j] = (tile[kKx8ScaleLow + at] >> nib & 15) | (high >> (j < 4 ? 0 : 2) & 3) << 4;
    mn[j] = (tile[kKx8MinLow + at] >> nib & 15) | (high >> (j < 4 ? 4 : 6) & 3) << 4;
  }
  // The 12 bytes from the 8 scales and 8 mins: the inverse of units::k4_scale_min.
  for (int j = 0; j < 4; j++) {
    blk.scales[j] = std::uint8_t(sc[j] | (sc[j + 4] >> 4) << 6);
    blk.scales[j + 4] = std::uint8_t(mn[j] | (mn[j + 4] >> 4) << 6);
    blk.scales[j + 8] = std::uint8_t((sc[j + 4] & 15) | (mn[j + 4] & 15) << 4);
  }
  for (std::size_t c = 0; c < 4; c++) {
    for (std::size_t s = 0; s < 8; s++) std::memcpy(blk.qs + 32 * c + 4 * s, tile + kKx8Qs + 32 * (8 * c + s) + 4 * i, 4);
  }
  return blk;
}

}  // namespace llama2

// Repacking Q4_0 into 8-row tiles (q4_0_x8.hpp has the layout).
#include "kernels/q4_0_x8.hpp"

namespace llama2 {

void repack_q4_0_x8(const void* src, void* dst, std::size_t rows, std::size_t cols) {
  const auto* in = static_cast<const std::uint8_t*>(src);
  auto* out = static_cast<std::uint8_t*>(dst);
  const std::size_t nb = cols / kQK, row_bytes = nb * sizeof(BlockQ4_0), n_tiles = nb / 8, tail = nb - 8 * n_tiles;
  const std::size_t tiled = q4_0_x8_tiled_rows(rows);
  for (std::size_t g = 0; g < tiled; g += 8) {
    const auto* rows_in = reinterpret_cast<const BlockQ4_0*>(in + g * row_bytes);  // row i: rows_in + i * nb
    std::uint8_t* group = out + g * row_bytes;
    for (std::size_t t = 0; t < n_tiles; t++) {
      for (std::size_t p = 0; p < 4; p++) {
        std::uint8_t* pair = group + x8_pair_offset(t, p);
        for (std::size_t half = 0; half < 2; half++) {
          const BlockQ4_0* row = rows_in + (2 * p + half) * nb + 8 * t;
          for (std::size_t j = 0; j < 8; j++) {
            std::memcpy(pair + x8_scale_offset(j, half), &row[j].d, 2);
            std::memcpy(pair + x8_nibbles_offset(j, half), row[j].qs, 16);
          }
        }
      }
    }
    for (std::size_t i = 0; i < 8; i++) {
      std::memcpy(group + x8_tail_offset(n_tiles, tail, i), rows_in + i * nb + 8 * n_tiles,
                  tail * sizeof(BlockQ4_0));
    }
  }
  // The rows after the last group, as in the file.
  if (rows > tiled) std::memcpy(out + tiled * row_bytes, in + tiled * row_bytes, (rows - tiled) * row_bytes);
}

}  // namespace llama2

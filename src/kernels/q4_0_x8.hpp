// Q4_0_X8: Q4_0 weights repacked so that 8 rows are read as one stream.
//
// In a GGUF file a Q4_0 row is cols / 32 blocks of 18 bytes (an fp16 scale d,
// then 16 bytes of nibbles), rows one after another. A matvec kernel that
// shares each activation load between 8 rows then reads 8 streams and has to
// gather each row's scales 2 bytes at a time, 18 bytes apart (on AVX2 that
// gather was a sixth of the Q4_0 kernel's time). Q4_0_X8 holds the same bytes
// in the same place for every group of 8 rows, reordered within the group:
//
//   rows 8g .. 8g + 7 (the group's 8 * row_bytes bytes, where the file has them)
//     tile t < nb / 8 (blocks 8t .. 8t + 7 of the 8 rows), 1152 bytes:
//       pair p < 4 (rows A = 8g + 2p, B = A + 1), 288 bytes:
//         32 bytes   the 16 fp16 d: A's blocks 0-3, B's 0-3, A's 4-7, B's 4-7
//         8 x 32     block j: A's 16 bytes of nibbles, then B's
//     then the last nb % 8 blocks of each row as in the file (18 bytes each),
//     row 8g's first, then row 8g + 1's, ...
//   rows from 8 * (rows / 8) on: as in the file.
//
// (nb = cols / 32 blocks per row.) The nibbles are untouched, so every weight
// and every integer dot product is the same as Q4_0's: the kernels reading
// this layout give Q4_0's results bit for bit (tested). The tensor's size
// is unchanged, and groups of 8 rows keep their own bytes, so it is
// repacked at load a piece of rows at a time (Model::kernel_weights).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/quants.hpp"

namespace llama2 {

inline constexpr std::size_t kX8PairBytes = 32 + 8 * 32;         // 288: one pair of rows, 8 blocks
inline constexpr std::size_t kX8TileBytes = 4 * kX8PairBytes;    // 1152: 8 rows, 8 blocks (= 64 file blocks)
static_assert(kX8TileBytes == 64 * sizeof(BlockQ4_0));

// Where things are in a tile, in bytes. Every reader and writer of the
// layout goes through these (the layout tests guard them):
//   x8_pair_offset(t, p)       pair p of tile t, from the group's first byte
//   x8_scale_offset(j, half)   the fp16 d of block j of the pair's row half
//                              (0 = A, 1 = B), from the pair's first byte
//   x8_nibbles_offset(j, half) that block's 16 bytes of nibbles, likewise
//   x8_tail_offset(n_tiles, tail, i)  row i's last `tail` blocks (whole, as
//                              in the file), from the group's first byte
constexpr std::size_t x8_pair_offset(std::size_t t, std::size_t p) { return t * kX8TileBytes + p * kX8PairBytes; }
constexpr std::size_t x8_scale_offset(std::size_t j, std::size_t half) { return 2 * ((j / 4) * 8 + half * 4 + j % 4); }
constexpr std::size_t x8_nibbles_offset(std::size_t j, std::size_t half) { return 32 + 32 * j + 16 * half; }
constexpr std::size_t x8_tail_offset(std::size_t n_tiles, std::size_t tail, std::size_t i) {
  return n_tiles * kX8TileBytes + i * tail * sizeof(BlockQ4_0);
}
// The kernels load a pair's scales 8 at a time (A's 0-3 then B's 0-3, the
// same for 4-7) and both rows' nibbles of a block in one 32-byte run.
static_assert(x8_scale_offset(0, 1) == 8 && x8_scale_offset(4, 0) == 16 && x8_scale_offset(7, 1) == 30);
static_assert(x8_nibbles_offset(0, 1) == x8_nibbles_offset(0, 0) + 16 && x8_nibbles_offset(7, 1) + 16 == kX8PairBytes);

// Rows of a (rows)-row matrix that lie in 8-row tiles: whole groups of 8.
constexpr std::size_t q4_0_x8_tiled_rows(std::size_t rows) { return rows / 8 * 8; }

// Block b of row r of a Q4_0_X8 matrix (data, row_bytes = its Q4_0 row size,
// tiled_rows = q4_0_x8_tiled_rows(rows)): its scale d and its 16 bytes of
// nibbles, wherever the layout put them.
struct Q4_0BlockRef {
  std::uint16_t d;
  const std::uint8_t* qs;  // 16 bytes
};
inline Q4_0BlockRef q4_0_x8_block(const void* data, std::size_t row_bytes, std::size_t tiled_rows, std::size_t r,
                                  std::size_t b) {
  const auto* base = static_cast<const std::uint8_t*>(data);
  const std::uint8_t* blk = nullptr;  // a block stored whole, as in the file
  if (r >= tiled_rows) {
    blk = base + r * row_bytes + b * sizeof(BlockQ4_0);
  } else {
    const std::uint8_t* group = base + (r & ~std::size_t(7)) * row_bytes;
    const std::size_t nb = row_bytes / sizeof(BlockQ4_0), n_tiles = nb / 8, i = r % 8;
    if (b < n_tiles * 8) {
      const std::uint8_t* pair = group + x8_pair_offset(b / 8, i / 2);
      const std::size_t j = b % 8, half = i % 2;
      Q4_0BlockRef ref{0, pair + x8_nibbles_offset(j, half)};
      std::memcpy(&ref.d, pair + x8_scale_offset(j, half), 2);
      return ref;
    }
    const std::size_t tail = nb - n_tiles * 8;
    blk = group + x8_tail_offset(n_tiles, tail, i) + (b - n_tiles * 8) * sizeof(BlockQ4_0);
  }
  Q4_0BlockRef ref{0, blk + 2};
  std::memcpy(&ref.d, blk, 2);
  return ref;
}

// dst (the same size as src) = the Q4_0 matrix src (rows, cols) in the X8
// layout. src and dst must not overlap; cols is a multiple of 32.
void repack_q4_0_x8(const void* src, void* dst, std::size_t rows, std::size_t cols);

}  // namespace llama2

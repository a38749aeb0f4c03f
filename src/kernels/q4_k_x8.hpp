// Q4_K_X8: Q4_K repacked so that 8 rows are read as one stream, their
// values in 32-bit lanes that are rows.
//
// The row-major K-type matvecs (even in row pairs, row_pairs.hpp) spend most
// of their time after the integer products: per row and sub-block of 32 a
// horizontal fold, a conversion and an FMA, 7.25 vector operations per 32
// weights on AVX2. With 8 rows in the lanes of a register, as the Q4_0
// tiles (q4_0_x8.hpp) and the GEMM's panels have them, a 32-byte load holds
// 4 bytes of each of 8 rows, one vpmaddubsw multiplies them all by the same
// 4 activations, a sub-block's 8 steps add up in 16 bits, and the
// conversion and the FMAs serve 8 rows at once. The tile holds each group of
// 8 rows' bytes in the same place, reordered:
//
//   rows 8g .. 8g + 7 (the group's 8 * row_bytes bytes, where the file has them)
//     tile b < nb (super-block b of the 8 rows), 8 * 144 bytes:
//       16 bytes    d:    row i's fp16 at 2i
//       16 bytes    dmin, likewise
//       32 bytes    the low 4 bits of the 6-bit scales: byte 8j + i (j < 4)
//                   holds sub-block j of row i (low nibble) and sub-block j + 4
//       32 bytes    the low 4 bits of the mins, likewise
//       32 bytes    their high 2 bits: byte 8j + i holds bits 0-1 scale j,
//                   2-3 scale j + 4, 4-5 min j, 6-7 min j + 4 of row i
//       1024 bytes  the nibbles: chunk c < 4, step s < 8: 32 bytes, row i's
//                   qs[32c + 4s .. 32c + 4s + 4) at 4i
//   rows from 8 * (rows / 8) on: as in the file.
//
// (nb = cols / 256.) The 12 bytes of a block's scales are exactly its 16
// six-bit values, so a tile holds every byte of the file's blocks
// (q4_k_x8_block below gives them back, byte for byte), and the tensor's size is
// unchanged. Groups of 8 rows keep their own bytes, so a matrix is repacked
// at load a piece of rows at a time (Model::kernel_weights).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/quants.hpp"

namespace llama2 {

// Where things are in a tile, in bytes from its first: every reader and
// writer of the layout goes through these.
inline constexpr std::size_t kKx8D = 0, kKx8Dmin = 16;        // 8 fp16 each
inline constexpr std::size_t kKx8ScaleLow = 32;                // 32 bytes
inline constexpr std::size_t kKx8MinLow = 64;                  // 32 bytes
inline constexpr std::size_t kKx8High = 96;                    // 32 bytes
inline constexpr std::size_t kKx8Qs = 128;                     // 4 x 8 x 32 bytes
inline constexpr std::size_t kKx8TileBytes = kKx8Qs + 1024;
static_assert(kKx8TileBytes == 8 * sizeof(BlockQ4_K));

// Rows of a (rows)-row matrix that lie in tiles: whole groups of 8.
constexpr std::size_t q4_k_x8_tiled_rows(std::size_t rows) { return rows / 8 * 8; }

// The file block of row r, super-block b of a Q4_K_X8 matrix (data,
// row_bytes = its Q4_K row size, tiled_rows = q4_k_x8_tiled_rows(rows)),
// rebuilt byte for byte.
BlockQ4_K q4_k_x8_block(const void* data, std::size_t row_bytes, std::size_t tiled_rows, std::size_t r, std::size_t b);

// dst (the same size as src) = the Q4_K matrix src (rows, cols) in tiles.
// src and dst must not overlap; cols is a multiple of 256.
void repack_q4_k_x8(const void* src, void* dst, std::size_t rows, std::size_t cols);

}  // namespace llama2

// Q4_0_X16, Q8_0_X16: Q4_0 and Q8_0 repacked so that 16 rows are read as
// one stream, their values in the 32-bit lanes of a 512-bit register, one
// lane a row.
//
// The AVX-512 file-layout matvec (kernels_avx512_matvec.cpp: q_0_rows512)
// reads 8 rows as 8 streams and spends, per row and pair of blocks, a
// conversion, a permutation and an FMA on the products: about 4 vector
// operations per 32 weights, so on a CPU whose bus gives each thread more
// than the kernel's arithmetic gets through (the 2-vCPU Sapphire Rapids VM:
// Q4_0 0.87 ns per 32 weights in cache, 21 GB/s per thread, where two
// threads share 25 GB/s) it stays below the bus. With 16 rows in the lanes,
// as the AVX-512 GEMM's panels have them, one 64-byte load holds 4 bytes of
// each of 16 rows, one vpdpbusd multiplies them all by the same 4
// activations, and the conversion and the FMA of a block serve 16 rows; and
// a thread reads its rows as few long streams (the matvec reads 4 groups at
// once, what that VM's memory serves fastest). The tile holds each group of
// 16 rows' bytes in the same place, reordered:
//
//   rows 16g .. 16g + 15 (the group's 16 * row_bytes bytes, where the file has them)
//     tile b < nb (block b of the 16 rows), 16 * sizeof(block) bytes:
//       32 bytes      the 16 fp16 d: row i's at 2i
//       L x 64 bytes  line k < L: row i's quant bytes qs[4k .. 4k + 4) at 4i
//                     Q4_0 (L = 4): low nibbles values 4k .. 4k + 3, high 16 + 4k ..
//                     Q8_0 (L = 8): values 4k .. 4k + 3
//   rows from 16 * (rows / 16) on: as in the file.
//
// (nb = cols / 32.) The bytes are moved, never changed, so the tensor's size
// is unchanged, x16_block gives every block back, and groups of 16 rows keep
// their own bytes: a matrix is repacked at load a piece of rows at a time
// (Model::kernel_weights).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/quants.hpp"

namespace llama2 {

inline constexpr std::size_t kX16D = 0;    // 16 fp16
inline constexpr std::size_t kX16Qs = 32;  // the lines of 64 bytes
// Block is BlockQ4_0 or BlockQ8_0.
template <class Block>
inline constexpr std::size_t kX16Lines = sizeof(Block::qs) / 4;
template <class Block>
inline constexpr std::size_t kX16TileBytes = kX16Qs + 64 * kX16Lines<Block>;
static_assert(kX16TileBytes<BlockQ4_0> == 16 * sizeof(BlockQ4_0));
static_assert(kX16TileBytes<BlockQ8_0> == 16 * sizeof(BlockQ8_0));

// Row i's 4 bytes of line k of a tile, from its first byte.
constexpr std::size_t x16_qs_offset(std::size_t k, std::size_t i) { return kX16Qs + 64 * k + 4 * i; }

// Rows of a (rows)-row matrix that lie in tiles: whole groups of 16.
constexpr std::size_t x16_tiled_rows(std::size_t rows) { return rows / 16 * 16; }

// The file block of row r, block b of a matrix in 16-row tiles (data,
// row_bytes = its file row size, tiled_rows = x16_tiled_rows(rows)), byte
// for byte.
template <class Block>
Block x16_block(const void* data, std::size_t row_bytes, std::size_t tiled_rows, std::size_t r, std::size_t b);

// dst (the same size as src) = the matrix src (rows, cols) of Blocks in
// tiles. src and dst must not overlap; cols is a multiple of 32.
template <class Block>
void repack_x16(const void* src, void* dst, std::size_t rows, std::size_t cols);

}  // namespace llama2

// GGUF/ggml block-quantized weight types: block layouts and the scalar
// dequantization every faster kernel is tested against.
//
// A quantized row of `cols` values is cols / block_size blocks stored back to
// back. Every block carries its own scale(s) in IEEE half precision (`d`,
// and for the "_1" and K types a min `dmin`/`m`) and small integer quants:
//
//   Q8_0   32 values: w = d * q, q int8
//   Q4_0   32 values: w = d * (q - 8), q 4-bit; byte j holds value j (low
//          nibble) and value j + 16 (high nibble)
//   Q4_1   32 values: w = d * q + m, q 4-bit, nibbles as Q4_0
//   Q5_0   32 values: w = d * (q - 16), q 5-bit: low 4 bits as Q4_0, the
//          fifth bit of value j is bit j of the little-endian uint32 qh
//   Q5_1   32 values: w = d * q + m, q 5-bit as Q5_0
//
// The K types group 256 values into a "super-block" of 16 or 8 sub-blocks;
// each sub-block has its own scale (and min), themselves quantized to 4, 6
// or 8 bits against the super-block's fp16 d (and dmin):
//
//   Q2_K   16 sub-blocks of 16: w = d * sc * q - dmin * mn, q 2-bit, sc and
//          mn the low/high nibbles of scales[i]
//   Q3_K   16 sub-blocks of 16: w = d * (sc - 32) * (q - 4 * !hbit), q 2-bit
//          plus a high bit in hmask, sc 6-bit packed in 12 bytes
//   Q4_K   8 sub-blocks of 32: w = d * sc * q - dmin * mn, q 4-bit, sc and
//          mn 6-bit packed in 12 bytes
//   Q5_K   as Q4_K with a fifth bit per value in qh
//   Q6_K   16 sub-blocks of 16: w = d * sc * (q - 32), q 6-bit (low 4 bits
//          in ql, high 2 in qh), sc int8
//
// Where the bits of each value sit inside a K block is spelled out next to
// its dequantize function in quants.cpp. The structs below match ggml's
// byte for byte (checked by static_assert); they contain only uint8/uint16
// fields, so any 2-byte aligned address holds a valid block.
#pragma once

#include <cstddef>
#include <cstdint>

#include "llama2/tensor.hpp"

namespace llama2 {

constexpr std::size_t kQK = 32;    // values per block of the Q*_0 / Q*_1 types
constexpr std::size_t kQK_K = 256;  // values per super-block of the K types

struct BlockQ8_0 {
  std::uint16_t d;       // fp16 scale
  std::int8_t qs[kQK];   // quants
};
static_assert(sizeof(BlockQ8_0) == 34);

struct BlockQ4_0 {
  std::uint16_t d;            // fp16 scale
  std::uint8_t qs[kQK / 2];   // nibbles: value j low, value j + 16 high
};
static_assert(sizeof(BlockQ4_0) == 18);

struct BlockQ4_1 {
  std::uint16_t d;            // fp16 scale
  std::uint16_t m;            // fp16 min
  std::uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ4_1) == 20);

struct BlockQ5_0 {
  std::uint16_t d;            // fp16 scale
  std::uint8_t qh[4];         // fifth bits: little-endian uint32, bit j for value j
  std::uint8_t qs[kQK / 2];   // low 4 bits, as Q4_0
};
static_assert(sizeof(BlockQ5_0) == 22);

struct BlockQ5_1 {
  std::uint16_t d;
  std::uint16_t m;
  std::uint8_t qh[4];
  std::uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ5_1) == 24);

struct BlockQ2_K {
  std::uint8_t scales[kQK_K / 16];  // per sub-block: low nibble scale, high nibble min
  std::uint8_t qs[kQK_K / 4];       // 2-bit quants, 4 per byte
  std::uint16_t d;                  // fp16 super-block scale of the scales
  std::uint16_t dmin;               // fp16 super-block scale of the mins
};
static_assert(sizeof(BlockQ2_K) == 84);

struct BlockQ3_K {
  std::uint8_t hmask[kQK_K / 8];  // high (third) bit of each quant
  std::uint8_t qs[kQK_K / 4];     // low 2 bits, 4 per byte
  std::uint8_t scales[12];        // 16 6-bit scales
  std::uint16_t d;                // fp16 super-block scale
};
static_assert(sizeof(BlockQ3_K) == 110);

struct BlockQ4_K {
  std::uint16_t d;             // fp16 super-block scale of the scales
  std::uint16_t dmin;          // fp16 super-block scale of the mins
  std::uint8_t scales[12];     // 8 6-bit scales and 8 6-bit mins
  std::uint8_t qs[kQK_K / 2];  // 4-bit quants
};
static_assert(sizeof(BlockQ4_K) == 144);

struct BlockQ5_K {
  std::uint16_t d;
  std::uint16_t dmin;
  std::uint8_t scales[12];
  std::uint8_t qh[kQK_K / 8];  // fifth bits
  std::uint8_t qs[kQK_K / 2];  // low 4 bits
};
static_assert(sizeof(BlockQ5_K) == 176);

struct BlockQ6_K {
  std::uint8_t ql[kQK_K / 2];      // low 4 bits of the quants
  std::uint8_t qh[kQK_K / 4];      // high 2 bits
  std::int8_t scales[kQK_K / 16];  // 8-bit sub-block scales
  std::uint16_t d;                 // fp16 super-block scale
};
static_assert(sizeof(BlockQ6_K) == 210);

// The scalar dequantization of each type: n_blocks blocks -> n_blocks *
// block_size floats (F32 / F16 / BF16: blocks of one value). The reference
// every kernel is tested against; weight_types.hpp lists which is which.
using DequantizeFn = void(const void* blocks, float* y, std::size_t n_blocks);
DequantizeFn dequantize_f32, dequantize_f16, dequantize_bf16;
DequantizeFn dequantize_q8_0, dequantize_q4_0, dequantize_q4_1, dequantize_q5_0, dequantize_q5_1;
DequantizeFn dequantize_q2_k, dequantize_q3_k, dequantize_q4_k, dequantize_q5_k, dequantize_q6_k;

struct BlockLayout {
  std::size_t block_size;   // values per block (1 for F32/F16/BF16)
  std::size_t block_bytes;  // bytes per block
};

// Layout of a GGUF-stored type (not Q8_GROUP, which is not block-based): a
// line of weight_types.hpp's table.
BlockLayout block_layout(WeightType type);

// Bytes of one row of `cols` values (cols must be a multiple of block_size).
std::size_t row_bytes(WeightType type, std::size_t cols);

// Dequantizes n values (a multiple of the block size) starting at `src`.
void dequantize_blocks(WeightType type, const void* src, float* dst, std::size_t n);

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block.
void scale_min_k4(int j, const std::uint8_t* scales, std::uint8_t* sc, std::uint8_t* mn);

// --- quantization (what `quantize` writes) -------------------------------------
// Round-to-nearest, as ggml's reference quantizers: n is a multiple of 32.

// Q8_0: d = max|x| / 127, q = round(x / d).
void quantize_q8_0(const float* x, BlockQ8_0* y, std::size_t n);
// Q4_0: d = (the value of largest magnitude, with its sign) / -8,
// q = min(15, trunc(x / d + 8.5)).
void quantize_q4_0(const float* x, BlockQ4_0* y, std::size_t n);

}  // namespace llama2

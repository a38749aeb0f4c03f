// A double-precision dequantization of every GGUF block type, written from
// ggml's block layouts independently of src/kernels/quants.cpp (byte offsets
// and bit positions spelled out per value), for checking what the
// quantizers write and what the engine reads back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "llama2/tensor.hpp"

namespace llama2::test {

// The fp16 value of bits h, exactly, as a double.
double half_to_double(std::uint16_t h);

// n values (a multiple of the block size) stored as `type` at `bytes`.
std::vector<double> reference_dequantize(WeightType type, const std::uint8_t* bytes, std::size_t n);

}  // namespace llama2::test

// The min term of a GGUF weight, for test tolerances: a weight of the types
// with a min is a scaled quant minus (or plus) a min, and the int8 kernels
// sum the two terms apart (kernels/int8_units.hpp), so fp32 rounding is
// relative to both, not to their difference (which can cancel).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "kernels/fp16.hpp"
#include "kernels/quants.hpp"

namespace llama2::test {

// |min| of value j of a row of `type` starting at row; 0 for the types without one.
inline double min_magnitude(WeightType type, const std::uint8_t* row, std::size_t j) {
  switch (type) {
    case WeightType::Q4_1: return std::fabs(double(fp16_to_fp32(reinterpret_cast<const BlockQ4_1*>(row)[j / kQK].m)));
    case WeightType::Q5_1: return std::fabs(double(fp16_to_fp32(reinterpret_cast<const BlockQ5_1*>(row)[j / kQK].m)));
    case WeightType::Q2_K: {
      const BlockQ2_K& b = reinterpret_cast<const BlockQ2_K*>(row)[j / kQK_K];
      return std::fabs(double(fp16_to_fp32(b.dmin)) * (b.scales[j % kQK_K / 16] >> 4));
    }
    case WeightType::Q4_K:
    case WeightType::Q5_K: {
      // Q4_K and Q5_K share the first 16 bytes' layout: d, dmin, scales.
      const std::size_t block_bytes = type == WeightType::Q4_K ? sizeof(BlockQ4_K) : sizeof(BlockQ5_K);
      const BlockQ4_K& b = *reinterpret_cast<const BlockQ4_K*>(row + j / kQK_K * block_bytes);
      std::uint8_t sc, mn;
      scale_min_k4(int(j % kQK_K / 32), b.scales, &sc, &mn);
      return std::fabs(double(fp16_to_fp32(b.dmin)) * mn);
    }
    default: return 0.0;
  }
}

}  // namespace llama2::test

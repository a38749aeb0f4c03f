// Scalar conversions between fp32 and the 16-bit float formats (IEEE half,
// bfloat16). These are the references the SIMD conversions are tested against.
#pragma once

#include <cstdint>
#include <cstring>

namespace llama2 {

inline float fp32_from_bits(std::uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

inline std::uint32_t fp32_to_bits(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// IEEE 754 binary16 -> binary32, exact for every input (subnormals, inf, NaN).
inline float fp16_to_fp32(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t(h & 0x8000) << 16;
  std::uint32_t exp = (h >> 10) & 0x1f;
  std::uint32_t mant = h & 0x3ff;
  if (exp == 0x1f) return fp32_from_bits(sign | 0x7f800000 | (mant << 13));  // inf / NaN
  if (exp == 0) {
    if (mant == 0) return fp32_from_bits(sign);  // +-0
    // subnormal: value = mant * 2^-24
    float v = float(mant) * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  return fp32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
}

// binary32 -> binary16, round to nearest even.
inline std::uint16_t fp32_to_fp16(float f) {
  std::uint32_t x = fp32_to_bits(f);
  const std::uint32_t sign = (x >> 16) & 0x8000;
  std::uint32_t exp = (x >> 23) & 0xff;
  std::uint32_t mant = x & 0x7fffff;
  if (exp == 0xff) return std::uint16_t(sign | 0x7c00 | (mant ? 0x200 : 0));  // inf / NaN
  int e = int(exp) - 127 + 15;
  if (e >= 0x1f) return std::uint16_t(sign | 0x7c00);  // overflow -> inf
  if (e <= 0) {
    if (e < -10) return std::uint16_t(sign);  // underflow -> 0
    mant |= 0x800000;
    int shift = 14 - e;
    std::uint32_t half = mant >> shift;
    std::uint32_t rem = mant & ((1u << shift) - 1);
    std::uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) half++;
    return std::uint16_t(sign | half);
  }
  std::uint32_t half = (std::uint32_t(e) << 10) | (mant >> 13);
  std::uint32_t rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;  // may carry into exp: still correct
  return std::uint16_t(sign | half);
}

inline float bf16_to_fp32(std::uint16_t b) { return fp32_from_bits(std::uint32_t(b) << 16); }

// binary32 -> bfloat16, round to nearest even (NaN stays NaN).
inline std::uint16_t fp32_to_bf16(float f) {
  std::uint32_t x = fp32_to_bits(f);
  if ((x & 0x7fffffff) > 0x7f800000) return std::uint16_t((x >> 16) | 0x40);
  x += 0x7fff + ((x >> 16) & 1);
  return std::uint16_t(x >> 16);
}

}  // namespace llama2

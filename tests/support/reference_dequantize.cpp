// reference_dequantize: every type as "value v of a block = f(bytes)".
#include "support/reference_dequantize.hpp"

#include <cmath>
#include <cstring>
#include <stdexcept>

namespace llama2::test {

double half_to_double(std::uint16_t h) {
  const int e = (h >> 10) & 31, m = h & 1023;
  double v = e == 0 ? std::ldexp(double(m), -24) : e == 31 ? (m ? NAN : INFINITY) : std::ldexp(double(m + 1024), e - 25);
  return (h & 0x8000) ? -v : v;
}

namespace {

double half_at(const std::uint8_t* p) { return half_to_double(std::uint16_t(p[0] | (p[1] << 8))); }

// Bits [shift, shift + width) of byte p[i].
int bits(const std::uint8_t* p, int i, int shift, int width) { return (p[i] >> shift) & ((1 << width) - 1); }

// The 4-bit quant v (0..31) of a 32-value block whose nibbles start at qs.
int nibble32(const std::uint8_t* qs, int v) { return v < 16 ? bits(qs, v, 0, 4) : bits(qs, v - 16, 4, 4); }

// 6-bit scale (or min, is_min) of sub-block j of a Q4_K/Q5_K scales[12].
int k4_scale(const std::uint8_t* sc, int j, bool is_min) {
  if (j < 4) return bits(sc, j + (is_min ? 4 : 0), 0, 6);
  const int low = bits(sc, j + 4, is_min ? 4 : 0, 4);
  const int high = bits(sc, j - 4 + (is_min ? 4 : 0), 6, 2);
  return low | (high << 4);
}

void block(WeightType type, const std::uint8_t* b, double* y) {
  switch (type) {
    case WeightType::Q8_0:  // d, qs[32]
      for (int v = 0; v < 32; v++) y[v] = half_at(b) * double(std::int8_t(b[2 + v]));
      return;
    case WeightType::Q4_0:  // d, qs[16]
      for (int v = 0; v < 32; v++) y[v] = half_at(b) * (nibble32(b + 2, v) - 8);
      return;
    case WeightType::Q4_1:  // d, m, qs[16]
      for (int v = 0; v < 32; v++) y[v] = half_at(b) * nibble32(b + 4, v) + half_at(b + 2);
      return;
    case WeightType::Q5_0:  // d, qh[4], qs[16]
      for (int v = 0; v < 32; v++) y[v] = half_at(b) * ((nibble32(b + 6, v) | (bits(b + 2, v / 8, v % 8, 1) << 4)) - 16);
      return;
    case WeightType::Q5_1:  // d, m, qh[4], qs[16]
      for (int v = 0; v < 32; v++) {
        y[v] = half_at(b) * (nibble32(b + 8, v) | (bits(b + 4, v / 8, v % 8, 1) << 4)) + half_at(b + 2);
      }
      return;
    case WeightType::Q2_K: {  // scales[16], qs[64], d, dmin
      const double d = half_at(b + 80), dmin = half_at(b + 82);
      for (int v = 0; v < 256; v++) {
        const int h = v / 128, s = (v % 128) / 32, l = v % 32, k = v / 16;
        const int q = bits(b + 16, 32 * h + l, 2 * s, 2);
        y[v] = d * bits(b, k, 0, 4) * q - dmin * bits(b, k, 4, 4);
      }
      return;
    }
    case WeightType::Q3_K: {  // hmask[32], qs[64], scales[12], d
      const double d = half_at(b + 108);
      for (int v = 0; v < 256; v++) {
        const int h = v / 128, s = (v % 128) / 32, l = v % 32, k = v / 16;
        const int q = bits(b + 32, 32 * h + l, 2 * s, 2) | (bits(b, l, 4 * h + s, 1) << 2);
        const int sc = (k < 8 ? bits(b + 96, k, 0, 4) : bits(b + 96, k - 8, 4, 4)) | (bits(b + 96, 8 + k % 4, 2 * (k / 4), 2) << 4);
        y[v] = d * (sc - 32) * (q - 4);
      }
      return;
    }
    case WeightType::Q4_K:    // d, dmin, scales[12], qs[128]
    case WeightType::Q5_K: {  // d, dmin, scales[12], qh[32], qs[128]
      const bool five = type == WeightType::Q5_K;
      const std::uint8_t* qs = b + (five ? 48 : 16);
      for (int v = 0; v < 256; v++) {
        const int k = v / 32, c = v / 64, l = v % 32;
        int q = bits(qs, 32 * c + l, (k % 2) * 4, 4);
        if (five) q |= bits(b + 16, l, k, 1) << 4;
        y[v] = half_at(b) * k4_scale(b + 4, k, false) * q - half_at(b + 2) * k4_scale(b + 4, k, true);
      }
      return;
    }
    case WeightType::Q6_K: {  // ql[128], qh[64], scales[16], d
      const double d = half_at(b + 208);
      for (int v = 0; v < 256; v++) {
        const int h = v / 128, r = (v % 128) / 32, l = v % 32;
        const int low = bits(b, 64 * h + l + 32 * (r & 1), r < 2 ? 0 : 4, 4);
        const int high = bits(b + 128, 32 * h + l, 2 * r, 2);
        y[v] = d * double(std::int8_t(b[192 + v / 16])) * ((low | (high << 4)) - 32);
      }
      return;
    }
    default: throw std::invalid_argument("reference_dequantize: not a block type");
  }
}

}  // namespace

std::vector<double> reference_dequantize(WeightType type, const std::uint8_t* bytes, std::size_t n) {
  std::vector<double> y(n);
  switch (type) {
    case WeightType::F32:
      for (std::size_t i = 0; i < n; i++) {
        float f;
        std::memcpy(&f, bytes + 4 * i, 4);
        y[i] = f;
      }
      return y;
    case WeightType::F16:
      for (std::size_t i = 0; i < n; i++) y[i] = half_at(bytes + 2 * i);
      return y;
    case WeightType::BF16:
      for (std::size_t i = 0; i < n; i++) {
        const std::uint32_t u = std::uint32_t(bytes[2 * i] | (bytes[2 * i + 1] << 8)) << 16;
        float f;
        std::memcpy(&f, &u, 4);
        y[i] = f;
      }
      return y;
    default: break;
  }
  const bool k = type >= WeightType::Q2_K;
  const std::size_t bs = k ? 256 : 32;
  const std::size_t bytes_per = type == WeightType::Q8_0 ? 34 : type == WeightType::Q4_0 ? 18 : type == WeightType::Q4_1 ? 20
                              : type == WeightType::Q5_0 ? 22 : type == WeightType::Q5_1 ? 24 : type == WeightType::Q2_K ? 84
                              : type == WeightType::Q3_K ? 110 : type == WeightType::Q4_K ? 144 : type == WeightType::Q5_K ? 176 : 210;
  for (std::size_t i = 0; i < n / bs; i++) block(type, bytes + i * bytes_per, y.data() + i * bs);
  return y;
}

}  // namespace llama2::test

// Scalar dequantization of every GGUF type against blocks built by hand,
// whose values were worked out by hand from the layouts in quants.hpp.
#include <gtest/gtest.h>

#include <cstring>

#include "kernels/fp16.hpp"
#include "llama2/error.hpp"
#include "kernels/quants.hpp"

namespace llama2 {
namespace {

template <typename Block>
std::vector<float> deq(WeightType type, const Block& b, std::size_t n) {
  std::vector<float> y(n, -999.0f);
  dequantize_blocks(type, &b, y.data(), n);
  return y;
}

std::uint16_t h(float x) { return fp32_to_fp16(x); }

TEST(Quants, LayoutsMatchGgml) {
  EXPECT_EQ(row_bytes(WeightType::F32, 64), 256u);
  EXPECT_EQ(row_bytes(WeightType::BF16, 64), 128u);
  EXPECT_EQ(row_bytes(WeightType::Q8_0, 64), 68u);
  EXPECT_EQ(row_bytes(WeightType::Q4_0, 64), 36u);
  EXPECT_EQ(row_bytes(WeightType::Q4_1, 64), 40u);
  EXPECT_EQ(row_bytes(WeightType::Q5_0, 64), 44u);
  EXPECT_EQ(row_bytes(WeightType::Q5_1, 64), 48u);
  EXPECT_EQ(row_bytes(WeightType::Q2_K, 512), 168u);
  EXPECT_EQ(row_bytes(WeightType::Q3_K, 512), 220u);
  EXPECT_EQ(row_bytes(WeightType::Q4_K, 512), 288u);
  EXPECT_EQ(row_bytes(WeightType::Q5_K, 512), 352u);
  EXPECT_EQ(row_bytes(WeightType::Q6_K, 512), 420u);
  // 7B's 4096-wide rows in Q4_K: 4.5 bits per weight.
  EXPECT_EQ(row_bytes(WeightType::Q4_K, 4096) * 8, 4096u * 9 / 2);
  EXPECT_THROW(block_layout(WeightType::Q8_GROUP), Error);
}

TEST(Quants, SixteenBitFloats) {
  const std::uint16_t f16[3] = {0x3C00, 0xC000, 0x3555};  // 1, -2, 0.333251953125
  const std::uint16_t bf16[3] = {0x3F80, 0xC040, 0x4049};  // 1, -3, 3.140625
  float y[3];
  dequantize_blocks(WeightType::F16, f16, y, 3);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], -2.0f);
  EXPECT_EQ(y[2], 0.333251953125f);
  dequantize_blocks(WeightType::BF16, bf16, y, 3);
  EXPECT_EQ(y[1], -3.0f);
  EXPECT_EQ(y[2], 3.140625f);
}

TEST(Quants, Q8_0) {
  BlockQ8_0 b[2] = {};
  b[0].d = h(0.5f);
  for (int j = 0; j < 32; j++) b[0].qs[j] = std::int8_t(j - 16);
  b[1].d = h(-2.0f);
  b[1].qs[3] = 127;
  b[1].qs[4] = -128;
  std::vector<float> y(64);
  dequantize_blocks(WeightType::Q8_0, b, y.data(), 64);
  EXPECT_EQ(y[0], -8.0f);
  EXPECT_EQ(y[31], 7.5f);
  EXPECT_EQ(y[16], 0.0f);
  EXPECT_EQ(y[32 + 3], -254.0f);
  EXPECT_EQ(y[32 + 4], 256.0f);
}

TEST(Quants, Q4_0) {
  BlockQ4_0 b = {};
  b.d = h(2.0f);
  for (auto& q : b.qs) q = 0x88;  // both nibbles 8: zero
  b.qs[0] = 0x1F;  // value 0 = 15, value 16 = 1
  b.qs[5] = 0x80;  // value 5 = 0, value 21 = 8
  const auto y = deq(WeightType::Q4_0, b, 32);
  EXPECT_EQ(y[0], 14.0f);
  EXPECT_EQ(y[16], -14.0f);
  EXPECT_EQ(y[5], -16.0f);
  EXPECT_EQ(y[21], 0.0f);
  EXPECT_EQ(y[1], 0.0f);
}

TEST(Quants, Q4_1) {
  BlockQ4_1 b = {};
  b.d = h(0.5f);
  b.m = h(-1.0f);
  b.qs[3] = 0xA2;
  const auto y = deq(WeightType::Q4_1, b, 32);
  EXPECT_EQ(y[3], 0.0f);   // 0.5 * 2 - 1
  EXPECT_EQ(y[19], 4.0f);  // 0.5 * 10 - 1
  EXPECT_EQ(y[0], -1.0f);  // q = 0: the min
}

TEST(Quants, Q5_0) {
  BlockQ5_0 b = {};
  b.d = h(1.0f);
  b.qs[2] = 0x3C;       // value 2 low bits 12, value 18 low bits 3
  b.qs[15] = 0xF0;      // value 31 low bits 15
  const std::uint32_t qh = (1u << 2) | (1u << 31);
  std::memcpy(b.qh, &qh, 4);
  const auto y = deq(WeightType::Q5_0, b, 32);
  EXPECT_EQ(y[2], 12.0f);   // (12 | 16) - 16
  EXPECT_EQ(y[18], -13.0f); // 3 - 16
  EXPECT_EQ(y[31], 15.0f);  // (15 | 16) - 16
  EXPECT_EQ(y[0], -16.0f);
}

TEST(Quants, Q5_1) {
  BlockQ5_1 b = {};
  b.d = h(0.25f);
  b.m = h(1.0f);
  b.qs[0] = 0x21;
  const std::uint32_t qh = 1u << 16;
  std::memcpy(b.qh, &qh, 4);
  const auto y = deq(WeightType::Q5_1, b, 32);
  EXPECT_EQ(y[0], 1.25f);  // 0.25 * 1 + 1
  EXPECT_EQ(y[16], 5.5f);  // 0.25 * (2 | 16) + 1
  EXPECT_EQ(y[1], 1.0f);
}

TEST(Quants, Q2_K) {
  BlockQ2_K b = {};
  b.d = h(0.5f);
  b.dmin = h(0.25f);
  b.scales[0] = 0x31;   // sub-block 0: scale 1, min 3
  b.scales[1] = 0x52;   // sub-block 1: scale 2, min 5
  b.scales[2] = 0x13;   // sub-block 2: scale 3, min 1
  b.scales[10] = 0x74;  // sub-block 10: scale 4, min 7
  b.qs[0] = 0xE4;       // value 0: bits 0-1 = 0; value 32: bits 2-3 = 1
  b.qs[16] = 0x03;      // value 16 (sub-block 1): 3
  b.qs[32] = 0x08;      // value 128 + 32 = 160 (sub-block 10): bits 2-3 = 2
  const auto y = deq(WeightType::Q2_K, b, 256);
  EXPECT_EQ(y[0], -0.75f);   // 0.5*1*0 - 0.25*3
  EXPECT_EQ(y[1], -0.75f);
  EXPECT_EQ(y[32], 1.25f);   // 0.5*3*1 - 0.25*1
  EXPECT_EQ(y[16], 1.75f);   // 0.5*2*3 - 0.25*5
  EXPECT_EQ(y[160], 2.25f);  // 0.5*4*2 - 0.25*7
  EXPECT_EQ(y[255], 0.0f);   // sub-block 15: scale 0, min 0
}

TEST(Quants, Q3_K) {
  BlockQ3_K b = {};
  b.d = h(0.5f);
  // Sub-block 0: 6-bit scale 33 (low 4 bits 1 in scales[0], high bits 2 in
  // scales[8] bits 0-1) -> 33 - 32 = 1.
  b.scales[0] = 0x01;
  b.scales[8] = 0x02;
  // Sub-block 9: scale 20 (low 4 in scales[1] high nibble, high 1 in
  // scales[9] bits 4-5) -> -12.
  b.scales[1] = 0x40;
  b.scales[9] = 0x10;
  b.qs[0] = 0x03;     // value 0: low bits 3
  b.hmask[0] = 0x01;  // value 0: high bit set -> no -4
  b.qs[54] = 0x02;    // value 150 = 128 + 22: low bits 2
  b.hmask[22] = 0x10; // ... high bit 4 (= 4*half + shift group) set
  const auto y = deq(WeightType::Q3_K, b, 256);
  EXPECT_EQ(y[0], 1.5f);     // 0.5 * 1 * 3
  EXPECT_EQ(y[1], -2.0f);    // 0.5 * 1 * (0 - 4)
  EXPECT_EQ(y[150], -12.0f); // 0.5 * -12 * 2
  EXPECT_EQ(y[151], 24.0f);  // 0.5 * -12 * (0 - 4)
  EXPECT_EQ(y[32], 64.0f);   // sub-block 2: scale 0 - 32 = -32; 0.5 * -32 * -4
}

void set_k4_scales(std::uint8_t* s) {
  s[0] = 10;    // sub-block 0 scale 10
  s[4] = 3;     // sub-block 0 min 3
  s[1] = 0x80;  // sub-block 1 scale 0; top bits 2 -> bits 4-5 of sub-block 5's scale
  s[5] = 0xC0;  // sub-block 1 min 0; top bits 3 -> bits 4-5 of sub-block 5's min
  s[9] = 0x15;  // sub-block 5: scale low 5, min low 1 -> scale 37, min 49
}

TEST(Quants, Q4_K) {
  BlockQ4_K b = {};
  b.d = h(0.5f);
  b.dmin = h(0.25f);
  set_k4_scales(b.scales);
  std::uint8_t sc, mn;
  scale_min_k4(5, b.scales, &sc, &mn);
  EXPECT_EQ(sc, 37);
  EXPECT_EQ(mn, 49);
  b.qs[0] = 0x07;        // value 0 (sub-block 0) = 7
  b.qs[64 + 3] = 0xB0;   // value 160 + 3 (chunk 2, high nibbles = sub-block 5) = 11
  const auto y = deq(WeightType::Q4_K, b, 256);
  EXPECT_EQ(y[0], 34.25f);    // 0.5*10*7 - 0.25*3
  EXPECT_EQ(y[1], -0.75f);
  EXPECT_EQ(y[163], 191.25f); // 0.5*37*11 - 0.25*49
  EXPECT_EQ(y[131], 0.0f);    // sub-block 4: scale 0, min 0
  EXPECT_EQ(y[40], 0.0f);
}

TEST(Quants, Q5_K) {
  BlockQ5_K b = {};
  b.d = h(0.5f);
  b.dmin = h(0.25f);
  set_k4_scales(b.scales);
  b.qs[0] = 0x07;
  b.qs[64 + 3] = 0xB0;
  b.qh[0] = 0x01;  // value 0: fifth bit (bit 0 = sub-block 0)
  b.qh[3] = 0x20;  // value 163: fifth bit (bit 5 = sub-block 5)
  const auto y = deq(WeightType::Q5_K, b, 256);
  EXPECT_EQ(y[0], 114.25f);   // 0.5*10*(7+16) - 0.75
  EXPECT_EQ(y[163], 487.25f); // 0.5*37*(11+16) - 12.25
  EXPECT_EQ(y[35], 0.0f);     // sub-block 1: scale 0, min 0
  EXPECT_EQ(y[3], -0.75f);    // qh[3] bit 0 clear
}

TEST(Quants, Q6_K) {
  BlockQ6_K b = {};
  b.d = h(0.5f);
  b.scales[0] = 3;
  b.scales[4] = -2;
  b.scales[15] = -1;
  b.ql[0] = 0x05;    // value 0 low 4 bits 5
  b.qh[0] = 0x02;    // value 0 high 2 bits 2 -> 37 - 32 = 5
  b.ql[116] = 0xF0;  // value 244 = 128 + 96 + 20: high nibble of ql[64 + 32 + 20]
  b.qh[52] = 0xC0;   // ... bits 6-7 of qh[32 + 20] -> 63 - 32 = 31
  const auto y = deq(WeightType::Q6_K, b, 256);
  EXPECT_EQ(y[0], 7.5f);     // 0.5 * 3 * 5
  EXPECT_EQ(y[1], -48.0f);   // 0.5 * 3 * -32
  EXPECT_EQ(y[64], 32.0f);   // scale[4] = -2; 0.5 * -2 * -32
  EXPECT_EQ(y[244], -15.5f); // scale[15] = -1; 0.5 * -1 * 31
}

// --- quantizers ---------------------------------------------------------------------

TEST(Quants, QuantizeQ8_0RoundsToNearestAwayFromZero) {
  float x[32] = {1.27f, -0.635f, 0.3f};
  BlockQ8_0 b;
  quantize_q8_0(x, &b, 32);
  EXPECT_EQ(b.d, fp32_to_fp16(1.27f / 127.0f));
  EXPECT_EQ(b.qs[0], 127);
  EXPECT_EQ(b.qs[1], -64);  // -63.5 -> -64
  EXPECT_EQ(b.qs[2], 30);
  EXPECT_EQ(b.qs[3], 0);
  float zero[32] = {};
  quantize_q8_0(zero, &b, 32);
  EXPECT_EQ(b.d, 0);
  EXPECT_EQ(b.qs[5], 0);
}

TEST(Quants, QuantizeQ4_0MapsTheLargestMagnitudeToMinus8) {
  float x[32] = {-4.0f, 2.0f, 1.1f};
  BlockQ4_0 b;
  quantize_q4_0(x, &b, 32);
  EXPECT_EQ(fp16_to_fp32(b.d), 0.5f);  // -4 / -8
  EXPECT_EQ(b.qs[0] & 0xF, 0);         // -4 * 2 + 8.5 = 0.5
  EXPECT_EQ(b.qs[1] & 0xF, 12);        // 2 * 2 + 8.5 = 12.5
  EXPECT_EQ(b.qs[2] & 0xF, 10);        // 1.1 * 2 + 8.5 = 10.7
  EXPECT_EQ(b.qs[0] >> 4, 8);          // value 16 is 0
  const auto y = deq(WeightType::Q4_0, b, 32);
  EXPECT_EQ(y[0], -4.0f);
  EXPECT_EQ(y[1], 2.0f);
  EXPECT_EQ(y[2], 1.0f);
  // A positive maximum: d < 0 and it lands on q = 0 too.
  float p[32] = {4.0f, -1.0f};
  quantize_q4_0(p, &b, 32);
  EXPECT_EQ(fp16_to_fp32(b.d), -0.5f);
  EXPECT_EQ(b.qs[0] & 0xF, 0);
  EXPECT_EQ(deq(WeightType::Q4_0, b, 32)[0], 4.0f);
  EXPECT_EQ(deq(WeightType::Q4_0, b, 32)[1], -1.0f);
}

}  // namespace
}  // namespace llama2

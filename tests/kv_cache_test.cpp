// KvCache: what is stored is what attention reads back (exactly for f32,
// rounded to the nearest half for f16), rows of different layers, heads and
// positions do not overlap, and the memory of unused positions is not
// resident.
#include "llama2/kv_cache.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <random>
#include <vector>

#include "kernels/fp16.hpp"
#include "llama2/error.hpp"
#include "support/expect_error.hpp"
#include "support/synthetic_model.hpp"

namespace llama2 {
namespace {

Config small() { return test::make_config(48, 96, 3, 6, 2, 32, 10, true); }

std::vector<float> random_row(std::mt19937& rng, std::size_t n) {
  std::normal_distribution<float> dist(0.0f, 3.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

TEST(KvCache, StoresEveryRowWhereAttentionReadsIt) {
  const Config c = small();
  const std::size_t hs = c.head_size();
  for (KvType type : {KvType::F32, KvType::F16}) {
    KvCache cache(c, type);
    EXPECT_EQ(cache.bytes(), 2 * std::size_t(c.n_layers) * c.n_kv_heads * c.seq_len * hs * (type == KvType::F16 ? 2 : 4));
    std::mt19937 rng(5);
    std::vector<std::vector<float>> keys, values;  // in store order
    for (std::size_t l = 0; l < std::size_t(c.n_layers); l++)
      for (std::size_t h = 0; h < std::size_t(c.n_kv_heads); h++)
        for (std::size_t pos = 0; pos < std::size_t(c.seq_len); pos++) {
          keys.push_back(random_row(rng, hs));
          values.push_back(random_row(rng, hs));
          cache.store(l, h, pos, keys.back().data(), values.back().data());
        }
    std::size_t i = 0;
    for (std::size_t l = 0; l < std::size_t(c.n_layers); l++)
      for (std::size_t h = 0; h < std::size_t(c.n_kv_heads); h++)
        for (std::size_t pos = 0; pos < std::size_t(c.seq_len); pos++, i++)
          for (std::size_t j = 0; j < hs; j++) {
            const std::size_t at = pos * hs + j;
            if (type == KvType::F32) {
              EXPECT_EQ(static_cast<const float*>(cache.keys(l, h))[at], keys[i][j]);
              EXPECT_EQ(static_cast<const float*>(cache.values(l, h))[at], values[i][j]);
            } else {
              const float k = fp16_to_fp32(static_cast<const std::uint16_t*>(cache.keys(l, h))[at]);
              const float v = fp16_to_fp32(static_cast<const std::uint16_t*>(cache.values(l, h))[at]);
              EXPECT_EQ(k, fp16_to_fp32(fp32_to_fp16(keys[i][j])));
              EXPECT_EQ(v, fp16_to_fp32(fp32_to_fp16(values[i][j])));
              EXPECT_LE(std::fabs(k - keys[i][j]), std::fabs(keys[i][j]) * (1.0f / 2048.0f));  // half an ulp
            }
          }
  }
}

long resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGE_SIZE);
}

TEST(KvCache, UnusedPositionsAreNotResident) {
  if (resident_bytes() <= 0) GTEST_SKIP() << "no /proc/self/statm";
  Config c = small();
  c.dim = 4096;
  c.n_heads = 32;
  c.n_kv_heads = 32;
  c.n_layers = 8;
  c.seq_len = 2048;  // 2 x 8 x 2048 x 4096 x 4 bytes = 512 MiB
  const long before = resident_bytes();
  KvCache cache(c, KvType::F32);
  std::vector<float> row(c.head_size(), 1.0f);
  for (std::size_t l = 0; l < 8; l++)
    for (std::size_t h = 0; h < 32; h++) cache.store(l, h, 0, row.data(), row.data());  // position 0 only
  const long grown = resident_bytes() - before;
  EXPECT_EQ(cache.bytes(), std::size_t(512) << 20);
  EXPECT_LT(grown, 16L << 20) << "a cache of 512 MiB with one position stored made " << (grown >> 20)
                              << " MiB resident";
}

TEST(KvCache, TypeNames) {
  EXPECT_EQ(parse_kv_type("f32"), KvType::F32);
  EXPECT_EQ(parse_kv_type("f16"), KvType::F16);
  EXPECT_EQ(kv_type_name(KvType::F16), "f16");
  EXPECT_EQ(kv_type_name(KvType::F32), "f32");
  test::expect_error([] { parse_kv_type("q8"); }, "unknown KV cache type 'q8' (expected f32 or f16)");
}

}  // namespace
}  // namespace llama2

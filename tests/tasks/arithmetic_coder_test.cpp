// Range coder: random symbol streams under skewed, flat and extreme
// distributions round-trip, cost close to their entropy, and bad slices or
// damaged streams raise llama2::Error.
#include "llama2/arithmetic_coder.hpp"

#include <gtest/gtest.h>

#include "support/expect_error.hpp"

#include <cmath>
#include <random>
#include <vector>

#include "llama2/error.hpp"

namespace llama2 {
namespace {

// Cumulative table for integer frequencies.
struct Table {
  std::vector<std::uint32_t> cum;  // (n + 1)
  explicit Table(const std::vector<std::uint32_t>& freq) : cum(freq.size() + 1) {
    for (std::size_t i = 0; i < freq.size(); i++) cum[i + 1] = cum[i] + freq[i];
  }
  std::uint32_t total() const { return cum.back(); }
  std::size_t find(std::uint32_t v) const {
    std::size_t s = 0;
    while (cum[s + 1] <= v) s++;
    return s;
  }
};

// Draws symbols from the table's own distribution, codes and decodes them;
// returns the stream size and checks it against the ideal code length.
std::size_t round_trip(const Table& t, int n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::size_t> symbols(static_cast<std::size_t>(n));
  double ideal_bits = 0;
  for (auto& s : symbols) {
    s = t.find(std::uint32_t(rng() % t.total()));
    ideal_bits -= std::log2(double(t.cum[s + 1] - t.cum[s]) / t.total());
  }
  RangeEncoder enc;
  for (auto s : symbols) enc.encode(t.cum[s], t.cum[s + 1] - t.cum[s], t.total());
  const std::string stream = enc.finish();

  RangeDecoder dec(stream);
  for (int i = 0; i < n; i++) {
    const std::size_t s = t.find(dec.decode_value(t.total()));
    EXPECT_EQ(s, symbols[std::size_t(i)]) << "symbol " << i;
    if (s != symbols[std::size_t(i)]) return stream.size();
    dec.decode(t.cum[s], t.cum[s + 1] - t.cum[s], t.total());
  }
  EXPECT_NO_THROW(dec.finish());
  // Within 1% (integer-division loss) and the 5 flush bytes of the ideal length.
  EXPECT_LE(double(stream.size()) * 8, ideal_bits * 1.01 + 6 * 8) << "ideal " << ideal_bits / 8 << " bytes";
  return stream.size();
}

TEST(RangeCoder, SkewedDistributionsRoundTrip) {
  for (std::uint32_t total_bits : {8u, 12u, 16u, 20u, 24u}) {
    // Geometric-ish: symbol i gets ~ total / 2^(i+1), at least 1.
    const std::uint32_t total = 1u << total_bits;
    std::vector<std::uint32_t> freq;
    std::uint32_t left = total;
    while (left > 1 && freq.size() < 40) {
      std::uint32_t f = std::max(1u, left / 2);
      freq.push_back(f);
      left -= f;
    }
    freq.push_back(left);
    round_trip(Table(freq), 5000, total_bits);
  }
}

TEST(RangeCoder, FlatDistributionCostsLog2N) {
  std::vector<std::uint32_t> freq(256, 1);
  const std::size_t bytes = round_trip(Table(freq), 4000, 3);
  EXPECT_NEAR(double(bytes), 4000.0, 8.0);  // 8 bits per symbol
}

TEST(RangeCoder, ExtremeFrequencies) {
  for (const std::uint32_t total : {1u << 20, RangeEncoder::kMaxTotal}) {
  // One symbol takes all but 3 of the total; the others have frequency 1.
  Table t({1, total - 3, 1, 1});
  RangeEncoder enc;
  std::vector<std::size_t> symbols(20000, 1);
  symbols[100] = 0;
  symbols[5000] = 3;
  symbols[19999] = 2;
  for (auto s : symbols) enc.encode(t.cum[s], t.cum[s + 1] - t.cum[s], total);
  const std::string stream = enc.finish();
  // Three surprises of log2(total) bits; the likely symbol is nearly free, up
  // to the division loss of ~total/range per symbol (large at total = 2^24).
  if (total == 1u << 20) EXPECT_LT(stream.size(), 5u + 3 * 3 + 30);
  RangeDecoder dec(stream);
  for (auto want : symbols) {
    const std::size_t s = t.find(dec.decode_value(total));
    ASSERT_EQ(s, want);
    dec.decode(t.cum[s], t.cum[s + 1] - t.cum[s], total);
  }
  EXPECT_NO_THROW(dec.finish());
  }
}

TEST(RangeCoder, ChangingTablesEachStep) {
  // As the compressor does: a different distribution (and total) per symbol.
  std::mt19937_64 rng(9);
  std::vector<Table> tables;
  std::vector<std::size_t> symbols;
  for (int i = 0; i < 3000; i++) {
    std::vector<std::uint32_t> freq(1 + rng() % 600);
    for (auto& f : freq) f = 1 + std::uint32_t(rng() % ((rng() % 8 == 0) ? 50000 : 3));
    tables.emplace_back(freq);
    symbols.push_back(rng() % freq.size());
  }
  RangeEncoder enc;
  for (std::size_t i = 0; i < symbols.size(); i++) {
    const Table& t = tables[i];
    enc.encode(t.cum[symbols[i]], t.cum[symbols[i] + 1] - t.cum[symbols[i]], t.total());
  }
  const std::string stream = enc.finish();
  RangeDecoder dec(stream);
  for (std::size_t i = 0; i < symbols.size(); i++) {
    const Table& t = tables[i];
    const std::size_t s = t.find(dec.decode_value(t.total()));
    ASSERT_EQ(s, symbols[i]) << i;
    dec.decode(t.cum[s], t.cum[s + 1] - t.cum[s], t.total());
  }
  EXPECT_NO_THROW(dec.finish());
}

TEST(RangeCoder, EmptySequenceIsFiveBytes) {
  RangeEncoder enc;
  const std::string stream = enc.finish();
  EXPECT_EQ(stream.size(), 5u);
  RangeDecoder dec(stream);
  EXPECT_NO_THROW(dec.finish());
}

using llama2::test::expect_error;

TEST(RangeCoder, RejectsBadSlices) {
  RangeEncoder enc;
  expect_error([&] { enc.encode(0, 0, 10); }, "slice [0, 0) of total 10 is invalid");
  expect_error([&] { enc.encode(8, 3, 10); }, "slice [8, 11) of total 10 is invalid");
  expect_error([&] { enc.encode(0, 1, (1u << 24) + 1); }, "total <= 2^24");
  expect_error([&] { enc.encode(0, 1, 0); }, "of total 0 is invalid");
}

TEST(RangeCoder, DetectsTruncatedAndTrailingBytes) {
  RangeEncoder enc;
  std::mt19937_64 rng(5);
  std::vector<std::uint32_t> values(500);
  for (auto& v : values) {
    v = std::uint32_t(rng() % 1000);
    enc.encode(v, 1, 1000);
  }
  const std::string stream = enc.finish();
  expect_error([&] { RangeDecoder d(stream.substr(0, 4)); }, "stream of 4 bytes is truncated, expected at least 5");

  auto decode_all = [&](std::string_view s) {
    RangeDecoder d(s);
    for (std::uint32_t v : values) {
      const std::uint32_t got = d.decode_value(1000);
      d.decode(got, 1, 1000);
      (void)v;
    }
    d.finish();
  };
  EXPECT_NO_THROW(decode_all(stream));
  expect_error([&] { decode_all(stream.substr(0, stream.size() - 1)); }, "stream is truncated");
  expect_error([&] { decode_all(stream + "x"); }, "1 trailing bytes");
}

}  // namespace
}  // namespace llama2

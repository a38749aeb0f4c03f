// WriteOnceMemory: bytes written by offset (from several threads), then
// sealed read-only; a memfd where Linux has one, anonymous pages otherwise,
// the same bytes either way.
#include "write_once_memory.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

namespace llama2 {
namespace {

class WriteOnceMemoryTest : public ::testing::TestWithParam<WriteOnceMemory::Backing> {};

// An odd size (not a whole number of pages), written in uneven pieces by
// two threads, each taking every other piece.
TEST_P(WriteOnceMemoryTest, HoldsWhatWasWrittenAfterSealing) {
  const std::size_t size = 3 * 4096 * 7 + 123;
  std::vector<std::uint8_t> want(size);
  std::mt19937 rng(5);
  for (std::uint8_t& b : want) b = std::uint8_t(rng());
  WriteOnceMemory memory(size, GetParam());
  ASSERT_TRUE(memory.ok());
  EXPECT_EQ(memory.size(), size);
#ifdef __linux__
  EXPECT_EQ(memory.from_memfd(), GetParam() == WriteOnceMemory::Backing::kBest);
#endif
  std::vector<std::size_t> cuts = {0};
  while (cuts.back() < size) cuts.push_back(std::min(size, cuts.back() + 1 + rng() % 9000));
  const auto write_every_other = [&](std::size_t first) {
    for (std::size_t i = first; i + 1 < cuts.size(); i += 2) {
      EXPECT_TRUE(memory.write(cuts[i], want.data() + cuts[i], cuts[i + 1] - cuts[i]));
    }
  };
  std::thread other(write_every_other, 1);
  write_every_other(0);
  other.join();
  const std::uint8_t* got = memory.seal();
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(std::memcmp(got, want.data(), size), 0);
  EXPECT_EQ(memory.seal(), got);  // sealing again changes nothing
  EXPECT_FALSE(memory.write(0, want.data(), 1)) << "written after seal()";
}

TEST_P(WriteOnceMemoryTest, RefusesWritesOutsideItsSize) {
  WriteOnceMemory memory(100, GetParam());
  ASSERT_TRUE(memory.ok());
  const std::vector<std::uint8_t> bytes(200, 7);
  EXPECT_FALSE(memory.write(0, bytes.data(), 101));
  EXPECT_FALSE(memory.write(101, bytes.data(), 0));
  EXPECT_FALSE(memory.write(50, bytes.data(), ~std::size_t(0) - 10));  // offset + n wraps
  EXPECT_TRUE(memory.write(0, bytes.data(), 100));
  const std::uint8_t* got = memory.seal();
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got[99], 7);
}

TEST_P(WriteOnceMemoryTest, NothingToHoldIsNotOk) {
  WriteOnceMemory memory(0, GetParam());
  EXPECT_FALSE(memory.ok());
  EXPECT_EQ(memory.seal(), nullptr);
}

INSTANTIATE_TEST_SUITE_P(Backings, WriteOnceMemoryTest,
                         ::testing::Values(WriteOnceMemory::Backing::kBest, WriteOnceMemory::Backing::kAnonymous),
                         [](const auto& info) {
                           return info.param == WriteOnceMemory::Backing::kBest ? "Best" : "Anonymous";
                         });

}  // namespace
}  // namespace llama2

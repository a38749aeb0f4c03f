// The load layouts of Q4_0 and Q8_0 (Model::kernel_weights): Q4_0 in 8-row
// tiles (Q4_0_X8, kernels/q4_0_x8.hpp) for the AVX2 kernels, Q4_0 and Q8_0
// in 16-row tiles (Q4_0_X16, Q8_0_X16, kernels/q_0_x16.hpp) for the AVX-512
// VNNI ones. Each layout against the file's blocks; the GEMMs reading them
// against the same table's GEMM on the file layout (bit for bit); the
// matvecs against their reference, bit for bit (Q4_0_X8 moves bytes, not
// arithmetic: the file matvec; the 16-row tiles do the GEMM's arithmetic:
// the GEMM on one token) and against a double-precision dot of the same
// integers; and models whose Q4_0 or Q8_0 matrices are repacked against the
// same models in the file's layout.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/fp16.hpp"
#include "kernels/kernels.hpp"
#include "kernels/q4_0_x8.hpp"
#include "kernels/q_0_x16.hpp"
#include "kernels/quants.hpp"
#include "kernels/weight_types.hpp"
#include "llama2/quantize.hpp"
#include "llama2/tensor.hpp"
#include "llama2/tokenizer.hpp"
#include "llama2/transformer.hpp"
#include "ops.hpp"
#include "support/gemm_from_row32.hpp"
#include "support/gguf_builder.hpp"
#include "support/isa_test.hpp"
#include "support/loaded_twice.hpp"
#include "support/same_logits.hpp"
#include "support/same_rows.hpp"
#include "support/synthetic_model.hpp"
#include "support/temp_dir.hpp"

namespace llama2 {
namespace {

constexpr WeightType kLayouts[] = {WeightType::Q4_0_X8, WeightType::Q4_0_X16, WeightType::Q8_0_X16};
constexpr WeightType kFileTypes[] = {WeightType::Q4_0, WeightType::Q8_0};

// A Q4_0 or Q8_0 matrix and its copy in one of the layouts.
struct Matrices {
  WeightType layout;
  std::size_t rows, cols;
  test::Bytes file, tiles;
  WeightType file_type() const { return file_type_of_layout(layout); }
  Tensor in_file() const { return {file_type(), file.data(), nullptr, rows, cols, 0}; }
  Tensor tiled() const { return {layout, tiles.data(), nullptr, rows, cols, 0}; }
  template <class Block>
  const Block& block(std::size_t r, std::size_t b) const {
    return reinterpret_cast<const Block*>(file.data() + r * row_bytes(file_type(), cols))[b];
  }
  std::string name() const {
    return std::string(weight_type_name(layout)) + " " + std::to_string(rows) + "x" + std::to_string(cols);
  }
};

Matrices make(WeightType layout, std::size_t rows, std::size_t cols, std::uint64_t seed) {
  const std::uint32_t ggml = file_type_of_layout(layout) == WeightType::Q8_0 ? test::kGgmlQ8_0 : test::kGgmlQ4_0;
  Matrices m{layout, rows, cols, test::random_blocks(ggml, rows, cols, seed), {}};
  m.tiles.resize(m.file.size());
  repack_layout(layout, m.file.data(), m.tiles.data(), rows, cols);
  return m;
}

// Rows: fewer than a group, whole groups (of 8 and of 16), groups and a
// remainder, more than the 4 groups the AVX-512 matvec takes at once.
// Columns: 8-block tiles only, a tail only (Q4_0_X8), both.
const std::size_t kRows[] = {1, 7, 8, 9, 15, 16, 17, 23, 40, 47, 64, 100, 150};
const std::size_t kCols[] = {32, 96, 256, 288, 544};

// --- the layouts ----------------------------------------------------------------------------

TEST(Q0TilesLayout, EveryBlockIsTheFileBlock) {
  for (std::size_t rows : kRows) {
    for (std::size_t cols : kCols) {
      const Matrices x8 = make(WeightType::Q4_0_X8, rows, cols, rows * 1000 + cols);
      const Matrices x16 = make(WeightType::Q4_0_X16, rows, cols, rows * 1000 + cols);
      const Matrices q8 = make(WeightType::Q8_0_X16, rows, cols, rows * 1000 + cols);
      const std::size_t rb = row_bytes(WeightType::Q4_0, cols), rb8 = row_bytes(WeightType::Q8_0, cols);
      for (std::size_t r = 0; r < rows; r++) {
        for (std::size_t b = 0; b < cols / 32; b++) {
          const BlockQ4_0& want = x8.block<BlockQ4_0>(r, b);
          const Q4_0BlockRef got8 = q4_0_x8_block(x8.tiles.data(), rb, q4_0_x8_tiled_rows(rows), r, b);
          ASSERT_EQ(got8.d, want.d) << x8.name() << " row " << r << " block " << b;
          ASSERT_EQ(std::memcmp(got8.qs, want.qs, 16), 0) << x8.name() << " row " << r << " block " << b;
          const BlockQ4_0 got16 = x16_block<BlockQ4_0>(x16.tiles.data(), rb, x16_tiled_rows(rows), r, b);
          ASSERT_EQ(std::memcmp(&got16, &want, sizeof(want)), 0) << x16.name() << " row " << r << " block " << b;
          const BlockQ8_0 got_q8 = x16_block<BlockQ8_0>(q8.tiles.data(), rb8, x16_tiled_rows(rows), r, b);
          ASSERT_EQ(std::memcmp(&got_q8, &q8.block<BlockQ8_0>(r, b), sizeof(BlockQ8_0)), 0)
              << q8.name() << " row " << r << " block " << b;
        }
      }
    }
  }
}

TEST(Q0TilesLayout, X8TilesHoldEachPairsScalesTogether) {
  // The layout as written in q4_0_x8.hpp, spelled out for one tile: pair 1
  // (rows 2 and 3) starts 288 bytes in, its 16 scales first, A's blocks 0-3
  // then B's 0-3 then A's 4-7; block j's nibbles 32 + 32 j bytes in.
  const Matrices m = make(WeightType::Q4_0_X8, 8, 256, 5);
  const std::uint8_t* pair1 = m.tiles.data() + 288;
  std::uint16_t d[16];
  std::memcpy(d, pair1, 32);
  EXPECT_EQ(d[0], m.block<BlockQ4_0>(2, 0).d);
  EXPECT_EQ(d[3], m.block<BlockQ4_0>(2, 3).d);
  EXPECT_EQ(d[4], m.block<BlockQ4_0>(3, 0).d);
  EXPECT_EQ(d[8], m.block<BlockQ4_0>(2, 4).d);
  EXPECT_EQ(d[15], m.block<BlockQ4_0>(3, 7).d);
  EXPECT_EQ(std::memcmp(pair1 + 32 + 5 * 32, m.block<BlockQ4_0>(2, 5).qs, 16), 0);
  EXPECT_EQ(std::memcmp(pair1 + 32 + 5 * 32 + 16, m.block<BlockQ4_0>(3, 5).qs, 16), 0);
}

TEST(Q0TilesLayout, X16TilesHoldRowsInLanes) {
  // The layout as written in q_0_x16.hpp, spelled out for one tile: block
  // 3 of rows 16-31 starts 16 rows and 3 tiles in, the 16 rows' d first, then
  // line k holds row i's nibble bytes 4k .. 4k + 3 at 32 + 64 k + 4 i.
  const Matrices m = make(WeightType::Q4_0_X16, 40, 256, 5);
  const std::uint8_t* tile = m.tiles.data() + 16 * row_bytes(WeightType::Q4_0, 256) + 3 * 288;
  std::uint16_t d[16];
  std::memcpy(d, tile, 32);
  EXPECT_EQ(d[0], m.block<BlockQ4_0>(16, 3).d);
  EXPECT_EQ(d[9], m.block<BlockQ4_0>(25, 3).d);
  EXPECT_EQ(d[15], m.block<BlockQ4_0>(31, 3).d);
  EXPECT_EQ(std::memcmp(tile + 32 + 64 * 2 + 4 * 5, m.block<BlockQ4_0>(21, 3).qs + 8, 4), 0);
  EXPECT_EQ(std::memcmp(tile + 32 + 64 * 3 + 4 * 15, m.block<BlockQ4_0>(31, 3).qs + 12, 4), 0);
  // Rows 32-39, past the last group, as in the file.
  EXPECT_EQ(std::memcmp(m.tiles.data() + 32 * row_bytes(WeightType::Q4_0, 256), &m.block<BlockQ4_0>(32, 0), 8 * 8 * 18), 0);
}

TEST(Q0TilesLayout, Q8_0X16TilesHoldRowsInLanes) {
  // Q8_0's tiles: the 16 rows' d, then 8 lines, line k row i's values 4k ..
  // 4k + 3 at 32 + 64 k + 4 i; block 2 of rows 16-31 starts 16 rows and 2
  // tiles (544 bytes each) in.
  const Matrices m = make(WeightType::Q8_0_X16, 33, 96, 6);
  const std::uint8_t* tile = m.tiles.data() + 16 * row_bytes(WeightType::Q8_0, 96) + 2 * 544;
  std::uint16_t d[16];
  std::memcpy(d, tile, 32);
  EXPECT_EQ(d[0], m.block<BlockQ8_0>(16, 2).d);
  EXPECT_EQ(d[15], m.block<BlockQ8_0>(31, 2).d);
  EXPECT_EQ(std::memcmp(tile + 32 + 64 * 7 + 4 * 3, m.block<BlockQ8_0>(19, 2).qs + 28, 4), 0);
  EXPECT_EQ(std::memcmp(tile + 32 + 64 * 0 + 4 * 12, m.block<BlockQ8_0>(28, 2).qs, 4), 0);
  // Row 32, past the last group, as in the file.
  EXPECT_EQ(std::memcmp(m.tiles.data() + 32 * row_bytes(WeightType::Q8_0, 96), &m.block<BlockQ8_0>(32, 0), 3 * 34), 0);
}

TEST(Q0TilesLayout, DequantizedRowsAreTheFileRows) {
  for (WeightType layout : kLayouts) {
    for (std::size_t rows : kRows) {
      for (std::size_t cols : kCols) {
        const Matrices m = make(layout, rows, cols, rows + 7 * cols);
        ASSERT_NO_FATAL_FAILURE(test::expect_same_dequantized_rows(m.in_file(), m.tiled()));
      }
    }
  }
}

// --- kernels ------------------------------------------------------------------------------

// Each ISA's table reads at most one layout of each file type (kernels_test.cpp:
// TableIsComplete); the tests take the ones it has.
class Q0TilesKernels : public test::IsaTest {
 protected:
  void SetUp() override {
    IsaTest::SetUp();
    if (IsSkipped()) return;
    for (WeightType t : kLayouts) {
      if (table_->weight(t).matvec_int8) layouts_.push_back(t);
    }
    if (layouts_.empty()) GTEST_SKIP() << isa_name(GetParam()) << " reads Q4_0 and Q8_0 as in the file";
  }
  std::vector<WeightType> layouts_;
};

TEST_P(Q0TilesKernels, GemmIsTheFileGemmsBitForBitFromAnyGroup) {
  const Kernels& k = *table_;
  for (WeightType layout : layouts_) {
    for (std::size_t rows : {std::size_t(8), std::size_t(16), std::size_t(23), std::size_t(72)}) {
      for (std::size_t cols : kCols) {
        for (std::size_t tokens : {std::size_t(1), std::size_t(5), std::size_t(13)}) {
          const Matrices m = make(layout, rows, cols, rows * tokens + cols);
          const std::vector<BlockQ8x32> xq = test::random_activations(k, tokens, cols, tokens);
          std::vector<float> want(tokens * rows), got(tokens * rows, -1.0f);
          k.weight(m.file_type()).matmat_int8(want.data(), rows, weight_rows(m.in_file()), rows, xq.data(), tokens);
          k.weight(layout).matmat_int8(got.data(), rows, weight_rows(m.tiled()), rows, xq.data(), tokens);
          ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0) << m.name();
          // From row 32 on, as gemm_int8 hands a thread its rows.
          ASSERT_NO_FATAL_FAILURE(test::expect_gemm_from_row32(k.weight(layout).matmat_int8, weight_rows(m.tiled()),
                                                               rows, xq.data(), tokens, want, m.name()));
        }
      }
    }
  }
}

// The matvec's reference, bit for bit: the file matvec (Q4_0_X8) or the
// GEMM on one token (the 16-row tiles, so that a prompt and the tokens
// after it see the same bits); whole, and over ranges of rows that cut
// groups (a thread's share).
TEST_P(Q0TilesKernels, MatvecIsItsReferenceBitForBitOverAnyRowRange) {
  const Kernels& k = *table_;
  for (WeightType layout : layouts_) {
    for (std::size_t rows : kRows) {
      for (std::size_t cols : kCols) {
        const Matrices m = make(layout, rows, cols, 3 * rows + cols);
        const std::vector<BlockQ8x32> xq = test::random_activations(k, 1, cols, rows);
        const WeightRows tiles = weight_rows(m.tiled());
        ASSERT_EQ(tiles.tiled_rows, layout == WeightType::Q4_0_X8 ? rows / 8 * 8 : rows / 16 * 16);
        std::vector<float> want(rows), got(rows, -1.0f);
        const WeightKernels& file = k.weight(m.file_type());
        if (layout == WeightType::Q4_0_X8) {
          file.matvec_int8(want.data(), weight_rows(m.in_file()), xq.data(), 0, rows);
        } else {
          file.matmat_int8(want.data(), rows, weight_rows(m.in_file()), rows, xq.data(), 1);
        }
        k.weight(layout).matvec_int8(got.data(), tiles, xq.data(), 0, rows);
        ASSERT_EQ(std::memcmp(want.data(), got.data(), rows * sizeof(float)), 0) << m.name();
        for (std::size_t step : {std::size_t(3), std::size_t(70)}) {
          std::fill(got.begin(), got.end(), -1.0f);
          for (std::size_t r0 = 0; r0 < rows; r0 += step) {
            k.weight(layout).matvec_int8(got.data(), tiles, xq.data(), r0, std::min(rows, r0 + step));
          }
          ASSERT_EQ(std::memcmp(want.data(), got.data(), rows * sizeof(float)), 0) << m.name() << " in " << step << "s";
        }
      }
    }
  }
}

// The exact integer dot of block b of row r with activation block x: Q4_0's
// q - 8 (value j in byte j's low nibble, j + 16 in its high one), Q8_0's q.
long integer_dot(const Matrices& m, std::size_t r, std::size_t b, const BlockQ8x32& x) {
  long isum = 0;
  if (m.file_type() == WeightType::Q8_0) {
    const BlockQ8_0& w = m.block<BlockQ8_0>(r, b);
    for (int j = 0; j < 32; j++) isum += long(w.qs[j]) * x.qs[j];
  } else {
    const BlockQ4_0& w = m.block<BlockQ4_0>(r, b);
    for (int j = 0; j < 16; j++) isum += long((w.qs[j] & 15) - 8) * x.qs[j] + long((w.qs[j] >> 4) - 8) * x.qs[j + 16];
  }
  return isum;
}

// The 16-row tiles' matvecs against a double-precision sum over blocks of d
// * xd * (the exact integer dot): within fp32 rounding of the sum of the
// terms' magnitudes. (Q4_0_X8's are the file matvec's bits, above, which the
// Q4_0 kernel tests hold to the reference.)
TEST_P(Q0TilesKernels, MatvecMatchesADoubleDotOfTheSameIntegers) {
  const Kernels& k = *table_;
  for (WeightType layout : layouts_) {
    if (layout == WeightType::Q4_0_X8) continue;  // the file matvec's bits
    for (std::size_t rows : kRows) {
      for (std::size_t cols : kCols) {
        const Matrices m = make(layout, rows, cols, 11 * rows + cols);
        const std::vector<BlockQ8x32> xq = test::random_activations(k, 1, cols, 2 * rows);
        std::vector<float> got(rows);
        k.weight(layout).matvec_int8(got.data(), weight_rows(m.tiled()), xq.data(), 0, rows);
        const std::size_t rb = row_bytes(m.file_type(), cols);
        for (std::size_t r = 0; r < rows; r++) {
          double exact = 0, magnitude = 0;
          for (std::size_t b = 0; b < cols / 32; b++) {
            std::uint16_t d;  // the first field of either block
            std::memcpy(&d, m.file.data() + r * rb + b * weight_type_info(m.file_type()).block_bytes, 2);
            const double term = double(fp16_to_fp32(d)) * double(xq[b].d) * double(integer_dot(m, r, b, xq[b]));
            exact += term;
            magnitude += std::fabs(term);
          }
          EXPECT_NEAR(got[r], exact, 1e-6 * magnitude + 1e-30) << m.name() << " row " << r;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, Q0TilesKernels, test::kAllIsas, test::isa_param_name);

// The AMX table (kernels_amx.cpp) reads the 16-row tiles with its own GEMM,
// whose bits must be the AVX-512 one's on the file layout (so a prompt's
// logits do not depend on whether the CPU or LLAMA2_AMX allow AMX): rows
// off the tiles, tokens off the 16-token tiles, columns past one panel.
TEST(Q0TilesAmx, GemmIsTheAvx512FileGemmsBitForBit) {
  const Kernels* amx = kernels_amx_table();
  if (!amx) GTEST_SKIP() << "AMX not usable here (CPU, OS tile permission, or LLAMA2_AMX=0)";
  const Kernels& avx512 = *kernels_for(Isa::AVX512);
  for (WeightType layout : {WeightType::Q4_0_X16, WeightType::Q8_0_X16}) {
    for (std::size_t rows : {std::size_t(16), std::size_t(40), std::size_t(64), std::size_t(79)}) {
      for (std::size_t cols : {std::size_t(96), std::size_t(1088)}) {
        for (std::size_t tokens : {std::size_t(1), std::size_t(17), std::size_t(40)}) {
          const Matrices m = make(layout, rows, cols, rows * tokens + cols);
          const std::vector<BlockQ8x32> xq = test::random_activations(avx512, tokens, cols, tokens + 1);
          std::vector<float> want(tokens * rows), got(tokens * rows, -1.0f);
          avx512.weight(m.file_type()).matmat_int8(want.data(), rows, weight_rows(m.in_file()), rows, xq.data(), tokens);
          amx->weight(layout).matmat_int8(got.data(), rows, weight_rows(m.tiled()), rows, xq.data(), tokens);
          const std::string label = m.name() + ", " + std::to_string(tokens) + " tokens";
          ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0) << label;
          ASSERT_NO_FATAL_FAILURE(test::expect_gemm_from_row32(amx->weight(layout).matmat_int8, weight_rows(m.tiled()),
                                                               rows, xq.data(), tokens, want, label));
        }
      }
    }
  }
}

// --- a model ------------------------------------------------------------------------------

// ctest also runs these with LLAMA2_ISA=avx2 (tests/CMakeLists.txt): Q4_0's
// matrices go to 8-row tiles there, Q4_0's and Q8_0's to 16-row ones on
// AVX-512 with VNNI, and elsewhere it checks they stay as in the file. The
// 8-row tiles give the file layout's logits bit for bit; the 16-row ones do
// so for a batched prompt (the GEMM's arithmetic), and one token at a time
// agree to fp32 rounding until an 8-bit rounding step
// (test::expect_logits_within_rounding).
void expect_repacked_with_the_same_logits(WeightType file_type) {
  test::TempDir tmp("q_0_tiles");
  // dim 288 (9 blocks: an 8-block tile and a tail), hidden 544 (17), a
  // vocabulary of 270 rows (16 groups of 16 and 14 rows after them; 33 of 8 and 6).
  const Config c = test::make_config(288, 544, 2, 4, 2, 270, 40, false);
  test::write_llama2c_v1(tmp.file("m.bin"), test::make_weights(c, 7));
  test::write_tokenizer_bin(tmp.file("tok.bin"), c.vocab_size);
  write_llama_gguf(Model::load(tmp.file("m.bin")), Tokenizer::load(tmp.file("tok.bin")).vocab(), file_type,
                   tmp.file("m.gguf"));

  test::LoadedTwice m(tmp.file("m.gguf"));
  const WeightType layout = test::layout_read_here(file_type);
  EXPECT_EQ(m.repacked.model().weights().layers[1].w2.type, file_type);
  const int tiled = test::expect_layouts(m, test::layout_read_here);
  if (layout == file_type) GTEST_SKIP() << kernel_isa_name() << " reads " << weight_type_name(file_type) << " as in the file";
  // Every layer's matrix is of the file type, so all of them go to tiles,
  // and the classifier when its type (Q8_0 in a Q4_0 file) has a layout here.
  const WeightType wcls = m.repacked.model().weights().wcls.type;
  EXPECT_EQ(tiled, 7 * c.n_layers + (test::layout_read_here(wcls) != wcls));
  EXPECT_EQ(m.repacked.model().kernel_weights().layers[1].w2.type, layout);

  if (layout == WeightType::Q4_0_X8) {
    test::expect_bitwise_same_logits(m.file_layout, m.repacked, c.vocab_size);
    return;
  }
  const std::vector<int> tokens = test::random_tokens(c.vocab_size);
  ASSERT_NO_FATAL_FAILURE(
      test::expect_logits_within_rounding(m.file_layout, m.repacked, tokens, std::string(weight_type_name(file_type))));
  test::expect_bitwise_same_batched_logits(m.file_layout, m.repacked, tokens);
}

TEST(Q0TilesModel, Q4_0RepackedWhereTheKernelsReadTilesWithTheSameLogits) {
  expect_repacked_with_the_same_logits(WeightType::Q4_0);
}

TEST(Q0TilesModel, Q8_0RepackedWhereTheKernelsReadTilesWithTheSameLogits) {
  expect_repacked_with_the_same_logits(WeightType::Q8_0);
}

}  // namespace
}  // namespace llama2

// Q4_0's load layouts (Model::kernel_weights): 8-row tiles (Q4_0_X8,
// kernels/q4_0_x8.hpp) for the AVX2 kernels and 16-row tiles (Q4_0_X16,
// kernels/q4_0_x16.hpp) for the AVX-512 VNNI ones. Each layout against the
// file's blocks; the GEMMs reading them against the same table's Q4_0 GEMM
// on the file layout (bit for bit); the matvecs against their reference, bit
// for bit (Q4_0_X8 moves bytes, not arithmetic: the file matvec; Q4_0_X16
// does the GEMM's arithmetic: the GEMM on one token) and against a
// double-precision dot of the same integers; and a model whose Q4_0
// matrices are repacked against the same model in the file's layout.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/fp16.hpp"
#include "kernels/kernels.hpp"
#include "kernels/q4_0_x16.hpp"
#include "kernels/q4_0_x8.hpp"
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

constexpr WeightType kLayouts[] = {WeightType::Q4_0_X8, WeightType::Q4_0_X16};

// A Q4_0 matrix and its copy in one of the layouts.
struct Matrices {
  WeightType layout;
  std::size_t rows, cols;
  test::Bytes file, tiles;
  Tensor q4_0() const { return {WeightType::Q4_0, file.data(), nullptr, rows, cols, 0}; }
  Tensor tiled() const { return {layout, tiles.data(), nullptr, rows, cols, 0}; }
  const BlockQ4_0& block(std::size_t r, std::size_t b) const {
    return reinterpret_cast<const BlockQ4_0*>(file.data() + r * row_bytes(WeightType::Q4_0, cols))[b];
  }
  std::string name() const {
    return std::string(weight_type_name(layout)) + " " + std::to_string(rows) + "x" + std::to_string(cols);
  }
};

Matrices make(WeightType layout, std::size_t rows, std::size_t cols, std::uint64_t seed) {
  Matrices m{layout, rows, cols, test::random_blocks(test::kGgmlQ4_0, rows, cols, seed), {}};
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

TEST(Q4_0TilesLayout, EveryBlockIsTheFileBlock) {
  for (std::size_t rows : kRows) {
    for (std::size_t cols : kCols) {
      const Matrices x8 = make(WeightType::Q4_0_X8, rows, cols, rows * 1000 + cols);
      const Matrices x16 = make(WeightType::Q4_0_X16, rows, cols, rows * 1000 + cols);
      const std::size_t rb = row_bytes(WeightType::Q4_0, cols);
      for (std::size_t r = 0; r < rows; r++) {
        for (std::size_t b = 0; b < cols / 32; b++) {
          const BlockQ4_0& want = x8.block(r, b);
          const Q4_0BlockRef got8 = q4_0_x8_block(x8.tiles.data(), rb, q4_0_x8_tiled_rows(rows), r, b);
          ASSERT_EQ(got8.d, want.d) << x8.name() << " row " << r << " block " << b;
          ASSERT_EQ(std::memcmp(got8.qs, want.qs, 16), 0) << x8.name() << " row " << r << " block " << b;
          const BlockQ4_0 got16 = q4_0_x16_block(x16.tiles.data(), rb, q4_0_x16_tiled_rows(rows), r, b);
          ASSERT_EQ(std::memcmp(&got16, &want, sizeof(want)), 0) << x16.name() << " row " << r << " block " << b;
        }
      }
    }
  }
}

TEST(Q4_0TilesLayout, X8TilesHoldEachPairsScalesTogether) {
  // The layout as written in q4_0_x8.hpp, spelled out for one tile: pair 1
  // (rows 2 and 3) starts 288 bytes in, its 16 scales first, A's blocks 0-3
  // then B's 0-3 then A's 4-7; block j's nibbles 32 + 32 j bytes in.
  const Matrices m = make(WeightType::Q4_0_X8, 8, 256, 5);
  const std::uint8_t* pair1 = m.tiles.data() + 288;
  std::uint16_t d[16];
  std::memcpy(d, pair1, 32);
  EXPECT_EQ(d[0], m.block(2, 0).d);
  EXPECT_EQ(d[3], m.block(2, 3).d);
  EXPECT_EQ(d[4], m.block(3, 0).d);
  EXPECT_EQ(d[8], m.block(2, 4).d);
  EXPECT_EQ(d[15], m.block(3, 7).d);
  EXPECT_EQ(std::memcmp(pair1 + 32 + 5 * 32, m.block(2, 5).qs, 16), 0);
  EXPECT_EQ(std::memcmp(pair1 + 32 + 5 * 32 + 16, m.block(3, 5).qs, 16), 0);
}

TEST(Q4_0TilesLayout, X16TilesHoldRowsInLanes) {
  // The layout as written in q4_0_x16.hpp, spelled out for one tile: block
  // 3 of rows 16-31 starts 16 rows and 3 tiles in, the 16 rows' d first, then
  // line k holds row i's nibble bytes 4k .. 4k + 3 at 32 + 64 k + 4 i.
  const Matrices m = make(WeightType::Q4_0_X16, 40, 256, 5);
  const std::uint8_t* tile = m.tiles.data() + 16 * row_bytes(WeightType::Q4_0, 256) + 3 * 288;
  std::uint16_t d[16];
  std::memcpy(d, tile, 32);
  EXPECT_EQ(d[0], m.block(16, 3).d);
  EXPECT_EQ(d[9], m.block(25, 3).d);
  EXPECT_EQ(d[15], m.block(31, 3).d);
  EXPECT_EQ(std::memcmp(tile + 32 + 64 * 2 + 4 * 5, m.block(21, 3).qs + 8, 4), 0);
  EXPECT_EQ(std::memcmp(tile + 32 + 64 * 3 + 4 * 15, m.block(31, 3).qs + 12, 4), 0);
  // Rows 32-39, past the last group, as in the file.
  EXPECT_EQ(std::memcmp(m.tiles.data() + 32 * row_bytes(WeightType::Q4_0, 256), &m.block(32, 0), 8 * 8 * 18), 0);
}

TEST(Q4_0TilesLayout, DequantizedRowsAreTheFileRows) {
  for (WeightType layout : kLayouts) {
    for (std::size_t rows : kRows) {
      for (std::size_t cols : kCols) {
        const Matrices m = make(layout, rows, cols, rows + 7 * cols);
        ASSERT_NO_FATAL_FAILURE(test::expect_same_dequantized_rows(m.q4_0(), m.tiled()));
      }
    }
  }
}

// --- kernels ------------------------------------------------------------------------------

// Each ISA's table reads at most one of the layouts (kernels_test.cpp:
// TableIsComplete); the tests take the one it has.
class Q4_0TilesKernels : public test::IsaTest {
 protected:
  void SetUp() override {
    IsaTest::SetUp();
    if (IsSkipped()) return;
    for (WeightType t : kLayouts) {
      if (table_->weight(t).matvec_int8) layout_ = t;
    }
    if (layout_ == WeightType::Q4_0) GTEST_SKIP() << isa_name(GetParam()) << " reads Q4_0 as in the file";
  }
  WeightType layout_ = WeightType::Q4_0;
};

TEST_P(Q4_0TilesKernels, GemmIsQ4_0sBitForBitFromAnyGroup) {
  const Kernels& k = *table_;
  for (std::size_t rows : {std::size_t(8), std::size_t(16), std::size_t(23), std::size_t(72)}) {
    for (std::size_t cols : kCols) {
      for (std::size_t tokens : {std::size_t(1), std::size_t(5), std::size_t(13)}) {
        const Matrices m = make(layout_, rows, cols, rows * tokens + cols);
        const std::vector<BlockQ8x32> xq = test::random_activations(k, tokens, cols, tokens);
        std::vector<float> want(tokens * rows), got(tokens * rows, -1.0f);
        k.weight(WeightType::Q4_0).matmat_int8(want.data(), rows, weight_rows(m.q4_0()), rows, xq.data(), tokens);
        k.weight(layout_).matmat_int8(got.data(), rows, weight_rows(m.tiled()), rows, xq.data(), tokens);
        ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0) << m.name();
        // From row 32 on, as gemm_int8 hands a thread its rows.
        ASSERT_NO_FATAL_FAILURE(test::expect_gemm_from_row32(k.weight(layout_).matmat_int8, weight_rows(m.tiled()),
                                                             rows, xq.data(), tokens, want, m.name()));
      }
    }
  }
}

// The matvec's reference, bit for bit: the file matvec (Q4_0_X8) or the
// GEMM on one token (Q4_0_X16, so that a prompt and the tokens after it
// see the same bits); whole, and over ranges of rows that cut groups (a
// thread's share).
TEST_P(Q4_0TilesKernels, MatvecIsItsReferenceBitForBitOverAnyRowRange) {
  const Kernels& k = *table_;
  for (std::size_t rows : kRows) {
    for (std::size_t cols : kCols) {
      const Matrices m = make(layout_, rows, cols, 3 * rows + cols);
      const std::vector<BlockQ8x32> xq = test::random_activations(k, 1, cols, rows);
      const WeightRows tiles = weight_rows(m.tiled());
      ASSERT_EQ(tiles.tiled_rows, layout_ == WeightType::Q4_0_X8 ? rows / 8 * 8 : rows / 16 * 16);
      std::vector<float> want(rows), got(rows, -1.0f);
      if (layout_ == WeightType::Q4_0_X8) {
        k.weight(WeightType::Q4_0).matvec_int8(want.data(), weight_rows(m.q4_0()), xq.data(), 0, rows);
      } else {
        k.weight(WeightType::Q4_0).matmat_int8(want.data(), rows, weight_rows(m.q4_0()), rows, xq.data(), 1);
      }
      k.weight(layout_).matvec_int8(got.data(), tiles, xq.data(), 0, rows);
      ASSERT_EQ(std::memcmp(want.data(), got.data(), rows * sizeof(float)), 0) << m.name();
      for (std::size_t step : {std::size_t(3), std::size_t(70)}) {
        std::fill(got.begin(), got.end(), -1.0f);
        for (std::size_t r0 = 0; r0 < rows; r0 += step) {
          k.weight(layout_).matvec_int8(got.data(), tiles, xq.data(), r0, std::min(rows, r0 + step));
        }
        ASSERT_EQ(std::memcmp(want.data(), got.data(), rows * sizeof(float)), 0) << m.name() << " in " << step << "s";
      }
    }
  }
}

// The 16-row tiles' matvec against a double-precision sum over blocks of d *
// xd * (the exact integer dot of q - 8 with the activations): within fp32
// rounding of the sum of the terms' magnitudes. (Q4_0_X8's are the file
// matvec's bits, above, which the Q4_0 kernel tests hold to the reference.)
TEST_P(Q4_0TilesKernels, MatvecMatchesADoubleDotOfTheSameIntegers) {
  if (layout_ != WeightType::Q4_0_X16) GTEST_SKIP() << "the file matvec's bits";
  const Kernels& k = *table_;
  for (std::size_t rows : kRows) {
    for (std::size_t cols : kCols) {
      const Matrices m = make(layout_, rows, cols, 11 * rows + cols);
      const std::vector<BlockQ8x32> xq = test::random_activations(k, 1, cols, 2 * rows);
      std::vector<float> got(rows);
      k.weight(layout_).matvec_int8(got.data(), weight_rows(m.tiled()), xq.data(), 0, rows);
      for (std::size_t r = 0; r < rows; r++) {
        double exact = 0, magnitude = 0;
        for (std::size_t b = 0; b < cols / 32; b++) {
          const BlockQ4_0& w = m.block(r, b);
          long isum = 0;
          for (int j = 0; j < 16; j++) {
            isum += long((w.qs[j] & 15) - 8) * xq[b].qs[j] + long((w.qs[j] >> 4) - 8) * xq[b].qs[j + 16];
          }
          const double term = double(fp16_to_fp32(w.d)) * double(xq[b].d) * double(isum);
          exact += term;
          magnitude += std::fabs(term);
        }
        EXPECT_NEAR(got[r], exact, 1e-6 * magnitude + 1e-30) << m.name() << " row " << r;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, Q4_0TilesKernels, test::kAllIsas, test::isa_param_name);

// The AMX table (kernels_amx.cpp) reads the 16-row tiles with its own GEMM,
// whose bits must be the AVX-512 one's on the file layout (so a prompt's
// logits do not depend on whether the CPU or LLAMA2_AMX allow AMX): rows
// off the tiles, tokens off the 16-token tiles, columns past one panel.
TEST(Q4_0TilesAmx, GemmIsTheAvx512FileGemmsBitForBit) {
  const Kernels* amx = kernels_amx_table();
  if (!amx) GTEST_SKIP() << "AMX not usable here (CPU, OS tile permission, or LLAMA2_AMX=0)";
  const Kernels& avx512 = *kernels_for(Isa::AVX512);
  for (std::size_t rows : {std::size_t(16), std::size_t(40), std::size_t(64), std::size_t(79)}) {
    for (std::size_t cols : {std::size_t(96), std::size_t(1088)}) {
      for (std::size_t tokens : {std::size_t(1), std::size_t(17), std::size_t(40)}) {
        const Matrices m = make(WeightType::Q4_0_X16, rows, cols, rows * tokens + cols);
        const std::vector<BlockQ8x32> xq = test::random_activations(avx512, tokens, cols, tokens + 1);
        std::vector<float> want(tokens * rows), got(tokens * rows, -1.0f);
        avx512.weight(WeightType::Q4_0).matmat_int8(want.data(), rows, weight_rows(m.q4_0()), rows, xq.data(), tokens);
        amx->weight(WeightType::Q4_0_X16).matmat_int8(got.data(), rows, weight_rows(m.tiled()), rows, xq.data(), tokens);
        const std::string label = m.name() + ", " + std::to_string(tokens) + " tokens";
        ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0) << label;
        ASSERT_NO_FATAL_FAILURE(test::expect_gemm_from_row32(amx->weight(WeightType::Q4_0_X16).matmat_int8,
                                                             weight_rows(m.tiled()), rows, xq.data(), tokens, want, label));
      }
    }
  }
}

// --- a model ------------------------------------------------------------------------------

// ctest also runs this with LLAMA2_ISA=avx2 (tests/CMakeLists.txt): the
// matrices go to 8-row tiles there, to 16-row ones on AVX-512 with VNNI,
// and elsewhere it checks they stay as in the file. The 8-row tiles give
// the file layout's logits bit for bit; the 16-row ones do so for a batched
// prompt (the GEMM's arithmetic), and one token at a time agree to fp32
// rounding until an 8-bit rounding step (test::expect_logits_within_rounding).
TEST(Q4_0TilesModel, RepackedWhereTheKernelsReadTilesWithTheSameLogits) {
  test::TempDir tmp("q4_0_tiles");
  // dim 288 (9 blocks: an 8-block tile and a tail), hidden 544 (17), a
  // vocabulary of 270 rows (16 groups of 16 and 14 rows after them; 33 of 8 and 6).
  const Config c = test::make_config(288, 544, 2, 4, 2, 270, 40, false);
  test::write_llama2c_v1(tmp.file("m.bin"), test::make_weights(c, 7));
  test::write_tokenizer_bin(tmp.file("tok.bin"), c.vocab_size);
  write_llama_gguf(Model::load(tmp.file("m.bin")), Tokenizer::load(tmp.file("tok.bin")).vocab(), WeightType::Q4_0,
                   tmp.file("m.gguf"));

  test::LoadedTwice m(tmp.file("m.gguf"));
  const WeightType layout = test::layout_read_here(WeightType::Q4_0);
  EXPECT_EQ(m.repacked.model().weights().layers[1].w2.type, WeightType::Q4_0);
  const int tiled = test::expect_layouts(m, test::layout_read_here);
  if (layout == WeightType::Q4_0) GTEST_SKIP() << kernel_isa_name() << " reads Q4_0 as in the file";
  // Every layer's matrix is Q4_0, so all of them go to tiles (the classifier
  // when the writer made it Q4_0 too).
  EXPECT_EQ(tiled, 7 * c.n_layers + (m.repacked.model().weights().wcls.type == WeightType::Q4_0));
  EXPECT_EQ(m.repacked.model().kernel_weights().layers[1].w2.type, layout);

  if (layout == WeightType::Q4_0_X8) {
    test::expect_bitwise_same_logits(m.file_layout, m.repacked, c.vocab_size);
    return;
  }
  const std::vector<int> tokens = test::random_tokens(c.vocab_size);
  ASSERT_NO_FATAL_FAILURE(test::expect_logits_within_rounding(m.file_layout, m.repacked, tokens, "Q4_0"));
  test::expect_bitwise_same_batched_logits(m.file_layout, m.repacked, tokens);
}

}  // namespace
}  // namespace llama2

// Q4_0_X16 (kernels/q4_0_x16.hpp): Q4_0 repacked in 16-row tiles at load,
// for the AVX-512 VNNI kernels. The layout against the file's blocks; the
// GEMM reading it against the same table's Q4_0 GEMM on the file layout
// (bit for bit: the same panels); the matvec against that GEMM on one token
// (bit for bit: its arithmetic) and against a double-precision dot of the
// same integers; and a model whose Q4_0 matrices are repacked against the
// same model in the file's layout.
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
#include "kernels/quants.hpp"
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

// A Q4_0 matrix and its X16 copy.
struct Matrices {
  std::size_t rows, cols;
  test::Bytes file, tiles;
  Tensor q4_0() const { return {WeightType::Q4_0, file.data(), nullptr, rows, cols, 0}; }
  Tensor x16() const { return {WeightType::Q4_0_X16, tiles.data(), nullptr, rows, cols, 0}; }
  const BlockQ4_0& block(std::size_t r, std::size_t b) const {
    return reinterpret_cast<const BlockQ4_0*>(file.data() + r * row_bytes(WeightType::Q4_0, cols))[b];
  }
};

Matrices make(std::size_t rows, std::size_t cols, std::uint64_t seed) {
  Matrices m{rows, cols, test::random_blocks(test::kGgmlQ4_0, rows, cols, seed), {}};
  m.tiles.resize(m.file.size());
  repack_q4_0_x16(m.file.data(), m.tiles.data(), rows, cols);
  return m;
}

// Rows: fewer than a group, whole groups, groups and a remainder; the
// matvec takes four groups at a time (64 rows).
const std::size_t kRows[] = {1, 15, 16, 17, 32, 40, 47, 64, 100, 150};
const std::size_t kCols[] = {32, 96, 256, 544};

TEST(Q4_0X16Layout, EveryBlockIsTheFileBlock) {
  for (std::size_t rows : kRows) {
    for (std::size_t cols : kCols) {
      const Matrices m = make(rows, cols, rows * 1000 + cols);
      const std::size_t rb = row_bytes(WeightType::Q4_0, cols);
      for (std::size_t r = 0; r < rows; r++) {
        for (std::size_t b = 0; b < cols / 32; b++) {
          const BlockQ4_0 got = q4_0_x16_block(m.tiles.data(), rb, q4_0_x16_tiled_rows(rows), r, b);
          ASSERT_EQ(std::memcmp(&got, &m.block(r, b), sizeof(got)), 0) << rows << "x" << cols << " row " << r << " block " << b;
        }
      }
    }
  }
}

TEST(Q4_0X16Layout, TilesHoldRowsInLanes) {
  // The layout as written in q4_0_x16.hpp, spelled out for one tile: block
  // 3 of rows 16-31 starts 16 rows and 3 tiles in, the 16 rows' d first, then
  // line k holds row i's nibble bytes 4k .. 4k + 3 at 32 + 64 k + 4 i.
  const Matrices m = make(40, 256, 5);
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

TEST(Q4_0X16Layout, DequantizedRowsAreTheFileRows) {
  for (std::size_t rows : kRows) {
    for (std::size_t cols : kCols) {
      const Matrices m = make(rows, cols, rows + 7 * cols);
      ASSERT_NO_FATAL_FAILURE(test::expect_same_dequantized_rows(m.q4_0(), m.x16()));
    }
  }
}

// --- kernels ------------------------------------------------------------------------------

class Q4_0X16Kernels : public test::IsaTest {
 protected:
  void SetUp() override {
    IsaTest::SetUp();
    if (IsSkipped()) return;
    if (!table_->weight(WeightType::Q4_0_X16).matvec_int8) {
      GTEST_SKIP() << isa_name(GetParam()) << " reads Q4_0 as in the file or in 8-row tiles";
    }
  }
};

TEST_P(Q4_0X16Kernels, GemmIsQ4_0sBitForBitFromAnyGroup) {
  const Kernels& k = *table_;
  for (std::size_t rows : {std::size_t(16), std::size_t(23), std::size_t(72)}) {
    for (std::size_t cols : kCols) {
      for (std::size_t tokens : {std::size_t(1), std::size_t(5), std::size_t(13)}) {
        const Matrices m = make(rows, cols, rows * tokens + cols);
        const std::vector<BlockQ8x32> xq = test::random_activations(k, tokens, cols, tokens);
        std::vector<float> want(tokens * rows), got(tokens * rows, -1.0f);
        k.weight(WeightType::Q4_0).matmat_int8(want.data(), rows, weight_rows(m.q4_0()), rows, xq.data(), tokens);
        k.weight(WeightType::Q4_0_X16).matmat_int8(got.data(), rows, weight_rows(m.x16()), rows, xq.data(), tokens);
        ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0) << rows << "x" << cols;
        // From row 32 on, as gemm_int8 hands a thread its rows.
        ASSERT_NO_FATAL_FAILURE(test::expect_gemm_from_row32(k.weight(WeightType::Q4_0_X16).matmat_int8,
                                                             weight_rows(m.x16()), rows, xq.data(), tokens, want,
                                                             std::to_string(rows) + "x" + std::to_string(cols)));
      }
    }
  }
}

// The matvec does the GEMM's arithmetic on one token, so a prompt and the
// tokens after it see the same bits; over any range of rows, which may cut
// a group (a thread's share), and for the rows past the last group.
TEST_P(Q4_0X16Kernels, MatvecIsTheGemmsBitForBitOverAnyRowRange) {
  const Kernels& k = *table_;
  for (std::size_t rows : kRows) {
    for (std::size_t cols : kCols) {
      const Matrices m = make(rows, cols, 3 * rows + cols);
      const std::vector<BlockQ8x32> xq = test::random_activations(k, 1, cols, rows);
      const WeightRows tiles = weight_rows(m.x16());
      ASSERT_EQ(tiles.tiled_rows, rows / 16 * 16);
      std::vector<float> want(rows), got(rows, -1.0f);
      k.weight(WeightType::Q4_0_X16).matmat_int8(want.data(), rows, tiles, rows, xq.data(), 1);
      k.weight(WeightType::Q4_0_X16).matvec_int8(got.data(), tiles, xq.data(), 0, rows);
      ASSERT_EQ(std::memcmp(want.data(), got.data(), rows * sizeof(float)), 0) << rows << "x" << cols;
      for (std::size_t step : {std::size_t(5), std::size_t(70)}) {
        std::fill(got.begin(), got.end(), -1.0f);
        for (std::size_t r0 = 0; r0 < rows; r0 += step) {
          k.weight(WeightType::Q4_0_X16).matvec_int8(got.data(), tiles, xq.data(), r0, std::min(rows, r0 + step));
        }
        ASSERT_EQ(std::memcmp(want.data(), got.data(), rows * sizeof(float)), 0) << rows << "x" << cols << " in " << step << "s";
      }
    }
  }
}

// Against a double-precision sum over blocks of d * xd * (the exact
// integer dot of q - 8 with the activations): within fp32 rounding of the
// sum of the terms' magnitudes.
TEST_P(Q4_0X16Kernels, MatvecMatchesADoubleDotOfTheSameIntegers) {
  const Kernels& k = *table_;
  for (std::size_t rows : kRows) {
    for (std::size_t cols : kCols) {
      const Matrices m = make(rows, cols, 11 * rows + cols);
      const std::vector<BlockQ8x32> xq = test::random_activations(k, 1, cols, 2 * rows);
      std::vector<float> got(rows);
      k.weight(WeightType::Q4_0_X16).matvec_int8(got.data(), weight_rows(m.x16()), xq.data(), 0, rows);
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
        EXPECT_NEAR(got[r], exact, 1e-6 * magnitude + 1e-30) << rows << "x" << cols << " row " << r;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, Q4_0X16Kernels, test::kAllIsas, test::isa_param_name);

// The AMX table (kernels_amx.cpp) reads the tiles with its own GEMM, whose
// bits must be the AVX-512 one's on the file layout (so a prompt's logits
// do not depend on whether the CPU or LLAMA2_AMX allow AMX): rows off the
// tiles, tokens off the 16-token tiles, columns past one panel.
TEST(Q4_0X16Amx, GemmIsTheAvx512FileGemmsBitForBit) {
  const Kernels* amx = kernels_amx_table();
  if (!amx) GTEST_SKIP() << "AMX not usable here (CPU, OS tile permission, or LLAMA2_AMX=0)";
  const Kernels& avx512 = *kernels_for(Isa::AVX512);
  for (std::size_t rows : {std::size_t(16), std::size_t(40), std::size_t(64), std::size_t(79)}) {
    for (std::size_t cols : {std::size_t(96), std::size_t(1088)}) {
      for (std::size_t tokens : {std::size_t(1), std::size_t(17), std::size_t(40)}) {
        const Matrices m = make(rows, cols, rows * tokens + cols);
        const std::vector<BlockQ8x32> xq = test::random_activations(avx512, tokens, cols, tokens + 1);
        std::vector<float> want(tokens * rows), got(tokens * rows, -1.0f);
        avx512.weight(WeightType::Q4_0).matmat_int8(want.data(), rows, weight_rows(m.q4_0()), rows, xq.data(), tokens);
        amx->weight(WeightType::Q4_0_X16).matmat_int8(got.data(), rows, weight_rows(m.x16()), rows, xq.data(), tokens);
        const std::string label = std::to_string(rows) + "x" + std::to_string(cols) + ", " + std::to_string(tokens) + " tokens";
        ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0) << label;
        ASSERT_NO_FATAL_FAILURE(test::expect_gemm_from_row32(amx->weight(WeightType::Q4_0_X16).matmat_int8,
                                                             weight_rows(m.x16()), rows, xq.data(), tokens, want, label));
      }
    }
  }
}

// --- a model ------------------------------------------------------------------------------

// Repacked where the kernel table reads the 16-row tiles (AVX-512 with
// VNNI); elsewhere it checks that they are not. A batched prompt reads the
// tiles with the file layout's GEMM arithmetic, so its logits are the same
// bits; one token at a time the tiled matvec sums in that GEMM's order, not
// the file matvec's, so the logits agree to fp32 rounding until an 8-bit
// rounding step (test::expect_logits_within_rounding, as the Q4_K tiles).
TEST(Q4_0X16Model, RepackedWhereTheKernelsReadTilesWithTheSameLogits) {
  test::TempDir tmp("q4_0_x16");
  // dim 288 (9 blocks), hidden 544 (17), a vocabulary of 270 rows (16
  // groups and 14 rows after them).
  const Config c = test::make_config(288, 544, 2, 4, 2, 270, 40, false);
  test::write_llama2c_v1(tmp.file("m.bin"), test::make_weights(c, 7));
  test::write_tokenizer_bin(tmp.file("tok.bin"), c.vocab_size);
  write_llama_gguf(Model::load(tmp.file("m.bin")), Tokenizer::load(tmp.file("tok.bin")).vocab(), WeightType::Q4_0,
                   tmp.file("m.gguf"));

  test::LoadedTwice m(tmp.file("m.gguf"));
  const bool tiles = kernels().weight(WeightType::Q4_0_X16).matvec_int8 != nullptr && int8_activations();
  EXPECT_EQ(m.repacked.model().weights().layers[1].w2.type, WeightType::Q4_0);
  const int tiled = test::expect_layouts(m, test::layout_read_here);
  if (!tiles) GTEST_SKIP() << kernel_isa_name() << " does not read Q4_0 in 16-row tiles";
  // Every layer's matrix is Q4_0, so all of them go to tiles (the classifier
  // when the writer made it Q4_0 too).
  EXPECT_EQ(tiled, 7 * c.n_layers + (m.repacked.model().weights().wcls.type == WeightType::Q4_0));
  EXPECT_EQ(m.repacked.model().kernel_weights().layers[1].w2.type, WeightType::Q4_0_X16);

  const std::vector<int> tokens = test::random_tokens(c.vocab_size);
  ASSERT_NO_FATAL_FAILURE(test::expect_logits_within_rounding(m.file_layout, m.repacked, tokens, "Q4_0"));
  test::expect_bitwise_same_batched_logits(m.file_layout, m.repacked, tokens);
}

}  // namespace
}  // namespace llama2

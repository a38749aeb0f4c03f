// Q4_0_X8 (kernels/q4_0_x8.hpp): Q4_0 repacked in 8-row tiles at load. The
// layout against the file's blocks, the kernels that read it against the
// same table's Q4_0 kernels on the file layout (bit for bit: the layout
// moves bytes, not arithmetic), and a model whose Q4_0 matrices are
// repacked against the same model in the file's layout.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/kernels.hpp"
#include "kernels/q4_0_x8.hpp"
#include "kernels/quants.hpp"
#include "llama2/quantize.hpp"
#include "llama2/tensor.hpp"
#include "llama2/tokenizer.hpp"
#include "llama2/transformer.hpp"
#include "support/gguf_builder.hpp"
#include "support/gemm_from_row32.hpp"
#include "support/isa_test.hpp"
#include "support/loaded_twice.hpp"
#include "support/same_logits.hpp"
#include "support/same_rows.hpp"
#include "support/synthetic_model.hpp"
#include "ops.hpp"
#include "support/temp_dir.hpp"

namespace llama2 {
namespace {

// A Q4_0 matrix and its X8 copy.
struct Matrices {
  std::size_t rows, cols;
  test::Bytes file, tiles;
  Tensor q4_0() const { return {WeightType::Q4_0, file.data(), nullptr, rows, cols, 0}; }
  Tensor x8() const { return {WeightType::Q4_0_X8, tiles.data(), nullptr, rows, cols, 0}; }
};

Matrices make(std::size_t rows, std::size_t cols, std::uint64_t seed) {
  Matrices m{rows, cols, test::random_blocks(test::kGgmlQ4_0, rows, cols, seed), {}};
  m.tiles.resize(m.file.size());
  repack_q4_0_x8(m.file.data(), m.tiles.data(), rows, cols);
  return m;
}

// Rows: fewer than a group, whole groups, groups and a remainder. Columns:
// tiles only, a tail only, both.
const std::size_t kRows[] = {1, 7, 8, 9, 16, 23, 40};
const std::size_t kCols[] = {32, 96, 256, 288, 544};

TEST(Q4_0X8Layout, EveryBlockIsTheFileBlock) {
  for (std::size_t rows : kRows) {
    for (std::size_t cols : kCols) {
      const Matrices m = make(rows, cols, rows * 1000 + cols);
      const std::size_t rb = row_bytes(WeightType::Q4_0, cols);
      for (std::size_t r = 0; r < rows; r++) {
        for (std::size_t b = 0; b < cols / 32; b++) {
          const auto* want = reinterpret_cast<const BlockQ4_0*>(m.file.data() + r * rb) + b;
          const Q4_0BlockRef got = q4_0_x8_block(m.tiles.data(), rb, q4_0_x8_tiled_rows(rows), r, b);
          ASSERT_EQ(got.d, want->d) << rows << "x" << cols << " row " << r << " block " << b;
          ASSERT_EQ(std::memcmp(got.qs, want->qs, 16), 0) << rows << "x" << cols << " row " << r << " block " << b;
        }
      }
    }
  }
}

TEST(Q4_0X8Layout, TilesHoldEachPairsScalesTogether) {
  // The layout as written in q4_0_x8.hpp, spelled out for one tile: pair 1
  // (rows 2 and 3) starts 288 bytes in, its 16 scales first, A's blocks 0-3
  // then B's 0-3 then A's 4-7; block j's nibbles 32 + 32 j bytes in.
  const Matrices m = make(8, 256, 5);
  const std::size_t rb = row_bytes(WeightType::Q4_0, 256);
  const auto block = [&](std::size_t r, std::size_t b) { return reinterpret_cast<const BlockQ4_0*>(m.file.data() + r * rb) + b; };
  const std::uint8_t* pair1 = m.tiles.data() + 288;
  std::uint16_t d[16];
  std::memcpy(d, pair1, 32);
  EXPECT_EQ(d[0], block(2, 0)->d);
  EXPECT_EQ(d[3], block(2, 3)->d);
  EXPECT_EQ(d[4], block(3, 0)->d);
  EXPECT_EQ(d[8], block(2, 4)->d);
  EXPECT_EQ(d[15], block(3, 7)->d);
  EXPECT_EQ(std::memcmp(pair1 + 32 + 5 * 32, block(2, 5)->qs, 16), 0);
  EXPECT_EQ(std::memcmp(pair1 + 32 + 5 * 32 + 16, block(3, 5)->qs, 16), 0);
}

TEST(Q4_0X8Layout, DequantizedRowsAreTheFileRows) {
  for (std::size_t rows : kRows) {
    for (std::size_t cols : kCols) {
      const Matrices m = make(rows, cols, rows + 7 * cols);
      ASSERT_NO_FATAL_FAILURE(test::expect_same_dequantized_rows(m.q4_0(), m.x8()));
    }
  }
}

// --- kernels ------------------------------------------------------------------------------

class Q4_0X8Kernels : public test::IsaTest {
 protected:
  void SetUp() override {
    IsaTest::SetUp();
    if (IsSkipped()) return;
    if (!table_->weight(WeightType::Q4_0_X8).matvec_int8) GTEST_SKIP() << isa_name(GetParam()) << " reads Q4_0 as in the file";
  }
};

TEST_P(Q4_0X8Kernels, MatvecIsQ4_0sBitForBitOverAnyRowRange) {
  const Kernels& k = *table_;
  for (std::size_t rows : kRows) {
    for (std::size_t cols : kCols) {
      const Matrices m = make(rows, cols, 3 * rows + cols);
      const std::vector<BlockQ8x32> xq = test::random_activations(k, 1, cols, rows);
      std::vector<float> want(rows), got(rows, -1.0f);
      k.weight(WeightType::Q4_0).matvec_int8(want.data(), weight_rows(m.q4_0()), xq.data(), 0, rows);
      // Whole, then in ranges that cut groups (rows 3 .. 10, ...).
      const WeightRows tiles = weight_rows(m.x8());
      ASSERT_EQ(tiles.tiled_rows, rows / 8 * 8);
      k.weight(WeightType::Q4_0_X8).matvec_int8(got.data(), tiles, xq.data(), 0, rows);
      ASSERT_EQ(std::memcmp(want.data(), got.data(), rows * sizeof(float)), 0) << rows << "x" << cols;
      std::fill(got.begin(), got.end(), -1.0f);
      for (std::size_t r0 = 0; r0 < rows; r0 += 3) {
        k.weight(WeightType::Q4_0_X8).matvec_int8(got.data(), tiles, xq.data(), r0, std::min(rows, r0 + 3));
      }
      ASSERT_EQ(std::memcmp(want.data(), got.data(), rows * sizeof(float)), 0) << rows << "x" << cols << " in 3s";
    }
  }
}

TEST_P(Q4_0X8Kernels, GemmIsQ4_0sBitForBitFromAnyGroup) {
  const Kernels& k = *table_;
  for (std::size_t rows : {std::size_t(8), std::size_t(23), std::size_t(72)}) {
    for (std::size_t cols : kCols) {
      for (std::size_t tokens : {std::size_t(1), std::size_t(5), std::size_t(13)}) {
        const Matrices m = make(rows, cols, rows * tokens + cols);
        const std::vector<BlockQ8x32> xq = test::random_activations(k, tokens, cols, tokens);
        std::vector<float> want(tokens * rows), got(tokens * rows, -1.0f);
        k.weight(WeightType::Q4_0).matmat_int8(want.data(), rows, weight_rows(m.q4_0()), rows, xq.data(), tokens);
        k.weight(WeightType::Q4_0_X8).matmat_int8(got.data(), rows, weight_rows(m.x8()), rows, xq.data(), tokens);
        ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0) << rows << "x" << cols;
        // From row 32 on, as gemm_int8 hands a thread its rows.
        ASSERT_NO_FATAL_FAILURE(test::expect_gemm_from_row32(k.weight(WeightType::Q4_0_X8).matmat_int8, weight_rows(m.x8()),
                                                             rows, xq.data(), tokens, want,
                                                             std::to_string(rows) + "x" + std::to_string(cols)));
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, Q4_0X8Kernels, test::kAllIsas, test::isa_param_name);

// --- a model ------------------------------------------------------------------------------

// ctest also runs this with LLAMA2_ISA=avx2 (tests/CMakeLists.txt), where
// the matrices are repacked; elsewhere it checks they are not.
TEST(Q4_0X8Model, RepackedWhereTheKernelsReadTilesWithTheSameLogits) {
  test::TempDir tmp("q4_0_x8");
  // dim 288 (9 blocks: a tile and a tail), hidden 544 (17), a vocabulary of
  // 270 rows (33 groups and 6 rows after them).
  const Config c = test::make_config(288, 544, 2, 4, 2, 270, 40, false);
  test::write_llama2c_v1(tmp.file("m.bin"), test::make_weights(c, 7));
  test::write_tokenizer_bin(tmp.file("tok.bin"), c.vocab_size);
  write_llama_gguf(Model::load(tmp.file("m.bin")), Tokenizer::load(tmp.file("tok.bin")).vocab(), WeightType::Q4_0,
                   tmp.file("m.gguf"));

  test::LoadedTwice m(tmp.file("m.gguf"));
  const bool tiles = kernels().weight(WeightType::Q4_0_X8).matvec_int8 != nullptr && int8_activations();
  EXPECT_EQ(m.repacked.model().weights().layers[1].w2.type, WeightType::Q4_0);
  const int tiled = test::expect_layouts(m, test::layout_read_here);
  if (!tiles) GTEST_SKIP() << kernel_isa_name() << " reads Q4_0 as in the file (ctest runs this again capped to AVX2)";
  // Every layer's matrix is Q4_0, so all of them go to tiles (the classifier
  // when the writer made it Q4_0 too).
  EXPECT_EQ(tiled, 7 * c.n_layers + (m.repacked.model().weights().wcls.type == WeightType::Q4_0));

  test::expect_bitwise_same_logits(m.file_layout, m.repacked, c.vocab_size);
}

}  // namespace
}  // namespace llama2

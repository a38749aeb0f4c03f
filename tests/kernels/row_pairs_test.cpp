// Q5_K_X2 / Q6_K_X2 (kernels/row_pairs.hpp): Q5_K and Q6_K rows interleaved
// in pairs at load. The layout against the file's blocks, the kernels that
// read it against the same table's kernels of the file type (bit for bit:
// the layout moves blocks, not arithmetic), and models whose Q5_K / Q6_K
// matrices are paired against the same models in the file's layout. (A
// Q4_K_M model, whose Q6_K matrices are paired too: q4_k_x8_test.cpp.)
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/kernels.hpp"
#include "kernels/quants.hpp"
#include "kernels/row_pairs.hpp"
#include "kernels/weight_types.hpp"
#include "llama2/quantize.hpp"
#include "llama2/tensor.hpp"
#include "llama2/tokenizer.hpp"
#include "llama2/transformer.hpp"
#include "ops.hpp"
#include "support/gguf_builder.hpp"
#include "support/gemm_from_row32.hpp"
#include "support/isa_test.hpp"
#include "support/loaded_twice.hpp"
#include "support/same_logits.hpp"
#include "support/same_rows.hpp"
#include "support/synthetic_model.hpp"
#include "support/temp_dir.hpp"

namespace llama2 {
namespace {

const WeightType kFileTypes[] = {WeightType::Q5_K, WeightType::Q6_K};

// A K-quant matrix and its paired copy.
struct Matrices {
  WeightType type;
  std::size_t rows, cols;
  test::Bytes file, pairs;
  Tensor in_file() const { return {type, file.data(), nullptr, rows, cols, 0}; }
  Tensor paired() const { return {load_layouts_of(type).first, pairs.data(), nullptr, rows, cols, 0}; }
};

Matrices make(WeightType type, std::size_t rows, std::size_t cols, std::uint64_t seed) {
  Matrices m{type, rows, cols, test::random_blocks(type == WeightType::Q5_K ? test::kGgmlQ5_K : test::kGgmlQ6_K, rows, cols, seed), {}};
  m.pairs.resize(m.file.size());
  const std::size_t rb = row_bytes(type, cols);
  // In two pieces, as the loader's threads repack a matrix.
  const std::size_t half = rows / 16 * 8;
  repack_row_pairs(m.file.data(), m.pairs.data(), rows, rb, weight_type_info(type).block_bytes, 0, half);
  repack_row_pairs(m.file.data(), m.pairs.data(), rows, rb, weight_type_info(type).block_bytes, half, rows);
  return m;
}

// Rows: one, a pair, a pair and a last row alone, several of each (the
// AVX-512 matvecs read 4 pairs at a time: 8, 9, 19, 26 and 33 rows cut
// them differently).
// Columns: one super-block and more.
const std::size_t kRows[] = {1, 2, 3, 8, 9, 19, 26, 33};
const std::size_t kCols[] = {256, 512, 768};

TEST(RowPairsLayout, TypesMapBothWays) {
  for (WeightType t : kFileTypes) {
    EXPECT_TRUE(is_paired(load_layouts_of(t).first));
    EXPECT_EQ(file_type_of_layout(load_layouts_of(t).first), t);
    EXPECT_EQ(row_bytes(load_layouts_of(t).first, 512), row_bytes(t, 512));
  }
  for (WeightType t : {WeightType::Q4_0, WeightType::Q8_0, WeightType::Q2_K, WeightType::Q3_K, WeightType::Q4_K, WeightType::F16}) {
    EXPECT_FALSE(is_paired(load_layouts_of(t).first)) << weight_type_name(t);
    EXPECT_FALSE(is_paired(t));
  }
}

TEST(RowPairsLayout, EveryBlockIsTheFileBlock) {
  for (WeightType type : kFileTypes) {
    const std::size_t bb = weight_type_info(type).block_bytes;
    for (std::size_t rows : kRows) {
      for (std::size_t cols : kCols) {
        const Matrices m = make(type, rows, cols, rows * 1000 + cols);
        const std::size_t rb = row_bytes(type, cols);
        for (std::size_t r = 0; r < rows; r++) {
          const RowBlocks got = paired_row(m.pairs.data(), rb, bb, paired_rows(rows), r);
          for (std::size_t b = 0; b < cols / 256; b++) {
            ASSERT_EQ(std::memcmp(got.first + b * got.step, m.file.data() + r * rb + b * bb, bb), 0)
                << weight_type_name(type) << " " << rows << "x" << cols << " row " << r << " block " << b;
          }
        }
      }
    }
  }
}

TEST(RowPairsLayout, PairsAlternateBlocksAndAnOddLastRowStaysPut) {
  // The layout as written in row_pairs.hpp, spelled out for 3 rows of 2
  // Q6_K super-blocks (210 bytes): row 0's block 0, row 1's block 0, row
  // 0's block 1, row 1's block 1, then row 2 as in the file.
  const Matrices m = make(WeightType::Q6_K, 3, 512, 9);
  const auto file_block = [&](std::size_t r, std::size_t b) { return m.file.data() + r * 420 + b * 210; };
  EXPECT_EQ(std::memcmp(m.pairs.data() + 0 * 210, file_block(0, 0), 210), 0);
  EXPECT_EQ(std::memcmp(m.pairs.data() + 1 * 210, file_block(1, 0), 210), 0);
  EXPECT_EQ(std::memcmp(m.pairs.data() + 2 * 210, file_block(0, 1), 210), 0);
  EXPECT_EQ(std::memcmp(m.pairs.data() + 3 * 210, file_block(1, 1), 210), 0);
  EXPECT_EQ(std::memcmp(m.pairs.data() + 4 * 210, file_block(2, 0), 420), 0);
}

TEST(RowPairsLayout, DequantizedRowsAreTheFileRows) {
  for (WeightType type : kFileTypes) {
    for (std::size_t rows : kRows) {
      for (std::size_t cols : kCols) {
        const Matrices m = make(type, rows, cols, rows + 7 * cols);
        ASSERT_NO_FATAL_FAILURE(test::expect_same_dequantized_rows(m.in_file(), m.paired()));
      }
    }
  }
}

// --- kernels ------------------------------------------------------------------------------

class RowPairsKernels : public test::IsaTest {
 protected:
  void SetUp() override {
    IsaTest::SetUp();
    if (IsSkipped()) return;
    if (!table_->weight(WeightType::Q6_K_X2).matvec_int8) GTEST_SKIP() << isa_name(GetParam()) << " reads Q5_K / Q6_K as in the file";
  }
};

TEST_P(RowPairsKernels, MatvecIsTheFileTypesBitForBitOverAnyRowRange) {
  const Kernels& k = *table_;
  for (WeightType type : kFileTypes) {
    const WeightKernels& file_kernels = k.weight(type);
    const WeightKernels& pair_kernels = k.weight(load_layouts_of(type).first);
    ASSERT_NE(pair_kernels.matvec_int8, nullptr) << weight_type_name(type);
    for (std::size_t rows : kRows) {
      for (std::size_t cols : kCols) {
        const Matrices m = make(type, rows, cols, 3 * rows + cols);
        const std::vector<BlockQ8x32> xq = test::random_activations(k, 1, cols, rows);
        std::vector<float> want(rows), got(rows, -1.0f);
        file_kernels.matvec_int8(want.data(), weight_rows(m.in_file()), xq.data(), 0, rows);
        const WeightRows pairs = weight_rows(m.paired());
        ASSERT_EQ(pairs.tiled_rows, rows / 2 * 2);
        pair_kernels.matvec_int8(got.data(), pairs, xq.data(), 0, rows);
        ASSERT_EQ(std::memcmp(want.data(), got.data(), rows * sizeof(float)), 0)
            << weight_type_name(type) << " " << rows << "x" << cols;
        // In ranges of 3 rows, which cut every other pair (rows 3 .. 5, ...),
        // and of 11, which hold runs of pairs from odd rows.
        for (std::size_t step : {std::size_t(3), std::size_t(11)}) {
          std::fill(got.begin(), got.end(), -1.0f);
          for (std::size_t r0 = 0; r0 < rows; r0 += step) {
            pair_kernels.matvec_int8(got.data(), pairs, xq.data(), r0, std::min(rows, r0 + step));
          }
          ASSERT_EQ(std::memcmp(want.data(), got.data(), rows * sizeof(float)), 0)
              << weight_type_name(type) << " " << rows << "x" << cols << " in " << step << "s";
        }
      }
    }
  }
}

TEST_P(RowPairsKernels, GemmIsTheFileTypesBitForBitFromAnyPair) {
  const Kernels& k = *table_;
  for (WeightType type : kFileTypes) {
    const WeightKernels& file_kernels = k.weight(type);
    const WeightKernels& pair_kernels = k.weight(load_layouts_of(type).first);
    ASSERT_NE(pair_kernels.matmat_int8, nullptr) << weight_type_name(type);
    for (std::size_t rows : {std::size_t(9), std::size_t(23), std::size_t(72)}) {
      for (std::size_t cols : kCols) {
        for (std::size_t tokens : {std::size_t(1), std::size_t(5), std::size_t(13)}) {
          const Matrices m = make(type, rows, cols, rows * tokens + cols);
          const std::vector<BlockQ8x32> xq = test::random_activations(k, tokens, cols, tokens);
          std::vector<float> want(tokens * rows), got(tokens * rows, -1.0f);
          file_kernels.matmat_int8(want.data(), rows, weight_rows(m.in_file()), rows, xq.data(), tokens);
          pair_kernels.matmat_int8(got.data(), rows, weight_rows(m.paired()), rows, xq.data(), tokens);
          ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0)
              << weight_type_name(type) << " " << rows << "x" << cols;
          // From row 32 on, as gemm_int8 hands a thread its rows.
          ASSERT_NO_FATAL_FAILURE(test::expect_gemm_from_row32(
              pair_kernels.matmat_int8, weight_rows(m.paired()), rows, xq.data(), tokens, want,
              std::string(weight_type_name(type)) + " " + std::to_string(rows) + "x" + std::to_string(cols)));
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, RowPairsKernels, test::kAllIsas, test::isa_param_name);

// --- models -------------------------------------------------------------------------------

// ctest also runs this with LLAMA2_ISA=avx2 (tests/CMakeLists.txt), where
// the matrices are paired; elsewhere it checks they are not.
TEST(RowPairsModel, PairedWhereTheKernelsReadPairsWithTheSameLogits) {
  test::TempDir tmp("row_pairs");
  // dim 256 (one super-block), hidden 768 (three), a vocabulary of 271
  // rows (135 pairs and an odd last row).
  const Config c = test::make_config(256, 768, 2, 4, 2, 271, 40, false);
  test::write_llama2c_v1(tmp.file("m.bin"), test::make_weights(c, 7));
  test::write_tokenizer_bin(tmp.file("tok.bin"), c.vocab_size);
  const Model model = Model::load(tmp.file("m.bin"));
  const Vocab vocab = Tokenizer::load(tmp.file("tok.bin")).vocab();
  // Q5_K_M mixes its type with Q6_K (README, "Quantizing").
  for (FileType file_type : {FileType::Q5_K_M, FileType::Q6_K}) {
    SCOPED_TRACE(file_type_name(file_type));
    const std::string path = tmp.file(std::string(file_type_name(file_type)) + ".gguf");
    QuantizeOptions options;
    options.type = file_type;
    write_llama_gguf(model, vocab, options, path);

    test::LoadedTwice m(path);
    const WeightType base = base_weight_type(file_type);
    const bool pairs = kernels().weight(load_layouts_of(base).first).matvec_int8 != nullptr && int8_activations();
    EXPECT_EQ(m.repacked.model().weights().layers[0].wq.type, base);
    const int paired = test::expect_layouts(m, test::layout_read_here);
    if (!pairs) continue;
    EXPECT_EQ(paired, 7 * c.n_layers + 1);  // Q5_K_M: Q5_K and Q6_K only

    test::expect_bitwise_same_logits(m.file_layout, m.repacked, c.vocab_size);
  }
  if (kernels().weight(WeightType::Q6_K_X2).matvec_int8 == nullptr || !int8_activations()) {
    GTEST_SKIP() << kernel_isa_name() << " reads Q5_K / Q6_K as in the file (ctest runs this again capped to AVX2)";
  }
}

}  // namespace
}  // namespace llama2

// Batched matmul for the weight types with an int8 GEMM (kernels.hpp:
// matmat_int8; every GGUF block type): the activation rows are
// quantized to 8 bits once (quantize_q8x32, as the token-by-token matvec
// does), then the GEMM kernel multiplies whole tiles of rows by tokens. A
// token gets the same per-block sums here as in matmul(), so a prompt
// processed in a batch gives the logits of one processed token by token.
#include <algorithm>
#include <span>
#include <vector>

#include "kernels/kernels.hpp"
#include "ops.hpp"

namespace llama2 {

namespace {

// The table whose int8 GEMM runs: AMX tiles for Q8_0 / Q4_0 where the CPU
// and OS allow them (and LLAMA2_AMX is not 0), else the best table; the same
// bits either way.
const Kernels& gemm_table() {
  const Kernels* amx = kernels().isa == Isa::AVX512 ? kernels_amx_table() : nullptr;
  return amx ? *amx : kernels();
}

// The GEMM kernel for w, or nullptr (none for its type in this table, or
// rows that are not whole blocks).
MatmatInt8Fn* gemm_kernel(const Tensor& w) {
  MatmatInt8Fn* fn = gemm_table().weight(w.type).matmat_int8;
  return fn && w.cols % weight_type_info(w.type).block_size == 0 ? fn : nullptr;
}

bool int8_eligible(const Tensor& w) { return gemm_kernel(w) != nullptr; }

// x (n, cols) rounded to 8 bits per 32-block: (n, cols / 32) blocks in the
// caller's thread_local buffer, read by the workers.
const BlockQ8x32* quantize_rows(const float* x, std::size_t n, std::size_t cols, ThreadPool& pool) {
  const std::size_t n_blocks = cols / 32;
  thread_local std::vector<BlockQ8x32> xq_buf;  // (n, cols / 32) blocks, grown only
  if (xq_buf.size() < n * n_blocks) xq_buf.resize(n * n_blocks);
  BlockQ8x32* xq = xq_buf.data();
  pool.parallel_for(
      n, [&](std::size_t t0, std::size_t t1, int) {
        for (std::size_t t = t0; t < t1; t++) quantize_q8x32(x + t * cols, xq + t * n_blocks, cols);
      },
      ThreadPool::grain_for(cols * 4));
  return xq;
}

// out (n, w.rows) = the quantized rows xq @ w^T with the int8 GEMM kernel.
void gemm_int8(float* out, const BlockQ8x32* xq, std::size_t n, const Tensor& w, ThreadPool& pool) {
  MatmatInt8Fn* fn = gemm_kernel(w);
  const bool amx = fn != kernels().weight(w.type).matmat_int8;  // the AMX table's own kernel
  const std::size_t cols = w.cols, n_blocks = cols / 32, ldo = w.rows;
  const WeightRows rows = weight_rows(w);
  // Cache blocking: each thread takes a run of rows (a multiple of the 32-row
  // panels) and sweeps them over blocks of tokens. VNNI: blocks whose
  // quantized activations (about 1 MiB) stay in L2, with a panel of weights
  // in L1. AMX multiplies so fast that packing and re-reading the weights
  // for every token block costs more than streaming the activations from L3
  // (measured on 7B Q8_0), so its blocks are up to 8 MiB: a 512-token prompt
  // in one, each weight read once. Token blocks are multiples of the
  // kernel's tile of tokens (6, or 32 for AMX), split evenly so that the
  // last is not a sliver.
  const std::size_t block_bytes = amx ? 8 * 1024 * 1024 : 1024 * 1024;
  const std::size_t tile = amx ? 32 : 6;
  const std::size_t max_block = std::max(tile, block_bytes / (n_blocks * sizeof(BlockQ8x32)) / tile * tile);
  const std::size_t n_token_blocks = (n + max_block - 1) / max_block;
  const std::size_t token_block = ((n + n_token_blocks - 1) / n_token_blocks + tile - 1) / tile * tile;
  pool.parallel_for(
      w.rows,
      [&](std::size_t r0, std::size_t r1, int) {
        WeightRows from_r0 = rows;  // rows r0 .. r1 - 1
        from_r0.data = rows.row(r0);
        from_r0.tiled_rows = rows.tiled_rows > r0 ? rows.tiled_rows - r0 : 0;  // Q4_0_X8: r0 starts a group (grain)
        for (std::size_t t0 = 0; t0 < n; t0 += token_block) {
          const std::size_t nt = std::min(token_block, n - t0);
          fn(out + t0 * ldo + r0, ldo, from_r0, r1 - r0, xq + t0 * n_blocks, nt);
        }
      },
      ThreadPool::grain_for(cols * n, 32));
}

}  // namespace

// LLAMA2_INT8_DOT=0: fp32 activations (matmul_batch's dequantize path).
bool matmul_batch_int8(std::span<const BatchProduct> products, const float* x, std::size_t n, ThreadPool& pool) {
  if (products.empty() || !int8_activations()) return false;
  for (const BatchProduct& p : products) {
    if (!int8_eligible(*p.w) || p.w->cols != products[0].w->cols) return false;
  }
  const BlockQ8x32* xq = quantize_rows(x, n, products[0].w->cols, pool);
  for (const BatchProduct& p : products) gemm_int8(p.out, xq, n, *p.w, pool);
  return true;
}

bool matmul_batch_int8(float* out, const float* x, std::size_t n, const Tensor& w, ThreadPool& pool) {
  const BatchProduct one{out, &w};
  return matmul_batch_int8(std::span<const BatchProduct>(&one, 1), x, n, pool);
}

}  // namespace llama2

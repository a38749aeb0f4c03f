// Kernels: the inner loops of the forward pass, one table per instruction set.
//
// Every table computes the same functions; kernels_scalar.cpp is the plain
// C++ reference that the SIMD tables (kernels_avx2*.cpp, kernels_avx512*.cpp,
// kernels_neon.cpp) are tested against. kernels() picks the best table this
// CPU supports once, at first use, so one binary runs on any x86-64.
// Setting the environment variable LLAMA2_ISA=scalar|avx2|avx512|neon caps
// the choice (for benchmarks and for tests of the slower paths).
//
// A table has the vector kernels (dot, attention, softmax, ...) and one
// entry per weight type (weight_types.hpp): the type's matrix-vector
// kernels for fp32 and for int8 activations and its int8 GEMM, each
// nullptr where the table has none. Adding a type: its kernels in each
// instruction set's files and a line in each table filler.
//
// Row kernels take a row range [r0, r1) and write out[r] for each row in it.
// How row r is computed never depends on r0 and r1 (blocked and left-over
// rows run the same arithmetic), so results do not depend on how the thread
// pool splits the rows.
//
// These files include no standard-library templates inside the SIMD code:
// the SIMD functions carry __attribute__((target)), and a template compiled
// there could be picked by the linker for the whole program and then run on
// a CPU without that instruction set.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu_features.hpp"
#include "kernels/quants.hpp"
#include "kernels/weight_types.hpp"

namespace llama2 {

// Activations quantized to 8 bits for the integer dot products of the GGUF
// quantized types, once per matmul: one block per 32 values with an fp32
// scale (finer than ggml's fp16 Q8_0), and the sums of each half of the
// quants for the types whose weights carry an offset (Q4_0: q - 8).
//
// The rounding scheme, for every weight type: block k of x (values 32k ..
// 32k + 31) becomes xd * xq with xd = max|x| / 127 and xq = round(x / xd)
// (ties to even), |xq| <= 127. The weight blocks line up with these: a Q8_0
// or Q4_0 block is one x block, a Q4_K sub-block of 32 is one x block, and a
// Q6_K sub-block of 16 is one half of one. Per such piece the kernels take
// the exact integer sum of weight quant times xq (the offsets -8, -32 and
// the Q4_K min enter through the half sums `sums`), then scale it in fp32
// by the fp16 weight scales and xd. So a matvec equals the dot product of
// the dequantized weights with the rounded activations, up to fp32 rounding
// of the per-block products and of the sum over blocks.
struct BlockQ8x32 {
  float d;                 // x ~= d * qs
  std::int16_t sums[2];    // qs[0] + ... + qs[15], qs[16] + ... + qs[31]
  std::int8_t qs[32];
};
static_assert(sizeof(BlockQ8x32) == 40);

// x (n, a multiple of 32) -> n / 32 blocks: d = max|x| / 127, qs = round(x * (1 / d)),
// with this CPU's table (every table gives the same bits).
void quantize_q8x32(const float* x, BlockQ8x32* y, std::size_t n);

// A weight matrix as the kernels see it: row r starts r * row_bytes bytes
// after data and holds cols values in its type's layout (weight_types.hpp;
// for the block types cols is a multiple of the block size).
struct WeightRows {
  const void* data = nullptr;
  std::size_t row_bytes = 0;
  std::size_t cols = 0;
  // Q8_GROUP (llama2.c v2 int8, one int8 per value): w[r][j] = q[r][j] *
  // scales[(r * cols + j) / group_size], the groups running over the
  // flattened matrix; its kernels need whole groups per row (cols %
  // group_size == 0). Unused by the other types.
  const float* scales = nullptr;
  std::size_t group_size = 0;
  // The load layouts (weight_types.hpp: is_load_layout): rows [0,
  // tiled_rows) counted from data are in 8-row tiles (Q4_0_X8, Q4_K_X8;
  // data at the start of a group, tiled_rows a multiple of 8), 16-row
  // tiles (Q4_0_X16, Q8_0_X16, likewise with 16) or pairs (Q5_K_X2,
  // Q6_K_X2), the rest as in the file. Unused by the other types.
  std::size_t tiled_rows = 0;

  const std::uint8_t* row(std::size_t r) const { return static_cast<const std::uint8_t*>(data) + r * row_bytes; }
};

// The matrix of t (kernels/tensor.cpp).
WeightRows weight_rows(const Tensor& t);

// out[r] = row r of w . x for r in [r0, r1), x fp32 (w.cols). The GGUF
// block types dequantize each weight in registers to exactly the value
// dequantize_blocks gives, then multiply into fp32 sums: as exact as F16.
using MatvecFn = void(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1);
// The same against activations quantized with quantize_q8x32 (w.cols / 32
// blocks): exact integer dot products per block (BlockQ8x32, above).
using MatvecInt8Fn = void(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1);
// The int8 GEMM of a batched prompt: out[t * ldo + i] = row i of w . token t
// for i < n_rows, t < n_tokens, token t's w.cols / 32 activation blocks at
// xq + t * (w.cols / 32). Per block the same exact integer dot and scales as
// the type's matvec_int8, summed block by block; element (i, t) is computed
// the same way whatever n_rows and n_tokens are.
using MatmatInt8Fn = void(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                          std::size_t n_tokens);

// A weight type's kernels in one table, nullptr where the table has none.
// matmul (ops.cpp) takes matvec_int8 when activations are rounded to 8 bits
// (int8_activations), else matvec, else dequantizes a row at a time into a
// float dot product; matmul_batch takes matmat_int8 likewise, else packs
// dequantized fp32 panels for matmat_f32.
struct WeightKernels {
  MatvecFn* matvec = nullptr;
  MatvecInt8Fn* matvec_int8 = nullptr;
  MatmatInt8Fn* matmat_int8 = nullptr;
};

struct Kernels {
  Isa isa = Isa::SCALAR;

  // --- vectors ---
  // sum a[i] * b[i]
  float (*dot)(const float* a, const float* b, std::size_t n) = nullptr;
  // y[i] += a * x[i]
  void (*axpy)(float* y, float a, const float* x, std::size_t n) = nullptr;
  // sum x[i]^2 (rmsnorm)
  float (*sum_squares)(const float* x, std::size_t n) = nullptr;
  // quantize_q8x32 (above): the same bits in every table.
  void (*quantize_q8x32)(const float* x, BlockQ8x32* y, std::size_t n) = nullptr;

  // --- attention over one head ---
  // att[t] = scale * (q . keys[t]) for t < n_pos; keys (n_pos, head_size)
  void (*attention_scores)(float* att, const float* q, const float* keys, std::size_t n_pos,
                           std::size_t head_size, float scale) = nullptr;
  // out = sum over t < n_pos of att[t] * values[t]; values (n_pos, head_size)
  void (*attention_values)(float* out, const float* att, const float* values, std::size_t n_pos,
                           std::size_t head_size) = nullptr;
  // The same over an fp16 KV cache (KvType::F16): keys / values are IEEE
  // halves, widened to fp32 as they are read.
  void (*attention_scores_f16)(float* att, const float* q, const std::uint16_t* keys, std::size_t n_pos,
                               std::size_t head_size, float scale) = nullptr;
  void (*attention_values_f16)(float* out, const float* att, const std::uint16_t* values, std::size_t n_pos,
                               std::size_t head_size) = nullptr;

  // --- matrix-matrix (batched prompt) ---
  // out[b * ldo + i] = sum over k < cols of wt[k * ldw + i] * x[b * ldx + k]
  // for i < n_rows, b < n_batch. The weights come k-major ("packed": row k of
  // wt holds column k of n_rows weight rows), so a SIMD register holds
  // consecutive outputs and a tile of them stays in registers while k runs.
  // With accumulate the sum starts from the value already in out, else 0.
  // Each output is one chain of fused multiply-adds over k in increasing
  // order, in every table: all tables give the same bits, and no result
  // depends on the tile shape, n_rows, n_batch, the thread split, or on
  // splitting k into pieces run one after another with accumulate.
  void (*matmat_f32)(float* out, std::size_t ldo, const float* wt, std::size_t ldw, std::size_t n_rows,
                     const float* x, std::size_t ldx, std::size_t n_batch, std::size_t cols,
                     bool accumulate) = nullptr;
  // out[c * ldo + r] = in[r * ldi + c] for r < rows, c < cols (and nothing
  // else written): packs weight rows k-major for matmat_f32.
  void (*transpose)(float* out, std::size_t ldo, const float* in, std::size_t ldi, std::size_t rows,
                    std::size_t cols) = nullptr;
  // x = softmax(scale * x) over n values, in place.
  void (*softmax)(float* x, std::size_t n, float scale) = nullptr;
  // SwiGLU's gate: hb[i] = silu(hb[i]) * hb2[i], silu(g) = g / (1 + exp(-g)).
  void (*swiglu)(float* hb, const float* hb2, std::size_t n) = nullptr;

  // --- weight matrices: one entry of kernels per weight type ---
  WeightKernels weights[kWeightTypeCount] = {};
  WeightKernels& weight(WeightType type) { return weights[std::size_t(type)]; }
  const WeightKernels& weight(WeightType type) const { return weights[std::size_t(type)]; }
};

// The scalar reference (always available).
const Kernels& kernels_scalar();
// The table for `isa`, or nullptr when it is not compiled in or this CPU
// lacks the instructions.
const Kernels* kernels_for(Isa isa);
// The best table for this CPU (capped by LLAMA2_ISA), chosen once.
const Kernels& kernels();

// Tables defined in each kernels_<isa>.cpp; nullptr where not compiled for
// this architecture. Use kernels_for(), which also checks the CPU.
const Kernels* kernels_avx2_table();
const Kernels* kernels_avx512_table();
const Kernels* kernels_neon_table();

// Where the matvec kernels' prefetches of the next rows go: into L2
// (prefetcht1) when the weights stream from DRAM, since L2's queue keeps
// more misses in flight than L1's fill buffers (measured here: +10-20% on
// 7B and stories110M); into L1 (prefetcht0) when the model stays in the last
// level cache, one hop less (+7% on stories15M). Process-wide (relaxed):
// Transformer sets it from its weights' size (weights_fit_in_cache). Only
// speed depends on it, never a result.
void set_weights_from_dram(bool from_dram);
namespace detail {
extern bool weights_from_dram;  // read and written with __atomic builtins: no template in SIMD code
}  // namespace detail
inline bool weights_from_dram() { return __atomic_load_n(&detail::weights_from_dram, __ATOMIC_RELAXED); }
// Prefetches the cache lines of [p, p + bytes). The matvec kernels read R
// rows at once: R short strided streams, which the hardware prefetcher does
// not run far enough ahead of when they come from DRAM. So each step also
// fetches the same bytes of the next R rows, a whole pass ahead.
__attribute__((always_inline)) inline void prefetch_lines(const void* p, std::size_t bytes) {
  const char* c = static_cast<const char*>(p);
  if (weights_from_dram()) {
    for (std::size_t off = 0; off < bytes; off += 64) __builtin_prefetch(c + off, 0, 2);  // prefetcht1
  } else {
    for (std::size_t off = 0; off < bytes; off += 64) __builtin_prefetch(c + off, 0, 3);  // prefetcht0
  }
}
// Whether `bytes` of weights stay in this machine's last-level cache
// between tokens: at most half the L3 (sysconf), 16 MiB when unknown.
bool weights_fit_in_cache(std::size_t bytes);

// The AVX-512 table with Q8_0's and Q4_0's matmat_int8 on AMX tiles
// (kernels_amx.cpp), the same results bit for bit. nullptr unless the CPU has
// AMX-INT8, the OS grants this process the tile state, LLAMA2_AMX is not 0.
const Kernels* kernels_amx_table();

}  // namespace llama2

// The scalar reference kernels and the run-time choice of a kernel table.
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "kernels/kernels.hpp"
#include "kernels/fp16.hpp"
#include "kernels/int8_units.hpp"

namespace llama2 {

namespace {

// --- vectors ---------------------------------------------------------------------

// Eight independent partial sums: a fixed summation order that the compiler
// can keep in vector registers without -ffast-math.
float dot(const float* a, const float* b, std::size_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k];
  }
  float sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; i++) sum += a[i] * b[i];
  return sum;
}

void axpy(float* y, float a, const float* x, std::size_t n) {
  for (std::size_t i = 0; i < n; i++) y[i] += a * x[i];
}

float sum_squares(const float* x, std::size_t n) { return dot(x, x, n); }

// --- attention ---------------------------------------------------------------------

void attention_scores(float* att, const float* q, const float* keys, std::size_t n_pos, std::size_t head_size,
                      float scale) {
  for (std::size_t t = 0; t < n_pos; t++) att[t] = dot(q, keys + t * head_size, head_size) * scale;
}

void attention_values(float* out, const float* att, const float* values, std::size_t n_pos,
                      std::size_t head_size) {
  for (std::size_t i = 0; i < head_size; i++) out[i] = 0.0f;
  for (std::size_t t = 0; t < n_pos; t++) axpy(out, att[t], values + t * head_size, head_size);
}

void attention_scores_f16(float* att, const float* q, const std::uint16_t* keys, std::size_t n_pos,
                          std::size_t head_size, float scale) {
  for (std::size_t t = 0; t < n_pos; t++) {
    const std::uint16_t* key = keys + t * head_size;
    float sum = 0.0f;
    for (std::size_t i = 0; i < head_size; i++) sum += q[i] * fp16_to_fp32(key[i]);
    att[t] = sum * scale;
  }
}

void attention_values_f16(float* out, const float* att, const std::uint16_t* values, std::size_t n_pos,
                          std::size_t head_size) {
  for (std::size_t i = 0; i < head_size; i++) out[i] = 0.0f;
  for (std::size_t t = 0; t < n_pos; t++) {
    const std::uint16_t* value = values + t * head_size;
    for (std::size_t i = 0; i < head_size; i++) out[i] += att[t] * fp16_to_fp32(value[i]);
  }
}

// --- weight rows against fp32 activations -------------------------------------------

void matvec_f32(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  for (std::size_t r = r0; r < r1; r++) out[r] = dot(reinterpret_cast<const float*>(w.row(r)), x, w.cols);
}

// F16 / BF16: each value widened exactly (kWiden), eight partial sums as dot's.
template <float (*kWiden)(std::uint16_t)>
void matvec_16bit(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  for (std::size_t r = r0; r < r1; r++) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const auto* row = reinterpret_cast<const std::uint16_t*>(w.row(r));
    for (std::size_t j = 0; j < w.cols; j++) acc[j % 8] += kWiden(row[j]) * x[j];
    out[r] = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  }
}

// Per group: a float sum of q * x, scaled once. Activations stay fp32: exact
// w.r.t. the dequantized weights.
void matvec_q8_group(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  const std::size_t gs = w.group_size, groups = w.cols / gs;
  for (std::size_t r = r0; r < r1; r++) {
    const auto* row = reinterpret_cast<const std::int8_t*>(w.row(r));
    const float* row_scales = w.scales + r * groups;
    float sum = 0.0f;
    for (std::size_t g = 0; g < groups; g++) {
      float acc = 0.0f;
      for (std::size_t j = 0; j < gs; j++) acc += float(row[g * gs + j]) * x[g * gs + j];
      sum += acc * row_scales[g];
    }
    out[r] = sum;
  }
}

// GGUF blocks, the reference: dequantize one block (weight_types.hpp's
// dequantize, the scalar code of quants.cpp), then a float dot product with
// its slice of x, summed block by block.
template <WeightType kType>
void matvec_dequantized(float* out, const WeightRows& w, const float* x, std::size_t r0, std::size_t r1) {
  const BlockLayout layout = block_layout(kType);
  float buf[kQK_K];  // (block_size) one dequantized block
  for (std::size_t r = r0; r < r1; r++) {
    const std::uint8_t* row = w.row(r);
    float sum = 0.0f;
    for (std::size_t b = 0; b < w.cols / layout.block_size; b++) {
      weight_type_info(kType).dequantize(row + b * layout.block_bytes, buf, 1);
      sum += dot(buf, x + b * layout.block_size, layout.block_size);
    }
    out[r] = sum;
  }
}

// --- GGUF blocks against int8 activations -------------------------------------------

// Q8_0 / Q4_0: per block an exact integer sum, scaled by the two block scales.
int block_dot(const BlockQ8_0& b, const BlockQ8x32& x) {
  int isum = 0;
  for (int j = 0; j < 32; j++) isum += int(b.qs[j]) * int(x.qs[j]);
  return isum;
}

int block_dot(const BlockQ4_0& b, const BlockQ8x32& x) {
  int isum = 0;
  for (int j = 0; j < 16; j++) {
    isum += (int(b.qs[j] & 15) - 8) * int(x.qs[j]);
    isum += (int(b.qs[j] >> 4) - 8) * int(x.qs[j + 16]);
  }
  return isum;
}

template <typename Block>
void matvec_q_0(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  for (std::size_t r = r0; r < r1; r++) {
    const auto* blocks = reinterpret_cast<const Block*>(w.row(r));
    float sum = 0.0f;
    for (std::size_t b = 0; b < w.cols / 32; b++) {
      sum += fp16_to_fp32(blocks[b].d) * xq[b].d * float(block_dot(blocks[b], xq[b]));
    }
    out[r] = sum;
  }
}
constexpr MatvecInt8Fn* matvec_q8_0 = matvec_q_0<BlockQ8_0>;
constexpr MatvecInt8Fn* matvec_q4_0 = matvec_q_0<BlockQ4_0>;

// Q4_K sub-block j of super-block b is x block 8b + j: d * sc * sum(q xq)
// minus dmin * mn * sum(xq), times xd.
void matvec_q4_k(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  for (std::size_t r = r0; r < r1; r++) {
    const auto* blocks = reinterpret_cast<const BlockQ4_K*>(w.row(r));
    float sum = 0.0f;
    for (std::size_t b = 0; b < w.cols / kQK_K; b++) {
      const float d = fp16_to_fp32(blocks[b].d), dmin = fp16_to_fp32(blocks[b].dmin);
      for (int j = 0; j < 8; j++) {
        const BlockQ8x32& x = xq[8 * b + j];
        const std::uint8_t* q = blocks[b].qs + 32 * (j / 2);  // low nibbles: even j, high: odd j
        std::uint8_t sc, mn;
        scale_min_k4(j, blocks[b].scales, &sc, &mn);
        int isum = 0;
        for (int l = 0; l < 32; l++) isum += (j % 2 == 0 ? q[l] & 0xF : q[l] >> 4) * int(x.qs[l]);
        sum += x.d * (d * float(sc) * float(isum) - dmin * float(mn) * float(x.sums[0] + x.sums[1]));
      }
    }
    out[r] = sum;
  }
}

// Q6_K value 32k + l (x block 8b + k, l = 0..31) is value 128h + 32r + l of
// quants.cpp's layout with h = k / 4, r = k % 4; its sub-block of 16 is 2k + l / 16.
void matvec_q6_k(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  for (std::size_t r = r0; r < r1; r++) {
    const auto* blocks = reinterpret_cast<const BlockQ6_K*>(w.row(r));
    float sum = 0.0f;
    for (std::size_t b = 0; b < w.cols / kQK_K; b++) {
      const BlockQ6_K& blk = blocks[b];
      const float d = fp16_to_fp32(blk.d);
      for (int k = 0; k < 8; k++) {
        const BlockQ8x32& x = xq[8 * b + k];
        const int h = k / 4, rr = k % 4;
        int isum[2] = {0, 0};  // per half: sum of (q - 32) * xq
        for (int l = 0; l < 32; l++) {
          const std::uint8_t lbyte = blk.ql[64 * h + l + 32 * (rr & 1)];
          const int low = rr < 2 ? (lbyte & 0xF) : (lbyte >> 4);
          const int high = (blk.qh[32 * h + l] >> (2 * rr)) & 3;
          isum[l / 16] += ((low | (high << 4)) - 32) * int(x.qs[l]);
        }
        sum += x.d * d * (float(blk.scales[2 * k]) * float(isum[0]) + float(blk.scales[2 * k + 1]) * float(isum[1]));
      }
    }
    out[r] = sum;
  }
}

// The other GGUF types through int8_units.hpp's form: per piece the exact
// integer sum of each half, then the scales; the mins summed apart.
template <typename U>
void matvec_units(float* out, const WeightRows& w, const BlockQ8x32* xq, std::size_t r0, std::size_t r1) {
  for (std::size_t r = r0; r < r1; r++) {
    const auto* blocks = reinterpret_cast<const typename U::Block*>(w.row(r));
    float sum = 0.0f, mins = 0.0f;
    for (std::size_t u = 0; u < w.cols / (32 * U::kPieces); u++) {
      units::PieceScales s[U::kPieces];
      U::scales(blocks[u], fp16_to_fp32(U::d(blocks[u])), fp16_to_fp32(U::dmin(blocks[u])), s);
      for (int k = 0; k < U::kPieces; k++) {
        const BlockQ8x32& x = xq[U::kPieces * u + std::size_t(k)];
        std::uint8_t q[32];
        U::quants(blocks[u], k, q);
        int isum[2] = {-U::kOffset * x.sums[0], -U::kOffset * x.sums[1]};
        for (int l = 0; l < 32; l++) isum[l / 16] += int(q[l]) * int(x.qs[l]);
        sum += x.d * (s[k].a[0] * float(isum[0]) + s[k].a[1] * float(isum[1]));
        mins += x.d * (s[k].m[0] * float(x.sums[0]) + s[k].m[1] * float(x.sums[1]));
      }
    }
    out[r] = sum - mins;
  }
}

// The int8 GEMM: each (row, token) exactly as the type's matvec_int8 computes it.
template <MatvecInt8Fn* kMatvec>
void matmat_by_token(float* out, std::size_t ldo, const WeightRows& w, std::size_t n_rows, const BlockQ8x32* xq,
                     std::size_t n_tokens) {
  for (std::size_t t = 0; t < n_tokens; t++) kMatvec(out + t * ldo, w, xq + t * (w.cols / 32), 0, n_rows);
}

// --- matrix-matrix -----------------------------------------------------------------

// The definition every table follows bit for bit: one fused multiply-add
// chain per output, k in increasing order.
void matmat_f32(float* out, std::size_t ldo, const float* wt, std::size_t ldw, std::size_t n_rows, const float* x,
                std::size_t ldx, std::size_t n_batch, std::size_t cols, bool accumulate) {
  for (std::size_t b = 0; b < n_batch; b++) {
    for (std::size_t i = 0; i < n_rows; i++) {
      float acc = accumulate ? out[b * ldo + i] : 0.0f;
      for (std::size_t k = 0; k < cols; k++) acc = std::fma(wt[k * ldw + i], x[b * ldx + k], acc);
      out[b * ldo + i] = acc;
    }
  }
}

void transpose(float* out, std::size_t ldo, const float* in, std::size_t ldi, std::size_t rows, std::size_t cols) {
  for (std::size_t r = 0; r < rows; r++) {
    for (std::size_t c = 0; c < cols; c++) out[c * ldo + r] = in[r * ldi + c];
  }
}

void softmax(float* x, std::size_t n, float scale) {
  float max_val = x[0] * scale;
  for (std::size_t i = 1; i < n; i++) max_val = std::fmax(max_val, x[i] * scale);
  float sum = 0.0f;
  for (std::size_t i = 0; i < n; i++) {
    x[i] = std::exp(x[i] * scale - max_val);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (std::size_t i = 0; i < n; i++) x[i] *= inv;
}

void swiglu(float* hb, const float* hb2, std::size_t n) {
  for (std::size_t i = 0; i < n; i++) hb[i] = hb[i] / (1.0f + std::exp(-hb[i])) * hb2[i];
}

void quantize_q8x32_scalar(const float* x, BlockQ8x32* y, std::size_t n) {
  for (std::size_t b = 0; b < n / 32; b++) {
    const float* xb = x + b * 32;
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) amax = std::fmax(amax, std::fabs(xb[j]));
    const float d = amax / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
    y[b].d = d;
    int sums[2] = {0, 0};
    for (int j = 0; j < 32; j++) {
      const int q = int(std::nearbyint(xb[j] * id));
      y[b].qs[j] = std::int8_t(q);
      sums[j / 16] += q;
    }
    y[b].sums[0] = std::int16_t(sums[0]);
    y[b].sums[1] = std::int16_t(sums[1]);
  }
}

Kernels make_scalar() {
  Kernels k{.isa = Isa::SCALAR, .dot = dot, .axpy = axpy, .sum_squares = sum_squares,
            .quantize_q8x32 = quantize_q8x32_scalar, .attention_scores = attention_scores,
            .attention_values = attention_values, .attention_scores_f16 = attention_scores_f16,
            .attention_values_f16 = attention_values_f16, .matmat_f32 = matmat_f32, .transpose = transpose,
            .softmax = softmax, .swiglu = swiglu};
  // Weight types: {matvec, matvec_int8, matmat_int8}; Q8_GROUP's int8 path is its own (fp32 activations).
  k.weight(WeightType::F32) = {matvec_f32};
  k.weight(WeightType::F16) = {matvec_16bit<fp16_to_fp32>};
  k.weight(WeightType::BF16) = {matvec_16bit<bf16_to_fp32>};
  k.weight(WeightType::Q8_GROUP) = {matvec_q8_group};
  k.weight(WeightType::Q8_0) = {matvec_dequantized<WeightType::Q8_0>, matvec_q8_0, matmat_by_token<matvec_q8_0>};
  k.weight(WeightType::Q4_0) = {matvec_dequantized<WeightType::Q4_0>, matvec_q4_0, matmat_by_token<matvec_q4_0>};
  k.weight(WeightType::Q4_1) = {nullptr, matvec_units<units::Q4_1>,
                                 matmat_by_token<matvec_units<units::Q4_1>>};
  k.weight(WeightType::Q5_0) = {nullptr, matvec_units<units::Q5_0>,
                                 matmat_by_token<matvec_units<units::Q5_0>>};
  k.weight(WeightType::Q5_1) = {nullptr, matvec_units<units::Q5_1>,
                                 matmat_by_token<matvec_units<units::Q5_1>>};
  k.weight(WeightType::Q2_K) = {nullptr, matvec_units<units::Q2_K>,
                                 matmat_by_token<matvec_units<units::Q2_K>>};
  k.weight(WeightType::Q3_K) = {nullptr, matvec_units<units::Q3_K>,
                                 matmat_by_token<matvec_units<units::Q3_K>>};
  k.weight(WeightType::Q4_K) = {matvec_dequantized<WeightType::Q4_K>, matvec_q4_k, matmat_by_token<matvec_q4_k>};
  k.weight(WeightType::Q5_K) = {nullptr, matvec_units<units::Q5_K>,
                                 matmat_by_token<matvec_units<units::Q5_K>>};
  k.weight(WeightType::Q6_K) = {matvec_dequantized<WeightType::Q6_K>, matvec_q6_k, matmat_by_token<matvec_q6_k>};
  return k;
}

// The best supported table at or below the LLAMA2_ISA cap.
const Kernels& choose() {
  Isa cap = Isa::AVX512;
  if (const char* env = std::getenv("LLAMA2_ISA"); env && *env) {
    for (Isa isa : {Isa::SCALAR, Isa::NEON, Isa::AVX2, Isa::AVX512}) {
      if (isa_name(isa) == env) cap = isa;
    }
  }
  for (Isa isa : {Isa::AVX512, Isa::AVX2, Isa::NEON}) {
    if (int(isa) > int(cap)) continue;
    if (const Kernels* k = kernels_for(isa)) return *k;
  }
  return kernels_scalar();
}

}  // namespace

void quantize_q8x32(const float* x, BlockQ8x32* y, std::size_t n) { kernels().quantize_q8x32(x, y, n); }

const Kernels& kernels_scalar() {
  static const Kernels table = make_scalar();
  return table;
}

const Kernels* kernels_for(Isa isa) {
  if (!isa_supported(isa)) return nullptr;
  switch (isa) {
    case Isa::SCALAR: return &kernels_scalar();
    case Isa::NEON: return kernels_neon_table();
    case Isa::AVX2: return kernels_avx2_table();
    case Isa::AVX512: return kernels_avx512_table();
  }
  return nullptr;
}

const Kernels& kernels() {
  static const Kernels& chosen = choose();
  return chosen;
}

bool detail::weights_from_dram = true;
void set_weights_from_dram(bool from_dram) { __atomic_store_n(&detail::weights_from_dram, from_dram, __ATOMIC_RELAXED); }

bool weights_fit_in_cache(std::size_t bytes) {
  long l3 = -1;
#if defined(_SC_LEVEL3_CACHE_SIZE)
  l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
  const std::size_t cache = l3 > 0 ? std::size_t(l3) : std::size_t(32) << 20;
  return bytes <= cache / 2;
}

}  // namespace llama2

// NEON kernels (aarch64 Advanced SIMD): 4 floats per register.
#include "kernels.hpp"

#if defined(__aarch64__)
#include <arm_neon.h>

namespace llama2 {

namespace {

// --- vectors ---------------------------------------------------------------------

// Four accumulators (16 floats per step) hide the FMA latency.
float dot(const float* a, const float* b, std::size_t n) {
  float32x4_t acc0 = vdupq_n_f32(0), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
    acc1 = vfmaq_f32(acc1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
    acc2 = vfmaq_f32(acc2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
    acc3 = vfmaq_f32(acc3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
  }
  for (; i + 4 <= n; i += 4) acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
  float sum = vaddvq_f32(vaddq_f32(vaddq_f32(acc0, acc1), vaddq_f32(acc2, acc3)));
  for (; i < n; i++) sum += a[i] * b[i];
  return sum;
}

void axpy(float* y, float a, const float* x, std::size_t n) {
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), a));
  for (; i < n; i++) y[i] += a * x[i];
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

// --- matrix-vector -----------------------------------------------------------------

void matvec_f32(float* out, const float* w, const float* x, std::size_t cols, std::size_t r0, std::size_t r1) {
  for (std::size_t r = r0; r < r1; r++) out[r] = dot(w + r * cols, x, cols);
}

// 8 int8 weights -> two float vectors.
inline void load_i8x8(const std::int8_t* p, float32x4_t& lo, float32x4_t& hi) {
  int16x8_t w16 = vmovl_s8(vld1_s8(p));
  lo = vcvtq_f32_s32(vmovl_s16(vget_low_s16(w16)));
  hi = vcvtq_f32_s32(vmovl_s16(vget_high_s16(w16)));
}

void matvec_q8_group(float* out, const std::int8_t* q, const float* scales, std::size_t gs, const float* x,
                     std::size_t cols, std::size_t r0, std::size_t r1) {
  if (gs % 8 != 0) {
    kernels_scalar().matvec_q8_group(out, q, scales, gs, x, cols, r0, r1);
    return;
  }
  const std::size_t groups = cols / gs;
  for (std::size_t r = r0; r < r1; r++) {
    const std::int8_t* row = q + r * cols;
    const float* row_scales = scales + r * groups;
    float32x4_t acc = vdupq_n_f32(0);
    for (std::size_t g = 0; g < groups; g++) {
      float32x4_t g0 = vdupq_n_f32(0), g1 = g0;
      for (std::size_t j = g * gs; j < (g + 1) * gs; j += 8) {
        float32x4_t lo, hi;
        load_i8x8(row + j, lo, hi);
        g0 = vfmaq_f32(g0, lo, vld1q_f32(x + j));
        g1 = vfmaq_f32(g1, hi, vld1q_f32(x + j + 4));
      }
      acc = vfmaq_n_f32(acc, vaddq_f32(g0, g1), row_scales[g]);
    }
    out[r] = vaddvq_f32(acc);
  }
}

// --- matrix-matrix -----------------------------------------------------------------

void matmat_f32(float* out, std::size_t ldo, const float* w, std::size_t n_rows, const float* x, std::size_t n_batch,
                std::size_t cols) {
  for (std::size_t b = 0; b < n_batch; b++) {
    for (std::size_t i = 0; i < n_rows; i++) out[b * ldo + i] = dot(w + i * cols, x + b * cols, cols);
  }
}

Kernels make_table() {
  Kernels k;
  k.isa = Isa::NEON;
  k.dot = dot;
  k.axpy = axpy;
  k.sum_squares = sum_squares;
  k.attention_scores = attention_scores;
  k.attention_values = attention_values;
  k.matvec_f32 = matvec_f32;
  k.matvec_q8_group = matvec_q8_group;
  k.matmat_f32 = matmat_f32;
  // GGUF types: the scalar code (compiled for aarch64, auto-vectorized).
  const Kernels& ref = kernels_scalar();
  k.matvec_f16 = ref.matvec_f16;
  k.matvec_bf16 = ref.matvec_bf16;
  k.matvec_q8_0 = ref.matvec_q8_0;
  k.matvec_q4_0 = ref.matvec_q4_0;
  k.matvec_q8_0_f32 = ref.matvec_q8_0_f32;
  k.matvec_q4_0_f32 = ref.matvec_q4_0_f32;
  k.matvec_q4_k_f32 = ref.matvec_q4_k_f32;
  k.matvec_q6_k_f32 = ref.matvec_q6_k_f32;
  return k;
}

}  // namespace

const Kernels* kernels_neon_table() {
  static const Kernels table = make_table();
  return &table;
}

}  // namespace llama2

#else

namespace llama2 {
const Kernels* kernels_neon_table() { return nullptr; }
}  // namespace llama2

#endif

// The AVX-512 kernel table: the vector kernels, then one line per weight
// type (the kernels are in kernels_avx512_*.cpp, kernels_avx512.hpp).
#include "kernels/kernels_avx512.hpp"

#if defined(__x86_64__)

namespace llama2 {

namespace {

Kernels make_table() {
  using namespace avx512;
  Kernels k = vector_table();
  // Weight types: {matvec, matvec_int8, matmat_int8}; the rest dequantize (ops.cpp).
  k.weight(WeightType::F32) = {matvec_f32};
  k.weight(WeightType::F16) = {matvec_f16};
  k.weight(WeightType::BF16) = {matvec_bf16};
  k.weight(WeightType::Q8_GROUP) = {matvec_q8_group};
  k.weight(WeightType::Q8_0) = {matvec_q8_0_f32, matvec_q8_0, matmat_q8_0};
  k.weight(WeightType::Q4_0) = {matvec_q4_0_f32, matvec_q4_0, matmat_q4_0};
  k.weight(WeightType::Q4_1) = {nullptr, matvec_q4_1, matmat_q4_1};
  k.weight(WeightType::Q5_0) = {nullptr, matvec_q5_0, matmat_q5_0};
  k.weight(WeightType::Q5_1) = {nullptr, matvec_q5_1, matmat_q5_1};
  k.weight(WeightType::Q2_K) = {nullptr, matvec_q2_k, matmat_q2_k};
  k.weight(WeightType::Q3_K) = {nullptr, matvec_q3_k, matmat_q3_k};
  k.weight(WeightType::Q4_K) = {matvec_q4_k_f32, matvec_q4_k, matmat_q4_k};
  k.weight(WeightType::Q5_K) = {nullptr, matvec_q5_k, matmat_q5_k};
  k.weight(WeightType::Q6_K) = {matvec_q6_k_f32, matvec_q6_k, matmat_q6_k};
  // The load layouts (Model::kernel_weights): Q4_K in 8-row tiles
  // (q4_k_x8.hpp), Q5_K / Q6_K in row pairs (row_pairs.hpp), Q4_0 and
  // Q8_0 in 16-row tiles (q_0_x16.hpp; not AVX2's 8-row Q4_0 ones, which
  // read here generated no faster than the file layout: bench/RESULTS.md,
  // fifteenth run).
  k.weight(WeightType::Q4_0_X16) = {nullptr, matvec_q4_0_x16, matmat_q4_0_x16};
  k.weight(WeightType::Q8_0_X16) = {nullptr, matvec_q8_0_x16, matmat_q8_0_x16};
  k.weight(WeightType::Q4_K_X8) = {nullptr, matvec_q4_k_x8, matmat_q4_k_x8};
  k.weight(WeightType::Q5_K_X2) = {nullptr, matvec_q5_k_x2, matmat_q5_k_x2};
  k.weight(WeightType::Q6_K_X2) = {nullptr, matvec_q6_k_x2, matmat_q6_k_x2};
  // The integer kernels need VNNI; without it (Skylake-X) the AVX2 ones serve.
  if (!cpu_features().avx512vnni) {
    const Kernels& avx2 = *kernels_avx2_table();
    for (std::size_t t = 0; t < kWeightTypeCount; t++) {
      k.weights[t].matvec_int8 = avx2.weights[t].matvec_int8;
      k.weights[t].matmat_int8 = avx2.weights[t].matmat_int8;
    }
  }
  return k;
}

}  // namespace

const Kernels* kernels_avx512_table() {
  static const Kernels table = make_table();
  return &table;
}

}  // namespace llama2

#else

namespace llama2 {
const Kernels* kernels_avx512_table() { return nullptr; }
}  // namespace llama2

#endif

#include "llama2/tensor.hpp"

#include <cstdint>

#include "kernels/quants.hpp"

namespace llama2 {

std::string_view weight_type_name(WeightType type) {
  switch (type) {
    case WeightType::F32: return "F32";
    case WeightType::F16: return "F16";
    case WeightType::BF16: return "BF16";
    case WeightType::Q8_GROUP: return "Q8_GROUP (llama2.c int8)";
    case WeightType::Q8_0: return "Q8_0";
    case WeightType::Q4_0: return "Q4_0";
    case WeightType::Q4_1: return "Q4_1";
    case WeightType::Q5_0: return "Q5_0";
    case WeightType::Q5_1: return "Q5_1";
    case WeightType::Q2_K: return "Q2_K";
    case WeightType::Q3_K: return "Q3_K";
    case WeightType::Q4_K: return "Q4_K";
    case WeightType::Q5_K: return "Q5_K";
    case WeightType::Q6_K: return "Q6_K";
  }
  return "unknown";
}

void dequantize_row(const Tensor& t, std::size_t row, float* out) {
  if (t.type == WeightType::Q8_GROUP) {
    // Groups run over the flattened matrix, so a row may start mid-group.
    const std::int8_t* q = static_cast<const std::int8_t*>(t.data) + row * t.cols;
    const std::size_t gs = std::size_t(t.group_size);
    const std::size_t first = row * t.cols;
    for (std::size_t j = 0; j < t.cols; j++) out[j] = float(q[j]) * t.scales[(first + j) / gs];
    return;
  }
  const std::uint8_t* base = static_cast<const std::uint8_t*>(t.data) + row * row_bytes(t.type, t.cols);
  dequantize_blocks(t.type, base, out, t.cols);
}

}  // namespace llama2

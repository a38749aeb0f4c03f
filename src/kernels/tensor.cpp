#include "llama2/tensor.hpp"

#include <cstdint>

#include "kernels/kernels.hpp"
#include "kernels/quants.hpp"

namespace llama2 {

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

WeightRows weight_rows(const Tensor& t) {
  // Q8_GROUP: one int8 per value, the scales stored apart.
  if (t.type == WeightType::Q8_GROUP) return {t.data, t.cols, t.cols, t.scales, std::size_t(t.group_size)};
  return {t.data, row_bytes(t.type, t.cols), t.cols, nullptr, 0};
}

}  // namespace llama2

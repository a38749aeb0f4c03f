// Repacking K-quant rows into pairs (row_pairs.hpp has the layout).
#include "kernels/row_pairs.hpp"

#include <cstring>

namespace llama2 {

void repack_row_pairs(const void* src, void* dst, std::size_t rows, std::size_t row_bytes, std::size_t block_bytes,
                      std::size_t r0, std::size_t r1) {
  const auto* in = static_cast<const std::uint8_t*>(src);
  auto* out = static_cast<std::uint8_t*>(dst);
  const std::size_t nb = row_bytes / block_bytes, pairs = paired_rows(rows), pairs_end = r1 < pairs ? r1 : pairs;
  for (std::size_t r = r0; r < pairs_end; r += 2) {
    const std::uint8_t* a = in + r * row_bytes;  // the pair's rows in the file: a, then a + row_bytes
    std::uint8_t* pair = out + r * row_bytes;
    for (std::size_t b = 0; b < nb; b++) {
      std::memcpy(pair + 2 * b * block_bytes, a + b * block_bytes, block_bytes);
      std::memcpy(pair + (2 * b + 1) * block_bytes, a + row_bytes + b * block_bytes, block_bytes);
    }
  }
  const std::size_t copy_from = r0 > pairs ? r0 : pairs;
  if (r1 > copy_from) std::memcpy(out + copy_from * row_bytes, in + copy_from * row_bytes, (r1 - copy_from) * row_bytes);
}

}  // namespace llama2

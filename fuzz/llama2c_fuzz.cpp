// libFuzzer target: the llama2.c checkpoint reader (v0, v1, v2).
#include <cstdint>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace llama2;
  if (size == 0 || (size >= 4 && data[0] == 'G' && data[1] == 'G' && data[2] == 'U' && data[3] == 'F')) return 0;
  fuzz::load_model(data, size, ".bin");
  return 0;
}

// What the CPU we run on can do, asked once at run time, so that one binary
// built for plain x86-64 still uses AVX2 or AVX-512 where they exist.
#pragma once

#include <string_view>

namespace llama2 {

// Instruction sets with a kernel table (kernels.hpp), weakest first.
enum class Isa { SCALAR, NEON, AVX2, AVX512 };

// "scalar", "neon", "avx2", "avx512"
std::string_view isa_name(Isa isa);

struct CpuFeatures {
  bool avx2 = false;       // with FMA and F16C: the AVX2 kernels need all three
  bool fma = false;
  bool f16c = false;
  bool avx_vnni = false;   // VEX vpdpbusd (Alder Lake, Zen 5)
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;
  bool neon = false;       // aarch64 Advanced SIMD (always there on aarch64)
  bool neon_dotprod = false;
};

// The features of this CPU (and OS: AVX-512 state must be enabled).
const CpuFeatures& cpu_features();

// Whether this CPU can run the kernels compiled for `isa`.
bool isa_supported(Isa isa);

}  // namespace llama2

// Overflow-checked size arithmetic for sizes read from untrusted files.
#pragma once

#include <cstddef>
#include <string>

#include "llama2/error.hpp"

namespace llama2 {

// a * b, or llama2::Error("<what>: size overflows") if it does not fit in size_t.
inline std::size_t checked_mul(std::size_t a, std::size_t b, const std::string& what) {
  std::size_t r;
  if (__builtin_mul_overflow(a, b, &r)) throw Error(what + ": size overflows 64 bits");
  return r;
}

inline std::size_t checked_add(std::size_t a, std::size_t b, const std::string& what) {
  std::size_t r;
  if (__builtin_add_overflow(a, b, &r)) throw Error(what + ": size overflows 64 bits");
  return r;
}

}  // namespace llama2

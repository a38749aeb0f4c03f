// The one exception type the library throws on bad input.
//
// Its message says what was wrong and where: the file, the field or offset,
// the value found and what was expected, e.g.
//   "model.bin: header field n_heads = 0, expected a positive number"
// The library never calls exit() or abort() on bad input; programs in tools/
// catch llama2::Error, print what() on one line of stderr and exit non-zero.
#pragma once

#include <stdexcept>
#include <string>

namespace llama2 {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace llama2

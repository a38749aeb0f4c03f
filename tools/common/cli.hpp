// Helpers shared by the programs in tools/: strict number parsing for flags
// and the one way every program reports errors.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace llama2::cli {

// Bad command-line usage (unknown flag, missing or malformed value). Programs
// print it with a usage hint and exit 2; llama2::Error exits 1.
struct UsageError {
  std::string message;
};

// Whole-string conversions; throw UsageError("FLAG: expected ..., got 'VALUE'").
int parse_int(std::string_view flag, std::string_view value);
long long parse_int64(std::string_view flag, std::string_view value);
float parse_float(std::string_view flag, std::string_view value);
// parse_int, and at least `min`; else UsageError("FLAG: expected EXPECTED, got 'VALUE'").
int parse_int_at_least(std::string_view flag, std::string_view value, int min, std::string_view expected);

// Steps through argv: `next_value(flag)` returns the value after a flag or
// throws UsageError("FLAG needs a value").
class Args {
 public:
  Args(int argc, char** argv) : argc_(argc), argv_(argv) {}
  bool done() const { return i_ >= argc_; }
  std::string_view next() { return argv_[i_++]; }
  std::string_view next_value(std::string_view flag);

 private:
  int argc_;
  char** argv_;
  int i_ = 1;
};

// Runs body(); prints a UsageError as the one line
//   "PROGRAM: message (see 'PROGRAM --help')"   and returns 2,
// llama2::Error and other exceptions as "PROGRAM: error: message" and returns 1.
int run_main(const char* program, const std::function<int()>& body);

}  // namespace llama2::cli

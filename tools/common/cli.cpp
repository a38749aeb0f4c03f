#include "cli.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>

#include "llama2/error.hpp"

namespace llama2::cli {

namespace {

UsageError bad_value(std::string_view flag, std::string_view expected, std::string_view value) {
  return UsageError{std::string(flag) + ": expected " + std::string(expected) + ", got '" + std::string(value) + "'"};
}

}  // namespace

long long parse_int64(std::string_view flag, std::string_view value) {
  std::string s(value);
  if (s.empty()) throw bad_value(flag, "an integer", value);
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end != s.c_str() + s.size()) throw bad_value(flag, "an integer", value);
  return v;
}

int parse_int(std::string_view flag, std::string_view value) {
  long long v = parse_int64(flag, value);
  if (v < -2147483647LL || v > 2147483647LL) throw bad_value(flag, "an integer in the 32-bit range", value);
  return static_cast<int>(v);
}

int parse_int_at_least(std::string_view flag, std::string_view value, int min, std::string_view expected) {
  int v = parse_int(flag, value);
  if (v < min) throw bad_value(flag, expected, value);
  return v;
}

float parse_float(std::string_view flag, std::string_view value) {
  std::string s(value);
  if (s.empty()) throw bad_value(flag, "a number", value);
  char* end = nullptr;
  errno = 0;
  float v = std::strtof(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || !std::isfinite(v)) throw bad_value(flag, "a number", value);
  return v;
}

std::string_view Args::next_value(std::string_view flag) {
  if (i_ >= argc_) throw UsageError{std::string(flag) + " needs a value"};
  return argv_[i_++];
}

int run_main(const char* program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s: %s (see '%s --help')\n", program, e.message.c_str(), program);
    return 2;
  } catch (const llama2::Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "%s: error: out of memory\n", program);
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return 1;
  }
}

}  // namespace llama2::cli

// Checking that a call throws llama2::Error, and what its message says.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "llama2/error.hpp"

namespace llama2::test {

// The message of the llama2::Error that f() throws; a test failure (and "")
// if it throws none. Another exception type propagates: gtest reports it.
template <typename F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected llama2::Error";
  return "";
}

// EXPECT that calling f() throws llama2::Error whose message contains `needle`.
template <typename F>
void expect_error(F&& f, const std::string& needle) {
  try {
    f();
    FAIL() << "expected llama2::Error containing \"" << needle << "\"";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

}  // namespace llama2::test

// EXPECT that calling f() throws llama2::Error whose message contains `needle`.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "llama2/error.hpp"

namespace llama2::test {

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

// libFuzzer target: the strict JSON reader (src/formats/json.cpp) on any
// text, then every accessor on every value of the tree it returns.
//
// A llama2::Error is a correct answer; a crash, a sanitizer report, another
// exception or a hang is a bug.
#include <cstdint>
#include <string_view>

#include "formats/json.hpp"
#include "llama2/error.hpp"

namespace {

using namespace llama2;

// Calls every accessor; each either answers or throws llama2::Error.
std::size_t walk(const json::Value& v, int depth) {
  std::size_t n = v.describe().size();
  auto tolerant = [&](auto&& f) {
    try {
      f();
    } catch (const Error&) {
      n++;
    }
  };
  tolerant([&] { n += v.as_bool("v") ? 1 : 0; });
  tolerant([&] { n += static_cast<std::size_t>(v.as_number("v") != 0.0); });
  tolerant([&] { n += static_cast<std::size_t>(v.as_int("v", -5, 1 << 20)); });
  tolerant([&] { n += v.as_string("v").size(); });
  tolerant([&] { n += v.at("key", "v").size(); });
  if (v.type() == json::Type::ARRAY) {
    for (const json::Value& item : v.as_array("v")) n += walk(item, depth + 1);
  }
  if (v.type() == json::Type::OBJECT) {
    const auto& keys = v.keys("v");
    const auto& values = v.values("v");
    if (keys.size() != values.size()) __builtin_trap();
    for (std::size_t i = 0; i < keys.size(); i++) {
      if (v.find(keys[i]) != &values[i]) __builtin_trap();  // keys are unique
      n += walk(values[i], depth + 1);
    }
  }
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  json::Limits limits;
  limits.max_depth = 32;
  try {
    const json::Value v = json::parse(text, "fuzz.json", limits);
    volatile std::size_t sink = walk(v, 0);
    (void)sink;
  } catch (const Error&) {
  }
  return 0;
}

// libFuzzer target: a saved session's file (src/session_state.cpp).
//
// The input is parsed as it is, then again with its checksum made right (so
// that the fuzzer reaches the checks behind it), and then loaded into a
// session of a tiny model, which must refuse it or continue from it.
#include <cstdint>
#include <vector>

#include "fuzz_common.hpp"
#include "fuzz_models.hpp"
#include "llama2/error.hpp"
#include "llama2/session.hpp"
#include "session_state.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace llama2;
  std::vector<std::uint8_t> bytes(data, data + size);
  try {
    parse_session_state(bytes, "fuzz");
  } catch (const Error&) {
  }
  if (bytes.size() < 8) return 0;
  const std::uint64_t sum = fnv1a(std::span<const std::uint8_t>(bytes).first(bytes.size() - 8));
  for (int i = 0; i < 8; i++) bytes[bytes.size() - 8 + std::size_t(i)] = std::uint8_t(sum >> (8 * i));
  try {
    const fuzz::TinyEngine& e = fuzz::tiny_engine();
    SessionParams p;
    p.n_threads = 1;
    Session s(e.model, e.tokenizer, p);
    s.load(fuzz::write_input(bytes.data(), bytes.size(), ".session"));
    if (!s.tokens().empty()) s.generate({.max_tokens = 2}, [](int, std::string_view) { return true; });
  } catch (const Error&) {
  }
  return 0;
}

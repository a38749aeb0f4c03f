// libFuzzer target: a Hugging Face folder through Model::load — the
// safetensors header (and the JSON reader under it) and config.json.
//
// Input: uint16 n (little-endian), n bytes of config.json, the rest is
// model.safetensors; both go into a per-process folder. The safetensors
// bytes are also read on their own (SafetensorsFile). Every weight row the
// model points to is touched, so a tensor outside its mapping is caught.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "formats/safetensors.hpp"
#include "fuzz_common.hpp"
#include "llama2/error.hpp"
#include "llama2/model.hpp"

namespace {

void write(const std::string& path, const std::uint8_t* data, std::size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) __builtin_trap();
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace llama2;
  if (size < 2) return 0;
  std::size_t n = std::size_t(data[0]) | (std::size_t(data[1]) << 8);
  if (n > size - 2) n = size - 2;
  static const std::string dir = [] {
    const char* base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    std::string d = std::string(base) + "/llama2_fuzz_hf_" + std::to_string(getpid());
    std::filesystem::create_directories(d);
    return d;
  }();
  write(dir + "/config.json", data + 2, n);
  write(dir + "/model.safetensors", data + 2 + n, size - 2 - n);
  try {
    SafetensorsFile f(std::make_shared<MappedFile>(dir + "/model.safetensors"));
    volatile std::size_t sink = 0;
    for (const SafetensorsTensor& t : f.tensors()) {
      if (t.n_bytes) sink = sink + t.data[0] + t.data[t.n_bytes - 1];
    }
    (void)sink;
  } catch (const Error&) {
  }
  try {
    Model m = Model::load(dir);
    volatile float sink = fuzz::touch_weights(m);
    (void)sink;
  } catch (const Error&) {
  }
  return 0;
}

// A tiny model and tokenizer built once per process, for the targets that
// need an engine (session state, compress -d), and for their seeds.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>

#include "llama2/model.hpp"
#include "llama2/tokenizer.hpp"
#include "support/synthetic_model.hpp"

namespace llama2::fuzz {

// The fingerprints compress_fuzz and its seeds give the tiny engine's streams.
constexpr std::uint64_t kTinyModelFingerprint = 0x6d6f64656cull, kTinyTokenizerFingerprint = 0x746f6bull;

struct TinyEngine {
  std::shared_ptr<const Model> model;
  std::shared_ptr<const Tokenizer> tokenizer;
};

// dim 32, 1 layer, 4 heads (2 kv heads), context 16, and a 300-piece
// vocabulary with byte tokens (write_tokenizer_bin).
inline const TinyEngine& tiny_engine() {
  static const TinyEngine engine = [] {
    const std::string dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    const std::string base = dir + "/llama2_fuzz_tiny_" + std::to_string(getpid());
    const Config c = test::make_config(32, 64, 1, 4, 2, test::vocab300::kVocab, 16, false);
    test::write_llama2c_v0(base + ".bin", test::make_weights(c, 3));
    test::write_tokenizer_bin(base + ".tok", test::vocab300::kVocab);
    TinyEngine e{std::make_shared<const Model>(Model::load(base + ".bin")),
                 std::make_shared<const Tokenizer>(Tokenizer::load(base + ".tok"))};
    unlink((base + ".tok").c_str());  // the model stays mapped; its file may go
    unlink((base + ".bin").c_str());
    return e;
  }();
  return engine;
}

}  // namespace llama2::fuzz

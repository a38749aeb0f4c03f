// Converting and quantizing a model: what build/quantize does, for programs
// that embed the library.
#pragma once

#include <string>
#include <vector>

#include "llama2/model.hpp"
#include "llama2/tensor.hpp"
#include "llama2/tokenizer.hpp"

namespace llama2 {

// Writes `model` with tokenizer `vocab` as a llama.cpp-compatible GGUF:
// general.architecture = "llama", the llama.* hyperparameters, the
// tokenizer.ggml.* vocabulary and llama.cpp's tensor names. Matrices are
// stored as `type` (F32, F16, BF16, Q8_0 or Q4_0), norm weights as F32. As
// llama.cpp's quantize does, token_embd takes `type` too, and a separate
// classifier (output.weight) of a Q4_0 file is kept at higher precision
// (Q8_0: llama.cpp would use Q6_K, which we do not write yet). A matrix whose
// rows are not a multiple of 32 falls back to F16. Returns one line per
// tensor ("name type shape") for the caller to print. Throws llama2::Error.
std::vector<std::string> write_llama_gguf(const Model& model, const Vocab& vocab, WeightType type,
                                          const std::string& path);

}  // namespace llama2

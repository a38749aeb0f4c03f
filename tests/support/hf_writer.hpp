// Hugging Face checkpoints written by the tests: safetensors files byte by
// byte (valid or deliberately broken) and whole HF folders from synthetic
// weights.
//
// Shares no code with src/formats/safetensors.cpp or json.cpp, so a reader
// bug cannot be hidden by the same bug in the writer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "support/synthetic_model.hpp"

namespace llama2::test {

using StBytes = std::vector<std::uint8_t>;

class SafetensorsBuilder {
 public:
  struct Entry {
    std::string name;
    std::string dtype;                  // "F32", "F16", "BF16", or anything (tests of refusals)
    std::vector<std::uint64_t> shape;
    StBytes data;
    // [begin, end] written in the header instead of the true ones.
    std::optional<std::pair<std::uint64_t, std::uint64_t>> offsets;
  };

  // A tensor holding `data` as they are.
  SafetensorsBuilder& raw(const std::string& name, const std::string& dtype, std::vector<std::uint64_t> shape,
                          StBytes data);
  // A tensor of floats stored as dtype "F32", "F16" or "BF16" (rounded to nearest even).
  SafetensorsBuilder& floats(const std::string& name, const std::string& dtype, std::vector<std::uint64_t> shape,
                             const float* values);
  std::vector<Entry> entries;
  std::vector<std::pair<std::string, std::string>> metadata{{"format", "pt"}};

  std::optional<std::string> header_text;      // written instead of the generated header
  std::optional<std::uint64_t> header_length;  // written instead of the true length
  bool pad_header = true;                      // pad the header with spaces to a multiple of 8

  // The generated header (before padding).
  std::string header() const;
  StBytes bytes() const;
  void write(const std::string& path) const;
};

// "F32", "F16", "BF16": `v` rounded to that type and back (exact in it).
float round_to_dtype(float v, const std::string& dtype);
// Every weight of `w` rounded to `dtype` (so that an fp32 copy holds the same values).
SyntheticWeights round_weights(const SyntheticWeights& w, const std::string& dtype);

struct HfFolderOptions {
  std::string dtype = "F32";  // of every tensor
  int n_shards = 1;           // > 1: model-0000K-of-0000N.safetensors + index
  bool write_config = true;
  bool write_inv_freq = false;  // old exports' rotary_emb.inv_freq tensors
  std::string extra_config;     // appended to config.json's members, e.g. R"("rope_scaling": null)"
};

// HF's permutation of wq/wk rows, head by head: HF row (h, e * half + j) =
// Meta row (h, 2j + e), for e in {0, 1}, j < half = head_size / 2. `rows`
// is (n_heads * head_size, cols).
std::vector<float> hf_permute(const float* rows, int n_heads, int head_size, std::size_t cols);

// An HF Llama folder in `dir` (created) holding `w` (llama2.c's layout and
// order): config.json, model.safetensors or shards + index, q/k permuted
// as HF's converter does. Writes lm_head.weight unless the config is tied.
void write_hf_folder(const std::string& dir, const SyntheticWeights& w, const HfFolderOptions& options = {});

// config.json for `c` (+ `extra` members).
std::string hf_config_json(const Config& c, const std::string& extra = "");

}  // namespace llama2::test

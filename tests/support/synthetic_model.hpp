// Synthetic models the tests write themselves: random weights of any shape,
// written in each checkpoint format, with the fp32 master copy kept so an
// independent reference can run the same numbers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "llama2/config.hpp"
#include "support/temp_dir.hpp"  // where the tests write these files

namespace llama2::test {

// Every tensor in llama2.c's layout and naming, fp32, all layers concatenated.
struct SyntheticWeights {
  Config config;
  std::vector<float> token_embedding;  // (vocab_size, dim)
  std::vector<float> rms_att;          // (n_layers, dim)
  std::vector<float> wq;               // (n_layers, dim, dim)
  std::vector<float> wk;               // (n_layers, kv_dim, dim)
  std::vector<float> wv;               // (n_layers, kv_dim, dim)
  std::vector<float> wo;               // (n_layers, dim, dim)
  std::vector<float> rms_ffn;          // (n_layers, dim)
  std::vector<float> w1;               // (n_layers, hidden_dim, dim)
  std::vector<float> w2;               // (n_layers, dim, hidden_dim)
  std::vector<float> w3;               // (n_layers, hidden_dim, dim)
  std::vector<float> rms_final;        // (dim)
  std::vector<float> wcls;             // (vocab_size, dim); == token_embedding if shared
};

// A Config from the seven sizes of a llama2.c header, in the file's order,
// and whether the classifier reuses the token embedding table.
Config make_config(int dim, int hidden_dim, int n_layers, int n_heads, int n_kv_heads, int vocab_size, int seq_len,
                   bool shared_classifier);

// A small config: dim 48, hidden 100, 3 layers, 6 heads, 3 kv heads (GQA),
// vocab 67, seq_len 40, separate classifier. Odd sizes on purpose.
Config small_config();

// Deterministic random weights: matrices ~ U(-scale, scale) * (1/sqrt(cols))
// so activations stay O(1); norm weights around 1.
SyntheticWeights make_weights(const Config& config, std::uint64_t seed);

// Writers. v2 quantizes with llama2.c's rule (per group: scale = max|w| / 127,
// q = round(w / scale)) and returns the dequantized weights the file holds.
void write_llama2c_v0(const std::string& path, const SyntheticWeights& w);
void write_llama2c_v1(const std::string& path, const SyntheticWeights& w);
SyntheticWeights write_llama2c_v2(const std::string& path, const SyntheticWeights& w, int group_size);

// A llama2.c tokenizer.bin with `vocab_size` pieces: <unk>, <s>, </s>, the 256
// byte pieces <0x00>..<0xFF> when vocab_size >= 259, then short letter pieces.
void write_tokenizer_bin(const std::string& path, int vocab_size);

// Ids in write_tokenizer_bin's vocabulary of 300: control tokens, <0xNN> at
// 3 + NN, then letter pieces "▁a" "b" "c" "▁d" "e" "f" ...
namespace vocab300 {
constexpr int kVocab = 300;
constexpr int kBos = 1, kEos = 2;
constexpr int kA = 259, kB = 260, kC = 261, kD = 262, kE = 263;  // "▁a" "b" "c" "▁d" "e"
constexpr int byte_id(int b) { return 3 + b; }
}  // namespace vocab300

// n token ids uniform in [0, vocab_size), deterministic in seed.
std::vector<int> random_tokens(int vocab_size, std::size_t n, std::uint64_t seed);

}  // namespace llama2::test

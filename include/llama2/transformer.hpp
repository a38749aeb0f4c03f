// Transformer: a Model plus the activations (RunState) and KV cache needed to
// run it, and forward(), the one function that turns a token into logits.
#pragma once

#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "llama2/kv_cache.hpp"
#include "llama2/model.hpp"
#include "llama2/thread_pool.hpp"

namespace llama2 {

class ForwardObserver;  // forward_observer.hpp

// The "wave of activations" of one forward pass, and the KV cache.
struct RunState {
  std::vector<float> x;        // (dim) residual stream
  std::vector<float> xb;       // (dim) x after rmsnorm; attention output
  std::vector<float> xb2;      // (dim) attention or FFN output before the residual add
  std::vector<float> hb;       // (hidden_dim) FFN gate
  std::vector<float> hb2;      // (hidden_dim) FFN up
  std::vector<float> q;        // (dim) query of the current position
  std::vector<float> k;        // (kv_dim) key of the current position
  std::vector<float> v;        // (kv_dim) value of the current position
  std::vector<float> att;      // (n_heads, seq_len) attention scores
  std::vector<float> logits;   // (vocab_size) output
  // Keys and values of every position seen so far: (n_layers, n_kv_heads,
  // seq_len, head_size), one head's rows contiguous (kv_cache.hpp).
  KvCache kv;

  RunState(const Config& c, KvType kv_type);
};

// The activations of a batch of prompt tokens (forward_batch): the RunState
// vectors with one row per token. Allocated on first use.
struct BatchState {
  std::size_t capacity = 0;  // tokens per batch the buffers hold
  std::vector<float> x;      // (capacity, dim) residual stream
  std::vector<float> xb;     // (capacity, dim)
  std::vector<float> xb2;    // (capacity, dim)
  std::vector<float> hb;     // (capacity, hidden_dim)
  std::vector<float> hb2;    // (capacity, hidden_dim)
  std::vector<float> q;      // (capacity, dim)
  std::vector<float> k;      // (capacity, kv_dim)
  std::vector<float> v;      // (capacity, kv_dim)
  std::vector<float> att;    // (n_threads, attention_batch_scratch(seq_len, head_size)) per-thread attention scratch
  std::vector<float> kv_f32;  // (n_threads, 2, seq_len, head_size) one head's keys and values as fp32 (F16 cache)
  std::vector<float> logits;  // (n_tokens, vocab_size) forward_batch_all's output
};

class Transformer {
 public:
  // n_threads <= 0: one per hardware core. context > 0 caps the context
  // (and the KV cache) below the model's seq_len; 0 keeps the model's.
  // kv_type: the KV cache's element type (F16 halves its memory and the
  // bytes attention reads; F32, the default, is exact).
  // Throws llama2::Error if the KV cache would not fit in physical memory.
  explicit Transformer(Model model, int n_threads = 0, int context = 0, KvType kv_type = KvType::F32);
  // Shares a loaded model: the weights are immutable, so any number of
  // Transformers (each with its own activations and KV cache) may run one
  // model at once, one thread each (mapped once, in memory once).
  explicit Transformer(std::shared_ptr<const Model> model, int n_threads = 0, int context = 0,
                       KvType kv_type = KvType::F32);
  // Loads the model at `path` (any supported format).
  explicit Transformer(const std::string& path, int n_threads = 0, int context = 0, KvType kv_type = KvType::F32);

  // The model's config, with seq_len = the context this Transformer runs.
  const Config& config() const { return config_; }
  const Model& model() const { return *model_; }
  const std::shared_ptr<const Model>& shared_model() const { return model_; }
  int n_threads() const { return pool_->size(); }
  KvType kv_type() const { return s_.kv.type(); }
  // The KV cache, for saving and restoring a session's state (session.cpp).
  KvCache& kv_cache() { return s_.kv; }
  const KvCache& kv_cache() const { return s_.kv; }

  // Runs `token` at position `pos` (0-based) and returns the logits for the
  // next token (vocab_size values, valid until the next call). Positions
  // before `pos` must have been run already; they are read from the KV cache.
  // Throws llama2::Error if token or pos is out of range.
  std::span<const float> forward(int token, int pos);

  // Runs tokens at positions pos0, pos0 + 1, ... as one batch (matrix-matrix
  // products, causal attention within the batch) and returns the logits after
  // the last token, as forward() on each token in turn would (within float
  // rounding). Throws llama2::Error if a token or position is out of range.
  std::span<const float> forward_batch(std::span<const int> tokens, int pos0);

  // forward_batch, but returns the logits after EVERY token of the batch:
  // (tokens.size(), vocab_size) row-major, row i predicting the token after
  // tokens[i] (what perplexity scores). Valid until the next call. Row
  // tokens.size() - 1 has the same bits forward_batch would return.
  std::span<const float> forward_batch_all(std::span<const int> tokens, int pos0);

  // Shows every layer of every later forward* call to `observer` (its
  // residual stream and attention weights, forward_observer.hpp); nullptr,
  // the default, stops. The observer must outlive its use.
  void set_observer(ForwardObserver* observer) { observer_ = observer; }

 private:
  std::span<const float> run_prompt(std::span<const int> tokens, int pos0, bool all_logits);

  std::shared_ptr<const Model> model_;  // shared by every Transformer that runs it
  Config config_;
  RunState s_;
  BatchState batch_;
  std::unique_ptr<ThreadPool> pool_;
  ForwardObserver* observer_ = nullptr;
};

// The instruction set the kernels use on this CPU: "avx512+amx" (AMX tiles
// for the batched int8 GEMM; LLAMA2_AMX=0 turns them off), "avx512", "avx2",
// "neon" or "scalar" (the environment variable LLAMA2_ISA may cap it).
std::string_view kernel_isa_name();

}  // namespace llama2

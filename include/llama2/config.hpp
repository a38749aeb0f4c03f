// Config: the blueprint of a Llama-2 transformer, read from the model file.
// Everything here is runtime data; no kernel or buffer is sized at compile time.
#pragma once

namespace llama2 {

// How RoPE pairs the dimensions of a head. Both are the same rotation; they
// differ in the order of q's and k's rows in the weights, so the pairing is
// a property of the checkpoint, not of the model:
enum class RopeStyle : unsigned char {
  INTERLEAVED,  // Meta, llama2.c, GGUF: pairs (2i, 2i + 1)
  ROTATE_HALF,  // Hugging Face (GPT-NeoX style): pairs (i, i + head_size / 2);
                // HF's converter permuted wq/wk rows into this order
};

struct Config {
  int dim = 0;          // transformer dimension (width of the residual stream)
  int hidden_dim = 0;   // width of the SwiGLU feed-forward layer
  int n_layers = 0;     // number of transformer blocks
  int n_heads = 0;      // number of query heads
  int n_kv_heads = 0;   // number of key/value heads (< n_heads: grouped-query attention)
  int vocab_size = 0;   // number of tokens
  int seq_len = 0;      // maximum sequence length (context)
  float rope_theta = 10000.0f;  // RoPE base frequency (Code Llama: 1e6)
  float norm_eps = 1e-5f;       // RMSNorm epsilon
  bool shared_classifier = true;  // classifier reuses the token embedding table
  RopeStyle rope_style = RopeStyle::INTERLEAVED;  // which dimensions RoPE rotates together

  int head_size() const { return dim / n_heads; }
  int kv_dim() const { return head_size() * n_kv_heads; }
  int kv_mul() const { return n_heads / n_kv_heads; }  // query heads per kv head
};

}  // namespace llama2

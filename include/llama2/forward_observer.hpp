// ForwardObserver: a window into a forward pass, for tools that show what a
// model does inside (trace: the logit lens and the attention maps).
//
// A Transformer with an observer set (Transformer::set_observer) calls
// on_layer once per layer per position, after the layer's feed-forward
// residual add, from forward() and from forward_batch / forward_batch_all
// alike. Without one, the cost is one predictable null-pointer test per
// layer: nothing is copied or computed for observation.
#pragma once

#include <cstddef>
#include <span>

namespace llama2 {

// What one layer did at one position. Valid only during the call.
struct LayerObservation {
  int layer = 0;  // 0-based
  int pos = 0;    // the position that was run (0-based)
  // (dim) the residual stream x after the layer: what the next layer reads,
  // and, after the last layer, what the final norm and the classifier read.
  std::span<const float> residual;
  // (n_heads, att_stride) attention weights: head h's softmax over positions
  // 0..pos is att[h * att_stride + 0 .. pos] (each row sums to 1; query head
  // h reads kv head h / (n_heads / n_kv_heads)).
  const float* att = nullptr;
  std::size_t att_stride = 0;
};

class ForwardObserver {
 public:
  virtual ~ForwardObserver() = default;
  // Called on the thread that called forward*, positions of one layer in
  // increasing order. May throw; the exception leaves the forward call.
  virtual void on_layer(const LayerObservation& observation) = 0;
};

}  // namespace llama2

// An independent reference forward pass for the transformer tests.
//
// Written from the Llama-2 math in double precision, sharing no code with
// src/: the engine's float logits are checked against it. It is slow and
// plain on purpose (no KV-cache layout tricks, no threads).
#pragma once

#include <vector>

#include "support/synthetic_model.hpp"

namespace llama2::test {

// Teacher-forced logits: feeds tokens[0], tokens[1], ... at positions 0, 1, ...
// and returns the logits after each one: (tokens.size(), vocab_size).
// Uses w.config (dim, heads, rope_theta, norm_eps; seq_len is not a limit here).
//
// With round_activations, the input of every matmul (q, k, v, wo, w1, w3, w2
// and the classifier) is first rounded as the engine's int8 path rounds it
// for GGUF quantized weights (kernels.hpp, BlockQ8x32): per block of 32
// values, d = max|x| / 127 and x -> d * round(x / d), ties to even; here in
// double, from the reference's own activations.
std::vector<std::vector<double>> reference_logits(const SyntheticWeights& w, const std::vector<int>& tokens,
                                                  bool round_activations = false);

}  // namespace llama2::test

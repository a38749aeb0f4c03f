// The setup of every load-layout model test (Q4_0 tiles, Q4_K tiles, K-type
// row pairs): one model file loaded twice, once with LLAMA2_REPACK=0 (every
// matrix read as in the file) and once as a user loads it (repacked where
// this CPU's kernels read a load layout), and the check of which layout
// each matrix got.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "kernels/kernels.hpp"
#include "kernels/weight_types.hpp"
#include "llama2/model.hpp"
#include "llama2/transformer.hpp"
#include "ops.hpp"

namespace llama2::test {

// A Transformer (2 threads) on `path`, its matrices repacked at load or not.
inline Transformer load_repacked(const std::string& path, bool repack) {
  if (!repack) ::setenv("LLAMA2_REPACK", "0", 1);
  struct Unset {
    ~Unset() { ::unsetenv("LLAMA2_REPACK"); }
  } unset;
  return Transformer(path, 2);
}

struct LoadedTwice {
  explicit LoadedTwice(const std::string& path)
      : file_layout(load_repacked(path, false)), repacked(load_repacked(path, true)) {}
  Transformer file_layout;  // LLAMA2_REPACK=0
  Transformer repacked;     // the default
};

// The layout this CPU's kernels read a matrix of type t in: the first of
// its load layouts the kernel table has kernels for, when the activations
// are rounded to 8 bits, else t.
inline WeightType layout_read_here(WeightType t) {
  if (!int8_activations()) return t;
  return first_load_layout(t, [](WeightType to) { return kernels().weight(to).matvec_int8 != nullptr; });
}

// Expects each matrix `m.repacked` multiplies by to be in layout(its type in
// the file), the token embedding (read by rows) never repacked, and
// `m.file_layout` to read every matrix as in the file, whose view
// (Model::weights) stays as it was. Returns how many matrices changed layout.
template <class Layout>
int expect_layouts(const LoadedTwice& m, Layout layout) {
  const Weights& in_file = m.repacked.model().weights();
  const Weights& got = m.repacked.model().kernel_weights();
  const Weights& unrepacked = m.file_layout.model().kernel_weights();
  int changed = 0;
  for (std::size_t i = 0; i < got.layers.size(); i++) {
    const LayerWeights& g = got.layers[i];
    const LayerWeights& f = in_file.layers[i];
    const LayerWeights& u = unrepacked.layers[i];
    const Tensor* got_m[] = {&g.wq, &g.wk, &g.wv, &g.wo, &g.w1, &g.w2, &g.w3};
    const Tensor* file_m[] = {&f.wq, &f.wk, &f.wv, &f.wo, &f.w1, &f.w2, &f.w3};
    const Tensor* unrepacked_m[] = {&u.wq, &u.wk, &u.wv, &u.wo, &u.w1, &u.w2, &u.w3};
    for (int k = 0; k < 7; k++) {
      EXPECT_FALSE(is_load_layout(file_m[k]->type)) << "layer " << i << " matrix " << k;  // the file's view stays
      EXPECT_EQ(unrepacked_m[k]->type, file_m[k]->type) << "layer " << i << " matrix " << k;
      EXPECT_EQ(got_m[k]->type, layout(file_m[k]->type)) << "layer " << i << " matrix " << k;
      changed += got_m[k]->type != file_m[k]->type;
    }
  }
  EXPECT_EQ(got.token_embedding.type, in_file.token_embedding.type);
  EXPECT_EQ(got.wcls.type, layout(in_file.wcls.type));
  changed += got.wcls.type != in_file.wcls.type;
  return changed;
}

}  // namespace llama2::test

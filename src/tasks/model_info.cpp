// ModelInfo: parameter counts, bytes and per-token costs of a model.
//
// One pass adds up every tensor (part, type, rows, cols), whether the tensors
// come from a loaded Model or are imagined from a Config and a WeightLayout,
// so the two paths cannot disagree on what is counted.
#include "llama2/model_info.hpp"

#include "llama2/error.hpp"
#include "kernels/quants.hpp"

namespace llama2 {

std::uint64_t tensor_bytes(WeightType type, std::uint64_t rows, std::uint64_t cols, int group_size) {
  const std::uint64_t n = rows * cols;
  if (type == WeightType::Q8_GROUP) {
    if (group_size <= 0) throw Error("tensor_bytes: Q8_GROUP needs a positive group_size, got " + std::to_string(group_size));
    return n + n / std::uint64_t(group_size) * sizeof(float);
  }
  return rows * row_bytes(type, cols);
}

namespace {

enum class Part { EMBEDDING, ATTENTION, FFN, NORMS, CLASSIFIER };

class Accumulator {
 public:
  explicit Accumulator(ModelInfo& info) : info_(info) {}

  void add(Part part, WeightType type, std::uint64_t rows, std::uint64_t cols, int group_size) {
    const std::uint64_t n = rows * cols, bytes = tensor_bytes(type, rows, cols, group_size);
    switch (part) {
      case Part::EMBEDDING: info_.params.embedding += n; break;
      case Part::ATTENTION: info_.params.attention += n; break;
      case Part::FFN: info_.params.ffn += n; break;
      case Part::NORMS: info_.params.norms += n; info_.norm_bytes += bytes; break;
      case Part::CLASSIFIER: info_.params.classifier += n; break;
    }
    if (part == Part::ATTENTION || part == Part::FFN || part == Part::CLASSIFIER) {
      info_.matmul_params += n;
      info_.matmul_bytes += bytes;
    }
    if (part == Part::EMBEDDING) info_.embedding_row_bytes = bytes / rows;
    TypeBytes& t = info_.by_type[type];
    t.params += n;
    t.bytes += bytes;
    info_.weight_bytes += bytes;
  }

  // The shared classifier stores nothing more but is multiplied by every pass.
  void add_shared_classifier(WeightType type, std::uint64_t rows, std::uint64_t cols, int group_size) {
    info_.matmul_params += rows * cols;
    info_.matmul_bytes += tensor_bytes(type, rows, cols, group_size);
  }

 private:
  ModelInfo& info_;
};

}  // namespace

ModelInfo model_info(const Config& c, const WeightLayout& layout) {
  validate_config(c, "model_info");
  ModelInfo info;
  info.config = c;
  Accumulator acc(info);
  const std::uint64_t dim = c.dim, hidden = c.hidden_dim, q_dim = std::uint64_t(c.n_heads) * c.head_size(),
                      kv_dim = c.kv_dim(), vocab = c.vocab_size;
  const int gs = layout.group_size;
  acc.add(Part::EMBEDDING, layout.embedding, vocab, dim, gs);
  for (int l = 0; l < c.n_layers; l++) {
    acc.add(Part::NORMS, WeightType::F32, 1, dim, 0);
    acc.add(Part::ATTENTION, layout.attention, q_dim, dim, gs);   // wq
    acc.add(Part::ATTENTION, layout.attention, kv_dim, dim, gs);  // wk
    acc.add(Part::ATTENTION, layout.attention, kv_dim, dim, gs);  // wv
    acc.add(Part::ATTENTION, layout.attention, dim, q_dim, gs);   // wo
    acc.add(Part::NORMS, WeightType::F32, 1, dim, 0);
    acc.add(Part::FFN, layout.ffn, hidden, dim, gs);  // w1
    acc.add(Part::FFN, layout.ffn, dim, hidden, gs);  // w2
    acc.add(Part::FFN, layout.ffn, hidden, dim, gs);  // w3
  }
  acc.add(Part::NORMS, WeightType::F32, 1, dim, 0);
  if (c.shared_classifier) {
    acc.add_shared_classifier(layout.embedding, vocab, dim, gs);
  } else {
    acc.add(Part::CLASSIFIER, layout.classifier, vocab, dim, gs);
  }
  return info;
}

ModelInfo model_info(const Model& model) {
  const Config& c = model.config();
  const Weights& w = model.weights();
  ModelInfo info;
  info.config = c;
  Accumulator acc(info);
  auto add = [&](Part part, const Tensor& t) { acc.add(part, t.type, t.rows, t.cols, t.group_size); };
  add(Part::EMBEDDING, w.token_embedding);
  for (const LayerWeights& l : w.layers) {
    acc.add(Part::NORMS, WeightType::F32, 1, std::uint64_t(c.dim), 0);
    for (const Tensor* t : {&l.wq, &l.wk, &l.wv, &l.wo}) add(Part::ATTENTION, *t);
    acc.add(Part::NORMS, WeightType::F32, 1, std::uint64_t(c.dim), 0);
    for (const Tensor* t : {&l.w1, &l.w2, &l.w3}) add(Part::FFN, *t);
  }
  acc.add(Part::NORMS, WeightType::F32, 1, std::uint64_t(c.dim), 0);
  // Shared when the classifier is the very same table, whatever the header says.
  if (w.wcls.data == w.token_embedding.data) {
    acc.add_shared_classifier(w.wcls.type, w.wcls.rows, w.wcls.cols, w.wcls.group_size);
  } else {
    add(Part::CLASSIFIER, w.wcls);
  }
  return info;
}

double ModelInfo::flops_per_token(std::uint64_t t) const {
  const double attention = 4.0 * config.n_layers * config.n_heads * config.head_size() * double(t + 1);
  return 2.0 * double(matmul_params) + attention;
}

std::uint64_t ModelInfo::kv_bytes_per_token() const {
  return 2 * std::uint64_t(config.n_layers) * std::uint64_t(config.kv_dim()) * sizeof(float);
}

double ModelInfo::bytes_per_token(std::uint64_t t) const {
  return double(matmul_bytes) + double(embedding_row_bytes) + double(norm_bytes) +
         double(kv_bytes_per_token()) * double(t + 1);
}

}  // namespace llama2

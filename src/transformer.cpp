// The transformer forward pass: one token in, next-token logits out.
//
// forward() below is the whole model on one screen, in the order data flows:
// embedding -> n_layers x (attention block, feed-forward block) -> final norm
// -> classifier. The kernels it calls (matmul, rmsnorm, ...) are in ops.cpp.
#include "llama2/transformer.hpp"

#include <unistd.h>

#include <cmath>
#include <string>

#include "formats/checked_math.hpp"
#include "llama2/error.hpp"
#include "llama2/forward_observer.hpp"
#include "kernels/kernels.hpp"
#include "ops.hpp"

namespace llama2 {

// --- state -------------------------------------------------------------------------

RunState::RunState(const Config& c, KvType kv_type)
    : x(c.dim),
      xb(c.dim),
      xb2(c.dim),
      hb(c.hidden_dim),
      hb2(c.hidden_dim),
      q(c.dim),
      k(c.kv_dim()),
      v(c.kv_dim()),
      att(std::size_t(c.n_heads) * c.seq_len),
      logits(c.vocab_size),
      kv(c, kv_type) {}

namespace {

Config with_context(Config c, int context, KvType kv_type, const std::string& path) {
  if (context < 0) throw Error(path + ": context = " + std::to_string(context) + ", expected >= 0");
  if (context > 0 && context < c.seq_len) c.seq_len = context;
  // The KV cache is the one large allocation; refuse one that cannot fit.
  const std::size_t element = kv_type == KvType::F16 ? 2 : 4;
  std::size_t kv_bytes = checked_mul(checked_mul(2 * element, std::size_t(c.n_layers), path),
                                     checked_mul(std::size_t(c.seq_len), std::size_t(c.kv_dim()), path), path);
  long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page_size > 0 && kv_bytes / std::size_t(page_size) > std::size_t(pages)) {
    throw Error(path + ": the KV cache for seq_len = " + std::to_string(c.seq_len) + " needs " +
                std::to_string(kv_bytes >> 20) + " MiB, more than this machine's memory; use a smaller context");
  }
  return c;
}

// Multi-head attention of position `pos` over positions 0..pos of layer l's
// cache; head h reads kv head h / kv_mul (grouped-query attention).
void attention(RunState& s, const Config& p, std::size_t l, int pos, ThreadPool& pool) {
  const std::size_t hs = p.head_size(), seq = p.seq_len;
  pool.parallel_for(std::size_t(p.n_heads), [&](std::size_t h0, std::size_t h1, int) {
    for (std::size_t h = h0; h < h1; h++) {
      const std::size_t kv_head = h / std::size_t(p.kv_mul());
      const float* q = s.q.data() + h * hs;                                          // (head_size)
      float* att = s.att.data() + h * seq;                                           // (seq_len)
      float* out = s.xb.data() + h * hs;                                             // (head_size)
      attention_head(out, att, q, s.kv, l, kv_head, std::size_t(pos) + 1);  // softmax(q.k / sqrt(hs)) @ v
    }
  }, ThreadPool::grain_for(2 * (std::size_t(pos) + 1) * hs));
}

// Stores this position's k and v (kv_dim each) into the per-head cache rows.
void store_kv(RunState& s, const Config& p, std::size_t l, int pos) {
  const std::size_t hs = p.head_size();
  for (std::size_t h = 0; h < std::size_t(p.n_kv_heads); h++) {
    s.kv.store(l, h, std::size_t(pos), &s.k[h * hs], &s.v[h * hs]);
  }
}

}  // namespace

Transformer::Transformer(Model model, int n_threads, int context, KvType kv_type)
    : Transformer(std::make_shared<const Model>(std::move(model)), n_threads, context, kv_type) {}

Transformer::Transformer(std::shared_ptr<const Model> model, int n_threads, int context, KvType kv_type)
    : model_(model ? std::move(model) : throw Error("Transformer: no model (null shared_ptr)")),
      config_(with_context(model_->config(), context, kv_type, model_->path())),
      s_(config_, kv_type),
      pool_(std::make_unique<ThreadPool>(n_threads)) {
  // Only where the matvec kernels prefetch to (kernels.hpp) depends on it.
  set_weights_from_dram(!weights_fit_in_cache(model_->file_size()));
  model_->kernel_weights();  // any repacking at load, not in the first token
}

Transformer::Transformer(const std::string& path, int n_threads, int context, KvType kv_type)
    : Transformer(Model::load(path), n_threads, context, kv_type) {}

// --- forward -------------------------------------------------------------------------

std::span<const float> Transformer::forward(int token, int pos) {
  const Config& p = config_;
  if (token < 0 || token >= p.vocab_size) {
    throw Error("forward: token id " + std::to_string(token) + " is out of range [0, " + std::to_string(p.vocab_size) + ")");
  }
  if (pos < 0 || pos >= p.seq_len) {
    throw Error("forward: position " + std::to_string(pos) + " is outside the context [0, " + std::to_string(p.seq_len) + ")");
  }
  const Weights& w = model_->kernel_weights();
  RunState& s = s_;
  ThreadPool& pool = *pool_;
  const std::size_t dim = p.dim, hidden = p.hidden_dim;
  float* x = s.x.data();

  dequantize_row(w.token_embedding, std::size_t(token), x);  // x = embedding of the token

  for (std::size_t l = 0; l < std::size_t(p.n_layers); l++) {
    const LayerWeights& lw = w.layers[l];

    // attention block: x += wo @ attention(rope(wq @ norm(x)), cache)
    rmsnorm(s.xb.data(), x, lw.rms_att, dim, p.norm_eps);
    matmul(s.q.data(), s.xb.data(), lw.wq, pool);
    matmul(s.k.data(), s.xb.data(), lw.wk, pool);
    matmul(s.v.data(), s.xb.data(), lw.wv, pool);
    rope(s.q.data(), dim, p.head_size(), pos, p.rope_theta, p.rope_style);
    rope(s.k.data(), p.kv_dim(), p.head_size(), pos, p.rope_theta, p.rope_style);
    store_kv(s, p, l, pos);
    attention(s, p, l, pos, pool);
    matmul(s.xb2.data(), s.xb.data(), lw.wo, pool);
    for (std::size_t i = 0; i < dim; i++) x[i] += s.xb2[i];

    // feed-forward block (SwiGLU): x += w2 @ (silu(w1 @ norm(x)) * (w3 @ norm(x)))
    rmsnorm(s.xb.data(), x, lw.rms_ffn, dim, p.norm_eps);
    matmul(s.hb.data(), s.xb.data(), lw.w1, pool);
    matmul(s.hb2.data(), s.xb.data(), lw.w3, pool);
    for (std::size_t i = 0; i < hidden; i++) {
      float g = s.hb[i];
      s.hb[i] = g / (1.0f + std::exp(-g)) * s.hb2[i];
    }
    matmul(s.xb.data(), s.hb.data(), lw.w2, pool);
    for (std::size_t i = 0; i < dim; i++) x[i] += s.xb[i];

    if (observer_) observer_->on_layer({int(l), pos, {x, dim}, s.att.data(), std::size_t(p.seq_len)});  // trace
  }

  rmsnorm(x, x, w.rms_final, dim, p.norm_eps);
  matmul(s.logits.data(), x, w.wcls, pool);  // classifier into logits
  return {s.logits.data(), s.logits.size()};
}

// The kernel table in use, as bench and run print it.
std::string_view kernel_isa_name() {
  // The batched int8 GEMM runs on AMX tiles when it can (matmul_int8.cpp).
  if (kernels().isa == Isa::AVX512 && kernels_amx_table()) return "avx512+amx";
  return isa_name(kernels().isa);
}

}  // namespace llama2

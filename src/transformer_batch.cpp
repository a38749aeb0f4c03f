// forward_batch: a prompt as one batch. The same model as forward() in
// transformer.cpp, step for step, but every activation vector becomes a
// matrix with one row per token, so each weight matrix is read once per
// batch instead of once per token and the matmuls become matrix-matrix
// products (ops.cpp: matmul_batch). Attention is causal: token b of the batch
// sees the cache up to its own position pos0 + b. forward_batch_all also
// runs the final norm and classifier on every row, for perplexity.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "llama2/error.hpp"
#include "llama2/forward_observer.hpp"
#include "llama2/transformer.hpp"
#include "ops.hpp"

namespace llama2 {

namespace {

// Batch activations stay within this many bytes; longer prompts run in chunks.
constexpr std::size_t kBatchBytes = std::size_t(32) << 20;
constexpr std::size_t kMaxBatch = 512;

void reserve(BatchState& b, const Config& p, std::size_t n_tokens, int n_threads) {
  const std::size_t dim = p.dim, kv_dim = p.kv_dim(), hidden = p.hidden_dim;
  if (b.capacity >= n_tokens) return;
  b.capacity = n_tokens;
  b.x.assign(n_tokens * dim, 0.0f);
  b.xb.assign(n_tokens * dim, 0.0f);
  b.xb2.assign(n_tokens * dim, 0.0f);
  b.hb.assign(n_tokens * hidden, 0.0f);
  b.hb2.assign(n_tokens * hidden, 0.0f);
  b.q.assign(n_tokens * dim, 0.0f);
  b.k.assign(n_tokens * kv_dim, 0.0f);
  b.v.assign(n_tokens * kv_dim, 0.0f);
  b.att.assign(std::size_t(n_threads) * attention_batch_scratch(p.seq_len, p.head_size()), 0.0f);
}

// Runs fn(t) for every token t < n, tokens split across the pool (for the
// per-token steps between the matmuls: norms, RoPE, residuals).
template <typename Fn>
void for_each_token(ThreadPool& pool, std::size_t n, std::size_t work_per_token, Fn fn) {
  pool.parallel_for(
      n, [&](std::size_t t0, std::size_t t1, int) {
        for (std::size_t t = t0; t < t1; t++) fn(t);
      },
      ThreadPool::grain_for(work_per_token));
}

// Shows layer l of every token of the batch to an observer. The batched
// attention keeps no weights, so each token's are recomputed here from its
// query (b.q, still roped) and the cache, with forward()'s own kernel.
// Runs only when someone observes.
void observe_layer(ForwardObserver& observer, const Config& p, const RunState& s, const BatchState& b,
                   std::size_t l, std::size_t n, int pos0) {
  const std::size_t dim = p.dim, hs = p.head_size(), seq = p.seq_len;
  std::vector<float> att(std::size_t(p.n_heads) * seq);  // (n_heads, seq_len) as RunState::att
  std::vector<float> out(hs);                            // (head_size) attention output, unused
  for (std::size_t t = 0; t < n; t++) {
    const std::size_t pos = std::size_t(pos0) + t;
    for (std::size_t h = 0; h < std::size_t(p.n_heads); h++) {
      attention_head(out.data(), &att[h * seq], &b.q[t * dim + h * hs], s.kv, l, h / std::size_t(p.kv_mul()), pos + 1);
    }
    observer.on_layer({int(l), int(pos), {&b.x[t * dim], dim}, att.data(), seq});
  }
}

// Tokens [0, n) of the batch at positions pos0 .. pos0 + n - 1; leaves the
// final hidden state of the last token in b.x row n - 1.
void run_batch(const Weights& w, const Config& p, RunState& s, BatchState& b, ThreadPool& pool, const int* tokens,
               std::size_t n, int pos0, ForwardObserver* observer) {
  const std::size_t dim = p.dim, kv_dim = p.kv_dim(), hidden = p.hidden_dim, hs = p.head_size();
  const std::size_t seq = p.seq_len, n_kv = p.n_kv_heads;
  const std::size_t scratch = attention_batch_scratch(seq, hs);

  // An fp16 cache is widened per head into this scratch (its size depends on no batch size).
  if (s.kv.type() == KvType::F16 && b.kv_f32.empty()) b.kv_f32.resize(std::size_t(pool.size()) * 2 * seq * hs);
  for (std::size_t t = 0; t < n; t++) dequantize_row(w.token_embedding, std::size_t(tokens[t]), &b.x[t * dim]);
  // RoPE's angles depend on the position only: once for all layers.
  std::vector<float> cos_sin(n * hs);  // (n, head_size)
  for (std::size_t t = 0; t < n; t++) rope_angles(&cos_sin[t * hs], hs, pos0 + int(t), p.rope_theta);

  for (std::size_t l = 0; l < std::size_t(p.n_layers); l++) {
    const LayerWeights& lw = w.layers[l];

    // attention block, for every token of the batch
    for_each_token(pool, n, dim, [&](std::size_t t) {
      rmsnorm(&b.xb[t * dim], &b.x[t * dim], lw.rms_att, dim, p.norm_eps);
    });
    matmul_batch({{b.q.data(), &lw.wq}, {b.k.data(), &lw.wk}, {b.v.data(), &lw.wv}}, b.xb.data(), n, pool);
    for_each_token(pool, n, dim + kv_dim, [&](std::size_t t) {
      rope_rotate(&b.q[t * dim], dim, hs, &cos_sin[t * hs], p.rope_style);
      rope_rotate(&b.k[t * kv_dim], kv_dim, hs, &cos_sin[t * hs], p.rope_style);
      for (std::size_t h = 0; h < n_kv; h++) {  // into the cache rows (layer, kv_head, pos)
        s.kv.store(l, h, std::size_t(pos0) + t, &b.k[t * kv_dim + h * hs], &b.v[t * kv_dim + h * hs]);
      }
    });
    // Every head costs the same (the whole causal triangle): threads take heads.
    // An fp16 cache is widened to fp32 first, one head's rows at a time.
    const std::size_t n_pos = std::size_t(pos0) + n;
    pool.parallel_for(std::size_t(p.n_heads), [&](std::size_t h0, std::size_t h1, int thread) {
      for (std::size_t h = h0; h < h1; h++) {
        const std::size_t kv_head = h / std::size_t(p.kv_mul());
        const float* keys;    // (n_pos, head_size)
        const float* values;  // (n_pos, head_size)
        if (s.kv.type() == KvType::F32) {
          keys = static_cast<const float*>(s.kv.keys(l, kv_head));
          values = static_cast<const float*>(s.kv.values(l, kv_head));
        } else {
          float* widened = &b.kv_f32[std::size_t(thread) * 2 * seq * hs];
          s.kv.load_f32(l, kv_head, n_pos, widened, widened + seq * hs);
          keys = widened;
          values = widened + seq * hs;
        }
        attention_batch(&b.xb[h * hs], dim, &b.q[h * hs], dim, n, std::size_t(pos0), keys, values, hs,
                        &b.att[std::size_t(thread) * scratch]);
      }
    }, 1);
    matmul_batch(b.xb2.data(), b.xb.data(), n, lw.wo, pool);
    for_each_token(pool, n, dim, [&](std::size_t t) {
      for (std::size_t i = t * dim; i < (t + 1) * dim; i++) b.x[i] += b.xb2[i];
    });

    // feed-forward block (SwiGLU)
    for_each_token(pool, n, dim, [&](std::size_t t) {
      rmsnorm(&b.xb[t * dim], &b.x[t * dim], lw.rms_ffn, dim, p.norm_eps);
    });
    matmul_batch({{b.hb.data(), &lw.w1}, {b.hb2.data(), &lw.w3}}, b.xb.data(), n, pool);
    for_each_token(pool, n, hidden, [&](std::size_t t) { swiglu(&b.hb[t * hidden], &b.hb2[t * hidden], hidden); });
    matmul_batch(b.xb.data(), b.hb.data(), n, lw.w2, pool);
    for_each_token(pool, n, dim, [&](std::size_t t) {
      for (std::size_t i = t * dim; i < (t + 1) * dim; i++) b.x[i] += b.xb[i];
    });

    if (observer) observe_layer(*observer, p, s, b, l, n, pos0);  // trace
  }
}

}  // namespace

// The body of forward_batch and forward_batch_all: runs the batch in chunks,
// then the final norm and classifier on the rows wanted. all_logits: every
// row, into batch_.logits (n_tokens, vocab_size), with matmul_batch; else the
// last row only, into s_.logits (vocab_size), with matmul as forward() does
// (one row does not pay for repacking the whole classifier into panels).
std::span<const float> Transformer::run_prompt(std::span<const int> tokens, int pos0, bool all_logits) {
  const Config& p = config_;
  const char* what = all_logits ? "forward_batch_all" : "forward_batch";
  if (tokens.empty()) throw Error(std::string(what) + ": the batch has no tokens");
  for (std::size_t i = 0; i < tokens.size(); i++) {
    if (tokens[i] < 0 || tokens[i] >= p.vocab_size) {
      throw Error(std::string(what) + ": token " + std::to_string(i) + " of the batch has id " +
                  std::to_string(tokens[i]) + ", outside [0, " + std::to_string(p.vocab_size) + ")");
    }
  }
  if (pos0 < 0 || std::size_t(pos0) + tokens.size() > std::size_t(p.seq_len)) {
    throw Error(std::string(what) + ": positions " + std::to_string(pos0) + " .. " +
                std::to_string(std::size_t(pos0) + tokens.size() - 1) + " are outside the context [0, " +
                std::to_string(p.seq_len) + ")");
  }
  const std::size_t dim = p.dim, vocab = p.vocab_size;
  const std::size_t row_bytes = sizeof(float) * (4 * dim + 2 * std::size_t(p.kv_dim()) + 2 * std::size_t(p.hidden_dim));
  const std::size_t chunk = std::min({tokens.size(), kMaxBatch, std::max<std::size_t>(16, kBatchBytes / row_bytes)});
  reserve(batch_, p, chunk, pool_->size());
  if (all_logits) batch_.logits.resize(tokens.size() * vocab);

  const Weights& w = model_->kernel_weights();
  std::size_t done = 0;
  while (done < tokens.size()) {
    const std::size_t n = std::min(chunk, tokens.size() - done);
    run_batch(w, p, s_, batch_, *pool_, tokens.data() + done, n, pos0 + int(done), observer_);
    // Final norm and classifier: on rows [first, n) of this chunk.
    const std::size_t first = all_logits ? 0 : (done + n == tokens.size() ? n - 1 : n);
    for (std::size_t t = first; t < n; t++) {
      rmsnorm(&batch_.xb[t * dim], &batch_.x[t * dim], w.rms_final, dim, p.norm_eps);
    }
    if (all_logits) {
      matmul_batch(&batch_.logits[done * vocab], batch_.xb.data(), n, w.wcls, *pool_);
    } else if (first < n) {
      matmul(s_.logits.data(), &batch_.xb[first * dim], w.wcls, *pool_);
    }
    done += n;
  }
  if (all_logits) return {batch_.logits.data(), tokens.size() * vocab};
  return {s_.logits.data(), s_.logits.size()};
}

std::span<const float> Transformer::forward_batch(std::span<const int> tokens, int pos0) {
  return run_prompt(tokens, pos0, false);
}

std::span<const float> Transformer::forward_batch_all(std::span<const int> tokens, int pos0) {
  return run_prompt(tokens, pos0, true);
}

}  // namespace llama2

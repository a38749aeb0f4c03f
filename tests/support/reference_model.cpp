// Reference Llama-2 forward pass in double precision (see reference_model.hpp).
//
// Per position t with input token x_t, for each layer l:
//   h  = rmsnorm(x) * rms_att[l]
//   q  = wq h, k = wk h, v = wv h, then RoPE on q and k: each adjacent pair
//        (2j, 2j+1) of a head rotates by angle t * theta^(-(2j)/head_size)
//   head i attends over keys/values 0..t of kv head i / (n_heads / n_kv_heads)
//        with softmax(q.k / sqrt(head_size))
//   x += wo concat(heads)
//   h  = rmsnorm(x) * rms_ffn[l]
//   x += w2 (silu(w1 h) * (w3 h))
// then logits = wcls (rmsnorm(x) * rms_final).
#include "support/reference_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>

namespace llama2::test {

namespace {

using Vec = std::vector<double>;

// out (rows) = W (rows, cols) @ x (cols), W taken from `all` at element `offset`.
Vec matvec(const std::vector<float>& all, std::size_t offset, std::size_t rows, std::size_t cols, const Vec& x) {
  Vec out(rows, 0.0);
  for (std::size_t r = 0; r < rows; r++) {
    double s = 0.0;
    for (std::size_t c = 0; c < cols; c++) s += double(all[offset + r * cols + c]) * x[c];
    out[r] = s;
  }
  return out;
}

// Per block of 32 (the last one may be shorter): x -> d * round(x / d), d = max|x| / 127.
Vec round_q8x32(const Vec& x) {
  Vec out(x.size(), 0.0);
  for (std::size_t b = 0; b < x.size(); b += 32) {
    const std::size_t e = std::min(x.size(), b + 32);
    double amax = 0.0;
    for (std::size_t j = b; j < e; j++) amax = std::max(amax, std::fabs(x[j]));
    if (amax == 0.0) continue;
    const double d = amax / 127.0;
    for (std::size_t j = b; j < e; j++) out[j] = d * std::nearbyint(x[j] / d);
  }
  return out;
}

Vec rmsnorm(const Vec& x, const std::vector<float>& weight, std::size_t offset, double eps) {
  double ss = 0.0;
  for (double v : x) ss += v * v;
  double inv = 1.0 / std::sqrt(ss / double(x.size()) + eps);
  Vec out(x.size());
  for (std::size_t i = 0; i < x.size(); i++) out[i] = x[i] * inv * double(weight[offset + i]);
  return out;
}

// Rotates every adjacent pair of every head of `v` (n_heads_in_v * head_size).
void rope(Vec& v, std::size_t head_size, int pos, double theta) {
  for (std::size_t i = 0; i + 1 < v.size(); i += 2) {
    double freq = std::pow(theta, -double(i % head_size) / double(head_size));
    double angle = double(pos) * freq;
    double c = std::cos(angle), s = std::sin(angle);
    double a = v[i], b = v[i + 1];
    v[i] = a * c - b * s;
    v[i + 1] = a * s + b * c;
  }
}

}  // namespace

std::vector<std::vector<double>> reference_logits(const SyntheticWeights& w, const std::vector<int>& tokens,
                                                  bool round_activations) {
  // What a matmul sees of its input.
  auto in = [&](const Vec& x) { return round_activations ? round_q8x32(x) : x; };
  const Config& c = w.config;
  const std::size_t dim = c.dim, hidden = c.hidden_dim, n_layers = c.n_layers, n_heads = c.n_heads,
                    n_kv_heads = c.n_kv_heads, vocab = c.vocab_size;
  const std::size_t head_size = dim / n_heads, kv_dim = head_size * n_kv_heads;
  const std::size_t group = n_heads / n_kv_heads;  // query heads sharing one kv head
  const double eps = c.norm_eps, theta = c.rope_theta;

  // keys[l][t], values[l][t]: (kv_dim) of layer l at position t
  std::vector<std::vector<Vec>> keys(n_layers), values(n_layers);
  std::vector<std::vector<double>> all_logits;

  for (std::size_t t = 0; t < tokens.size(); t++) {
    const int token = tokens[t];
    if (token < 0 || std::size_t(token) >= vocab) throw std::invalid_argument("reference_logits: token out of range");
    Vec x(dim);
    for (std::size_t i = 0; i < dim; i++) x[i] = w.token_embedding[std::size_t(token) * dim + i];

    for (std::size_t l = 0; l < n_layers; l++) {
      // attention
      Vec h = rmsnorm(x, w.rms_att, l * dim, eps);
      const Vec hq = in(h);
      Vec q = matvec(w.wq, l * dim * dim, dim, dim, hq);
      Vec k = matvec(w.wk, l * kv_dim * dim, kv_dim, dim, hq);
      Vec v = matvec(w.wv, l * kv_dim * dim, kv_dim, dim, hq);
      rope(q, head_size, int(t), theta);
      rope(k, head_size, int(t), theta);
      keys[l].push_back(k);
      values[l].push_back(v);

      Vec heads(dim, 0.0);  // concatenated head outputs
      for (std::size_t hd = 0; hd < n_heads; hd++) {
        const std::size_t kvh = hd / group;
        Vec scores(t + 1);
        double max_score = -INFINITY;
        for (std::size_t s = 0; s <= t; s++) {
          double d = 0.0;
          for (std::size_t i = 0; i < head_size; i++) d += q[hd * head_size + i] * keys[l][s][kvh * head_size + i];
          scores[s] = d / std::sqrt(double(head_size));
          max_score = std::max(max_score, scores[s]);
        }
        double sum = 0.0;
        for (double& sc : scores) {
          sc = std::exp(sc - max_score);
          sum += sc;
        }
        for (std::size_t s = 0; s <= t; s++) {
          double p = scores[s] / sum;
          for (std::size_t i = 0; i < head_size; i++) heads[hd * head_size + i] += p * values[l][s][kvh * head_size + i];
        }
      }
      Vec att_out = matvec(w.wo, l * dim * dim, dim, dim, in(heads));
      for (std::size_t i = 0; i < dim; i++) x[i] += att_out[i];

      // feed-forward (SwiGLU)
      h = rmsnorm(x, w.rms_ffn, l * dim, eps);
      const Vec hq2 = in(h);
      Vec gate = matvec(w.w1, l * hidden * dim, hidden, dim, hq2);
      Vec up = matvec(w.w3, l * hidden * dim, hidden, dim, hq2);
      Vec act(hidden);
      for (std::size_t i = 0; i < hidden; i++) act[i] = gate[i] / (1.0 + std::exp(-gate[i])) * up[i];
      Vec ffn_out = matvec(w.w2, l * dim * hidden, dim, hidden, in(act));
      for (std::size_t i = 0; i < dim; i++) x[i] += ffn_out[i];
    }

    Vec final_x = rmsnorm(x, w.rms_final, 0, eps);
    all_logits.push_back(matvec(w.wcls, 0, vocab, dim, in(final_x)));
  }
  return all_logits;
}

}  // namespace llama2::test

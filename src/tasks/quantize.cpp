// write_llama_gguf: a model -> a llama.cpp-compatible GGUF of any file type.
//
// Streaming: the GgufWriter asks for each tensor's bytes when it reaches it
// in the data section, so one tensor is converted at a time: its rows are
// dequantized and re-quantized on the thread pool (rows are independent),
// the bytes are written, and the pages of the input tensor are handed back to
// the kernel (madvise MADV_PAGEOUT) so that converting a 13 GB model keeps a
// few tensors resident, not the whole input. Output pages go through stdio
// to the page cache, which the kernel writes back and reclaims on its own.
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>

#include "formats/gguf_writer.hpp"
#include "kernels/quantize.hpp"
#include "kernels/weight_types.hpp"
#include "llama2/error.hpp"
#include "llama2/quantize.hpp"
#include "llama2/thread_pool.hpp"

namespace llama2 {

namespace {

// The bytes of t in memory, or {nullptr, 0} when they are not one block
// range (llama2.c int8 keeps its scales apart).
std::pair<const void*, std::size_t> tensor_bytes(const Tensor& t) {
  const WeightTypeInfo& info = weight_type_info(t.type);
  if (info.block_size == 0) return {nullptr, 0};
  return {t.data, t.rows * (t.cols / info.block_size * info.block_bytes)};
}

// Tells the kernel the pages wholly inside [p, p + n) are not needed soon.
// MADV_PAGEOUT drops clean file-backed pages (re-read on a later touch) and
// never loses data, even if the model's storage is owned memory.
void release_pages(const void* p, std::size_t n) {
#ifdef MADV_PAGEOUT
  static const std::uintptr_t page = std::uintptr_t(::sysconf(_SC_PAGESIZE));
  const std::uintptr_t begin = (std::uintptr_t(p) + page - 1) / page * page;
  const std::uintptr_t end = (std::uintptr_t(p) + n) / page * page;
  if (end > begin) (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_PAGEOUT);  // only a hint
#else
  (void)p, (void)n;
#endif
}

// Which row of a Hugging Face wq/wk (RopeStyle::ROTATE_HALF: each head's
// rows are (even dims..., odd dims...)) is row r in Meta's interleaved order,
// the only one GGUF knows; head_size 0: row r itself.
std::size_t source_row(std::size_t r, std::size_t head_size) {
  if (head_size == 0) return r;
  const std::size_t i = r % head_size;
  return r - i + (i % 2) * (head_size / 2) + i / 2;
}

// Rows of t converted to `type` into out (rows * row_bytes), on the pool;
// row r read from source_row(r, unpermute_head_size).
// Throws if a weight is not finite: no quantized type can hold it, and the
// model would compute NaNs.
void encode_tensor(const std::string& name, const Tensor& t, WeightType type, ThreadPool& pool,
                   std::vector<std::uint8_t>& out, std::size_t unpermute_head_size) {
  const std::size_t bytes = row_bytes(type, t.cols);
  out.resize(bytes * t.rows);
  constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
  std::atomic<std::size_t> bad_row{kNone};
  // K types cost ~50 multiply-adds a value to fit; a row is worth a thread.
  pool.parallel_for(
      t.rows,
      [&](std::size_t r0, std::size_t r1, int) {
        std::vector<float> row(t.cols);  // (cols) one dequantized row
        for (std::size_t r = r0; r < r1; r++) {
          dequantize_row(t, source_row(r, unpermute_head_size), row.data());
          for (float v : row) {
            if (!std::isfinite(v)) {
              std::size_t expected = kNone;
              bad_row.compare_exchange_strong(expected, r);
              return;
            }
          }
          quantize_row(type, row.data(), out.data() + r * bytes, t.cols);
        }
      },
      ThreadPool::grain_for(t.cols * 50));
  if (bad_row != kNone) {
    throw Error(name + ": row " + std::to_string(bad_row.load()) + " has a value that is not finite (NaN or inf)");
  }
}

FileType file_type_of(WeightType type) {
  switch (type) {
    case WeightType::F32: return FileType::F32;
    case WeightType::F16: return FileType::F16;
    case WeightType::BF16: return FileType::BF16;
    case WeightType::Q8_0: return FileType::Q8_0;
    case WeightType::Q4_0: return FileType::Q4_0;
    case WeightType::Q4_1: return FileType::Q4_1;
    case WeightType::Q5_0: return FileType::Q5_0;
    case WeightType::Q5_1: return FileType::Q5_1;
    case WeightType::Q2_K: return FileType::Q2_K;
    case WeightType::Q6_K: return FileType::Q6_K;
    default: break;
  }
  throw Error("quantize: output type " + std::string(weight_type_name(type)) +
              " is not a file type; expected F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K or Q6_K "
              "(or a mix such as Q4_K_M)");
}

}  // namespace

std::vector<std::string> write_llama_gguf(const Model& model, const Vocab& vocab, WeightType type,
                                          const std::string& path) {
  QuantizeOptions options;
  options.type = file_type_of(type);
  return write_llama_gguf(model, vocab, options, path);
}

std::vector<std::string> write_llama_gguf(const Model& model, const Vocab& vocab, const QuantizeOptions& options,
                                          const std::string& path) {
  const Config& c = model.config();
  const Weights& w = model.weights();
  if (vocab.pieces.size() != std::size_t(c.vocab_size)) {
    throw Error(path + ": the tokenizer has " + std::to_string(vocab.pieces.size()) + " pieces but the model's vocab_size is " +
                std::to_string(c.vocab_size));
  }
  const FileType ftype = options.type;
  const WeightType base = base_weight_type(ftype);
  GgufWriter g(32);
  g.add_string("general.architecture", "llama");
  std::string name = model.path();
  if (auto slash = name.find_last_of('/'); slash != std::string::npos) name = name.substr(slash + 1);
  g.add_string("general.name", name);
  g.add_uint32("general.file_type", std::uint32_t(ftype));
  if (base != WeightType::F32 && base != WeightType::F16 && base != WeightType::BF16) {
    g.add_uint32("general.quantization_version", 2);
  }
  g.add_uint32("llama.context_length", std::uint32_t(c.seq_len));
  g.add_uint32("llama.embedding_length", std::uint32_t(c.dim));
  g.add_uint32("llama.block_count", std::uint32_t(c.n_layers));
  g.add_uint32("llama.feed_forward_length", std::uint32_t(c.hidden_dim));
  g.add_uint32("llama.rope.dimension_count", std::uint32_t(c.head_size()));
  g.add_uint32("llama.attention.head_count", std::uint32_t(c.n_heads));
  g.add_uint32("llama.attention.head_count_kv", std::uint32_t(c.n_kv_heads));
  g.add_float32("llama.attention.layer_norm_rms_epsilon", c.norm_eps);
  g.add_float32("llama.rope.freq_base", c.rope_theta);
  g.add_uint32("llama.vocab_size", std::uint32_t(c.vocab_size));

  g.add_string("tokenizer.ggml.model", "llama");
  g.add_string_array("tokenizer.ggml.tokens", vocab.pieces);
  g.add_float32_array("tokenizer.ggml.scores", vocab.scores);
  std::vector<std::int32_t> types(vocab.types.size());
  for (std::size_t i = 0; i < types.size(); i++) types[i] = std::int32_t(vocab.types[i]);
  g.add_int32_array("tokenizer.ggml.token_type", types);
  g.add_uint32("tokenizer.ggml.bos_token_id", std::uint32_t(vocab.bos_id));
  g.add_uint32("tokenizer.ggml.eos_token_id", std::uint32_t(vocab.eos_id));
  g.add_uint32("tokenizer.ggml.unknown_token_id", std::uint32_t(vocab.unk_id));
  g.add_bool("tokenizer.ggml.add_bos_token", vocab.add_bos);
  g.add_bool("tokenizer.ggml.add_eos_token", false);
  g.add_bool("tokenizer.ggml.add_space_prefix", vocab.add_space_prefix);

  const bool tied = w.wcls.data == w.token_embedding.data;
  const ModelShape shape{c.n_layers, c.n_heads, c.n_kv_heads, !tied};
  ThreadPool pool(options.n_threads);
  // Progress, shared by the producers (which run one at a time, in order).
  QuantizeProgress progress;
  progress.n_tensors = 2 + 9 * w.layers.size() + (tied ? 0 : 1);
  std::vector<std::string> log;

  auto done = [&](const std::string& tname, WeightType t, std::size_t n_in, std::size_t n_out) {
    progress.tensors_done++;
    progress.bytes_in_done += n_in * sizeof(float);
    progress.bytes_out += n_out;
    progress.name = tname;
    progress.type = t;
    if (options.progress) options.progress(progress);
  };
  // An HF model's wq/wk rows go back to Meta's order (RoPE in GGUF pairs
  // adjacent dimensions), as llama.cpp's converter does.
  const std::size_t unpermute = c.rope_style == RopeStyle::ROTATE_HALF ? std::size_t(c.head_size()) : 0;
  auto add_matrix = [&](const std::string& tname, const Tensor& t, TensorRole role, int layer) {
    const std::size_t unpermute_hs = role == TensorRole::AttnQ || role == TensorRole::AttnK ? unpermute : 0;
    const WeightType type = tensor_type(ftype, {role, layer, t.cols}, shape);
    log.push_back(tname + " " + std::string(weight_type_name(type)) + " [" + std::to_string(t.cols) + ", " +
                  std::to_string(t.rows) + "]");
    progress.bytes_in_total += t.n_elements() * sizeof(float);
    g.add_tensor(tname, {t.cols, t.rows}, type, [&, tname, t, type, unpermute_hs](std::vector<std::uint8_t>& out) {
      encode_tensor(tname, t, type, pool, out, unpermute_hs);
      const auto [p, n] = tensor_bytes(t);
      release_pages(p, n);
      done(tname, type, t.n_elements(), out.size());
    });
  };
  auto add_norm = [&](const std::string& tname, const float* v) {
    const std::size_t n = std::size_t(c.dim);
    log.push_back(tname + " F32 [" + std::to_string(n) + "]");
    progress.bytes_in_total += n * sizeof(float);
    g.add_tensor(tname, {n}, WeightType::F32, [&, tname, v, n](std::vector<std::uint8_t>& out) {
      out.resize(n * sizeof(float));
      std::memcpy(out.data(), v, out.size());
      done(tname, WeightType::F32, n, out.size());
    });
  };
  add_matrix("token_embd.weight", w.token_embedding, TensorRole::TokenEmbedding, 0);
  add_norm("output_norm.weight", w.rms_final);
  if (!tied) add_matrix("output.weight", w.wcls, TensorRole::Output, 0);
  for (std::size_t l = 0; l < w.layers.size(); l++) {
    const LayerWeights& lw = w.layers[l];
    const std::string p = "blk." + std::to_string(l) + ".";
    const int li = int(l);
    add_norm(p + "attn_norm.weight", lw.rms_att);
    add_matrix(p + "attn_q.weight", lw.wq, TensorRole::AttnQ, li);
    add_matrix(p + "attn_k.weight", lw.wk, TensorRole::AttnK, li);
    add_matrix(p + "attn_v.weight", lw.wv, TensorRole::AttnV, li);
    add_matrix(p + "attn_output.weight", lw.wo, TensorRole::AttnOutput, li);
    add_norm(p + "ffn_norm.weight", lw.rms_ffn);
    add_matrix(p + "ffn_gate.weight", lw.w1, TensorRole::FfnGate, li);
    add_matrix(p + "ffn_down.weight", lw.w2, TensorRole::FfnDown, li);
    add_matrix(p + "ffn_up.weight", lw.w3, TensorRole::FfnUp, li);
  }
  g.write(path);
  return log;
}

}  // namespace llama2

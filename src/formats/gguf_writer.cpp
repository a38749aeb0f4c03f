// GgufWriter (see gguf_writer.hpp; the format is described in gguf.hpp).
#include "formats/gguf_writer.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "formats/checked_math.hpp"
#include "llama2/error.hpp"
#include "kernels/fp16.hpp"
#include "kernels/quants.hpp"

namespace llama2 {

namespace {

template <typename T>
void put(std::vector<std::uint8_t>& out, T v) {
  const std::size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

void put_string(std::vector<std::uint8_t>& out, const std::string& s) {
  put<std::uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

std::uint64_t align_up(std::uint64_t x, std::uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

GgufWriter::GgufWriter(std::uint32_t alignment) : alignment_(alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    throw Error("GgufWriter: alignment " + std::to_string(alignment) + " is not a power of two");
  }
  add_uint32("general.alignment", alignment);
}

void GgufWriter::key(const std::string& k, GgufValueType t) {
  put_string(kv_bytes_, k);
  put<std::uint32_t>(kv_bytes_, std::uint32_t(t));
  kv_count_++;
}

void GgufWriter::add_uint32(const std::string& k, std::uint32_t v) {
  key(k, GgufValueType::UINT32);
  put(kv_bytes_, v);
}
void GgufWriter::add_int32(const std::string& k, std::int32_t v) {
  key(k, GgufValueType::INT32);
  put(kv_bytes_, v);
}
void GgufWriter::add_float32(const std::string& k, float v) {
  key(k, GgufValueType::FLOAT32);
  put(kv_bytes_, v);
}
void GgufWriter::add_bool(const std::string& k, bool v) {
  key(k, GgufValueType::BOOL);
  put<std::uint8_t>(kv_bytes_, v ? 1 : 0);
}
void GgufWriter::add_string(const std::string& k, const std::string& v) {
  key(k, GgufValueType::STRING);
  put_string(kv_bytes_, v);
}
void GgufWriter::add_string_array(const std::string& k, const std::vector<std::string>& v) {
  key(k, GgufValueType::ARRAY);
  put<std::uint32_t>(kv_bytes_, std::uint32_t(GgufValueType::STRING));
  put<std::uint64_t>(kv_bytes_, v.size());
  for (const std::string& s : v) put_string(kv_bytes_, s);
}
void GgufWriter::add_float32_array(const std::string& k, const std::vector<float>& v) {
  key(k, GgufValueType::ARRAY);
  put<std::uint32_t>(kv_bytes_, std::uint32_t(GgufValueType::FLOAT32));
  put<std::uint64_t>(kv_bytes_, v.size());
  for (float x : v) put(kv_bytes_, x);
}
void GgufWriter::add_int32_array(const std::string& k, const std::vector<std::int32_t>& v) {
  key(k, GgufValueType::ARRAY);
  put<std::uint32_t>(kv_bytes_, std::uint32_t(GgufValueType::INT32));
  put<std::uint64_t>(kv_bytes_, v.size());
  for (std::int32_t x : v) put(kv_bytes_, x);
}

void GgufWriter::add_tensor(const std::string& name, std::vector<std::uint64_t> ne, WeightType type, Producer produce) {
  const BlockLayout layout = block_layout(type);
  if (ne.empty() || ne.size() > 4 || ne[0] % layout.block_size != 0) {
    throw Error("GgufWriter: tensor " + name + ": bad shape for type " + std::string(weight_type_name(type)));
  }
  std::size_t n = 1;
  for (std::uint64_t d : ne) n = checked_mul(n, std::size_t(d), "GgufWriter: tensor " + name);
  TensorEntry t{name, std::move(ne), type, n / layout.block_size * layout.block_bytes, align_up(data_size_, alignment_),
                std::move(produce)};
  data_size_ = t.offset + t.n_bytes;
  tensors_.push_back(std::move(t));
}

void GgufWriter::write(const std::string& path) const {
  std::vector<std::uint8_t> head;
  head.insert(head.end(), {'G', 'G', 'U', 'F'});
  put<std::uint32_t>(head, 3);
  put<std::uint64_t>(head, tensors_.size());
  put<std::uint64_t>(head, kv_count_);
  head.insert(head.end(), kv_bytes_.begin(), kv_bytes_.end());
  for (const TensorEntry& t : tensors_) {
    put_string(head, t.name);
    put<std::uint32_t>(head, std::uint32_t(t.ne.size()));
    for (std::uint64_t d : t.ne) put<std::uint64_t>(head, d);
    put<std::uint32_t>(head, ggml_type_id(t.type));
    put<std::uint64_t>(head, t.offset);
  }
  head.resize(align_up(head.size(), alignment_), 0);

  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) throw Error(path + ": cannot open for writing: " + std::strerror(errno));
  auto write_bytes = [&](const void* p, std::size_t n) {
    if (n && std::fwrite(p, 1, n, f.get()) != n) throw Error(path + ": write failed: " + std::strerror(errno));
  };
  write_bytes(head.data(), head.size());
  std::uint64_t pos = 0;  // within the data section
  std::vector<std::uint8_t> buf;
  const std::vector<std::uint8_t> zeros(alignment_, 0);
  for (const TensorEntry& t : tensors_) {
    write_bytes(zeros.data(), std::size_t(t.offset - pos));
    buf.clear();
    t.produce(buf);
    if (buf.size() != t.n_bytes) {
      throw Error(path + ": tensor " + t.name + ": produced " + std::to_string(buf.size()) + " bytes, expected " +
                  std::to_string(t.n_bytes));
    }
    write_bytes(buf.data(), buf.size());
    pos = t.offset + t.n_bytes;
  }
  // Pad the end too, as llama.cpp does, so the file is a whole number of alignments.
  write_bytes(zeros.data(), std::size_t(align_up(pos, alignment_) - pos));
  if (std::fflush(f.get()) != 0) throw Error(path + ": write failed: " + std::strerror(errno));
}

}  // namespace llama2

// --- a llama model --------------------------------------------------------------

namespace llama2 {

namespace {

// llama.cpp's general.file_type values (enum llama_ftype).
std::uint32_t llama_file_type(WeightType type) {
  switch (type) {
    case WeightType::F32: return 0;
    case WeightType::F16: return 1;
    case WeightType::Q4_0: return 2;
    case WeightType::Q8_0: return 7;
    case WeightType::BF16: return 32;
    default: break;
  }
  throw Error("quantize: output type " + std::string(weight_type_name(type)) +
              " is not supported, expected F32, F16, BF16, Q8_0 or Q4_0");
}

// Which row of a Hugging Face wq/wk (RopeStyle::ROTATE_HALF: each head's
// rows are (even dims..., odd dims...)) is row r in Meta's interleaved order,
// the only one GGUF knows; head_size 0: row r itself.
std::size_t source_row(std::size_t r, std::size_t head_size) {
  if (head_size == 0) return r;
  const std::size_t i = r % head_size;
  return r - i + (i % 2) * (head_size / 2) + i / 2;
}

// Rows [0, t.rows) of t converted to `type`, appended to out (row r read
// from source_row(r, unpermute_head_size)).
void encode_rows(const Tensor& t, WeightType type, std::vector<std::uint8_t>& out,
                 std::size_t unpermute_head_size = 0) {
  std::vector<float> row(t.cols);  // (cols) one dequantized row
  const std::size_t bytes = row_bytes(type, t.cols);
  out.resize(bytes * t.rows);
  for (std::size_t r = 0; r < t.rows; r++) {
    dequantize_row(t, source_row(r, unpermute_head_size), row.data());
    std::uint8_t* dst = out.data() + r * bytes;
    switch (type) {
      case WeightType::F32: std::memcpy(dst, row.data(), bytes); break;
      case WeightType::F16:
        for (std::size_t j = 0; j < t.cols; j++) {
          const std::uint16_t h = fp32_to_fp16(row[j]);
          std::memcpy(dst + 2 * j, &h, 2);
        }
        break;
      case WeightType::BF16:
        for (std::size_t j = 0; j < t.cols; j++) {
          const std::uint16_t h = fp32_to_bf16(row[j]);
          std::memcpy(dst + 2 * j, &h, 2);
        }
        break;
      case WeightType::Q8_0: {
        std::vector<BlockQ8_0> blocks(t.cols / kQK);
        quantize_q8_0(row.data(), blocks.data(), t.cols);
        std::memcpy(dst, blocks.data(), bytes);
        break;
      }
      case WeightType::Q4_0: {
        std::vector<BlockQ4_0> blocks(t.cols / kQK);
        quantize_q4_0(row.data(), blocks.data(), t.cols);
        std::memcpy(dst, blocks.data(), bytes);
        break;
      }
      default: throw Error("quantize: cannot write type " + std::string(weight_type_name(type)));
    }
  }
}

}  // namespace

std::vector<std::string> write_llama_gguf(const Model& model, const Vocab& vocab, WeightType type,
                                          const std::string& path) {
  const Config& c = model.config();
  const Weights& w = model.weights();
  if (vocab.pieces.size() != std::size_t(c.vocab_size)) {
    throw Error(path + ": the tokenizer has " + std::to_string(vocab.pieces.size()) + " pieces but the model's vocab_size is " +
                std::to_string(c.vocab_size));
  }
  GgufWriter g(32);
  const bool quantized = type == WeightType::Q8_0 || type == WeightType::Q4_0;
  g.add_string("general.architecture", "llama");
  std::string name = model.path();
  if (auto slash = name.find_last_of('/'); slash != std::string::npos) name = name.substr(slash + 1);
  g.add_string("general.name", name);
  g.add_uint32("general.file_type", llama_file_type(type));
  if (quantized) g.add_uint32("general.quantization_version", 2);
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

  std::vector<std::string> log;
  // An HF model's wq/wk rows go back to Meta's order (RoPE in GGUF pairs
  // adjacent dimensions), as llama.cpp's converter does.
  const std::size_t unpermute = c.rope_style == RopeStyle::ROTATE_HALF ? std::size_t(c.head_size()) : 0;
  auto add_matrix = [&](const std::string& tname, const Tensor& t, WeightType want, std::size_t unpermute_hs = 0) {
    WeightType type_here = want;
    if (t.cols % block_layout(want).block_size != 0) type_here = WeightType::F16;
    log.push_back(tname + " " + std::string(weight_type_name(type_here)) + " [" + std::to_string(t.cols) + ", " +
                  std::to_string(t.rows) + "]");
    g.add_tensor(tname, {t.cols, t.rows}, type_here, [t, type_here, unpermute_hs](std::vector<std::uint8_t>& out) {
      encode_rows(t, type_here, out, unpermute_hs);
    });
  };
  auto add_norm = [&](const std::string& tname, const float* v) {
    const std::size_t n = std::size_t(c.dim);
    log.push_back(tname + " F32 [" + std::to_string(n) + "]");
    g.add_tensor(tname, {n}, WeightType::F32, [v, n](std::vector<std::uint8_t>& out) {
      out.resize(n * sizeof(float));
      std::memcpy(out.data(), v, out.size());
    });
  };
  add_matrix("token_embd.weight", w.token_embedding, type);
  add_norm("output_norm.weight", w.rms_final);
  if (w.wcls.data != w.token_embedding.data) add_matrix("output.weight", w.wcls, type == WeightType::Q4_0 ? WeightType::Q8_0 : type);
  for (std::size_t l = 0; l < w.layers.size(); l++) {
    const LayerWeights& lw = w.layers[l];
    const std::string p = "blk." + std::to_string(l) + ".";
    add_norm(p + "attn_norm.weight", lw.rms_att);
    add_matrix(p + "attn_q.weight", lw.wq, type, unpermute);
    add_matrix(p + "attn_k.weight", lw.wk, type, unpermute);
    add_matrix(p + "attn_v.weight", lw.wv, type);
    add_matrix(p + "attn_output.weight", lw.wo, type);
    add_norm(p + "ffn_norm.weight", lw.rms_ffn);
    add_matrix(p + "ffn_gate.weight", lw.w1, type);
    add_matrix(p + "ffn_down.weight", lw.w2, type);
    add_matrix(p + "ffn_up.weight", lw.w3, type);
  }
  g.write(path);
  return log;
}

}  // namespace llama2

// GgufWriter (see gguf_writer.hpp; the format is described in gguf.hpp).
#include "formats/gguf_writer.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "formats/checked_math.hpp"
#include "llama2/error.hpp"
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

  // The bytes go to PATH.partial, renamed to PATH once all are written: a
  // failure part way (a weight that is not finite, a full disk) leaves no
  // half-written file behind, and an earlier PATH untouched.
  const std::string partial = path + ".partial";
  std::FILE* raw = std::fopen(partial.c_str(), "wb");
  if (!raw) throw Error(path + ": cannot open for writing: " + std::strerror(errno));
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(raw, &std::fclose);
  auto write_bytes = [&](const void* p, std::size_t n) {
    if (n && std::fwrite(p, 1, n, f.get()) != n) throw Error(path + ": write failed: " + std::strerror(errno));
  };
  try {
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
    if (std::fflush(f.get()) != 0 || std::fclose(f.release()) != 0) {
      throw Error(path + ": write failed: " + std::strerror(errno));
    }
    if (std::rename(partial.c_str(), path.c_str()) != 0) {
      throw Error(path + ": cannot rename " + partial + " to it: " + std::strerror(errno));
    }
  } catch (...) {  // every failure: no PATH.partial left behind
    f.reset();
    std::remove(partial.c_str());
    throw;
  }
}

}  // namespace llama2

// GGUF container reader: header, metadata, tensor table (format in gguf.hpp).
#include "formats/gguf.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "formats/checked_math.hpp"
#include "llama2/error.hpp"
#include "kernels/quants.hpp"

namespace llama2 {

std::string_view gguf_value_type_name(GgufValueType type) {
  switch (type) {
    case GgufValueType::UINT8: return "uint8";
    case GgufValueType::INT8: return "int8";
    case GgufValueType::UINT16: return "uint16";
    case GgufValueType::INT16: return "int16";
    case GgufValueType::UINT32: return "uint32";
    case GgufValueType::INT32: return "int32";
    case GgufValueType::FLOAT32: return "float32";
    case GgufValueType::BOOL: return "bool";
    case GgufValueType::STRING: return "string";
    case GgufValueType::ARRAY: return "array";
    case GgufValueType::UINT64: return "uint64";
    case GgufValueType::INT64: return "int64";
    case GgufValueType::FLOAT64: return "float64";
  }
  return "unknown";
}

std::string ggml_type_name(std::uint32_t id) {
  // ggml's type ids; empty names are ids ggml removed.
  static constexpr const char* kNames[] = {
      "F32",     "F16",    "Q4_0",    "Q4_1",   "",       "",       "Q5_0",   "Q5_1",   "Q8_0",   "Q8_1",
      "Q2_K",    "Q3_K",   "Q4_K",    "Q5_K",   "Q6_K",   "Q8_K",   "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S",
      "IQ4_NL",  "IQ3_S",  "IQ2_S",   "IQ4_XS", "I8",     "I16",    "I32",    "I64",    "F64",    "IQ1_M",
      "BF16",    "",       "",        "",       "TQ1_0",  "TQ2_0",  "",       "",       "",       "MXFP4"};
  if (id < std::size(kNames) && kNames[id][0] != '\0') return std::string(kNames[id]) + " (" + std::to_string(id) + ")";
  return "type " + std::to_string(id);
}

std::uint32_t ggml_type_id(WeightType type) {
  switch (type) {
    case WeightType::F32: return ggml_type::F32;
    case WeightType::F16: return ggml_type::F16;
    case WeightType::BF16: return ggml_type::BF16;
    case WeightType::Q8_0: return ggml_type::Q8_0;
    case WeightType::Q4_0: return ggml_type::Q4_0;
    case WeightType::Q4_1: return ggml_type::Q4_1;
    case WeightType::Q5_0: return ggml_type::Q5_0;
    case WeightType::Q5_1: return ggml_type::Q5_1;
    case WeightType::Q2_K: return ggml_type::Q2_K;
    case WeightType::Q3_K: return ggml_type::Q3_K;
    case WeightType::Q4_K: return ggml_type::Q4_K;
    case WeightType::Q5_K: return ggml_type::Q5_K;
    case WeightType::Q6_K: return ggml_type::Q6_K;
    case WeightType::Q8_GROUP:
    case WeightType::Q4_0_X8:
    case WeightType::Q4_K_X8:
    case WeightType::Q5_K_X2:
    case WeightType::Q6_K_X2:
    case WeightType::Q4_0_X16:
    case WeightType::Q8_0_X16: break;  // not file types
  }
  throw Error("weight type " + std::string(weight_type_name(type)) + " cannot be stored in GGUF");
}

namespace {

// The WeightType of a ggml type id, or false if we cannot run it.
bool weight_type_of(std::uint32_t id, WeightType* out) {
  for (WeightType t : {WeightType::F32, WeightType::F16, WeightType::BF16, WeightType::Q8_0, WeightType::Q4_0,
                       WeightType::Q4_1, WeightType::Q5_0, WeightType::Q5_1, WeightType::Q2_K, WeightType::Q3_K,
                       WeightType::Q4_K, WeightType::Q5_K, WeightType::Q6_K}) {
    if (ggml_type_id(t) == id) {
      *out = t;
      return true;
    }
  }
  return false;
}

constexpr std::uint32_t kMaxArrayDepth = 8;  // nested arrays deeper than this are rejected
constexpr std::size_t kDefaultAlignment = 32;

std::size_t scalar_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8:
    case GgufValueType::INT8:
    case GgufValueType::BOOL: return 1;
    case GgufValueType::UINT16:
    case GgufValueType::INT16: return 2;
    case GgufValueType::UINT32:
    case GgufValueType::INT32:
    case GgufValueType::FLOAT32: return 4;
    case GgufValueType::UINT64:
    case GgufValueType::INT64:
    case GgufValueType::FLOAT64: return 8;
    case GgufValueType::STRING:
    case GgufValueType::ARRAY: return 0;
  }
  return 0;
}

// Reads consecutive little-endian fields, checking every read against the end.
class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size, const std::string& path, std::size_t offset = 0)
      : data_(data), size_(size), path_(path), offset_(offset) {}

  std::size_t offset() const { return offset_; }
  std::size_t remaining() const { return size_ - offset_; }

  void need(std::size_t bytes, const std::string& what) const {
    if (bytes > remaining()) {
      throw Error(path_ + ": truncated: " + what + " at offset " + std::to_string(offset_) + " needs " +
                  std::to_string(bytes) + " bytes but only " + std::to_string(remaining()) + " remain");
    }
  }
  template <typename T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + offset_, sizeof(T));
    offset_ += sizeof(T);
    return v;
  }
  const std::uint8_t* skip(std::size_t bytes, const std::string& what) {
    need(bytes, what);
    const std::uint8_t* p = data_ + offset_;
    offset_ += bytes;
    return p;
  }
  std::string_view string(const std::string& what) {
    const std::uint64_t len = read<std::uint64_t>(what + " length");
    if (len > remaining()) {
      throw Error(path_ + ": " + what + " at offset " + std::to_string(offset_ - 8) + " has length " +
                  std::to_string(len) + " but only " + std::to_string(remaining()) + " bytes remain in the file");
    }
    const std::uint8_t* p = skip(std::size_t(len), what);
    return {reinterpret_cast<const char*>(p), std::size_t(len)};
  }
  GgufValueType value_type(const std::string& what) {
    const std::size_t at = offset_;
    const std::uint32_t t = read<std::uint32_t>(what);
    if (t > std::uint32_t(GgufValueType::FLOAT64)) {
      throw Error(path_ + ": " + what + " at offset " + std::to_string(at) + " is " + std::to_string(t) +
                  ", expected a GGUF value type in [0, 12]");
    }
    return GgufValueType(t);
  }

  // One value of type `t`; arrays are checked (and nested ones walked) but
  // their elements are not copied.
  GgufValue value(GgufValueType t, const std::string& what, std::uint32_t depth) {
    GgufValue v;
    v.type = t;
    v.offset = offset_;
    switch (t) {
      case GgufValueType::UINT8: v.u = read<std::uint8_t>(what); break;
      case GgufValueType::UINT16: v.u = read<std::uint16_t>(what); break;
      case GgufValueType::UINT32: v.u = read<std::uint32_t>(what); break;
      case GgufValueType::UINT64: v.u = read<std::uint64_t>(what); break;
      case GgufValueType::INT8: v.i = read<std::int8_t>(what); break;
      case GgufValueType::INT16: v.i = read<std::int16_t>(what); break;
      case GgufValueType::INT32: v.i = read<std::int32_t>(what); break;
      case GgufValueType::INT64: v.i = read<std::int64_t>(what); break;
      case GgufValueType::FLOAT32: v.f = read<float>(what); break;
      case GgufValueType::FLOAT64: v.f = read<double>(what); break;
      case GgufValueType::BOOL: {
        const std::uint8_t b = read<std::uint8_t>(what);
        if (b > 1) {
          throw Error(path_ + ": " + what + " at offset " + std::to_string(v.offset) + " is a bool of value " +
                      std::to_string(b) + ", expected 0 or 1");
        }
        v.u = b;
        break;
      }
      case GgufValueType::STRING: v.str = string(what); break;
      case GgufValueType::ARRAY: {
        if (depth >= kMaxArrayDepth) {
          throw Error(path_ + ": " + what + " at offset " + std::to_string(v.offset) + ": arrays nested more than " +
                      std::to_string(kMaxArrayDepth) + " deep");
        }
        v.elem_type = value_type(what + " element type");
        v.count = read<std::uint64_t>(what + " element count");
        v.elems = data_ + offset_;
        // Every element takes at least this many bytes: check the count
        // against the file before walking it.
        const std::size_t min_bytes = v.elem_type == GgufValueType::STRING  ? 8
                                      : v.elem_type == GgufValueType::ARRAY ? 12
                                                                            : scalar_size(v.elem_type);
        if (v.count > remaining() / min_bytes) {
          throw Error(path_ + ": " + what + " at offset " + std::to_string(v.offset) + " is an array of " +
                      std::to_string(v.count) + " " + std::string(gguf_value_type_name(v.elem_type)) +
                      " elements, more than the " + std::to_string(remaining()) + " bytes left in the file can hold");
        }
        if (v.elem_type == GgufValueType::STRING) {
          for (std::uint64_t k = 0; k < v.count; k++) string(what + "[" + std::to_string(k) + "]");
        } else if (v.elem_type == GgufValueType::ARRAY) {
          for (std::uint64_t k = 0; k < v.count; k++) {
            value(GgufValueType::ARRAY, what + "[" + std::to_string(k) + "]", depth + 1);
          }
        } else if (v.elem_type == GgufValueType::BOOL) {
          for (std::uint64_t k = 0; k < v.count; k++) value(GgufValueType::BOOL, what + "[" + std::to_string(k) + "]", depth + 1);
        } else {
          skip(std::size_t(v.count) * min_bytes, what);
        }
        break;
      }
    }
    return v;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  const std::string& path_;
  std::size_t offset_;
};

std::string quoted(std::string_view s) {
  // Names from the file go into messages: keep them short and printable.
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < 80; i++) {
    const char c = s[i];
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  if (s.size() > 80) out += "...";
  return out + "\"";
}

}  // namespace

// --- parsing ---------------------------------------------------------------------------

GgufFile::GgufFile(const std::uint8_t* data, std::size_t size, std::string path)
    : path_(std::move(path)), data_(data), size_(size) {
  Reader r(data_, size_, path_);
  r.need(24, "GGUF header");
  if (std::memcmp(data_, "GGUF", 4) != 0) throw Error(path_ + ": not a GGUF file (magic is not \"GGUF\")");
  r.skip(4, "magic");
  version_ = r.read<std::uint32_t>("version");
  if (version_ != 2 && version_ != 3) {
    std::string hint = version_ == 1 ? " (version 1 files are obsolete: convert them again with llama.cpp)"
                       : (version_ & 0xFFFF) == 0 ? " (a big-endian GGUF?)"
                                                  : "";
    throw Error(path_ + ": GGUF header field version = " + std::to_string(version_) + ", expected 2 or 3" + hint);
  }
  const std::uint64_t tensor_count = r.read<std::uint64_t>("tensor_count");
  const std::uint64_t kv_count = r.read<std::uint64_t>("metadata_kv_count");
  // Smallest possible entries: a key/value is an 8-byte key length, a
  // 1-byte key, a 4-byte type and a 1-byte value; a tensor entry is a name
  // (8 + 1), n_dims 4, one dim 8, type 4 and offset 8.
  if (kv_count > r.remaining() / 14) {
    throw Error(path_ + ": GGUF header field metadata_kv_count = " + std::to_string(kv_count) + " but the " +
                std::to_string(r.remaining()) + " bytes after the header hold at most " +
                std::to_string(r.remaining() / 14));
  }
  if (tensor_count > r.remaining() / 33) {
    throw Error(path_ + ": GGUF header field tensor_count = " + std::to_string(tensor_count) + " but the " +
                std::to_string(r.remaining()) + " bytes after the header hold at most " +
                std::to_string(r.remaining() / 33));
  }

  // --- metadata
  kv_.reserve(std::size_t(kv_count));
  for (std::uint64_t k = 0; k < kv_count; k++) {
    const std::size_t at = r.offset();
    const std::string what = "metadata entry " + std::to_string(k);
    std::string_view key = r.string(what + " key");
    if (key.empty()) throw Error(path_ + ": " + what + " at offset " + std::to_string(at) + " has an empty key");
    const std::string key_what = "metadata " + quoted(key);
    GgufValueType t = r.value_type(key_what + " value type");
    GgufValue v = r.value(t, key_what, 0);
    if (!kv_index_.emplace(key, kv_.size()).second) {
      throw Error(path_ + ": metadata key " + quoted(key) + " appears twice (second at offset " +
                  std::to_string(at) + ")");
    }
    kv_.emplace_back(key, v);
  }

  if (const GgufValue* a = find("general.alignment")) {
    if (a->type != GgufValueType::UINT32) {
      throw Error(path_ + ": metadata \"general.alignment\" is a " + std::string(gguf_value_type_name(a->type)) +
                  ", expected uint32");
    }
    if (a->u == 0 || (a->u & (a->u - 1)) != 0) {
      throw Error(path_ + ": metadata \"general.alignment\" = " + std::to_string(a->u) +
                  ", expected a non-zero power of two");
    }
    alignment_ = std::size_t(a->u);
  } else {
    alignment_ = kDefaultAlignment;
  }

  // --- tensor table
  tensors_.reserve(std::size_t(tensor_count));
  for (std::uint64_t k = 0; k < tensor_count; k++) {
    const std::size_t at = r.offset();
    GgufTensorInfo t;
    t.name = r.string("tensor " + std::to_string(k) + " name");
    const std::string what = "tensor " + quoted(t.name) + " (entry " + std::to_string(k) + " at offset " +
                             std::to_string(at) + ")";
    if (t.name.empty()) throw Error(path_ + ": " + what + " has an empty name");
    t.n_dims = r.read<std::uint32_t>(what + " n_dims");
    if (t.n_dims < 1 || t.n_dims > 4) {
      throw Error(path_ + ": " + what + " has n_dims = " + std::to_string(t.n_dims) + ", expected 1 to 4");
    }
    std::size_t n_elements = 1;
    for (std::uint32_t d = 0; d < t.n_dims; d++) {
      t.ne[d] = r.read<std::uint64_t>(what + " dimension " + std::to_string(d));
      if (t.ne[d] == 0 || t.ne[d] > (std::uint64_t(1) << 62)) {
        throw Error(path_ + ": " + what + " has dimension " + std::to_string(d) + " = " + std::to_string(t.ne[d]) +
                    ", expected a value in [1, 2^62]");
      }
      n_elements = checked_mul(n_elements, std::size_t(t.ne[d]), path_ + ": " + what + " element count");
    }
    t.ggml_type = r.read<std::uint32_t>(what + " type");
    if (!weight_type_of(t.ggml_type, &t.type)) {
      throw Error(path_ + ": " + what + " has type " + ggml_type_name(t.ggml_type) +
                  ", which is not supported (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, "
                  "Q3_K, Q4_K, Q5_K, Q6_K)");
    }
    const BlockLayout layout = block_layout(t.type);
    if (t.ne[0] % layout.block_size != 0) {
      throw Error(path_ + ": " + what + " has rows of " + std::to_string(t.ne[0]) + " values, not a multiple of " +
                  std::to_string(layout.block_size) + ", the block size of " +
                  std::string(weight_type_name(t.type)));
    }
    t.n_bytes = checked_mul(n_elements / layout.block_size, layout.block_bytes, path_ + ": " + what + " byte size");
    t.offset = r.read<std::uint64_t>(what + " offset");
    if (!tensor_index_.emplace(t.name, tensors_.size()).second) {
      throw Error(path_ + ": " + what + ": a tensor of this name appears earlier in the table");
    }
    tensors_.push_back(t);
  }

  // --- data section
  const std::size_t table_end = r.offset();
  data_offset_ = checked_add(table_end, alignment_ - 1, path_ + ": data section offset") / alignment_ * alignment_;
  for (GgufTensorInfo& t : tensors_) {
    const std::string what = path_ + ": tensor " + quoted(t.name);
    if (t.offset % alignment_ != 0) {
      throw Error(what + " has offset " + std::to_string(t.offset) + ", not a multiple of the alignment " +
                  std::to_string(alignment_));
    }
    const std::size_t begin = checked_add(data_offset_, std::size_t(t.offset), what + " position");
    const std::size_t end = checked_add(begin, t.n_bytes, what + " end");
    if (end > size_) {
      throw Error(what + " needs bytes [" + std::to_string(begin) + ", " + std::to_string(end) +
                  ") but the file has " + std::to_string(size_) + " bytes (truncated file?)");
    }
    // The kernels read F32 as floats and everything else as uint16 fields.
    const std::size_t elem_align = t.type == WeightType::F32 ? 4 : 2;
    if (begin % elem_align != 0) {
      throw Error(what + " starts at offset " + std::to_string(begin) + ", not aligned to " +
                  std::to_string(elem_align) + " bytes");
    }
    t.data = data_ + begin;
  }
  // No two tensors may share bytes.
  std::vector<const GgufTensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const GgufTensorInfo& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (std::size_t k = 1; k < by_offset.size(); k++) {
    const GgufTensorInfo& a = *by_offset[k - 1];
    const GgufTensorInfo& b = *by_offset[k];
    if (a.offset + a.n_bytes > b.offset) {
      throw Error(path_ + ": tensors " + quoted(a.name) + " (offset " + std::to_string(a.offset) + ", " +
                  std::to_string(a.n_bytes) + " bytes) and " + quoted(b.name) + " (offset " +
                  std::to_string(b.offset) + ") overlap");
    }
  }
}

// --- metadata access ----------------------------------------------------------------------

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {

[[noreturn]] void missing_key(const std::string& path, std::string_view key) {
  throw Error(path + ": metadata key " + quoted(key) + " is missing");
}

[[noreturn]] void wrong_type(const std::string& path, std::string_view key, const GgufValue& v, const char* expected) {
  throw Error(path + ": metadata " + quoted(key) + " is a " + std::string(gguf_value_type_name(v.type)) +
              ", expected " + expected);
}

}  // namespace

std::uint64_t GgufFile::get_uint(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) missing_key(path_, key);
  switch (v->type) {
    case GgufValueType::UINT8:
    case GgufValueType::UINT16:
    case GgufValueType::UINT32:
    case GgufValueType::UINT64: return v->u;
    case GgufValueType::INT8:
    case GgufValueType::INT16:
    case GgufValueType::INT32:
    case GgufValueType::INT64:
      if (v->i < 0) {
        throw Error(path_ + ": metadata " + quoted(key) + " = " + std::to_string(v->i) + ", expected a non-negative value");
      }
      return std::uint64_t(v->i);
    default: wrong_type(path_, key, *v, "an integer");
  }
}

std::uint64_t GgufFile::get_uint(std::string_view key, std::uint64_t fallback) const {
  return find(key) ? get_uint(key) : fallback;
}

double GgufFile::get_float(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) missing_key(path_, key);
  if (v->type != GgufValueType::FLOAT32 && v->type != GgufValueType::FLOAT64) wrong_type(path_, key, *v, "a float32");
  return v->f;
}

double GgufFile::get_float(std::string_view key, double fallback) const {
  return find(key) ? get_float(key) : fallback;
}

bool GgufFile::get_bool(std::string_view key, bool fallback) const {
  const GgufValue* v = find(key);
  if (!v) return fallback;
  if (v->type != GgufValueType::BOOL) wrong_type(path_, key, *v, "a bool");
  return v->u != 0;
}

std::string_view GgufFile::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) missing_key(path_, key);
  if (v->type != GgufValueType::STRING) wrong_type(path_, key, *v, "a string");
  return v->str;
}

const GgufValue& GgufFile::get_array(std::string_view key, GgufValueType elem) const {
  const GgufValue* v = find(key);
  if (!v) missing_key(path_, key);
  const std::string expected = "an array of " + std::string(gguf_value_type_name(elem));
  if (v->type != GgufValueType::ARRAY) wrong_type(path_, key, *v, expected.c_str());
  if (v->elem_type != elem) {
    throw Error(path_ + ": metadata " + quoted(key) + " is an array of " +
                std::string(gguf_value_type_name(v->elem_type)) + ", expected " + expected);
  }
  return *v;
}

std::vector<std::string_view> GgufFile::get_string_array(std::string_view key) const {
  const GgufValue& v = get_array(key, GgufValueType::STRING);
  // Walked once already by the parser: every length is known to fit.
  std::vector<std::string_view> out;
  out.reserve(std::size_t(v.count));
  Reader r(data_, size_, path_, std::size_t(v.elems - data_));
  for (std::uint64_t k = 0; k < v.count; k++) out.push_back(r.string("string array element"));
  return out;
}

}  // namespace llama2

// The safetensors reader (safetensors.hpp explains the format).
#include "formats/safetensors.hpp"

#include <algorithm>
#include <cstring>

#include "formats/checked_math.hpp"
#include "formats/json.hpp"
#include "llama2/error.hpp"

namespace llama2 {

namespace {

std::uint64_t read_u64_le(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

// Our type for a safetensors dtype; refuses the others by name.
WeightType weight_type_of(const std::string& dtype, const std::string& where) {
  if (dtype == "F32") return WeightType::F32;
  if (dtype == "F16") return WeightType::F16;
  if (dtype == "BF16") return WeightType::BF16;
  static const char* kKnown[] = {"F64", "I64", "I32", "I16", "I8", "U8", "U16", "U32", "U64", "BOOL",
                                 "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64"};
  const bool known = std::find(std::begin(kKnown), std::end(kKnown), dtype) != std::end(kKnown);
  throw Error(where + ": dtype " + json::quote(dtype) + (known ? " is not supported" : " is not a safetensors dtype") +
              ", expected F32, F16 or BF16");
}

}  // namespace

bool looks_like_safetensors(const std::uint8_t* data, std::size_t size) {
  if (size < 9) return false;
  const std::uint64_t n = read_u64_le(data);
  return n >= 2 && n <= size - 8 && data[8] == '{';
}

SafetensorsFile::SafetensorsFile(std::shared_ptr<const MappedFile> file) : file_(std::move(file)) {
  const std::string& path = file_->path();
  const std::uint8_t* base = file_->data();
  const std::size_t size = file_->size();
  if (size < 8) {
    throw Error(path + ": " + std::to_string(size) + " bytes, too short for a safetensors file (8-byte header length)");
  }
  const std::uint64_t header_len = read_u64_le(base);
  if (header_len > kMaxSafetensorsHeader) {
    throw Error(path + ": safetensors header length = " + std::to_string(header_len) + " bytes, more than the limit of " +
                std::to_string(kMaxSafetensorsHeader));
  }
  if (header_len > size - 8) {
    throw Error(path + ": safetensors header length = " + std::to_string(header_len) + " bytes, past the end of the " +
                std::to_string(size) + "-byte file");
  }
  const std::string_view text(reinterpret_cast<const char*>(base + 8), std::size_t(header_len));
  if (text.empty() || text[0] != '{') {
    throw Error(path + ": the safetensors header does not start with '{': expected a JSON object");
  }
  json::Limits limits;
  limits.max_bytes = kMaxSafetensorsHeader;
  limits.max_depth = 8;
  limits.max_values = std::size_t(1) << 20;  // ~8 per tensor: far more than any checkpoint
  const json::Value header = json::parse(text, path + ": safetensors header", limits);
  const std::string what_header = path + ": safetensors header";
  const std::vector<std::string>& names = header.keys(what_header);
  const std::vector<json::Value>& entries = header.values(what_header);

  const std::uint8_t* buffer = base + 8 + header_len;
  const std::size_t buffer_size = size - 8 - std::size_t(header_len);
  tensors_.reserve(names.size());
  for (std::size_t i = 0; i < names.size(); i++) {
    const json::Value& e = entries[i];
    if (names[i] == "__metadata__") {
      const std::string where = path + ": \"__metadata__\"";
      const auto& keys = e.keys(where);
      const auto& values = e.values(where);
      for (std::size_t k = 0; k < keys.size(); k++) {
        metadata_.emplace_back(keys[k], values[k].as_string(where + " field " + json::quote(keys[k])));
      }
      continue;
    }
    const std::string where = path + ": tensor " + json::quote(names[i]);
    for (const std::string& key : e.keys(where)) {
      if (key != "dtype" && key != "shape" && key != "data_offsets") {
        throw Error(where + ": unknown field " + json::quote(key) + ", expected dtype, shape and data_offsets");
      }
    }
    SafetensorsTensor t;
    t.name = names[i];
    t.dtype = e.at("dtype", where).as_string(where + " dtype");
    t.type = weight_type_of(t.dtype, where);
    const std::size_t elem_bytes = t.type == WeightType::F32 ? 4 : 2;

    const auto& shape = e.at("shape", where).as_array(where + " shape");
    if (shape.size() > 8) {
      throw Error(where + ": shape has " + std::to_string(shape.size()) + " dimensions, expected at most 8");
    }
    std::size_t n_elements = 1;
    for (std::size_t d = 0; d < shape.size(); d++) {
      const std::int64_t dim = shape[d].as_int(where + " shape[" + std::to_string(d) + "]", 0, INT64_MAX);
      t.shape.push_back(std::uint64_t(dim));
      n_elements = checked_mul(n_elements, std::size_t(dim), where + " shape");
    }
    t.n_elements = n_elements;
    const std::size_t n_bytes = checked_mul(n_elements, elem_bytes, where + " shape");

    const auto& offsets = e.at("data_offsets", where).as_array(where + " data_offsets");
    if (offsets.size() != 2) {
      throw Error(where + ": data_offsets has " + std::to_string(offsets.size()) + " numbers, expected 2 [begin, end]");
    }
    const std::uint64_t begin = std::uint64_t(offsets[0].as_int(where + " data_offsets[0]", 0, INT64_MAX));
    const std::uint64_t end = std::uint64_t(offsets[1].as_int(where + " data_offsets[1]", 0, INT64_MAX));
    const std::string range = "data_offsets = [" + std::to_string(begin) + ", " + std::to_string(end) + "]";
    if (end < begin) throw Error(where + ": " + range + " ends before it begins");
    if (end > buffer_size) {
      throw Error(where + ": " + range + " ends past the file's " + std::to_string(buffer_size) +
                  "-byte data buffer (the file is truncated or the offsets are wrong)");
    }
    if (end - begin != n_bytes) {
      throw Error(where + ": " + range + " holds " + std::to_string(end - begin) + " bytes, but dtype " + t.dtype +
                  " x shape " + std::to_string(n_elements) + " elements = " + std::to_string(n_bytes) + " bytes");
    }
    t.data = buffer + begin;
    t.n_bytes = n_bytes;
    if (reinterpret_cast<std::uintptr_t>(t.data) % elem_bytes != 0) {
      throw Error(where + ": data at file offset " + std::to_string(8 + header_len + begin) + " is not aligned to " +
                  std::to_string(elem_bytes) + " bytes (the header length " + std::to_string(header_len) +
                  " should be padded to a multiple of 8)");
    }
    tensors_.push_back(std::move(t));
  }

  // The tensors must tile the buffer: sorted by offset, each begins where the
  // previous ends, and the last ends at the end of the file.
  std::vector<const SafetensorsTensor*> by_offset;
  for (const SafetensorsTensor& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](const SafetensorsTensor* a, const SafetensorsTensor* b) {
    return a->data != b->data ? a->data < b->data : a->n_bytes < b->n_bytes;
  });
  std::size_t expected = 0;
  const SafetensorsTensor* prev = nullptr;
  for (const SafetensorsTensor* t : by_offset) {
    const std::size_t begin = std::size_t(t->data - buffer);
    if (begin < expected) {
      throw Error(path + ": tensor " + json::quote(t->name) + " (data_offsets begin " + std::to_string(begin) +
                  ") overlaps tensor " + json::quote(prev->name) + " (which ends at " + std::to_string(expected) + ")");
    }
    if (begin > expected) {
      throw Error(path + ": bytes [" + std::to_string(expected) + ", " + std::to_string(begin) +
                  ") of the data buffer belong to no tensor (before tensor " + json::quote(t->name) +
                  "); safetensors files have no gaps");
    }
    expected = begin + t->n_bytes;
    prev = t;
  }
  if (expected != buffer_size) {
    throw Error(path + ": the tensors end at byte " + std::to_string(expected) + " of the data buffer, but it has " +
                std::to_string(buffer_size) + " bytes (trailing data)");
  }
}

const SafetensorsTensor* SafetensorsFile::find(std::string_view name) const {
  for (const SafetensorsTensor& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace llama2

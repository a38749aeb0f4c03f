#include "llama2/kv_cache.hpp"

#include <cstring>
#include <string>

#include "kernels/fp16.hpp"
#include "llama2/error.hpp"

namespace llama2 {

std::string_view kv_type_name(KvType type) { return type == KvType::F16 ? "f16" : "f32"; }

KvType parse_kv_type(std::string_view name) {
  if (name == "f32") return KvType::F32;
  if (name == "f16") return KvType::F16;
  throw Error("unknown KV cache type '" + std::string(name) + "' (expected f32 or f16)");
}

// new[] without value-initialization: the pages stay untouched (and not
// resident) until a position is stored.
KvCache::KvCache(const Config& c, KvType type)
    : type_(type),
      n_kv_heads_(std::size_t(c.n_kv_heads)),
      seq_len_(std::size_t(c.seq_len)),
      head_size_(std::size_t(c.head_size())),
      n_elements_(std::size_t(c.n_layers) * c.n_kv_heads * c.seq_len * c.head_size()),
      keys_(new std::uint8_t[n_elements_ * element_size()]),
      values_(new std::uint8_t[n_elements_ * element_size()]) {}

void KvCache::store(std::size_t layer, std::size_t kv_head, std::size_t pos, const float* key, const float* value) {
  std::uint8_t* k = keys_.get() + offset(layer, kv_head, pos);
  std::uint8_t* v = values_.get() + offset(layer, kv_head, pos);
  if (type_ == KvType::F32) {
    std::memcpy(k, key, head_size_ * sizeof(float));
    std::memcpy(v, value, head_size_ * sizeof(float));
    return;
  }
  auto* k16 = reinterpret_cast<std::uint16_t*>(k);
  auto* v16 = reinterpret_cast<std::uint16_t*>(v);
  for (std::size_t i = 0; i < head_size_; i++) {
    k16[i] = fp32_to_fp16(key[i]);
    v16[i] = fp32_to_fp16(value[i]);
  }
}

void KvCache::load_f32(std::size_t layer, std::size_t kv_head, std::size_t n_pos, float* keys, float* values) const {
  const std::size_t n = n_pos * head_size_;
  if (type_ == KvType::F32) {
    std::memcpy(keys, this->keys(layer, kv_head), n * sizeof(float));
    std::memcpy(values, this->values(layer, kv_head), n * sizeof(float));
    return;
  }
  const auto* k16 = static_cast<const std::uint16_t*>(this->keys(layer, kv_head));
  const auto* v16 = static_cast<const std::uint16_t*>(this->values(layer, kv_head));
  for (std::size_t i = 0; i < n; i++) {
    keys[i] = fp16_to_fp32(k16[i]);
    values[i] = fp16_to_fp32(v16[i]);
  }
}

}  // namespace llama2

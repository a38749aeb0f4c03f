// KvCache: the keys and values of every position a Transformer has run, so
// that each new token attends to the whole context without recomputing it.
//
// Layout: (n_layers, n_kv_heads, seq_len, head_size), so the keys (or the
// values) of one head are one contiguous run of seq_len rows that attention
// streams through. Elements are fp32 (exact) or IEEE half (KvType::F16, as
// llama.cpp stores them by default): half the memory, and half the bytes
// attention reads per token, which is what bounds generation deep in a long
// context (a 7B model at position 4000 reads 4.2 GB of fp32 cache per token,
// more than its Q4_0 weights).
//
// Memory is reserved for the whole context but not touched: pages become
// resident as positions are written, so the process's RSS grows with the
// context actually used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "llama2/config.hpp"

namespace llama2 {

enum class KvType { F32, F16 };

// "f32" / "f16"; parse_kv_type throws llama2::Error on anything else.
std::string_view kv_type_name(KvType type);
KvType parse_kv_type(std::string_view name);

class KvCache {
 public:
  KvCache(const Config& c, KvType type);

  KvType type() const { return type_; }
  std::size_t head_size() const { return head_size_; }
  std::size_t bytes() const { return 2 * n_elements_ * element_size(); }
  std::size_t element_size() const { return type_ == KvType::F16 ? 2 : 4; }

  // Stores the key and value (head_size floats each) of one kv head at one
  // position, converted to type().
  void store(std::size_t layer, std::size_t kv_head, std::size_t pos, const float* key, const float* value);

  // The keys / values of one kv head: (seq_len, head_size) elements of
  // type() (float or std::uint16_t); rows past the last stored position are
  // unset.
  const void* keys(std::size_t layer, std::size_t kv_head) const { return keys_.get() + offset(layer, kv_head, 0); }
  const void* values(std::size_t layer, std::size_t kv_head) const {
    return values_.get() + offset(layer, kv_head, 0);
  }

  // The same rows, writable: a saved session's state is copied back here
  // byte for byte (session_state.cpp).
  void* mutable_keys(std::size_t layer, std::size_t kv_head) { return keys_.get() + offset(layer, kv_head, 0); }
  void* mutable_values(std::size_t layer, std::size_t kv_head) { return values_.get() + offset(layer, kv_head, 0); }
  std::size_t seq_len() const { return seq_len_; }
  std::size_t n_kv_heads() const { return n_kv_heads_; }

  // Rows [0, n_pos) of one kv head as fp32: keys and values (n_pos, head_size) each.
  void load_f32(std::size_t layer, std::size_t kv_head, std::size_t n_pos, float* keys, float* values) const;

 private:
  // Byte offset of row (layer, kv_head, pos).
  std::size_t offset(std::size_t layer, std::size_t kv_head, std::size_t pos) const {
    return ((layer * n_kv_heads_ + kv_head) * seq_len_ + pos) * head_size_ * element_size();
  }

  KvType type_;
  std::size_t n_kv_heads_, seq_len_, head_size_, n_elements_;
  std::unique_ptr<std::uint8_t[]> keys_;    // (n_layers, n_kv_heads, seq_len, head_size) elements
  std::unique_ptr<std::uint8_t[]> values_;  // same layout
};

}  // namespace llama2

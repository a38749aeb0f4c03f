// A saved session's file: what Session::save writes and Session::load reads.
//
// All integers little-endian, laid out in this order:
//   magic        8 bytes  "LL2SESS\0"
//   version      u32      kSessionStateVersion (a newer file is refused)
//   kv_type      u32      0 = f32, 1 = f16: the KV cache's element type
//   model_fp     u64      model_fingerprint() of the model that made it
//   tokenizer_fp u64      tokenizer_fingerprint() of its tokenizer
//   n_layers, n_kv_heads, head_size, vocab_size, context   u32 each
//   n_tokens     u32      tokens of the sequence (in the cache, then pending)
//   n_past       u32      positions in the KV cache (<= n_tokens)
//   flags        u32      bit 0: the next text loses its leading spaces (chat)
//   rng_state    u64      the sampler's RNG state
//   tokens       n_tokens x i32
//   kv           for each layer, each kv head: the keys of positions
//                [0, n_past), then their values: n_past x head_size
//                elements of kv_type each
//   checksum     u64      FNV-1a 64 of every byte before it
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "llama2/kv_cache.hpp"

namespace llama2 {

inline constexpr std::uint32_t kSessionStateVersion = 1;

struct SessionState {
  std::uint32_t version = kSessionStateVersion;
  KvType kv_type = KvType::F32;
  std::uint64_t model_fingerprint = 0;
  std::uint64_t tokenizer_fingerprint = 0;
  std::uint32_t n_layers = 0, n_kv_heads = 0, head_size = 0, vocab_size = 0, context = 0;
  std::uint32_t n_past = 0;
  std::uint32_t flags = 0;
  std::uint64_t rng_state = 0;
  std::vector<int> tokens;        // (n_tokens)
  std::vector<std::uint8_t> kv;   // (n_layers, n_kv_heads, 2, n_past, head_size) elements of kv_type
};

// FNV-1a 64 of `bytes`, continuing from `hash`.
std::uint64_t fnv1a(std::span<const std::uint8_t> bytes, std::uint64_t hash = 0xcbf29ce484222325ull);

std::vector<std::uint8_t> serialize_session_state(const SessionState& state);
// Parses and checks a file's bytes (`name` is the file, for messages): the
// magic, the version, the sizes against each other and the file's length,
// the checksum, token ids against vocab_size. Throws llama2::Error naming the
// file, the field and the values.
SessionState parse_session_state(std::span<const std::uint8_t> bytes, const std::string& name);

}  // namespace llama2

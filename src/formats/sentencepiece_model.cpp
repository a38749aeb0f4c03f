// SentencePiece's tokenizer.model: a ModelProto (sentencepiece_model.proto)
// in the protobuf wire format (protobuf.hpp), read field by field.
//
//   ModelProto        1 pieces (repeated SentencePiece), 2 trainer_spec,
//                     3 normalizer_spec, 4 self_test_data (skipped),
//                     5 denormalizer_spec
//   SentencePiece     1 piece (string), 2 score (float, default 0),
//                     3 type (enum: 1 NORMAL (default), 2 UNKNOWN, 3 CONTROL,
//                     4 USER_DEFINED, 5 UNUSED, 6 BYTE)
//   TrainerSpec       what we read (proto default when absent):
//                     3 model_type (1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR; UNIGRAM),
//                     35 byte_fallback (false), 24 treat_whitespace_as_suffix
//                     (false), 40 unk_id (0), 41 bos_id (1), 42 eos_id (2),
//                     44 unk_surface (" ⁇ "). The other fields (the training
//                     corpus, vocab_size, split_digits, ...) say how the
//                     pieces were made, not how text is encoded with them.
//   NormalizerSpec    1 name, 2 precompiled_charsmap, 3 add_dummy_prefix
//                     (true), 4 remove_extra_whitespaces (true),
//                     5 escape_whitespaces (true), 6 normalization_rule_tsv
//
// Our Tokenizer implements what Llama-2's model uses: BPE by piece score
// with byte fallback, the dummy-prefix space (on or off), spaces escaped as
// '▁', no normalization (name "identity", no charsmap, no rules) and no
// whitespace squeezing. Any other value of those settings, and pieces of
// type USER_DEFINED (which SentencePiece matches before BPE), are refused by
// name and value rather than tokenized differently from SentencePiece.
#include "formats/sentencepiece_model.hpp"

#include <string_view>

#include "formats/json.hpp"
#include "formats/protobuf.hpp"
#include "llama2/error.hpp"

namespace llama2 {

namespace {

using protobuf::Field;
using protobuf::Reader;

constexpr std::size_t kMaxPieces = std::size_t(1) << 24;  // as validate_config's vocab_size bound

const char* type_name(int t) {
  static const char* kNames[] = {"?", "NORMAL", "UNKNOWN", "CONTROL", "USER_DEFINED", "UNUSED", "BYTE"};
  return t >= 1 && t <= 6 ? kNames[t] : "?";
}

std::string_view as_view(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

void read_piece(const Field& outer, const std::string& path, std::size_t index, Vocab& v) {
  Reader r(outer.bytes, outer.payload_offset, path + ": piece " + std::to_string(index));
  std::string piece;
  bool has_piece = false;
  float score = 0.0f;
  std::int64_t type = 1;
  Field f;
  while (r.next(f)) {
    switch (f.number) {
      case 1: piece = std::string(r.as_bytes(f, "piece")); has_piece = true; break;
      case 2: score = r.as_float(f, "score"); break;
      case 3: type = r.as_int32(f, "type"); break;
      default: break;  // unknown fields are skipped, as protobuf does
    }
  }
  const std::string where = path + ": piece " + std::to_string(index);
  if (!has_piece || piece.empty()) throw Error(where + " (at byte " + std::to_string(outer.offset) + ") has no text");
  if (type < 1 || type > 6) {
    throw Error(where + " " + json::quote(piece) + ": type = " + std::to_string(type) +
                ", expected a SentencePiece piece type in [1, 6]");
  }
  if (type == int(TokenType::USER_DEFINED)) {
    throw Error(where + " " + json::quote(piece) +
                ": type USER_DEFINED is not supported (SentencePiece matches such pieces before BPE)");
  }
  v.pieces.push_back(std::move(piece));
  v.scores.push_back(score);
  v.types.push_back(TokenType(type));
}

struct Settings {
  std::int64_t model_type = 1;  // UNIGRAM, the proto default
  bool byte_fallback = false;
  bool whitespace_as_suffix = false;
  std::int64_t unk_id = 0, bos_id = 1, eos_id = 2;
  std::string unk_surface = " \xE2\x81\x87 ";
  bool add_dummy_prefix = true;
};

void read_trainer(const Field& outer, const std::string& path, Settings& s) {
  Reader r(outer.bytes, outer.payload_offset, path + ": trainer_spec");
  Field f;
  while (r.next(f)) {
    switch (f.number) {
      case 3: s.model_type = r.as_int32(f, "model_type"); break;
      case 24: s.whitespace_as_suffix = r.as_bool(f, "treat_whitespace_as_suffix"); break;
      case 35: s.byte_fallback = r.as_bool(f, "byte_fallback"); break;
      case 40: s.unk_id = r.as_int32(f, "unk_id"); break;
      case 41: s.bos_id = r.as_int32(f, "bos_id"); break;
      case 42: s.eos_id = r.as_int32(f, "eos_id"); break;
      case 44: s.unk_surface = std::string(r.as_bytes(f, "unk_surface")); break;
      default: break;  // training-only settings
    }
  }
}

// A normalizer (or denormalizer) must be the identity; add_dummy_prefix is
// the one setting we implement both ways.
void read_normalizer(const Field& outer, const std::string& path, const char* spec, Settings& s, bool denormalizer) {
  const std::string what = path + ": " + spec;
  Reader r(outer.bytes, outer.payload_offset, what);
  Field f;
  bool remove_extra_whitespaces = true, escape_whitespaces = true;
  while (r.next(f)) {
    switch (f.number) {
      case 1: {
        const std::string_view name = r.as_bytes(f, "name");
        if (!name.empty() && name != "identity") {
          throw Error(what + ".name = " + json::quote(name) +
                      ": only \"identity\" (no normalization) is supported, as Llama-2 uses");
        }
        break;
      }
      case 2:
        if (!r.as_bytes(f, "precompiled_charsmap").empty()) {
          throw Error(what + ".precompiled_charsmap has " + std::to_string(f.bytes.size()) +
                      " bytes: normalization rules are not supported (expected none)");
        }
        break;
      case 3:
        if (!denormalizer) s.add_dummy_prefix = r.as_bool(f, "add_dummy_prefix");
        break;
      case 4: remove_extra_whitespaces = r.as_bool(f, "remove_extra_whitespaces"); break;
      case 5: escape_whitespaces = r.as_bool(f, "escape_whitespaces"); break;
      case 6:
        if (!r.as_bytes(f, "normalization_rule_tsv").empty()) {
          throw Error(what + ".normalization_rule_tsv is not empty: normalization rules are not supported");
        }
        break;
      default: break;
    }
  }
  if (denormalizer) return;
  if (remove_extra_whitespaces) {
    throw Error(what + ".remove_extra_whitespaces = true (the default when absent): not supported, expected false "
                       "(as Llama-2)");
  }
  if (!escape_whitespaces) {
    throw Error(what + ".escape_whitespaces = false: not supported, expected true (spaces as U+2581)");
  }
}

}  // namespace

bool looks_like_sentencepiece_model(const std::uint8_t* data, std::size_t size) {
  return size >= 4 && data[0] == 0x0A && data[1] != 0 && data[2] == 0x0A;
}

Vocab load_sentencepiece_vocab(const std::uint8_t* data, std::size_t size, const std::string& path) {
  Reader r(as_view(data, size), 0, path + ": ModelProto");
  Vocab v;
  Settings s;
  bool has_trainer = false, has_normalizer = false;
  Field f;
  while (r.next(f)) {
    switch (f.number) {
      case 1:
        r.expect(f, protobuf::LEN, "pieces");
        if (v.pieces.size() >= kMaxPieces) {
          throw Error(path + ": more than " + std::to_string(kMaxPieces) + " pieces");
        }
        read_piece(f, path, v.pieces.size(), v);
        break;
      case 2:
        r.expect(f, protobuf::LEN, "trainer_spec");
        read_trainer(f, path, s);
        has_trainer = true;
        break;
      case 3:
        r.expect(f, protobuf::LEN, "normalizer_spec");
        read_normalizer(f, path, "normalizer_spec", s, false);
        has_normalizer = true;
        break;
      case 5:
        r.expect(f, protobuf::LEN, "denormalizer_spec");
        read_normalizer(f, path, "denormalizer_spec", s, true);
        break;
      default: break;  // self_test_data, extensions
    }
  }
  if (v.pieces.empty()) throw Error(path + ": no pieces (ModelProto field 1), expected a SentencePiece model");
  if (!has_trainer) throw Error(path + ": no trainer_spec (ModelProto field 2): cannot tell the model type");
  if (!has_normalizer) {
    throw Error(path + ": no normalizer_spec (ModelProto field 3): its defaults (remove_extra_whitespaces) are not "
                       "supported");
  }

  static const char* kModelTypes[] = {"?", "UNIGRAM", "BPE", "WORD", "CHAR"};
  if (s.model_type != 2) {
    const char* name = s.model_type >= 1 && s.model_type <= 4 ? kModelTypes[s.model_type] : "unknown";
    throw Error(path + ": trainer_spec.model_type = " + name + " (" + std::to_string(s.model_type) +
                "): only BPE (2) is supported");
  }
  if (!s.byte_fallback) {
    throw Error(path + ": trainer_spec.byte_fallback = false: not supported, expected true (unknown characters as "
                       "<0xNN> byte pieces, as Llama-2)");
  }
  if (s.whitespace_as_suffix) {
    throw Error(path + ": trainer_spec.treat_whitespace_as_suffix = true: not supported, expected false");
  }
  if (s.unk_surface != " \xE2\x81\x87 ") {
    throw Error(path + ": trainer_spec.unk_surface = " + json::quote(s.unk_surface) +
                ": not supported, expected \" \\xe2\\x81\\x87 \" (\" ⁇ \")");
  }

  const std::int64_t n = std::int64_t(v.pieces.size());
  auto special = [&](const char* field, std::int64_t id, TokenType want) {
    if (id < 0 || id >= n) {
      throw Error(path + ": trainer_spec." + field + " = " + std::to_string(id) + ", expected a piece id in [0, " +
                  std::to_string(n) + ")");
    }
    const TokenType got = v.types[std::size_t(id)];
    if (got != want) {
      throw Error(path + ": trainer_spec." + field + " = " + std::to_string(id) + " is piece " +
                  json::quote(v.pieces[std::size_t(id)]) + " of type " + type_name(int(got)) + ", expected " +
                  type_name(int(want)));
    }
    return int(id);
  };
  v.unk_id = special("unk_id", s.unk_id, TokenType::UNKNOWN);
  v.bos_id = special("bos_id", s.bos_id, TokenType::CONTROL);
  v.eos_id = special("eos_id", s.eos_id, TokenType::CONTROL);

  // Byte fallback needs all 256 byte pieces, each spelled <0xNN>.
  int n_bytes = 0;
  for (std::size_t i = 0; i < v.pieces.size(); i++) {
    if (v.types[i] != TokenType::BYTE) continue;
    const std::string& p = v.pieces[i];
    auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
    if (p.size() != 6 || p.compare(0, 3, "<0x") != 0 || !hex(p[3]) || !hex(p[4]) || p[5] != '>') {
      throw Error(path + ": piece " + std::to_string(i) + " " + json::quote(p) +
                  " has type BYTE, expected it spelled <0xNN>");
    }
    n_bytes++;
  }
  if (n_bytes != 256) {
    throw Error(path + ": " + std::to_string(n_bytes) +
                " pieces of type BYTE, expected 256 (<0x00> .. <0xFF>) for byte fallback");
  }
  v.add_bos = true;
  v.add_space_prefix = s.add_dummy_prefix;
  return v;
}

Vocab load_sentencepiece_vocab(const MappedFile& file) {
  return load_sentencepiece_vocab(file.data(), file.size(), file.path());
}

}  // namespace llama2

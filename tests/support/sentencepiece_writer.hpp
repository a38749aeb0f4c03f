// SentencePiece models written by the tests and the fuzz seeds: a small
// protobuf encoder (sharing nothing with src/formats/protobuf.cpp) and a
// small model shaped like Llama-2's.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace llama2::test {

struct Proto {
  std::string b;
  Proto& varint(std::uint64_t v) {
    do {
      b += char((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
      v >>= 7;
    } while (v);
    return *this;
  }
  Proto& key(int field, int wire) { return varint(std::uint64_t(field) << 3 | std::uint64_t(wire)); }
  Proto& num(int field, std::int64_t v) { return key(field, 0).varint(std::uint64_t(v)); }
  Proto& str(int field, const std::string& s) {
    key(field, 2).varint(s.size());
    b += s;
    return *this;
  }
  Proto& msg(int field, const Proto& m) { return str(field, m.b); }
  Proto& f32(int field, float f) {
    key(field, 5);
    std::uint32_t bits;
    std::memcpy(&bits, &f, 4);
    for (int i = 0; i < 4; i++) b += char(bits >> (8 * i));
    return *this;
  }
};

inline Proto piece(const std::string& text, float score, int type) {
  Proto p;
  p.str(1, text).f32(2, score);
  if (type != 1) p.num(3, type);  // NORMAL is the default: not written, as SentencePiece does
  return p;
}

// A small model like Llama-2's: <unk> <s> </s>, 256 bytes, a few pieces.
struct SmallModel {
  std::vector<Proto> pieces;
  Proto trainer, normalizer;
  SmallModel() {
    pieces.push_back(piece("<unk>", 0, 2));
    pieces.push_back(piece("<s>", 0, 3));
    pieces.push_back(piece("</s>", 0, 3));
    for (int b = 0; b < 256; b++) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      pieces.push_back(piece(name, 0, 6));
    }
    int i = 0;
    for (const char* p : {"\xE2\x96\x81t", "he", "\xE2\x96\x81the", "h", "e", "t", "\xE2\x96\x81"}) {
      pieces.push_back(piece(p, -float(i++), 1));
    }
    trainer.num(3, 2).num(4, 266).num(35, 1).num(40, 0).num(41, 1).num(42, 2).num(43, -1);
    normalizer.str(1, "identity").str(2, "").num(3, 1).num(4, 0);
  }
  std::string bytes() const {
    Proto m;
    for (const Proto& p : pieces) m.msg(1, p);
    m.msg(2, trainer).msg(3, normalizer);
    return m.b;
  }
};

}  // namespace llama2::test

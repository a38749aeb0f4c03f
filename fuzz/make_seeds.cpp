// Writes small valid seed files for the fuzz targets (our own synthetic
// models, never downloaded ones):
//   make_fuzz_seeds DIR   ->  DIR/gguf/*, DIR/llama2c/*, DIR/tokenizer/*, DIR/json/*,
//                             DIR/safetensors/*, DIR/sentencepiece/*, DIR/session/*, DIR/compress/*
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "formats/gguf_writer.hpp"
#include "llama2/model.hpp"
#include "llama2/tokenizer.hpp"
#include "llama2/compressor.hpp"
#include "llama2/session.hpp"
#include "fuzz_models.hpp"
#include "support/gguf_builder.hpp"
#include "support/hf_writer.hpp"
#include "support/sentencepiece_writer.hpp"
#include "support/synthetic_model.hpp"

namespace fs = std::filesystem;
using namespace llama2;

static std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_seeds DIR\n");
    return 2;
  }
  const fs::path dir = argv[1];
  for (const char* sub : {"gguf", "llama2c", "tokenizer", "json", "safetensors", "sentencepiece"}) fs::create_directories(dir / sub);
  const Config c = test::make_config(32, 64, 1, 4, 2, 12, 8, false);
  const test::SyntheticWeights w = test::make_weights(c, 1);
  const std::string l = (dir / "llama2c").string();
  test::write_llama2c_v0(l + "/v0.bin", w);
  test::write_llama2c_v1(l + "/v1.bin", w);
  test::write_llama2c_v2(l + "/v2.bin", w, 32);
  const std::string tok = (dir / "tokenizer").string();
  test::write_tokenizer_bin(tok + "/small.tok", c.vocab_size);
  test::write_tokenizer_bin(tok + "/bytes.tok", 270);
  // Tokenizer inputs: uint16 length, tokenizer.bin, text.
  for (const char* name : {"small", "bytes"}) {
    const std::string t = slurp(tok + "/" + name + ".tok");
    std::string in = {char(t.size() & 0xFF), char(t.size() >> 8)};
    in += t + "hello world \xE2\x96\x81 abc \xC3\xA9\xFF";
    std::ofstream(tok + "/" + name + ".in", std::ios::binary) << in;
    fs::remove(tok + "/" + name + ".tok");
  }
  const std::string g = (dir / "gguf").string();
  test::llama_gguf_f32(w).write(g + "/f32.gguf");
  test::write_tokenizer_bin(g + "/t.tok", c.vocab_size);
  const Vocab vocab = Tokenizer::load(g + "/t.tok").vocab();
  fs::remove(g + "/t.tok");
  const Model m = Model::load(l + "/v1.bin");
  for (WeightType t : {WeightType::F16, WeightType::BF16, WeightType::Q8_0, WeightType::Q4_0}) {
    write_llama_gguf(m, vocab, t, g + "/" + std::string(weight_type_name(t)) + ".gguf");
  }
  test::GgufBuilder v;
  test::add_small_tokenizer(v, 300);
  v.write(g + "/vocab.gguf");
  // JSON texts like the ones checkpoints come with (config.json, a
  // safetensors header), with escapes, unicode and every kind of value.
  const std::string js = (dir / "json").string();
  std::ofstream(js + "/config.json") << R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 4096,
 "rms_norm_eps": 1e-05, "rope_scaling": null, "tie_word_embeddings": false, "rope_theta": 10000.0})";
  std::ofstream(js + "/header.json") << R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]}})";
  std::ofstream(js + "/strings.json") << R"(["a\"b\\c\/\b\f\n\r\t", "\u00e9\ud83d\ude00", "héllo ✓", -0.5E-3, [[[]]], {}])";
  // HF inputs: uint16 length, config.json, model.safetensors (F32, BF16
  // sharing nothing but the shape; tied and not).
  for (const char* dtype : {"F32", "BF16"}) {
    Config hc = test::make_config(16, 24, 1, 4, 2, 10, 8, std::string(dtype) == "BF16");
    const test::SyntheticWeights hw = test::make_weights(hc, 3);
    const std::string hf = (dir / "safetensors" / dtype).string();
    test::HfFolderOptions o;
    o.dtype = dtype;
    test::write_hf_folder(hf, hw, o);
    const std::string cfg = slurp(hf + "/config.json"), st = slurp(hf + "/model.safetensors");
    std::string in = {char(cfg.size() & 0xFF), char(cfg.size() >> 8)};
    std::ofstream(hf + ".in", std::ios::binary) << in + cfg + st;
    fs::remove_all(hf);
  }
  // SentencePiece inputs: uint16 length, tokenizer.model, text.
  {
    const std::string spm = test::SmallModel().bytes();
    std::string in = {char(spm.size() & 0xFF), char(spm.size() >> 8)};
    std::ofstream((dir / "sentencepiece" / "small.in").string(), std::ios::binary) << in + spm + "the hex \xC3\xA9!";
  }
  // A saved session and compressed streams of the tiny engine (fuzz_models.hpp).
  const fuzz::TinyEngine& e = fuzz::tiny_engine();
  fs::create_directories(dir / "session");
  fs::create_directories(dir / "compress");
  SessionParams sp;
  sp.n_threads = 1;
  for (KvType kv : {KvType::F32, KvType::F16}) {
    sp.kv_type = kv;
    Session s(e.model, e.tokenizer, sp);
    s.append_text("abc", true);
    s.generate({.max_tokens = 3}, [](int, std::string_view) { return true; });
    s.save((dir / "session" / (std::string(kv_type_name(kv)) + ".session")).string());
  }
  Session(e.model, e.tokenizer, SessionParams{.n_threads = 1}).save((dir / "session" / "empty.session").string());  // no KV bytes
  Transformer transformer(e.model, 1);
  Compressor compressor(transformer, *e.tokenizer, fuzz::kTinyModelFingerprint, fuzz::kTinyTokenizerFingerprint);
  int n = 0;
  for (const char* text : {"", "a", "abc de fab", "\xC3\xA9\xFF\x00 bytes", "a long one: abcdefabcdefabcdef"}) {
    std::ofstream(dir / "compress" / ("s" + std::to_string(n++) + ".l2cz"), std::ios::binary)
        << compressor.compress(std::string_view(text, std::strlen(text)));
  }
  std::printf("seeds written to %s\n", dir.c_str());
  return 0;
}

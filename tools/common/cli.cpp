#include "cli.hpp"

#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <new>
#include <sstream>

#include "llama2/error.hpp"

namespace llama2::cli {

int run_main(const char* program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s: %s (see '%s --help')\n", program, e.message.c_str(), program);
    return 2;
  } catch (const llama2::Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "%s: error: out of memory\n", program);
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return 1;
  }
}

std::string read_file(const std::string& path, std::string_view what) {
  std::ostringstream contents;
  if (path == "-") {
    contents << std::cin.rdbuf();
    return std::move(contents).str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw llama2::Error(path + ": cannot open the " + std::string(what));
  contents << in.rdbuf();
  if (in.bad()) throw llama2::Error(path + ": read error");
  return std::move(contents).str();
}

std::string json_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      (out += '\\') += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

std::string tokenizer_path(const llama2::Model& model, const std::string& z) {
  if (!z.empty()) return z;
  if (model.format() == llama2::ModelFormat::HF || model.format() == llama2::ModelFormat::SAFETENSORS) {
    std::filesystem::path dir(model.path());
    if (model.format() == llama2::ModelFormat::SAFETENSORS) dir = dir.parent_path().empty() ? "." : dir.parent_path();
    std::error_code ec;
    return std::filesystem::exists(dir / "tokenizer.model", ec) ? (dir / "tokenizer.model").string() : dir.string();
  }
  if (model.format() != llama2::ModelFormat::GGUF) {
    throw UsageError{"missing -z TOKENIZER: a llama2.c checkpoint has no vocabulary"};
  }
  return model.path();
}

}  // namespace llama2::cli

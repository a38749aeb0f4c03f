// What the programs in tools/ share besides their option tables
// (options.hpp): the one way every program reports errors, reading an input
// file, JSON strings, and finding a model's tokenizer.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "llama2/model.hpp"

namespace llama2::cli {

// Bad command-line usage (unknown flag, missing or malformed value). Programs
// print it with a usage hint and exit 2; llama2::Error exits 1.
struct UsageError {
  std::string message;
};

// Runs body(); prints a UsageError as the one line
//   "PROGRAM: message (see 'PROGRAM --help')"   and returns 2,
// llama2::Error and other exceptions as "PROGRAM: error: message" and returns 1.
int run_main(const char* program, const std::function<int()>& body);

// The bytes of a file, as they are; "-" reads stdin. Throws llama2::Error
// "PATH: cannot open the WHAT" or "PATH: read error".
std::string read_file(const std::string& path, std::string_view what = "input file");

// `s` with '"', '\\' and control characters escaped, for inside a JSON string.
std::string json_escape(std::string_view s);

// Where the vocabulary of `model` is: -z's file if given, else the model
// itself if it is a GGUF, the tokenizer.model of a Hugging Face folder (of
// the folder a .safetensors file is in; the folder itself when it has none,
// so that Tokenizer::load says what is missing); a llama2.c checkpoint
// without -z is a UsageError.
std::string tokenizer_path(const llama2::Model& model, const std::string& z);

}  // namespace llama2::cli

// The checkpoint readers behind Model::load, one per file format.
#pragma once

#include <memory>
#include <string>

#include "llama2/mapped_file.hpp"
#include "llama2/model.hpp"

namespace llama2 {

// llama2.c v0, v1 and v2 (llama2c_checkpoint.cpp).
Model load_llama2c_checkpoint(std::shared_ptr<MappedFile> file);

// GGUF, architecture "llama" (gguf_model.cpp).
Model load_gguf_model(std::shared_ptr<MappedFile> file);

// Hugging Face Llama (hf_model.cpp): a folder (single_file == nullptr), or
// one .safetensors file at `path` whose config.json is beside it.
Model load_hf_model(const std::string& path, std::shared_ptr<MappedFile> single_file);

}  // namespace llama2

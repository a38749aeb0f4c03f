// The checkpoint readers behind Model::load, one per file format.
#pragma once

#include <memory>

#include "llama2/mapped_file.hpp"
#include "llama2/model.hpp"

namespace llama2 {

// llama2.c v0, v1 and v2 (llama2c_checkpoint.cpp).
Model load_llama2c_checkpoint(std::shared_ptr<MappedFile> file);

// GGUF, architecture "llama" (gguf_model.cpp).
Model load_gguf_model(std::shared_ptr<MappedFile> file);

}  // namespace llama2

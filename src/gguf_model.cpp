// Placeholder until the GGUF reader lands (issue: GGUF).
#include "checkpoint_readers.hpp"
#include "llama2/error.hpp"

namespace llama2 {

Model load_gguf_model(std::shared_ptr<MappedFile> file) {
  throw Error(file->path() + ": GGUF files are not supported yet");
}

}  // namespace llama2

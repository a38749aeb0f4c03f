// generate: the smallest program that uses the llama2 library. Loads a model
// and its tokenizer, feeds the prompt, then samples STEPS tokens and streams
// them to stdout, as llama2.c's run.c does (STEPS counts the prompt too).
//
//   generate stories15M.bin tokenizer.bin "Once upon a time" 200 0.8
#include <charconv>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

#include "llama2/error.hpp"
#include "llama2/sampler.hpp"
#include "llama2/tokenizer.hpp"
#include "llama2/transformer.hpp"

template <typename T>
static T parse(const char* text, const char* what) {
  T value{};
  std::string s(text);
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) throw llama2::Error(std::string("bad ") + what + " '" + s + "'");
  return value;
}

int main(int argc, char** argv) {
  const char* usage = "usage: generate MODEL TOKENIZER [PROMPT] [STEPS=256] [TEMPERATURE=1.0]\n";
  if (argc == 2 && (std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help")) return std::cout << usage, 0;
  if (argc < 3 || argc > 6) return std::cerr << usage, 1;
  try {
    llama2::Transformer transformer(argv[1]);
    llama2::Tokenizer tokenizer = llama2::Tokenizer::load(argv[2]);
    int steps = argc > 4 ? parse<int>(argv[4], "STEPS") : 256;
    if (steps <= 0 || steps > transformer.config().seq_len) steps = transformer.config().seq_len;
    llama2::SamplerParams params;
    params.temperature = argc > 5 ? parse<float>(argv[5], "TEMPERATURE") : 1.0f;
    params.seed = static_cast<std::uint64_t>(std::time(nullptr));
    llama2::Sampler sampler(transformer.config().vocab_size, params);

    std::vector<int> tokens = tokenizer.encode(argc > 3 ? argv[3] : "", /*bos=*/true, /*eos=*/false);
    std::vector<float> logits;  // (vocab_size) a copy the sampler may modify
    llama2::Utf8Stream out;     // never print half a UTF-8 character
    for (int pos = 0; pos < steps; pos++) {
      int token = tokens[pos];
      auto next_logits = transformer.forward(token, pos);
      if (pos + 1 >= static_cast<int>(tokens.size())) {  // past the prompt: sample
        logits.assign(next_logits.begin(), next_logits.end());
        tokens.push_back(sampler.sample(logits, tokens));
      }
      if (tokens[pos + 1] == tokenizer.bos_id()) break;  // llama2.c models end a story with BOS
      std::cout << out.push(tokenizer.decode(token, tokens[pos + 1])) << std::flush;
    }
    std::cout << out.flush() << "\n";
  } catch (const llama2::Error& e) {
    std::cerr << "generate: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

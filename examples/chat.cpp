// chat: a multi-turn chat over one Session, the way a program embeds the
// library: the whole transcript is given to the session each turn
// (Session::set_tokens), so only the new tokens run (prefix reuse); each
// answer ends at a stop string ("\nUser:") that is never printed; Ctrl-C
// cancels the answer in progress, not the program.
//
//   printf 'Hello\nTell me more\n' | chat model.bin tokenizer.bin
//   chat model.bin tokenizer.bin --no-reuse   (re-runs the transcript each turn)
//
// After each answer, stderr says how many prompt tokens that turn ran.
#include <csignal>
#include <iostream>
#include <memory>
#include <string>

#include "llama2/error.hpp"
#include "llama2/model.hpp"
#include "llama2/session.hpp"
#include "llama2/tokenizer.hpp"

namespace {
llama2::Session* g_session = nullptr;
extern "C" void on_sigint(int) {
  if (g_session) g_session->cancel();  // an atomic store: safe in a signal handler
}
}  // namespace

int main(int argc, char** argv) {
  const char* usage = "usage: chat MODEL TOKENIZER [--no-reuse] [--max-tokens N]\n";
  if (argc == 2 && (std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help")) return std::cout << usage, 0;
  if (argc < 3) return std::cerr << usage, 1;
  bool reuse = true;
  int max_tokens = 80;
  for (int i = 3; i < argc; i++) {
    const std::string a = argv[i];
    if (a == "--no-reuse") {
      reuse = false;
    } else if (a == "--max-tokens" && i + 1 < argc) {
      max_tokens = std::atoi(argv[++i]);
    } else {
      return std::cerr << usage, 1;
    }
  }
  try {
    auto model = std::make_shared<const llama2::Model>(llama2::Model::load(argv[1]));
    auto tokenizer = std::make_shared<const llama2::Tokenizer>(llama2::Tokenizer::load(argv[2]));
    llama2::SessionParams params;
    params.sampling.temperature = 0.0f;  // greedy: the same chat every time
    llama2::Session session(model, tokenizer, params);
    g_session = &session;
    std::signal(SIGINT, on_sigint);

    std::string transcript;  // "User: ...\nAssistant: ...\n" turn after turn
    std::string line;
    for (int turn = 1; std::cout << "User: " << std::flush, std::getline(std::cin, line); turn++) {
      transcript += "User: " + line + "\nAssistant:";
      std::vector<int> tokens = tokenizer->encode(transcript, /*bos=*/true, /*eos=*/false);
      if (tokens.size() + 2 > std::size_t(session.context())) {
        std::cerr << "chat: the conversation fills the context\n";
        break;
      }
      if (!reuse) session.clear();  // forget the cache: the whole transcript runs again
      const std::int64_t before = session.positions_run();
      session.set_tokens(tokens);
      const std::int64_t prompt_run = session.positions_run() - before;

      std::string answer;
      llama2::GenerateOptions options;
      options.max_tokens = max_tokens;
      options.max_positions = 0;
      options.stop = {"\nUser:", "\n\n"};
      std::cout << "Assistant:";
      const llama2::StopReason why = session.generate(options, [&](int, std::string_view text) {
        std::cout << text << std::flush;
        answer += text;
        return true;
      });
      std::cout << "\n";
      transcript += answer + "\n";
      std::cerr << "[turn " << turn << ": " << prompt_run << " prompt tokens run, " << tokens.size()
                << " in the transcript; stopped: " << llama2::stop_reason_name(why) << "]\n";
    }
    g_session = nullptr;
    return 0;
  } catch (const llama2::Error& e) {
    std::cerr << "chat: " << e.what() << "\n";
    return 1;
  }
}

// run: generate text from a prompt, or chat, with a Llama-2 model, as
// llama2.c's `run` does (same flags, same output), plus a few more sampling
// knobs and the --probs teaching view.
//
//   build/run stories15M.bin -i "Once upon a time" -n 200
//   build/run llama-2-7b-chat.bin -m chat -y "You are terse."
//
// Text streams to stdout; everything else (achieved tok/s, notes, --probs)
// goes to stderr, so `run ... > story.txt` keeps just the text.
// Exit status: 0 ok, 1 bad model/tokenizer/prompt (llama2::Error), 2 bad usage.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <utility>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli.hpp"
#include "llama2/error.hpp"
#include "llama2/generate.hpp"
#include "llama2/model.hpp"
#include "llama2/sampler.hpp"
#include "llama2/session.hpp"
#include "llama2/tokenizer.hpp"
#include "options.hpp"

namespace {

namespace cli = llama2::cli;

struct Options {
  std::string model_path;
  std::optional<std::string> tokenizer_path;
  std::string prompt;
  std::optional<std::string> system_prompt;
  bool chat = false;         // -m chat; else generate
  std::optional<int> steps;  // default: 256 cut to the context (as llama2.c); chat: the whole context
  int context = 0;
  llama2::KvType kv_type = llama2::KvType::F32;
  int threads = 0;  // 0: one per core
  int probs_k = 0;
  std::optional<std::uint64_t> seed;
  llama2::SamplerParams sampling;
  std::vector<std::string> stops;        // --stop, repeatable
  std::vector<std::string> logit_biases;  // --logit-bias ID(+|-)BIAS, repeatable
  std::optional<std::string> save_session, load_session;
};

// "ID+BIAS" / "ID-BIAS" (llama.cpp's --logit-bias): BIAS is a number or inf.
std::pair<int, float> parse_logit_bias(const std::string& arg) {
  const cli::UsageError bad{"--logit-bias: expected ID+BIAS or ID-BIAS (e.g. 13+2.5, 2-inf), got '" + arg + "'"};
  const std::size_t sign = arg.find_first_of("+-");
  if (sign == 0 || sign == std::string::npos || sign + 1 == arg.size()) throw bad;
  for (std::size_t i = 0; i < sign; i++) {
    if (!std::isdigit(static_cast<unsigned char>(arg[i]))) throw bad;
  }
  const std::string id_text = arg.substr(0, sign), bias_text = arg.substr(sign + 1);
  if (id_text.size() > 9) throw bad;
  float bias = 0.0f;
  if (bias_text == "inf") {
    bias = std::numeric_limits<float>::infinity();
  } else {
    char* end = nullptr;
    bias = std::strtof(bias_text.c_str(), &end);
    if (end != bias_text.c_str() + bias_text.size() || !std::isfinite(bias) || !std::isdigit(static_cast<unsigned char>(bias_text[0]))) throw bad;
  }
  return {std::stoi(id_text), arg[sign] == '-' ? -bias : bias};
}

cli::Program command_line(Options& opt) {
  using llama2::KvType;
  llama2::SamplerParams& s = opt.sampling;
  return {
      .name = "run",
      .about =
          "Generates text from a prompt (or chats) with a Llama-2 model: a llama2.c\n"
          "checkpoint (v0/v1/v2 .bin) or a GGUF file. Text goes to stdout; the speeds\n"
          "('prompt: ... tok/s; generation: ... tok/s' and llama2.c's 'achieved tok/s'),\n"
          "notes and --probs go to stderr.",
      .positionals = {{"MODEL", "the model file", cli::text(opt.model_path)}},
      .options =
          {
              {"-i", "--prompt", "TEXT", "the prompt (default: none; the model starts from BOS)",
               cli::text(opt.prompt)},
              {"-n", "--steps", "N",
               "positions to run, the prompt's included (default 256, or\n"
               "the context if smaller; chat: the whole context);\n"
               "0 = the whole context; more than the context is an error",
               cli::integer(opt.steps, 0, "a number of steps >= 0 (0: the whole context)")},
              {"-t", "--temperature", "T", "0 = greedy (argmax), 1 = the model's distribution (default 1.0)",
               cli::number(s.temperature, "a temperature >= 0", [](float t) { return t >= 0; })},
              {"-p", "--top-p", "P", "nucleus sampling, in (0, 1]; 1 = off (default 0.9)",
               cli::number(s.top_p, "a number in (0, 1]", [](float p) { return p > 0 && p <= 1; })},
              {"-k", "--top-k", "K", "keep the K most likely tokens; 0 = off (default 0)",
               cli::integer(s.top_k, 0, "an integer >= 0 (0: off)")},
              {"", "--min-p", "P", "drop tokens less likely than P * the top one, in [0, 1) (default 0)",
               cli::number(s.min_p, "a number in [0, 1)", [](float p) { return p >= 0 && p < 1; })},
              {"", "--repeat-penalty", "R", "> 1 discourages recently seen tokens; 1 = off (default 1)",
               cli::number(s.repeat_penalty, "a number > 0", [](float r) { return r > 0; })},
              {"", "--repeat-last-n", "N", "how many recent tokens the penalty looks at (default 64)",
               cli::integer(s.repeat_last_n, 0, "an integer >= 0")},
              {"-s", "--seed", "S",
               "random seed, an integer >= 0 (default: the current time);\n"
               "the same seed gives the same text (unlike llama2.c, 0 is a seed too)",
               cli::integer(opt.seed, 0, "an integer >= 0")},
              {"-z", "--tokenizer", "FILE",
               "tokenizer.bin (default: tokenizer.bin beside MODEL;\n"
               "for a GGUF model, the vocabulary in MODEL itself)",
               cli::text(opt.tokenizer_path)},
              {"-m", "--mode", "MODE", "generate (default) or chat",
               cli::choice(opt.chat, {{"generate", false}, {"chat", true}})},
              {"-y", "--system", "TEXT", "chat: the system prompt", cli::text(opt.system_prompt)},
              {"-c", "--context", "N",
               "cap the context (and the KV cache) at N positions;\n"
               "0 = the model's (default)",
               cli::integer(opt.context, 0, "a context length >= 0 (0: the model's)")},
              {"", "--kv-type", "T",
               "KV cache element type: f32 (default, exact) or f16 (half the\n"
               "memory, and faster deep in a long context)",
               cli::choice(opt.kv_type, {{"f32", KvType::F32}, {"f16", KvType::F16}})},
              {"", "--threads", "N", "worker threads, >= 1 (default: one per core)",
               cli::integer(opt.threads, 1, "a number of threads >= 1")},
              {"", "--probs", "K",
               "teaching view: before each sampled token, print to stderr\n"
               "the K most likely next tokens and their probabilities\n"
               "(softmax at the temperature, before top-p/top-k), e.g.\n"
               "  [probs] ' mat' 0.912 | ' floor' 0.043 | ' bed' 0.011\n"
               "a piece is quoted with \\n, \\t, \\xNN escapes; a control\n"
               "token is shown by name (</s>)",
               cli::integer(opt.probs_k, 0, "a number of tokens >= 0")},
              {"", "--stop", "STRING",
               "end the generation (chat: the answer) when the text reaches\n"
               "STRING, without printing it; repeatable (use $'\\n' for a newline)",
               cli::append(opt.stops)},
              {"", "--logit-bias", "ID(+|-)BIAS",
               "add BIAS to token ID's logit before sampling; ID-inf bans\n"
               "the token; repeatable (as llama.cpp's)",
               cli::append(opt.logit_biases)},
              {"", "--save-session", "FILE",
               "when done, save the session (tokens, KV cache, RNG state) to\n"
               "FILE; the final newline is then not printed",
               cli::text(opt.save_session)},
              {"", "--load-session", "FILE",
               "continue a saved session: only the new text is printed; -i,\n"
               "if given, is appended to it; -n counts all its positions",
               cli::text(opt.load_session)},
          },
      .notes =
          "Generation (as llama2.c) prints the prompt, then the sampled text, then a newline;\n"
          "it stops when the model samples EOS or BOS, after -n positions, or when the\n"
          "context is full (a note on stderr says so).\n"
          "\n"
          "Chat uses Llama-2-chat's format ([INST] ... [/INST], <<SYS>> for the system\n"
          "prompt) over one KV cache. Each line of stdin is one user turn (blank lines are\n"
          "skipped); EOF ends the chat. 'User: ' and 'Assistant: ' are printed to stdout\n"
          "whether or not stdin is a terminal, so a scripted chat reads the same. -i gives\n"
          "the first turn; the system prompt comes only from -y (llama2.c asks for it on\n"
          "stdin). -n bounds the whole conversation, as in llama2.c; when the next turn\n"
          "or an answer does not fit, the chat ends with a note on stderr.\n"
          "\n"
          "A generation stopped by -n and saved with --save-session, then continued\n"
          "with --load-session and a larger -n, prints exactly the rest of what one\n"
          "uninterrupted run with the same seed prints (the RNG state is saved too);\n"
          "a chat is continued the same way. Loading needs the same model, tokenizer\n"
          "and --kv-type.\n"
          "\n"
          "Exit status: 0 ok, 1 bad model, tokenizer or prompt, 2 bad usage.\n",
  };
}

// --- output ------------------------------------------------------------------------

void write_stdout(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

// A piece as the --probs view shows it: quoted, with escapes for what would
// not be visible; control tokens (which decode to nothing) by their name.
std::string show_piece(const llama2::Tokenizer& tokenizer, int prev, int id) {
  std::string text = tokenizer.decode(prev, id);
  if (text.empty()) return tokenizer.piece(id);
  std::string out = "'";
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == '\n') out += "\\n";
    else if (ch == '\t') out += "\\t";
    else if (ch == '\r') out += "\\r";
    else if (ch == '\'' || ch == '\\') (out += '\\') += ch;
    else if (c < 0x20 || c == 0x7f || (c >= 0x80 && text.size() == 1)) {  // a lone byte >= 0x80 is no character
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "'";
}

void print_probs(const llama2::Tokenizer& tokenizer, int prev, const std::vector<llama2::TokenProb>& probs) {
  std::string line = "[probs]";
  for (std::size_t i = 0; i < probs.size(); i++) {
    char p[32];
    std::snprintf(p, sizeof p, " %.3f", double(probs[i].prob));
    line += (i ? " | " : " ") + show_piece(tokenizer, prev, probs[i].id) + p;
  }
  line += "\n";
  std::fputs(line.c_str(), stderr);
}

// The two speeds a user feels: known tokens (the prompt, chat turns) run as
// batches, then each generated token; then llama2.c's own figure.
void print_speed(const llama2::GenerateStats& stats) {
  const int generated = stats.generated_tokens;
  auto rate = [](int n, double s) { return s > 0 ? n / s : 0.0; };
  std::fprintf(stderr, "prompt: %d tokens, %.2f tok/s; generation: %d tokens, %.2f tok/s\n", stats.prompt_tokens,
               rate(stats.prompt_tokens, stats.prompt_seconds), generated, rate(generated, stats.generation_seconds));
  if (stats.tokens_per_second > 0) std::fprintf(stderr, "achieved tok/s: %f\n", stats.tokens_per_second);
}

// --- main ----------------------------------------------------------------------------

int run_main(int argc, char** argv) {
  Options opt;
  if (!cli::parse(command_line(opt), argc, argv)) return 0;  // --help
  if (opt.system_prompt && !opt.chat) throw cli::UsageError{"-y/--system is only for -m chat"};

  std::vector<std::pair<int, float>> biases;
  for (const std::string& arg : opt.logit_biases) biases.push_back(parse_logit_bias(arg));

  // One copy of the weights, shared (a program may run many sessions on it).
  auto model = std::make_shared<const llama2::Model>(llama2::Model::load(opt.model_path));
  const int model_context = model->config().seq_len;
  if (opt.context > model_context) {
    throw llama2::Error("-c " + std::to_string(opt.context) + " is larger than the model's context " +
                        std::to_string(model_context) + " (" + opt.model_path + ")");
  }
  const int context = opt.context > 0 ? opt.context : model_context;
  // llama2.c's default of 256 positions, cut to a smaller context; a chat
  // gets the whole context unless -n says otherwise.
  const int steps = opt.steps ? *opt.steps : opt.chat ? 0 : std::min(256, context);
  if (steps > context) {
    throw llama2::Error("-n " + std::to_string(steps) + " is larger than the " +
                        (opt.context > 0 ? "context " + std::to_string(context) + " set by -c"
                                         : "model's context " + std::to_string(context)) +
                        "; use -n 0 for the whole context");
  }

  // llama2.c checkpoints carry no vocabulary: by default the tokenizer.bin
  // beside them. A GGUF file has its own, an HF folder its tokenizer.model.
  std::string tokenizer_path;
  if (opt.tokenizer_path) {
    tokenizer_path = *opt.tokenizer_path;
  } else if (model->format() != llama2::ModelFormat::LLAMA2C_V0 && model->format() != llama2::ModelFormat::LLAMA2C_V1 &&
             model->format() != llama2::ModelFormat::LLAMA2C_V2) {
    tokenizer_path = cli::tokenizer_path(*model, "");  // a GGUF's own vocab, an HF folder's tokenizer.model
  } else {
    tokenizer_path = (std::filesystem::path(opt.model_path).parent_path() / "tokenizer.bin").string();
  }
  auto shared_tokenizer = std::make_shared<const llama2::Tokenizer>(llama2::Tokenizer::load(tokenizer_path));
  const llama2::Tokenizer& tokenizer = *shared_tokenizer;
  if (tokenizer.vocab_size() != model->config().vocab_size) {
    throw llama2::Error("the tokenizer " + tokenizer_path + " has " + std::to_string(tokenizer.vocab_size()) +
                        " pieces but the model " + opt.model_path + " has vocab_size " +
                        std::to_string(model->config().vocab_size) + "; pass the model's own tokenizer with -z");
  }

  // A prompt that cannot fit is refused before the Session builds its
  // Transformer, which repacks a 7B's weights (seconds). With a loaded
  // session generate() counts the session's tokens too, and a chat ends
  // with a message when a turn outgrows the context.
  if (!opt.chat && !opt.load_session) llama2::check_prompt_fits(tokenizer, opt.prompt, context, steps);

  opt.sampling.seed = opt.seed ? *opt.seed : static_cast<std::uint64_t>(std::time(nullptr));
  llama2::Session session(model, shared_tokenizer,
                          {.n_threads = opt.threads, .context = opt.context, .kv_type = opt.kv_type,
                           .sampling = opt.sampling});
  for (auto [id, bias] : biases) session.sampler().set_logit_bias(id, bias);
  if (opt.load_session) session.load(*opt.load_session);  // its RNG state replaces the seed
  llama2::ProbsCallback on_probs;
  if (opt.probs_k > 0) {
    on_probs = [&](int prev, const std::vector<llama2::TokenProb>& probs) { print_probs(tokenizer, prev, probs); };
  }
  // With --save-session the final newline is left out, so that a continued
  // run's output appends to this one's exactly.
  const char* final_newline = opt.save_session ? "" : "\n";

  if (!opt.chat) {
    llama2::GenerateStats stats =
        llama2::generate(session, opt.prompt, steps, write_stdout, opt.stops, on_probs, opt.probs_k);
    write_stdout(final_newline);
    print_speed(stats);
    if (stats.stop == llama2::StopReason::CONTEXT) {
      std::fprintf(stderr, "run: stopped at the end of the context (%d positions)\n", session.context());
    }
    if (opt.save_session) session.save(*opt.save_session);
    return 0;
  }

  // Chat: one line of stdin per turn. -i, if given, is the first turn.
  bool first_call = true, after_answer = false;
  auto read_turn = [&](std::string& turn) {
    if (after_answer) write_stdout("\n");
    after_answer = false;
    if (first_call && !opt.prompt.empty()) {
      turn = opt.prompt;
    } else {
      do {
        write_stdout("User: ");
        if (!std::getline(std::cin, turn)) return false;  // EOF: the end of the chat
        if (!turn.empty() && turn.back() == '\r') turn.pop_back();
      } while (turn.find_first_not_of(" \t\r\n\f\v") == std::string::npos);
    }
    first_call = false;
    write_stdout("Assistant: ");
    after_answer = true;
    return true;
  };
  llama2::GenerateStats stats = llama2::chat(session, opt.system_prompt.value_or(""), steps, read_turn, write_stdout,
                                             opt.stops, on_probs, opt.probs_k);
  write_stdout(final_newline);
  if (opt.save_session) session.save(*opt.save_session);
  print_speed(stats);
  if (stats.stop == llama2::StopReason::CONTEXT || stats.stop == llama2::StopReason::STEPS) {
    const char* what = stats.stop == llama2::StopReason::CONTEXT ? "the context" : "-n";
    const int limit = stats.stop == llama2::StopReason::CONTEXT ? session.context()
                                                                 : llama2::resolve_steps(session.transformer(), steps);
    if (stats.unfit_turn_tokens > 0) {
      std::fprintf(stderr,
                   "run: chat ended: the conversation outgrew %s (%d positions): the next turn needs %d, "
                   "only %d are left\n",
                   what, limit, stats.unfit_turn_tokens + 1, limit - stats.positions);
    } else {
      std::fprintf(stderr, "run: chat ended: the answer filled %s (%d positions)\n", what, limit);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return llama2::cli::run_main("run", [&] { return run_main(argc, argv); });
}

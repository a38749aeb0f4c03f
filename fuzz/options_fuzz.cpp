// libFuzzer target: the programs' option parser (tools/common/options.cpp).
// The input is an argv, its arguments separated by NUL bytes (a real command
// line cannot hold NUL either). The table has an option of every setter kind
// and a required and an optional positional; any input must end in a parse
// or a UsageError, nothing else.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "options.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace llama2::cli;
  std::vector<std::string> args{"fuzz", ""};
  for (std::size_t i = 0; i < size; i++) {
    if (data[i] == 0) {
      args.emplace_back();
    } else {
      args.back() += char(data[i]);
    }
  }

  std::string model, prompt;
  std::optional<std::string> out;
  bool json = false;
  std::vector<std::string> stops;
  int steps = 0;
  std::optional<int> top_k;
  float temperature = 1.0f;
  double bandwidth = 20.0;
  enum class Kind { A, B } kind = Kind::A;
  std::vector<int> threads;
  const Program program{
      .name = "fuzz",
      .about = "every kind of option",
      .positionals = {{"MODEL", "the model", text(model)}, {"OUT", "the output", text(out), false}},
      .options =
          {
              {"-i", "--prompt", "TEXT", "text", text(prompt)},
              {"", "--json", "", "a flag", flag(json)},
              {"", "--stop", "S", "repeatable", append(stops)},
              {"-n", "--steps", "N", "an int >= 0", integer(steps, 0, "a count >= 0")},
              {"-k", "", "K", "an optional int in [1, 100]", integer(top_k, 1, "1 to 100", 100)},
              {"-t", "", "T", "a float >= 0", number(temperature, "a number >= 0", [](float v) { return v >= 0; })},
              {"", "--bandwidth", "B", "a double > 0", number(bandwidth, "a number > 0", [](double v) { return v > 0; })},
              {"", "--kind", "K", "a or b", choice(kind, {{"a", Kind::A}, {"b", Kind::B}})},
              {"", "--threads", "N", "a list", integer_list(threads, 1, "a thread count >= 1")},
          },
      .notes = "notes\n",
  };
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  bool asks_help = false;
  for (const std::string& a : args) asks_help |= a == "-h" || a == "--help";
  if (asks_help) {
    (void)help_text(program);  // parse() would print it; the text is what it builds
    return 0;
  }
  try {
    parse(program, int(argv.size()), argv.data());
  } catch (const UsageError&) {
  }
  return 0;
}

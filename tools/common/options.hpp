// One option table per program: each program in tools/ declares its options
// and positionals once, and parse() reads argv from the table while
// help_text() prints it.
//
//   Options opt;
//   const cli::Program program{
//       .name = "info",
//       .positionals = {{"MODEL", "a llama2.c checkpoint or a GGUF file", cli::text(opt.model_path)}},
//       .options = {{"", "--json", "", "print one JSON object", cli::flag(opt.json)}},
//   };
//   if (!cli::parse(program, argc, argv)) return 0;  // --help was printed
//
// A value comes after its flag (`-n 5`, even `-t -1`) or, for a long flag,
// after '=' (`--steps=5`). An argument not starting with '-' (or '-' alone,
// stdin) is a positional; after `--` every argument is.
// Errors are UsageError (cli.hpp), "FLAG: expected WHAT, got 'VALUE'" for a
// bad value.
#pragma once

#include <climits>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli.hpp"

namespace llama2::cli {

// Stores a value; `name` is the flag as given ("-n", "--steps") or the
// positional's name, for the messages.
using Setter = std::function<void(std::string_view name, std::string_view value)>;

struct Option {
  std::string_view short_name;  // "-i", or "" for none
  std::string_view long_name;   // "--prompt", or "" for none
  std::string_view value_name;  // "TEXT"; "" for a flag that takes no value
  std::string_view help;        // a '\n' starts a line in the help column
  Setter set;
};

struct Positional {
  std::string_view name;  // "MODEL"
  std::string_view help;
  Setter set;
  bool required = true;  // optional ones come last
};

struct Program {
  std::string_view name;           // "run"
  std::string_view synopsis = {};  // after "usage: run "; "" for the positionals and "[options]"
  std::string_view about = {};     // a paragraph after the usage line (no final newline), or ""
  std::vector<Positional> positionals = {};
  std::vector<Option> options = {};  // -h/--help is added
  std::string_view notes = {};       // free text after the table, ending in a newline, or ""
};

// Reads argv[1..] into the setters. Returns false if -h/--help asked for the
// help, after printing it to stdout. Throws UsageError for "unknown option X",
// "X needs a value", a bad value, a missing or an unexpected positional.
bool parse(const Program& program, int argc, char** argv);

// "usage: ...", the about paragraph, one aligned line per positional and
// option (help continuation lines under the help column), then the notes.
std::string help_text(const Program& program);

// --- setters -------------------------------------------------------------------------

// "FLAG: expected EXPECTED, got 'VALUE'"
UsageError bad_value(std::string_view flag, std::string_view expected, std::string_view value);
// The whole of `value` as an integer / a finite number (else bad_value "an integer" / "a number").
long long parse_int64(std::string_view flag, std::string_view value);
double parse_number(std::string_view flag, std::string_view value, bool as_float);

inline Setter flag(bool& target, bool value = true) {
  return [&target, value](std::string_view, std::string_view) { target = value; };
}

// std::string or std::optional<std::string>; a repeated option keeps the last.
template <class T>
Setter text(T& target) {
  return [&target](std::string_view, std::string_view value) { target = std::string(value); };
}

// A repeatable option: each occurrence adds its value.
inline Setter append(std::vector<std::string>& target) {
  return [&target](std::string_view, std::string_view value) { target.emplace_back(value); };
}

namespace detail {  // the integer type an integer() target holds: T, or the T of a std::optional<T>
template <class T> T stored(T*);
template <class T> T stored(std::optional<T>*);
}  // namespace detail

// An integer in [min, max] into T (an integer type or std::optional of one);
// else bad_value(EXPECTED), or "an integer in the 32-bit range" beyond T.
template <class T>
Setter integer(T& target, long long min, std::string_view expected, long long max = LLONG_MAX) {
  using V = decltype(detail::stored(&target));
  return [&target, min, max, expected](std::string_view name, std::string_view value) {
    const long long v = parse_int64(name, value);
    if (v < min || v > max) throw bad_value(name, expected, value);
    if (std::cmp_less(v, std::numeric_limits<V>::min()) || std::cmp_greater(v, std::numeric_limits<V>::max())) {
      throw bad_value(name, "an integer in the " + std::to_string(8 * sizeof(V)) + "-bit range", value);
    }
    target = static_cast<V>(v);
  };
}

// A comma-separated list of integers, each in [min, max] ("1,2,4"); else
// bad_value(EXPECTED). A repeated option replaces the list.
Setter integer_list(std::vector<int>& target, long long min, std::string_view expected, long long max = INT_MAX);

// A finite number into T (float or double) for which ok(number) holds; else bad_value(EXPECTED).
template <class T, class Ok>
Setter number(T& target, std::string_view expected, Ok ok) {
  return [&target, expected, ok](std::string_view name, std::string_view value) {
    const T v = static_cast<T>(parse_number(name, value, sizeof(T) == sizeof(float)));
    if (!ok(v)) throw bad_value(name, expected, value);
    target = v;
  };
}

// "a, b or c"
std::string one_of(const std::vector<std::string_view>& names);

// One of the named values; else bad_value("f32 or f16").
template <class T>
Setter choice(T& target, std::vector<std::pair<std::string_view, T>> choices) {
  return [&target, choices = std::move(choices)](std::string_view name, std::string_view value) {
    std::vector<std::string_view> names;
    for (const auto& [n, v] : choices) {
      if (n == value) {
        target = v;
        return;
      }
      names.push_back(n);
    }
    throw bad_value(name, one_of(names), value);
  };
}

}  // namespace llama2::cli

#include "options.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace llama2::cli {

namespace {

// Help lines: "  LABEL" padded to the help column; a longer label puts its help on the next line.
constexpr std::size_t kMaxLabel = 28;

// "-i, --prompt TEXT", "-f FILE", "--json"; `paired`: some option has both
// forms, so a long-only one is indented to line up with the long forms.
std::string label(const Option& o, bool paired) {
  std::string s = o.short_name.empty() ? (paired ? "    " : "")
                                       : std::string(o.short_name) + (o.long_name.empty() ? "" : ", ");
  s += o.long_name;
  if (!o.value_name.empty()) (s += ' ') += o.value_name;
  return "  " + s;
}

const Option* find(const std::vector<Option>& options, std::string_view flag) {
  for (const Option& o : options) {
    if ((!o.short_name.empty() && flag == o.short_name) || (!o.long_name.empty() && flag == o.long_name)) return &o;
  }
  return nullptr;
}

// "MODEL IN [OUT]"
std::string positional_names(const Program& program) {
  std::string s;
  for (const Positional& p : program.positionals) {
    if (!s.empty()) s += ' ';
    s += p.required ? std::string(p.name) : "[" + std::string(p.name) + "]";
  }
  return s;
}

// Checks the count of positionals against the table, then stores them.
void set_positionals(const Program& program, const std::vector<std::string_view>& given) {
  const auto& wanted = program.positionals;
  std::size_t required = 0;
  for (const Positional& p : wanted) required += p.required;
  if (given.size() < required || given.size() > wanted.size()) {
    if (wanted.size() > 1) {
      throw UsageError{"expected " + positional_names(program) + ", got " + std::to_string(given.size()) +
                       (given.size() == 1 ? " argument" : " arguments")};
    }
    if (given.empty()) throw UsageError{"missing the " + std::string(wanted[0].name) + " file"};
    std::string message = "unexpected argument " + std::string(given[wanted.size()]);
    if (wanted.size() == 1) {
      std::string noun(wanted[0].name);
      for (char& c : noun) c = char(std::tolower(static_cast<unsigned char>(c)));
      message += " (the " + noun + " is already " + std::string(given[0]) + ")";
    }
    throw UsageError{message};
  }
  for (std::size_t i = 0; i < given.size(); i++) wanted[i].set(wanted[i].name, given[i]);
}

// strto* read all of `s` (up to `end`) and did not skip leading spaces.
bool whole(const std::string& s, const char* end) {
  return !s.empty() && !std::isspace(static_cast<unsigned char>(s[0])) && end == s.c_str() + s.size();
}

}  // namespace

UsageError bad_value(std::string_view flag, std::string_view expected, std::string_view value) {
  return UsageError{std::string(flag) + ": expected " + std::string(expected) + ", got '" + std::string(value) + "'"};
}

long long parse_int64(std::string_view flag, std::string_view value) {
  const std::string s(value);
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (!whole(s, end) || errno != 0) throw bad_value(flag, "an integer", value);
  return v;
}

Setter integer_list(std::vector<int>& target, long long min, std::string_view expected, long long max) {
  return [&target, min, max, expected](std::string_view name, std::string_view value) {
    std::vector<int> list;
    std::size_t at = 0;
    for (;;) {
      const std::size_t comma = value.find(',', at);
      const std::string_view item = value.substr(at, comma == std::string_view::npos ? value.npos : comma - at);
      const long long v = parse_int64(name, item);
      if (v < min || v > max) throw bad_value(name, expected, value);
      list.push_back(int(v));
      if (comma == std::string_view::npos) break;
      at = comma + 1;
    }
    target = std::move(list);
  };
}

double parse_number(std::string_view flag, std::string_view value, bool as_float) {
  const std::string s(value);
  char* end = nullptr;
  errno = 0;
  const double v = as_float ? double(std::strtof(s.c_str(), &end)) : std::strtod(s.c_str(), &end);
  if (!whole(s, end) || errno != 0 || !std::isfinite(v)) throw bad_value(flag, "a number", value);
  return v;
}

std::string one_of(const std::vector<std::string_view>& names) {
  std::string s;
  for (std::size_t i = 0; i < names.size(); i++) {
    if (i > 0) s += i + 1 == names.size() ? " or " : ", ";
    s += names[i];
  }
  return s;
}

bool parse(const Program& program, int argc, char** argv) {
  std::vector<std::string_view> positionals;
  bool only_positionals = false;
  for (int i = 1; i < argc; i++) {
    const std::string_view arg = argv[i];
    if (only_positionals || arg.size() < 2 || arg[0] != '-') {
      positionals.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positionals = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      std::fputs(help_text(program).c_str(), stdout);
      return false;
    }
    // --flag=value
    const std::size_t eq = arg.starts_with("--") ? arg.find('=') : std::string_view::npos;
    const std::string_view flag = arg.substr(0, eq);
    const Option* option = find(program.options, flag);
    if (!option) throw UsageError{"unknown option " + std::string(flag)};
    if (option->value_name.empty()) {
      if (eq != std::string_view::npos) throw UsageError{std::string(flag) + " takes no value"};
      option->set(flag, "");
    } else if (eq != std::string_view::npos) {
      option->set(flag, arg.substr(eq + 1));
    } else {
      if (i + 1 >= argc) throw UsageError{std::string(flag) + " needs a value"};
      option->set(flag, argv[++i]);
    }
  }
  set_positionals(program, positionals);
  return true;
}

std::string help_text(const Program& program) {
  std::string out = "usage: " + std::string(program.name) + " ";
  out += program.synopsis.empty() ? positional_names(program) + " [options]" : std::string(program.synopsis);
  out += "\n\n";
  if (!program.about.empty()) (out += program.about) += "\n\n";

  std::vector<std::pair<std::string, std::string_view>> rows;  // (label, help)
  for (const Positional& p : program.positionals) rows.emplace_back("  " + std::string(p.name), p.help);
  bool paired = false;
  for (const Option& o : program.options) paired |= !o.short_name.empty() && !o.long_name.empty();
  for (const Option& o : program.options) rows.emplace_back(label(o, paired), o.help);
  rows.emplace_back("  -h, --help", "show this help");
  std::size_t column = 0;
  for (const auto& row : rows) column = std::max(column, row.first.size() <= kMaxLabel ? row.first.size() : 0);
  column += 2;
  for (const auto& [l, help] : rows) {
    out += l;
    if (!help.empty()) out += l.size() + 2 > column ? "\n" + std::string(column, ' ') : std::string(column - l.size(), ' ');
    for (char c : help) {
      out += c;
      if (c == '\n') out += std::string(column, ' ');
    }
    out += '\n';
  }
  if (!program.notes.empty()) (out += '\n') += program.notes;
  return out;
}

}  // namespace llama2::cli

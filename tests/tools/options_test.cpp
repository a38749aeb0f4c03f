// The option tables of the programs in tools/ (tools/common/options.hpp):
// every kind of value with its range message, flags as given and with '=',
// positionals, the errors of bad usage, and the generated --help.
#include "options.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llama2::cli {
namespace {

// Parses `args` as argv[1..]; returns what parse() returns.
bool parse_args(const Program& program, std::vector<std::string> args) {
  args.insert(args.begin(), std::string(program.name));
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return parse(program, int(argv.size()), argv.data());
}

// The UsageError message of parsing `args`, or "(none)".
std::string usage_error(const Program& program, const std::vector<std::string>& args) {
  try {
    parse_args(program, args);
  } catch (const UsageError& e) {
    return e.message;
  }
  return "(none)";
}

enum class Kv { F32, F16 };

// A program with every kind of value.
struct Options {
  std::string model;
  std::optional<std::string> prompt;
  bool json = false, bos = true;
  int threads = 0;
  std::optional<int> steps;
  std::optional<std::uint64_t> seed;
  float top_p = 0.9f;
  double bandwidth = 20;
  Kv kv = Kv::F32;
  std::vector<std::string> stops;
};

Program program_of(Options& o) {
  return {
      .name = "prog",
      .positionals = {{"MODEL", "the model", text(o.model)}},
      .options =
          {
              {"-i", "--prompt", "TEXT", "the prompt", text(o.prompt)},
              {"", "--json", "", "JSON", flag(o.json)},
              {"", "--no-bos", "", "no BOS", flag(o.bos, false)},
              {"-t", "--threads", "N", "threads", integer(o.threads, 1, "a thread count >= 1", 64)},
              {"-n", "", "N", "steps", integer(o.steps, 0, "a number of steps >= 0")},
              {"-s", "", "S", "seed", integer(o.seed, 0, "an integer >= 0")},
              {"-p", "", "P", "top-p", number(o.top_p, "a number in (0, 1]", [](float p) { return p > 0 && p <= 1; })},
              {"", "--bandwidth", "B", "GB/s", number(o.bandwidth, "a positive number", [](double b) { return b > 0; })},
              {"", "--kv-type", "T", "KV type", choice(o.kv, {{"f32", Kv::F32}, {"f16", Kv::F16}})},
              {"", "--stop", "TEXT", "stop at TEXT (repeatable)", append(o.stops)},
          },
  };
}

TEST(Options, DefaultsStayWhenNotGiven) {
  Options o;
  ASSERT_TRUE(parse_args(program_of(o), {"m.bin"}));
  EXPECT_EQ(o.model, "m.bin");
  EXPECT_FALSE(o.prompt);
  EXPECT_FALSE(o.json);
  EXPECT_TRUE(o.bos);
  EXPECT_FALSE(o.steps);
  EXPECT_FLOAT_EQ(o.top_p, 0.9f);
  EXPECT_TRUE(o.stops.empty());
}

TEST(Options, EveryKindOfValue) {
  Options o;
  ASSERT_TRUE(parse_args(program_of(o), {"-i", "Once upon", "--json", "m.bin", "--no-bos", "-t", "8", "-n", "0", "-s",
                                         "18446744073", "-p", "0.5", "--bandwidth", "1e3", "--kv-type", "f16"}));
  EXPECT_EQ(o.model, "m.bin");
  EXPECT_EQ(o.prompt, "Once upon");
  EXPECT_TRUE(o.json);
  EXPECT_FALSE(o.bos);
  EXPECT_EQ(o.threads, 8);
  EXPECT_EQ(o.steps, 0);
  EXPECT_EQ(o.seed, 18446744073u);
  EXPECT_FLOAT_EQ(o.top_p, 0.5f);
  EXPECT_DOUBLE_EQ(o.bandwidth, 1000.0);
  EXPECT_EQ(o.kv, Kv::F16);
}

TEST(Options, LongAndShortFormsAndEqualsSign) {
  Options o;
  ASSERT_TRUE(parse_args(program_of(o), {"m.bin", "--prompt=a=b", "--threads", "3"}));
  EXPECT_EQ(o.prompt, "a=b");
  EXPECT_EQ(o.threads, 3);
  ASSERT_TRUE(parse_args(program_of(o), {"m.bin", "--prompt=", "--threads=4"}));
  EXPECT_EQ(o.prompt, "");
  EXPECT_EQ(o.threads, 4);
}

TEST(Options, ValuesMayLookLikeFlags) {
  Options o;
  ASSERT_TRUE(parse_args(program_of(o), {"m.bin", "-i", "-t", "-i", "--json"}));
  EXPECT_EQ(o.prompt, "--json");  // the last one wins
  EXPECT_FALSE(o.json);
  EXPECT_EQ(usage_error(program_of(o), {"m.bin", "-t", "-1"}), "-t: expected a thread count >= 1, got '-1'");
}

TEST(Options, RepeatableOptionKeepsEveryValue) {
  Options o;
  ASSERT_TRUE(parse_args(program_of(o), {"--stop", "a", "m.bin", "--stop", "", "--stop=c"}));
  EXPECT_EQ(o.stops, (std::vector<std::string>{"a", "", "c"}));
}

TEST(Options, BadValuesNameTheFlagWhatWasExpectedAndTheValue) {
  Options o;
  const Program p = program_of(o);
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const Case cases[] = {
      {{"m", "-t", "0"}, "-t: expected a thread count >= 1, got '0'"},
      {{"m", "--threads", "65"}, "--threads: expected a thread count >= 1, got '65'"},
      {{"m", "-t", "2x"}, "-t: expected an integer, got '2x'"},
      {{"m", "-t", ""}, "-t: expected an integer, got ''"},
      {{"m", "-t", " 2"}, "-t: expected an integer, got ' 2'"},
      {{"m", "-t", "99999999999999999999"}, "-t: expected an integer, got '99999999999999999999'"},
      {{"m", "-n", "-1"}, "-n: expected a number of steps >= 0, got '-1'"},
      {{"m", "-n", "3000000000"}, "-n: expected an integer in the 32-bit range, got '3000000000'"},
      {{"m", "-n", "1.5"}, "-n: expected an integer, got '1.5'"},
      {{"m", "-s", "-5"}, "-s: expected an integer >= 0, got '-5'"},
      {{"m", "-p", "0"}, "-p: expected a number in (0, 1], got '0'"},
      {{"m", "-p", "hot"}, "-p: expected a number, got 'hot'"},
      {{"m", "-p", "1e39"}, "-p: expected a number, got '1e39'"},  // beyond float
      {{"m", "-p", "nan"}, "-p: expected a number, got 'nan'"},
      {{"m", "--bandwidth=-3"}, "--bandwidth: expected a positive number, got '-3'"},
      {{"m", "--kv-type", "q8"}, "--kv-type: expected f32 or f16, got 'q8'"},
  };
  for (const Case& c : cases) EXPECT_EQ(usage_error(p, c.args), c.message);
}

TEST(Options, ChoicesAreListedInTheMessage) {
  int n = 0;
  const Program p{.name = "p", .options = {{"-c", "", "C", "", choice(n, {{"one", 1}, {"two", 2}, {"three", 3}})}}};
  EXPECT_EQ(usage_error(p, {"-c", "four"}), "-c: expected one, two or three, got 'four'");
  EXPECT_EQ(usage_error(p, {"-c", "two"}), "(none)");
  EXPECT_EQ(n, 2);
  EXPECT_EQ(one_of({"a"}), "a");
  EXPECT_EQ(one_of({}), "");
}

TEST(Options, UnknownOptionsAndMissingValues) {
  Options o;
  const Program p = program_of(o);
  EXPECT_EQ(usage_error(p, {"m", "--bogus"}), "unknown option --bogus");
  EXPECT_EQ(usage_error(p, {"m", "--bogus=1"}), "unknown option --bogus");
  EXPECT_EQ(usage_error(p, {"m", "-x", "1"}), "unknown option -x");
  EXPECT_EQ(usage_error(p, {"m", "-t=1"}), "unknown option -t=1");  // '=' only after a long flag
  EXPECT_EQ(usage_error(p, {"m", "-t"}), "-t needs a value");
  EXPECT_EQ(usage_error(p, {"m", "--prompt"}), "--prompt needs a value");
  EXPECT_EQ(usage_error(p, {"m", "--json=yes"}), "--json takes no value");
  // Errors come in the order of the arguments.
  EXPECT_EQ(usage_error(p, {"-t", "0", "--bogus"}), "-t: expected a thread count >= 1, got '0'");
}

TEST(Options, OnePositional) {
  Options o;
  const Program p = program_of(o);
  EXPECT_EQ(usage_error(p, {}), "missing the MODEL file");
  EXPECT_EQ(usage_error(p, {"--json"}), "missing the MODEL file");
  EXPECT_EQ(usage_error(p, {"a.bin", "b.bin"}), "unexpected argument b.bin (the model is already a.bin)");
  // '-' alone is a positional (stdin), and so is everything after "--".
  ASSERT_TRUE(parse_args(p, {"-"}));
  EXPECT_EQ(o.model, "-");
  ASSERT_TRUE(parse_args(p, {"--json", "--", "--help"}));
  EXPECT_EQ(o.model, "--help");
  EXPECT_EQ(usage_error(p, {"--", "a", "-t"}), "unexpected argument -t (the model is already a)");
}

TEST(Options, SeveralPositionalsSomeOptional) {
  std::string in, out, type = "F32";
  const Program p{.name = "p",
                  .positionals = {{"IN", "", text(in)}, {"OUT", "", text(out)}, {"TYPE", "", text(type), false}}};
  EXPECT_EQ(usage_error(p, {"a"}), "expected IN OUT [TYPE], got 1 argument");
  EXPECT_EQ(usage_error(p, {"a", "b", "c", "d"}), "expected IN OUT [TYPE], got 4 arguments");
  ASSERT_TRUE(parse_args(p, {"a", "b"}));
  EXPECT_EQ(in, "a");
  EXPECT_EQ(out, "b");
  EXPECT_EQ(type, "F32");
  ASSERT_TRUE(parse_args(p, {"a", "b", "Q8_0"}));
  EXPECT_EQ(type, "Q8_0");
  // A positional's value is checked as an option's, under its name.
  int n = 0;
  const Program q{.name = "q", .positionals = {{"N", "", integer(n, 1, "a count >= 1")}}};
  EXPECT_EQ(usage_error(q, {"0"}), "N: expected a count >= 1, got '0'");
}

TEST(Options, NoPositionals) {
  bool json = false;
  const Program p{.name = "p", .options = {{"", "--json", "", "", flag(json)}}};
  EXPECT_EQ(usage_error(p, {"x"}), "unexpected argument x");
  EXPECT_TRUE(parse_args(p, {}));
}

TEST(Options, HelpIsPrintedToStdoutAndStopsParsing) {
  Options o;
  const Program p = program_of(o);
  for (const char* help : {"-h", "--help"}) {
    testing::internal::CaptureStdout();
    // Nothing after -h is looked at, and no positional is required.
    EXPECT_FALSE(parse_args(p, {"-t", "4", help, "--bogus"}));
    EXPECT_EQ(testing::internal::GetCapturedStdout(), help_text(p));
    EXPECT_EQ(o.threads, 4);
  }
  EXPECT_EQ(usage_error(p, {"--bogus", "-h"}), "unknown option --bogus");
}

TEST(Options, HelpTextLinesUpTheColumns) {
  bool b = false;
  std::string s;
  const Program p{
      .name = "tool",
      .about = "Does a thing.",
      .positionals = {{"MODEL", "the model", text(s)}, {"OUT", "where to write", text(s), false}},
      .options =
          {
              {"-i", "--prompt", "TEXT", "the prompt,\nover two lines", text(s)},
              {"", "--json", "", "JSON", flag(b)},
              {"-q", "", "", "quiet", flag(b)},
              {"", "--a-very-long-option-name", "VALUE", "its help\ncontinues", text(s)},
          },
      .notes = "Notes.\n",
  };
  EXPECT_EQ(help_text(p),
            "usage: tool MODEL [OUT] [options]\n"
            "\n"
            "Does a thing.\n"
            "\n"
            "  MODEL              the model\n"
            "  OUT                where to write\n"
            "  -i, --prompt TEXT  the prompt,\n"
            "                     over two lines\n"
            "      --json         JSON\n"
            "  -q                 quiet\n"
            "      --a-very-long-option-name VALUE\n"
            "                     its help\n"
            "                     continues\n"
            "  -h, --help         show this help\n"
            "\n"
            "Notes.\n");
}

TEST(Options, HelpTextWithoutPairedFlagsOrAbout) {
  bool b = false;
  const Program p{.name = "tool",
                  .synopsis = "[--json] [-v]",
                  .options = {{"", "--json", "", "JSON", flag(b)}, {"-v", "", "", "verbose", flag(b)}}};
  // Long-only flags are indented only where some flag has both forms (other than -h, --help).
  EXPECT_EQ(help_text(p),
            "usage: tool [--json] [-v]\n"
            "\n"
            "  --json      JSON\n"
            "  -v          verbose\n"
            "  -h, --help  show this help\n");
}

}  // namespace
}  // namespace llama2::cli

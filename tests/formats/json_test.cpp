// The strict JSON reader: what RFC 8259 accepts, what it refuses, the
// limits, and the accessors' messages.
#include "formats/json.hpp"

#include <gtest/gtest.h>

#include <string>

#include "support/expect_error.hpp"

namespace llama2::json {
namespace {

using test::expect_error;

Value p(std::string_view text, const Limits& limits = {}) { return parse(text, "t.json", limits); }

TEST(Json, ParsesEveryKindOfValue) {
  const Value v = p(R"( {"a": null, "b": [true, false], "c": -12.5e1, "d": "x\ty", "e": {}, "f": [], "g": 0} )");
  ASSERT_EQ(v.type(), Type::OBJECT);
  EXPECT_EQ(v.keys("v"), (std::vector<std::string>{"a", "b", "c", "d", "e", "f", "g"}));  // text order
  EXPECT_TRUE(v.at("a", "t").is_null());
  EXPECT_TRUE(v.at("b", "t").as_array("b")[0].as_bool("b0"));
  EXPECT_FALSE(v.at("b", "t").as_array("b")[1].as_bool("b1"));
  EXPECT_DOUBLE_EQ(v.at("c", "t").as_number("c"), -125.0);
  EXPECT_EQ(v.at("d", "t").as_string("d"), "x\ty");
  EXPECT_EQ(v.at("e", "t").size(), 0u);
  EXPECT_EQ(v.at("f", "t").as_array("f").size(), 0u);
  EXPECT_EQ(v.at("g", "t").as_int("g"), 0);
  EXPECT_EQ(v.find("zz"), nullptr);
  EXPECT_EQ(p("7").as_int("x"), 7);
  EXPECT_EQ(p("\"\"").as_string("x"), "");
}

TEST(Json, NumbersFollowTheGrammarAndRanges) {
  EXPECT_EQ(p("-9223372036854775808").as_int("n"), INT64_MIN);
  EXPECT_EQ(p("9223372036854775807").as_int("n"), INT64_MAX);
  EXPECT_DOUBLE_EQ(p("1E+2").as_number("n"), 100.0);
  EXPECT_DOUBLE_EQ(p("1e-5").as_number("n"), 1e-5);
  EXPECT_DOUBLE_EQ(p("10000.0").as_number("n"), 10000.0);
  EXPECT_DOUBLE_EQ(p("18446744073709551616").as_number("n"), 18446744073709551616.0);
  // A literal past int64 is a number but not an integer.
  expect_error([] { p("9223372036854775808").as_int("n"); }, "n = 9223372036854775808 (line 1, column 1), expected an integer");
  expect_error([] { p("1.0").as_int("size"); }, "size = 1.0");
  expect_error([] { p("5").as_int("size", 1, 4); }, "expected an integer in [1, 4]");
  for (const char* bad : {"01", "-", "+1", ".5", "1.", "1e", "1e+", "-a", "0x10", "NaN", "Infinity", "-Infinity"}) {
    EXPECT_THROW(p(bad), Error) << bad;
  }
  expect_error([] { p("1e999"); }, "number 1e999 is out of the range of a double");
  expect_error([] { p("-1e400"); }, "out of the range of a double");
  expect_error([] { p("1e-400"); }, "out of the range of a double");
  expect_error([] { p("01"); }, "leading zero");
  Limits small;
  small.max_number_chars = 5;
  expect_error([&] { p("123456", small); }, "number literal of 6 characters, more than the limit of 5");
}

TEST(Json, StringsDecodeEscapesAndSurrogatePairs) {
  EXPECT_EQ(p(R"("\"\\\/\b\f\n\r\t")").as_string("s"), "\"\\/\b\f\n\r\t");
  EXPECT_EQ(p(R"("\u0041\u00e9\u20AC")").as_string("s"), "A\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(p(R"("\ud83d\ude00")").as_string("s"), "\xF0\x9F\x98\x80");  // U+1F600
  EXPECT_EQ(p(R"("\u0000")").as_string("s"), std::string(1, '\0'));
  EXPECT_EQ(p("\"h\xC3\xA9 \xF0\x9F\x98\x80\"").as_string("s"), "h\xC3\xA9 \xF0\x9F\x98\x80");  // raw UTF-8
  expect_error([] { p(R"("\ud83d")"); }, "high surrogate without a low one");
  expect_error([] { p(R"("\ud83dx")"); }, "high surrogate without a low one");
  expect_error([] { p(R"("\ud83d\u0041")"); }, "high surrogate without a low one");
  expect_error([] { p(R"("\ude00")"); }, "lone low surrogate");
  expect_error([] { p(R"("\u12G4")"); }, "expected a hex digit");
  expect_error([] { p(R"("\u12")"); }, "\\u escape");
  expect_error([] { p(R"("\x")"); }, "invalid escape \"\\\\x\"");
  expect_error([] { p("\"a\nb\""); }, "raw control character \"\\x0a\" in a string");
  expect_error([] { p("\"abc"); }, "unterminated string");
}

TEST(Json, RefusesInvalidUtf8) {
  expect_error([] { p("\"\xC0\xAF\""); }, "invalid UTF-8 byte");                 // C0 is never valid
  expect_error([] { p("\"\xE0\x80\xAF\""); }, "overlong UTF-8 sequence");       // overlong '/'
  expect_error([] { p("\"\xED\xA0\x80\""); }, "UTF-8-encoded surrogate");      // U+D800
  expect_error([] { p("\"\xF4\x90\x80\x80\""); }, "past U+10FFFF");           // U+110000
  expect_error([] { p("\"\xE2\x82\""); }, "invalid UTF-8 continuation byte");  // '"' is not a continuation
  expect_error([] { p("\"\xE2\x82"); }, "truncated UTF-8 sequence");
  expect_error([] { p("\"\x80\""); }, "invalid UTF-8 byte \"\\x80\"");
  expect_error([] { p("\"\xFF\""); }, "invalid UTF-8 byte");
}

TEST(Json, RefusesWhatTheGrammarDoesNot) {
  expect_error([] { p(""); }, "t.json: line 1, column 1 (byte 0): empty text");
  expect_error([] { p("  \n "); }, "empty text");
  expect_error([] { p("[1,]"); }, "trailing comma before ']'");
  expect_error([] { p(R"({"a":1,})"); }, "trailing comma before '}'");
  expect_error([] { p("[1 2]"); }, "expected ',' or ']'");
  expect_error([] { p(R"({"a" 1})"); }, "expected ':'");
  expect_error([] { p(R"({a:1})"); }, "expected a key string");
  expect_error([] { p(R"({"a":1 "b":2})"); }, "expected ',' or '}'");
  expect_error([] { p("{} x"); }, "unexpected \"x\" after the JSON value");
  expect_error([] { p("[1] [2]"); }, "after the JSON value");
  expect_error([] { p("// c\n{}"); }, "expected a value");
  expect_error([] { p("'a'"); }, "expected a value");
  expect_error([] { p("tru"); }, "expected a value");
  expect_error([] { p("nul"); }, "expected a value");
  expect_error([] { p("[1,"); }, "unexpected end of text, expected a value");
  expect_error([] { p("{\"a\":"); }, "unexpected end of text");
  expect_error([] { p("\xEF\xBB\xBF{}"); }, "byte-order mark");
  expect_error([] { p("\f{}"); }, "expected a value");  // form feed is not JSON whitespace
}

TEST(Json, ErrorsGiveLineColumnAndByte) {
  expect_error([] { p("{\n  \"a\": 1,\n  \"b\": x\n}"); }, "t.json: line 3, column 8 (byte 19): unexpected \"x\"");
}

TEST(Json, RefusesDuplicateKeys) {
  expect_error([] { p(R"({"a": 1, "b": 2, "a": 3})"); }, "line 1, column 18 (byte 17): duplicate key \"a\"");
  // Keys compare after unescaping: "\u0061" is "a".
  expect_error([] { p(R"({"a": 1, "\u0061": 2})"); }, "duplicate key \"a\"");
  EXPECT_NO_THROW(p(R"({"a": {"a": 1}, "b": {"a": 2}})"));  // same key in different objects is fine
}

TEST(Json, EnforcesLimits) {
  Limits limits;
  limits.max_depth = 3;
  EXPECT_NO_THROW(p("[[[1]]]", limits));
  expect_error([&] { p("[[[[1]]]]", limits); }, "nesting deeper than 3 levels");
  expect_error([&] { p(R"({"a":{"b":{"c":{}}}})", limits); }, "nesting deeper than 3 levels");
  // The default depth stops a deep recursion long before the stack would.
  expect_error([] { p(std::string(100000, '[')); }, "nesting deeper than 64 levels");
  limits = {};
  limits.max_bytes = 8;
  expect_error([&] { p("[1, 2, 3, 4]", limits); }, "text is 12 bytes, more than the limit of 8");
  limits = {};
  limits.max_values = 3;
  EXPECT_NO_THROW(p("[1, 2]", limits));
  expect_error([&] { p("[1, 2, 3]", limits); }, "more than 3 values");
}

TEST(Json, AccessorsNameFieldValueAndPosition) {
  const Value v = p("{\n \"hidden_size\": \"big\",\n \"n\": 3.5\n}");
  expect_error([&] { v.at("hidden_size", "config.json").as_int("config.json: field \"hidden_size\""); },
               "config.json: field \"hidden_size\" = \"big\" (line 2, column 17) is a string, expected an integer");
  expect_error([&] { v.at("vocab_size", "config.json"); }, "config.json: missing field \"vocab_size\"");
  expect_error([&] { v.at("n", "c").as_string("c: n"); }, "c: n = 3.5 (line 3, column 7) is a number, expected a string");
  expect_error([&] { v.at("n", "c").at("x", "c: n"); }, "c: n = 3.5 (line 3, column 7) is a number, expected an object");
  expect_error([&] { v.as_array("top"); }, "top = an object (line 1, column 1) is an object, expected an array");
  expect_error([&] { p("null").as_bool("flag"); }, "flag = null (line 1, column 1) is null, expected true or false");
}

TEST(Json, QuoteEscapesWhatAFileMayHold) {
  EXPECT_EQ(quote("a\"b\\c\x1b[31m\xC3\xA9"), "\"a\\\"b\\\\c\\x1b[31m\\xc3\\xa9\"");
  EXPECT_EQ(quote(std::string(100, 'x'), 5), "\"xxxxx...\"");
}

}  // namespace
}  // namespace llama2::json

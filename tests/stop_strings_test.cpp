// StopStrings (src/stop_strings.cpp): what is released, what is held back,
// and where the text ends, fed in every split.
#include "llama2/stop_strings.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace llama2::test {
namespace {

// Feeds `pieces` one by one; returns everything released (flush included
// when no stop string matched).
std::string feed(StopStrings& s, const std::vector<std::string>& pieces) {
  std::string out;
  for (const std::string& p : pieces) out += s.push(p);
  return out + s.flush();
}

TEST(StopStrings, NoStopsReleasesEverythingAtOnce) {
  StopStrings s;
  EXPECT_EQ(s.push("abc"), "abc");
  EXPECT_FALSE(s.matched());
}

TEST(StopStrings, HoldsBackAPossibleStartAndReleasesItWhenItCannotMatch) {
  StopStrings s({"\nUser:"});
  EXPECT_EQ(s.push("Hello\nUs"), "Hello");  // "\nUs" could still become "\nUser:"
  EXPECT_EQ(s.push("a"), "\nUsa");          // now it cannot
  EXPECT_FALSE(s.matched());
}

TEST(StopStrings, SplitAcrossEveryPieceBoundary) {
  const std::string text = "The cat sat.\nUser: more";
  for (std::size_t cut1 = 0; cut1 <= text.size(); cut1++) {
    for (std::size_t cut2 = cut1; cut2 <= text.size(); cut2 += 3) {
      StopStrings s({"\nUser:"});
      const std::string out =
          feed(s, {text.substr(0, cut1), text.substr(cut1, cut2 - cut1), text.substr(cut2)});
      EXPECT_EQ(out, "The cat sat.") << cut1 << " " << cut2;
      EXPECT_TRUE(s.matched());
      EXPECT_EQ(s.match(), "\nUser:");
    }
  }
}

TEST(StopStrings, OverlappingPrefixes) {
  StopStrings s({"aab"});
  std::string out;
  for (char c : std::string("xaaab tail")) out += s.push(std::string(1, c));
  EXPECT_EQ(out, "xa");  // "aa" held, then "aaa" releases one "a", then "aab" matches
  EXPECT_TRUE(s.matched());

  StopStrings t({"abab"});
  EXPECT_EQ(feed(t, {"ab", "a", "c", "abab"}), "abac");
  EXPECT_TRUE(t.matched());
}

TEST(StopStrings, AtTheVeryStart) {
  StopStrings s({"Once"});
  EXPECT_EQ(s.push("On"), "");
  EXPECT_EQ(s.push("ce upon"), "");
  EXPECT_TRUE(s.matched());
  EXPECT_EQ(s.push("more"), "");  // after a match nothing more is released
  EXPECT_EQ(s.flush(), "");
}

TEST(StopStrings, SplitAcrossTheBytesOfAUtf8Character) {
  // "é" is C3 A9: a stop string "é!" given one byte at a time.
  StopStrings s({"\xC3\xA9!"});
  EXPECT_EQ(s.push("caf\xC3"), "caf");
  EXPECT_EQ(s.push("\xA9"), "");
  EXPECT_EQ(s.push("!"), "");
  EXPECT_TRUE(s.matched());
  // The same bytes not followed by '!' come out whole.
  StopStrings t({"\xC3\xA9!"});
  EXPECT_EQ(feed(t, {"caf\xC3", "\xA9", " ok"}), "caf\xC3\xA9 ok");
}

TEST(StopStrings, TheEarliestOfSeveralWins) {
  StopStrings s({"world", "lo w", ""});
  EXPECT_EQ(feed(s, {"hello world"}), "hel");
  EXPECT_EQ(s.match(), "lo w");
}

TEST(StopStrings, FlushReleasesHeldTextWithoutAMatch) {
  StopStrings s({"END"});
  EXPECT_EQ(s.push("the EN"), "the ");
  EXPECT_EQ(s.flush(), "EN");
  EXPECT_FALSE(s.matched());
}

}  // namespace
}  // namespace llama2::test

// The trace page treats text as data: a vocabulary piece, a prompt and a
// model name full of HTML come back from the page's JSON exactly, and the
// HTML around it holds no tag they could have opened or closed. The page
// also carries its Content-Security-Policy and loads nothing.
#include <gtest/gtest.h>

#include <string>

#include "llama2/trace.hpp"
#include "support/synthetic_model.hpp"
#include "support/temp_dir.hpp"
#include "support/trace_page.hpp"

namespace llama2 {
namespace {

std::size_t count(const std::string& s, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) n++;
  return n;
}

constexpr const char* kHostilePiece = "</script><img src=x onerror=alert(1)>";
constexpr const char* kSeparatorPiece = "\xe2\x80\xa8&amp;<b>\xe2\x80\xa9";  // U+2028, an entity, a tag, U+2029
constexpr const char* kHostilePrompt = "<script>alert(2)</script><img/src=x/onerror=alert(3)>&</SCRIPT><!--]]>";  // no space: this vocabulary spells one as bytes

TEST(TracePage, HostileVocabularyPromptAndNameStayText) {
  test::TempDir dir("trace_hostile");
  const Config c = test::make_config(32, 64, 2, 4, 2, test::vocab300::kVocab, 128, false);
  test::write_llama2c_v0(dir.file("m.bin"), test::make_weights(c, 17));
  test::write_tokenizer_bin(dir.file("tok.bin"), c.vocab_size);
  Vocab vocab = Tokenizer::load(dir.file("tok.bin")).vocab();
  vocab.pieces[264] = kHostilePiece;
  vocab.pieces[265] = kSeparatorPiece;
  const Tokenizer tok(vocab);
  Transformer t(dir.file("m.bin"));
  TraceOptions o;
  o.top_k = c.vocab_size;  // every piece is a candidate somewhere, so every piece is in the page
  const Trace trace = run_trace(t, tok, kHostilePrompt, o, "<img src=y onerror=alert(4)>.bin");
  const std::string html = trace_html(trace);

  // Only the page's own two scripts and no element from the data.
  EXPECT_EQ(count(html, "<script"), 2u);
  EXPECT_EQ(count(html, "</script>"), 2u);
  EXPECT_EQ(count(html, "<img"), 0u);
  EXPECT_EQ(count(html, "<b>"), 0u);
  EXPECT_EQ(count(html, "<!--"), 0u);
  const std::string json = test::trace_page_json_text(html);
  EXPECT_EQ(json.find_first_of("<>&"), std::string::npos);
  EXPECT_EQ(json.find("\xe2\x80\xa8"), std::string::npos);
  EXPECT_EQ(json.find("\xe2\x80\xa9"), std::string::npos);

  // ... and the text itself comes back exactly.
  const test::JsonValue page = test::trace_page_json(html);
  EXPECT_EQ(page["pieces"]["264"].str(), kHostilePiece);
  EXPECT_EQ(page["pieces"]["265"].str(), kSeparatorPiece);
  EXPECT_EQ(page["model"]["name"].str(), "<img src=y onerror=alert(4)>.bin");
  std::string text;
  std::vector<int> ids;
  for (std::size_t i = 0; i < page["positions"].size(); i++) {
    text += page["positions"][i]["text"].str();
    ids.push_back(page["positions"][i]["id"].integer());
  }
  EXPECT_EQ(text, tok.decode_all(ids));  // the positions' texts add up to the decoded text
  EXPECT_NE(text.find(kHostilePrompt), std::string::npos) << text;
}

TEST(TracePage, PolicyForbidsEveryLoad) {
  test::TempDir dir("trace_csp");
  const Config c = test::make_config(16, 32, 1, 2, 2, test::vocab300::kVocab, 16, false);
  test::write_llama2c_v0(dir.file("m.bin"), test::make_weights(c, 1));
  test::write_tokenizer_bin(dir.file("tok.bin"), c.vocab_size);
  Transformer t(dir.file("m.bin"));
  const std::string html = trace_html(run_trace(t, Tokenizer::load(dir.file("tok.bin")), "abc", {}, "m"));
  EXPECT_NE(html.find("content=\"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:;"),
            std::string::npos);
  // Nothing that names another resource: no URL, no external script, style sheet or font.
  for (const char* needle : {"http:", "https:", "//cdn", "<link", " src=", "@import", "url(", "@font-face"}) {
    EXPECT_EQ(html.find(needle), std::string::npos) << needle;
  }
}

TEST(TracePage, JsonStringsEscapeForHtml) {
  EXPECT_EQ(json_string_for_html("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\u000a\\u0001\"");
  EXPECT_EQ(json_string_for_html("</script>"), "\"\\u003c/script\\u003e\"");
  EXPECT_EQ(json_string_for_html("&"), "\"\\u0026\"");
  EXPECT_EQ(json_string_for_html("\xe2\x80\xa8\xe2\x80\xa9"), "\"\\u2028\\u2029\"");
  EXPECT_EQ(json_string_for_html("\xe2\x96\x81\xf0\x9f\xa6\x99"), "\"\xe2\x96\x81\xf0\x9f\xa6\x99\"");  // UTF-8 stays
  EXPECT_EQ(json_string_for_html("a\xe2\x96"), "\"a\\ufffd\\ufffd\"");  // a cut character
  EXPECT_EQ(test::JsonReader::parse(json_string_for_html("x\xff<y>")).str(), "x\xef\xbf\xbd<y>");
}

}  // namespace
}  // namespace llama2

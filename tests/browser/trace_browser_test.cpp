// The trace page in a real browser: headless Chromium loads pages that
// build/trace wrote (aidreams260K, and a synthetic model whose vocabulary,
// prompt and name are HTML), and the test reads the DOM the script built:
// every view drawn, no error, nothing fetched, the hostile text shown as
// text with no element injected. It also takes the screenshots README shows.
//
// Its own executable and ctest label (browser): without Chromium it is
// skipped with a message, except under CI=true, where it fails.
// LLAMA2_CHROMIUM names the browser (default: chromium, then chromium-browser
// in PATH); LLAMA2_TRACE_SCREENSHOTS=DIR writes the README's screenshots
// there (docs/ to regenerate them).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "support/process.hpp"
#include "support/shared_files.hpp"
#include "support/synthetic_model.hpp"
#include "support/temp_dir.hpp"
#include "support/trace_page.hpp"

namespace llama2 {
namespace {

namespace fs = std::filesystem;

std::string find_chromium() {
  if (const char* env = std::getenv("LLAMA2_CHROMIUM"); env && *env) return env;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    for (const char* name : {"chromium", "chromium-browser"}) {
      if (!dir.empty() && fs::exists(fs::path(dir) / name)) return (fs::path(dir) / name).string();
    }
  }
  return "";
}

#define REQUIRE_CHROMIUM(var)                                                                             \
  const std::string var = find_chromium();                                                                \
  if (var.empty()) {                                                                                      \
    if (test::running_in_ci()) FAIL() << "CI=true: chromium is required (apt-get install -y chromium)";   \
    GTEST_SKIP() << "no chromium in PATH (apt-get install -y chromium, or set LLAMA2_CHROMIUM)";          \
  }

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::size_t count(const std::string& s, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) n++;
  return n;
}

std::string unescape(std::string s) {
  for (const auto& [from, to] : {std::pair{"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&amp;", "&"}}) {
    for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + 1)) s.replace(at, std::string(from).size(), to);
  }
  return s;
}

struct Browser {
  std::string chromium, profile;
  // Chromium's flags for a quiet, offline, headless run; console messages go to stderr.
  std::vector<std::string> argv(const std::string& what, const std::string& url) const {
    return {chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--user-data-dir=" + profile, "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
            "--window-size=1200,900", what, url};
  }
  // The DOM after the page's script ran, and Chromium's log.
  test::ProcessResult dump(const std::string& file) const {
    return test::run_process(argv("--dump-dom", "file://" + file), "", 120);
  }
  test::ProcessResult screenshot(const std::string& file, const std::string& view, const std::string& png) const {
    return test::run_process(argv("--screenshot=" + png, "file://" + file + "#" + view), "", 120);
  }
};

// Console messages and load failures the page caused, from Chromium's log.
std::vector<std::string> page_problems(const std::string& log) {
  std::vector<std::string> problems;
  std::stringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("CONSOLE") != std::string::npos || line.find("Refused to") != std::string::npos ||
        line.find("net::ERR") != std::string::npos) {
      problems.push_back(line);
    }
  }
  return problems;
}

void expect_clean(const std::string& dom, const test::ProcessResult& run) {
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(dom.find("data-ready=\"1\""), std::string::npos) << "the script did not finish";
  EXPECT_NE(dom.find("data-resources=\"0\""), std::string::npos) << "the page fetched something";
  EXPECT_EQ(dom.find("id=\"trace-error\""), std::string::npos) << dom.substr(dom.find("trace-error"), 400);
  EXPECT_EQ(page_problems(run.err), std::vector<std::string>{});
}

std::string trace_tool() { return (test::build_dir() / "trace").string(); }

TEST(TraceBrowser, Aidreams260KPageDrawsEveryView) {
  REQUIRE_CHROMIUM(chromium);
  LLAMA2_SHARED_MODEL(model, "aidreams260K.bin");
  LLAMA2_SHARED_MODEL(tok, "aidreams_tok512.bin");
  test::TempDir dir("trace_browser");
  const std::string page = dir.file("trace.html");
  const auto made = test::run_process({trace_tool(), model, "-z", tok, "-i", "Once upon a time, pixels", "-n", "24", "-t",
                                       "0", "-o", page});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const test::JsonValue data = test::trace_page_json(read(page));
  const std::size_t n = data["positions"].size(), L = 4, H = 4;
  std::size_t generated = 0;
  for (std::size_t i = 0; i < n; i++) generated += data["positions"][i]["generated"].boolean;
  ASSERT_EQ(generated, 24u);

  const Browser browser{chromium, dir.file("profile")};
  const test::ProcessResult run = browser.dump(page + "#attention:3:3");  // opens on layer 3, head 3
  const std::string& dom = run.out;
  ASSERT_NO_FATAL_FAILURE(expect_clean(dom, run));
  // 1. tokens: one span per position, the generated ones marked; the detail panel filled
  EXPECT_EQ(count(dom, "<span class=\"tok"), n);
  EXPECT_EQ(count(dom, "<span class=\"tok gen"), generated);
  EXPECT_NE(dom.find("What the model expected here:"), std::string::npos);
  EXPECT_NE(dom.find("total bits"), std::string::npos);
  // 2. the lens: a cell per layer and position, and the row of actual next tokens
  const std::size_t grid = dom.find("id=\"lens-grid\"");
  ASSERT_NE(grid, std::string::npos);
  EXPECT_EQ(count(dom.substr(grid, dom.find("</table>", grid) - grid), "<td"), (L + 1) * n);
  // 3. attention: the large map drawn, one small map per layer and head
  EXPECT_NE(dom.find("data-drawn=\"3:3\""), std::string::npos);
  EXPECT_EQ(count(dom, "<canvas class=\"thumb"), L * H);
  // 4. the model card
  EXPECT_NE(dom.find("id=\"model-card\""), std::string::npos);
  EXPECT_NE(dom.find(">n_kv_heads<"), std::string::npos);

  // A screenshot of the tokens view; of all three views into README's folder when asked
  // for (each costs a browser start, so the default run keeps to one).
  const char* out = std::getenv("LLAMA2_TRACE_SCREENSHOTS");
  const fs::path shots = out && *out ? fs::path(out) : dir.path();
  const std::vector<const char*> views = out && *out ? std::vector<const char*>{"tokens", "lens", "attention"}
                                                     : std::vector<const char*>{"tokens"};
  for (const std::string view : views) {
    const std::string png = (shots / ("trace_" + view + ".png")).string();
    fs::remove(png);
    // Layer 3 head 3, the clearest previous-token head of this model (README).
    const test::ProcessResult shot = browser.screenshot(page, view == "attention" ? "attention:3:3" : view, png);
    ASSERT_EQ(shot.exit_code, 0) << shot.err;
    EXPECT_EQ(page_problems(shot.err), std::vector<std::string>{});
    const std::string bytes = read(png);
    ASSERT_GT(bytes.size(), 10000u) << png;
    EXPECT_EQ(bytes.substr(0, 8), "\x89PNG\r\n\x1a\n");
  }
}

TEST(TraceBrowser, HostileTextIsShownAndRunsNothing) {
  REQUIRE_CHROMIUM(chromium);
  test::TempDir dir("trace_browser_hostile");
  const Config c = test::make_config(32, 64, 2, 4, 2, test::vocab300::kVocab, 128, false);
  const std::string model = dir.file("<img src=y onerror=alert(4)>.bin");
  test::write_llama2c_v0(model, test::make_weights(c, 17));
  test::write_tokenizer_bin(dir.file("tok.bin"), c.vocab_size);
  // The same vocabulary with two pieces made of HTML.
  std::vector<std::string> pieces;
  {
    const std::string bin = read(dir.file("tok.bin"));
    std::size_t at = 4;
    while (at < bin.size()) {
      std::int32_t len;
      std::memcpy(&len, bin.data() + at + 4, 4);
      pieces.push_back(bin.substr(at + 8, std::size_t(len)));
      at += 8 + std::size_t(len);
    }
  }
  pieces[264] = "</script><img src=x onerror=alert(1)>";
  pieces[265] = "<b>bold</b>&amp;";
  test::write_tokenizer_pieces(dir.file("hostile.bin"), pieces);
  const std::string prompt = "<script>alert(2)</script><img/src=x/onerror=alert(3)>";  // no space: this vocabulary spells one as bytes
  const std::string page = dir.file("trace.html");
  const auto made = test::run_process({trace_tool(), model, "-z", dir.file("hostile.bin"), "-i", prompt, "--top", "300", "-o", page});
  ASSERT_EQ(made.exit_code, 0) << made.err;

  const Browser browser{chromium, dir.file("profile")};
  const test::ProcessResult run = browser.dump(page);
  const std::string& dom = run.out;
  ASSERT_NO_FATAL_FAILURE(expect_clean(dom, run));
  EXPECT_EQ(count(dom, "<img"), 0u);
  EXPECT_EQ(count(dom, "<b>bold"), 0u);
  EXPECT_EQ(count(dom, "<script"), 2u);
  // The pieces are in the candidate list as text (spaces shown as U+2423).
  EXPECT_NE(dom.find("&lt;/script&gt;&lt;img\xe2\x90\xa3src=x\xe2\x90\xa3onerror=alert(1)&gt;"), std::string::npos);
  EXPECT_NE(dom.find("&lt;b&gt;bold&lt;/b&gt;&amp;amp;"), std::string::npos);
  // The prompt, token by token, reads back as the prompt.
  // (Spans of class "raw" show the piece of a position that adds no text: BOS, a character's first bytes.)
  const std::regex tok("<span class=\"(tok[^\"]*)\"[^>]*>([^<]*)</span>");
  std::string text;
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), tok); it != std::sregex_iterator(); ++it) {
    if ((*it)[1].str().find("raw") == std::string::npos) text += unescape((*it)[2].str());
  }
  EXPECT_NE(text.find(prompt), std::string::npos) << text;
  EXPECT_NE(dom.find("<title>trace: &lt;img src=y onerror=alert(4)&gt;.bin</title>"), std::string::npos);
}

}  // namespace
}  // namespace llama2

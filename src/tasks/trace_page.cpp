// trace_html: the trace as one self-contained HTML page (trace.hpp).
//
// What makes it safe to open: every text from the model file or the user
// (pieces, the prompt, the model's name) reaches the page only inside the
// JSON, which json_string_for_html escapes so that '<', '>' and '&' never
// appear raw; the script reads that JSON with JSON.parse and writes text
// into the DOM with textContent only. The Content-Security-Policy allows
// the page's own inline style and script and nothing else: no request to
// any network, no font, no frame, no form.
#include "llama2/trace.hpp"
#include "trace_page_assets.hpp"

namespace llama2 {

std::string trace_html(const Trace& trace) {
  std::string page;
  page +=
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; "
      "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>llama2.cpp trace</title>\n<style>\n";
  page += trace_page::kStyle;
  page +=
      "</style>\n</head>\n<body>\n"
      "<noscript><p>This page draws its views with JavaScript. The data is the JSON in the element "
      "&quot;trace-data&quot; (or run trace --json).</p></noscript>\n"
      "<div id=\"app\"></div>\n"
      "<script type=\"application/json\" id=\"trace-data\">";
  page += trace_json(trace);
  page += "</script>\n<script>\n";
  page += trace_page::kScript;
  page += "</script>\n</body>\n</html>\n";
  return page;
}

}  // namespace llama2

// The fixed parts of the trace page (trace_page.cpp): its style sheet and
// its script, kept apart from the C++ that assembles the page.
#pragma once

namespace llama2::trace_page {

extern const char* const kStyle;   // the page's CSS
extern const char* const kScript;  // the JavaScript that draws every view from the embedded JSON

}  // namespace llama2::trace_page

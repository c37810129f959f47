// html_report.h: the self-contained HTML report.
//
// The report is one file: analyzer/html/report_template.html (HTML, inline
// CSS and JavaScript, nothing loaded from the network) with one JSON object
// inlined into its data element,
//
//   <script type="application/json" id="heaplens-data">{...}</script>
//
// whose schema is docs/html_report.md. The page renders the timeline, heap
// maps, leak table, flame graph and findings from it. Example:
//
//   std::string json = BuildHtmlData(analysis);  // the report's JSON writer
//   std::string html = heaplens::html::RenderHtmlReport(json);
#ifndef HEAPLENS_ANALYZER_HTML_HTML_REPORT_H_
#define HEAPLENS_ANALYZER_HTML_HTML_REPORT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace heaplens {
namespace html {

// kDataPlaceholder is the text of the template that the data replaces. It is
// a JSON string, so the bare template parses it and says "no data".
inline constexpr absl::string_view kDataPlaceholder = "\"@@HEAPLENS_DATA@@\"";

// RenderHtmlReport returns the template with `data_json` inlined as the page's
// data. `data_json` must be one JSON value (normally an object following
// docs/html_report.md); an empty string is taken as `null` and renders a page
// that says it has no data. The JSON is escaped with EscapeJsonForScript, so no
// string in it can end the script element or be parsed as HTML.
std::string RenderHtmlReport(absl::string_view data_json);

// EscapeJsonForScript makes JSON safe as the text of a <script> element:
// every '<' becomes \u003c (so neither "</script" nor "<!--" can appear),
// U+2028 and U+2029 become \u2028 and \u2029, and NUL becomes \u0000. In valid
// JSON these characters can only occur inside strings, where the escapes
// mean the same, so valid JSON stays valid and equal. Invalid JSON stays
// harmless to the page: it cannot close the element, only fail to parse.
std::string EscapeJsonForScript(absl::string_view json);

}  // namespace html
}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_HTML_HTML_REPORT_H_

// html_report.cc: inlines the report's data into the HTML template.
#include "analyzer/html/html_report.h"

#include <string>

#include "absl/strings/string_view.h"
#include "analyzer/html/report_template.h"

namespace heaplens {
namespace html {

std::string EscapeJsonForScript(absl::string_view json) {
  std::string out;
  out.reserve(json.size() + json.size() / 16);
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (c == '<') {
      out.append("\\u003c");
    } else if (c == '\0') {
      out.append("\\u0000");
    } else if (c == '\xE2' && i + 2 < json.size() && json[i + 1] == '\x80' &&
               (json[i + 2] == '\xA8' || json[i + 2] == '\xA9')) {
      // U+2028 LINE SEPARATOR / U+2029 PARAGRAPH SEPARATOR, UTF-8 encoded.
      out.append(json[i + 2] == '\xA8' ? "\\u2028" : "\\u2029");
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string RenderHtmlReport(absl::string_view data_json) {
  const absl::string_view tpl = ReportTemplate();
  // embed_template.py guarantees exactly one placeholder.
  const size_t at = tpl.find(kDataPlaceholder);
  const std::string data =
      data_json.empty() ? std::string("null") : EscapeJsonForScript(data_json);
  std::string out;
  out.reserve(tpl.size() + data.size());
  out.append(tpl.data(), at);
  out.append(data);
  const absl::string_view rest = tpl.substr(at + kDataPlaceholder.size());
  out.append(rest.data(), rest.size());
  return out;
}

}  // namespace html
}  // namespace heaplens

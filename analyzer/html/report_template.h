// report_template.h: the HTML report template (report_template.html), compiled
// into the analyzer by a genrule (embed_template.py).
#ifndef HEAPLENS_ANALYZER_HTML_REPORT_TEMPLATE_H_
#define HEAPLENS_ANALYZER_HTML_REPORT_TEMPLATE_H_

#include "absl/strings/string_view.h"

namespace heaplens {
namespace html {

// ReportTemplate returns the template's text: ASCII, containing the data
// data placeholder (html_report.h, kDataPlaceholder) exactly once; the
// genrule fails otherwise.
absl::string_view ReportTemplate();

}  // namespace html
}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_HTML_REPORT_TEMPLATE_H_

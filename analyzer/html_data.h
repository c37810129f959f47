// html_data.h: the data object of the HTML report (docs/html_report.md).
//
// BuildHtmlData() assembles, from one analysed trace, the JSON object that
// analyzer/html/html_report.h inlines into the page: meta, summary, findings,
// fragmentation (timeline), pinning, the heap map at the peak and at the end,
// the leak table, flame graphs of leaked and of allocated bytes, and the
// shared stack table. Everything is aggregated to the schema's limits (the
// size of the page never depends on the number of events): truncated lists
// say so with `*_omitted` / `truncated` keys and a `meta.notes` line.
//
// The "allocated" flame graph comes from an AllocatedByStack consumer
// (analyzer/export/stack_totals.h) of the same replay.
//
// Example:
//   layout::LayoutOptions lo; lo.heap_map = true;
//   layout::LayoutConsumer layout(lo);
//   AllocatedByStack allocated;
//   AnalyzeOptions opt; opt.consumers = {&layout, &allocated};
//   auto a = AnalyzeTrace(path, opt);
//   Symbolizer sym((*a)->index);
//   Report report = BuildReport(**a, sym, &layout.report());
//   std::string json = BuildHtmlData({&report, &(*a)->index, &layout.report(),
//                                     &allocated}, sym);
//   std::string page = html::RenderHtmlReport(json);
#ifndef HEAPLENS_ANALYZER_HTML_DATA_H_
#define HEAPLENS_ANALYZER_HTML_DATA_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "analyzer/export/stack_totals.h"
#include "analyzer/layout/layout_analysis.h"
#include "analyzer/report.h"
#include "analyzer/symbolizer.h"
#include "analyzer/trace_index.h"

namespace heaplens {

// The limits of docs/html_report.md; tests lower them.
struct HtmlLimits {
  size_t timeline = 500;
  size_t stacks = 4000;
  size_t frames = 64;
  size_t flame_nodes = 5000;
  size_t flame_stacks = 2000;  // allocated stacks symbolized for the flame
  size_t leaks = 500;
  size_t pinners = 100;
  size_t findings = 50;
  size_t string_chars = 1024;
};

struct HtmlDataInput {
  const Report* report = nullptr;
  const TraceIndex* index = nullptr;
  const layout::LayoutReport* layout = nullptr;  // may be null
  const AllocatedByStack* allocated = nullptr;   // may be null
  std::string heaplens_version = "0.1.0";
  std::string generated_at;  // ISO 8601; empty: now (or $SOURCE_DATE_EPOCH)
  HtmlLimits limits;
};

std::string BuildHtmlData(const HtmlDataInput& input, Symbolizer& symbolizer);

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_HTML_DATA_H_

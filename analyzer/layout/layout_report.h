// layout_report.h: the heap-layout parts of the report (fragmentation,
// pinning, retention), in JSON and text. docs/analyses.md defines every
// number; docs/report_schema.md lists the keys.
//
// The renderers only format a LayoutReport; stack ids are symbolized through
// `StackFrames` (in the CLI: Symbolizer::Symbolize), frames in the same
// format as the leak records: {function, file, line, module, inlined,
// address}.
//
// Example (inside the report's top-level object):
//   layout::StackFrames frames = [&](uint64_t id) -> const std::vector<Frame>&
//   { return symbolizer.Symbolize(id); };
//   layout::WriteLayoutJson(consumer.report(), frames, w);
//   text += layout::RenderLayoutText(consumer.report(), frames);
#ifndef HEAPLENS_ANALYZER_LAYOUT_LAYOUT_REPORT_H_
#define HEAPLENS_ANALYZER_LAYOUT_LAYOUT_REPORT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "analyzer/json_writer.h"
#include "analyzer/layout/layout_analysis.h"
#include "analyzer/symbolizer.h"

namespace heaplens::layout {

using StackFrames = std::function<const std::vector<Frame>&(uint64_t stack)>;

// Writes "fragmentation": {...} and "pinning": {...} into the JSON object
// the caller has open.
void WriteLayoutJson(const LayoutReport& report, const StackFrames& frames,
                     JsonWriter& w);
// The values alone, for callers that place them elsewhere.
void WriteFragmentationJson(const FragmentationReport& report,
                            const StackFrames& frames, JsonWriter& w);
void WritePinningJson(const PinningReport& report, const StackFrames& frames,
                      JsonWriter& w);

// The "Heap layout" section of the text report.
std::string RenderLayoutText(const LayoutReport& report,
                             const StackFrames& frames);

// Plain sentences for a summary, most important first, e.g.
// "40 B allocated in pin_top (pin_top.c:12) pins 97.6 MiB of free heap
// (97.6 MiB still resident)".
std::vector<std::string> LayoutFindings(const LayoutReport& report,
                                        const StackFrames& frames);

// The same findings with the report section they belong to
// ("pinning" or "fragmentation") and a severity ("warning" or "info"), for
// the HTML report's `findings`.
struct LayoutFinding {
  const char* section;
  const char* severity;
  std::string text;
};
std::vector<LayoutFinding> LayoutFindingsBySection(const LayoutReport& report,
                                                   const StackFrames& frames);

// The frame that names an allocation site: the first frame outside the
// allocator and the C/C++ runtime libraries (falls back to the first frame).
const Frame* SiteFrame(const std::vector<Frame>& frames);
// "pin_top (pin_top.c:12)", or "an unknown site".
std::string SiteText(const std::vector<Frame>& frames);

}  // namespace heaplens::layout

#endif  // HEAPLENS_ANALYZER_LAYOUT_LAYOUT_REPORT_H_

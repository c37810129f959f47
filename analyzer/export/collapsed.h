// collapsed.h: folded stacks for flame graph tools (Brendan Gregg's
// flamegraph.pl, inferno, speedscope): one line per distinct stack,
//
//   main;leak_list;malloc 240
//
// frames outermost first, separated by ';', then a space and the bytes.
// Inlined frames are frames of their own. A frame is its function name
// (with " (file:line)" when CollapsedOptions::lines is set); an unknown
// function is "[module basename]" or "[unknown]". Stacks that symbolize to
// the same text are merged. Lines are sorted by stack text, so the output is
// deterministic.
//
// Example:
//   std::string folded = RenderCollapsed(LeakedByStack(a->leaks), symbolizer);
#ifndef HEAPLENS_ANALYZER_EXPORT_COLLAPSED_H_
#define HEAPLENS_ANALYZER_EXPORT_COLLAPSED_H_

#include <string>

#include "analyzer/export/stack_totals.h"
#include "analyzer/symbolizer.h"

namespace heaplens {

struct CollapsedOptions {
  bool lines = false;  // "func (file.c:12)" instead of "func"
};

// The frame's label in a folded stack: never contains ';' or a newline.
std::string CollapsedFrameLabel(const Frame& frame, bool lines);

// Folded stacks of `totals`, valued in bytes; stacks with 0 bytes are left
// out.
std::string RenderCollapsed(const StackTotals& totals, Symbolizer& symbolizer,
                            const CollapsedOptions& options = {});

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_EXPORT_COLLAPSED_H_

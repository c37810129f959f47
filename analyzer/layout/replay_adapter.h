// replay_adapter.h: the heap-layout analyses as a replay consumer.
//
// LayoutConsumer plugs LayoutAnalysis into the analyzer's pipeline
// (analyzer/replay.h): it converts each trace Event into a HeapEvent and
// takes the page size and the trace's duration (for a fixed-size timeline)
// from the index in OnStart.
//
// Example:
//   layout::LayoutConsumer layout;
//   AnalyzeOptions opt;
//   opt.consumers.push_back(&layout);
//   ASSIGN_OR_RETURN(auto analysis, AnalyzeTrace(path, opt));
//   const layout::LayoutReport& r = layout.report();
#ifndef HEAPLENS_ANALYZER_LAYOUT_REPLAY_ADAPTER_H_
#define HEAPLENS_ANALYZER_LAYOUT_REPLAY_ADAPTER_H_

#include <memory>

#include "absl/types/span.h"
#include "analyzer/event.h"
#include "analyzer/layout/heap_event.h"
#include "analyzer/layout/layout_analysis.h"
#include "analyzer/replay.h"
#include "analyzer/trace_index.h"

namespace heaplens::layout {

// Converts a trace event; false for events the layout does not use
// (INVALID_FREE, ALLOC_FAILED, unknown kinds).
bool ToHeapEvent(const Event& in, HeapEvent* out);

// The trace's duration as the index knows it: the latest batch end or exit.
uint64_t TraceDurationNs(const TraceIndex& index);

class LayoutConsumer : public ReplayConsumer {
 public:
  // `options.page_size` and `options.fragmentation.duration_ns` are replaced
  // by the trace's values in OnStart.
  explicit LayoutConsumer(LayoutOptions options = {}) : options_(options) {}

  void OnStart(const TraceIndex& index) override;
  void OnEvent(const Event& event) override;
  void OnEvents(absl::Span<const Event> events) override;
  void OnEnd(const ReplayStats& stats) override;

  // Valid after OnEnd.
  const LayoutReport& report() const { return report_; }

 private:
  LayoutOptions options_;
  std::unique_ptr<LayoutAnalysis> analysis_;
  LayoutReport report_;
};

}  // namespace heaplens::layout

#endif  // HEAPLENS_ANALYZER_LAYOUT_REPLAY_ADAPTER_H_

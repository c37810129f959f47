// layout_analysis.h: the heap-layout analyses over one replay.
//
// LayoutAnalysis owns a HeapModel and the fragmentation and pinning trackers
// and feeds each event to all of them in the right order. It is what the
// replay adapter (replay_adapter.h) drives and what the report reads.
//
// Example:
//   LayoutOptions opt;
//   opt.page_size = header.page_size();
//   opt.fragmentation.duration_ns = last_event_ns;
//   LayoutAnalysis layout(opt);
//   for (const HeapEvent& e : events) layout.Consume(e);
//   LayoutReport r = layout.Finish();
#ifndef HEAPLENS_ANALYZER_LAYOUT_LAYOUT_ANALYSIS_H_
#define HEAPLENS_ANALYZER_LAYOUT_LAYOUT_ANALYSIS_H_

#include <cstdint>

#include "analyzer/layout/fragmentation.h"
#include "analyzer/layout/heap_event.h"
#include "analyzer/layout/heap_model.h"
#include "analyzer/layout/pinning.h"

namespace heaplens::layout {

struct LayoutOptions {
  uint64_t page_size = 4096;
  FragmentationOptions fragmentation;
  PinningOptions pinning;
};

struct LayoutReport {
  uint64_t page_size = 4096;
  uint64_t events = 0;
  uint64_t anomalies = 0;  // frees of unknown addresses, double allocations
  FragmentationReport fragmentation;
  PinningReport pinning;
};

class LayoutAnalysis {
 public:
  explicit LayoutAnalysis(const LayoutOptions& options)
      : model_(options.page_size),
        fragmentation_(options.fragmentation),
        pinning_(options.pinning) {}

  void Consume(const HeapEvent& e) {
    fragmentation_.Before(model_, e);
    pinning_.Before(model_, e);
    model_.Apply(e);
    fragmentation_.After(model_, e);
    pinning_.After(model_, e);
    ++events_;
  }

  // Ends the replay; call once.
  LayoutReport Finish() {
    LayoutReport r;
    r.page_size = model_.page_size();
    r.events = events_;
    r.anomalies = model_.anomalies();
    r.fragmentation = fragmentation_.Finish(model_);
    r.pinning = pinning_.Finish(model_);
    return r;
  }

  const HeapModel& model() const { return model_; }

 private:
  HeapModel model_;
  FragmentationTracker fragmentation_;
  PinningTracker pinning_;
  uint64_t events_ = 0;
};

}  // namespace heaplens::layout

#endif  // HEAPLENS_ANALYZER_LAYOUT_LAYOUT_ANALYSIS_H_

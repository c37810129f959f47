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
#include <optional>
#include <vector>

#include "analyzer/layout/fragmentation.h"
#include "analyzer/layout/heap_event.h"
#include "analyzer/layout/heap_map.h"
#include "analyzer/layout/heap_model.h"
#include "analyzer/layout/pinning.h"

namespace heaplens::layout {

struct LayoutOptions {
  uint64_t page_size = 4096;
  FragmentationOptions fragmentation;
  PinningOptions pinning;
  // Take heap-map snapshots (heap_map.h) at the peak and at the end: costs
  // O(chunks) a logarithmic number of times. Off unless a report draws them.
  bool heap_map = false;
  HeapMapOptions heap_map_options;
};

struct LayoutReport {
  uint64_t page_size = 4096;
  uint64_t events = 0;
  uint64_t anomalies = 0;  // frees of unknown addresses, double allocations
  FragmentationReport fragmentation;
  PinningReport pinning;
  // With LayoutOptions::heap_map: the address space near the peak of the
  // extent and at the end (pinning chunks of that moment highlighted).
  HeapMapSnapshot heap_map_peak;
  HeapMapSnapshot heap_map_end;
};

class LayoutAnalysis {
 public:
  explicit LayoutAnalysis(const LayoutOptions& options)
      : model_(options.page_size),
        fragmentation_(options.fragmentation),
        pinning_(options.pinning) {
    if (options.heap_map) heap_map_.emplace(options.heap_map_options);
    heap_map_options_ = options.heap_map_options;
  }

  void Consume(const HeapEvent& e) {
    fragmentation_.Before(model_, e);
    pinning_.Before(model_, e);
    if (heap_map_) heap_map_->Before(model_, e);
    model_.Apply(e);
    fragmentation_.After(model_, e);
    pinning_.After(model_, e);
    if (heap_map_) heap_map_->After(model_, e);
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
    if (heap_map_) {
      r.heap_map_peak = heap_map_->FinishPeak(model_);
      std::vector<uint64_t> pinners;
      for (const Pinner& p : r.pinning.end.pinners) {
        pinners.push_back(p.address);
      }
      r.heap_map_end = SnapshotHeapMap(model_, pinners, heap_map_options_);
    }
    return r;
  }

  const HeapModel& model() const { return model_; }

 private:
  HeapModel model_;
  FragmentationTracker fragmentation_;
  PinningTracker pinning_;
  std::optional<HeapMapTracker> heap_map_;
  HeapMapOptions heap_map_options_;
  uint64_t events_ = 0;
};

}  // namespace heaplens::layout

#endif  // HEAPLENS_ANALYZER_LAYOUT_LAYOUT_ANALYSIS_H_

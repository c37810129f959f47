// fragmentation.h: fragmentation of the heap at its peak, at the end, as a
// fixed-size time series, at the program's marks, and who causes it.
//
// Definitions (docs/analyses.md): at a moment, the extent is the brk heap
// plus the allocator's mmap'd regions; free bytes are the extent's bytes not
// in a live chunk, in maximal free runs; fragmentation = 1 - live_usable /
// extent.
//
// The peak is the first moment the extent reached its maximum, ties broken by
// the resident bytes (lexicographic max of (extent, resident)).
//
// The timeline has a fixed number of samples whatever the trace's length.
// With the trace's duration known up front (FragmentationOptions::
// duration_ns) it samples every duration / samples ns; without it, it samples
// at a fine interval and, whenever it holds 2 x samples, drops every other
// sample and doubles the interval, then thins to `samples` at the end. A
// sample at time t is the state after every event at or before t.
//
// Separators: the live chunks that sit between two large free runs (at least
// `large_free_run` bytes, nothing but live chunks and small runs between
// them, inside the extent) keep those runs apart. Each group of such chunks
// "separates" min(left run, right run) bytes: that much free space could
// coalesce into a larger run if the group were freed. Sites (stack ids) are
// ranked by the bytes their chunks separate.
#ifndef HEAPLENS_ANALYZER_LAYOUT_FRAGMENTATION_H_
#define HEAPLENS_ANALYZER_LAYOUT_FRAGMENTATION_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "analyzer/layout/heap_event.h"
#include "analyzer/layout/heap_model.h"

namespace heaplens::layout {

struct FragmentationOptions {
  size_t samples = 200;
  uint64_t duration_ns = 0;  // 0: not known up front
  uint64_t large_free_run = 64 << 10;
  size_t max_sites = 20;
};

// The model at a heaplens_mark(id) call.
struct MarkSample {
  uint64_t id = 0;
  uint64_t time_ns = 0;
  uint64_t extent_bytes = 0;
  uint64_t resident_bytes = 0;
  uint64_t brk = 0;  // the break (sbrk(0)) as the model sees it
  uint64_t brk_extent_bytes = 0;
  uint64_t brk_resident_bytes = 0;  // compare with the [heap] mapping's Rss
};

struct SeparatorSite {
  uint64_t stack = 0;
  uint64_t separated_bytes = 0;  // sum over its groups
  uint64_t groups = 0;           // groups of separating chunks it is in
  uint64_t chunks = 0;           // its separating chunks
  uint64_t chunk_bytes = 0;      // their usable bytes
};

struct FragmentationReport {
  HeapStats peak;
  HeapStats end;
  std::vector<HeapStats> timeline;
  std::vector<MarkSample> marks;
  std::vector<SeparatorSite> separators;  // at the end, most bytes first
  uint64_t large_free_run = 0;            // the threshold used
};

// Ranks the sites whose live chunks separate large free runs (see above).
std::vector<SeparatorSite> AttributeSeparators(const HeapModel& model,
                                               uint64_t large_free_run,
                                               size_t max_sites);

// Follows a HeapModel through a replay: call Before(model, e) before the
// model applies e and After(model, e) after, then Finish once.
class FragmentationTracker {
 public:
  explicit FragmentationTracker(FragmentationOptions options);

  void Before(const HeapModel& model, const HeapEvent& e);
  void After(const HeapModel& model, const HeapEvent& e);
  FragmentationReport Finish(const HeapModel& model);

 private:
  void TakeSample(const HeapModel& model, uint64_t t);

  FragmentationOptions options_;
  uint64_t interval_ns_;
  uint64_t next_sample_ns_;
  bool have_peak_ = false;
  FragmentationReport report_;
};

}  // namespace heaplens::layout

#endif  // HEAPLENS_ANALYZER_LAYOUT_FRAGMENTATION_H_

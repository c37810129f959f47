// pinning.h: top-of-heap pinning and retained free memory.
//
// The brk heap can only shrink from its top. Walking down from the break,
// the topmost live chunk of the topmost brk region pins every free byte
// between it and the next live chunk below it; that chunk pins the free bytes
// below it in turn, and so on. Freeing the top k live chunks would let the
// break drop to the end of the (k+1)-th chunk (or the region's base).
//
// A PinningSnapshot lists the pinners top-down: the live chunks with at least
// `min_pinned_bytes` of free heap directly below them (default: a page; the
// chunks between two listed pinners pin less, and `chunks_above` counts them
// all). The walk stops after `max_pinners`, when the pinned bytes not yet
// accounted for fall below `min_pinned_bytes`, or after `max_walk` chunks
// (`walk_truncated`).
//
// Worst moment: PinningTracker computes HeapModel::PinnedBytes() (O(1))
// after every event. When it exceeds the last evaluated worst by more than
// 1/64, a full evaluation becomes pending; it is made just before the first
// event that may lower the pinned bytes (HeapModel::MayLowerPinned), i.e. at
// the local maximum, or at the end. So the reported worst is within 1/64 of
// the true maximum (max_pinned_bytes is exact) and at most ~64 x log2(range)
// full walks happen whatever the trace's length.
//
// Retention ("tcache-like"): free bytes inside the extent that are still
// resident. retained_bytes counts the bytes of freed chunks not reused and
// not released (madvise/munmap/shrink), attributed to the thread that freed
// them; resident_free_bytes counts every free byte in a resident page.
#ifndef HEAPLENS_ANALYZER_LAYOUT_PINNING_H_
#define HEAPLENS_ANALYZER_LAYOUT_PINNING_H_

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "analyzer/layout/heap_event.h"
#include "analyzer/layout/heap_model.h"

namespace heaplens::layout {

struct PinningOptions {
  size_t max_pinners = 20;
  uint64_t min_pinned_bytes = 0;  // 0: the model's page size
  size_t max_walk = 1 << 20;
};

struct Pinner {
  uint64_t address = 0;
  uint64_t size = 0;  // requested
  uint64_t usable = 0;
  uint64_t stack = 0;
  uint64_t alloc_time_ns = 0;
  uint32_t tid = 0;
  uint64_t bytes_pinned = 0;     // free bytes directly below it
  uint64_t resident_pinned = 0;  // of those, still resident
  uint64_t chunks_above = 0;     // live chunks from the top down to it (>= 1)
  // How far the break could drop if those chunks were freed (including the
  // free bytes at the top that are releasable already).
  uint64_t cumulative_releasable = 0;
};

struct PinningSnapshot {
  bool valid = false;  // false: never evaluated
  uint64_t time_ns = 0;
  uint64_t brk_base = 0;  // the topmost brk region [brk_base, brk_top)
  uint64_t brk_top = 0;
  uint64_t top_free_bytes = 0;  // free above the top chunk: not pinned
  uint64_t top_free_resident = 0;
  uint64_t pinned_bytes = 0;
  uint64_t resident_pinned_bytes = 0;
  uint64_t unlisted_pinned_bytes = 0;  // pinned bytes no listed pinner holds
  std::vector<Pinner> pinners;
  bool walk_truncated = false;
};

struct RetentionReport {
  uint64_t retained_bytes = 0;
  std::vector<std::pair<uint32_t, uint64_t>> by_thread;  // most bytes first
  uint64_t resident_free_bytes = 0;
};

struct PinningReport {
  PinningSnapshot end;
  PinningSnapshot worst;
  uint64_t max_pinned_bytes = 0;  // exact, over every event
  uint64_t max_pinned_time_ns = 0;
  RetentionReport retention;  // at the end
};

PinningSnapshot EvaluatePinning(const HeapModel& model,
                                const PinningOptions& options);
RetentionReport EvaluateRetention(const HeapModel& model);

// Follows a HeapModel through a replay: Before(model, e) before the model
// applies e, After(model, e) after, then Finish once.
class PinningTracker {
 public:
  explicit PinningTracker(PinningOptions options) : options_(options) {}

  void Before(const HeapModel& model, const HeapEvent& e);
  void After(const HeapModel& model, const HeapEvent& e);
  PinningReport Finish(const HeapModel& model);

 private:
  PinningOptions options_;
  bool pending_ = false;
  PinningReport report_;
};

}  // namespace heaplens::layout

#endif  // HEAPLENS_ANALYZER_LAYOUT_PINNING_H_

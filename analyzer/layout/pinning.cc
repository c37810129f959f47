#include "analyzer/layout/pinning.h"

#include <algorithm>
#include <iterator>

namespace heaplens::layout {

PinningSnapshot EvaluatePinning(const HeapModel& model,
                                const PinningOptions& options) {
  PinningSnapshot snap;
  snap.valid = true;
  snap.time_ns = model.time_ns();
  auto [lo, hi] = model.TopBrkRegion();
  snap.brk_base = lo;
  snap.brk_top = hi;
  if (lo == hi) return snap;
  const auto& chunks = model.chunks();
  const auto& resident = model.resident();
  auto tc = model.TopChunk();
  if (tc == chunks.end()) {
    snap.top_free_bytes = model.free_space().Overlap(lo, hi);
    snap.top_free_resident = resident.Overlap(lo, hi);
    return snap;
  }
  const uint64_t tc_end = std::max(tc->first + tc->second.usable, tc->first);
  if (tc_end < hi) {
    snap.top_free_bytes = hi - tc_end;
    snap.top_free_resident = resident.Overlap(tc_end, hi);
  }
  snap.pinned_bytes = model.PinnedBytes();
  model.free_space().ForEachIn(lo, tc->first, [&](uint64_t a, uint64_t b) {
    snap.resident_pinned_bytes += resident.Overlap(a, b);
  });

  const uint64_t min_pinned =
      options.min_pinned_bytes ? options.min_pinned_bytes : model.page_size();
  uint64_t accounted = 0, listed = 0, k = 0;
  for (auto it = tc;;) {
    ++k;
    uint64_t below_end = lo;
    auto prev = it;
    bool at_bottom = it == chunks.begin();
    if (!at_bottom) {
      --prev;
      if (prev->first < lo) {
        at_bottom = true;
      } else {
        below_end = std::max(lo, prev->first + prev->second.usable);
      }
    }
    const uint64_t gap = it->first > below_end ? it->first - below_end : 0;
    accounted += gap;
    if (gap >= min_pinned) {
      Pinner p;
      p.address = it->first;
      p.size = it->second.requested;
      p.usable = it->second.usable;
      p.stack = it->second.stack;
      p.alloc_time_ns = it->second.time_ns;
      p.tid = it->second.tid;
      p.bytes_pinned = gap;
      p.resident_pinned = resident.Overlap(below_end, it->first);
      p.chunks_above = k;
      p.cumulative_releasable = hi - below_end;
      snap.pinners.push_back(p);
      listed += gap;
    }
    if (at_bottom || snap.pinners.size() >= options.max_pinners ||
        accounted >= snap.pinned_bytes ||
        snap.pinned_bytes - accounted < min_pinned)
      break;
    if (k >= options.max_walk) {
      snap.walk_truncated = true;
      break;
    }
    it = prev;
  }
  snap.unlisted_pinned_bytes =
      snap.pinned_bytes > listed ? snap.pinned_bytes - listed : 0;
  return snap;
}

RetentionReport EvaluateRetention(const HeapModel& model) {
  RetentionReport r;
  r.retained_bytes = model.retained().total();
  for (const auto& [tid, n] : model.retained().by_thread())
    r.by_thread.emplace_back(tid, n);
  std::sort(
      r.by_thread.begin(), r.by_thread.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
      });
  for (const auto& [lo, hi] : model.free_space().intervals())
    r.resident_free_bytes += model.resident().Overlap(lo, hi);
  return r;
}

void PinningTracker::Before(const HeapModel& model, const HeapEvent& e) {
  if (pending_ && model.MayLowerPinned(e)) {
    report_.worst = EvaluatePinning(model, options_);
    pending_ = false;
  }
}

void PinningTracker::After(const HeapModel& model, const HeapEvent& e) {
  const uint64_t pinned = model.PinnedBytes();
  if (pinned > report_.max_pinned_bytes) {
    report_.max_pinned_bytes = pinned;
    report_.max_pinned_time_ns = e.time_ns;
  }
  const uint64_t worst = report_.worst.valid ? report_.worst.pinned_bytes : 0;
  if (!pending_ && pinned > 0 && pinned > worst + worst / 64) pending_ = true;
}

PinningReport PinningTracker::Finish(const HeapModel& model) {
  report_.end = EvaluatePinning(model, options_);
  if (pending_ || !report_.worst.valid ||
      report_.end.pinned_bytes > report_.worst.pinned_bytes) {
    report_.worst = report_.end;
  }
  pending_ = false;
  report_.retention = EvaluateRetention(model);
  return std::move(report_);
}

}  // namespace heaplens::layout

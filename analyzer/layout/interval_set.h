// interval_set.h: a set of disjoint, coalesced half-open address intervals.
//
// IntervalSet is the one ordered-interval structure the heap model is built
// from: the brk heap's extent, the allocator's mmap'd regions, the free runs
// and the resident pages are each one IntervalSet. Intervals that touch are
// merged, so `count()` is the number of maximal runs and `largest()` the
// longest one. Every operation is O(log n + k) where k is the number of
// intervals the operation touches.
//
// Example:
//   IntervalSet s(/*track_lengths=*/true);
//   s.Add(0, 10); s.Add(10, 20); s.Remove(5, 6);
//   // s = {[0,5), [6,20)}: total() == 19, count() == 2, largest() == 14
#ifndef HEAPLENS_ANALYZER_LAYOUT_INTERVAL_SET_H_
#define HEAPLENS_ANALYZER_LAYOUT_INTERVAL_SET_H_

#include <algorithm>
#include <cstdint>
#include <iterator>

#include "absl/container/btree_map.h"

namespace heaplens::layout {

class IntervalSet {
 public:
  using Map = absl::btree_map<uint64_t, uint64_t>;  // lo -> hi

  // With `track_lengths`, the set keeps a histogram of interval lengths so
  // largest() is O(log n); without it largest() is not available (returns 0).
  explicit IntervalSet(bool track_lengths = false)
      : track_lengths_(track_lengths) {}

  // Adds [lo, hi). Returns the number of bytes that were not covered before.
  uint64_t Add(uint64_t lo, uint64_t hi);
  // Removes [lo, hi). Returns the number of bytes that were covered.
  uint64_t Remove(uint64_t lo, uint64_t hi);

  // Bytes of [lo, hi) the set covers.
  uint64_t Overlap(uint64_t lo, uint64_t hi) const;
  bool Covers(uint64_t lo, uint64_t hi) const;
  bool Contains(uint64_t x) const { return Find(x) != map_.end(); }
  // The interval that contains `x`, or end().
  Map::const_iterator Find(uint64_t x) const;

  // Calls f(lo, hi) for every covered piece of [lo, hi), in address order.
  template <typename F>
  void ForEachIn(uint64_t lo, uint64_t hi, F f) const {
    if (lo >= hi) return;
    auto it = map_.upper_bound(lo);
    if (it != map_.begin() && std::prev(it)->second > lo) --it;
    for (; it != map_.end() && it->first < hi; ++it) {
      f(std::max(it->first, lo), std::min(it->second, hi));
    }
  }

  uint64_t total() const { return total_; }
  size_t count() const { return map_.size(); }
  bool empty() const { return map_.empty(); }
  uint64_t largest() const {
    return lengths_.empty() ? 0 : lengths_.rbegin()->first;
  }
  const Map& intervals() const { return map_; }
  // The highest address covered + 1 (0 if empty).
  uint64_t end_address() const {
    return map_.empty() ? 0 : map_.rbegin()->second;
  }

 private:
  void InsertRaw(uint64_t lo, uint64_t hi);
  Map::iterator EraseAt(Map::iterator it);

  bool track_lengths_;
  Map map_;
  absl::btree_map<uint64_t, uint64_t> lengths_;  // length -> how many
  uint64_t total_ = 0;
};

}  // namespace heaplens::layout

#endif  // HEAPLENS_ANALYZER_LAYOUT_INTERVAL_SET_H_

// interval_set.h: a set of disjoint, coalesced half-open address intervals.
//
// IntervalSet is the one ordered-interval structure the heap model is built
// from: the brk heap's extent, the allocator's mmap'd regions, the free runs
// and the resident pages are each one IntervalSet. Intervals that touch are
// merged, so `count()` is the number of maximal runs and `largest()` the
// longest one. Every operation is O(log n + k) where k is the number of
// intervals the operation touches; the common cases (an interval grown or cut
// at one end, or split) change the touched interval in place.
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
#include <memory>

#include "absl/container/btree_map.h"

namespace heaplens::layout {

// A multiset of lengths that answers max(). Lengths below kSmall are counted
// in a table with a two-level bitmap of the non-zero counts (add, remove and
// max cost a few instructions); longer ones, which are few, in a btree.
class LengthHistogram {
 public:
  static constexpr uint64_t kSmall = uint64_t{1} << 16;

  void Add(uint64_t len) {
    if (len >= kSmall) {
      ++large_[len];
      return;
    }
    if (!small_) Init();
    if (small_->counts[len]++ == 0) SetBit(len);
  }
  void Remove(uint64_t len) {
    if (len >= kSmall) {
      auto it = large_.find(len);
      if (--it->second == 0) large_.erase(it);
      return;
    }
    if (--small_->counts[len] == 0) ClearBit(len);
  }
  // The longest length; 0 if none.
  uint64_t Max() const;

 private:
  static constexpr uint64_t kWords = kSmall / 64;
  struct Small {
    uint32_t counts[kSmall];
    uint64_t bits[kWords];          // bit l: counts[l] != 0
    uint64_t summary[kWords / 64];  // bit w: bits[w] != 0
  };
  void Init();
  void SetBit(uint64_t len) {
    small_->bits[len / 64] |= uint64_t{1} << (len % 64);
    small_->summary[len / 4096] |= uint64_t{1} << (len / 64 % 64);
  }
  void ClearBit(uint64_t len) {
    uint64_t& w = small_->bits[len / 64];
    w &= ~(uint64_t{1} << (len % 64));
    if (w == 0)
      small_->summary[len / 4096] &= ~(uint64_t{1} << (len / 64 % 64));
  }

  std::unique_ptr<Small> small_;
  absl::btree_map<uint64_t, uint64_t> large_;  // length -> how many
};

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
    if (lo >= hi || map_.empty()) return;
    auto it = map_.upper_bound(lo);
    if (it != map_.begin() && std::prev(it)->second > lo) --it;
    for (; it != map_.end() && it->first < hi; ++it) {
      f(std::max(it->first, lo), std::min(it->second, hi));
    }
  }

  uint64_t total() const { return total_; }
  size_t count() const { return map_.size(); }
  bool empty() const { return map_.empty(); }
  uint64_t largest() const { return track_lengths_ ? lengths_.Max() : 0; }
  const Map& intervals() const { return map_; }
  // The highest address covered + 1 (0 if empty).
  uint64_t end_address() const {
    return map_.empty() ? 0 : map_.rbegin()->second;
  }

 private:
  // `hint`: the position [lo, hi) goes to (the first interval above it).
  void InsertRaw(Map::iterator hint, uint64_t lo, uint64_t hi);
  Map::iterator EraseAt(Map::iterator it);
  // Sets the end of the interval at `it` to `hi`, in place.
  void SetEnd(Map::iterator it, uint64_t hi);

  bool track_lengths_;
  Map map_;
  LengthHistogram lengths_;  // with track_lengths_
  uint64_t total_ = 0;
};

}  // namespace heaplens::layout

#endif  // HEAPLENS_ANALYZER_LAYOUT_INTERVAL_SET_H_

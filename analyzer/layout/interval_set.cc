#include "analyzer/layout/interval_set.h"

namespace heaplens::layout {

void IntervalSet::InsertRaw(uint64_t lo, uint64_t hi) {
  map_.emplace(lo, hi);
  total_ += hi - lo;
  if (track_lengths_) ++lengths_[hi - lo];
}

IntervalSet::Map::iterator IntervalSet::EraseAt(Map::iterator it) {
  uint64_t len = it->second - it->first;
  total_ -= len;
  if (track_lengths_) {
    auto l = lengths_.find(len);
    if (--l->second == 0) lengths_.erase(l);
  }
  return map_.erase(it);
}

uint64_t IntervalSet::Add(uint64_t lo, uint64_t hi) {
  if (lo >= hi) return 0;
  auto it = map_.upper_bound(lo);
  if (it != map_.begin()) {
    auto p = std::prev(it);
    if (p->second >= lo) {
      if (p->second >= hi) return 0;  // already covered
      it = p;
    }
  }
  uint64_t nlo = lo, nhi = hi, had = 0;
  while (it != map_.end() && it->first <= hi) {
    nlo = std::min(nlo, it->first);
    nhi = std::max(nhi, it->second);
    had += it->second - it->first;
    it = EraseAt(it);
  }
  InsertRaw(nlo, nhi);
  return (nhi - nlo) - had;
}

uint64_t IntervalSet::Remove(uint64_t lo, uint64_t hi) {
  if (lo >= hi) return 0;
  auto it = map_.upper_bound(lo);
  if (it != map_.begin() && std::prev(it)->second > lo) --it;
  uint64_t removed = 0;
  uint64_t left_lo = 0, left_hi = 0, right_lo = 0, right_hi = 0;
  while (it != map_.end() && it->first < hi) {
    uint64_t s = it->first, e = it->second;
    it = EraseAt(it);
    removed += std::min(e, hi) - std::max(s, lo);
    if (s < lo) left_lo = s, left_hi = lo;
    if (e > hi) right_lo = hi, right_hi = e;
  }
  // Inserting invalidates btree iterators, so the remainders go in last.
  if (left_hi > left_lo) InsertRaw(left_lo, left_hi);
  if (right_hi > right_lo) InsertRaw(right_lo, right_hi);
  return removed;
}

uint64_t IntervalSet::Overlap(uint64_t lo, uint64_t hi) const {
  uint64_t n = 0;
  ForEachIn(lo, hi, [&](uint64_t a, uint64_t b) { n += b - a; });
  return n;
}

bool IntervalSet::Covers(uint64_t lo, uint64_t hi) const {
  if (lo >= hi) return true;
  auto it = Find(lo);
  return it != map_.end() && it->second >= hi;
}

IntervalSet::Map::const_iterator IntervalSet::Find(uint64_t x) const {
  auto it = map_.upper_bound(x);
  if (it == map_.begin()) return map_.end();
  --it;
  return it->second > x ? it : map_.end();
}

}  // namespace heaplens::layout

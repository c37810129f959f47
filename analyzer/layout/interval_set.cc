#include "analyzer/layout/interval_set.h"

#include <cstring>

namespace heaplens::layout {

// ---- LengthHistogram ------------------------------------------------------

void LengthHistogram::Init() {
  small_ = std::make_unique<Small>();
  std::memset(small_.get(), 0, sizeof(Small));
}

uint64_t LengthHistogram::Max() const {
  if (!large_.empty()) return large_.rbegin()->first;
  if (!small_) return 0;
  for (uint64_t s = kWords / 64; s-- > 0;) {
    if (small_->summary[s] == 0) continue;
    const uint64_t w = s * 64 + 63 - __builtin_clzll(small_->summary[s]);
    return w * 64 + 63 - __builtin_clzll(small_->bits[w]);
  }
  return 0;
}

// ---- IntervalSet ----------------------------------------------------------

void IntervalSet::InsertRaw(Map::iterator hint, uint64_t lo, uint64_t hi) {
  map_.emplace_hint(hint, lo, hi);
  total_ += hi - lo;
  if (track_lengths_) lengths_.Add(hi - lo);
}

IntervalSet::Map::iterator IntervalSet::EraseAt(Map::iterator it) {
  uint64_t len = it->second - it->first;
  total_ -= len;
  if (track_lengths_) lengths_.Remove(len);
  return map_.erase(it);
}

void IntervalSet::SetEnd(Map::iterator it, uint64_t hi) {
  const uint64_t old_len = it->second - it->first, len = hi - it->first;
  total_ = total_ - old_len + len;
  if (track_lengths_) {
    lengths_.Remove(old_len);
    lengths_.Add(len);
  }
  it->second = hi;
}

uint64_t IntervalSet::Add(uint64_t lo, uint64_t hi) {
  if (lo >= hi) return 0;
  auto it = map_.upper_bound(lo);  // the first interval starting above lo
  if (it != map_.begin()) {
    auto p = std::prev(it);
    if (p->second >= lo) {
      if (p->second >= hi) return 0;  // already covered
      // [lo, hi) extends p; without a right neighbour to merge, in place.
      if (it == map_.end() || it->first > hi) {
        const uint64_t added = hi - p->second;
        SetEnd(p, hi);
        return added;
      }
      it = p;
    }
  }
  if (it == map_.end() || it->first > hi) {  // touches nothing
    InsertRaw(it, lo, hi);
    return hi - lo;
  }
  uint64_t nlo = lo, nhi = hi, had = 0;
  while (it != map_.end() && it->first <= hi) {
    nlo = std::min(nlo, it->first);
    nhi = std::max(nhi, it->second);
    had += it->second - it->first;
    it = EraseAt(it);
  }
  InsertRaw(it, nlo, nhi);
  return (nhi - nlo) - had;
}

uint64_t IntervalSet::Remove(uint64_t lo, uint64_t hi) {
  if (lo >= hi || map_.empty()) return 0;
  auto it = map_.upper_bound(lo);
  if (it != map_.begin() && std::prev(it)->second > lo) --it;
  if (it == map_.end() || it->first >= hi) return 0;
  {
    // Only one interval [s, e) overlaps [lo, hi): cut it in place.
    auto next = std::next(it);
    if (next == map_.end() || next->first >= hi) {
      const uint64_t s = it->first, e = it->second;
      const uint64_t removed = std::min(e, hi) - std::max(s, lo);
      if (s < lo) {
        SetEnd(it, lo);
      } else {
        next = EraseAt(it);
      }
      if (e > hi) InsertRaw(next, hi, e);
      return removed;
    }
  }
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
  if (left_hi > left_lo) InsertRaw(map_.end(), left_lo, left_hi);
  if (right_hi > right_lo) InsertRaw(map_.end(), right_lo, right_hi);
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
  if (map_.empty()) return map_.end();
  if (map_.size() == 1) {  // the brk heap, usually: no search
    auto it = map_.begin();
    return it->first <= x && x < it->second ? it : map_.end();
  }
  auto it = map_.upper_bound(x);
  if (it == map_.begin()) return map_.end();
  --it;
  return it->second > x ? it : map_.end();
}

}  // namespace heaplens::layout

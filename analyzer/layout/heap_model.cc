#include "analyzer/layout/heap_model.h"

#include <algorithm>
#include <iterator>

namespace heaplens::layout {

// ---- FreedRanges ----------------------------------------------------------

void FreedRanges::Sub(uint32_t tid, uint64_t n) {
  auto it = by_thread_.find(tid);
  if (it == by_thread_.end()) return;
  it->second -= n;
  if (it->second == 0) by_thread_.erase(it);
}

void FreedRanges::Add(uint64_t lo, uint64_t hi, uint32_t tid) {
  if (lo >= hi) return;
  // Usually nothing overlaps (the bytes were live): one search, and the
  // insertion at the position found.
  auto it = map_.upper_bound(lo);
  if ((it != map_.end() && it->first < hi) ||
      (it != map_.begin() && std::prev(it)->second.hi > lo)) {
    Remove(lo, hi);
    map_.emplace(lo, Range{hi, tid});
  } else {
    map_.emplace_hint(it, lo, Range{hi, tid});
  }
  by_thread_[tid] += hi - lo;
  total_ += hi - lo;
}

void FreedRanges::Remove(uint64_t lo, uint64_t hi) {
  if (lo >= hi || map_.empty()) return;
  auto it = map_.upper_bound(lo);
  if (it != map_.begin() && std::prev(it)->second.hi > lo) --it;
  struct Piece {
    uint64_t lo, hi;
    uint32_t tid;
  };
  Piece left{0, 0, 0}, right{0, 0, 0};
  while (it != map_.end() && it->first < hi) {
    uint64_t s = it->first, e = it->second.hi;
    uint32_t tid = it->second.tid;
    it = map_.erase(it);
    uint64_t n = std::min(e, hi) - std::max(s, lo);
    total_ -= n;
    Sub(tid, n);
    if (s < lo) left = {s, lo, tid};
    if (e > hi) right = {hi, e, tid};
  }
  // The remainders keep their bytes in by_thread_ and total_.
  if (left.hi > left.lo) map_.emplace(left.lo, Range{left.hi, left.tid});
  if (right.hi > right.lo) map_.emplace(right.lo, Range{right.hi, right.tid});
}

// ---- HeapModel ------------------------------------------------------------

HeapModel::HeapModel(uint64_t page_size)
    : page_size_(page_size && !(page_size & (page_size - 1)) ? page_size
                                                             : 4096) {}

void HeapModel::Apply(const HeapEvent& e) {
  time_ns_ = std::max(time_ns_, e.time_ns);
  const uint64_t hi = e.address + e.size;
  switch (e.kind) {
    case HeapEventKind::kAlloc:
      Alloc(e, e.address);
      break;
    case HeapEventKind::kRealloc:
      if (e.old_address != 0) Free(e.old_address, e.tid);
      Alloc(e, e.address);
      break;
    case HeapEventKind::kFree:
      Free(e.address, e.tid);
      break;
    case HeapEventKind::kHeapGrow:
      AddRegion(brk_, e.address, hi);
      break;
    case HeapEventKind::kHeapShrink:
      RemoveRegion(brk_, e.address, hi);
      break;
    case HeapEventKind::kMmap:
      AddRegion(mmap_, e.address, hi);
      break;
    case HeapEventKind::kMunmap:
      RemoveRegion(mmap_, e.address, hi);
      break;
    case HeapEventKind::kMadvise:
      // MADV_DONTNEED rounds the length up to whole pages.
      ReleasePages(e.address, PageCeil(hi));
      break;
    case HeapEventKind::kMark:
      break;
  }
}

void HeapModel::Alloc(const HeapEvent& e, uint64_t address) {
  // One search of chunks_ in the usual case (was contains, then emplace).
  auto [slot, inserted] = chunks_.try_emplace(address);
  if (!inserted) {
    ++anomalies_;  // a lost free: the old chunk is gone
    Free(address, e.tid);
    slot = chunks_.try_emplace(address).first;
  }
  Chunk c;
  c.usable = std::max(e.usable, e.size);
  c.requested = e.size;
  c.stack = e.stack;
  c.time_ns = e.time_ns;
  c.tid = e.tid;
  c.in_brk = brk_.Contains(address);
  slot->second = c;
  // A new highest chunk of the top brk region becomes the top chunk.
  if (!top_dirty_ && address >= top_lo_ && address < top_hi_ &&
      (!has_top_ || address > top_address_)) {
    has_top_ = true;
    top_address_ = address;
    top_usable_ = c.usable;
  }
  live_usable_ += c.usable;
  live_requested_ += c.requested;
  if (c.in_brk) live_brk_usable_ += c.usable;

  const uint64_t hi = address + c.usable;
  free_.Remove(address, hi);
  freed_.Remove(address, hi);
  // The program touches what it allocated: every page it overlaps becomes
  // resident, as far as the page lies in the extent.
  const uint64_t plo = PageFloor(address), phi = PageCeil(hi);
  if (brk_.Covers(plo, phi) || mmap_.Covers(plo, phi)) {
    resident_.Add(plo, phi);
  } else {
    auto add = [&](uint64_t a, uint64_t b) { resident_.Add(a, b); };
    brk_.ForEachIn(plo, phi, add);
    mmap_.ForEachIn(plo, phi, add);
  }
}

void HeapModel::Free(uint64_t address, uint32_t tid) {
  auto it = chunks_.find(address);
  if (it == chunks_.end()) {
    ++anomalies_;
    return;
  }
  const Chunk c = it->second;
  chunks_.erase(it);
  if (has_top_ && address == top_address_) top_dirty_ = true;
  live_usable_ -= c.usable;
  live_requested_ -= c.requested;
  if (c.in_brk) live_brk_usable_ -= c.usable;
  const uint64_t hi = address + c.usable;
  if (brk_.Covers(address, hi)) {
    free_.Add(address, hi);  // (a piece of mmap_ there would add nothing)
  } else {
    auto add_free = [&](uint64_t a, uint64_t b) { free_.Add(a, b); };
    brk_.ForEachIn(address, hi, add_free);
    mmap_.ForEachIn(address, hi, add_free);
  }
  resident_.ForEachIn(address, hi,
                      [&](uint64_t a, uint64_t b) { freed_.Add(a, b, tid); });
}

void HeapModel::TopRegionChanged() {
  if (brk_.empty()) {
    top_lo_ = top_hi_ = 0;
  } else {
    auto it = brk_.intervals().rbegin();
    top_lo_ = it->first;
    top_hi_ = it->second;
  }
  top_dirty_ = true;
}

void HeapModel::RefreshTop() const {
  auto tc = TopChunk();
  has_top_ = tc != chunks_.end();
  top_address_ = has_top_ ? tc->first : 0;
  top_usable_ = has_top_ ? tc->second.usable : 0;
  top_dirty_ = false;
}

void HeapModel::AddRegion(IntervalSet& set, uint64_t lo, uint64_t hi) {
  if (lo >= hi) return;
  set.Add(lo, hi);
  if (&set == &brk_) TopRegionChanged();
  free_.Add(lo, hi);
  // Chunks already in the range (a region recorded late) stay live.
  auto it = chunks_.lower_bound(lo);
  if (it != chunks_.begin()) {
    auto p = std::prev(it);
    if (p->first + p->second.usable > lo) it = p;
  }
  for (; it != chunks_.end() && it->first < hi; ++it) {
    free_.Remove(it->first, it->first + it->second.usable);
    if (&set == &brk_ && !it->second.in_brk && it->first >= lo) {
      it->second.in_brk = true;
      live_brk_usable_ += it->second.usable;
    }
  }
}

void HeapModel::RemoveRegion(IntervalSet& set, uint64_t lo, uint64_t hi) {
  if (lo >= hi) return;
  set.Remove(lo, hi);
  if (&set == &brk_) TopRegionChanged();
  free_.Remove(lo, hi);
  ReleasePages(lo, hi);
  if (&set == &brk_) {
    for (auto it = chunks_.lower_bound(lo);
         it != chunks_.end() && it->first < hi; ++it) {
      if (it->second.in_brk) {
        it->second.in_brk = false;
        live_brk_usable_ -= it->second.usable;
      }
    }
  }
}

void HeapModel::ReleasePages(uint64_t lo, uint64_t hi) {
  resident_.Remove(lo, hi);
  freed_.Remove(lo, hi);
}

HeapStats HeapModel::Stats() const {
  HeapStats s;
  s.time_ns = time_ns_;
  s.brk_extent_bytes = brk_.total();
  s.mmap_extent_bytes = mmap_.total();
  s.extent_bytes = s.brk_extent_bytes + s.mmap_extent_bytes;
  s.brk_top = brk_.end_address();
  s.resident_bytes = resident_.total();
  s.live_bytes = live_usable_;
  s.live_requested_bytes = live_requested_;
  s.live_chunks = chunks_.size();
  s.free_bytes = free_.total();
  s.largest_free_run = free_.largest();
  s.free_runs = free_.count();
  if (s.extent_bytes > 0) {
    double live = static_cast<double>(std::min(live_usable_, s.extent_bytes));
    s.fragmentation = 1.0 - live / static_cast<double>(s.extent_bytes);
  }
  return s;
}

HeapModel::ChunkMap::const_iterator HeapModel::TopChunk() const {
  auto [lo, hi] = TopBrkRegion();
  if (lo == hi) return chunks_.end();
  auto it = chunks_.lower_bound(hi);
  if (it == chunks_.begin()) return chunks_.end();
  --it;
  return it->first >= lo ? it : chunks_.end();
}

uint64_t HeapModel::PinnedBytes() const {
  if (top_dirty_) RefreshTop();
  if (!has_top_) return 0;
  const uint64_t lo = top_lo_;
  if (brk_.count() == 1) {
    // Every byte of [lo, top chunk) is live or free, and all live chunks of
    // the brk heap other than the top one lie there.
    const uint64_t below_live = live_brk_usable_ - top_usable_;
    const uint64_t span = top_address_ - lo;
    if (below_live <= span) return span - below_live;
  }
  return free_.Overlap(lo, top_address_);
}

uint64_t HeapModel::BrkResidentBytes() const {
  uint64_t n = 0;
  for (const auto& [lo, hi] : brk_.intervals()) n += resident_.Overlap(lo, hi);
  return n;
}

bool HeapModel::MayLowerPinned(const HeapEvent& e) const {
  if (top_dirty_) RefreshTop();
  switch (e.kind) {
    case HeapEventKind::kAlloc:
      return has_top_ && e.address < top_address_;
    case HeapEventKind::kRealloc:
      return has_top_;
    case HeapEventKind::kFree:
      return has_top_ && e.address == top_address_;
    case HeapEventKind::kHeapGrow:
      // Growing the top region keeps the pinned bytes; a new, separate top
      // region starts with none.
      return has_top_ && e.address != brk_.end_address();
    case HeapEventKind::kHeapShrink:
      return has_top_ && e.address < top_address_ + top_usable_;
    default:
      return false;
  }
}

}  // namespace heaplens::layout

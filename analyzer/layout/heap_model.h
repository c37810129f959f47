// heap_model.h: the allocator's address space, rebuilt from heap events.
//
// HeapModel replays HeapEvents (heap_event.h) in time order and keeps:
//   - the extent: the brk heap (HEAP_GROW/HEAP_SHRINK) and the allocator's
//     mmap'd regions (MMAP/MUNMAP), each an IntervalSet;
//   - every live chunk, by address (absl::btree_map);
//   - the free space: extent minus live chunks, as maximal free runs with a
//     length histogram (count, largest run in O(1));
//   - the resident pages: a page becomes resident when a chunk overlapping it
//     is allocated (programs touch what they allocate) and stops being
//     resident on MADVISE, MUNMAP or HEAP_SHRINK. Only pages inside the extent
//     count;
//   - retention: bytes freed by each thread that have not been handed out
//     again nor released to the OS ("tcache-like" retention);
//   - counters: live usable/requested bytes, live chunks, live bytes inside
//     the brk heap.
// Every event costs O(log n) amortized, so a 10M-event trace replays in
// seconds. Stats() is O(log n); PinnedBytes() is O(1) while the brk heap is
// one contiguous region (the normal case) and the top chunk is cached. The
// cache is mutable state: a HeapModel is not safe to query from several
// threads at once.
//
// Inconsistent input is tolerated and counted in anomalies(): a free of an
// address that is not live is ignored; an allocation at a live address
// replaces the old chunk.
#ifndef HEAPLENS_ANALYZER_LAYOUT_HEAP_MODEL_H_
#define HEAPLENS_ANALYZER_LAYOUT_HEAP_MODEL_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "analyzer/layout/heap_event.h"
#include "analyzer/layout/interval_set.h"

namespace heaplens::layout {

struct Chunk {
  uint64_t usable = 0;
  uint64_t requested = 0;
  uint64_t stack = 0;
  uint64_t time_ns = 0;
  uint32_t tid = 0;
  bool in_brk = false;  // its first byte lies in the brk heap
};

// The model's numbers at one moment.
struct HeapStats {
  uint64_t time_ns = 0;
  uint64_t extent_bytes = 0;  // brk heap + mmap'd regions
  uint64_t brk_extent_bytes = 0;
  uint64_t mmap_extent_bytes = 0;
  uint64_t brk_top = 0;  // the break: end of the highest brk region
  uint64_t resident_bytes = 0;
  uint64_t live_bytes = 0;  // usable
  uint64_t live_requested_bytes = 0;
  uint64_t live_chunks = 0;
  uint64_t free_bytes = 0;  // inside the extent, not live
  uint64_t largest_free_run = 0;
  uint64_t free_runs = 0;
  double fragmentation = 0;  // 1 - live_usable / extent, in [0, 1]
};

// Half-open ranges labelled with a thread id; not coalesced. Holds the bytes
// each thread freed that are neither reused nor released.
class FreedRanges {
 public:
  void Add(uint64_t lo, uint64_t hi, uint32_t tid);
  void Remove(uint64_t lo, uint64_t hi);
  uint64_t total() const { return total_; }
  const absl::flat_hash_map<uint32_t, uint64_t>& by_thread() const {
    return by_thread_;
  }

 private:
  struct Range {
    uint64_t hi;
    uint32_t tid;
  };
  void Sub(uint32_t tid, uint64_t n);
  absl::btree_map<uint64_t, Range> map_;
  absl::flat_hash_map<uint32_t, uint64_t> by_thread_;
  uint64_t total_ = 0;
};

class HeapModel {
 public:
  using ChunkMap = absl::btree_map<uint64_t, Chunk>;

  explicit HeapModel(uint64_t page_size = 4096);

  void Apply(const HeapEvent& e);

  HeapStats Stats() const;

  uint64_t page_size() const { return page_size_; }
  uint64_t time_ns() const { return time_ns_; }
  const ChunkMap& chunks() const { return chunks_; }
  const IntervalSet& brk() const { return brk_; }
  const IntervalSet& mmap() const { return mmap_; }
  const IntervalSet& free_space() const { return free_; }
  const IntervalSet& resident() const { return resident_; }
  const FreedRanges& retained() const { return freed_; }
  uint64_t anomalies() const { return anomalies_; }

  // The topmost brk region [lo, hi) (hi is the break); {0, 0} if none.
  std::pair<uint64_t, uint64_t> TopBrkRegion() const {
    return {top_lo_, top_hi_};
  }
  // The highest live chunk whose first byte lies in the topmost brk region,
  // or chunks().end().
  ChunkMap::const_iterator TopChunk() const;
  // Free bytes of the topmost brk region below its highest live chunk: the
  // bytes that the live chunks pin (pinning.h). 0 without a live chunk.
  // O(1) while the brk heap is one region and the top chunk is known (it is
  // cached; freeing it or changing the brk heap costs one search).
  uint64_t PinnedBytes() const;
  // Resident bytes of the brk heap.
  uint64_t BrkResidentBytes() const;
  // True if applying `e` may lower PinnedBytes() (an allocation below the
  // top chunk, a free of the top chunk, a change of the brk heap).
  bool MayLowerPinned(const HeapEvent& e) const;

 private:
  void Alloc(const HeapEvent& e, uint64_t address);
  void Free(uint64_t address, uint32_t tid);
  void AddRegion(IntervalSet& set, uint64_t lo, uint64_t hi);
  void RemoveRegion(IntervalSet& set, uint64_t lo, uint64_t hi);
  void ReleasePages(uint64_t lo, uint64_t hi);
  void TopRegionChanged();
  void RefreshTop() const;
  bool InExtent(uint64_t x) const {
    return brk_.Contains(x) || mmap_.Contains(x);
  }
  uint64_t PageFloor(uint64_t x) const { return x & ~(page_size_ - 1); }
  uint64_t PageCeil(uint64_t x) const {
    return (x + page_size_ - 1) & ~(page_size_ - 1);
  }

  uint64_t page_size_;
  uint64_t time_ns_ = 0;
  ChunkMap chunks_;
  IntervalSet brk_;
  IntervalSet mmap_;
  IntervalSet free_{/*track_lengths=*/true};
  IntervalSet resident_;
  FreedRanges freed_;
  uint64_t live_usable_ = 0;
  uint64_t live_requested_ = 0;
  uint64_t live_brk_usable_ = 0;
  uint64_t anomalies_ = 0;
  // The topmost brk region (TopBrkRegion()).
  uint64_t top_lo_ = 0, top_hi_ = 0;
  // TopChunk()'s address and usable size (has_top_: it exists), valid
  // unless top_dirty_.
  mutable bool top_dirty_ = false;
  mutable bool has_top_ = false;
  mutable uint64_t top_address_ = 0;
  mutable uint64_t top_usable_ = 0;
};

}  // namespace heaplens::layout

#endif  // HEAPLENS_ANALYZER_LAYOUT_HEAP_MODEL_H_

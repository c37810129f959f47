// page_heap.h: spans of pages from the brk heap, and large mmap'd blocks.
//
// The page heap owns the allocator's address space:
//   - The brk heap: extents obtained with Sbrk (usually one contiguous
//     extent; a new one when a foreign sbrk user moved the break). When the
//     break cannot grow, mmap'd fallback regions serve the same role.
//   - Spans: runs of pages, either free, carved into small objects (kSmall,
//     owned by a CentralFreeList), or one in-heap large block (kLarge).
//     Allocation is best-fit from per-length free lists, carving from the
//     low end; freeing coalesces with free neighbours in the same region.
//   - Release policy (options release_policy, release_min, dirty_max,
//     decay_ms): free runs of at least release_min bytes are "dirty" until
//     madvised. eager: madvise at once. decay (default): madvise the oldest
//     when dirty bytes exceed dirty_max (down to half), and any run free for
//     longer than decay_ms. never: only trimming.
//   - Trim: when the free span at the top of the brk heap exceeds
//     trim_threshold and the break is still ours, the break is lowered,
//     leaving top_pad bytes.
//   - Large blocks (>= mmap_threshold): their own mapping (kMmapped), freed
//     ones kept in a small cache (large_cache bytes, at most 8, decayed by
//     decay_ms) and reused, cut down with munmap or grown with mremap.
//
// Thread safety: methods marked "locked" require lock(); the Mmapped ones
// take it themselves. Heap-shape events go to the recorder (track.h) after
// each OS call.
#ifndef HEAPLENS_INTERPOSER_ALLOCATOR_PAGE_HEAP_H_
#define HEAPLENS_INTERPOSER_ALLOCATOR_PAGE_HEAP_H_

#include <stddef.h>
#include <stdint.h>

#include "interposer/allocator/os.h"
#include "interposer/allocator/page_map.h"
#include "interposer/allocator/size_classes.h"
#include "interposer/spinlock.h"

namespace heaplens {

enum class SpanState : uint8_t {
  kDead = 0,  // a recycled Span record
  kFree,
  kSmall,
  kLarge,
  kMmapped,
  kMmapCached,
};

// A run of pages. The first fields are the ones free() reads.
struct Span {
  uintptr_t start;
  uint32_t bump;       // kSmall: slots handed to the central list so far
  uint8_t size_class;  // kSmall: the class; otherwise 0
  SpanState state;
  uint8_t released;  // kFree: no page is resident (madvised or untouched)
  uint8_t fresh;     // kMmapped: zero-filled, never handed out before
  uint16_t region;   // in-heap spans: index of the region
  uint8_t dirty_listed;
  size_t npages;
  void* freelist;      // kSmall: returned objects
  uint32_t allocated;  // kSmall: objects out of the span (cached or live)
  uint32_t capacity;   // kSmall: objects in the span
  Span* next;          // free list / central list / large lists
  Span* prev;
  Span* dnext;  // dirty list (kFree)
  Span* dprev;
  uint64_t time_ms;  // kFree, kMmapCached: when it was freed
  uint64_t scratch;  // for enumeration

  size_t bytes() const { return npages << kPageShift; }
  uintptr_t end() const { return start + bytes(); }
};

struct HeapRegion {
  uintptr_t start;
  size_t size;
  bool brk;  // brk extent (true) or mmap'd fallback region
};

// Heap-shape events are produced under the page heap's lock but must reach
// the recorder without it (the recorder's fork handler takes its locks
// before ours, so calling it under ours could deadlock). They are queued in
// a per-thread buffer and emitted when the lock is released (PageHeap::Locked)
// -- before any chunk of a new range is returned to the caller.
void EmitPendingSegments();
// True when the pending buffer has room for `n` more events.
bool PendingSegmentsRoom(int n);

class PageHeap {
 public:
  // Holds lock() and emits the queued segment events after unlocking.
  class Locked {
   public:
    explicit Locked(PageHeap* h) : h_(h) { h_->lock_.Lock(); }
    ~Locked() {
      h_->lock_.Unlock();
      EmitPendingSegments();
    }
    Locked(const Locked&) = delete;
    Locked& operator=(const Locked&) = delete;

   private:
    PageHeap* h_;
  };

  struct Config {
    size_t trim_threshold;
    size_t top_pad;
    size_t heap_grow_min;
    uint64_t release_policy;  // ReleasePolicy
    size_t release_min;
    size_t dirty_max;
    uint64_t decay_ms;
    size_t large_cache;
  };
  struct Stats {
    size_t heap_bytes;  // regions (brk extents + fallback)
    size_t brk_bytes;
    size_t free_bytes;     // free spans in the regions
    size_t dirty_bytes;    // free, not released, in runs >= release_min
    size_t mmapped_bytes;  // live large mappings
    size_t cached_bytes;   // freed large mappings kept for reuse
    size_t in_use_spans;
    size_t regions;
  };
  static constexpr int kMaxRegions = 1024;

  // The object must be zero-initialized (static storage or value-init).
  void Init(OsInterface* os, PageMap* map, const Config& config);
  void Configure(const Config& config);  // locked
  SpinLock* lock() { return &lock_; }
  PageMap* pagemap() const { return map_; }

  // locked: a span of exactly npages in the heap (state kLarge), or nullptr.
  Span* New(size_t npages);
  // locked: as New, with start aligned to align_pages pages.
  Span* NewAligned(size_t npages, size_t align_pages);
  // locked: returns an in-heap span (kLarge or kSmall) to the free pool.
  void Delete(Span* s);
  // locked: turns a New() span into a small-object span of class cl and maps
  // all its pages.
  void RegisterSmall(Span* s, uint32_t cl);

  // A large block of >= bytes (page multiple) aligned to align (power of
  // two; <= kPageSize means page-aligned). nullptr when out of memory.
  Span* NewMmapped(size_t bytes, size_t align);
  void DeleteMmapped(Span* s);
  // Resizes a live kMmapped block with mremap; false if the kernel refused.
  bool ResizeMmapped(Span* s, size_t bytes);

  // Applies the decay policy now (called from slow paths). Takes lock().
  void Tick();

  Stats GetStats();  // takes lock()
  // locked: number of in-use spans (kSmall, kLarge, kMmapped).
  size_t InUseSpans() const { return in_use_; }
  // locked: writes up to cap in-use spans in ascending address order.
  size_t CollectInUse(Span** out, size_t cap);
  // locked.
  int regions() const { return nregions_; }
  const HeapRegion& region(int i) const { return regions_[i]; }
  // locked: calls fn for each live large mapping.
  void ForEachMmapped(void (*fn)(void*, uintptr_t, size_t), void* arg);

  // For ForkChild: the lock may be held by a thread that is gone.
  void ResetLockAfterFork() { lock_.ResetAfterFork(); }

 private:
  static constexpr size_t kBuckets = 128;
  static constexpr int kMaxCached = 8;

  Span* NewSpanRecord();
  void FreeSpanRecord(Span* s);
  Span** ListFor(size_t npages);
  // part_of_large_run: list a dirty span for release even below release_min.
  void LinkFree(Span* s, bool part_of_large_run = false);
  void UnlinkFree(Span* s);
  Span* FindFree(size_t npages);
  Span* Carve(Span* s, size_t npages);
  // Inserts a free span, coalescing it with free neighbours; returns the
  // merged span.
  Span* InsertCoalesced(Span* s);
  bool Grow(size_t npages);
  bool AddMemory(uintptr_t start, uintptr_t end, bool brk);
  void Release(Span* s);
  void MaybeTrim();
  void ApplyPolicy(uint64_t now);
  void DecayLocked(uint64_t now);
  void EvictCached(Span* s);
  void LinkList(Span** head, Span* s);
  void UnlinkList(Span** head, Span* s);

  SpinLock lock_;
  OsInterface* os_;
  PageMap* map_;
  Config config_;
  Span* free_[kBuckets];
  Span* free_large_;
  Span* dirty_head_;
  Span* dirty_tail_;
  Span* span_records_;  // recycled Span records
  char* record_cur_;
  char* record_end_;
  Span* mmapped_;  // live large mappings
  Span* cached_;   // freed large mappings, newest first
  int ncached_;
  size_t cached_bytes_;
  size_t mmapped_bytes_;
  size_t free_bytes_;
  size_t dirty_bytes_;
  size_t in_use_;
  uintptr_t brk_end_;  // end of the brk extent we last grew
  int brk_region_;     // index of that extent, -1 if none
  uint64_t last_decay_ms_;
  bool brk_failed_;  // the fallback notice was queued
  HeapRegion regions_[kMaxRegions];
  int nregions_;
};

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_ALLOCATOR_PAGE_HEAP_H_

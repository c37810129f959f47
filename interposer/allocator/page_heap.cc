#include "interposer/allocator/page_heap.h"

#include <errno.h>
#include <string.h>

#include "interposer/internal_memory.h"
#include "interposer/log.h"
#include "interposer/options.h"
#include "interposer/track.h"

namespace heaplens {
namespace {

constexpr size_t kFallbackRegionBytes = size_t{4} << 20;

uintptr_t RoundUp(uintptr_t v, uintptr_t a) { return (v + a - 1) & ~(a - 1); }
uintptr_t RoundDown(uintptr_t v, uintptr_t a) { return v & ~(a - 1); }
uintptr_t PageOf(uintptr_t a) { return a >> kPageShift; }

struct PendingSegment {
  EventKind kind;
  uintptr_t addr;
  size_t size;
};
constexpr int kMaxPending = 64;
__thread PendingSegment t_pending[kMaxPending]
    __attribute__((tls_model("initial-exec")));
__thread int t_npending __attribute__((tls_model("initial-exec")));

void Segment(EventKind kind, uintptr_t addr, size_t size) {
  if (!TracingActive()) return;
  if (t_npending < kMaxPending) t_pending[t_npending++] = {kind, addr, size};
}

// A Notice (TrackNotice) queued like a segment event; `text` is static.
constexpr EventKind kPendingNotice = static_cast<EventKind>(0);
void Notice(const char* text) {
  Segment(kPendingNotice, reinterpret_cast<uintptr_t>(text), 0);
}

}  // namespace

bool PendingSegmentsRoom(int n) {
  return !TracingActive() || t_npending + n <= kMaxPending;
}

void EmitPendingSegments() {
  int n = t_npending;
  if (n == 0) return;
  t_npending = 0;
  for (int i = 0; i < n; ++i) {
    PendingSegment e = t_pending[i];
    if (!TracingActive()) continue;
    if (e.kind == kPendingNotice) {
      TrackNotice(reinterpret_cast<const char*>(e.addr));
    } else {
      TrackSegment(e.kind, e.addr, e.size);
    }
  }
}

void PageHeap::Init(OsInterface* os, PageMap* map, const Config& config) {
  os_ = os;
  map_ = map;
  config_ = config;
  brk_region_ = -1;
}

void PageHeap::Configure(const Config& config) { config_ = config; }

// ---- Span records ----

Span* PageHeap::NewSpanRecord() {
  Span* s = span_records_;
  if (s != nullptr) {
    span_records_ = s->next;
  } else {
    if (static_cast<size_t>(record_end_ - record_cur_) < sizeof(Span)) {
      constexpr size_t kBlock = 256 << 10;
      char* b = static_cast<char*>(InternalMap(kBlock));
      if (b == nullptr) return nullptr;
      record_cur_ = b;
      record_end_ = b + kBlock;
    }
    s = reinterpret_cast<Span*>(record_cur_);
    record_cur_ += sizeof(Span);
  }
  memset(s, 0, sizeof(*s));
  return s;
}

void PageHeap::FreeSpanRecord(Span* s) {
  memset(s, 0, sizeof(*s));
  s->state = SpanState::kDead;
  s->next = span_records_;
  span_records_ = s;
}

// ---- Free lists ----

Span** PageHeap::ListFor(size_t npages) {
  return npages < kBuckets ? &free_[npages] : &free_large_;
}

void PageHeap::LinkList(Span** head, Span* s) {
  s->prev = nullptr;
  s->next = *head;
  if (*head != nullptr) (*head)->prev = s;
  *head = s;
}

void PageHeap::UnlinkList(Span** head, Span* s) {
  if (s->prev != nullptr) {
    s->prev->next = s->next;
  } else {
    *head = s->next;
  }
  if (s->next != nullptr) s->next->prev = s->prev;
  s->next = s->prev = nullptr;
}

void PageHeap::LinkFree(Span* s, bool part_of_large_run) {
  s->state = SpanState::kFree;
  s->size_class = 0;
  LinkList(ListFor(s->npages), s);
  map_->Set(PageOf(s->start), s);
  map_->Set(PageOf(s->end()) - 1, s);
  free_bytes_ += s->bytes();
  if (!s->released &&
      (s->bytes() >= config_.release_min || part_of_large_run) &&
      config_.release_policy != kReleaseNever) {
    s->dirty_listed = 1;
    s->dnext = nullptr;
    s->dprev = dirty_tail_;
    if (dirty_tail_ != nullptr) {
      dirty_tail_->dnext = s;
    } else {
      dirty_head_ = s;
    }
    dirty_tail_ = s;
    dirty_bytes_ += s->bytes();
  }
}

void PageHeap::UnlinkFree(Span* s) {
  UnlinkList(ListFor(s->npages), s);
  free_bytes_ -= s->bytes();
  if (s->dirty_listed) {
    if (s->dprev != nullptr) {
      s->dprev->dnext = s->dnext;
    } else {
      dirty_head_ = s->dnext;
    }
    if (s->dnext != nullptr) {
      s->dnext->dprev = s->dprev;
    } else {
      dirty_tail_ = s->dprev;
    }
    s->dnext = s->dprev = nullptr;
    s->dirty_listed = 0;
    dirty_bytes_ -= s->bytes();
  }
}

Span* PageHeap::FindFree(size_t npages) {
  for (size_t i = npages; i < kBuckets; ++i) {
    if (free_[i] != nullptr) return free_[i];
  }
  Span* best = nullptr;
  for (Span* s = free_large_; s != nullptr; s = s->next) {
    if (s->npages < npages) continue;
    if (best == nullptr || s->npages < best->npages ||
        (s->npages == best->npages && s->start < best->start)) {
      best = s;
    }
  }
  return best;
}

Span* PageHeap::Carve(Span* s, size_t npages) {
  UnlinkFree(s);
  if (s->npages > npages) {
    Span* rest = NewSpanRecord();
    if (rest == nullptr) {
      LinkFree(s);
      return nullptr;
    }
    rest->start = s->start + (npages << kPageShift);
    rest->npages = s->npages - npages;
    rest->released = s->released;
    rest->region = s->region;
    rest->time_ms = s->time_ms;
    s->npages = npages;
    LinkFree(rest);
  }
  s->state = SpanState::kLarge;
  s->released = 0;
  map_->Set(PageOf(s->start), s);
  map_->Set(PageOf(s->end()) - 1, s);
  ++in_use_;
  return s;
}

// ---- Allocation ----

Span* PageHeap::New(size_t npages) {
  Span* s = FindFree(npages);
  if (s == nullptr) {
    if (!Grow(npages)) return nullptr;
    s = FindFree(npages);
    if (s == nullptr) return nullptr;
  }
  return Carve(s, npages);
}

Span* PageHeap::NewAligned(size_t npages, size_t align_pages) {
  if (align_pages <= 1) return New(npages);
  Span* s = New(npages + align_pages - 1);
  if (s == nullptr) return nullptr;
  uintptr_t a = RoundUp(s->start, align_pages << kPageShift);
  if (a > s->start) {
    Span* head = NewSpanRecord();
    if (head == nullptr) {
      Delete(s);
      return nullptr;
    }
    head->start = s->start;
    head->npages = (a - s->start) >> kPageShift;
    head->region = s->region;
    head->state = SpanState::kLarge;
    s->start = a;
    s->npages -= head->npages;
    map_->Set(PageOf(s->start), s);
    ++in_use_;
    Delete(head);
  }
  if (s->npages > npages) {
    Span* tail = NewSpanRecord();
    if (tail != nullptr) {
      tail->start = s->start + (npages << kPageShift);
      tail->npages = s->npages - npages;
      tail->region = s->region;
      tail->state = SpanState::kLarge;
      s->npages = npages;
      ++in_use_;
      Delete(tail);
    }
  }
  map_->Set(PageOf(s->start), s);
  map_->Set(PageOf(s->end()) - 1, s);
  return s;
}

void PageHeap::RegisterSmall(Span* s, uint32_t cl) {
  s->state = SpanState::kSmall;
  s->size_class = static_cast<uint8_t>(cl);
  s->bump = 0;
  s->allocated = 0;
  s->freelist = nullptr;
  s->capacity = g_size_classes[cl].objects;
  map_->SetRange(PageOf(s->start), s->npages, s);
}

bool PageHeap::AddMemory(uintptr_t start, uintptr_t end, bool brk) {
  if (end <= start) return false;
  if (!map_->Ensure(PageOf(start), PageOf(end - start))) return false;
  int r = -1;
  if (brk && brk_region_ >= 0 &&
      regions_[brk_region_].start + regions_[brk_region_].size == start) {
    r = brk_region_;
    regions_[r].size += end - start;
  } else {
    if (nregions_ == kMaxRegions) return false;
    r = nregions_++;
    regions_[r] = {start, end - start, brk};
    if (brk) brk_region_ = r;
  }
  Span* s = NewSpanRecord();
  if (s == nullptr) return false;
  s->start = start;
  s->npages = (end - start) >> kPageShift;
  s->region = static_cast<uint16_t>(r);
  s->released = 1;  // never touched: not resident
  s->time_ms = os_->NowMs();
  InsertCoalesced(s);
  return true;
}

bool PageHeap::Grow(size_t npages) {
  size_t want = npages << kPageShift;
  size_t bytes = RoundUp(
      want > config_.heap_grow_min ? want : config_.heap_grow_min, kPageSize);
  void* cur = os_->Sbrk(0);
  if (cur != nullptr) {
    uintptr_t c = reinterpret_cast<uintptr_t>(cur);
    size_t pad = RoundUp(c, kPageSize) - c;
    void* old = os_->Sbrk(static_cast<intptr_t>(bytes + pad));
    if (old != nullptr) {
      uintptr_t o = reinterpret_cast<uintptr_t>(old);
      uintptr_t start = RoundUp(o, kPageSize);
      uintptr_t end = RoundDown(o + bytes + pad, kPageSize);
      Segment(EventKind::kHeapGrow, o, bytes + pad);
      bool contiguous = brk_region_ >= 0 && start == brk_end_;
      if (!contiguous) brk_region_ = -1;
      if (AddMemory(start, end, true)) {
        brk_end_ = end;
        if (end - start >= want) return true;
      }
    }
  }
  // The break cannot grow: an mmap'd region serves as heap instead. The
  // trace says so once.
  if (!brk_failed_) {
    brk_failed_ = true;
    Notice(errno == ENOMEM ? "brk failed (ENOMEM); using mmap'd regions as heap"
                           : "brk failed; using mmap'd regions as heap");
  }
  size_t size = bytes > kFallbackRegionBytes ? bytes : kFallbackRegionBytes;
  void* p = os_->Map(size);
  if (p == nullptr) return false;
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  Segment(EventKind::kMmap, a, size);
  return AddMemory(a, a + size, false);
}

// ---- Freeing ----

// Only runs in the same state coalesce: a dirty run next to a released one
// stays separate until it is released itself (Release merges it then).
// Merging them would make the whole run dirty, and the next release would
// madvise all of it again -- with a large released heap top, every small
// free next to it cost an madvise of the whole top (sqlite3: 1,400 calls of
// up to 80 MB each).
Span* PageHeap::InsertCoalesced(Span* s) {
  s->state = SpanState::kFree;
  uintptr_t first = PageOf(s->start);
  Span* left = map_->GetPage(first - 1);
  if (left != nullptr && left->state == SpanState::kFree &&
      left->end() == s->start && left->region == s->region &&
      left->released == s->released) {
    UnlinkFree(left);
    s->start = left->start;
    s->npages += left->npages;
    if (left->time_ms > s->time_ms) s->time_ms = left->time_ms;
    FreeSpanRecord(left);
  }
  Span* right = map_->GetPage(PageOf(s->end()));
  if (right != nullptr && right->state == SpanState::kFree &&
      right->start == s->end() && right->region == s->region &&
      right->released == s->released) {
    UnlinkFree(right);
    s->npages += right->npages;
    if (right->time_ms > s->time_ms) s->time_ms = right->time_ms;
    FreeSpanRecord(right);
  }
  // A dirty run next to a released one is part of a larger free run: it is
  // released by the policy whatever its own size.
  bool next_to_released = false;
  if (!s->released) {
    Span* l = map_->GetPage(PageOf(s->start) - 1);
    Span* r = map_->GetPage(PageOf(s->end()));
    next_to_released =
        (l != nullptr && l->state == SpanState::kFree && l->end() == s->start &&
         l->region == s->region && l->released) ||
        (r != nullptr && r->state == SpanState::kFree && r->start == s->end() &&
         r->region == s->region && r->released);
  }
  LinkFree(s, next_to_released);
  return s;
}

void PageHeap::Delete(Span* s) {
  --in_use_;
  uint64_t now = os_->NowMs();
  s->size_class = 0;
  s->freelist = nullptr;
  s->bump = s->allocated = s->capacity = 0;
  s->released = 0;
  s->time_ms = now;
  InsertCoalesced(s);
  ApplyPolicy(now);
}

void PageHeap::Release(Span* s) {
  UnlinkFree(s);
  if (os_->Release(reinterpret_cast<void*>(s->start), s->bytes())) {
    Segment(EventKind::kMadvise, s->start, s->bytes());
  }
  // Even if madvise failed, it is not relisted: no retry loop.
  s->released = 1;
  InsertCoalesced(s);
  MaybeTrim();
}

// The free run at the top of the brk extent may be several spans (dirty and
// released runs do not coalesce); they are merged here before the cut.
void PageHeap::MaybeTrim() {
  if (brk_region_ < 0 || brk_end_ == 0) return;
  Span* top = map_->GetPage(PageOf(brk_end_) - 1);
  if (top == nullptr || top->state != SpanState::kFree ||
      top->end() != brk_end_ || top->region != brk_region_) {
    return;
  }
  size_t total = top->bytes();
  Span* low = top;
  for (;;) {
    Span* left = map_->GetPage(PageOf(low->start) - 1);
    if (left == nullptr || left->state != SpanState::kFree ||
        left->end() != low->start || left->region != low->region) {
      break;
    }
    total += left->bytes();
    low = left;
  }
  if (total <= config_.trim_threshold) return;
  size_t keep = RoundUp(config_.top_pad, kPageSize);
  if (total <= keep) return;
  size_t cut = total - keep;
  if (os_->Sbrk(0) != reinterpret_cast<void*>(brk_end_)) return;  // not ours
  if (os_->Sbrk(-static_cast<intptr_t>(cut)) == nullptr) return;
  // One span [low->start, brk_end_), released only if all parts were.
  Span* s = low;
  UnlinkFree(s);
  while (s->end() != brk_end_) {
    Span* right = map_->GetPage(PageOf(s->end()));
    UnlinkFree(right);
    s->npages += right->npages;
    s->released = s->released && right->released;
    if (right->time_ms > s->time_ms) s->time_ms = right->time_ms;
    FreeSpanRecord(right);
  }
  uintptr_t new_end = brk_end_ - cut;
  map_->SetRange(PageOf(new_end), cut >> kPageShift, nullptr);
  map_->Set(PageOf(s->end()) - 1, nullptr);
  s->npages -= cut >> kPageShift;
  regions_[brk_region_].size -= cut;
  brk_end_ = new_end;
  if (s->npages == 0) {
    FreeSpanRecord(s);
  } else {
    LinkFree(s);
  }
  Segment(EventKind::kHeapShrink, new_end, cut);
}

void PageHeap::ApplyPolicy(uint64_t now) {
  MaybeTrim();
  switch (config_.release_policy) {
    case kReleaseEager:
      while (dirty_head_ != nullptr && PendingSegmentsRoom(4)) {
        Release(dirty_head_);
      }
      break;
    case kReleaseDecay: {
      // Dirty memory allowed: dirty_max, or a quarter of the heap in use,
      // whichever is larger (a busy heap refaults less; an empty one keeps
      // only dirty_max).
      size_t heap = 0;
      for (int i = 0; i < nregions_; ++i) heap += regions_[i].size;
      size_t in_use = heap > free_bytes_ ? heap - free_bytes_ : 0;
      size_t allowed =
          config_.dirty_max > in_use / 4 ? config_.dirty_max : in_use / 4;
      if (dirty_bytes_ > allowed) {
        while (dirty_head_ != nullptr && dirty_bytes_ > allowed / 2 &&
               PendingSegmentsRoom(4)) {
          Release(dirty_head_);
        }
      }
      DecayLocked(now);
      break;
    }
    default:
      break;
  }
}

void PageHeap::DecayLocked(uint64_t now) {
  if (now - last_decay_ms_ < config_.decay_ms / 8 + 1) return;
  last_decay_ms_ = now;
  if (config_.release_policy == kReleaseDecay) {
    while (dirty_head_ != nullptr &&
           dirty_head_->time_ms + config_.decay_ms <= now &&
           PendingSegmentsRoom(4)) {
      Release(dirty_head_);
    }
  }
  // Large mappings cached for longer than decay_ms go back too.
  Span* s = cached_;
  while (s != nullptr) {
    Span* next = s->next;
    if (s->time_ms + config_.decay_ms <= now && PendingSegmentsRoom(4)) {
      EvictCached(s);
    }
    s = next;
  }
}

void PageHeap::Tick() {
  Locked h(this);
  DecayLocked(os_->NowMs());
}

// ---- Large mappings ----

void PageHeap::EvictCached(Span* s) {
  UnlinkList(&cached_, s);
  --ncached_;
  cached_bytes_ -= s->bytes();
  map_->Set(PageOf(s->start), nullptr);
  os_->Unmap(reinterpret_cast<void*>(s->start), s->bytes());
  Segment(EventKind::kMunmap, s->start, s->bytes());
  FreeSpanRecord(s);
}

Span* PageHeap::NewMmapped(size_t bytes, size_t align) {
  size_t need = RoundUp(bytes, kPageSize);
  if (align <= kPageSize) {
    Locked h(this);
    Span* best = nullptr;
    Span* largest = nullptr;
    for (Span* c = cached_; c != nullptr; c = c->next) {
      if (c->bytes() >= need &&
          (best == nullptr || c->bytes() < best->bytes())) {
        best = c;
      }
      if (largest == nullptr || c->bytes() > largest->bytes()) largest = c;
    }
    Span* got = nullptr;
    if (best != nullptr) {
      UnlinkList(&cached_, best);
      --ncached_;
      cached_bytes_ -= best->bytes();
      if (best->bytes() > 8 * need) {
        size_t cut = best->bytes() - need;
        os_->Unmap(reinterpret_cast<void*>(best->start + need), cut);
        Segment(EventKind::kMunmap, best->start + need, cut);
        best->npages = need >> kPageShift;
      }
      got = best;
    } else if (largest != nullptr) {
      void* p = os_->Remap(reinterpret_cast<void*>(largest->start),
                           largest->bytes(), need);
      if (p != nullptr) {
        UnlinkList(&cached_, largest);
        --ncached_;
        cached_bytes_ -= largest->bytes();
        map_->Set(PageOf(largest->start), nullptr);
        Segment(EventKind::kMunmap, largest->start, largest->bytes());
        largest->start = reinterpret_cast<uintptr_t>(p);
        largest->npages = need >> kPageShift;
        Segment(EventKind::kMmap, largest->start, need);
        if (map_->Ensure(PageOf(largest->start), 1)) {
          got = largest;
        } else {
          os_->Unmap(p, need);
          FreeSpanRecord(largest);
        }
      }
    }
    if (got != nullptr) {
      got->state = SpanState::kMmapped;
      got->fresh = 0;
      map_->Set(PageOf(got->start), got);
      LinkList(&mmapped_, got);
      mmapped_bytes_ += got->bytes();
      ++in_use_;
      return got;
    }
  }
  size_t extra = align > kPageSize ? align - kPageSize : 0;
  if (need + extra < need) return nullptr;
  char* p = static_cast<char*>(os_->Map(need + extra));
  if (p == nullptr) return nullptr;
  uintptr_t base = reinterpret_cast<uintptr_t>(p);
  uintptr_t start = align > kPageSize ? RoundUp(base, align) : base;
  if (start > base) os_->Unmap(p, start - base);
  size_t tail = base + need + extra - (start + need);
  if (tail > 0) os_->Unmap(reinterpret_cast<void*>(start + need), tail);
  Segment(EventKind::kMmap, start, need);
  Locked h(this);
  Span* s = NewSpanRecord();
  if (s == nullptr || !map_->Ensure(PageOf(start), 1)) {
    if (s != nullptr) FreeSpanRecord(s);
    os_->Unmap(reinterpret_cast<void*>(start), need);
    Segment(EventKind::kMunmap, start, need);
    return nullptr;
  }
  s->start = start;
  s->npages = need >> kPageShift;
  s->state = SpanState::kMmapped;
  s->fresh = 1;
  map_->Set(PageOf(start), s);
  LinkList(&mmapped_, s);
  mmapped_bytes_ += need;
  ++in_use_;
  return s;
}

void PageHeap::DeleteMmapped(Span* s) {
  Locked h(this);
  UnlinkList(&mmapped_, s);
  mmapped_bytes_ -= s->bytes();
  --in_use_;
  uint64_t now = os_->NowMs();
  if (s->bytes() <= config_.large_cache && config_.decay_ms > 0) {
    s->state = SpanState::kMmapCached;
    s->time_ms = now;
    LinkList(&cached_, s);
    ++ncached_;
    cached_bytes_ += s->bytes();
    while ((cached_bytes_ > config_.large_cache || ncached_ > kMaxCached) &&
           PendingSegmentsRoom(2)) {
      Span* oldest = cached_;
      while (oldest->next != nullptr) oldest = oldest->next;
      EvictCached(oldest);
    }
  } else {
    map_->Set(PageOf(s->start), nullptr);
    os_->Unmap(reinterpret_cast<void*>(s->start), s->bytes());
    Segment(EventKind::kMunmap, s->start, s->bytes());
    FreeSpanRecord(s);
  }
  DecayLocked(now);
}

bool PageHeap::ResizeMmapped(Span* s, size_t bytes) {
  size_t need = RoundUp(bytes, kPageSize);
  void* p = os_->Remap(reinterpret_cast<void*>(s->start), s->bytes(), need);
  if (p == nullptr) return false;
  Locked h(this);
  map_->Set(PageOf(s->start), nullptr);
  Segment(EventKind::kMunmap, s->start, s->bytes());
  mmapped_bytes_ += need;
  mmapped_bytes_ -= s->bytes();
  s->start = reinterpret_cast<uintptr_t>(p);
  s->npages = need >> kPageShift;
  s->fresh = 0;
  HL_CHECK(map_->Ensure(PageOf(s->start), 1));
  map_->Set(PageOf(s->start), s);
  Segment(EventKind::kMmap, s->start, need);
  return true;
}

// ---- Introspection ----

PageHeap::Stats PageHeap::GetStats() {
  Locked h(this);
  Stats st = {};
  for (int i = 0; i < nregions_; ++i) {
    st.heap_bytes += regions_[i].size;
    if (regions_[i].brk) st.brk_bytes += regions_[i].size;
  }
  st.free_bytes = free_bytes_;
  st.dirty_bytes = dirty_bytes_;
  st.mmapped_bytes = mmapped_bytes_;
  st.cached_bytes = cached_bytes_;
  st.in_use_spans = in_use_;
  st.regions = static_cast<size_t>(nregions_);
  return st;
}

void PageHeap::ForEachMmapped(void (*fn)(void*, uintptr_t, size_t), void* arg) {
  for (Span* s = mmapped_; s != nullptr; s = s->next) {
    fn(arg, s->start, s->bytes());
  }
}

size_t PageHeap::CollectInUse(Span** out, size_t cap) {
  size_t n = 0;
  for (int r = 0; r < nregions_; ++r) {
    uintptr_t pg = PageOf(regions_[r].start);
    uintptr_t end = PageOf(regions_[r].start + regions_[r].size);
    while (pg < end) {
      Span* s = map_->GetPage(pg);
      if (s == nullptr || PageOf(s->start) != pg || s->npages == 0) break;
      if (s->state == SpanState::kSmall || s->state == SpanState::kLarge) {
        if (n < cap) out[n++] = s;
      }
      pg += s->npages;
    }
  }
  for (Span* s = mmapped_; s != nullptr; s = s->next) {
    if (n < cap) out[n++] = s;
  }
  // Heap sort by address: no allocation, O(n log n).
  auto sift = [&](size_t i, size_t len) {
    while (true) {
      size_t c = 2 * i + 1;
      if (c >= len) return;
      if (c + 1 < len && out[c + 1]->start > out[c]->start) ++c;
      if (out[c]->start <= out[i]->start) return;
      Span* t = out[c];
      out[c] = out[i];
      out[i] = t;
      i = c;
    }
  };
  for (size_t i = n / 2; i-- > 0;) sift(i, n);
  for (size_t len = n; len > 1; --len) {
    Span* t = out[0];
    out[0] = out[len - 1];
    out[len - 1] = t;
    sift(0, len - 1);
  }
  return n;
}

}  // namespace heaplens

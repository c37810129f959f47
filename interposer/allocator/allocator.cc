// allocator.cc: the allocator's slow paths, initialization, thread-cache
// lifecycle, fork handling, the glibc API semantics and enumeration.
#include "interposer/allocator/allocator.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <new>

#include "interposer/allocator/central_list.h"
#include "interposer/allocator/front_end.h"
#include "interposer/allocator/os.h"
#include "interposer/allocator/page_heap.h"
#include "interposer/internal_memory.h"
#include "interposer/log.h"
#include "interposer/options.h"
#include "interposer/recorder/recorder.h"
#include "interposer/spinlock.h"
#include "interposer/track.h"

extern char** environ;

namespace heaplens {

__thread ThreadCache t_cache __attribute__((tls_model("initial-exec")));
PageMap g_pagemap;
uintptr_t g_free_key;

namespace {

// Largest request we try: glibc refuses more than PTRDIFF_MAX.
constexpr size_t kMaxRequest = size_t{1} << 46;

RealOs g_os;
alignas(64) PageHeap g_heap;
CentralFreeList g_central[kNumClasses];
SpinLock g_init_lock;
bool g_inited;          // phase 1: the heap works
bool g_late_init_done;  // phase 2: options, recorder, fork handlers
bool g_late_init_running;
pthread_key_t g_tsd_key;
bool g_tsd_ok;
size_t g_mmap_threshold = 128 << 10;
SpinLock g_registry_lock;
ThreadCache* g_registry;

PageHeap::Config HeapConfig() {
  const Options& o = GetOptions();
  PageHeap::Config c;
  c.trim_threshold = o.trim_threshold;
  c.top_pad = o.top_pad;
  c.heap_grow_min = o.heap_grow_min;
  c.release_policy = o.release_policy;
  c.release_min = o.release_min;
  c.dirty_max = o.dirty_max;
  c.decay_ms = o.decay_ms;
  c.large_cache = o.large_cache;
  return c;
}

void ThreadCacheDestructor(void* arg);
void ForkPrepare();
void ForkParent();
void ForkChild();

void InitPhase1() {
  SpinLockHolder h(&g_init_lock);
  if (__atomic_load_n(&g_inited, __ATOMIC_ACQUIRE)) return;
  InitOptions();  // may find no environment yet; retried in phase 2
  InitSizeClasses();
  uintptr_t key = 0x9e3779b97f4a7c15ull;
  if (const void* r = reinterpret_cast<const void*>(getauxval(AT_RANDOM))) {
    uintptr_t v;
    memcpy(&v, static_cast<const char*>(r) + 8, sizeof(v));
    key ^= v;
  }
  g_free_key = key | 1;
  g_mmap_threshold = GetOptions().mmap_threshold;
  g_heap.Init(&g_os, &g_pagemap, HeapConfig());
  for (uint32_t cl = 1; cl < kNumClasses; ++cl) g_central[cl].Init(cl, &g_heap);
  // pthread_key_create does not allocate.
  g_tsd_ok = pthread_key_create(&g_tsd_key, ThreadCacheDestructor) == 0;
  __atomic_store_n(&g_inited, true, __ATOMIC_RELEASE);
}

// Phase 2 needs the environment (libc sets `environ` after the first
// allocations made by ld.so) and may allocate itself.
__attribute__((noinline)) void InitPhase2() {
  if (environ == nullptr) return;
  {
    SpinLockHolder h(&g_init_lock);
    if (g_late_init_done || g_late_init_running) return;
    g_late_init_running = true;
  }
  InitOptions();
  {
    PageHeap::Locked h(&g_heap);
    g_heap.Configure(HeapConfig());
  }
  g_mmap_threshold = GetOptions().mmap_threshold;
  pthread_atfork(ForkPrepare, ForkParent, ForkChild);
  __atomic_store_n(&g_late_init_done, true, __ATOMIC_RELEASE);
  RecorderInit();
}

inline void EnsureInit() {
  if (__builtin_expect(!__atomic_load_n(&g_late_init_done, __ATOMIC_ACQUIRE),
                       0)) {
    if (!__atomic_load_n(&g_inited, __ATOMIC_ACQUIRE)) InitPhase1();
    InitPhase2();
  }
}

// ---- Thread caches ----

void InitThreadCache(ThreadCache* tc) {
  tc->state = kCacheInitializing;
  {
    SpinLockHolder h(&g_registry_lock);
    tc->prev = nullptr;
    tc->next = g_registry;
    if (g_registry != nullptr) g_registry->prev = tc;
    g_registry = tc;
  }
  // May allocate (keys >= 32); the nested call sees kCacheInitializing.
  if (g_tsd_ok) pthread_setspecific(g_tsd_key, tc);
  for (uint32_t cl = 1; cl < kNumClasses; ++cl) {
    tc->lists[cl].max = 2 * g_size_classes[cl].batch;
  }
  tc->state = kCacheActive;
}

void Unregister(ThreadCache* tc) {
  if (tc->prev != nullptr) {
    tc->prev->next = tc->next;
  } else if (g_registry == tc) {
    g_registry = tc->next;
  }
  if (tc->next != nullptr) tc->next->prev = tc->prev;
  tc->next = tc->prev = nullptr;
}

// Returns every object of `tc` to the central lists. `bounded` walks at most
// count objects (for caches of threads that vanished mid-operation).
void FlushCache(ThreadCache* tc) {
  for (uint32_t cl = 1; cl < kNumClasses; ++cl) {
    CacheList* l = &tc->lists[cl];
    FreeObject* head = l->head;
    if (head == nullptr) continue;
    // Cut the chain at count objects.
    FreeObject* last = head;
    for (uint32_t i = 1; i < l->count && last->next != nullptr; ++i) {
      last = last->next;
    }
    last->next = nullptr;
    l->head = nullptr;
    l->count = 0;
    g_central[cl].InsertRange(head);
  }
}

void ThreadCacheDestructor(void*) {
  ThreadCache* tc = &t_cache;
  if (tc->state != kCacheActive) return;
  tc->state = kCacheDead;
  for (uint32_t cl = 1; cl < kNumClasses; ++cl) tc->lists[cl].max = 0;
  FlushCache(tc);
  SpinLockHolder h(&g_registry_lock);
  Unregister(tc);
}

// Releases a batch from a list that reached its max.
void ReleaseBatch(CacheList* l, uint32_t cl) {
  uint32_t n = g_size_classes[cl].batch;
  FreeObject* head = l->head;
  FreeObject* last = head;
  for (uint32_t i = 1; i < n && last->next != nullptr; ++i) last = last->next;
  l->head = last->next;
  last->next = nullptr;
  l->count -= n <= l->count ? n : l->count;
  g_central[cl].InsertRange(head);
}

[[noreturn]] void InvalidFreeAbort(void* p) {
  char buf[128];
  RawBuffer b(buf, sizeof(buf));
  b.Str("free(): double free or invalid pointer detected: ")
      .Hex(reinterpret_cast<uintptr_t>(p));
  RawLog(b);
  abort();
}

void InvalidFree(void* p) {
  if (TracingActive()) TrackInvalidFree(p);
  if (GetOptions().abort_on_invalid_free) InvalidFreeAbort(p);
}

// What `p` is to us. usable: bytes the caller may use.
enum class Owner { kForeign, kInvalid, kLive };
Owner Classify(const void* p, Span** span, size_t* usable) {
  Span* s = g_pagemap.Get(p);
  *span = s;
  if (s == nullptr) return Owner::kForeign;
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  switch (s->state) {
    case SpanState::kSmall: {
      uint32_t cl = s->size_class;
      uint64_t off = a - s->start;
      uint64_t idx = SlotOf(cl, off);
      if (idx >= s->bump || idx * ClassSize(cl) != off) return Owner::kInvalid;
      if (static_cast<const FreeObject*>(p)->key == g_free_key) {
        return Owner::kInvalid;
      }
      *usable = ClassSize(cl);
      return Owner::kLive;
    }
    case SpanState::kLarge:
    case SpanState::kMmapped:
      if (a != s->start) return Owner::kInvalid;
      *usable = s->bytes();
      return Owner::kLive;
    default:
      // A free span or cached mapping: freed already, or interior.
      return s->start <= a && a < s->end() ? Owner::kInvalid : Owner::kForeign;
  }
}

// One small object of class cl for a request of n bytes.
void* AllocSmall(uint32_t cl, size_t n, EventKind kind) {
  ThreadCache* tc = &t_cache;
  if (tc->state == kCacheNone && g_inited) InitThreadCache(tc);
  FreeObject* o;
  CacheList* l = &tc->lists[cl];
  if (l->head != nullptr) {
    o = l->head;
    l->head = o->next;
    --l->count;
  } else if (tc->state == kCacheActive) {
    FreeObject* chain;
    int got = g_central[cl].RemoveRange(&chain, g_size_classes[cl].batch);
    if (got == 0) return nullptr;
    o = chain;
    l->head = chain->next;
    l->count = static_cast<uint32_t>(got - 1);
  } else {
    if (g_central[cl].RemoveRange(&o, 1) == 0) return nullptr;
  }
  o->key = 0;
  if (TracingActive() && kind != kUntracked) {
    TrackAlloc(kind, o, n, ClassSize(cl));
  }
  return o;
}

// A block of >= n bytes outside the size classes, aligned to `align` (a
// power of two). *fresh: the memory is known to be zero.
void* AllocLarge(size_t n, size_t align, bool* fresh, size_t* usable) {
  *fresh = false;
  if (n > kMaxRequest || align > kMaxRequest) return nullptr;
  size_t pages = (n + kPageSize - 1) >> kPageShift;
  if (pages == 0) pages = 1;
  size_t align_pages = align > kPageSize ? align >> kPageShift : 1;
  if (n < g_mmap_threshold &&
      (pages + align_pages) << kPageShift < g_mmap_threshold + kPageSize) {
    Span* s;
    {
      PageHeap::Locked h(&g_heap);
      s = g_heap.NewAligned(pages, align_pages);
    }
    if (s != nullptr) {
      *usable = s->bytes();
      return reinterpret_cast<void*>(s->start);
    }
  }
  Span* s = g_heap.NewMmapped(n == 0 ? 1 : n, align);
  if (s == nullptr) return nullptr;
  *fresh = s->fresh;
  *usable = s->bytes();
  return reinterpret_cast<void*>(s->start);
}

void* Fail(size_t n) {
  errno = ENOMEM;
  if (TracingActive()) TrackAllocFailed(n);
  return nullptr;
}

// Untracked free of a pointer already classified as live.
void FreeLive(void* p, Span* s, EventKind kind) {
  if (TracingActive() && kind != kUntracked) TrackFree(kind, p);
  switch (s->state) {
    case SpanState::kSmall: {
      uint32_t cl = s->size_class;
      FreeObject* o = static_cast<FreeObject*>(p);
      o->key = g_free_key;
      ThreadCache* tc = &t_cache;
      if (tc->state == kCacheNone && g_inited) InitThreadCache(tc);
      if (tc->state == kCacheActive) {
        CacheList* l = &tc->lists[cl];
        o->next = l->head;
        l->head = o;
        ++l->count;
        if (l->count > l->max) ReleaseBatch(l, cl);
      } else {
        o->next = nullptr;
        g_central[cl].InsertRange(o);
      }
      return;
    }
    case SpanState::kLarge: {
      PageHeap::Locked h(&g_heap);
      g_heap.Delete(s);
      return;
    }
    case SpanState::kMmapped:
      g_heap.DeleteMmapped(s);
      return;
    default:
      return;
  }
}

}  // namespace

// ---- Slow paths ----

void* MallocSlow(size_t n, EventKind kind) {
  EnsureInit();
  if (n <= kMaxSmallSize) {
    void* p = AllocSmall(ClassOf(n), n, kind);
    return p != nullptr ? p : Fail(n);
  }
  bool fresh;
  size_t usable;
  void* p = AllocLarge(n, kPageSize, &fresh, &usable);
  if (p == nullptr) return Fail(n);
  if (TracingActive() && kind != kUntracked) TrackAlloc(kind, p, n, usable);
  return p;
}

void FreeSlow(void* p, EventKind kind) {
  if (p == nullptr || !__atomic_load_n(&g_inited, __ATOMIC_ACQUIRE)) return;
  Span* s;
  size_t usable;
  switch (Classify(p, &s, &usable)) {
    case Owner::kForeign:
      return;  // ld.so's early allocator, memory from before the preload
    case Owner::kInvalid:
      InvalidFree(p);
      return;
    case Owner::kLive:
      FreeLive(p, s, kind);
      return;
  }
}

// ---- API ----

void* Calloc(size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    EnsureInit();
    return Fail(SIZE_MAX);
  }
  if (total <= kMaxSmallSize) {
    void* p = Malloc(total, EventKind::kCalloc);
    if (p != nullptr) memset(p, 0, total);
    return p;
  }
  EnsureInit();
  bool fresh;
  size_t usable;
  void* p = AllocLarge(total, kPageSize, &fresh, &usable);
  if (p == nullptr) return Fail(total);
  if (!fresh) memset(p, 0, total);
  if (TracingActive()) TrackAlloc(EventKind::kCalloc, p, total, usable);
  return p;
}

namespace {

// Bytes readable from p, up to n (stops at the first unmapped page).
size_t ReadableBytes(const void* p, size_t n) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  uintptr_t page = a & ~(kPageSize - 1);
  size_t ok = 0;
  while (ok < n) {
    unsigned char vec;
    if (syscall(SYS_mincore, page, kPageSize, &vec) != 0) break;
    page += kPageSize;
    ok = page - a;
  }
  return ok < n ? ok : n;
}

}  // namespace

void* Realloc(void* p, size_t size) {
  if (p == nullptr) return Malloc(size, EventKind::kMalloc);
  if (size == 0) {
    Free(p, EventKind::kFree);
    return nullptr;
  }
  EnsureInit();
  Span* s;
  size_t old_usable = 0;
  Owner owner = Classify(p, &s, &old_usable);
  if (owner == Owner::kInvalid) {
    InvalidFree(p);
    errno = EINVAL;
    return nullptr;
  }
  if (owner == Owner::kForeign) {
    // Not ours: copy what is there; never free it.
    void* q = Malloc(size, EventKind::kMalloc);
    if (q != nullptr) {
      int saved = errno;
      memcpy(q, p, ReadableBytes(p, size));
      errno = saved;
    }
    return q;
  }
  // In place when the block is big enough and not much too big.
  bool in_place;
  if (s->state == SpanState::kSmall) {
    in_place = size <= kMaxSmallSize && ClassOf(size) == s->size_class;
  } else {
    in_place = size <= old_usable && size > old_usable / 2;
  }
  if (in_place) {
    if (TracingActive()) TrackRealloc(p, p, size, old_usable);
    return p;
  }
  if (s->state == SpanState::kMmapped && size >= g_mmap_threshold &&
      size <= kMaxRequest && g_heap.ResizeMmapped(s, size)) {
    void* q = reinterpret_cast<void*>(s->start);
    if (TracingActive()) TrackRealloc(p, q, size, s->bytes());
    return q;
  }
  void* q;
  size_t usable;
  if (size <= kMaxSmallSize) {
    q = Malloc(size, kUntracked);
    usable = q != nullptr ? ClassSize(ClassOf(size)) : 0;
  } else {
    bool fresh;
    q = AllocLarge(size, kPageSize, &fresh, &usable);
  }
  if (q == nullptr) return Fail(size);
  memcpy(q, p, old_usable < size ? old_usable : size);
  if (TracingActive()) TrackRealloc(p, q, size, usable);
  FreeLive(p, s, kUntracked);
  return q;
}

void* ReallocArray(void* p, size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return Realloc(p, total);
}

void* AlignedAllocate(size_t align, size_t size, EventKind kind) {
  if (align <= 16) return Malloc(size, kind);
  EnsureInit();
  if (align <= kPageSize && size <= kMaxSmallSize) {
    uint32_t cl = ClassForAligned(size, align);
    if (cl != 0) {
      void* p = AllocSmall(cl, size, kind);
      return p != nullptr ? p : Fail(size);
    }
  }
  bool fresh;
  size_t usable;
  void* p = AllocLarge(size, align, &fresh, &usable);
  if (p == nullptr) return Fail(size);
  if (TracingActive() && kind != kUntracked) TrackAlloc(kind, p, size, usable);
  return p;
}

void* Memalign(size_t align, size_t size) {
  // glibc: alignments that are not powers of two are rounded up.
  if (align > (SIZE_MAX >> 1) + 1) {
    errno = EINVAL;
    return nullptr;
  }
  if ((align & (align - 1)) != 0) {
    size_t a = 1;
    while (a < align) a <<= 1;
    align = a;
  }
  return AlignedAllocate(align, size, EventKind::kMemalign);
}

int PosixMemalign(void** out, size_t align, size_t size) {
  if (align < sizeof(void*) || (align & (align - 1)) != 0) return EINVAL;
  int saved = errno;
  void* p = AlignedAllocate(align, size, EventKind::kMemalign);
  if (p == nullptr) {
    errno = saved;
    return ENOMEM;
  }
  *out = p;
  return 0;
}

void* AlignedAlloc(size_t align, size_t size) {
  if (align == 0 || (align & (align - 1)) != 0) {
    errno = EINVAL;
    return nullptr;
  }
  return AlignedAllocate(align, size, EventKind::kMemalign);
}

void* Valloc(size_t size) {
  return AlignedAllocate(kPageSize, size, EventKind::kMemalign);
}

void* Pvalloc(size_t size) {
  size_t rounded = (size + kPageSize - 1) & ~(kPageSize - 1);
  if (rounded < size) {
    errno = ENOMEM;
    return nullptr;
  }
  if (rounded == 0) rounded = kPageSize;
  return AlignedAllocate(kPageSize, rounded, EventKind::kMemalign);
}

size_t UsableSize(const void* p) {
  if (p == nullptr || !__atomic_load_n(&g_inited, __ATOMIC_ACQUIRE)) return 0;
  Span* s;
  size_t usable = 0;
  return Classify(p, &s, &usable) == Owner::kLive ? usable : 0;
}

AllocatorStats GetAllocatorStats() {
  EnsureInit();
  PageHeap::Stats st = g_heap.GetStats();
  AllocatorStats r;
  r.heap_bytes = st.heap_bytes;
  r.brk_bytes = st.brk_bytes;
  r.free_bytes = st.free_bytes;
  r.dirty_bytes = st.dirty_bytes;
  r.mmapped_bytes = st.mmapped_bytes;
  r.cached_bytes = st.cached_bytes;
  return r;
}

// ---- Fork ----

namespace {

void LockAll() {
  g_registry_lock.Lock();
  for (uint32_t cl = 1; cl < kNumClasses; ++cl) g_central[cl].lock()->Lock();
  g_heap.lock()->Lock();
}

void UnlockAll() {
  g_heap.lock()->Unlock();
  for (uint32_t cl = kNumClasses; cl-- > 1;) g_central[cl].lock()->Unlock();
  g_registry_lock.Unlock();
}

void ForkPrepare() {
  RecorderPrepareFork();
  LockAll();
}

void ForkParent() {
  UnlockAll();
  RecorderParentAfterFork();
}

void ForkChild() {
  g_heap.ResetLockAfterFork();
  for (uint32_t cl = 1; cl < kNumClasses; ++cl) {
    g_central[cl].lock()->ResetAfterFork();
  }
  g_registry_lock.ResetAfterFork();
  g_init_lock.ResetAfterFork();
  // Other threads do not exist here: their caches go back to the central
  // lists (their TLS blocks may be reused by new threads).
  ThreadCache* tc = g_registry;
  while (tc != nullptr) {
    ThreadCache* next = tc->next;
    if (tc != &t_cache) {
      for (uint32_t cl = 1; cl < kNumClasses; ++cl) tc->lists[cl].max = 0;
      FlushCache(tc);
      Unregister(tc);
    }
    tc = next;
  }
  RecorderChildAfterFork();
}

}  // namespace

// ---- Enumeration (allocator.h contract) ----

namespace {

struct Snapshot {
  Span** spans;
  size_t n;
  size_t spans_bytes;
  uint64_t* bits;  // per small span: free slots
  size_t bits_bytes;
};

void MarkFree(Snapshot* snap, const void* p) {
  Span* s = g_pagemap.Get(p);
  if (s == nullptr || s->state != SpanState::kSmall) return;
  uint64_t idx =
      SlotOf(s->size_class, reinterpret_cast<uintptr_t>(p) - s->start);
  if (idx >= s->capacity) return;
  uint64_t bit = s->scratch + idx;
  snap->bits[bit >> 6] |= uint64_t{1} << (bit & 63);
}

bool TakeSnapshot(Snapshot* snap) {
  *snap = {};
  size_t cap = g_heap.InUseSpans() + 1;
  snap->spans_bytes = cap * sizeof(Span*);
  snap->spans = static_cast<Span**>(InternalMap(snap->spans_bytes));
  if (snap->spans == nullptr) return false;
  snap->n = g_heap.CollectInUse(snap->spans, cap);
  size_t nbits = 0;
  for (size_t i = 0; i < snap->n; ++i) {
    Span* s = snap->spans[i];
    s->scratch = nbits;
    if (s->state == SpanState::kSmall) nbits += s->capacity;
  }
  snap->bits_bytes = (nbits / 64 + 1) * sizeof(uint64_t);
  snap->bits = static_cast<uint64_t*>(InternalMap(snap->bits_bytes));
  if (snap->bits == nullptr) return false;
  for (size_t i = 0; i < snap->n; ++i) {
    Span* s = snap->spans[i];
    if (s->state != SpanState::kSmall) continue;
    for (FreeObject* o = static_cast<FreeObject*>(s->freelist); o != nullptr;
         o = o->next) {
      MarkFree(snap, o);
    }
  }
  for (ThreadCache* tc = g_registry; tc != nullptr; tc = tc->next) {
    for (uint32_t cl = 1; cl < kNumClasses; ++cl) {
      uint32_t k = 0;
      for (FreeObject* o = tc->lists[cl].head;
           o != nullptr && k < tc->lists[cl].count; o = o->next, ++k) {
        MarkFree(snap, o);
      }
    }
  }
  return true;
}

void DropSnapshot(Snapshot* snap) {
  if (snap->spans != nullptr) InternalUnmap(snap->spans, snap->spans_bytes);
  if (snap->bits != nullptr) InternalUnmap(snap->bits, snap->bits_bytes);
}

}  // namespace

void ForEachLiveChunk(void (*fn)(void* arg, uintptr_t start, size_t usable),
                      void* arg) {
  if (!__atomic_load_n(&g_inited, __ATOMIC_ACQUIRE)) return;
  LockAll();
  Snapshot snap;
  if (TakeSnapshot(&snap)) {
    for (size_t i = 0; i < snap.n; ++i) {
      Span* s = snap.spans[i];
      if (s->state != SpanState::kSmall) {
        fn(arg, s->start, s->bytes());
        continue;
      }
      size_t size = ClassSize(s->size_class);
      for (uint32_t idx = 0; idx < s->bump; ++idx) {
        uint64_t bit = s->scratch + idx;
        if (snap.bits[bit >> 6] & (uint64_t{1} << (bit & 63))) continue;
        fn(arg, s->start + idx * size, size);
      }
    }
  }
  DropSnapshot(&snap);
  UnlockAll();
}

void ForEachHeapRegion(void (*fn)(void* arg, uintptr_t start, size_t size),
                       void* arg) {
  if (!__atomic_load_n(&g_inited, __ATOMIC_ACQUIRE)) return;
  PageHeap::Locked h(&g_heap);
  for (int i = 0; i < g_heap.regions(); ++i) {
    const HeapRegion& r = g_heap.region(i);
    if (r.size > 0) fn(arg, r.start, r.size);
  }
  g_heap.ForEachMmapped(fn, arg);
}

}  // namespace heaplens

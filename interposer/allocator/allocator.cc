// allocator.cc: the allocator's slow paths, initialization, thread-cache
// lifecycle, fork handling, the glibc API semantics and enumeration.
#include "interposer/allocator/allocator.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
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
__thread uint32_t t_depth __attribute__((tls_model("initial-exec")));
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

// ---- The signal-safe path (t_depth > 0) ----
//
// A call that interrupted the allocator on its own thread must not touch the
// thread cache or take a lock the interrupted frame may hold. Its blocks are
// direct mmaps with a header just below the pointer; any context frees them
// with munmap. Its frees of ordinary chunks go onto g_deferred, a lock-free
// stack (push by CAS, drained by exchange: no ABA) that the next ordinary
// slow path on any thread empties, recording each free. None of this calls
// the recorder: re-entrant blocks are not in the trace.

constexpr uintptr_t kReentrantMagic = 0x736e656c70616568ull;  // "heaplens"
constexpr size_t kReentrantAlign = 64;

struct ReentrantHeader {
  uintptr_t magic;  // kReentrantMagic ^ the user pointer
  uintptr_t base;   // the mapping
  size_t map_size;
  size_t pad;
};

FreeObject* g_deferred;  // low 4 bits of each link: the EventKind to record

ReentrantHeader* HeaderOf(const void* p) {
  return reinterpret_cast<ReentrantHeader*>(reinterpret_cast<uintptr_t>(p) -
                                            sizeof(ReentrantHeader));
}

void* ReentrantAlloc(size_t n, size_t align) {
  if (align < kReentrantAlign) align = kReentrantAlign;
  size_t need;
  if (n > kMaxRequest || align > kMaxRequest ||
      __builtin_add_overflow(n, align + kPageSize, &need)) {
    errno = ENOMEM;
    return nullptr;
  }
  need = (need + kPageSize - 1) & ~(kPageSize - 1);
  int saved = errno;
  void* m = mmap(nullptr, need, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    errno = ENOMEM;
    return nullptr;
  }
  errno = saved;
  uintptr_t base = reinterpret_cast<uintptr_t>(m);
  uintptr_t p = (base + sizeof(ReentrantHeader) + align - 1) & ~(align - 1);
  ReentrantHeader* h = HeaderOf(reinterpret_cast<void*>(p));
  h->magic = kReentrantMagic ^ p;
  h->base = base;
  h->map_size = need;
  return reinterpret_cast<void*>(p);
}

// The header of a re-entrant block at p, or nullptr. Only called for
// pointers the page map does not know; checks that the header's page is
// mapped before reading it (one mincore).
ReentrantHeader* ReentrantBlock(const void* p) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  if (a % kReentrantAlign != 0 || a < kPageSize) return nullptr;
  uintptr_t h = a - sizeof(ReentrantHeader);
  unsigned char vec;
  if (syscall(SYS_mincore, h & ~(kPageSize - 1), kPageSize, &vec) != 0) {
    return nullptr;
  }
  ReentrantHeader* hdr = reinterpret_cast<ReentrantHeader*>(h);
  if (hdr->magic != (kReentrantMagic ^ a) || hdr->base >= a ||
      a - hdr->base >= hdr->map_size) {
    return nullptr;
  }
  return hdr;
}

size_t ReentrantUsable(const void* p, const ReentrantHeader* h) {
  return h->base + h->map_size - reinterpret_cast<uintptr_t>(p);
}

void ReentrantFree(ReentrantHeader* h) {
  int saved = errno;
  h->magic = 0;
  munmap(reinterpret_cast<void*>(h->base), h->map_size);
  errno = saved;
}

// A live ordinary chunk freed from a re-entrant call. The free key is set
// at once, so a second free (of a small or large block) is recognized.
void DeferFree(void* p, EventKind kind) {
  FreeObject* o = static_cast<FreeObject*>(p);
  o->key = g_free_key;
  FreeObject* head = __atomic_load_n(&g_deferred, __ATOMIC_RELAXED);
  do {
    o->set_next(reinterpret_cast<FreeObject*>(
        reinterpret_cast<uintptr_t>(head) | static_cast<uintptr_t>(kind)));
  } while (!__atomic_compare_exchange_n(&g_deferred, &head, o, true,
                                        __ATOMIC_RELEASE, __ATOMIC_RELAXED));
}

void FreeLive(void* p, Span* s, EventKind kind);

// Frees (and records) what re-entrant calls deferred. Ordinary context only.
inline void DrainDeferred() {
  if (__builtin_expect(
          __atomic_load_n(&g_deferred, __ATOMIC_RELAXED) == nullptr, 1)) {
    return;
  }
  FreeObject* o = __atomic_exchange_n(&g_deferred, nullptr, __ATOMIC_ACQUIRE);
  while (o != nullptr) {
    uintptr_t link = reinterpret_cast<uintptr_t>(o->next());
    FreeObject* next = reinterpret_cast<FreeObject*>(link & ~uintptr_t{15});
    o->key = 0;
    Span* s = g_pagemap.Get(o);
    if (s != nullptr) FreeLive(o, s, static_cast<EventKind>(link & 15));
    o = next;
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
    for (uint32_t i = 1; i < l->count && last->next() != nullptr; ++i) {
      last = last->next();
    }
    last->set_next(nullptr);
    l->head = nullptr;
    l->count = 0;
    g_central[cl].InsertRange(head);
  }
}

void ThreadCacheDestructor(void*) {
  ThreadCache* tc = &t_cache;
  if (tc->state != kCacheActive) return;
  AllocatorScope scope;
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
  for (uint32_t i = 1; i < n && last->next() != nullptr; ++i)
    last = last->next();
  l->head = last->next();
  last->set_next(nullptr);
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
      // The key word is set only while a free is deferred (DeferFree);
      // AllocLarge clears it.
      if (a != s->start ||
          static_cast<const FreeObject*>(p)->key == g_free_key) {
        return Owner::kInvalid;
      }
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
    l->head = o->next();
    --l->count;
  } else if (tc->state == kCacheActive) {
    FreeObject* chain;
    int got = g_central[cl].RemoveRange(&chain, g_size_classes[cl].batch);
    if (got == 0) return nullptr;
    o = chain;
    l->head = chain->next();
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
      reinterpret_cast<FreeObject*>(s->start)->key = 0;
      return reinterpret_cast<void*>(s->start);
    }
  }
  Span* s = g_heap.NewMmapped(n == 0 ? 1 : n, align);
  if (s == nullptr) return nullptr;
  *fresh = s->fresh;
  if (!s->fresh) reinterpret_cast<FreeObject*>(s->start)->key = 0;
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
        o->set_next(l->head);
        l->head = o;
        ++l->count;
        if (l->count > l->max) ReleaseBatch(l, cl);
      } else {
        o->set_next(nullptr);
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

namespace {

// malloc's body below the fast path; the caller holds an AllocatorScope.
void* MallocBody(size_t n, EventKind kind) {
  EnsureInit();
  DrainDeferred();
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

// A pointer the page map does not know: a re-entrant block or an invalid
// free. (ld.so's early allocator never reaches free under the preload: see
// docs/allocator.md, "Invalid frees".)
void FreeForeign(void* p) {
  if (ReentrantHeader* h = ReentrantBlock(p)) {
    ReentrantFree(h);
    return;
  }
  InvalidFree(p);
}

}  // namespace

void* MallocSlow(size_t n, EventKind kind) {
  if (t_depth != 0) return ReentrantAlloc(n, kReentrantAlign);
  AllocatorScope scope;
  return MallocBody(n, kind);
}

void FreeSlow(void* p, EventKind kind) {
  if (p == nullptr || !__atomic_load_n(&g_inited, __ATOMIC_ACQUIRE)) return;
  Span* s;
  size_t usable;
  Owner owner = Classify(p, &s, &usable);
  if (t_depth != 0) {
    // Interrupted the allocator on this thread: no cache, no lock.
    if (owner == Owner::kLive) {
      DeferFree(p, kind);
    } else if (owner == Owner::kForeign) {
      if (ReentrantHeader* h = ReentrantBlock(p)) ReentrantFree(h);
    }
    return;
  }
  AllocatorScope scope;
  DrainDeferred();
  switch (owner) {
    case Owner::kForeign:
      FreeForeign(p);
      return;
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
    errno = ENOMEM;
    if (t_depth != 0) return nullptr;
    AllocatorScope scope;
    EnsureInit();
    return Fail(SIZE_MAX);
  }
  if (total <= kMaxSmallSize) {
    void* p = Malloc(total, EventKind::kCalloc);
    if (p != nullptr) memset(p, 0, total);
    return p;
  }
  if (t_depth != 0) return ReentrantAlloc(total, kReentrantAlign);  // zeroed
  AllocatorScope scope;
  EnsureInit();
  DrainDeferred();
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

namespace {

// realloc from a re-entrant call: a new re-entrant block, the old block
// freed as FreeSlow would.
void* ReentrantRealloc(void* p, size_t size) {
  size_t old_usable = 0;
  Span* s = nullptr;
  ReentrantHeader* h = nullptr;
  Owner owner = Owner::kForeign;
  if (__atomic_load_n(&g_inited, __ATOMIC_ACQUIRE)) {
    owner = Classify(p, &s, &old_usable);
  }
  if (owner == Owner::kInvalid) {
    errno = EINVAL;
    return nullptr;
  }
  if (owner == Owner::kForeign) {
    h = ReentrantBlock(p);
    old_usable = h != nullptr ? ReentrantUsable(p, h) : 0;
  }
  void* q = ReentrantAlloc(size, kReentrantAlign);
  if (q == nullptr) return nullptr;
  if (owner == Owner::kForeign && h == nullptr) {
    int saved = errno;
    memcpy(q, p, ReadableBytes(p, size));
    errno = saved;
    return q;
  }
  memcpy(q, p, old_usable < size ? old_usable : size);
  if (h != nullptr) {
    ReentrantFree(h);
  } else {
    DeferFree(p, EventKind::kFree);
  }
  return q;
}

}  // namespace

void* Realloc(void* p, size_t size) {
  if (p == nullptr) return Malloc(size, EventKind::kMalloc);
  if (size == 0) {
    Free(p, EventKind::kFree);
    return nullptr;
  }
  if (t_depth != 0) return ReentrantRealloc(p, size);
  AllocatorScope scope;
  EnsureInit();
  DrainDeferred();
  Span* s;
  size_t old_usable = 0;
  Owner owner = Classify(p, &s, &old_usable);
  if (owner == Owner::kInvalid) {
    InvalidFree(p);
    errno = EINVAL;
    return nullptr;
  }
  if (owner == Owner::kForeign) {
    ReentrantHeader* h = ReentrantBlock(p);
    if (h == nullptr) InvalidFree(p);
    // Not ours: copy what is there; free it only if it is a re-entrant block.
    size_t old = h != nullptr ? ReentrantUsable(p, h) : size;
    void* q = MallocBody(size, EventKind::kMalloc);
    if (q != nullptr) {
      int saved = errno;
      memcpy(q, p,
             h != nullptr ? (old < size ? old : size) : ReadableBytes(p, size));
      errno = saved;
      if (h != nullptr) ReentrantFree(h);
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
    q = AllocSmall(ClassOf(size), size, kUntracked);
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
  if (t_depth != 0) return ReentrantAlloc(size, align);
  AllocatorScope scope;
  EnsureInit();
  DrainDeferred();
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
  switch (Classify(p, &s, &usable)) {
    case Owner::kLive:
      return usable;
    case Owner::kForeign:
      if (ReentrantHeader* h = ReentrantBlock(p)) return ReentrantUsable(p, h);
      return 0;
    default:
      return 0;
  }
}

AllocatorStats GetAllocatorStats() {
  AllocatorScope scope;
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

// Every allocator lock, in the order they are taken: registry, classes, heap.
constexpr uint32_t kNumLocks = kNumClasses + 1;
SpinLock* LockAt(uint32_t i) {
  if (i == 0) return &g_registry_lock;
  if (i < kNumClasses) return g_central[i].lock();
  return g_heap.lock();
}

void LockAll() {
  for (uint32_t i = 0; i < kNumLocks; ++i) LockAt(i)->Lock();
}

void UnlockAll() {
  for (uint32_t i = kNumLocks; i-- > 0;) LockAt(i)->Unlock();
}

// Which locks ForkPrepare took. All of them, unless fork() was called from a
// signal handler that interrupted the allocator on this thread (t_depth > 0):
// then a lock that stays busy for a while is taken to be held by the
// interrupted frame, which releases it once the handler returns, in the
// parent and in the child alike. It is left alone.
bool g_fork_took[kNumLocks];
bool g_fork_took_all;

void ForkPrepare() {
  RecorderPrepareFork();
  if (t_depth == 0) {
    LockAll();
    for (uint32_t i = 0; i < kNumLocks; ++i) g_fork_took[i] = true;
    g_fork_took_all = true;
    return;
  }
  g_fork_took_all = true;
  for (uint32_t i = 0; i < kNumLocks; ++i) {
    bool took = false;
    for (int tries = 0; tries < 2000 && !(took = LockAt(i)->TryLock());
         ++tries) {
      sched_yield();
    }
    g_fork_took[i] = took;
    if (!took) g_fork_took_all = false;
  }
}

void ForkParent() {
  for (uint32_t i = kNumLocks; i-- > 0;) {
    if (g_fork_took[i]) LockAt(i)->Unlock();
  }
  RecorderParentAfterFork();
}

void ForkChild() {
  for (uint32_t i = 0; i < kNumLocks; ++i) {
    if (g_fork_took[i]) LockAt(i)->ResetAfterFork();
  }
  g_init_lock.ResetAfterFork();
  // A deferred free list survives as it is: the child drains it.
  // Other threads do not exist here: their caches go back to the central
  // lists (their TLS blocks may be reused by new threads).
  ThreadCache* tc = g_registry;
  while (tc != nullptr) {
    ThreadCache* next = tc->next;
    if (tc != &t_cache) {
      for (uint32_t cl = 1; cl < kNumClasses; ++cl) tc->lists[cl].max = 0;
      // With a lock still held by this thread's interrupted frame, flushing
      // could deadlock: the vanished threads' cached blocks are leaked.
      if (g_fork_took_all) FlushCache(tc);
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
         o = o->next()) {
      MarkFree(snap, o);
    }
  }
  for (ThreadCache* tc = g_registry; tc != nullptr; tc = tc->next) {
    for (uint32_t cl = 1; cl < kNumClasses; ++cl) {
      uint32_t k = 0;
      for (FreeObject* o = tc->lists[cl].head;
           o != nullptr && k < tc->lists[cl].count; o = o->next(), ++k) {
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
  AllocatorScope scope;
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
  AllocatorScope scope;
  PageHeap::Locked h(&g_heap);
  for (int i = 0; i < g_heap.regions(); ++i) {
    const HeapRegion& r = g_heap.region(i);
    if (r.size > 0) fn(arg, r.start, r.size);
  }
  g_heap.ForEachMmapped(fn, arg);
}

}  // namespace heaplens

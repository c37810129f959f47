// front_end.h: the allocator's inline fast paths and per-thread caches.
//
// Only libc_override.cc and allocator.cc include this. The fast path of
// malloc is: class lookup (one byte load), pop from this thread's list for
// the class, clear the object's free key, one predictable branch on
// TracingActive() -- no lock, no atomic, about 10 instructions. free is a
// page-map lookup (two dependent loads), validation of the slot (a multiply
// and compare; it rejects interior and never-allocated pointers), a
// double-free check of the free key, and a push. Anything else (empty or full
// list, uninitialized allocator or thread, large blocks, invalid pointers)
// goes to the NOINLINE slow paths in allocator.cc.
//
// Signal re-entrancy: every entry point raises this thread's t_depth while it
// touches a thread cache or holds an allocator lock. A call that finds
// t_depth > 0 interrupted the allocator on its own thread (a signal handler,
// or a nested call from inside the allocator) and takes the signal-safe path
// in allocator.cc (direct mmap; frees deferred to a lock-free list). Signals
// run on the interrupted thread, so a plain TLS store and a signal fence
// suffice: the fast paths pay one load, one compare and two stores.
//
// Thread caches live in initial-exec TLS, zero-initialized: a zero cache has
// max == 0 for every list, so its first free goes to the slow path, which
// registers the thread (and a pthread key whose destructor flushes the cache
// at thread exit). After that destructor, max stays 0 and allocation keeps
// working through the central lists.
#ifndef HEAPLENS_INTERPOSER_ALLOCATOR_FRONT_END_H_
#define HEAPLENS_INTERPOSER_ALLOCATOR_FRONT_END_H_

#include <stddef.h>
#include <stdint.h>

#include "interposer/allocator/central_list.h"
#include "interposer/allocator/page_heap.h"
#include "interposer/allocator/page_map.h"
#include "interposer/allocator/size_classes.h"
#include "interposer/track.h"

namespace heaplens {

// Kind value meaning "do not record" (realloc records one event itself).
constexpr EventKind kUntracked = static_cast<EventKind>(0);

struct CacheList {
  FreeObject* head;
  uint32_t count;
  uint32_t max;  // 0 until the thread is registered, and after it exits
};

enum ThreadCacheState : uint32_t {
  kCacheNone = 0,
  kCacheInitializing = 1,
  kCacheActive = 2,
  kCacheDead = 3,
};

struct ThreadCache {
  CacheList lists[kNumClasses];
  uint32_t state;
  ThreadCache* next;  // registry of caches, for enumeration and fork
  ThreadCache* prev;
};

extern __thread ThreadCache t_cache __attribute__((tls_model("initial-exec")));
extern __thread uint32_t t_depth __attribute__((tls_model("initial-exec")));
extern PageMap g_pagemap;
extern uintptr_t g_free_key;

__attribute__((noinline)) void* MallocSlow(size_t n, EventKind kind);
__attribute__((noinline)) void FreeSlow(void* p, EventKind kind);

// Marks this thread as inside the allocator (see t_depth) for its lifetime.
class AllocatorScope {
 public:
  AllocatorScope() {
    ++t_depth;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
  }
  ~AllocatorScope() {
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    --t_depth;
  }
  AllocatorScope(const AllocatorScope&) = delete;
  AllocatorScope& operator=(const AllocatorScope&) = delete;
};

inline void* Malloc(size_t n, EventKind kind) {
  if (__builtin_expect(n <= kMaxSmallSize && t_depth == 0, 1)) {
    uint32_t cl = ClassOf(n);
    CacheList* l = &t_cache.lists[cl];
    t_depth = 1;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    FreeObject* o = l->head;
    if (__builtin_expect(o != nullptr, 1)) {
      l->head = o->next();
      --l->count;
      __atomic_signal_fence(__ATOMIC_SEQ_CST);
      t_depth = 0;
      o->key = 0;
      if (TracingActive() && kind != kUntracked) {
        TrackAlloc(kind, o, n, ClassSize(cl));
      }
      return o;
    }
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    t_depth = 0;
  }
  return MallocSlow(n, kind);
}

inline void Free(void* p, EventKind kind) {
  Span* s = g_pagemap.Get(p);
  if (__builtin_expect(s != nullptr, 1)) {
    uint32_t cl = s->size_class;
    if (__builtin_expect(cl != 0, 1)) {
      uint64_t off = reinterpret_cast<uintptr_t>(p) - s->start;
      uint64_t idx = SlotOf(cl, off);
      FreeObject* o = static_cast<FreeObject*>(p);
      CacheList* l = &t_cache.lists[cl];
      if (__builtin_expect(idx < s->bump && idx * ClassSize(cl) == off &&
                               o->key != g_free_key && l->count < l->max &&
                               t_depth == 0,
                           1)) {
        if (TracingActive() && kind != kUntracked) TrackFree(kind, p);
        // A handler that ran since the checks above completed its own call:
        // the list is consistent again, only count may now exceed max
        // (harmless; the next push takes the slow path).
        t_depth = 1;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        o->key = g_free_key;
        o->set_next(l->head);
        l->head = o;
        ++l->count;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        t_depth = 0;
        return;
      }
    }
  }
  FreeSlow(p, kind);
}

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_ALLOCATOR_FRONT_END_H_

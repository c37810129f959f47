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
extern PageMap g_pagemap;
extern uintptr_t g_free_key;

__attribute__((noinline)) void* MallocSlow(size_t n, EventKind kind);
__attribute__((noinline)) void FreeSlow(void* p, EventKind kind);

inline void* Malloc(size_t n, EventKind kind) {
  if (__builtin_expect(n <= kMaxSmallSize, 1)) {
    uint32_t cl = ClassOf(n);
    CacheList* l = &t_cache.lists[cl];
    FreeObject* o = l->head;
    if (__builtin_expect(o != nullptr, 1)) {
      l->head = o->next;
      --l->count;
      o->key = 0;
      if (TracingActive() && kind != kUntracked) {
        TrackAlloc(kind, o, n, ClassSize(cl));
      }
      return o;
    }
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
                               o->key != g_free_key && l->count < l->max,
                           1)) {
        if (TracingActive() && kind != kUntracked) TrackFree(kind, p);
        o->next = l->head;
        o->key = g_free_key;
        l->head = o;
        ++l->count;
        return;
      }
    }
  }
  FreeSlow(p, kind);
}

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_ALLOCATOR_FRONT_END_H_

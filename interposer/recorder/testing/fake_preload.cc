// fake_preload.cc: a test-only preload that forwards to glibc's malloc and
// calls the recorder hooks, so the recorder's end-to-end tests do not depend
// on the heaplens allocator. It also provides allocator.h's enumeration
// functions over a simple table of live blocks (test speed is irrelevant).
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "interposer/internal_memory.h"
#include "interposer/recorder/recorder.h"
#include "interposer/spinlock.h"
#include "interposer/track.h"

extern "C" {
void* __libc_malloc(size_t);
void __libc_free(void*);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
size_t malloc_usable_size(void*);
}

namespace heaplens {
namespace {

constexpr size_t kSlots = 1 << 22;
SpinLock g_live_lock;
uintptr_t* g_live = nullptr;  // open addressing; 0 empty, 1 deleted

size_t Slot(uintptr_t p) { return (p * 0x9e3779b97f4a7c15ull) >> 42; }

void LiveAdd(void* p) {
  if (p == nullptr) return;
  SpinLockHolder h(&g_live_lock);
  if (g_live == nullptr) {
    g_live = static_cast<uintptr_t*>(InternalMap(kSlots * sizeof(uintptr_t)));
  }
  uintptr_t v = reinterpret_cast<uintptr_t>(p);
  for (size_t i = Slot(v);; i = (i + 1) & (kSlots - 1)) {
    if (g_live[i] <= 1) {
      g_live[i] = v;
      return;
    }
  }
}

bool LiveRemove(void* p) {
  if (p == nullptr || g_live == nullptr) return false;
  SpinLockHolder h(&g_live_lock);
  uintptr_t v = reinterpret_cast<uintptr_t>(p);
  for (size_t i = Slot(v);; i = (i + 1) & (kSlots - 1)) {
    if (g_live[i] == 0) return false;
    if (g_live[i] == v) {
      g_live[i] = 1;
      return true;
    }
  }
}

void Init() { RecorderInit(); }

__attribute__((constructor)) void FakeCtor() {
  pthread_atfork(RecorderPrepareFork, RecorderParentAfterFork,
                 RecorderChildAfterFork);
}

}  // namespace

void ForEachLiveChunk(void (*fn)(void*, uintptr_t, size_t), void* arg) {
  if (g_live == nullptr) return;
  // Collect and sort (shell sort) into an internal array.
  size_t n = 0;
  for (size_t i = 0; i < kSlots; ++i) n += g_live[i] > 1;
  auto* a = static_cast<uintptr_t*>(InternalMap((n + 1) * sizeof(uintptr_t)));
  size_t k = 0;
  for (size_t i = 0; i < kSlots && k < n; ++i) {
    if (g_live[i] > 1) a[k++] = g_live[i];
  }
  for (size_t gap = k / 2; gap > 0; gap /= 2) {
    for (size_t i = gap; i < k; ++i) {
      uintptr_t t = a[i];
      size_t j = i;
      for (; j >= gap && a[j - gap] > t; j -= gap) a[j] = a[j - gap];
      a[j] = t;
    }
  }
  for (size_t i = 0; i < k; ++i) {
    fn(arg, a[i], malloc_usable_size(reinterpret_cast<void*>(a[i])));
  }
  InternalUnmap(a, (n + 1) * sizeof(uintptr_t));
}

void ForEachHeapRegion(void (*fn)(void*, uintptr_t, size_t), void* arg) {
  ForEachLiveChunk(fn, arg);
}

}  // namespace heaplens

using heaplens::EventKind;

extern "C" {

__attribute__((visibility("default"))) void* malloc(size_t n) {
  heaplens::Init();
  void* p = __libc_malloc(n);
  heaplens::LiveAdd(p);
  if (heaplens::TracingActive()) {
    heaplens::TrackAlloc(EventKind::kMalloc, p, n, malloc_usable_size(p));
  }
  return p;
}

__attribute__((visibility("default"))) void free(void* p) {
  if (p == nullptr) return;
  bool live = heaplens::LiveRemove(p);
  if (heaplens::TracingActive() && live) {
    heaplens::TrackFree(EventKind::kFree, p);
  }
  __libc_free(p);
}

__attribute__((visibility("default"))) void* calloc(size_t a, size_t b) {
  heaplens::Init();
  void* p = __libc_calloc(a, b);
  heaplens::LiveAdd(p);
  if (heaplens::TracingActive()) {
    heaplens::TrackAlloc(EventKind::kCalloc, p, a * b, malloc_usable_size(p));
  }
  return p;
}

__attribute__((visibility("default"))) void* realloc(void* old, size_t n) {
  heaplens::Init();
  bool live = heaplens::LiveRemove(old);
  void* p = __libc_realloc(old, n);
  heaplens::LiveAdd(p);
  if (heaplens::TracingActive()) {
    if (old == nullptr || !live) {
      heaplens::TrackAlloc(EventKind::kMalloc, p, n, malloc_usable_size(p));
    } else {
      heaplens::TrackRealloc(old, p, n, malloc_usable_size(p));
    }
  }
  return p;
}

__attribute__((visibility("default"))) void heaplens_mark(uint64_t id) {
  heaplens::RecorderMark(id);
}

__attribute__((visibility("default"))) void _exit(int status) {
  heaplens::RecorderOnUnderscoreExit(status);
  syscall(SYS_exit_group, status);
  __builtin_unreachable();
}

}  // extern "C"

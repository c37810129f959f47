// track.h: the seam between the allocator and the recorder.
//
// The allocator (allocator.cc, libc_override.cc) calls these hooks; the
// recorder (recorder.cc) implements them. When MALLOC_TRACE is unset,
// `TracingActive()` is false and the allocator skips the calls entirely, so
// an untraced process pays one predictable branch per call.
//
// Ordering contract:
//   - An allocation is recorded AFTER it happened (the address is known and
//     owned by the caller).
//   - A free is recorded BEFORE the memory can be reused: before the chunk is
//     returned to any free list or cache. Together with per-event monotonic
//     timestamps this lets the analyzer merge threads into one consistent
//     order: a reused address is always freed before it is handed out again.
//   - Heap-shape events (HEAP_GROW/MMAP) are recorded after the OS call
//     succeeded and before any chunk in the new range is handed out;
//     HEAP_SHRINK/MUNMAP/MADVISE are recorded after the OS call.
//
// What may not happen inside a hook: calling malloc (directly or through
// stdio, dlsym, libstdc++), taking a lock on the common path (the per-thread
// buffer is lock-free; a lock is allowed only when a batch is flushed or a
// new stack is interned), or raising a signal. Hooks are safe to call
// re-entrantly: a nested call (from a signal handler, or from the unwinder
// calling malloc) is dropped from recording but never blocks allocation.
#ifndef HEAPLENS_INTERPOSER_TRACK_H_
#define HEAPLENS_INTERPOSER_TRACK_H_

#include <stddef.h>
#include <stdint.h>

namespace heaplens {

// Mirrors trace.proto's EventKind; values are the wire values.
enum class EventKind : uint32_t {
  kMalloc = 1,
  kCalloc = 2,
  kMemalign = 3,
  kNew = 4,
  kNewArray = 5,
  kRealloc = 6,
  kFree = 8,
  kDelete = 9,
  kDeleteArray = 10,
  kInvalidFree = 11,
  kAllocFailed = 12,
  kHeapGrow = 16,
  kHeapShrink = 17,
  kMmap = 18,
  kMunmap = 19,
  kMadvise = 20,
  kMark = 24,
};

// True while the recorder is writing a trace. Read on every allocation; the
// recorder sets it once at start and clears it when tracing stops.
extern bool g_tracing_active;
inline bool TracingActive() {
  return __builtin_expect(g_tracing_active, false);
}

// An allocation of `size` requested bytes returned `ptr` with `usable` bytes.
void TrackAlloc(EventKind kind, void* ptr, size_t size, size_t usable);
// realloc moved or resized `old_ptr` to `new_ptr`.
void TrackRealloc(void* old_ptr, void* new_ptr, size_t size, size_t usable);
// A live block is about to be freed.
void TrackFree(EventKind kind, void* ptr);
// A free of something that is not a live block; the allocator ignored it.
void TrackInvalidFree(void* ptr);
// An allocation of `size` bytes failed (NULL returned or bad_alloc thrown).
void TrackAllocFailed(size_t size);
// The heap's shape changed (kHeapGrow, kHeapShrink, kMmap, kMunmap,
// kMadvise): [addr, addr + size).
void TrackSegment(EventKind kind, uintptr_t addr, size_t size);
// Something the user should know about the run (a Notice packet, severity
// WARNING), e.g. "brk failed (ENOMEM); using mmap'd regions". `text` is a
// NUL-terminated string of at most 400 bytes. Not on the hot path: it takes
// the recorder's file lock.
void TrackNotice(const char* text);

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_TRACK_H_

// allocator.h: the heaplens allocator's internal API.
//
// libc_override.cc maps the libc/C++ entry points onto these functions. The
// recorder uses only the enumeration functions at the bottom, at exit, to
// build the heap graph.
//
// OWNED BY THE ALLOCATOR COMPONENT. The declarations under "Used by the
// recorder" are a contract with interposer/recorder/heap_graph.cc: keep their
// signatures and semantics.
#ifndef HEAPLENS_INTERPOSER_ALLOCATOR_ALLOCATOR_H_
#define HEAPLENS_INTERPOSER_ALLOCATOR_ALLOCATOR_H_

#include <stddef.h>
#include <stdint.h>

namespace heaplens {

// ---- Entry points (libc_override.cc; fast paths in front_end.h) ----
//
// errno and NULL semantics are glibc's; `kind` is what the recorder is told
// (kMalloc, kNew, kNewArray, ...). All of them are safe before constructors
// run, after this thread's TLS destructors, and in a forked child.

enum class EventKind : uint32_t;

void* Calloc(size_t n, size_t size);
void* Realloc(void* p, size_t size);
void* ReallocArray(void* p, size_t n, size_t size);
// align: any power of two (memalign rounds others up before calling).
void* AlignedAllocate(size_t align, size_t size, EventKind kind);
void* Memalign(size_t align, size_t size);
int PosixMemalign(void** out, size_t align, size_t size);
void* AlignedAlloc(size_t align, size_t size);
void* Valloc(size_t size);
void* Pvalloc(size_t size);
size_t UsableSize(const void* p);

// Statistics for tests and the trace summary.
struct AllocatorStats {
  size_t heap_bytes;  // brk extents + fallback regions
  size_t brk_bytes;
  size_t free_bytes;     // free pages inside the heap
  size_t dirty_bytes;    // of those, resident and waiting for release
  size_t mmapped_bytes;  // live large mappings
  size_t cached_bytes;   // freed large mappings kept for reuse
};
AllocatorStats GetAllocatorStats();

// ---- Used by the recorder (contract) ----

// Calls fn(arg, start, usable_size) for every live chunk (handed out and not
// freed), in ascending address order. Chunks sitting in thread caches or free
// lists are not live. Only called when no other thread allocates (at exit,
// or in tests); may take the allocator's locks.
void ForEachLiveChunk(void (*fn)(void* arg, uintptr_t start, size_t usable),
                      void* arg);

// Calls fn(arg, start, size) for every address range the allocator manages
// chunks in (the brk heap's used extent and its mmap'd regions, including
// large-block mappings). The heap scan treats these ranges as heap, not as
// roots.
void ForEachHeapRegion(void (*fn)(void* arg, uintptr_t start, size_t size),
                       void* arg);

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_ALLOCATOR_ALLOCATOR_H_

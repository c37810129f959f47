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

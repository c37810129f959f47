// internal_memory.h: memory for heaplens' own bookkeeping inside the traced
// process.
//
// The interposer never allocates through malloc. Its tables, trace buffers
// and stack dictionary live in anonymous mappings made here, and every such
// mapping is registered so the exit-time heap scan (heap_graph.cc) can skip
// it: heaplens' own data must never make a leaked block look reachable.
//
// Example:
//   void* table = InternalMap(1 << 20);   // zero-filled, page-aligned
//   ...
//   InternalUnmap(table, 1 << 20);
#ifndef HEAPLENS_INTERPOSER_INTERNAL_MEMORY_H_
#define HEAPLENS_INTERPOSER_INTERNAL_MEMORY_H_

#include <stddef.h>
#include <stdint.h>

namespace heaplens {

// Maps `bytes` (rounded up to pages) of zeroed memory; nullptr on failure
// (errno from mmap). Async-signal-safe; takes a spin lock briefly.
void* InternalMap(size_t bytes);
// Unmaps a mapping made by InternalMap with the same size.
void InternalUnmap(void* addr, size_t bytes);

// Calls fn(arg, start, size) for every live internal mapping. Only for
// quiescent moments (exit, tests).
void ForEachInternalRegion(void (*fn)(void* arg, uintptr_t start, size_t size),
                           void* arg);

// A bump arena over InternalMap'ed blocks for objects that live until exit
// (stack-dictionary nodes, module records). Not thread-safe: callers hold
// their own lock.
class InternalArena {
 public:
  constexpr InternalArena() = default;
  // Returns `bytes` of zeroed memory aligned to 16, or nullptr.
  void* Alloc(size_t bytes);

 private:
  char* cur_ = nullptr;
  char* end_ = nullptr;
};

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_INTERNAL_MEMORY_H_

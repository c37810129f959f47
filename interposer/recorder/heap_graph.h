// heap_graph.h: the exit-time heap graph (trace.proto HeapGraph).
//
// At normal exit the recorder enumerates the allocator's live chunks
// (allocator.h ForEachLiveChunk, ascending addresses), the roots and, for
// every root region and live chunk, which live chunks it points into. A
// candidate pointer is any 8-byte-aligned word whose value falls inside a
// live chunk [start, start + usable); it is a start reference when it equals
// start and an interior one otherwise. Leak kinds are computed offline.
//
// Roots: every readable and writable mapping of /proc/self/maps, minus the
// allocator's heap regions (ForEachHeapRegion) and heaplens' own mappings
// (ForEachInternalRegion); [vvar], [vsyscall] and device mappings are
// skipped, and memory is read with process_vm_readv so an unreadable page
// (a file mapping past EOF) cannot fault. The exiting thread's stack is
// scanned only from its stack pointer upward, plus its callee-saved
// registers. Only call when the process is quiescent (at exit).
#ifndef HEAPLENS_INTERPOSER_RECORDER_HEAP_GRAPH_H_
#define HEAPLENS_INTERPOSER_RECORDER_HEAP_GRAPH_H_

#include <stddef.h>
#include <stdint.h>

namespace heaplens {

struct HeapGraphStats {
  uint64_t live_blocks = 0;
  uint64_t live_bytes = 0;
  uint64_t edges = 0;
};

// Receives whole packets; returns false to abort.
using PacketEmit = bool (*)(void* arg, const uint8_t* data, size_t n);

// The chunk and region sources; the defaults are allocator.h and
// internal_memory.h. Tests substitute fakes.
struct HeapGraphSources {
  void (*for_each_live_chunk)(void (*fn)(void*, uintptr_t, size_t), void*);
  void (*for_each_heap_region)(void (*fn)(void*, uintptr_t, size_t), void*);
  void (*for_each_internal_region)(void (*fn)(void*, uintptr_t, size_t), void*);
  // Scan /proc/self/maps for roots (false in unit tests that give roots
  // explicitly through extra_roots).
  bool scan_mappings;
};
const HeapGraphSources& DefaultHeapGraphSources();

struct ExtraRoot {
  uint32_t kind;  // RootRegion.Kind
  const char* name;
  uintptr_t address;
  size_t size;
};

// Writes the HeapGraph packets. `stack_pointer` (0: none) is the exiting
// thread's stack pointer; the mapping containing it is scanned from there up
// as a STACK root. `regs` (n_regs words) become a REGISTERS root.
bool WriteHeapGraphWith(const HeapGraphSources& src, PacketEmit emit, void* arg,
                        uintptr_t stack_pointer, const uint64_t* regs,
                        int n_regs, const ExtraRoot* extra, int n_extra,
                        HeapGraphStats* stats);

// WriteHeapGraphWith(src) with this thread's stack pointer and registers.
bool WriteHeapGraph(const HeapGraphSources& src, PacketEmit emit, void* arg,
                    HeapGraphStats* stats);

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_RECORDER_HEAP_GRAPH_H_

// The production sources of the heap graph: the allocator's chunk and region
// enumeration (allocator.h) and internal_memory.h. Kept apart from
// heap_graph.cc so unit tests can link the graph builder with fakes.
#include <stddef.h>
#include <stdint.h>

#include "interposer/internal_memory.h"
#include "interposer/recorder/heap_graph.h"

namespace heaplens {

// Declared in interposer/allocator/allocator.h (the contract with the
// allocator); repeated here so this file does not depend on the allocator's
// build target.
void ForEachLiveChunk(void (*fn)(void* arg, uintptr_t start, size_t usable),
                      void* arg);
void ForEachHeapRegion(void (*fn)(void* arg, uintptr_t start, size_t size),
                       void* arg);

const HeapGraphSources& DefaultHeapGraphSources() {
  static const HeapGraphSources kSources = {ForEachLiveChunk, ForEachHeapRegion,
                                            ForEachInternalRegion, true};
  return kSources;
}

__attribute__((noinline)) bool WriteHeapGraph(const HeapGraphSources& src,
                                              PacketEmit emit, void* arg,
                                              HeapGraphStats* stats) {
  uint64_t regs[7];
  asm volatile(
      "mov %%rbx, 0(%0)\n\t"
      "mov %%rbp, 8(%0)\n\t"
      "mov %%r12, 16(%0)\n\t"
      "mov %%r13, 24(%0)\n\t"
      "mov %%r14, 32(%0)\n\t"
      "mov %%r15, 40(%0)\n\t"
      "mov %%rsp, 48(%0)\n\t"
      :
      : "r"(regs)
      : "memory");
  uintptr_t sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  return WriteHeapGraphWith(src, emit, arg, sp, regs, 7, nullptr, 0, stats);
}

}  // namespace heaplens

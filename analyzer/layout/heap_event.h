// heap_event.h: the input of the heap-layout model.
//
// The layout analyses consume a small event of their own rather than the
// analyzer's decoded trace event, so they can be tested on hand-written
// sequences and stay independent of the reader. replay_adapter.h converts
// the analyzer's events (trace.proto EventKind) into these.
//
// Column meaning by kind (unused fields are 0):
//   kAlloc       address, size (requested), usable, stack, tid
//   kRealloc     address (new), old_address, size, usable, stack, tid
//   kFree        address, tid
//   kHeapGrow    [address, address + size) joined the brk heap
//   kHeapShrink  [address, address + size) left the brk heap
//   kMmap        the allocator mapped [address, address + size)
//   kMunmap      the allocator unmapped [address, address + size)
//   kMadvise     [address, address + size) released (MADV_DONTNEED)
//   kMark        size = the mark's number (heaplens_mark(n))
#ifndef HEAPLENS_ANALYZER_LAYOUT_HEAP_EVENT_H_
#define HEAPLENS_ANALYZER_LAYOUT_HEAP_EVENT_H_

#include <cstdint>

namespace heaplens::layout {

enum class HeapEventKind : uint8_t {
  kAlloc,
  kRealloc,
  kFree,
  kHeapGrow,
  kHeapShrink,
  kMmap,
  kMunmap,
  kMadvise,
  kMark,
};

struct HeapEvent {
  HeapEventKind kind = HeapEventKind::kAlloc;
  uint32_t tid = 0;
  uint64_t time_ns = 0;  // since trace start; non-decreasing
  uint64_t address = 0;
  uint64_t size = 0;         // requested size; region length; mark number
  uint64_t usable = 0;       // allocations: usable size (size + slack)
  uint64_t stack = 0;        // stack id, 0 = unknown
  uint64_t old_address = 0;  // kRealloc only
};

}  // namespace heaplens::layout

#endif  // HEAPLENS_ANALYZER_LAYOUT_HEAP_EVENT_H_

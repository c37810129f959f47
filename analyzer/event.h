// event.h: one decoded trace event, the unit of the replay stream.
//
// The replay model knows nothing about reports: consumers (analyses) get
// events in global time order and keep whatever state they need.
#ifndef HEAPLENS_ANALYZER_EVENT_H_
#define HEAPLENS_ANALYZER_EVENT_H_

#include <cstdint>

#include "proto/trace.pb.h"

namespace heaplens {

// Event kinds, as trace::EventKind (kept as uint32_t on the hot path).
enum EventKindValue : uint32_t {
  kMalloc = trace::MALLOC,
  kCalloc = trace::CALLOC,
  kMemalign = trace::MEMALIGN,
  kNew = trace::NEW,
  kNewArray = trace::NEW_ARRAY,
  kRealloc = trace::REALLOC,
  kFree = trace::FREE,
  kDelete = trace::DELETE,
  kDeleteArray = trace::DELETE_ARRAY,
  kInvalidFree = trace::INVALID_FREE,
  kAllocFailed = trace::ALLOC_FAILED,
  kHeapGrow = trace::HEAP_GROW,
  kHeapShrink = trace::HEAP_SHRINK,
  kMmap = trace::MMAP,
  kMunmap = trace::MUNMAP,
  kMadvise = trace::MADVISE,
  kMark = trace::MARK,
};

constexpr bool IsAllocation(uint32_t kind) {
  return kind >= kMalloc && kind <= kRealloc;
}
constexpr bool IsFree(uint32_t kind) {
  return kind >= kFree && kind <= kDeleteArray;
}

// Fields not used by an event's kind are 0.
struct Event {
  uint32_t kind = 0;
  uint32_t tid = 0;
  uint64_t time_ns = 0;      // since trace start
  uint64_t address = 0;      // new address for REALLOC
  uint64_t size = 0;         // requested size; the mark number for MARK
  uint64_t slack = 0;        // usable size - requested size
  uint64_t stack = 0;        // stack id (0 = empty or unknown)
  uint64_t old_address = 0;  // REALLOC only
};

// The merge order at equal times: frees (and other releases) before
// allocations, so a block freed and reused in the same nanosecond by two
// threads is not seen live twice.
constexpr int TieClass(uint32_t kind) {
  return (IsAllocation(kind) || kind == kHeapGrow || kind == kMmap) ? 1 : 0;
}

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_EVENT_H_

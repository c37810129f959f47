// event_batch.h: raw event records and their encoding into EventBatch
// packets (trace.proto).
//
// A traced thread appends fixed-size EventRecords to its own ring (see
// recorder.cc); whoever flushes the ring encodes the records into one
// EventBatch with the delta-encoded packed columns. Which columns an event
// consumes depends on its kind, exactly as EventKind's comments in
// trace.proto list them (ColumnsOf below is the one place that knows):
//
//   kind          time address size slack stack old_address
//   MALLOC..NEW_ARRAY  x    x     x    x     x
//   REALLOC        x    x     x    x     x      x
//   FREE/DELETE*   x    x
//   INVALID_FREE   x    x               x
//   ALLOC_FAILED   x          x         x
//   HEAP_*/MMAP/MUNMAP/MADVISE x x x
//   MARK           x          x
//
// The kind column has one entry per event. Deltas restart in every batch.
#ifndef HEAPLENS_INTERPOSER_RECORDER_EVENT_BATCH_H_
#define HEAPLENS_INTERPOSER_RECORDER_EVENT_BATCH_H_

#include <stddef.h>
#include <stdint.h>

#include "interposer/recorder/wire.h"

namespace heaplens {

struct EventRecord {
  uint64_t time_ns;  // since trace start
  uint64_t address;
  uint64_t size;
  uint64_t old_address;  // REALLOC only
  uint32_t stack;
  uint32_t slack;  // usable - requested, saturated to 32 bits
  uint32_t kind;   // EventKind wire value
  uint32_t pad;
};
static_assert(sizeof(EventRecord) == 48, "EventRecord layout");

enum ColumnBit : uint32_t {
  kColTime = 1,
  kColAddress = 2,
  kColSize = 4,
  kColSlack = 8,
  kColStack = 16,
  kColOldAddress = 32,
};

// The columns (ColumnBit mask) an event of `kind` consumes after `kind`.
uint32_t ColumnsOf(uint32_t kind);

// Worst-case encoded size of an EventBatch packet with `n` events.
constexpr size_t MaxBatchPacketSize(size_t n) { return 64 + n * (2 + 7 * 11); }

// Scratch memory for encoding: 6 columns of n varints plus the kind column.
constexpr size_t BatchScratchSize(size_t n) { return n * (6 * 10 + 5); }

// Appends one `Trace.packet { events { ... } }` for records[0..n) to `w`.
// `scratch` holds BatchScratchSize(n) bytes.
void EncodeEventBatch(WireWriter* w, uint32_t tid, uint64_t sequence,
                      const EventRecord* records, size_t n, uint8_t* scratch);

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_RECORDER_EVENT_BATCH_H_

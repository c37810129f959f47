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

// How record times become ns since trace start: unchanged (`scaled`
// false: they already are), or a two-piece linear function of TSC ticks
// (recorder.cc's clock): below `tsc1`, (t - tsc0) * mult0 / 2^32 (0 before
// tsc0); from tsc1 on, ns1 + (t - tsc1) * mult1 / 2^32.
struct StampConversion {
  bool scaled = false;
  uint64_t tsc0 = 0, mult0 = 0;
  uint64_t tsc1 = ~0ull, ns1 = 0, mult1 = 0;

  uint64_t ToNs(uint64_t t) const {
    if (!scaled) return t;
    if (t >= tsc1) {
      return ns1 +
             static_cast<uint64_t>(
                 (static_cast<unsigned __int128>(t - tsc1) * mult1) >> 32);
    }
    if (t < tsc0) return 0;
    return static_cast<uint64_t>(
        (static_cast<unsigned __int128>(t - tsc0) * mult0) >> 32);
  }
};

// Appends one `Trace.packet { events { ... } }` for records[0..n) to `w`.
// `scratch` holds BatchScratchSize(n) bytes.
void EncodeEventBatch(WireWriter* w, uint32_t tid, uint64_t sequence,
                      const EventRecord* records, size_t n, uint8_t* scratch);

// The same for the records a[0..na) followed by b[0..nb) (a ring's two
// pieces, encoded in place), whose times are converted by `conv` first:
// the bytes equal EncodeEventBatch of the concatenation with converted
// times.
void EncodeEventBatch(WireWriter* w, uint32_t tid, uint64_t sequence,
                      const EventRecord* a, size_t na, const EventRecord* b,
                      size_t nb, const StampConversion& conv, uint8_t* scratch);

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_RECORDER_EVENT_BATCH_H_

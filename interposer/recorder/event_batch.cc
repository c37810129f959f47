#include "interposer/recorder/event_batch.h"

namespace heaplens {

uint32_t ColumnsOf(uint32_t kind) {
  switch (kind) {
    case 1:  // MALLOC
    case 2:  // CALLOC
    case 3:  // MEMALIGN
    case 4:  // NEW
    case 5:  // NEW_ARRAY
      return kColTime | kColAddress | kColSize | kColSlack | kColStack;
    case 6:  // REALLOC
      return kColTime | kColAddress | kColSize | kColSlack | kColStack |
             kColOldAddress;
    case 8:   // FREE
    case 9:   // DELETE
    case 10:  // DELETE_ARRAY
      return kColTime | kColAddress;
    case 11:  // INVALID_FREE
      return kColTime | kColAddress | kColStack;
    case 12:  // ALLOC_FAILED
      return kColTime | kColSize | kColStack;
    case 16:  // HEAP_GROW
    case 17:  // HEAP_SHRINK
    case 18:  // MMAP
    case 19:  // MUNMAP
    case 20:  // MADVISE
      return kColTime | kColAddress | kColSize;
    case 24:  // MARK
      return kColTime | kColSize;
    default:
      return kColTime;
  }
}

void EncodeEventBatch(WireWriter* w, uint32_t tid, uint64_t sequence,
                      const EventRecord* records, size_t n, uint8_t* scratch) {
  PackedColumn kind, time, addr, size, slack, stack, old;
  uint8_t* p = scratch;
  kind.Init(p, n * 5);
  p += n * 5;
  PackedColumn* cols[] = {&time, &addr, &size, &slack, &stack, &old};
  for (PackedColumn* c : cols) {
    c->Init(p, n * 10);
    p += n * 10;
  }
  uint64_t prev_time = 0;
  uint64_t prev_addr = 0;
  for (size_t i = 0; i < n; ++i) {
    const EventRecord& e = records[i];
    const uint32_t m = ColumnsOf(e.kind);
    kind.Add(e.kind);
    // Times are monotonic per thread; a clock step backwards (never on
    // CLOCK_MONOTONIC, but be safe) is clamped to 0.
    uint64_t t = e.time_ns >= prev_time ? e.time_ns - prev_time : 0;
    time.Add(t);
    prev_time += t;
    if (m & kColAddress) {
      addr.AddSigned(static_cast<int64_t>(e.address - prev_addr));
      prev_addr = e.address;
    }
    if (m & kColSize) size.Add(e.size);
    if (m & kColSlack) slack.Add(e.slack);
    if (m & kColStack) stack.Add(e.stack);
    if (m & kColOldAddress) {
      old.AddSigned(static_cast<int64_t>(e.old_address - e.address));
    }
  }
  WireWriter::PacketMark mark = w->BeginPacket(kPacketEvents);
  w->Uint(1, tid);
  w->Uint(2, sequence);
  w->Packed(3, kind.data(), kind.size());
  w->Packed(4, time.data(), time.size());
  w->Packed(5, addr.data(), addr.size());
  w->Packed(6, size.data(), size.size());
  w->Packed(7, slack.data(), slack.size());
  w->Packed(8, stack.data(), stack.size());
  w->Packed(9, old.data(), old.size());
  if (n > 0) {
    w->Uint(10, records[0].time_ns);
    w->Uint(11, prev_time);
  }
  w->Uint(12, n);
  w->EndPacket(mark);
}

}  // namespace heaplens

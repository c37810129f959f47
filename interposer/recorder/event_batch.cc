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

namespace {

inline uint8_t* Put(uint8_t* p, uint64_t v) {
  if (__builtin_expect(v < 0x80, 1)) {
    *p = static_cast<uint8_t>(v);
    return p + 1;
  }
  return PutVarint(p, v);
}

}  // namespace

void EncodeEventBatch(WireWriter* w, uint32_t tid, uint64_t sequence,
                      const EventRecord* records, size_t n, uint8_t* scratch) {
  // Column cursors live in registers; every column has room for n varints.
  uint8_t* const k0 = scratch;
  uint8_t* const t0 = k0 + n * 5;
  uint8_t* const a0 = t0 + n * 10;
  uint8_t* const s0 = a0 + n * 10;
  uint8_t* const l0 = s0 + n * 10;
  uint8_t* const st0 = l0 + n * 10;
  uint8_t* const o0 = st0 + n * 10;
  uint8_t *kp = k0, *tp = t0, *ap = a0, *sp = s0, *lp = l0, *stp = st0,
          *op = o0;
  uint64_t prev_time = 0;
  uint64_t prev_addr = 0;
  for (size_t i = 0; i < n; ++i) {
    const EventRecord& e = records[i];
    kp = Put(kp, e.kind);
    // Times are monotonic per thread; a clock step backwards (never on
    // CLOCK_MONOTONIC, but be safe) is clamped to 0.
    uint64_t t = e.time_ns >= prev_time ? e.time_ns - prev_time : 0;
    tp = Put(tp, t);
    prev_time += t;
    // The common kinds first, without the column mask.
    if (e.kind >= 8 && e.kind <= 10) {  // FREE, DELETE, DELETE_ARRAY
      ap = Put(ap, ZigZag(static_cast<int64_t>(e.address - prev_addr)));
      prev_addr = e.address;
      continue;
    }
    if (e.kind >= 1 && e.kind <= 5) {  // MALLOC .. NEW_ARRAY
      ap = Put(ap, ZigZag(static_cast<int64_t>(e.address - prev_addr)));
      prev_addr = e.address;
      sp = Put(sp, e.size);
      lp = Put(lp, e.slack);
      stp = Put(stp, e.stack);
      continue;
    }
    const uint32_t m = ColumnsOf(e.kind);
    if (m & kColAddress) {
      ap = Put(ap, ZigZag(static_cast<int64_t>(e.address - prev_addr)));
      prev_addr = e.address;
    }
    if (m & kColSize) sp = Put(sp, e.size);
    if (m & kColSlack) lp = Put(lp, e.slack);
    if (m & kColStack) stp = Put(stp, e.stack);
    if (m & kColOldAddress) {
      op = Put(op, ZigZag(static_cast<int64_t>(e.old_address - e.address)));
    }
  }
  struct {
    const uint8_t* data;
    size_t size;
  } kind{k0, static_cast<size_t>(kp - k0)},
      time{t0, static_cast<size_t>(tp - t0)},
      addr{a0, static_cast<size_t>(ap - a0)},
      size{s0, static_cast<size_t>(sp - s0)},
      slack{l0, static_cast<size_t>(lp - l0)},
      stack{st0, static_cast<size_t>(stp - st0)},
      old{o0, static_cast<size_t>(op - o0)};
  WireWriter::PacketMark mark = w->BeginPacket(kPacketEvents);
  w->Uint(1, tid);
  w->Uint(2, sequence);
  w->Packed(3, kind.data, kind.size);
  w->Packed(4, time.data, time.size);
  w->Packed(5, addr.data, addr.size);
  w->Packed(6, size.data, size.size);
  w->Packed(7, slack.data, slack.size);
  w->Packed(8, stack.data, stack.size);
  w->Packed(9, old.data, old.size);
  if (n > 0) {
    w->Uint(10, records[0].time_ns);
    w->Uint(11, prev_time);
  }
  w->Uint(12, n);
  w->EndPacket(mark);
}

}  // namespace heaplens

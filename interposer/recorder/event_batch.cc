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

// Column cursors and delta state; kept in registers (EncodeRecords is
// inlined into the one loop per piece).
struct Columns {
  uint8_t *kp, *tp, *ap, *sp, *lp, *stp, *op;
  uint64_t prev_time, prev_addr;
};

template <bool kScaled>
__attribute__((always_inline)) inline void EncodeRecords(
    Columns* c, const EventRecord* records, size_t n,
    const StampConversion& conv) {
  uint8_t *kp = c->kp, *tp = c->tp, *ap = c->ap, *sp = c->sp, *lp = c->lp,
          *stp = c->stp, *op = c->op;
  uint64_t prev_time = c->prev_time, prev_addr = c->prev_addr;
  for (size_t i = 0; i < n; ++i) {
    const EventRecord& e = records[i];
    kp = Put(kp, e.kind);
    const uint64_t time = kScaled ? conv.ToNs(e.time_ns) : e.time_ns;
    // Times are monotonic per thread; a clock step backwards (never on
    // CLOCK_MONOTONIC, but be safe) is clamped to 0.
    uint64_t t = time >= prev_time ? time - prev_time : 0;
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
  *c = {kp, tp, ap, sp, lp, stp, op, prev_time, prev_addr};
}

template <bool kScaled>
void EncodeBatch(WireWriter* w, uint32_t tid, uint64_t sequence,
                 const EventRecord* a, size_t na, const EventRecord* b,
                 size_t nb, const StampConversion& conv, uint8_t* scratch) {
  const size_t n = na + nb;
  // Every column has room for n varints.
  uint8_t* const k0 = scratch;
  uint8_t* const t0 = k0 + n * 5;
  uint8_t* const a0 = t0 + n * 10;
  uint8_t* const s0 = a0 + n * 10;
  uint8_t* const l0 = s0 + n * 10;
  uint8_t* const st0 = l0 + n * 10;
  uint8_t* const o0 = st0 + n * 10;
  Columns c = {k0, t0, a0, s0, l0, st0, o0, 0, 0};
  EncodeRecords<kScaled>(&c, a, na, conv);
  EncodeRecords<kScaled>(&c, b, nb, conv);
  WireWriter::PacketMark mark = w->BeginPacket(kPacketEvents);
  w->Uint(1, tid);
  w->Uint(2, sequence);
  w->Packed(3, k0, static_cast<size_t>(c.kp - k0));
  w->Packed(4, t0, static_cast<size_t>(c.tp - t0));
  w->Packed(5, a0, static_cast<size_t>(c.ap - a0));
  w->Packed(6, s0, static_cast<size_t>(c.sp - s0));
  w->Packed(7, l0, static_cast<size_t>(c.lp - l0));
  w->Packed(8, st0, static_cast<size_t>(c.stp - st0));
  w->Packed(9, o0, static_cast<size_t>(c.op - o0));
  if (n > 0) {
    const uint64_t first = na > 0 ? a[0].time_ns : b[0].time_ns;
    w->Uint(10, kScaled ? conv.ToNs(first) : first);
    w->Uint(11, c.prev_time);
  }
  w->Uint(12, n);
  w->EndPacket(mark);
}

}  // namespace

void EncodeEventBatch(WireWriter* w, uint32_t tid, uint64_t sequence,
                      const EventRecord* records, size_t n, uint8_t* scratch) {
  EncodeBatch<false>(w, tid, sequence, records, n, nullptr, 0,
                     StampConversion(), scratch);
}

void EncodeEventBatch(WireWriter* w, uint32_t tid, uint64_t sequence,
                      const EventRecord* a, size_t na, const EventRecord* b,
                      size_t nb, const StampConversion& conv,
                      uint8_t* scratch) {
  if (conv.scaled) {
    EncodeBatch<true>(w, tid, sequence, a, na, b, nb, conv, scratch);
  } else {
    EncodeBatch<false>(w, tid, sequence, a, na, b, nb, conv, scratch);
  }
}

}  // namespace heaplens

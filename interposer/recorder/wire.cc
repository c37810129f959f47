#include "interposer/recorder/wire.h"

namespace heaplens {

void EncodeHeader(WireWriter* w, const HeaderInfo& h) {
  WireWriter::PacketMark m = w->BeginPacket(kPacketHeader);
  w->Uint(1, 1);  // format_major
  w->Uint(2, 1);  // format_minor
  w->Uint(3, h.pid);
  w->Uint(4, h.ppid);
  if (h.exe != nullptr && h.exe[0] != '\0') w->String(5, h.exe);
  for (int i = 0; i < h.argc; ++i) {
    if (h.argv[i] != nullptr) w->String(6, h.argv[i]);
  }
  w->Uint(7, h.page_size);
  w->Uint(8, h.start_monotonic_ns);
  w->Uint(9, h.start_realtime_ns);
  if (h.options != nullptr && h.options[0] != '\0') w->String(10, h.options);
  w->Uint(11, h.mmap_threshold);
  w->Uint(12, h.trim_threshold);
  if (h.allocator != nullptr && h.allocator[0] != '\0') {
    w->String(13, h.allocator);
  }
  w->Uint(14, h.initial_brk);
  w->Uint(15, h.max_stack_depth);
  w->Uint(16, h.parent_trace_pid);
  w->EndPacket(m);
}

void EncodeNotice(WireWriter* w, NoticeSeverity severity, uint64_t time_ns,
                  const char* text, uint32_t tid) {
  WireWriter::PacketMark m = w->BeginPacket(kPacketNotice);
  w->Uint(1, severity);
  w->Uint(2, time_ns);
  w->String(3, text);
  w->Uint(4, tid);
  w->EndPacket(m);
}

void EncodeSummary(WireWriter* w, const SummaryInfo& s) {
  WireWriter::PacketMark m = w->BeginPacket(kPacketSummary);
  w->Uint(1, s.reason);
  w->Int32(2, s.exit_status);
  w->Uint(3, s.time_ns);
  w->Uint(4, s.events);
  w->Uint(5, s.dropped_events);
  w->Uint(6, s.live_blocks);
  w->Uint(7, s.live_bytes);
  w->Bool(8, s.heap_graph);
  w->Uint(9, s.peak_live_bytes);
  w->EndPacket(m);
}

void EncodeThreadInfo(WireWriter* w, uint32_t tid, const char* name,
                      uint64_t start_ns, uint64_t exit_ns) {
  WireWriter::PacketMark m = w->BeginPacket(kPacketThread);
  w->Uint(1, tid);
  if (name != nullptr && name[0] != '\0') w->String(2, name);
  w->Uint(3, start_ns);
  w->Uint(4, exit_ns);
  w->EndPacket(m);
}

void EncodeStackNodes(WireWriter* w, uint64_t first_id, const uint64_t* parents,
                      const uint64_t* pcs, size_t n, uint8_t* scratch) {
  PackedColumn dist, pc;
  dist.Init(scratch, n * 10);
  pc.Init(scratch + n * 10, n * 10);
  uint64_t prev_pc = 0;
  for (size_t i = 0; i < n; ++i) {
    dist.Add(first_id + i - parents[i]);
    pc.AddSigned(static_cast<int64_t>(pcs[i] - prev_pc));
    prev_pc = pcs[i];
  }
  WireWriter::PacketMark m = w->BeginPacket(kPacketStacks);
  w->Uint(1, first_id);
  w->Packed(2, dist.data(), dist.size());
  w->Packed(3, pc.data(), pc.size());
  w->EndPacket(m);
}

}  // namespace heaplens

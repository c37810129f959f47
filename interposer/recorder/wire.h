// wire.h: a hand-written protobuf wire-format encoder for trace.proto.
//
// The preload library may not link libprotobuf (DESIGN.md), so packets are
// encoded here: varints, zigzag, packed repeated fields and length-delimited
// submessages. Every packet is framed as field 1 of `Trace`, so a file that
// is a concatenation of whole packets is a valid serialized `Trace`.
//
// WireWriter writes into a caller-owned buffer and never allocates. If the
// buffer is too small it sets overflow() and stops writing; callers size
// their buffers from the worst case and check overflow() before using the
// bytes. wire_test.cc parses the output with the generated trace.pb.h.
//
// Example:
//   char buf[256];
//   WireWriter w(buf, sizeof(buf));
//   size_t packet = w.BeginPacket(kPacketNotice);
//   w.Uint(1, 2);                      // Notice.severity = WARNING
//   w.String(3, "disk full");
//   w.EndNested(packet);
//   write(fd, w.data(), w.size());
#ifndef HEAPLENS_INTERPOSER_RECORDER_WIRE_H_
#define HEAPLENS_INTERPOSER_RECORDER_WIRE_H_

#include <stddef.h>
#include <stdint.h>
#include <string.h>

namespace heaplens {

// Field numbers of Packet's oneof (trace.proto).
enum PacketField : uint32_t {
  kPacketHeader = 1,
  kPacketModules = 2,
  kPacketStacks = 3,
  kPacketEvents = 4,
  kPacketThread = 5,
  kPacketSummary = 6,
  kPacketGraph = 7,
  kPacketNotice = 8,
};

inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

inline size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Writes a varint at p (at least 10 bytes available); returns the end.
inline uint8_t* PutVarint(uint8_t* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<uint8_t>(v);
  return p;
}

class WireWriter {
 public:
  WireWriter(void* buf, size_t cap)
      : buf_(static_cast<uint8_t*>(buf)), cap_(cap) {}

  const uint8_t* data() const { return buf_; }
  size_t size() const { return len_; }
  bool overflow() const { return overflow_; }
  void Clear() {
    len_ = 0;
    overflow_ = false;
  }
  // Drops everything after `size` (e.g. a packet that did not fit).
  void Truncate(size_t size) {
    if (size < len_) len_ = size;
  }
  size_t remaining() const { return cap_ - len_; }

  void RawVarint(uint64_t v) {
    if (!Reserve(10)) return;
    len_ = static_cast<size_t>(PutVarint(buf_ + len_, v) - buf_);
  }
  void RawBytes(const void* p, size_t n) {
    if (!Reserve(n)) return;
    memcpy(buf_ + len_, p, n);
    len_ += n;
  }
  void Tag(uint32_t field, uint32_t wire_type) {
    RawVarint((static_cast<uint64_t>(field) << 3) | wire_type);
  }

  // Scalar fields. Zero values are skipped, as proto3 does.
  void Uint(uint32_t field, uint64_t v) {
    if (v == 0) return;
    Tag(field, 0);
    RawVarint(v);
  }
  void Sint(uint32_t field, int64_t v) { Uint(field, ZigZag(v)); }
  void Int32(uint32_t field, int32_t v) {
    // int32 is sign-extended to 64 bits on the wire.
    Uint(field, static_cast<uint64_t>(static_cast<int64_t>(v)));
  }
  void Bool(uint32_t field, bool v) { Uint(field, v ? 1 : 0); }
  void Bytes(uint32_t field, const void* p, size_t n) {
    Tag(field, 2);
    RawVarint(n);
    RawBytes(p, n);
  }
  void String(uint32_t field, const char* s) { Bytes(field, s, strlen(s)); }
  // A packed field from already varint-encoded bytes; skipped when empty.
  void Packed(uint32_t field, const void* encoded, size_t n) {
    if (n == 0) return;
    Bytes(field, encoded, n);
  }

  // Length-delimited submessage: Begin returns a mark, End back-patches the
  // length (shifting the body if the length needs fewer than the 5 bytes
  // reserved). Nesting is allowed.
  size_t BeginNested(uint32_t field) {
    Tag(field, 2);
    size_t mark = len_;
    if (Reserve(5)) len_ += 5;
    return mark;
  }
  void EndNested(size_t mark) {
    if (overflow_) return;
    size_t body = len_ - (mark + 5);
    size_t n = VarintSize(body);
    PutVarint(buf_ + mark, body);
    if (n != 5) memmove(buf_ + mark + n, buf_ + mark + 5, body);
    len_ = mark + n + body;
  }
  // Trace.packet (field 1) containing Packet.<body> (field `body`). Close
  // with EndPacket(mark).
  struct PacketMark {
    size_t outer;
    size_t inner;
  };
  PacketMark BeginPacket(PacketField body) {
    PacketMark m;
    m.outer = BeginNested(1);
    m.inner = BeginNested(body);
    return m;
  }
  void EndPacket(PacketMark m) {
    EndNested(m.inner);
    EndNested(m.outer);
  }

 private:
  bool Reserve(size_t n) {
    if (overflow_ || cap_ - len_ < n) {
      overflow_ = true;
      return false;
    }
    return true;
  }

  uint8_t* buf_;
  size_t cap_;
  size_t len_ = 0;
  bool overflow_ = false;
};

// A packed column being built: varints appended into a fixed buffer.
class PackedColumn {
 public:
  PackedColumn() = default;
  void Init(uint8_t* buf, size_t cap) {
    buf_ = buf;
    cap_ = cap;
    len_ = 0;
  }
  // The caller guarantees room (capacity sized for the worst case).
  void Add(uint64_t v) {
    len_ = static_cast<size_t>(PutVarint(buf_ + len_, v) - buf_);
  }
  void AddSigned(int64_t v) { Add(ZigZag(v)); }
  const uint8_t* data() const { return buf_; }
  size_t size() const { return len_; }
  size_t capacity() const { return cap_; }
  void Clear() { len_ = 0; }

 private:
  uint8_t* buf_ = nullptr;
  size_t cap_ = 0;
  size_t len_ = 0;
};

// ---- Encoders for the small packets (wire.cc) ----

struct HeaderInfo {
  uint32_t pid = 0;
  uint32_t ppid = 0;
  const char* exe = "";
  const char* const* argv = nullptr;  // argc strings
  int argc = 0;
  uint32_t page_size = 0;
  uint64_t start_monotonic_ns = 0;
  uint64_t start_realtime_ns = 0;
  const char* options = "";
  uint64_t mmap_threshold = 0;
  uint64_t trim_threshold = 0;
  const char* allocator = "";
  uint64_t initial_brk = 0;
  uint32_t max_stack_depth = 0;
  uint32_t parent_trace_pid = 0;
};
void EncodeHeader(WireWriter* w, const HeaderInfo& h);

// Notice.Severity values.
enum NoticeSeverity : uint32_t { kInfo = 1, kWarning = 2, kError = 3 };
void EncodeNotice(WireWriter* w, NoticeSeverity severity, uint64_t time_ns,
                  const char* text, uint32_t tid);

// ExitSummary.Reason values.
enum ExitReason : uint32_t {
  kExitNormal = 1,
  kExitUnderscore = 2,
  kExitExec = 3,
  kExitTraceStopped = 4,
};
struct SummaryInfo {
  ExitReason reason = kExitNormal;
  int32_t exit_status = 0;
  uint64_t time_ns = 0;
  uint64_t events = 0;
  uint64_t dropped_events = 0;
  uint64_t live_blocks = 0;
  uint64_t live_bytes = 0;
  bool heap_graph = false;
  uint64_t peak_live_bytes = 0;
};
void EncodeSummary(WireWriter* w, const SummaryInfo& s);

void EncodeThreadInfo(WireWriter* w, uint32_t tid, const char* name,
                      uint64_t start_ns, uint64_t exit_ns);

// A StackNodes packet for nodes first_id .. first_id + n - 1 with the given
// parents (node ids, < own id) and pcs. `scratch` holds 20 * n bytes.
void EncodeStackNodes(WireWriter* w, uint64_t first_id, const uint64_t* parents,
                      const uint64_t* pcs, size_t n, uint8_t* scratch);

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_RECORDER_WIRE_H_

// trace_builder.h: writes synthetic heaplens traces for tests and benchmarks,
// with correct framing (tag 0x0A, varint length, Packet) and the column
// encoding of trace.proto (deltas restarting per batch, each kind taking its
// own columns). The generated protobuf classes do the message encoding, so a
// trace built here is the reference the interposer's hand-written encoder
// can be compared with.
//
// Example:
//   TraceBuilder b;                       // header: format 1.0, pid 1000
//   b.Modules({{"/bin/prog", "\x12\x34", 0x400000, {{0, 0x1000, 5, 0}}}});
//   uint64_t s = b.Stack({0x401234, 0x401100});   // innermost first
//   b.Batch(1, 0, {Alloc(kMalloc, 10, 0x1000, 32, s)});
//   b.Summary(trace::ExitSummary::EXIT);
//   ASSERT_TRUE(b.WriteTo(path).ok());
#ifndef HEAPLENS_ANALYZER_TESTING_TRACE_BUILDER_H_
#define HEAPLENS_ANALYZER_TESTING_TRACE_BUILDER_H_

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "analyzer/event.h"
#include "proto/trace.pb.h"

namespace heaplens {
namespace testing {

// Event constructors (times are absolute ns since trace start).
Event Alloc(uint32_t kind, uint64_t time, uint64_t address, uint64_t size,
            uint64_t stack, uint64_t slack = 0);
Event Realloc(uint64_t time, uint64_t old_address, uint64_t address,
              uint64_t size, uint64_t stack, uint64_t slack = 0);
Event Free(uint32_t kind, uint64_t time, uint64_t address);
Event InvalidFree(uint64_t time, uint64_t address, uint64_t stack);
Event AllocFailed(uint64_t time, uint64_t size, uint64_t stack);
Event HeapEvent(uint32_t kind, uint64_t time, uint64_t address, uint64_t size);
Event Mark(uint64_t time, uint64_t number);

struct ModuleSpec {
  std::string path;
  std::string build_id;  // raw bytes
  uint64_t base = 0;
  // (vaddr, memsz, flags, offset)
  std::vector<std::tuple<uint64_t, uint64_t, uint32_t, uint64_t>> segments;
};

struct RootSpec {
  trace::RootRegion::Kind kind = trace::RootRegion::DATA;
  std::string name;
  std::vector<uint64_t> refs;  // (index << 1) | interior
};

// A heap-graph reference to block `index`.
inline uint64_t Ref(uint64_t index, bool interior = false) {
  return (index << 1) | (interior ? 1 : 0);
}

class TraceBuilder {
 public:
  // Writes a header packet unless `with_header` is false.
  explicit TraceBuilder(bool with_header = true, uint32_t pid = 1000);

  // A header with this format version and pid (for version tests).
  TraceBuilder& Header(uint32_t major, uint32_t minor, uint32_t pid = 1000);
  TraceBuilder& Modules(const std::vector<ModuleSpec>& modules,
                        uint64_t time_ns = 0);
  // Interns the stack (pcs innermost first) and writes any new nodes in one
  // StackNodes packet. Returns its stack id.
  uint64_t Stack(const std::vector<uint64_t>& pcs);
  // One EventBatch of thread `tid` with sequence number `sequence`.
  TraceBuilder& Batch(uint32_t tid, uint64_t sequence,
                      const std::vector<Event>& events);
  // The heap graph: block addresses (ascending), each block's references,
  // the roots; split into packets of at most `blocks_per_packet` blocks.
  TraceBuilder& Graph(const std::vector<uint64_t>& blocks,
                      const std::vector<std::vector<uint64_t>>& edges,
                      const std::vector<RootSpec>& roots,
                      size_t blocks_per_packet = 1000);
  TraceBuilder& Summary(trace::ExitSummary::Reason reason, int exit_status = 0,
                        bool heap_graph = false);
  TraceBuilder& Thread(uint32_t tid, const std::string& name);
  TraceBuilder& Notice(const std::string& text);
  // Any packet, framed.
  TraceBuilder& Packet(const trace::Packet& packet);
  // Bytes appended as they are (for corrupt traces).
  TraceBuilder& Raw(const std::string& bytes);

  const std::string& bytes() const { return out_; }
  absl::Status WriteTo(const std::string& path) const;

  // Frames `packet_bytes` as one packet of a Trace.
  static std::string Frame(const std::string& packet_bytes);
  static void AppendVarint(uint64_t v, std::string* out);

 private:
  std::string out_;
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> nodes_;  // (parent, pc)
  uint64_t next_id_ = 1;
  uint32_t epoch_ = 0;
};

// Encodes events into an EventBatch's columns (exposed for encoder tests).
trace::EventBatch EncodeBatch(uint32_t tid, uint64_t sequence,
                              const std::vector<Event>& events);

}  // namespace testing
}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_TESTING_TRACE_BUILDER_H_

// trace_index.h: pass 1 of the analysis. One sequential scan of the trace
// that keeps everything except the events themselves: the header, module
// epochs, the stack dictionary, threads, notices, the exit summary, the heap
// graph, and for each EventBatch where it is and which times it covers.
// Replay (pass 2) then reads the batches it needs by offset, so memory grows
// with the stack dictionary and the live set, not with the trace length.
//
// Errors: NotFound/PermissionDenied from opening, DataLoss for a corrupt
// trace ("PATH: byte N: what"), FailedPrecondition for a format major this
// analyzer does not know. A truncated trace is indexed up to its last
// complete packet and notes() says so.
#ifndef HEAPLENS_ANALYZER_TRACE_INDEX_H_
#define HEAPLENS_ANALYZER_TRACE_INDEX_H_

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "analyzer/stack_table.h"
#include "analyzer/trace_reader.h"
#include "proto/trace.pb.h"

namespace heaplens {

// The trace format this analyzer reads.
inline constexpr uint32_t kFormatMajor = 1;
inline constexpr uint32_t kFormatMinor = 1;

// Where one EventBatch is and what it covers (its small fields only).
struct BatchRef {
  uint64_t offset = 0;  // file offset of the EventBatch message bytes
  uint32_t length = 0;  // its length
  uint32_t tid = 0;
  uint64_t sequence = 0;
  uint64_t begin_ns = 0;
  uint64_t end_ns = 0;
  uint32_t event_count = 0;
  uint64_t packet_offset = 0;  // the enclosing packet, for messages
};

// What a source's interior references to a block say (trace.proto
// HeapGraph.interior): the smallest offset into the block, and the
// evidence for memcheck's leak-check heuristics. A 1.0 trace has none:
// min_offset 0 and no flags make a plain interior reference.
struct InteriorRef {
  enum Flag : uint32_t { kAt8 = 1, kString = 2, kMulti = 4 };
  uint64_t min_offset = 0;
  uint64_t word0 = 0;      // the block's first word (kAt8, kString)
  uint64_t word1 = 0;      // its second word (kString)
  uint64_t mi_offset = 0;  // kMulti: where the vtable pointer is
  uint32_t flags = 0;
};

// The interior references of one source list (the blocks' edges, or one
// root's refs), in order, packed: 16 bytes per reference (a 40-byte
// InteriorRef each made the heap graph of a program with millions of
// interior pointers, e.g. perl's SV arenas, the largest cost of indexing),
// with the heuristics' words stored only for references that carry them.
class InteriorRefs {
 public:
  InteriorRefs() = default;
  InteriorRefs(std::initializer_list<InteriorRef> refs) {
    for (const InteriorRef& r : refs) push_back(r);
  }
  size_t size() const { return refs_.size(); }
  bool empty() const { return refs_.empty(); }
  // `n` plain interior references (offset 0, no evidence: format 1.0).
  void AddPlain(size_t n) { refs_.resize(refs_.size() + n, Packed{0, 0}); }
  void push_back(const InteriorRef& r) {
    refs_.push_back(Packed{r.min_offset << 3 | (r.flags & 7), words_.size()});
    if (r.flags & (InteriorRef::kAt8 | InteriorRef::kString)) {
      words_.push_back(r.word0);
    }
    if (r.flags & InteriorRef::kString) words_.push_back(r.word1);
    if (r.flags & InteriorRef::kMulti) words_.push_back(r.mi_offset);
  }
  InteriorRef operator[](size_t i) const {
    const Packed& p = refs_[i];
    InteriorRef r;
    r.min_offset = p.desc >> 3;
    r.flags = static_cast<uint32_t>(p.desc & 7);
    size_t w = p.word;
    if (r.flags & (InteriorRef::kAt8 | InteriorRef::kString)) {
      r.word0 = words_[w++];
    }
    if (r.flags & InteriorRef::kString) r.word1 = words_[w++];
    if (r.flags & InteriorRef::kMulti) r.mi_offset = words_[w++];
    return r;
  }

 private:
  struct Packed {
    uint64_t desc;  // min_offset << 3 | flags (trace.proto's descriptor)
    uint64_t word;  // index of its first word in words_
  };
  std::vector<Packed> refs_;
  std::vector<uint64_t> words_;
};

// The heap graph at exit (HeapGraph packets), see trace.proto.
struct HeapGraphData {
  struct Root {
    int kind = 0;  // trace::RootRegion::Kind
    std::string name;
    uint64_t address = 0;
    uint64_t size = 0;
    std::vector<uint64_t> refs;  // (index << 1) | interior
    InteriorRefs interior;       // one per interior ref, in order
  };
  uint64_t block_count = 0;
  std::vector<uint64_t> block_address;  // ascending
  std::vector<uint64_t> edge_begin;     // block i: edges[edge_begin[i] ..
                                        //   edge_begin[i + 1])
  std::vector<uint64_t> edges;          // (index << 1) | interior
  InteriorRefs interior;                // one per interior edge, in order
  std::vector<Root> roots;
  bool complete = false;  // the `last` packet was read and counts agree
};

struct TraceIndex {
  std::string path;
  uint64_t file_size = 0;
  uint64_t end_offset = 0;  // where the readable trace ends
  bool truncated = false;

  trace::Header header;
  std::vector<trace::ModuleEpoch> epochs;  // in file order
  StackTable stacks;
  std::vector<trace::ThreadInfo> threads;
  std::vector<trace::Notice> notices;
  std::optional<trace::ExitSummary> summary;
  std::optional<HeapGraphData> graph;  // only when complete
  std::vector<BatchRef> batches;       // in file order
  uint64_t claimed_events = 0;         // sum of event_count

  // What the reader wants the user to know: truncation, lost batches,
  // skipped unknown packets, an incomplete heap graph.
  std::vector<std::string> notes;
};

// Indexes the trace read by `reader` from its current position (the start).
absl::StatusOr<TraceIndex> IndexTrace(TraceReader& reader);

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_TRACE_INDEX_H_

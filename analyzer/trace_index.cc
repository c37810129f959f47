#include "analyzer/trace_index.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace heaplens {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

constexpr int kPacketHeader = 1;
constexpr int kPacketEvents = 4;
constexpr int kPacketGraph = 7;
constexpr int kLastKnownPacketField = 8;

// The top-level field of a packet that carries its body (the last one wins,
// as for a protobuf oneof), and where its bytes are.
struct PacketBody {
  int field = 0;
  uint64_t begin = 0;  // offset inside the packet bytes
  uint64_t length = 0;
};

bool ScanPacket(absl::string_view bytes, PacketBody* body) {
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return in.CurrentPosition() == static_cast<int>(bytes.size());
    const int field = static_cast<int>(WireFormatLite::GetTagFieldNumber(tag));
    if (WireFormatLite::GetTagWireType(tag) ==
        WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      uint32_t len;
      if (!in.ReadVarint32(&len)) return false;
      const uint64_t begin = static_cast<uint64_t>(in.CurrentPosition());
      if (len > bytes.size() - begin) return false;
      if (field >= 1) *body = PacketBody{field, begin, len};
      if (!in.Skip(static_cast<int>(len))) return false;
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return false;
    }
  }
}

// Reads the small fields of an EventBatch without decoding its columns.
bool ScanBatch(absl::string_view bytes, BatchRef* ref) {
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return in.CurrentPosition() == static_cast<int>(bytes.size());
    const int field = static_cast<int>(WireFormatLite::GetTagFieldNumber(tag));
    const auto wt = WireFormatLite::GetTagWireType(tag);
    uint64_t v;
    if (wt == WireFormatLite::WIRETYPE_VARINT &&
        (field == 1 || field == 2 || field == 10 || field == 11 ||
         field == 12)) {
      if (!in.ReadVarint64(&v)) return false;
      switch (field) {
        case 1:
          ref->tid = static_cast<uint32_t>(v);
          break;
        case 2:
          ref->sequence = v;
          break;
        case 10:
          ref->begin_ns = v;
          break;
        case 11:
          ref->end_ns = v;
          break;
        case 12:
          ref->event_count = static_cast<uint32_t>(v);
          break;
      }
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return false;
    }
  }
}

class Indexer {
 public:
  Indexer(TraceReader& reader, TraceIndex& index)
      : reader_(reader), index_(index) {}

  absl::Status Run();

 private:
  absl::Status Fail(uint64_t offset, absl::string_view what) {
    return TraceDataLoss(reader_.path(), offset, what);
  }
  absl::Status OnHeader(const RawPacket& p, const trace::Header& h);
  absl::Status OnGraph(const RawPacket& p, const trace::HeapGraph& g);
  void CheckSequences();
  void FinishGraph();

  TraceReader& reader_;
  TraceIndex& index_;
  bool have_header_ = false;
  uint64_t unknown_packets_ = 0;
  HeapGraphData graph_;
  bool graph_started_ = false;
  bool graph_last_ = false;
  bool graph_bad_ = false;
};

absl::Status Indexer::OnHeader(const RawPacket& p, const trace::Header& h) {
  if (h.format_major() == 0) {
    return Fail(p.offset,
                "header has no format version (not a heaplens trace)");
  }
  if (h.format_major() > kFormatMajor) {
    return absl::FailedPreconditionError(
        absl::StrCat(reader_.path(), ": trace format ", h.format_major(), ".",
                     h.format_minor(), " needs a heaplens that reads format ",
                     h.format_major(), ".x; this one reads format ",
                     kFormatMajor, ".", kFormatMinor, " and older"));
  }
  if (h.format_major() < kFormatMajor) {
    return Fail(p.offset,
                absl::StrCat("unknown trace format ", h.format_major(), ".",
                             h.format_minor()));
  }
  index_.header = h;
  have_header_ = true;
  return absl::OkStatus();
}

// Appends an InteriorRef for each interior reference of `refs`, from the
// descriptors and words of format 1.1 (none: plain interior references).
template <typename Refs, typename Packed>
absl::Status AppendInterior(const Refs& refs, const Packed& desc,
                            const Packed& words, InteriorRefs* out) {
  size_t n = 0;
  for (uint64_t ref : refs) n += ref & 1;
  if (desc.empty() && words.empty()) {
    out->AddPlain(n);
    return absl::OkStatus();
  }
  if (static_cast<size_t>(desc.size()) != n) {
    return absl::InvalidArgumentError(absl::StrCat("heap graph: ", desc.size(),
                                                   " interior descriptors for ",
                                                   n, " interior references"));
  }
  int w = 0;
  for (uint64_t d : desc) {
    InteriorRef r;
    r.min_offset = d >> 3;
    r.flags = static_cast<uint32_t>(d & 7);
    const int need =
        ((r.flags & (InteriorRef::kAt8 | InteriorRef::kString)) ? 1 : 0) +
        ((r.flags & InteriorRef::kString) ? 1 : 0) +
        ((r.flags & InteriorRef::kMulti) ? 1 : 0);
    if (w + need > words.size()) {
      return absl::InvalidArgumentError(
          "heap graph: interior descriptors need more words than given");
    }
    if (r.flags & (InteriorRef::kAt8 | InteriorRef::kString)) {
      r.word0 = words[w++];
    }
    if (r.flags & InteriorRef::kString) r.word1 = words[w++];
    if (r.flags & InteriorRef::kMulti) r.mi_offset = words[w++];
    out->push_back(r);
  }
  if (w != words.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "heap graph: ", words.size() - w, " interior words left over"));
  }
  return absl::OkStatus();
}

absl::Status Indexer::OnGraph(const RawPacket& p, const trace::HeapGraph& g) {
  if (graph_bad_ || graph_last_) {
    if (graph_last_) {
      index_.notes.push_back(absl::StrCat(
          "byte ", p.offset, ": heap graph packet after the last one ignored"));
    }
    return absl::OkStatus();
  }
  HeapGraphData& d = graph_;
  if (!graph_started_) {
    graph_started_ = true;
    d.block_count = g.block_count();
    for (const trace::RootRegion& r : g.roots()) {
      HeapGraphData::Root root;
      root.kind = r.kind();
      root.name = r.name();
      root.address = r.address();
      root.size = r.size();
      root.refs.assign(r.ref().begin(), r.ref().end());
      if (absl::Status s = AppendInterior(r.ref(), r.interior(),
                                          r.interior_word(), &root.interior);
          !s.ok()) {
        return Fail(p.offset, s.message());
      }
      d.roots.push_back(std::move(root));
    }
    d.edge_begin.push_back(0);
  } else if (g.block_count() != 0 && g.block_count() != d.block_count) {
    return Fail(p.offset,
                absl::StrCat("heap graph: block_count ", g.block_count(),
                             " after ", d.block_count));
  }
  if (g.first_block() != d.block_address.size()) {
    return Fail(p.offset, absl::StrCat("heap graph: packet starts at block ",
                                       g.first_block(), ", expected ",
                                       d.block_address.size()));
  }
  const int n = g.block_address_delta_size();
  if (g.edge_count_size() != n) {
    return Fail(p.offset, absl::StrCat("heap graph: ", n, " blocks but ",
                                       g.edge_count_size(), " edge counts"));
  }
  if (d.block_address.size() + static_cast<uint64_t>(n) > d.block_count) {
    return Fail(p.offset, absl::StrCat("heap graph: more than block_count ",
                                       d.block_count, " blocks"));
  }
  uint64_t edges = 0;
  for (uint32_t c : g.edge_count()) edges += c;
  if (edges != static_cast<uint64_t>(g.edge_size())) {
    return Fail(p.offset,
                absl::StrCat("heap graph: edge counts sum to ", edges,
                             " but the packet has ", g.edge_size(), " edges"));
  }
  uint64_t addr = 0;
  for (int i = 0; i < n; ++i) {
    addr += static_cast<uint64_t>(g.block_address_delta(i));
    if (!d.block_address.empty() && addr <= d.block_address.back()) {
      return Fail(p.offset, "heap graph: block addresses are not ascending");
    }
    d.block_address.push_back(addr);
    d.edge_begin.push_back(d.edge_begin.back() + g.edge_count(i));
  }
  if (absl::Status s = AppendInterior(g.edge(), g.interior(), g.interior_word(),
                                      &d.interior);
      !s.ok()) {
    return Fail(p.offset, s.message());
  }
  d.edges.insert(d.edges.end(), g.edge().begin(), g.edge().end());
  if (g.last()) graph_last_ = true;
  return absl::OkStatus();
}

void Indexer::FinishGraph() {
  if (!graph_started_) return;
  if (!graph_last_ || graph_.block_address.size() != graph_.block_count) {
    index_.notes.push_back(absl::StrCat(
        "heap graph incomplete (", graph_.block_address.size(), " of ",
        graph_.block_count,
        " blocks): leak kinds unavailable, live blocks reported as unfreed"));
    return;
  }
  graph_.complete = true;
  index_.graph = std::move(graph_);
}

void Indexer::CheckSequences() {
  // Per thread, batches in time order; a tid reused by a new thread restarts
  // at sequence 0.
  std::map<uint32_t, std::vector<const BatchRef*>> by_tid;
  for (const BatchRef& b : index_.batches) by_tid[b.tid].push_back(&b);
  for (auto& [tid, v] : by_tid) {
    std::stable_sort(
        v.begin(), v.end(), [](const BatchRef* a, const BatchRef* b) {
          return a->begin_ns != b->begin_ns ? a->begin_ns < b->begin_ns
                                            : a->sequence < b->sequence;
        });
    uint64_t expect = 0;
    for (const BatchRef* b : v) {
      if (b->sequence == 0) expect = 0;
      if (b->sequence > expect) {
        index_.notes.push_back(absl::StrCat("thread ", tid, ": event batches ",
                                            expect, "..", b->sequence - 1,
                                            " are missing (events lost)"));
      } else if (b->sequence < expect) {
        index_.notes.push_back(absl::StrCat("thread ", tid, ": event batch ",
                                            b->sequence, " appears twice"));
      }
      expect = b->sequence + 1;
    }
  }
}

absl::Status Indexer::Run() {
  index_.path = reader_.path();
  index_.file_size = reader_.file_size();
  if (reader_.file_size() == 0) {
    return absl::DataLossError(absl::StrCat(
        reader_.path(), ": empty file (0 bytes): not a heaplens trace"));
  }
  RawPacket p;
  trace::Packet packet;
  uint32_t epoch = kNoEpoch;
  while (true) {
    absl::StatusOr<bool> more = reader_.Next(&p);
    if (!more.ok()) return more.status();
    if (!*more) break;
    PacketBody body;
    if (!ScanPacket(p.bytes, &body)) {
      if (reader_.TreatLastPacketAsTruncated(p)) break;
      return Fail(p.offset, "packet is not a valid protobuf message");
    }
    if (!have_header_ && body.field != kPacketHeader) {
      return Fail(p.offset, p.offset == 0
                                ? "the first packet is not a header (not a "
                                  "heaplens trace)"
                                : "no header before this packet");
    }
    if (body.field > kLastKnownPacketField || body.field == 0) {
      ++unknown_packets_;  // a newer minor's packet kind
      continue;
    }
    if (body.field == kPacketEvents) {
      BatchRef ref;
      ref.packet_offset = p.offset;
      ref.offset = p.body_offset + body.begin;
      ref.length = static_cast<uint32_t>(body.length);
      if (!ScanBatch(p.bytes.substr(body.begin, body.length), &ref)) {
        if (reader_.TreatLastPacketAsTruncated(p)) break;
        return Fail(p.offset, "event batch is not a valid protobuf message");
      }
      if (ref.end_ns < ref.begin_ns) {
        return Fail(
            p.offset,
            absl::StrCat("event batch of thread ", ref.tid, ": end time ",
                         ref.end_ns, " before begin time ", ref.begin_ns));
      }
      index_.claimed_events += ref.event_count;
      index_.batches.push_back(ref);
      continue;
    }
    if (!packet.ParseFromArray(p.bytes.data(),
                               static_cast<int>(p.bytes.size()))) {
      if (reader_.TreatLastPacketAsTruncated(p)) break;
      return Fail(p.offset, "packet is not a valid protobuf message");
    }
    switch (packet.body_case()) {
      case trace::Packet::kHeader:
        if (have_header_) {
          return Fail(p.offset, "a second header");
        }
        if (absl::Status s = OnHeader(p, packet.header()); !s.ok()) return s;
        break;
      case trace::Packet::kModules:
        index_.epochs.push_back(packet.modules());
        epoch = static_cast<uint32_t>(index_.epochs.size() - 1);
        break;
      case trace::Packet::kStacks: {
        std::string error;
        if (!index_.stacks.Add(packet.stacks(), epoch, &error)) {
          return Fail(p.offset, error);
        }
        break;
      }
      case trace::Packet::kThread:
        index_.threads.push_back(packet.thread());
        break;
      case trace::Packet::kSummary:
        index_.summary = packet.summary();
        break;
      case trace::Packet::kGraph:
        if (absl::Status s = OnGraph(p, packet.graph()); !s.ok()) return s;
        break;
      case trace::Packet::kNotice:
        index_.notices.push_back(packet.notice());
        break;
      default:
        break;
    }
  }
  index_.end_offset = reader_.end_offset();
  if (reader_.truncation_note()) {
    index_.truncated = true;
    index_.notes.push_back(*reader_.truncation_note());
  }
  if (!have_header_) {
    return Fail(0, "the trace ends before its header is complete");
  }
  if (unknown_packets_ > 0) {
    index_.notes.push_back(absl::StrCat(
        unknown_packets_, " packets of a newer format minor were skipped"));
  }
  if (!index_.summary) {
    index_.notes.push_back(
        "no exit summary: the process did not finish normally (killed?)");
  }
  CheckSequences();
  FinishGraph();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TraceIndex> IndexTrace(TraceReader& reader) {
  TraceIndex index;
  Indexer indexer(reader, index);
  if (absl::Status s = indexer.Run(); !s.ok()) return s;
  return index;
}

}  // namespace heaplens

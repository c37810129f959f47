#include "analyzer/testing/trace_builder.h"

#include <cstdio>

#include "absl/strings/str_cat.h"

namespace heaplens {
namespace testing {

Event Alloc(uint32_t kind, uint64_t time, uint64_t address, uint64_t size,
            uint64_t stack, uint64_t slack) {
  Event e;
  e.kind = kind;
  e.time_ns = time;
  e.address = address;
  e.size = size;
  e.slack = slack;
  e.stack = stack;
  return e;
}

Event Realloc(uint64_t time, uint64_t old_address, uint64_t address,
              uint64_t size, uint64_t stack, uint64_t slack) {
  Event e = Alloc(kRealloc, time, address, size, stack, slack);
  e.old_address = old_address;
  return e;
}

Event Free(uint32_t kind, uint64_t time, uint64_t address) {
  Event e;
  e.kind = kind;
  e.time_ns = time;
  e.address = address;
  return e;
}

Event InvalidFree(uint64_t time, uint64_t address, uint64_t stack) {
  Event e = Free(kInvalidFree, time, address);
  e.stack = stack;
  return e;
}

Event AllocFailed(uint64_t time, uint64_t size, uint64_t stack) {
  Event e;
  e.kind = kAllocFailed;
  e.time_ns = time;
  e.size = size;
  e.stack = stack;
  return e;
}

Event HeapEvent(uint32_t kind, uint64_t time, uint64_t address, uint64_t size) {
  Event e;
  e.kind = kind;
  e.time_ns = time;
  e.address = address;
  e.size = size;
  return e;
}

Event Mark(uint64_t time, uint64_t number) {
  Event e;
  e.kind = kMark;
  e.time_ns = time;
  e.size = number;
  return e;
}

trace::EventBatch EncodeBatch(uint32_t tid, uint64_t sequence,
                              const std::vector<Event>& events) {
  trace::EventBatch b;
  b.set_tid(tid);
  b.set_sequence(sequence);
  uint64_t t = 0, a = 0;
  for (const Event& e : events) {
    b.add_kind(e.kind);
    b.add_time_delta(e.time_ns - t);
    t = e.time_ns;
    const bool alloc = e.kind >= kMalloc && e.kind <= kRealloc;
    const bool free = e.kind >= kFree && e.kind <= kDeleteArray;
    const bool heap = e.kind >= kHeapGrow && e.kind <= kMadvise;
    if (alloc || free || heap || e.kind == kInvalidFree) {
      b.add_address_delta(static_cast<int64_t>(e.address - a));
      a = e.address;
    }
    if (alloc || heap || e.kind == kAllocFailed || e.kind == kMark) {
      b.add_size(e.size);
    }
    if (alloc) b.add_slack(e.slack);
    if (alloc || e.kind == kInvalidFree || e.kind == kAllocFailed) {
      b.add_stack(e.stack);
    }
    if (e.kind == kRealloc) {
      b.add_old_address_delta(static_cast<int64_t>(e.old_address - e.address));
    }
  }
  if (!events.empty()) {
    b.set_begin_time_ns(events.front().time_ns);
    b.set_end_time_ns(events.back().time_ns);
  }
  b.set_event_count(static_cast<uint32_t>(events.size()));
  return b;
}

void TraceBuilder::AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

std::string TraceBuilder::Frame(const std::string& packet_bytes) {
  std::string out;
  out.push_back('\x0a');
  AppendVarint(packet_bytes.size(), &out);
  out.append(packet_bytes);
  return out;
}

TraceBuilder::TraceBuilder(bool with_header, uint32_t pid) {
  if (with_header) Header(1, 0, pid);
}

TraceBuilder& TraceBuilder::Header(uint32_t major, uint32_t minor,
                                   uint32_t pid) {
  trace::Packet p;
  trace::Header* h = p.mutable_header();
  h->set_format_major(major);
  h->set_format_minor(minor);
  h->set_pid(pid);
  h->set_ppid(1);
  h->set_exe("/test/prog");
  h->add_argv("/test/prog");
  h->set_page_size(4096);
  return Packet(p);
}

TraceBuilder& TraceBuilder::Modules(const std::vector<ModuleSpec>& modules,
                                    uint64_t time_ns) {
  trace::Packet p;
  trace::ModuleEpoch* m = p.mutable_modules();
  m->set_epoch(epoch_++);
  m->set_time_ns(time_ns);
  for (const ModuleSpec& spec : modules) {
    trace::Module* mod = m->add_modules();
    mod->set_path(spec.path);
    mod->set_build_id(spec.build_id);
    mod->set_base(spec.base);
    for (const auto& [vaddr, memsz, flags, offset] : spec.segments) {
      trace::Segment* s = mod->add_segments();
      s->set_vaddr(vaddr);
      s->set_memsz(memsz);
      s->set_flags(flags);
      s->set_offset(offset);
    }
  }
  return Packet(p);
}

uint64_t TraceBuilder::Stack(const std::vector<uint64_t>& pcs) {
  trace::Packet p;
  trace::StackNodes* nodes = p.mutable_stacks();
  uint64_t parent = 0;
  uint64_t last_pc = 0;
  for (auto it = pcs.rbegin(); it != pcs.rend(); ++it) {
    auto [slot, inserted] = nodes_.try_emplace({parent, *it}, next_id_);
    if (inserted) {
      if (nodes->parent_distance_size() == 0) nodes->set_first_id(next_id_);
      nodes->add_parent_distance(next_id_ - parent);
      nodes->add_pc_delta(static_cast<int64_t>(*it - last_pc));
      last_pc = *it;
      ++next_id_;
    }
    parent = slot->second;
  }
  if (nodes->parent_distance_size() > 0) Packet(p);
  return parent;
}

TraceBuilder& TraceBuilder::Batch(uint32_t tid, uint64_t sequence,
                                  const std::vector<Event>& events) {
  trace::Packet p;
  *p.mutable_events() = EncodeBatch(tid, sequence, events);
  return Packet(p);
}

TraceBuilder& TraceBuilder::Graph(
    const std::vector<uint64_t>& blocks,
    const std::vector<std::vector<uint64_t>>& edges,
    const std::vector<RootSpec>& roots, size_t blocks_per_packet) {
  size_t i = 0;
  do {
    trace::Packet p;
    trace::HeapGraph* g = p.mutable_graph();
    if (i == 0) {
      g->set_block_count(blocks.size());
      for (const RootSpec& r : roots) {
        trace::RootRegion* root = g->add_roots();
        root->set_kind(r.kind);
        root->set_name(r.name);
        for (uint64_t ref : r.refs) root->add_ref(ref);
      }
    }
    g->set_first_block(i);
    uint64_t a = 0;
    const size_t end = std::min(blocks.size(), i + blocks_per_packet);
    for (; i < end; ++i) {
      g->add_block_address_delta(static_cast<int64_t>(blocks[i] - a));
      a = blocks[i];
      const std::vector<uint64_t> none;
      const std::vector<uint64_t>& e = i < edges.size() ? edges[i] : none;
      g->add_edge_count(static_cast<uint32_t>(e.size()));
      for (uint64_t ref : e) g->add_edge(ref);
    }
    g->set_last(i == blocks.size());
    Packet(p);
  } while (i < blocks.size());
  return *this;
}

TraceBuilder& TraceBuilder::Summary(trace::ExitSummary::Reason reason,
                                    int exit_status, bool heap_graph) {
  trace::Packet p;
  p.mutable_summary()->set_reason(reason);
  p.mutable_summary()->set_exit_status(exit_status);
  p.mutable_summary()->set_heap_graph(heap_graph);
  return Packet(p);
}

TraceBuilder& TraceBuilder::Thread(uint32_t tid, const std::string& name) {
  trace::Packet p;
  p.mutable_thread()->set_tid(tid);
  p.mutable_thread()->set_name(name);
  return Packet(p);
}

TraceBuilder& TraceBuilder::Notice(const std::string& text) {
  trace::Packet p;
  p.mutable_notice()->set_severity(trace::Notice::WARNING);
  p.mutable_notice()->set_text(text);
  return Packet(p);
}

TraceBuilder& TraceBuilder::Packet(const trace::Packet& packet) {
  out_.append(Frame(packet.SerializeAsString()));
  return *this;
}

TraceBuilder& TraceBuilder::Raw(const std::string& bytes) {
  out_.append(bytes);
  return *this;
}

absl::Status TraceBuilder::WriteTo(const std::string& path) const {
  FILE* f = fopen(path.c_str(), "wb");
  if (f == nullptr) {
    return absl::InternalError(absl::StrCat(path, ": cannot create"));
  }
  const bool ok = fwrite(out_.data(), 1, out_.size(), f) == out_.size();
  if (fclose(f) != 0 || !ok) {
    return absl::InternalError(absl::StrCat(path, ": write failed"));
  }
  return absl::OkStatus();
}

}  // namespace testing
}  // namespace heaplens

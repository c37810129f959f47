#include "analyzer/html_data.h"

#include <stdlib.h>
#include <time.h>

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "analyzer/layout/heap_map.h"
#include "analyzer/layout/layout_report.h"
#include "analyzer/trace_reader.h"

namespace heaplens {
namespace {

// Cuts `s` to `max` bytes without splitting a UTF-8 sequence.
absl::string_view Cut(absl::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

class Writer {
 public:
  Writer(std::string* out, const HtmlLimits& limits)
      : w(out), limits_(limits) {}

  void Str(absl::string_view key, absl::string_view value) {
    w.Key(key);
    w.String(Cut(value, limits_.string_chars));
  }
  void Num(absl::string_view key, uint64_t value) {
    w.Key(key);
    w.Uint(value);
  }
  void Frame(const heaplens::Frame& f) {
    w.BeginObject();
    if (!f.function.empty()) Str("function", f.function);
    if (!f.file.empty()) Str("file", f.file);
    if (f.line > 0) Num("line", static_cast<uint64_t>(f.line));
    if (!f.module.empty()) Str("module", f.module);
    if (f.inlined) {
      w.Key("inlined");
      w.Bool(true);
    }
    Num("address", f.address);
    w.EndObject();
  }
  void Stack(const std::vector<heaplens::Frame>& frames) {
    w.BeginArray();
    for (size_t i = 0; i < frames.size() && i < limits_.frames; ++i) {
      Frame(frames[i]);
    }
    w.EndArray();
  }

  JsonWriter w;

 private:
  const HtmlLimits& limits_;
};

std::string Iso8601(time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Now() {
  time_t t = time(nullptr);
  if (const char* e = getenv("SOURCE_DATE_EPOCH"); e && *e) {
    int64_t v;
    if (absl::SimpleAtoi(e, &v)) t = static_cast<time_t>(v);
  }
  return Iso8601(t);
}

void WriteMeta(Writer& o, const HtmlDataInput& in, uint64_t duration_ns,
               const std::vector<std::string>& notes) {
  const Report& r = *in.report;
  const TraceIndex& index = *in.index;
  JsonWriter& w = o.w;
  w.Key("meta");
  w.BeginObject();
  o.Str("program", r.exe);
  w.Key("argv");
  w.BeginArray();
  for (size_t i = 0; i < r.argv.size() && i < 256; ++i) {
    w.String(Cut(r.argv[i], 1024));
  }
  w.EndArray();
  o.Num("pid", r.pid);
  o.Num("ppid", r.ppid);
  if (index.header.start_realtime_ns() != 0) {
    o.Str("start_time",
          Iso8601(static_cast<time_t>(index.header.start_realtime_ns() / 1e9)));
  }
  o.Num("duration_ns", duration_ns);
  std::string reason;
  if (r.exit_reason == "exit" || r.exit_reason == "_exit") {
    reason = absl::StrCat(r.exit_reason == "exit" ? "exited" : "_exit'ed",
                          " with status ", r.exit_status);
  } else if (r.exit_reason == "exec") {
    reason = "replaced by exec";
  } else if (r.exit_reason == "stopped") {
    reason = "tracing stopped";
  } else {
    reason = "killed or crashed (no exit summary)";
  }
  o.Str("exit_reason", reason);
  if (r.exit_reason == "exit" || r.exit_reason == "_exit") {
    w.Key("exit_code");
    w.Int(r.exit_status);
  }
  o.Str("trace_file", r.trace_path);
  o.Num("trace_bytes", index.file_size);
  o.Num("events", r.events);
  absl::flat_hash_set<uint32_t> tids;
  for (const BatchRef& b : index.batches) tids.insert(b.tid);
  o.Num("threads", tids.size());
  if (!index.header.allocator().empty()) {
    o.Str("allocator", index.header.allocator());
  }
  o.Str("heaplens_version", in.heaplens_version);
  o.Str("generated_at", in.generated_at.empty() ? Now() : in.generated_at);
  w.Key("notes");
  w.BeginArray();
  for (size_t i = 0; i < notes.size() && i < 100; ++i) {
    w.String(Cut(notes[i], 1024));
  }
  w.EndArray();
  w.EndObject();
}

void WriteSummary(Writer& o, const Report& r) {
  JsonWriter& w = o.w;
  w.Key("summary");
  w.BeginObject();
  w.Key("has_heap_graph");
  w.Bool(r.has_graph);
  static const LeakKind kKinds[] = {LeakKind::kDefinite, LeakKind::kIndirect,
                                    LeakKind::kPossible, LeakKind::kReachable};
  for (LeakKind k : kKinds) {
    const KindTotals& t = r.totals[static_cast<int>(k)];
    o.Num(absl::StrCat(LeakKindName(k), "_bytes"), t.bytes);
    o.Num(absl::StrCat(LeakKindName(k), "_blocks"), t.blocks);
  }
  o.Num("unfreed_bytes", r.unfreed.bytes);
  o.Num("unfreed_blocks", r.unfreed.blocks);
  o.Num("total_allocated_bytes", r.bytes_allocated);
  o.Num("total_allocations", r.allocations);
  o.Num("total_frees", r.frees);
  o.Num("peak_live_bytes", r.peak_live_bytes);
  o.Num("peak_live_blocks", r.peak_live_blocks);
  o.Num("peak_time_ns", r.peak_time_ns);
  uint64_t problems = 0;
  for (const FreeProblemRecord& p : r.free_problems) problems += p.count;
  o.Num("invalid_frees", problems);
  w.EndObject();
}

bool IsLeak(LeakKind k, bool has_graph) {
  return has_graph ? (k == LeakKind::kDefinite || k == LeakKind::kIndirect ||
                      k == LeakKind::kPossible)
                   : k == LeakKind::kUnfreed;
}

void WriteFindings(Writer& o, const HtmlDataInput& in,
                   const layout::StackFrames& frames) {
  const Report& r = *in.report;
  struct F {
    const char* section;
    const char* severity;
    std::string text;
  };
  std::vector<F> out;
  static const LeakKind kKinds[] = {LeakKind::kDefinite, LeakKind::kIndirect,
                                    LeakKind::kPossible, LeakKind::kUnfreed};
  static const char* const kPhrase[] = {"definitely lost", "indirectly lost",
                                        "possibly lost",
                                        "still allocated at the end"};
  for (int i = 0; i < 4; ++i) {
    const LeakKind k = kKinds[i];
    if (!IsLeak(k, r.has_graph)) continue;
    const KindTotals& t =
        k == LeakKind::kUnfreed ? r.unfreed : r.totals[static_cast<int>(k)];
    if (t.blocks == 0) continue;
    std::string text =
        absl::StrCat(HumanBytes(t.bytes), " in ", t.blocks,
                     t.blocks == 1 ? " block " : " blocks ", kPhrase[i]);
    for (const LeakRecord& l : r.leaks) {  // biggest first
      if (l.kind != k) continue;
      absl::StrAppend(&text, "; the largest site: ", HumanBytes(l.bytes),
                      " in ", l.blocks, l.blocks == 1 ? " block" : " blocks",
                      " allocated in ", layout::SiteText(l.stack));
      break;
    }
    out.push_back({"leaks",
                   k == LeakKind::kDefinite   ? "error"
                   : k == LeakKind::kIndirect ? "error"
                   : k == LeakKind::kUnfreed  ? "warning"
                                              : "warning",
                   std::move(text)});
  }
  if (r.has_graph && r.totals[0].blocks == 0 && r.totals[1].blocks == 0 &&
      r.totals[2].blocks == 0) {
    out.push_back({"leaks", "info",
                   "No leaks: every block still allocated at "
                   "exit is reachable."});
  }
  if (!r.has_graph) {
    out.push_back({"general", "warning",
                   "The process did not exit normally (no heap graph): leak "
                   "kinds are unknown, every live block is shown as unfreed."});
  }
  uint64_t problems = 0;
  for (const FreeProblemRecord& p : r.free_problems) problems += p.count;
  if (problems > 0) {
    out.push_back(
        {"general", "error",
         absl::StrCat(problems,
                      " invalid, double or mismatched frees (see the text "
                      "report for their stacks).")});
  }
  if (in.layout != nullptr) {
    for (layout::LayoutFinding& f :
         layout::LayoutFindingsBySection(*in.layout, frames)) {
      out.push_back({f.section, f.severity, std::move(f.text)});
    }
  }
  // Errors first, then warnings, then the rest; the analyses' order within.
  auto rank = [](const F& f) {
    const std::string sev = f.severity;
    return sev == "error" ? 0 : sev == "warning" ? 1 : 2;
  };
  std::stable_sort(out.begin(), out.end(),
                   [&](const F& a, const F& b) { return rank(a) < rank(b); });
  JsonWriter& w = o.w;
  w.Key("findings");
  w.BeginArray();
  for (size_t i = 0; i < out.size() && i < in.limits.findings; ++i) {
    w.BeginObject();
    o.Str("section", out[i].section);
    o.Str("severity", out[i].severity);
    o.Str("text", out[i].text);
    w.EndObject();
  }
  w.EndArray();
}

void WriteStats(Writer& o, const layout::HeapStats& s) {
  JsonWriter& w = o.w;
  w.BeginObject();
  o.Num("time_ns", s.time_ns);
  o.Num("extent_bytes", s.extent_bytes);
  o.Num("brk_extent_bytes", s.brk_extent_bytes);
  o.Num("mmap_extent_bytes", s.mmap_extent_bytes);
  o.Num("resident_bytes", s.resident_bytes);
  o.Num("live_bytes", s.live_requested_bytes);
  o.Num("live_usable_bytes", s.live_bytes);
  o.Num("live_chunks", s.live_chunks);
  o.Num("free_bytes", s.free_bytes);
  o.Num("largest_free_run", s.largest_free_run);
  o.Num("free_runs", s.free_runs);
  w.Key("fragmentation");
  w.Double(s.fragmentation);
  w.EndObject();
}

void WriteFragmentation(Writer& o, const layout::FragmentationReport& f,
                        const HtmlLimits& limits) {
  JsonWriter& w = o.w;
  w.Key("fragmentation");
  w.BeginObject();
  w.Key("peak");
  WriteStats(o, f.peak);
  w.Key("end");
  WriteStats(o, f.end);
  w.Key("timeline");
  w.BeginArray();
  const size_t n = f.timeline.size();
  const size_t keep = std::min(n, limits.timeline);
  for (size_t i = 0; i < keep; ++i) {
    WriteStats(o, f.timeline[keep == n ? i : (i + 1) * n / keep - 1]);
  }
  w.EndArray();
  w.EndObject();
}

void WritePinningSnapshot(Writer& o, const layout::PinningSnapshot& p,
                          const layout::StackFrames& frames,
                          const HtmlLimits& limits) {
  JsonWriter& w = o.w;
  o.Num("time_ns", p.time_ns);
  o.Num("brk_top", p.brk_top);
  o.Num("pinned_bytes", p.pinned_bytes);
  o.Num("resident_pinned_bytes", p.resident_pinned_bytes);
  o.Num("top_free_bytes", p.top_free_bytes);
  w.Key("pinners");
  w.BeginArray();
  for (size_t i = 0; i < p.pinners.size() && i < limits.pinners; ++i) {
    const layout::Pinner& q = p.pinners[i];
    w.BeginObject();
    o.Num("address", q.address);
    o.Num("size", q.size);
    o.Num("usable_size", q.usable);
    o.Num("bytes_pinned", q.bytes_pinned);
    o.Num("resident_pinned", q.resident_pinned);
    o.Num("cumulative_drop", q.cumulative_releasable);
    o.Num("chunks_above", q.chunks_above);
    o.Num("time_ns", q.alloc_time_ns);
    o.Num("tid", q.tid);
    w.Key("stack");
    o.Stack(frames(q.stack));
    w.EndObject();
  }
  w.EndArray();
}

void WritePinning(Writer& o, const layout::PinningReport& p,
                  const TraceIndex& index, const layout::StackFrames& frames,
                  const HtmlLimits& limits) {
  JsonWriter& w = o.w;
  w.Key("pinning");
  w.BeginObject();
  WritePinningSnapshot(o, p.end, frames, limits);
  if (p.worst.valid && p.worst.pinned_bytes > p.end.pinned_bytes) {
    w.Key("worst");
    w.BeginObject();
    WritePinningSnapshot(o, p.worst, frames, limits);
    w.EndObject();
  }
  w.Key("retention");
  w.BeginArray();
  for (size_t i = 0; i < p.retention.by_thread.size() && i < 100; ++i) {
    const auto& [tid, bytes] = p.retention.by_thread[i];
    w.BeginObject();
    o.Num("tid", tid);
    for (const trace::ThreadInfo& t : index.threads) {
      if (t.tid() == tid && !t.name().empty()) {
        o.Str("thread", t.name());
        break;
      }
    }
    o.Num("bytes", bytes);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

// The top-level `stacks` table: stack id -> index, first use first.
class StackTableWriter {
 public:
  explicit StackTableWriter(size_t max) : max_(max) {}
  // -1 when the table is full.
  int64_t IndexOf(uint64_t stack) {
    auto it = index_.find(stack);
    if (it != index_.end()) return it->second;
    if (ids_.size() >= max_) {
      ++omitted_;
      return -1;
    }
    index_.emplace(stack, ids_.size());
    ids_.push_back(stack);
    return ids_.size() - 1;
  }
  const std::vector<uint64_t>& ids() const { return ids_; }
  uint64_t omitted() const { return omitted_; }

 private:
  size_t max_;
  absl::flat_hash_map<uint64_t, int64_t> index_;
  std::vector<uint64_t> ids_;
  uint64_t omitted_ = 0;
};

void WriteHeapMapSnapshot(Writer& o, const layout::HeapMapSnapshot& s,
                          StackTableWriter& stacks) {
  JsonWriter& w = o.w;
  w.BeginObject();
  o.Num("time_ns", s.time_ns);
  w.Key("truncated");
  w.Bool(s.truncated);
  if (s.truncated) o.Num("bucket_bytes", s.bucket_bytes);
  if (s.regions_omitted > 0) {
    o.Num("regions_omitted", s.regions_omitted);
    o.Num("regions_omitted_bytes", s.regions_omitted_bytes);
  }
  w.Key("regions");
  w.BeginArray();
  for (const layout::MapRegion& r : s.regions) {
    w.BeginObject();
    o.Str("kind", r.brk ? "brk" : "mmap");
    o.Num("start", r.start);
    o.Num("size", r.size);
    w.EndObject();
  }
  w.EndArray();
  w.Key("cells");
  w.BeginArray();
  for (const layout::MapCell& c : s.cells) {
    w.BeginObject();
    o.Num("region", c.region);
    o.Num("offset", c.offset);
    o.Num("size", c.size);
    o.Str("state", layout::CellStateName(c.state));
    if (c.chunks > 0) o.Num("chunks", c.chunks);
    if (c.state == layout::CellState::kMixed) {
      o.Num("live_bytes", c.live_bytes);
      o.Num("free_bytes", c.free_bytes);
      o.Num("released_bytes", c.released_bytes);
    }
    if (c.has_chunk) {
      const int64_t idx = stacks.IndexOf(c.stack);
      if (idx >= 0) o.Num("stack", idx);
      if (c.one_chunk) {
        o.Num("address", c.address);
        o.Num("requested", c.requested);
        o.Num("time_ns", c.time_ns);
      }
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

void WriteLeaks(Writer& o, const Report& r, const HtmlLimits& limits) {
  JsonWriter& w = o.w;
  w.Key("leaks");
  w.BeginArray();
  uint64_t rows = 0, bytes = 0, blocks = 0;
  size_t n = 0;
  for (const LeakRecord& l : r.leaks) {
    if (n >= limits.leaks) {
      ++rows;
      bytes += l.bytes;
      blocks += l.blocks;
      continue;
    }
    ++n;
    w.BeginObject();
    o.Str("kind", LeakKindName(l.kind));
    o.Num("bytes", l.bytes);
    o.Num("blocks", l.blocks);
    w.Key("stack");
    o.Stack(l.stack);
    w.EndObject();
  }
  w.EndArray();
  if (rows > 0) {
    w.Key("leaks_omitted");
    w.BeginObject();
    o.Num("rows", rows);
    o.Num("bytes", bytes);
    o.Num("blocks", blocks);
    w.EndObject();
  }
}

// One stack's weight for a flame graph.
struct FlameStack {
  const std::vector<Frame>* frames;  // innermost first
  uint64_t bytes = 0;
  uint64_t blocks = 0;
};

struct FlameNode {
  const Frame* frame = nullptr;  // null for the root
  uint64_t bytes = 0;
  uint64_t blocks = 0;
  uint32_t depth = 0;
  std::vector<uint32_t> children;
};

bool Unknown(const Frame& f) {
  return f.function.empty() || f.function == "??";
}

std::string FrameKey(const Frame& f) {
  if (Unknown(f)) return absl::StrCat("?", f.module, "\x01", f.address);
  return absl::StrCat(f.function, "\x01", f.module, "\x01",
                      f.inlined ? "i" : "");
}

void WriteFlameNode(Writer& o, const std::vector<FlameNode>& nodes,
                    const std::vector<bool>& keep, uint32_t i) {
  JsonWriter& w = o.w;
  const FlameNode& n = nodes[i];
  w.BeginObject();
  if (n.frame == nullptr) {
    o.Str("function", "all");
  } else {
    const Frame& f = *n.frame;
    if (!f.function.empty()) o.Str("function", f.function);
    if (!f.file.empty()) o.Str("file", f.file);
    if (f.line > 0) o.Num("line", static_cast<uint64_t>(f.line));
    if (!f.module.empty()) o.Str("module", f.module);
    if (f.inlined) {
      w.Key("inlined");
      w.Bool(true);
    }
    if (Unknown(f)) o.Num("address", f.address);
  }
  o.Num("bytes", n.bytes);
  o.Num("blocks", n.blocks);
  std::vector<uint32_t> kids;
  for (uint32_t c : n.children) {
    if (keep[c]) kids.push_back(c);
  }
  if (!kids.empty()) {
    std::sort(kids.begin(), kids.end(), [&](uint32_t a, uint32_t b) {
      return std::make_pair(nodes[b].bytes, a) <
             std::make_pair(nodes[a].bytes, b);
    });
    w.Key("children");
    w.BeginArray();
    for (uint32_t c : kids) WriteFlameNode(o, nodes, keep, c);
    w.EndArray();
  }
  w.EndObject();
}

void WriteFlame(Writer& o, const std::vector<FlameStack>& stacks,
                uint64_t extra_bytes, uint64_t extra_blocks,
                const HtmlLimits& limits) {
  std::vector<FlameNode> nodes(1);
  absl::flat_hash_map<std::pair<uint32_t, std::string>, uint32_t> child;
  nodes[0].bytes = extra_bytes;
  nodes[0].blocks = extra_blocks;
  for (const FlameStack& s : stacks) {
    nodes[0].bytes += s.bytes;
    nodes[0].blocks += s.blocks;
    const std::vector<Frame>& frames = *s.frames;
    const size_t depth = std::min(frames.size(), limits.frames);
    uint32_t at = 0;
    for (size_t k = depth; k-- > 0;) {  // outermost kept frame first
      const Frame& f = frames[k];
      auto [it, inserted] =
          child.try_emplace(std::make_pair(at, FrameKey(f)), nodes.size());
      if (inserted) {
        FlameNode n;
        n.frame = &f;
        n.depth = nodes[at].depth + 1;
        nodes.push_back(std::move(n));
        nodes[at].children.push_back(it->second);
      }
      at = it->second;
      nodes[at].bytes += s.bytes;
      nodes[at].blocks += s.blocks;
    }
  }
  // Keep the biggest nodes; a parent is never smaller than its child and
  // sorts first on ties (smaller depth), so the kept set is a tree.
  std::vector<bool> keep(nodes.size(), true);
  if (nodes.size() > limits.flame_nodes) {
    std::vector<uint32_t> order(nodes.size());
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      return std::make_tuple(nodes[b].bytes, nodes[a].depth, a) <
             std::make_tuple(nodes[a].bytes, nodes[b].depth, b);
    });
    std::fill(keep.begin(), keep.end(), false);
    for (size_t i = 0; i < limits.flame_nodes && i < order.size(); ++i) {
      keep[order[i]] = true;
    }
    keep[0] = true;
  }
  WriteFlameNode(o, nodes, keep, 0);
}

}  // namespace

std::string BuildHtmlData(const HtmlDataInput& in, Symbolizer& symbolizer) {
  const Report& r = *in.report;
  const HtmlLimits& limits = in.limits;
  const layout::StackFrames frames =
      [&](uint64_t id) -> const std::vector<Frame>& {
    return symbolizer.Symbolize(id);
  };
  std::vector<std::string> notes = r.notes;
  if (in.layout != nullptr) {
    for (const auto* s :
         {&in.layout->heap_map_peak, &in.layout->heap_map_end}) {
      const char* when = s == &in.layout->heap_map_peak ? "peak" : "end";
      if (s->truncated) {
        notes.push_back(absl::StrCat(
            "The heap map at the ", when, " aggregates the address space into ",
            s->cells.size(), " cells of about ", HumanBytes(s->bucket_bytes),
            " each (pinning chunks kept)."));
      }
      if (s->regions_omitted > 0) {
        notes.push_back(
            absl::StrCat("The heap map at the ", when, " leaves out the ",
                         s->regions_omitted, " smallest mmap'd regions (",
                         HumanBytes(s->regions_omitted_bytes), ")."));
      }
    }
  }
  if (r.leaks.size() > limits.leaks) {
    notes.push_back(absl::StrCat("The leak table lists the ", limits.leaks,
                                 " largest of ", r.leaks.size(), " rows."));
  }
  uint64_t duration_ns = 0;
  for (const BatchRef& b : in.index->batches) {
    duration_ns = std::max(duration_ns, b.end_ns);
  }

  // The allocated-bytes stacks, biggest first, symbolized up to the limit.
  std::vector<std::pair<uint64_t, StackTotal>> allocated;
  uint64_t alloc_extra_bytes = 0, alloc_extra_blocks = 0;
  if (in.allocated != nullptr) {
    allocated.assign(in.allocated->totals().begin(),
                     in.allocated->totals().end());
    std::sort(allocated.begin(), allocated.end(),
              [](const auto& a, const auto& b) {
                return std::make_pair(b.second.bytes, a.first) <
                       std::make_pair(a.second.bytes, b.first);
              });
    if (allocated.size() > limits.flame_stacks) {
      for (size_t i = limits.flame_stacks; i < allocated.size(); ++i) {
        alloc_extra_bytes += allocated[i].second.bytes;
        alloc_extra_blocks += allocated[i].second.objects;
      }
      notes.push_back(absl::StrCat(
          "The flame graph of allocated bytes shows the ", limits.flame_stacks,
          " largest of ", allocated.size(), " allocation stacks; the rest (",
          HumanBytes(alloc_extra_bytes), ") is in its root."));
      allocated.resize(limits.flame_stacks);
    }
  }

  std::string out;
  Writer o(&out, limits);
  JsonWriter& w = o.w;
  w.BeginObject();
  o.Str("format", "heaplens-html");
  o.Num("version", 1);
  WriteMeta(o, in, duration_ns, notes);
  WriteSummary(o, r);
  WriteFindings(o, in, frames);

  StackTableWriter stacks(limits.stacks);
  if (in.layout != nullptr) {
    WriteFragmentation(o, in.layout->fragmentation, limits);
    WritePinning(o, in.layout->pinning, *in.index, frames, limits);
    if (in.layout->heap_map_end.valid) {
      w.Key("heap_map");
      w.BeginObject();
      if (in.layout->heap_map_peak.valid) {
        w.Key("peak");
        WriteHeapMapSnapshot(o, in.layout->heap_map_peak, stacks);
      }
      w.Key("end");
      WriteHeapMapSnapshot(o, in.layout->heap_map_end, stacks);
      w.EndObject();
    }
  }
  WriteLeaks(o, r, limits);

  w.Key("flame");
  w.BeginObject();
  {
    std::vector<FlameStack> leaked;
    for (const LeakRecord& l : r.leaks) {
      if (IsLeak(l.kind, r.has_graph)) {
        leaked.push_back({&l.stack, l.bytes, l.blocks});
      }
    }
    w.Key("leaked");
    WriteFlame(o, leaked, 0, 0, limits);
  }
  if (in.allocated != nullptr) {
    // Copies: the flame tree points into them while the symbolizer runs.
    std::vector<std::vector<Frame>> symbolized;
    symbolized.reserve(allocated.size());
    for (const auto& [id, t] : allocated) {
      symbolized.push_back(symbolizer.Symbolize(id));
    }
    std::vector<FlameStack> all;
    for (size_t i = 0; i < allocated.size(); ++i) {
      all.push_back({&symbolized[i], allocated[i].second.bytes,
                     allocated[i].second.objects});
    }
    w.Key("allocated");
    WriteFlame(o, all, alloc_extra_bytes, alloc_extra_blocks, limits);
  }
  w.EndObject();

  w.Key("stacks");
  w.BeginArray();
  for (uint64_t id : stacks.ids()) o.Stack(symbolizer.Symbolize(id));
  w.EndArray();
  w.EndObject();
  return out;
}

}  // namespace heaplens

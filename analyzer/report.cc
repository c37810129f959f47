#include "analyzer/report.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "analyzer/frame_json.h"
#include "analyzer/json_writer.h"
#include "analyzer/layout/layout_report.h"

namespace heaplens {
namespace {

std::string Basename(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string StackText(const std::vector<Frame>& stack) {
  std::string out;
  for (const Frame& f : stack) {
    absl::StrAppend(&out, f.function, "|", f.file, ":", f.line, "|", f.module,
                    f.inlined ? "|i" : "", "\n");
  }
  return out;
}

const char* ExitReasonName(const TraceIndex& index) {
  if (!index.summary) return "unknown";
  switch (index.summary->reason()) {
    case trace::ExitSummary::EXIT:
      return "exit";
    case trace::ExitSummary::UNDERSCORE_EXIT:
      return "_exit";
    case trace::ExitSummary::EXEC:
      return "exec";
    case trace::ExitSummary::TRACE_STOPPED:
      return "stopped";
    default:
      return "unknown";
  }
}

const char* KindPhrase(LeakKind kind) {
  switch (kind) {
    case LeakKind::kDefinite:
      return "definitely lost";
    case LeakKind::kIndirect:
      return "indirectly lost";
    case LeakKind::kPossible:
      return "possibly lost";
    case LeakKind::kReachable:
      return "still reachable";
    case LeakKind::kUnfreed:
      return "unfreed";
  }
  return "?";
}

const char* ProblemTitle(FreeProblemType type) {
  switch (type) {
    case FreeProblemType::kDoubleFree:
      return "Double free";
    case FreeProblemType::kInteriorFree:
      return "Invalid free of an interior pointer";
    case FreeProblemType::kInvalidFree:
      return "Invalid free of an address never allocated";
    case FreeProblemType::kUnknownFree:
      return "Free of an address not live in the trace";
    case FreeProblemType::kMismatchedFree:
      return "Mismatched free";
  }
  return "?";
}

bool Visible(LeakKind kind, const ReportOptions& options) {
  return kind != LeakKind::kReachable || options.show_reachable;
}

}  // namespace

std::string FrameText(const Frame& f) {
  std::string out = f.function;
  if (!f.file.empty()) {
    absl::StrAppend(&out, " (", Basename(f.file));
    if (f.line > 0) absl::StrAppend(&out, ":", f.line);
    out.push_back(')');
  }
  if (!f.module.empty()) absl::StrAppend(&out, " [", f.module, "]");
  if (f.inlined) out.append(" (inlined)");
  return out;
}

const std::vector<Frame>& LayoutStack(const Report& report, uint64_t stack) {
  static const std::vector<Frame>* const kEmpty = new std::vector<Frame>();
  auto it = report.layout_stacks.find(stack);
  return it == report.layout_stacks.end() ? *kEmpty : it->second;
}

Report BuildReport(const Analysis& a, Symbolizer& symbolizer,
                   const layout::LayoutReport* layout, KindMask symbolize) {
  Report r;
  const TraceIndex& index = a.index;
  r.trace_path = index.path;
  r.pid = index.header.pid();
  r.ppid = index.header.ppid();
  r.exe = index.header.exe();
  r.argv.assign(index.header.argv().begin(), index.header.argv().end());
  r.exit_reason = ExitReasonName(index);
  r.exit_status = index.summary ? index.summary->exit_status() : 0;
  r.has_graph = a.leaks.has_graph;
  for (int k = 0; k < kLeakKinds; ++k) r.totals[k] = a.leaks.totals[k];
  for (int h = 0; h < kLeakHeuristics; ++h) {
    r.via_heuristic[h] = a.leaks.via_heuristic[h];
  }
  r.unfreed = a.leaks.unfreed;
  r.allocations = a.tracker.allocations();
  r.frees = a.tracker.frees();
  r.bytes_allocated = a.tracker.bytes_allocated();
  r.failed_allocations = a.tracker.failed_allocations();
  r.peak_live_bytes = a.tracker.peak_live_bytes();
  r.peak_live_blocks = a.tracker.peak_live_blocks();
  r.peak_time_ns = a.tracker.peak_time_ns();
  r.events = a.stats.events;

  for (const LeakGroup& g : a.leaks.groups) {
    LeakRecord rec;
    rec.kind = g.kind;
    rec.bytes = g.bytes;
    rec.blocks = g.blocks;
    rec.stack_id = g.stack;
    if (symbolize & KindBit(g.kind)) {
      rec.stack = symbolizer.Symbolize(g.stack);
      rec.stack_text = StackText(rec.stack);
    }
    r.leaks.push_back(std::move(rec));
  }
  std::sort(
      r.leaks.begin(), r.leaks.end(),
      [](const LeakRecord& x, const LeakRecord& y) {
        return std::make_tuple(y.bytes, y.blocks, static_cast<int>(x.kind),
                               std::cref(x.stack_text), x.stack_id) <
               std::make_tuple(x.bytes, x.blocks, static_cast<int>(y.kind),
                               std::cref(y.stack_text), y.stack_id);
      });

  // Free problems, grouped by what happened and where.
  std::map<std::tuple<int, uint32_t, uint32_t, uint64_t, uint64_t>, size_t>
      group_of;
  for (const FreeProblem& p : a.tracker.problems()) {
    auto key = std::make_tuple(static_cast<int>(p.type), p.free_kind,
                               p.alloc_kind, p.free_stack, p.alloc_stack);
    auto [it, inserted] = group_of.try_emplace(key, r.free_problems.size());
    if (!inserted) {
      ++r.free_problems[it->second].count;
      continue;
    }
    FreeProblemRecord rec;
    rec.type = p.type;
    rec.count = 1;
    rec.free_kind = p.free_kind;
    rec.alloc_kind = p.alloc_kind;
    rec.address = p.address;
    rec.block_address = p.block_address;
    rec.block_size = p.block_size;
    rec.tid = p.tid;
    rec.time_ns = p.time_ns;
    if (p.free_stack != 0) rec.free_stack = symbolizer.Symbolize(p.free_stack);
    if (p.alloc_stack != 0) {
      rec.alloc_stack = symbolizer.Symbolize(p.alloc_stack);
    }
    r.free_problems.push_back(std::move(rec));
  }
  // Already in time order of first occurrence (replay order).

  r.notes = index.notes;
  for (const std::string& n : a.stats.notes) r.notes.push_back(n);
  for (const std::string& n : a.tracker.notes()) r.notes.push_back(n);
  for (const std::string& n : a.leaks.notes) r.notes.push_back(n);
  for (const trace::Notice& n : index.notices) {
    r.notes.push_back(absl::StrCat("trace notice: ", n.text()));
  }
  if (layout != nullptr) {
    r.layout = *layout;
    auto add = [&](uint64_t stack) {
      if (!r.layout_stacks.count(stack)) {
        r.layout_stacks.emplace(stack, symbolizer.Symbolize(stack));
      }
    };
    for (const layout::Pinner& p : layout->pinning.end.pinners) add(p.stack);
    for (const layout::Pinner& p : layout->pinning.worst.pinners) add(p.stack);
    for (const layout::SeparatorSite& s : layout->fragmentation.separators) {
      add(s.stack);
    }
  }
  // Symbolizer notes last: symbolizing the layout's stacks may add some.
  for (const std::string& n : symbolizer.notes()) r.notes.push_back(n);
  return r;
}

std::string RenderText(const Report& r, const ReportOptions& options) {
  const std::string pfx = absl::StrCat("==", r.pid, "== ");
  std::string out;
  auto line = [&](absl::string_view s) { absl::StrAppend(&out, pfx, s, "\n"); };
  // ANSI colours (ReportOptions::color): bold headings, red for lost
  // memory and bad frees, yellow for possible leaks and layout findings.
  auto paint = [&](const char* sgr, absl::string_view s) -> std::string {
    if (!options.color) return std::string(s);
    return absl::StrCat("\033[", sgr, "m", s, "\033[0m");
  };
  constexpr const char* kBold = "1";
  constexpr const char* kRed = "1;31";
  constexpr const char* kYellow = "33";
  auto stack = [&](const std::vector<Frame>& frames, absl::string_view first) {
    if (frames.empty()) {
      line("   (no stack recorded)");
      return;
    }
    for (size_t i = 0; i < frames.size(); ++i) {
      line(absl::StrFormat("   %s 0x%x: %s", i == 0 ? first : "by",
                           frames[i].address, FrameText(frames[i])));
    }
  };

  line(absl::StrCat("heaplens report of ", r.trace_path));
  line(absl::StrCat("Command: ",
                    r.argv.empty() ? r.exe : absl::StrJoin(r.argv, " ")));
  line(absl::StrCat("Exit: ", r.exit_reason,
                    r.exit_reason == "exit" || r.exit_reason == "_exit"
                        ? absl::StrCat(" (status ", r.exit_status, ")")
                        : ""));
  line("");

  for (const FreeProblemRecord& p : r.free_problems) {
    line(absl::StrCat(
        paint(kRed, ProblemTitle(p.type)), ": ", ApiName(p.free_kind),
        p.type == FreeProblemType::kMismatchedFree
            ? absl::StrCat(" of a block from ", ApiName(p.alloc_kind))
            : "",
        absl::StrFormat(" of 0x%x", p.address),
        p.count > 1 ? absl::StrCat(" (", p.count, " times)") : ""));
    if (!p.free_stack.empty()) {
      stack(p.free_stack, "at");
    } else {
      line("   (the freeing call's stack is not recorded for this event)");
    }
    if (!p.alloc_stack.empty() || p.block_size != 0) {
      const char* what =
          p.type == FreeProblemType::kDoubleFree ? "already freed" : "alloc'd";
      line(absl::StrFormat(
          " Address 0x%x is %d bytes inside a block of size %d %s; the block "
          "was alloc'd at",
          p.address, p.address - p.block_address, p.block_size, what));
      stack(p.alloc_stack, "at");
    }
    line("");
  }

  line(paint(kBold, "HEAP SUMMARY:"));
  line(absl::StrCat("    in use at exit: ", r.unfreed.bytes, " bytes in ",
                    r.unfreed.blocks, " blocks"));
  line(absl::StrCat("  total heap usage: ", r.allocations, " allocs, ", r.frees,
                    " frees, ", r.bytes_allocated, " bytes allocated"));
  line(absl::StrCat("              peak: ", r.peak_live_bytes, " bytes in ",
                    r.peak_live_blocks, " blocks"));
  line("");

  size_t visible = 0;
  for (const LeakRecord& l : r.leaks) visible += Visible(l.kind, options);
  size_t n = 0;
  for (const LeakRecord& l : r.leaks) {
    if (!Visible(l.kind, options)) continue;
    ++n;
    const char* colour = l.kind == LeakKind::kDefinite ||
                                 l.kind == LeakKind::kIndirect ||
                                 l.kind == LeakKind::kUnfreed
                             ? kRed
                         : l.kind == LeakKind::kPossible ? kYellow
                                                         : kBold;
    line(paint(colour, absl::StrCat(l.bytes, " bytes in ", l.blocks,
                                    " blocks are ", KindPhrase(l.kind),
                                    " in loss record ", n, " of ", visible)));
    stack(l.stack, "at");
    line("");
  }

  line(paint(kBold, "LEAK SUMMARY:"));
  if (r.has_graph) {
    static const LeakKind kKinds[] = {LeakKind::kDefinite, LeakKind::kIndirect,
                                      LeakKind::kPossible,
                                      LeakKind::kReachable};
    static const char* const kLabels[] = {
        "   definitely lost: ", "   indirectly lost: ", "     possibly lost: ",
        "   still reachable: "};
    for (int i = 0; i < 4; ++i) {
      const KindTotals& t = r.totals[static_cast<int>(kKinds[i])];
      const std::string text =
          absl::StrCat(kLabels[i], t.bytes, " bytes in ", t.blocks, " blocks");
      line(t.blocks > 0 && i < 2    ? paint(kRed, text)
           : t.blocks > 0 && i == 2 ? paint(kYellow, text)
                                    : text);
    }
    bool heading = false;
    for (int h = 1; h < kLeakHeuristics; ++h) {
      const KindTotals& t = r.via_heuristic[h];
      if (t.blocks == 0) continue;
      if (!heading)
        line("                      of which reachable via heuristic:");
      heading = true;
      line(absl::StrCat(
          "                        ",
          absl::StrFormat("%-19s",
                          LeakHeuristicName(static_cast<LeakHeuristic>(h))),
          ": ", t.bytes, " bytes in ", t.blocks, " blocks"));
    }
    const KindTotals& u = r.totals[static_cast<int>(LeakKind::kUnfreed)];
    if (u.blocks > 0) {
      line(absl::StrCat("   not in the graph: ", u.bytes, " bytes in ",
                        u.blocks, " blocks"));
    }
    if (!options.show_reachable &&
        r.totals[static_cast<int>(LeakKind::kReachable)].blocks > 0) {
      line("Reachable blocks are not shown; use --show=reachable to see them.");
    }
  } else {
    line(absl::StrCat("           unfreed: ", r.unfreed.bytes, " bytes in ",
                      r.unfreed.blocks, " blocks"));
    line(
        "(no heap graph: the process did not exit normally, so leak kinds "
        "are unknown)");
  }
  if (!r.free_problems.empty()) {
    uint64_t total = 0;
    for (const FreeProblemRecord& p : r.free_problems) total += p.count;
    line(absl::StrCat("FREE ERRORS: ", total, " (see above)"));
  }
  if (r.layout) {
    const layout::StackFrames frames =
        [&r](uint64_t id) -> const std::vector<Frame>& {
      return LayoutStack(r, id);
    };
    line("");
    line(paint(kBold, "HEAP LAYOUT:"));
    for (const std::string& f : layout::LayoutFindings(*r.layout, frames)) {
      line(absl::StrCat("  ", paint(kYellow, f)));
    }
    line("");
    for (absl::string_view l :
         absl::StrSplit(layout::RenderLayoutText(*r.layout, frames), '\n',
                        absl::SkipEmpty())) {
      line(l);
    }
  }
  if (!r.notes.empty()) {
    line("");
    line(paint(kBold, "NOTES:"));
    for (const std::string& note : r.notes) line(absl::StrCat("  ", note));
  }
  return out;
}

namespace {}  // namespace

std::string RenderJson(const Report& r, const ReportOptions& options) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("schema_version");
  w.Uint(1);
  w.Key("trace");
  w.BeginObject();
  w.Key("path");
  w.String(r.trace_path);
  w.Key("pid");
  w.Uint(r.pid);
  w.Key("ppid");
  w.Uint(r.ppid);
  w.Key("exe");
  w.String(r.exe);
  w.Key("argv");
  w.BeginArray();
  for (const std::string& a : r.argv) w.String(a);
  w.EndArray();
  w.EndObject();

  w.Key("summary");
  w.BeginObject();
  static const LeakKind kKinds[] = {LeakKind::kDefinite, LeakKind::kIndirect,
                                    LeakKind::kPossible, LeakKind::kReachable};
  for (LeakKind k : kKinds) {
    const KindTotals& t = r.totals[static_cast<int>(k)];
    w.Key(absl::StrCat(LeakKindName(k), "_bytes"));
    w.Uint(t.bytes);
    w.Key(absl::StrCat(LeakKindName(k), "_blocks"));
    w.Uint(t.blocks);
  }
  w.Key("unfreed_bytes");
  w.Uint(r.unfreed.bytes);
  w.Key("unfreed_blocks");
  w.Uint(r.unfreed.blocks);
  // Part of reachable_*: blocks reached only through an interior pointer
  // that one of memcheck's leak-check heuristics accepts.
  w.Key("reachable_via_heuristic");
  w.BeginObject();
  for (int h = 1; h < kLeakHeuristics; ++h) {
    const KindTotals& t = r.via_heuristic[h];
    const char* name = LeakHeuristicName(static_cast<LeakHeuristic>(h));
    w.Key(absl::StrCat(name, "_bytes"));
    w.Uint(t.bytes);
    w.Key(absl::StrCat(name, "_blocks"));
    w.Uint(t.blocks);
  }
  w.EndObject();
  w.Key("has_heap_graph");
  w.Bool(r.has_graph);
  w.Key("total_allocations");
  w.Uint(r.allocations);
  w.Key("total_frees");
  w.Uint(r.frees);
  w.Key("total_bytes_allocated");
  w.Uint(r.bytes_allocated);
  w.Key("failed_allocations");
  w.Uint(r.failed_allocations);
  w.Key("peak_live_bytes");
  w.Uint(r.peak_live_bytes);
  w.Key("peak_live_blocks");
  w.Uint(r.peak_live_blocks);
  w.Key("peak_time_ns");
  w.Uint(r.peak_time_ns);
  w.Key("events");
  w.Uint(r.events);
  w.Key("exit_reason");
  w.String(r.exit_reason);
  w.Key("exit_status");
  w.Int(r.exit_status);
  uint64_t problems = 0;
  for (const FreeProblemRecord& p : r.free_problems) problems += p.count;
  w.Key("invalid_free_count");
  w.Uint(problems);
  w.Key("notes");
  w.BeginArray();
  for (const std::string& n : r.notes) w.String(n);
  w.EndArray();
  w.EndObject();

  w.Key("leaks");
  w.BeginArray();
  for (const LeakRecord& l : r.leaks) {
    if (!Visible(l.kind, options)) continue;
    w.BeginObject();
    w.Key("kind");
    w.String(LeakKindName(l.kind));
    w.Key("bytes");
    w.Uint(l.bytes);
    w.Key("blocks");
    w.Uint(l.blocks);
    w.Key("stack");
    WriteStackJson(w, l.stack);
    w.EndObject();
  }
  w.EndArray();

  w.Key("invalid_frees");
  w.BeginArray();
  for (const FreeProblemRecord& p : r.free_problems) {
    w.BeginObject();
    w.Key("kind");
    w.String(FreeProblemName(p.type));
    w.Key("count");
    w.Uint(p.count);
    w.Key("free_api");
    w.String(ApiName(p.free_kind));
    w.Key("alloc_api");
    w.String(p.alloc_kind != 0 ? ApiName(p.alloc_kind) : "");
    w.Key("address");
    w.String(absl::StrFormat("0x%x", p.address));
    w.Key("block_address");
    w.String(absl::StrFormat("0x%x", p.block_address));
    w.Key("block_size");
    w.Uint(p.block_size);
    w.Key("tid");
    w.Uint(p.tid);
    w.Key("time_ns");
    w.Uint(p.time_ns);
    w.Key("stack");
    WriteStackJson(w, p.free_stack);
    w.Key("alloc_stack");
    WriteStackJson(w, p.alloc_stack);
    w.EndObject();
  }
  w.EndArray();
  if (r.layout) {
    const layout::StackFrames frames =
        [&r](uint64_t id) -> const std::vector<Frame>& {
      return LayoutStack(r, id);
    };
    layout::WriteLayoutJson(*r.layout, frames, w);
  }
  w.EndObject();
  return out;
}

}  // namespace heaplens

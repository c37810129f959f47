// report.h: the leak report of one trace, as text (Valgrind-like) and JSON
// (docs/report_schema.md).
//
// BuildReport() turns an Analysis into a symbolized, deterministically
// ordered Report; the renderers only format it. Ordering: leak records by
// bytes, then blocks (both descending), then kind, then stack text, so the
// same trace always gives byte-identical output.
#ifndef HEAPLENS_ANALYZER_REPORT_H_
#define HEAPLENS_ANALYZER_REPORT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "analyzer/analysis.h"
#include "analyzer/layout/layout_analysis.h"
#include "analyzer/symbolizer.h"

namespace heaplens {

struct ReportOptions {
  bool show_reachable = false;  // list reachable blocks too
  // ANSI colours in the text report. The CLI sets it when the report goes to
  // a terminal and NO_COLOR is unset (https://no-color.org).
  bool color = false;
};

struct LeakRecord {
  LeakKind kind;
  uint64_t bytes = 0;
  uint64_t blocks = 0;
  uint64_t stack_id = 0;
  std::vector<Frame> stack;
  std::string stack_text;  // for ordering and signatures
};

struct FreeProblemRecord {
  FreeProblemType type;
  uint64_t count = 0;  // how many times this (type, APIs, stacks) happened
  uint32_t free_kind = 0;
  uint32_t alloc_kind = 0;
  uint64_t address = 0;  // of the first occurrence
  uint64_t block_address = 0;
  uint64_t block_size = 0;
  uint32_t tid = 0;
  uint64_t time_ns = 0;
  std::vector<Frame> free_stack;   // empty if the event has no stack
  std::vector<Frame> alloc_stack;  // empty if unknown
};

struct Report {
  std::string trace_path;
  uint32_t pid = 0;
  uint32_t ppid = 0;
  std::string exe;
  std::vector<std::string> argv;
  std::string exit_reason;  // "exit", "_exit", "exec", "stopped", "unknown"
  int exit_status = 0;
  bool has_graph = false;
  KindTotals totals[kLeakKinds];
  KindTotals unfreed;
  // Reachable blocks found through a leak-check heuristic, per
  // LeakHeuristic (included in totals[kReachable]).
  KindTotals via_heuristic[kLeakHeuristics];
  uint64_t allocations = 0;
  uint64_t frees = 0;
  uint64_t bytes_allocated = 0;
  uint64_t failed_allocations = 0;
  uint64_t peak_live_bytes = 0;
  uint64_t peak_live_blocks = 0;
  uint64_t peak_time_ns = 0;
  uint64_t events = 0;
  std::vector<LeakRecord> leaks;  // all kinds, reachable included
  std::vector<FreeProblemRecord> free_problems;
  std::vector<std::string> notes;  // trace, replay, symbolizer notes

  // The heap-layout analyses (analyzer/layout), when they ran: the
  // "fragmentation" and "pinning" JSON keys and the HEAP LAYOUT text section.
  std::optional<layout::LayoutReport> layout;
  // The symbolized stacks the layout report refers to, by stack id.
  std::map<uint64_t, std::vector<Frame>> layout_stacks;
};

// `layout` (may be null): the LayoutConsumer's report of the same replay.
// `symbolize`: the kinds whose records get symbolized stacks. Symbolizing is
// the costly part of a report, and a program that keeps much memory at exit
// (a compiler, say) has tens of thousands of still-reachable sites that no
// one asked to see: records of the other kinds keep kind, bytes and blocks
// and get an empty stack.
Report BuildReport(const Analysis& analysis, Symbolizer& symbolizer,
                   const layout::LayoutReport* layout = nullptr,
                   KindMask symbolize = kAllKinds);

// The layout report's stack ids, symbolized from `report.layout_stacks` (an
// unknown id gives the empty stack).
const std::vector<Frame>& LayoutStack(const Report& report, uint64_t stack);

std::string RenderText(const Report& report, const ReportOptions& options);
std::string RenderJson(const Report& report, const ReportOptions& options);

// "main (leak.c:12)"-style one-line frame text used in both renderers.
std::string FrameText(const Frame& frame);

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_REPORT_H_

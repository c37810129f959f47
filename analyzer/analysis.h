// analysis.h: the analyzer pipeline for one trace, without the report:
// open → index (pass 1) → replay (pass 2) into the allocation tracker and any
// extra consumers → leak kinds. Reports, the gate and exports start here.
//
// Example:
//   ASSIGN_OR_RETURN(std::unique_ptr<Analysis> a, AnalyzeTrace("t.hlt"));
//   Symbolizer symbolizer(a->index);
//   Report report = BuildReport(*a, symbolizer);
#ifndef HEAPLENS_ANALYZER_ANALYSIS_H_
#define HEAPLENS_ANALYZER_ANALYSIS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "analyzer/allocation_tracker.h"
#include "analyzer/leaks.h"
#include "analyzer/replay.h"
#include "analyzer/trace_index.h"
#include "analyzer/trace_reader.h"

namespace heaplens {

struct Analysis {
  std::unique_ptr<TraceReader> reader;
  TraceIndex index;
  ReplayStats stats;
  AllocationTracker tracker;
  LeakResult leaks;
};

struct AnalyzeOptions {
  // More analyses, fed the same event stream after the allocation tracker.
  std::vector<ReplayConsumer*> consumers;
  ReplayProgress progress;
};

// The blocks a forked child inherited: its parent's live set at the fork,
// from the parent's trace, with the stacks imported into the child's table.
struct InheritedBlocks {
  std::string parent_path;    // empty: the parent's trace was not found
  uint64_t fork_time_ns = 0;  // in the parent's trace clock
  LiveSet live;               // times in the parent's clock
  std::string note;           // why nothing was found
};

// Where a forked child's parent may have written its trace, given the
// child's path: the child's pid replaced by the parent's (MALLOC_TRACE with
// %p), or the child's ".<pid>" suffix removed (without %p).
std::vector<std::string> ParentTraceCandidates(const std::string& path,
                                               uint32_t child_pid,
                                               uint32_t parent_pid);

// For a trace with Header.parent_trace_pid: finds the parent's trace among
// ParentTraceCandidates (same pid, started before the child) and replays it
// up to the child's start. Nothing (and a note) when it is not there.
absl::StatusOr<InheritedBlocks> FindInheritedBlocks(const TraceIndex& child,
                                                    StackTable* child_stacks);

// Errors: as TraceReader::Open, IndexTrace and Replay (NotFound,
// DataLoss with file and byte offset, FailedPrecondition for a newer
// format).
absl::StatusOr<std::unique_ptr<Analysis>> AnalyzeTrace(
    const std::string& path, const AnalyzeOptions& options = {});

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_ANALYSIS_H_

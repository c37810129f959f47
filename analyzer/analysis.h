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

// Errors: as TraceReader::Open, IndexTrace and Replay (NotFound,
// DataLoss with file and byte offset, FailedPrecondition for a newer
// format).
absl::StatusOr<std::unique_ptr<Analysis>> AnalyzeTrace(
    const std::string& path, const AnalyzeOptions& options = {});

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_ANALYSIS_H_

// stack_totals.h: objects and bytes per allocation stack, the input of the
// stack-shaped exports (collapsed, pprof, massif trees).
//
//   AllocatedByStack  a replay consumer: every allocation (realloc included,
//                     with its new size), as the tracker counts
//                     "bytes allocated";
//   LeakedByStack     the leaks at exit: definite, indirect and possible
//                     blocks, or every unfreed block when the trace has no
//                     heap graph (reachable blocks are not leaks);
//   LiveByStack       every block live at exit ("in use", reachable too).
//
// Example:
//   AllocatedByStack allocated;
//   AnalyzeOptions options;
//   options.consumers.push_back(&allocated);
//   ASSIGN_OR_RETURN(auto analysis, AnalyzeTrace(path, options));
//   StackTotals leaked = LeakedByStack(analysis->leaks);
#ifndef HEAPLENS_ANALYZER_EXPORT_STACK_TOTALS_H_
#define HEAPLENS_ANALYZER_EXPORT_STACK_TOTALS_H_

#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "analyzer/allocation_tracker.h"
#include "analyzer/event.h"
#include "analyzer/leaks.h"
#include "analyzer/replay.h"

namespace heaplens {

struct StackTotal {
  uint64_t objects = 0;
  uint64_t bytes = 0;
};

// Stack id -> totals. Only stacks with at least one object are present.
using StackTotals = absl::flat_hash_map<uint64_t, StackTotal>;

class AllocatedByStack : public ReplayConsumer {
 public:
  void OnEvent(const Event& e) override {
    if (!IsAllocation(e.kind)) return;
    StackTotal& t = totals_[e.stack];
    ++t.objects;
    t.bytes += e.size;
  }
  const StackTotals& totals() const { return totals_; }

 private:
  StackTotals totals_;
};

StackTotals LeakedByStack(const LeakResult& leaks);
StackTotals LiveByStack(const LiveSet& live);

// Sum over all stacks.
StackTotal Sum(const StackTotals& totals);

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_EXPORT_STACK_TOTALS_H_

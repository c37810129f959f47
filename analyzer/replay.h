// replay.h: pass 2 of the analysis. Merges the per-thread event batches of a
// trace into one time-ordered event stream and feeds it to consumers.
//
// Batches of different threads appear in the file in flush order, not time
// order. Replay makes an exact k-way merge with bounded memory: each thread's
// batches form one stream (in time, then sequence order); a batch is read
// from the file only when the merge time reaches its begin time, so at most
// one decoded batch per thread is in memory. At equal times, frees come
// before allocations (see TieClass in event.h); within a thread the recorded
// order is kept.
//
// Consumers are the analyses (leaks, fragmentation, pinning, the gate, ...).
// They see every event once, in order, then OnEnd(), through OnEvents
// (contiguous runs) and OnEventRefs (runs by pointer), whose defaults end in
// OnEvent.
//
// Example:
//   AllocationTracker tracker(index);
//   ReplayConsumer* consumers[] = {&tracker};
//   ASSIGN_OR_RETURN(ReplayStats stats, Replay(*reader, index, consumers));
#ifndef HEAPLENS_ANALYZER_REPLAY_H_
#define HEAPLENS_ANALYZER_REPLAY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "analyzer/event.h"
#include "analyzer/trace_index.h"
#include "analyzer/trace_reader.h"

namespace heaplens {

struct ReplayStats {
  uint64_t events = 0;   // events delivered
  uint64_t batches = 0;  // batches decoded
  uint64_t last_time_ns = 0;
  uint64_t unknown_stack_events = 0;  // stack ids not in the dictionary
  uint64_t skipped_events = 0;        // after an unknown event kind
  size_t max_loaded_batches = 0;      // the merge's memory high-water mark
  std::vector<std::string> notes;
};

class ReplayConsumer {
 public:
  virtual ~ReplayConsumer() = default;
  // Before the first event.
  virtual void OnStart(const TraceIndex& index) {}
  // Every event, in global time order. Stack ids are valid in index.stacks.
  virtual void OnEvent(const Event& event) = 0;
  // A run of consecutive events of the stream, in order: the replay delivers
  // events in runs (one thread's events up to the next thread's). The
  // default calls OnEvent for each; a consumer on the hot path overrides it
  // to save a virtual call per event. Either way the consumer sees every
  // event exactly once.
  virtual void OnEvents(absl::Span<const Event> events) {
    for (const Event& e : events) OnEvent(e);
  }
  // The same, for a run given by pointers: when threads interleave, the
  // replay gathers the merged order this way instead of copying each event.
  // The default copies the events into contiguous chunks and calls
  // OnEvents, so a consumer that overrides only OnEvent or OnEvents sees
  // what it saw before; a consumer on the hot path overrides this too.
  virtual void OnEventRefs(absl::Span<const Event* const> events);
  // After the last event.
  virtual void OnEnd(const ReplayStats& stats) {}
};

// Called now and then with the number of batches done and the total.
using ReplayProgress = std::function<void(uint64_t done, uint64_t total)>;

// Replays the batches listed in `index` (read from `reader`'s file) into
// `consumers`. DataLoss if a batch is corrupt.
//
// With `until_ns`, batches that begin after that time are neither read nor
// decoded: the consumers see every event up to `until_ns` and, from the
// batches that straddle it, some events after it (a consumer that wants a
// sharp cut drops them). For the prefix of a long trace, e.g. a parent's
// trace up to a child's fork.
absl::StatusOr<ReplayStats> Replay(const TraceReader& reader,
                                   const TraceIndex& index,
                                   absl::Span<ReplayConsumer* const> consumers,
                                   const ReplayProgress& progress = nullptr,
                                   uint64_t until_ns = ~uint64_t{0});

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_REPLAY_H_

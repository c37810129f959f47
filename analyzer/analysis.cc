#include "analyzer/analysis.h"

#include <utility>

namespace heaplens {

absl::StatusOr<std::unique_ptr<Analysis>> AnalyzeTrace(
    const std::string& path, const AnalyzeOptions& options) {
  auto a = std::make_unique<Analysis>();
  absl::StatusOr<std::unique_ptr<TraceReader>> reader = TraceReader::Open(path);
  if (!reader.ok()) return reader.status();
  a->reader = *std::move(reader);
  absl::StatusOr<TraceIndex> index = IndexTrace(*a->reader);
  if (!index.ok()) return index.status();
  a->index = *std::move(index);
  std::vector<ReplayConsumer*> consumers = {&a->tracker};
  consumers.insert(consumers.end(), options.consumers.begin(),
                   options.consumers.end());
  absl::StatusOr<ReplayStats> stats =
      Replay(*a->reader, a->index, consumers, options.progress);
  if (!stats.ok()) return stats.status();
  a->stats = *std::move(stats);
  a->leaks = AnalyzeLeaks(a->tracker.live(),
                          a->index.graph ? &*a->index.graph : nullptr);
  return a;
}

}  // namespace heaplens

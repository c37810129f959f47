#include "analyzer/analysis.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace heaplens {
namespace {

// Forwards the events up to `limit_ns` (the replay delivers them in time
// order) to `next`.
class UntilTime : public ReplayConsumer {
 public:
  UntilTime(ReplayConsumer* next, uint64_t limit_ns)
      : next_(next), limit_ns_(limit_ns) {}
  void OnStart(const TraceIndex& index) override { next_->OnStart(index); }
  void OnEvent(const Event& e) override {
    if (e.time_ns <= limit_ns_) next_->OnEvent(e);
  }
  void OnEvents(absl::Span<const Event> events) override {
    size_t n = 0;
    while (n < events.size() && events[n].time_ns <= limit_ns_) ++n;
    if (n > 0) next_->OnEvents(events.subspan(0, n));
  }
  void OnEnd(const ReplayStats& stats) override { next_->OnEnd(stats); }

 private:
  ReplayConsumer* next_;
  uint64_t limit_ns_;
};

}  // namespace

std::vector<std::string> ParentTraceCandidates(const std::string& path,
                                               uint32_t child_pid,
                                               uint32_t parent_pid) {
  std::vector<std::string> out;
  const std::string child = absl::StrCat(child_pid);
  const std::string parent = absl::StrCat(parent_pid);
  const size_t slash = path.rfind('/');
  const size_t base = slash == std::string::npos ? 0 : slash + 1;
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  // "%p" expanded: every occurrence of the child's pid in the file name
  // that is not part of a longer number.
  for (size_t at = path.find(child, base); at != std::string::npos;
       at = path.find(child, at + 1)) {
    const size_t end = at + child.size();
    if ((at > base && is_digit(path[at - 1])) ||
        (end < path.size() && is_digit(path[end]))) {
      continue;
    }
    out.push_back(path.substr(0, at) + parent + path.substr(end));
  }
  // A pattern without %p: the child wrote "<parent's path>.<child pid>".
  const std::string suffix = "." + child;
  if (path.size() > suffix.size() &&
      path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
    out.push_back(path.substr(0, path.size() - suffix.size()));
  }
  return out;
}

absl::StatusOr<InheritedBlocks> FindInheritedBlocks(const TraceIndex& child,
                                                    StackTable* child_stacks) {
  InheritedBlocks r;
  const uint32_t parent_pid = child.header.parent_trace_pid();
  if (parent_pid == 0) return r;
  const std::vector<std::string> candidates =
      ParentTraceCandidates(child.path, child.header.pid(), parent_pid);
  for (const std::string& path : candidates) {
    // Open fails (without waiting) for a missing path, a directory or a
    // FIFO: none of them is the parent's trace.
    absl::StatusOr<std::unique_ptr<TraceReader>> reader =
        TraceReader::Open(path);
    if (!reader.ok()) continue;
    absl::StatusOr<TraceIndex> index = IndexTrace(**reader);
    if (!index.ok()) continue;
    const trace::Header& h = index->header;
    if (h.pid() != parent_pid ||
        h.start_monotonic_ns() > child.header.start_monotonic_ns()) {
      continue;  // another process's trace
    }
    // The child's trace starts right after the fork (its atfork handler).
    r.fork_time_ns = child.header.start_monotonic_ns() - h.start_monotonic_ns();
    AllocationTracker tracker;
    UntilTime until(&tracker, r.fork_time_ns);
    std::vector<ReplayConsumer*> consumers = {&until};
    absl::StatusOr<ReplayStats> stats =
        Replay(**reader, *index, consumers, nullptr, r.fork_time_ns);
    if (!stats.ok()) return stats.status();
    r.parent_path = path;
    // Import the stacks: the child shares the parent's modules at the fork,
    // so its first module epoch symbolizes them.
    const uint32_t epoch = child.epochs.empty() ? kNoEpoch : 0;
    absl::flat_hash_map<uint64_t, uint64_t> node_map;  // parent -> child
    for (const auto& [address, block] : tracker.live()) {
      LiveBlock b = block;
      uint64_t id = 0;
      if (index->stacks.Contains(block.stack)) {
        const std::vector<uint32_t> frames = index->stacks.Frames(block.stack);
        for (auto f = frames.rbegin(); f != frames.rend(); ++f) {
          auto [it, fresh] = node_map.try_emplace(*f, 0);
          if (fresh) {
            it->second = child_stacks->AddNode(index->stacks.pc(*f), id, epoch);
          }
          id = it->second;
        }
      }
      b.stack = id;
      r.live.emplace(address, b);
    }
    return r;
  }
  r.note = absl::StrCat("this process was forked from pid ", parent_pid,
                        ", whose trace was not found (looked for: ",
                        candidates.empty() ? "nothing to derive from the path"
                                           : absl::StrJoin(candidates, ", "),
                        "): blocks inherited from it are not reported");
  return r;
}

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
  const HeapGraphData* graph = a->index.graph ? &*a->index.graph : nullptr;
  const LiveSet& live = a->tracker.live();

  // A forked child's graph also lists the blocks it inherited and kept:
  // take their sizes and stacks from the parent's trace (as Valgrind, which
  // reports them in the child too).
  uint64_t missing = 0;
  if (graph != nullptr && a->index.header.parent_trace_pid() != 0) {
    for (uint64_t address : graph->block_address) {
      missing += live.contains(address) ? 0 : 1;
    }
  }
  if (missing == 0) {
    a->leaks = AnalyzeLeaks(live, graph);
    return a;
  }
  absl::StatusOr<InheritedBlocks> inherited =
      FindInheritedBlocks(a->index, &a->index.stacks);
  if (!inherited.ok()) {
    inherited = InheritedBlocks();
    inherited->note = absl::StrCat(
        "blocks inherited from the parent are not reported: its trace cannot "
        "be read: ",
        inherited.status().message());
  }
  LiveSet merged;
  merged.reserve(live.size() + inherited->live.size());
  // Times in the parent's clock, so the leak classification takes clique
  // leaders in allocation order across both.
  for (const auto& [address, b] : live) {
    LiveBlock shifted = b;
    shifted.time_ns += inherited->fork_time_ns;
    merged.emplace(address, shifted);
  }
  uint64_t blocks = 0, bytes = 0;
  for (uint64_t address : graph->block_address) {
    if (live.contains(address)) continue;
    auto it = inherited->live.find(address);
    if (it == inherited->live.end()) continue;
    merged.emplace(address, it->second);
    ++blocks;
    bytes += it->second.size;
  }
  a->leaks = AnalyzeLeaks(merged, graph);
  if (!inherited->parent_path.empty()) {
    a->leaks.notes.push_back(absl::StrCat(
        blocks, " blocks (", bytes, " bytes) inherited from the parent (pid ",
        a->index.header.parent_trace_pid(),
        ") at the fork; their stacks are "
        "from its trace ",
        inherited->parent_path));
  } else if (!inherited->note.empty()) {
    a->leaks.notes.push_back(inherited->note);
  }
  return a;
}

}  // namespace heaplens

// massif.h: Valgrind massif's output format ("massif.out.PID"), so ms_print
// (and massif-visualizer) draw the heap of a heaplens trace over time.
//
// MassifRecorder is a replay consumer that keeps the live heap by allocation
// stack and takes snapshots the way massif does: one at the start, then
// whenever the clock has advanced by the current interval; when the buffer
// holds 2 * snapshots, every other one is dropped and the interval doubles,
// so any trace ends with between `snapshots` and 2 * `snapshots` of them,
// evenly spread. Every `detailed_every`-th snapshot keeps its heap tree
// (bytes per stack). The peak is kept separately, like massif's "peak"
// snapshot: when the heap is about to shrink and its size exceeds the peak
// kept so far by more than `peak_inaccuracy` percent (massif's
// --peak-inaccuracy, default 1), the heap tree is copied. A final snapshot
// is taken at the end.
//
// RenderMassif() writes the file: mem_heap_B is the requested bytes,
// mem_heap_extra_B the allocator's slack (usable - requested),
// mem_stacks_B 0. Heap trees are inverted call trees (allocation site at the
// top, callers below) with symbolized frames "0xPC: function (file:line)";
// entries below `threshold` percent of the snapshot's heap are merged into
// "in N places, below massif's threshold" lines. Output is deterministic.
//
// Example:
//   MassifRecorder massif;
//   options.consumers.push_back(&massif);     // then AnalyzeTrace(...)
//   Symbolizer symbolizer(analysis->index);
//   std::string out = RenderMassif(massif, symbolizer, "./prog arg");
#ifndef HEAPLENS_ANALYZER_EXPORT_MASSIF_H_
#define HEAPLENS_ANALYZER_EXPORT_MASSIF_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "analyzer/event.h"
#include "analyzer/replay.h"
#include "analyzer/symbolizer.h"

namespace heaplens {

struct MassifOptions {
  enum class Clock {
    kMilliseconds,  // time_unit: ms (trace time)
    kBytes,         // time_unit: B (bytes allocated and freed so far)
  };
  Clock clock = Clock::kMilliseconds;
  int snapshots = 50;          // at least this many (at most twice)
  int detailed_every = 10;     // every Nth snapshot has a heap tree
  double peak_inaccuracy = 1;  // percent
  double threshold = 1;        // percent; smaller tree entries are merged
};

class MassifRecorder : public ReplayConsumer {
 public:
  struct Snapshot {
    uint64_t clock = 0;  // ns or bytes, as MassifOptions::clock
    uint64_t heap = 0;
    uint64_t extra = 0;
    bool detailed = false;
    std::vector<std::pair<uint64_t, uint64_t>> tree;  // (stack, bytes) > 0
  };

  explicit MassifRecorder(MassifOptions options = {});

  void OnStart(const TraceIndex& index) override;
  void OnEvent(const Event& e) override;
  void OnEnd(const ReplayStats& stats) override;

  const MassifOptions& options() const { return options_; }
  // The snapshots in time order, the peak included (`peak_index`).
  const std::vector<Snapshot>& snapshots() const { return merged_; }
  size_t peak_index() const { return peak_index_; }

 private:
  struct Block {
    uint64_t size, slack, stack;
  };
  void Add(uint64_t address, const Event& e);
  void Remove(uint64_t address);
  void MaybePeak();
  void Take(bool force_tree);
  std::vector<std::pair<uint64_t, uint64_t>> Tree() const;

  MassifOptions options_;
  absl::flat_hash_map<uint64_t, Block> live_;
  absl::flat_hash_map<uint64_t, uint64_t> by_stack_;
  uint64_t heap_ = 0, extra_ = 0;
  uint64_t clock_ = 0;
  uint64_t interval_ = 0, next_ = 0;
  uint64_t snapshots_taken_ = 0;
  std::vector<Snapshot> snaps_;
  Snapshot peak_;
  bool has_peak_ = false;
  std::vector<Snapshot> merged_;
  size_t peak_index_ = 0;
};

// The massif out file. `cmd` is the traced command line ("cmd:" line).
std::string RenderMassif(const MassifRecorder& recorder, Symbolizer& symbolizer,
                         const std::string& cmd);

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_EXPORT_MASSIF_H_

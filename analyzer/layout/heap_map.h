// heap_map.h: a drawable map of the allocator's address space at one moment.
//
// SnapshotHeapMap() turns the HeapModel's regions (brk heap, mmap'd regions),
// live chunks, free runs and resident pages into at most `max_cells` cells
// per snapshot (docs/html_report.md, `heap_map`): one cell per live chunk and
// per free piece (`free` = resident, `released` = not resident) while they
// fit; beyond that, each region is cut into buckets of one byte span (the
// extent divided so the total stays within `max_cells`) that become `mixed`
// cells with their live/free/released split, neighbouring buckets in the
// same pure state merged. Pinning chunks (pinning.h) always keep a cell of
// their own. Regions beyond `max_regions` are dropped, smallest first.
//
// HeapMapTracker takes the snapshot "at the peak" during a replay without
// copying the model per event: when the extent (or, at the same extent, the
// live bytes) has grown by more than 1/32 since the last snapshot, a snapshot
// becomes pending and is taken just before the next event that may shrink
// the heap's state (a free, realloc, madvise, munmap or brk shrink), i.e. at
// a local maximum. The number of snapshots is logarithmic in the heap's
// growth, and their cost (O(chunks + free runs) each) sums to a small
// multiple of one snapshot at the peak.
//
// Example:
//   HeapMapSnapshot s = SnapshotHeapMap(model, {pinner_address}, {});
//   for (const MapCell& c : s.cells) Draw(s.regions[c.region], c);
#ifndef HEAPLENS_ANALYZER_LAYOUT_HEAP_MAP_H_
#define HEAPLENS_ANALYZER_LAYOUT_HEAP_MAP_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "analyzer/layout/heap_event.h"
#include "analyzer/layout/heap_model.h"

namespace heaplens::layout {

enum class CellState { kLive, kFree, kReleased, kPinning, kMixed };

// "live", "free", "released", "pinning", "mixed" (the HTML data's names).
const char* CellStateName(CellState state);

struct MapRegion {
  bool brk = false;  // the brk heap; else one of the allocator's mmaps
  uint64_t start = 0;
  uint64_t size = 0;
};

struct MapCell {
  uint32_t region = 0;  // index into HeapMapSnapshot::regions
  uint64_t offset = 0;  // from the region's start
  uint64_t size = 0;
  CellState state = CellState::kFree;
  uint64_t chunks = 0;  // live chunks overlapping the cell
  uint64_t live_bytes = 0;
  uint64_t free_bytes = 0;  // free and resident
  uint64_t released_bytes = 0;
  // The cell's chunk (one-chunk cells) or its largest chunk (mixed cells).
  bool has_chunk = false;
  bool one_chunk = false;  // the cell is exactly one chunk
  uint64_t address = 0;
  uint64_t requested = 0;
  uint64_t stack = 0;
  uint64_t time_ns = 0;
};

struct HeapMapSnapshot {
  bool valid = false;
  uint64_t time_ns = 0;
  bool truncated = false;     // cells were aggregated into buckets
  uint64_t bucket_bytes = 0;  // the bucket span when truncated
  uint64_t regions_omitted = 0;
  uint64_t regions_omitted_bytes = 0;
  std::vector<MapRegion> regions;  // address order
  std::vector<MapCell> cells;      // by (region, offset), disjoint
};

struct HeapMapOptions {
  size_t max_cells = 4000;
  size_t max_regions = 256;
};

// `pinners`: addresses of chunks drawn as `pinning` (any order).
HeapMapSnapshot SnapshotHeapMap(const HeapModel& model,
                                absl::Span<const uint64_t> pinners,
                                const HeapMapOptions& options = {});

class HeapMapTracker {
 public:
  explicit HeapMapTracker(HeapMapOptions options) : options_(options) {}

  void Before(const HeapModel& model, const HeapEvent& e);
  void After(const HeapModel& model, const HeapEvent& e);
  // The snapshot at the (last local maximum near the) peak; takes a pending
  // one first.
  HeapMapSnapshot FinishPeak(const HeapModel& model);
  size_t snapshots_taken() const { return taken_; }

 private:
  void Take(const HeapModel& model);

  HeapMapOptions options_;
  bool pending_ = false;
  uint64_t snap_extent_ = 0;
  uint64_t snap_live_ = 0;
  size_t taken_ = 0;
  HeapMapSnapshot peak_;
};

}  // namespace heaplens::layout

#endif  // HEAPLENS_ANALYZER_LAYOUT_HEAP_MAP_H_

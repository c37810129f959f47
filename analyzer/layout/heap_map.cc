#include "analyzer/layout/heap_map.h"

#include <algorithm>
#include <tuple>

#include "analyzer/layout/pinning.h"

namespace heaplens::layout {
namespace {

// One run of a region's address space in one state: a live chunk or a free
// piece (resident or released).
struct Piece {
  uint64_t lo = 0;
  uint64_t hi = 0;
  CellState state = CellState::kFree;
  uint64_t address = 0;  // the chunk's, for live pieces
  const Chunk* chunk = nullptr;
};

// Calls sink(piece) for the pieces of [lo, hi) in address order; stops early
// when the sink returns false (and then returns false). Address space that
// is neither a live chunk nor free (chunks the model placed outside the
// extent overlap nothing here) is not reported.
template <typename Sink>
bool WalkRegion(const HeapModel& model, uint64_t lo, uint64_t hi,
                const std::vector<uint64_t>& pinners, Sink& sink) {
  const auto& chunks = model.chunks();
  const auto& free_runs = model.free_space().intervals();
  auto c = chunks.lower_bound(lo);
  // A chunk that starts below the region but reaches into it.
  if (c != chunks.begin()) {
    auto p = std::prev(c);
    if (p->first + p->second.usable > lo) c = p;
  }
  auto f = free_runs.upper_bound(lo);
  if (f != free_runs.begin() && std::prev(f)->second > lo) --f;
  bool go = true;
  while (go) {
    const uint64_t c_at =
        c != chunks.end() && c->first < hi ? std::max(c->first, lo) : hi;
    const uint64_t f_at =
        f != free_runs.end() && f->first < hi ? std::max(f->first, lo) : hi;
    if (c_at >= hi && f_at >= hi) break;
    if (c_at <= f_at) {
      Piece p;
      p.lo = c_at;
      p.hi = std::min(c->first + std::max<uint64_t>(c->second.usable, 1), hi);
      p.address = c->first;
      p.chunk = &c->second;
      p.state = std::binary_search(pinners.begin(), pinners.end(), c->first)
                    ? CellState::kPinning
                    : CellState::kLive;
      ++c;
      if (p.hi <= p.lo) continue;
      go = sink(p);
    } else {
      const uint64_t a = f_at, b = std::min(f->second, hi);
      ++f;
      // Split the free run into resident (free) and released pieces.
      uint64_t at = a;
      model.resident().ForEachIn(a, b, [&](uint64_t r0, uint64_t r1) {
        if (!go) return;
        if (r0 > at) go = sink(Piece{at, r0, CellState::kReleased});
        if (go) go = sink(Piece{r0, r1, CellState::kFree});
        at = r1;
      });
      if (go && at < b) go = sink(Piece{at, b, CellState::kReleased});
    }
  }
  return go;
}

void SetChunk(MapCell& cell, const Piece& p) {
  cell.has_chunk = true;
  cell.address = p.address;
  cell.requested = p.chunk->requested;
  cell.stack = p.chunk->stack;
  cell.time_ns = p.chunk->time_ns;
}

bool Pure(const MapCell& c) {
  return c.state == CellState::kFree || c.state == CellState::kReleased;
}

// Appends `cell`, merging it into the previous cell when both are the same
// free/released state and touch.
void Append(std::vector<MapCell>& cells, const MapCell& cell) {
  if (!cells.empty()) {
    MapCell& last = cells.back();
    if (last.region == cell.region && Pure(last) && last.state == cell.state &&
        last.offset + last.size == cell.offset) {
      last.size += cell.size;
      last.free_bytes += cell.free_bytes;
      last.released_bytes += cell.released_bytes;
      return;
    }
  }
  cells.push_back(cell);
}

MapCell PieceCell(uint32_t region, uint64_t start, const Piece& p) {
  MapCell cell;
  cell.region = region;
  cell.offset = p.lo - start;
  cell.size = p.hi - p.lo;
  cell.state = p.state;
  if (p.chunk != nullptr) {
    cell.chunks = 1;
    cell.live_bytes = cell.size;
    cell.one_chunk = true;
    SetChunk(cell, p);
  } else if (p.state == CellState::kFree) {
    cell.free_bytes = cell.size;
  } else {
    cell.released_bytes = cell.size;
  }
  return cell;
}

// Aggregates a region's pieces into buckets of `span` bytes; pinning chunks
// cut their bucket and get a cell of their own.
class BucketSink {
 public:
  BucketSink(std::vector<MapCell>& cells, uint32_t region, uint64_t start,
             uint64_t span)
      : cells_(cells), region_(region), start_(start), span_(span) {
    Reset(start);
  }

  bool operator()(const Piece& p) {
    if (p.state == CellState::kPinning) {
      Flush(p.lo);
      Append(cells_, PieceCell(region_, start_, p));
      Reset(p.hi);
      return true;
    }
    uint64_t a = p.lo;
    while (a < p.hi) {
      const uint64_t bucket_end = BucketEnd(cell_start_);
      if (a >= bucket_end) {
        Flush(bucket_end);
        Reset(a >= BucketEnd(bucket_end) ? BucketStart(a) : bucket_end);
        continue;
      }
      const uint64_t z = std::min(p.hi, bucket_end);
      Add(p, a, z);
      a = z;
    }
    return true;
  }

  void Finish(uint64_t region_end) { Flush(region_end); }

 private:
  uint64_t BucketStart(uint64_t x) const {
    return start_ + (x - start_) / span_ * span_;
  }
  uint64_t BucketEnd(uint64_t x) const { return BucketStart(x) + span_; }

  void Reset(uint64_t at) {
    cell_ = MapCell();
    cell_.region = region_;
    cell_start_ = at;
    end_ = at;
    largest_ = 0;
    one_chunk_ = true;
    last_chunk_ = ~uint64_t{0};
  }

  void Add(const Piece& p, uint64_t a, uint64_t z) {
    const uint64_t n = z - a;
    end_ = z;
    if (p.chunk != nullptr) {
      cell_.live_bytes += n;
      if (p.address != last_chunk_) {
        ++cell_.chunks;
        if (last_chunk_ != ~uint64_t{0}) one_chunk_ = false;
        last_chunk_ = p.address;
      }
      if (p.chunk->usable > largest_ || !cell_.has_chunk) {
        largest_ = p.chunk->usable;
        SetChunk(cell_, p);
      }
    } else {
      one_chunk_ = false;
      (p.state == CellState::kFree ? cell_.free_bytes : cell_.released_bytes) +=
          n;
    }
  }

  void Flush(uint64_t at) {
    const uint64_t end = std::max(end_, std::min(at, BucketEnd(cell_start_)));
    if (end <= cell_start_) return;
    MapCell c = cell_;
    c.offset = cell_start_ - start_;
    c.size = end - cell_start_;
    // Space no piece covered (outside the model's free and live sets) counts
    // as released.
    const uint64_t covered = c.live_bytes + c.free_bytes + c.released_bytes;
    if (covered < c.size) c.released_bytes += c.size - covered;
    const int kinds =
        (c.live_bytes > 0) + (c.free_bytes > 0) + (c.released_bytes > 0);
    if (kinds > 1) {
      c.state = CellState::kMixed;
    } else if (c.live_bytes > 0) {
      c.state = CellState::kLive;
      c.one_chunk = one_chunk_ && c.chunks == 1;
      // A chunk that spans several buckets stays one cell.
      if (c.one_chunk && !cells_.empty()) {
        MapCell& last = cells_.back();
        if (last.region == c.region && last.one_chunk &&
            last.state == CellState::kLive && last.address == c.address &&
            last.offset + last.size == c.offset) {
          last.size += c.size;
          last.live_bytes += c.live_bytes;
          return;
        }
      }
    } else {
      c.state = c.free_bytes > 0 ? CellState::kFree : CellState::kReleased;
      c.has_chunk = false;
    }
    Append(cells_, c);
  }

  std::vector<MapCell>& cells_;
  uint32_t region_;
  uint64_t start_;
  uint64_t span_;
  MapCell cell_;
  uint64_t cell_start_ = 0;
  uint64_t end_ = 0;
  uint64_t largest_ = 0;
  bool one_chunk_ = true;
  uint64_t last_chunk_ = 0;
};

}  // namespace

const char* CellStateName(CellState state) {
  switch (state) {
    case CellState::kLive:
      return "live";
    case CellState::kFree:
      return "free";
    case CellState::kReleased:
      return "released";
    case CellState::kPinning:
      return "pinning";
    case CellState::kMixed:
      return "mixed";
  }
  return "free";
}

HeapMapSnapshot SnapshotHeapMap(const HeapModel& model,
                                absl::Span<const uint64_t> pinner_list,
                                const HeapMapOptions& options) {
  HeapMapSnapshot snap;
  snap.valid = true;
  snap.time_ns = model.time_ns();
  std::vector<uint64_t> pinners(pinner_list.begin(), pinner_list.end());
  std::sort(pinners.begin(), pinners.end());

  std::vector<MapRegion> regions;
  for (const auto& [lo, hi] : model.brk().intervals()) {
    regions.push_back(MapRegion{true, lo, hi - lo});
  }
  for (const auto& [lo, hi] : model.mmap().intervals()) {
    regions.push_back(MapRegion{false, lo, hi - lo});
  }
  const size_t max_regions = std::max<size_t>(options.max_regions, 1);
  if (regions.size() > max_regions) {
    std::sort(regions.begin(), regions.end(),
              [](const MapRegion& a, const MapRegion& b) {
                return std::make_tuple(b.size, a.start) <
                       std::make_tuple(a.size, b.start);
              });
    for (size_t i = max_regions; i < regions.size(); ++i) {
      ++snap.regions_omitted;
      snap.regions_omitted_bytes += regions[i].size;
    }
    regions.resize(max_regions);
  }
  std::sort(
      regions.begin(), regions.end(),
      [](const MapRegion& a, const MapRegion& b) { return a.start < b.start; });
  snap.regions = regions;

  // One cell per piece while they fit.
  const size_t max_cells = std::max<size_t>(options.max_cells, 1);
  bool fits = true;
  for (uint32_t r = 0; r < regions.size() && fits; ++r) {
    const uint64_t lo = regions[r].start, hi = lo + regions[r].size;
    auto sink = [&](const Piece& p) {
      Append(snap.cells, PieceCell(r, lo, p));
      return snap.cells.size() <= max_cells;
    };
    fits = WalkRegion(model, lo, hi, pinners, sink);
  }
  if (fits) return snap;

  // Too many: buckets of one span over every region.
  snap.cells.clear();
  snap.truncated = true;
  uint64_t total = 0;
  size_t pinners_in = 0;
  for (const MapRegion& r : regions) {
    total += r.size;
    pinners_in +=
        std::upper_bound(pinners.begin(), pinners.end(), r.start + r.size - 1) -
        std::lower_bound(pinners.begin(), pinners.end(), r.start);
  }
  const size_t reserved = regions.size() + 2 * pinners_in;
  const uint64_t budget = max_cells > reserved + 1 ? max_cells - reserved : 1;
  const uint64_t span = std::max<uint64_t>((total + budget - 1) / budget, 1);
  snap.bucket_bytes = span;
  for (uint32_t r = 0; r < regions.size(); ++r) {
    const uint64_t lo = regions[r].start, hi = lo + regions[r].size;
    BucketSink sink(snap.cells, r, lo, span);
    WalkRegion(model, lo, hi, pinners, sink);
    sink.Finish(hi);
  }
  return snap;
}

void HeapMapTracker::Take(const HeapModel& model) {
  const PinningSnapshot pin = EvaluatePinning(model, PinningOptions{});
  std::vector<uint64_t> pinners;
  for (const Pinner& p : pin.pinners) pinners.push_back(p.address);
  peak_ = SnapshotHeapMap(model, pinners, options_);
  snap_extent_ = model.brk().total() + model.mmap().total();
  snap_live_ = model.Stats().live_bytes;
  pending_ = false;
  ++taken_;
}

void HeapMapTracker::Before(const HeapModel& model, const HeapEvent& e) {
  if (!pending_) return;
  switch (e.kind) {
    case HeapEventKind::kFree:
    case HeapEventKind::kRealloc:
    case HeapEventKind::kMadvise:
    case HeapEventKind::kMunmap:
    case HeapEventKind::kHeapShrink:
      Take(model);
      break;
    default:
      break;
  }
}

void HeapMapTracker::After(const HeapModel& model, const HeapEvent& e) {
  if (pending_) return;
  const uint64_t extent = model.brk().total() + model.mmap().total();
  if (extent == 0) return;
  if (taken_ == 0 || extent > snap_extent_ + snap_extent_ / 32) {
    pending_ = true;
  } else if (extent >= snap_extent_) {
    const uint64_t live = model.Stats().live_bytes;
    if (live > snap_live_ + snap_live_ / 32 + model.page_size()) {
      pending_ = true;
    }
  }
}

HeapMapSnapshot HeapMapTracker::FinishPeak(const HeapModel& model) {
  if (pending_) Take(model);
  return peak_;
}

}  // namespace heaplens::layout

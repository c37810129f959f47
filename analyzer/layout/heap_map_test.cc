#include "analyzer/layout/heap_map.h"

#include <random>

#include "analyzer/layout/layout_analysis.h"
#include "gtest/gtest.h"

namespace heaplens::layout {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kBase = 0x10000000;

HeapEvent Ev(HeapEventKind k, uint64_t t, uint64_t addr, uint64_t size,
             uint64_t usable = 0, uint64_t stack = 0) {
  HeapEvent e;
  e.kind = k;
  e.time_ns = t;
  e.address = addr;
  e.size = size;
  e.usable = usable ? usable : size;
  e.stack = stack;
  e.tid = 1;
  return e;
}

// Checks the snapshot's invariants: cells sorted, disjoint, inside their
// region, consistent byte splits.
void CheckCells(const HeapMapSnapshot& s) {
  for (size_t i = 0; i < s.cells.size(); ++i) {
    const MapCell& c = s.cells[i];
    ASSERT_LT(c.region, s.regions.size());
    EXPECT_GT(c.size, 0u);
    EXPECT_LE(c.offset + c.size, s.regions[c.region].size) << i;
    EXPECT_EQ(c.size, c.live_bytes + c.free_bytes + c.released_bytes) << i;
    if (i > 0) {
      const MapCell& p = s.cells[i - 1];
      EXPECT_TRUE(p.region < c.region ||
                  (p.region == c.region && p.offset + p.size <= c.offset))
          << i;
    }
  }
}

TEST(HeapMapTest, OneCellPerChunkAndFreePiece) {
  HeapModel m(kPage);
  m.Apply(Ev(HeapEventKind::kHeapGrow, 1, kBase, 4 * kPage));
  m.Apply(Ev(HeapEventKind::kAlloc, 2, kBase, 100, 112, 7));
  m.Apply(Ev(HeapEventKind::kAlloc, 3, kBase + 3 * kPage, 40, 48, 9));
  m.Apply(Ev(HeapEventKind::kMmap, 4, 0x7f0000000000, 2 * kPage));
  m.Apply(Ev(HeapEventKind::kAlloc, 5, 0x7f0000000010, 5000, 5000, 11));
  HeapMapSnapshot s = SnapshotHeapMap(m, {kBase + 3 * kPage});
  CheckCells(s);
  ASSERT_EQ(2u, s.regions.size());
  EXPECT_TRUE(s.regions[0].brk);
  EXPECT_EQ(4 * kPage, s.regions[0].size);
  EXPECT_FALSE(s.regions[1].brk);
  EXPECT_FALSE(s.truncated);
  // brk: chunk, free (resident page 0 tail), released (pages 1-2), pinner,
  // free tail of page 3.
  ASSERT_EQ(8u, s.cells.size());
  EXPECT_EQ(CellState::kLive, s.cells[0].state);
  EXPECT_EQ(112u, s.cells[0].size);
  EXPECT_EQ(100u, s.cells[0].requested);
  EXPECT_EQ(7u, s.cells[0].stack);
  EXPECT_EQ(kBase, s.cells[0].address);
  EXPECT_EQ(CellState::kFree, s.cells[1].state);
  EXPECT_EQ(kPage - 112, s.cells[1].size);
  EXPECT_EQ(CellState::kReleased, s.cells[2].state);
  EXPECT_EQ(2 * kPage, s.cells[2].size);
  EXPECT_EQ(CellState::kPinning, s.cells[3].state);
  EXPECT_EQ(9u, s.cells[3].stack);
  EXPECT_EQ(CellState::kFree, s.cells[4].state);
  // mmap region: free head, the chunk, free tail.
  EXPECT_EQ(1u, s.cells[5].region);
  EXPECT_EQ(CellState::kFree, s.cells[5].state);
  EXPECT_EQ(0x10u, s.cells[6].offset);
  EXPECT_EQ(CellState::kLive, s.cells[6].state);
  EXPECT_EQ(11u, s.cells[6].stack);
  EXPECT_EQ(CellState::kFree, s.cells[7].state);
}

TEST(HeapMapTest, AggregatesToTheCellLimitKeepingPinners) {
  HeapModel m(kPage);
  const uint64_t n = 20000;
  m.Apply(Ev(HeapEventKind::kHeapGrow, 1, kBase, n * 64 + kPage));
  for (uint64_t i = 0; i < n; ++i) {
    m.Apply(
        Ev(HeapEventKind::kAlloc, 2 + i, kBase + i * 64, 48, 48, 1 + i % 5));
  }
  // Free every third chunk, and release the pages of the last quarter.
  for (uint64_t i = 0; i < n; i += 3) {
    m.Apply(Ev(HeapEventKind::kFree, 30000 + i, kBase + i * 64, 0));
  }
  const uint64_t pin = kBase + (n / 2) * 64;
  HeapMapOptions opt;
  opt.max_cells = 500;
  HeapMapSnapshot s = SnapshotHeapMap(m, {pin}, opt);
  CheckCells(s);
  EXPECT_TRUE(s.truncated);
  EXPECT_LE(s.cells.size(), 500u);
  EXPECT_GT(s.cells.size(), 400u);
  uint64_t live = 0, pinning = 0, mixed = 0;
  for (const MapCell& c : s.cells) {
    live += c.live_bytes;
    pinning += c.state == CellState::kPinning;
    mixed += c.state == CellState::kMixed;
    if (c.state == CellState::kPinning) {
      EXPECT_EQ(pin - kBase, c.offset);
      EXPECT_EQ(48u, c.size);
    }
  }
  EXPECT_EQ(1u, pinning);
  EXPECT_GT(mixed, 300u);
  EXPECT_EQ(m.Stats().live_bytes, live);
}

TEST(HeapMapTest, RandomHeapsStayWithinLimits) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 20; ++round) {
    HeapModel m(kPage);
    const uint64_t pages = 1 + rng() % 512;
    m.Apply(Ev(HeapEventKind::kHeapGrow, 1, kBase, pages * kPage));
    std::vector<uint64_t> live;
    for (int i = 0; i < 3000; ++i) {
      const uint64_t a = kBase + (rng() % (pages * kPage / 16)) * 16;
      const uint64_t size = 16 * (1 + rng() % 8);
      if (a + size > kBase + pages * kPage) continue;
      if (m.free_space().Covers(a, a + size)) {
        m.Apply(Ev(HeapEventKind::kAlloc, 2 + i, a, size, size, rng() % 9));
        live.push_back(a);
      } else if (!live.empty() && rng() % 2) {
        const size_t k = rng() % live.size();
        m.Apply(Ev(HeapEventKind::kFree, 2 + i, live[k], 0));
        live[k] = live.back();
        live.pop_back();
      }
      if (rng() % 50 == 0) {
        m.Apply(Ev(HeapEventKind::kMadvise, 2 + i,
                   kBase + (rng() % pages) * kPage, kPage));
      }
    }
    HeapMapOptions opt;
    opt.max_cells = 1 + rng() % 2000;
    std::vector<uint64_t> pinners(
        live.begin(), live.begin() + std::min<size_t>(3, live.size()));
    HeapMapSnapshot s = SnapshotHeapMap(m, pinners, opt);
    CheckCells(s);
    EXPECT_LE(s.cells.size(), std::max<size_t>(opt.max_cells, 1 + 2 * 3 + 1))
        << "round " << round;
    uint64_t live_bytes = 0, released = 0;
    for (const MapCell& c : s.cells) {
      live_bytes += c.live_bytes;
      released += c.released_bytes;
    }
    EXPECT_EQ(m.Stats().live_bytes, live_bytes) << "round " << round;
    uint64_t free_released = 0;
    for (const auto& [a, b] : m.free_space().intervals()) {
      free_released += (b - a) - m.resident().Overlap(a, b);
    }
    EXPECT_EQ(free_released, released) << "round " << round;
  }
}

TEST(HeapMapTest, RegionLimitDropsTheSmallest) {
  HeapModel m(kPage);
  for (uint64_t i = 0; i < 10; ++i) {
    m.Apply(Ev(HeapEventKind::kMmap, 1 + i, 0x7f0000000000 + i * 0x100000,
               (1 + i) * kPage));
  }
  HeapMapOptions opt;
  opt.max_regions = 4;
  HeapMapSnapshot s = SnapshotHeapMap(m, {}, opt);
  ASSERT_EQ(4u, s.regions.size());
  EXPECT_EQ(6u, s.regions_omitted);
  EXPECT_EQ(7 * kPage, s.regions[0].size);
  EXPECT_EQ(10 * kPage, s.regions[3].size);
  EXPECT_LT(s.regions[0].start, s.regions[3].start);
}

// The pin_top shape: the peak snapshot is taken before the frees, so it shows
// the live blocks; the end snapshot shows the pinner above the freed heap.
TEST(HeapMapTest, TrackerSnapshotsThePeakBeforeTheFrees) {
  LayoutOptions opt;
  opt.heap_map = true;
  LayoutAnalysis la(opt);
  uint64_t t = 1;
  const uint64_t n = 2000;
  for (uint64_t i = 0; i < n; ++i) {
    if (i % 8 == 0) {
      la.Consume(Ev(HeapEventKind::kHeapGrow, t++, kBase + i * 512, 8 * 512));
    }
    la.Consume(Ev(HeapEventKind::kAlloc, t++, kBase + i * 512, 500, 512, 1));
  }
  la.Consume(Ev(HeapEventKind::kHeapGrow, t++, kBase + n * 512, kPage));
  const uint64_t pin_time = t;
  la.Consume(Ev(HeapEventKind::kAlloc, t++, kBase + n * 512, 40, 48, 2));
  for (uint64_t i = 0; i < n; ++i) {
    la.Consume(Ev(HeapEventKind::kFree, t++, kBase + i * 512, 0));
  }
  LayoutReport r = la.Finish();
  const HeapMapSnapshot& peak = r.heap_map_peak;
  const HeapMapSnapshot& end = r.heap_map_end;
  ASSERT_TRUE(peak.valid);
  ASSERT_TRUE(end.valid);
  CheckCells(peak);
  CheckCells(end);
  uint64_t peak_live = 0;
  for (const MapCell& c : peak.cells) peak_live += c.live_bytes;
  EXPECT_EQ(n * 512 + 48, peak_live);
  EXPECT_EQ(pin_time, peak.time_ns);  // the last moment before the frees
  ASSERT_FALSE(end.cells.empty());
  int pinning = 0;
  for (const MapCell& c : end.cells) {
    if (c.state == CellState::kPinning) {
      ++pinning;
      EXPECT_EQ(2u, c.stack);
      EXPECT_EQ(40u, c.requested);
    }
  }
  EXPECT_EQ(1, pinning);
}

}  // namespace
}  // namespace heaplens::layout

#include "analyzer/layout/heap_model.h"

#include "gtest/gtest.h"

namespace heaplens::layout {
namespace {

constexpr uint64_t kBase = 0x10000000;
constexpr uint64_t kPage = 4096;

HeapEvent Ev(HeapEventKind k, uint64_t t, uint64_t addr, uint64_t size,
             uint64_t usable = 0, uint64_t stack = 0, uint32_t tid = 1) {
  HeapEvent e;
  e.kind = k;
  e.time_ns = t;
  e.address = addr;
  e.size = size;
  e.usable = usable ? usable : size;
  e.stack = stack;
  e.tid = tid;
  return e;
}

TEST(HeapModelTest, GrowAllocFree) {
  HeapModel m(kPage);
  m.Apply(Ev(HeapEventKind::kHeapGrow, 1, kBase, 16 * kPage));
  HeapStats s = m.Stats();
  EXPECT_EQ(16 * kPage, s.extent_bytes);
  EXPECT_EQ(kBase + 16 * kPage, s.brk_top);
  EXPECT_EQ(0u, s.resident_bytes);
  EXPECT_EQ(1u, s.free_runs);
  EXPECT_DOUBLE_EQ(1.0, s.fragmentation);

  m.Apply(Ev(HeapEventKind::kAlloc, 2, kBase + 100, 40, 48, 7));
  s = m.Stats();
  EXPECT_EQ(48u, s.live_bytes);
  EXPECT_EQ(40u, s.live_requested_bytes);
  EXPECT_EQ(kPage, s.resident_bytes);
  EXPECT_EQ(2u, s.free_runs);
  EXPECT_EQ(16 * kPage - 148, s.largest_free_run);
  EXPECT_EQ(16 * kPage - 48, s.free_bytes);

  // A chunk across a page boundary makes both pages resident.
  m.Apply(Ev(HeapEventKind::kAlloc, 3, kBase + 2 * kPage - 8, 16));
  EXPECT_EQ(3 * kPage, m.Stats().resident_bytes);

  m.Apply(Ev(HeapEventKind::kFree, 4, kBase + 100, 0, 0, 0, 5));
  s = m.Stats();
  EXPECT_EQ(16u, s.live_bytes);
  EXPECT_EQ(2u, s.free_runs);
  EXPECT_EQ(3 * kPage, s.resident_bytes);  // freed, not released
  EXPECT_EQ(48u, m.retained().total());
  EXPECT_EQ(48u, m.retained().by_thread().at(5));

  m.Apply(Ev(HeapEventKind::kMadvise, 5, kBase, kPage));
  EXPECT_EQ(2 * kPage, m.Stats().resident_bytes);
  EXPECT_EQ(0u, m.retained().total());
  EXPECT_EQ(0u, m.anomalies());
}

TEST(HeapModelTest, ShrinkAndMmapRegions) {
  HeapModel m(kPage);
  m.Apply(Ev(HeapEventKind::kHeapGrow, 1, kBase, 8 * kPage));
  m.Apply(Ev(HeapEventKind::kAlloc, 2, kBase + 7 * kPage, 100));
  m.Apply(Ev(HeapEventKind::kFree, 3, kBase + 7 * kPage, 0));
  m.Apply(Ev(HeapEventKind::kHeapShrink, 4, kBase + 4 * kPage, 4 * kPage));
  HeapStats s = m.Stats();
  EXPECT_EQ(4 * kPage, s.extent_bytes);
  EXPECT_EQ(kBase + 4 * kPage, s.brk_top);
  EXPECT_EQ(0u, s.resident_bytes);

  const uint64_t big = 0x7f0000000000;
  m.Apply(Ev(HeapEventKind::kMmap, 5, big, 33 * kPage));
  m.Apply(Ev(HeapEventKind::kAlloc, 6, big + 16, 128 << 10, 32 * kPage + 100));
  s = m.Stats();
  EXPECT_EQ(37 * kPage, s.extent_bytes);
  EXPECT_EQ(33 * kPage, s.mmap_extent_bytes);
  EXPECT_EQ(33 * kPage, s.resident_bytes);
  m.Apply(Ev(HeapEventKind::kFree, 7, big + 16, 0));
  m.Apply(Ev(HeapEventKind::kMunmap, 8, big, 33 * kPage));
  s = m.Stats();
  EXPECT_EQ(4 * kPage, s.extent_bytes);
  EXPECT_EQ(0u, s.resident_bytes);
  EXPECT_EQ(0u, s.live_bytes);
  EXPECT_EQ(1u, s.free_runs);
}

TEST(HeapModelTest, ReallocMovesAndResizesInPlace) {
  HeapModel m(kPage);
  m.Apply(Ev(HeapEventKind::kHeapGrow, 1, kBase, 4 * kPage));
  m.Apply(Ev(HeapEventKind::kAlloc, 2, kBase, 100, 112, 1));
  HeapEvent r = Ev(HeapEventKind::kRealloc, 3, kBase, 200, 208, 2);
  r.old_address = kBase;
  m.Apply(r);
  EXPECT_EQ(208u, m.Stats().live_bytes);
  EXPECT_EQ(2u, m.chunks().at(kBase).stack);
  r = Ev(HeapEventKind::kRealloc, 4, kBase + kPage, 300, 304, 3);
  r.old_address = kBase;
  m.Apply(r);
  HeapStats s = m.Stats();
  EXPECT_EQ(304u, s.live_bytes);
  EXPECT_EQ(1u, s.live_chunks);
  EXPECT_EQ(3 * kPage - 304, s.largest_free_run);
  EXPECT_EQ(0u, m.anomalies());
}

TEST(HeapModelTest, AnomaliesAreCountedAndIgnored) {
  HeapModel m(kPage);
  m.Apply(Ev(HeapEventKind::kHeapGrow, 1, kBase, kPage));
  m.Apply(Ev(HeapEventKind::kFree, 2, kBase + 8, 0));
  m.Apply(Ev(HeapEventKind::kAlloc, 3, kBase + 16, 10));
  m.Apply(Ev(HeapEventKind::kAlloc, 4, kBase + 16, 20));
  EXPECT_EQ(2u, m.anomalies());
  EXPECT_EQ(20u, m.Stats().live_bytes);
}

TEST(HeapModelTest, PinnedBytesIsTheFreeSpaceBelowTheTopChunk) {
  HeapModel m(kPage);
  m.Apply(Ev(HeapEventKind::kHeapGrow, 1, kBase, 64 * kPage));
  EXPECT_EQ(0u, m.PinnedBytes());
  for (uint64_t i = 0; i < 10; ++i)
    m.Apply(Ev(HeapEventKind::kAlloc, 2, kBase + i * 1000, 1000));
  m.Apply(Ev(HeapEventKind::kAlloc, 3, kBase + 10000, 40, 48));
  EXPECT_EQ(0u, m.PinnedBytes());
  HeapEvent top_free = Ev(HeapEventKind::kFree, 4, kBase + 10000, 0);
  EXPECT_TRUE(m.MayLowerPinned(top_free));
  for (uint64_t i = 0; i < 10; i += 2)
    m.Apply(Ev(HeapEventKind::kFree, 4, kBase + i * 1000, 0));
  EXPECT_EQ(5000u, m.PinnedBytes());
  EXPECT_FALSE(m.MayLowerPinned(Ev(HeapEventKind::kFree, 5, kBase + 1000, 0)));
  EXPECT_TRUE(m.MayLowerPinned(top_free));
  m.Apply(top_free);
  EXPECT_EQ(5000u, m.PinnedBytes());  // the chunk at 9000 is the top now
  m.Apply(Ev(HeapEventKind::kFree, 6, kBase + 9000, 0));
  EXPECT_EQ(4000u, m.PinnedBytes());  // 8000..10000 is top free now
}

}  // namespace
}  // namespace heaplens::layout

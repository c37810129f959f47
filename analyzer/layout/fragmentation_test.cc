#include "analyzer/layout/fragmentation.h"

#include "analyzer/layout/layout_analysis.h"
#include "gtest/gtest.h"

namespace heaplens::layout {
namespace {

constexpr uint64_t kBase = 0x5000000;
constexpr uint64_t kPage = 4096;

HeapEvent Ev(HeapEventKind k, uint64_t t, uint64_t addr, uint64_t size,
             uint64_t stack = 0) {
  HeapEvent e;
  e.kind = k;
  e.time_ns = t;
  e.address = addr;
  e.size = size;
  e.usable = size;
  e.stack = stack;
  return e;
}

TEST(FragmentationTest, PeakEndAndMarks) {
  LayoutOptions opt;
  opt.page_size = kPage;
  LayoutAnalysis a(opt);
  a.Consume(Ev(HeapEventKind::kHeapGrow, 10, kBase, 100 * kPage));
  for (uint64_t i = 0; i < 100; ++i)
    a.Consume(Ev(HeapEventKind::kAlloc, 20 + i, kBase + i * kPage, kPage, 1));
  HeapEvent mark = Ev(HeapEventKind::kMark, 200, 0, 1);
  a.Consume(mark);
  for (uint64_t i = 0; i < 99; ++i)
    a.Consume(Ev(HeapEventKind::kFree, 300 + i, kBase + i * kPage, 0));
  a.Consume(Ev(HeapEventKind::kMadvise, 500, kBase, 99 * kPage));
  mark.time_ns = 600;
  mark.size = 2;
  a.Consume(mark);
  LayoutReport r = a.Finish();
  const FragmentationReport& f = r.fragmentation;

  EXPECT_EQ(119u, f.peak.time_ns);  // the last page became resident
  EXPECT_EQ(100 * kPage, f.peak.extent_bytes);
  EXPECT_EQ(100 * kPage, f.peak.resident_bytes);
  EXPECT_EQ(100 * kPage, f.peak.live_bytes);
  EXPECT_DOUBLE_EQ(0.0, f.peak.fragmentation);

  EXPECT_EQ(kPage, f.end.live_bytes);
  EXPECT_EQ(kPage, f.end.resident_bytes);
  EXPECT_EQ(99 * kPage, f.end.free_bytes);
  EXPECT_EQ(1u, f.end.free_runs);
  EXPECT_DOUBLE_EQ(0.99, f.end.fragmentation);

  ASSERT_EQ(2u, f.marks.size());
  EXPECT_EQ(1u, f.marks[0].id);
  EXPECT_EQ(100 * kPage, f.marks[0].brk_resident_bytes);
  EXPECT_EQ(kBase + 100 * kPage, f.marks[0].brk);
  EXPECT_EQ(2u, f.marks[1].id);
  EXPECT_EQ(kPage, f.marks[1].brk_resident_bytes);
}

TEST(FragmentationTest, TimelineHasAFixedNumberOfSamples) {
  for (uint64_t duration : {0ull, 1000000ull}) {
    for (uint64_t events : {10ull, 1000ull, 100000ull}) {
      FragmentationOptions fo;
      fo.samples = 50;
      fo.duration_ns = duration ? events * 10 : 0;
      LayoutOptions opt;
      opt.fragmentation = fo;
      LayoutAnalysis a(opt);
      a.Consume(Ev(HeapEventKind::kHeapGrow, 0, kBase, 1 << 30));
      for (uint64_t i = 1; i <= events; ++i)
        a.Consume(Ev(HeapEventKind::kAlloc, i * 10, kBase + i * 64, 64));
      LayoutReport r = a.Finish();
      const auto& tl = r.fragmentation.timeline;
      if (duration) {
        EXPECT_EQ(50u, tl.size()) << events;
      } else {
        EXPECT_LE(tl.size(), 50u) << events;
        EXPECT_GE(tl.size(), 25u) << events;
      }
      for (size_t i = 1; i < tl.size(); ++i) {
        EXPECT_LT(tl[i - 1].time_ns, tl[i].time_ns);
        EXPECT_LE(tl[i - 1].live_bytes, tl[i].live_bytes);
        // A sample at t holds every event at or before t.
        EXPECT_EQ(tl[i].time_ns / 10 * 64, tl[i].live_bytes);
      }
    }
  }
}

TEST(FragmentationTest, SeparatorsAreRankedByTheFreeBytesTheySeparate) {
  HeapModel m(kPage);
  m.Apply(Ev(HeapEventKind::kHeapGrow, 1, kBase, 1000 * kPage));
  // [free 100 pages][A][free 200 pages][B B][free 50 pages][C][free 5][D]...
  m.Apply(Ev(HeapEventKind::kAlloc, 2, kBase + 100 * kPage, 64, 10));
  m.Apply(Ev(HeapEventKind::kAlloc, 2, kBase + 300 * kPage, 64, 20));
  m.Apply(Ev(HeapEventKind::kAlloc, 2, kBase + 300 * kPage + 64, 64, 20));
  m.Apply(Ev(HeapEventKind::kAlloc, 2, kBase + 351 * kPage, 64, 30));
  m.Apply(Ev(HeapEventKind::kAlloc, 2, kBase + 356 * kPage, 64, 40));
  m.Apply(Ev(HeapEventKind::kAlloc, 2, kBase + 999 * kPage, 64, 50));
  auto sites = AttributeSeparators(m, 32 * kPage, 10);
  ASSERT_EQ(4u, sites.size());
  EXPECT_EQ(10u, sites[0].stack);  // between 100 and ~200 pages
  EXPECT_EQ(100 * kPage, sites[0].separated_bytes);
  EXPECT_EQ(20u, sites[1].stack);  // between ~200 and ~50 pages
  EXPECT_EQ(2u, sites[1].chunks);
  EXPECT_EQ(128u, sites[1].chunk_bytes);
  EXPECT_EQ(51 * kPage - 128, sites[1].separated_bytes);
  // 30 and 40 share one group (the 5-page run between them is small); the
  // group separates ~51 pages from ~643 pages, and ties go by stack id.
  EXPECT_EQ(30u, sites[2].stack);
  EXPECT_EQ(40u, sites[3].stack);
  EXPECT_EQ(51 * kPage - 128, sites[3].separated_bytes);
  EXPECT_EQ(1u, sites[3].groups);
  auto all = AttributeSeparators(m, 32 * kPage, 2);
  EXPECT_EQ(2u, all.size());
}

}  // namespace
}  // namespace heaplens::layout

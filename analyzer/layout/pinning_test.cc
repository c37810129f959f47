#include "analyzer/layout/pinning.h"

#include "analyzer/layout/layout_analysis.h"
#include "gtest/gtest.h"

namespace heaplens::layout {
namespace {

constexpr uint64_t kBase = 0x5000000;
constexpr uint64_t kPage = 4096;

HeapEvent Ev(HeapEventKind k, uint64_t t, uint64_t addr, uint64_t size,
             uint64_t stack = 0, uint32_t tid = 1) {
  HeapEvent e;
  e.kind = k;
  e.time_ns = t;
  e.address = addr;
  e.size = size;
  e.usable = size;
  e.stack = stack;
  e.tid = tid;
  return e;
}

// pin_top in miniature: n 512-byte blocks, one 48-byte block above them,
// then the blocks are freed and part of the heap is madvised.
TEST(PinningTest, OneSmallChunkPinsTheHeapBelowIt) {
  LayoutOptions opt;
  opt.page_size = kPage;
  LayoutAnalysis a(opt);
  uint64_t t = 0;
  const uint64_t n = 2048, heap = n * 512 + kPage;
  a.Consume(Ev(HeapEventKind::kHeapGrow, ++t, kBase, heap));
  for (uint64_t i = 0; i < n; ++i)
    a.Consume(Ev(HeapEventKind::kAlloc, ++t, kBase + i * 512, 512, 1));
  const uint64_t pin = kBase + n * 512;
  const uint64_t pin_time = ++t;
  a.Consume(Ev(HeapEventKind::kAlloc, pin_time, pin, 48, 2));
  for (uint64_t i = 0; i < n; ++i)
    a.Consume(Ev(HeapEventKind::kFree, ++t, kBase + i * 512, 0, 0, 7));
  // The allocator releases the lower half of the free pages.
  a.Consume(Ev(HeapEventKind::kMadvise, ++t, kBase, n * 256));
  LayoutReport r = a.Finish();

  const PinningSnapshot& end = r.pinning.end;
  EXPECT_EQ(n * 512, end.pinned_bytes);
  EXPECT_EQ(n * 256, end.resident_pinned_bytes);
  ASSERT_EQ(1u, end.pinners.size());
  const Pinner& p = end.pinners[0];
  EXPECT_EQ(pin, p.address);
  EXPECT_EQ(48u, p.size);
  EXPECT_EQ(2u, p.stack);
  EXPECT_EQ(pin_time, p.alloc_time_ns);
  EXPECT_EQ(n * 512, p.bytes_pinned);
  EXPECT_EQ(n * 256, p.resident_pinned);
  EXPECT_EQ(1u, p.chunks_above);
  EXPECT_EQ(heap, p.cumulative_releasable);
  EXPECT_EQ(heap - n * 512 - 48, end.top_free_bytes);
  EXPECT_EQ(0u, end.unlisted_pinned_bytes);

  // The worst moment is the end here (pinned bytes only grew).
  EXPECT_EQ(n * 512, r.pinning.max_pinned_bytes);
  EXPECT_EQ(n * 512, r.pinning.worst.pinned_bytes);

  // Retention: what thread 7 freed and was not released.
  EXPECT_EQ(n * 256, r.pinning.retention.retained_bytes);
  ASSERT_EQ(1u, r.pinning.retention.by_thread.size());
  EXPECT_EQ(7u, r.pinning.retention.by_thread[0].first);
}

TEST(PinningTest, WorstMomentIsCapturedBeforeThePinnerIsFreed) {
  LayoutOptions opt;
  opt.page_size = kPage;
  LayoutAnalysis a(opt);
  uint64_t t = 0;
  a.Consume(Ev(HeapEventKind::kHeapGrow, ++t, kBase, 64 * kPage));
  a.Consume(Ev(HeapEventKind::kAlloc, ++t, kBase, 32 * kPage, 1));
  a.Consume(Ev(HeapEventKind::kAlloc, ++t, kBase + 32 * kPage, 100, 2));
  a.Consume(Ev(HeapEventKind::kAlloc, ++t, kBase + 48 * kPage, 100, 3));
  a.Consume(Ev(HeapEventKind::kFree, ++t, kBase, 0));
  const uint64_t worst_time = t;
  a.Consume(Ev(HeapEventKind::kFree, ++t, kBase + 48 * kPage, 0));  // top
  a.Consume(
      Ev(HeapEventKind::kHeapShrink, ++t, kBase + 33 * kPage, 31 * kPage));
  LayoutReport r = a.Finish();

  const PinningSnapshot& w = r.pinning.worst;
  EXPECT_EQ(worst_time, w.time_ns);
  EXPECT_EQ(48 * kPage - 100, w.pinned_bytes);
  ASSERT_EQ(2u, w.pinners.size());
  EXPECT_EQ(3u, w.pinners[0].stack);
  EXPECT_EQ(16 * kPage - 100, w.pinners[0].bytes_pinned);
  EXPECT_EQ(kPage * 64 - (32 * kPage + 100),
            w.pinners[0].cumulative_releasable);
  EXPECT_EQ(2u, w.pinners[1].stack);
  EXPECT_EQ(32 * kPage, w.pinners[1].bytes_pinned);
  EXPECT_EQ(2u, w.pinners[1].chunks_above);
  EXPECT_EQ(64 * kPage, w.pinners[1].cumulative_releasable);
  EXPECT_EQ(r.pinning.max_pinned_bytes, w.pinned_bytes);

  EXPECT_EQ(32 * kPage, r.pinning.end.pinned_bytes);
  EXPECT_EQ(kBase + 33 * kPage, r.pinning.end.brk_top);
}

TEST(PinningTest, WalkStopsAtMaxPinners) {
  HeapModel m(kPage);
  m.Apply(Ev(HeapEventKind::kHeapGrow, 1, kBase, 100 * kPage));
  for (uint64_t i = 0; i < 50; ++i)
    m.Apply(Ev(HeapEventKind::kAlloc, 2, kBase + 2 * i * kPage + kPage, 8, i));
  PinningOptions opt;
  opt.max_pinners = 5;
  PinningSnapshot s = EvaluatePinning(m, opt);
  ASSERT_EQ(5u, s.pinners.size());
  EXPECT_EQ(49u, s.pinners[0].stack);
  EXPECT_EQ(45u, s.pinners[4].stack);
  EXPECT_EQ(s.pinned_bytes - 5 * (2 * kPage - 8), s.unlisted_pinned_bytes);
}

TEST(PinningTest, NoLiveChunkMeansNothingPinned) {
  HeapModel m(kPage);
  m.Apply(Ev(HeapEventKind::kHeapGrow, 1, kBase, 10 * kPage));
  PinningSnapshot s = EvaluatePinning(m, PinningOptions());
  EXPECT_EQ(0u, s.pinned_bytes);
  EXPECT_EQ(10 * kPage, s.top_free_bytes);
  EXPECT_TRUE(s.pinners.empty());
}

}  // namespace
}  // namespace heaplens::layout

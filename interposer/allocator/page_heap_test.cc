// Unit tests of the page heap and central lists on FakeOs: no real break.
#include "interposer/allocator/page_heap.h"

#include <string.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "interposer/allocator/central_list.h"
#include "interposer/allocator/fake_os.h"
#include "interposer/options.h"

namespace heaplens {
namespace {

PageHeap::Config DefaultConfig() {
  PageHeap::Config c;
  c.trim_threshold = 128 << 10;
  c.top_pad = 64 << 10;
  c.heap_grow_min = 1 << 20;
  c.release_policy = kReleaseDecay;
  c.release_min = 64 << 10;
  c.dirty_max = 4 << 20;
  c.decay_ms = 1000;
  c.large_cache = 64 << 20;
  return c;
}

class PageHeapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitSizeClasses();
    map_ = std::make_unique<PageMap>();
    heap_.reset(static_cast<PageHeap*>(calloc(1, sizeof(PageHeap))));
    Start(DefaultConfig());
  }
  void Start(const PageHeap::Config& c) { heap_->Init(&os_, map_.get(), c); }
  Span* New(size_t pages) {
    PageHeap::Locked h(heap_.get());
    return heap_->New(pages);
  }
  void Delete(Span* s) {
    PageHeap::Locked h(heap_.get());
    heap_->Delete(s);
  }
  struct FreeDeleter {
    void operator()(PageHeap* p) { free(p); }
  };

  FakeOs os_;
  std::unique_ptr<PageMap> map_;
  std::unique_ptr<PageHeap, FreeDeleter> heap_;
};

TEST_F(PageHeapTest, GrowsTheBreakPageAligned) {
  Span* s = New(3);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->start % kPageSize, 0u);
  EXPECT_GE(s->start, reinterpret_cast<uintptr_t>(os_.base()));
  EXPECT_LE(s->end(), reinterpret_cast<uintptr_t>(os_.brk()));
  EXPECT_EQ(s->state, SpanState::kLarge);
  EXPECT_EQ(map_->Get(reinterpret_cast<void*>(s->start)), s);
  memset(reinterpret_cast<void*>(s->start), 1, s->bytes());
  PageHeap::Stats st = heap_->GetStats();
  EXPECT_EQ(st.regions, 1u);
  EXPECT_GE(st.brk_bytes, size_t{1} << 20);
}

TEST_F(PageHeapTest, CoalescesAndTrimsTheTop) {
  std::vector<Span*> spans;
  for (int i = 0; i < 200; ++i) spans.push_back(New(4));  // 3.2 MB
  char* peak = os_.brk();
  for (Span* s : spans) Delete(s);
  // Everything free and coalesced: the break dropped to leave top_pad.
  EXPECT_LT(os_.brk(), peak);
  PageHeap::Stats st = heap_->GetStats();
  EXPECT_LE(st.free_bytes, (64u << 10) + kPageSize);
  EXPECT_EQ(st.in_use_spans, 0u);
}

TEST_F(PageHeapTest, LiveTopBlockPinsButMadviseReleases) {
  std::vector<Span*> spans;
  for (int i = 0; i < 2000; ++i) spans.push_back(New(8));  // ~64 MB
  Span* top = New(1);
  char* peak = os_.brk();
  for (Span* s : spans) Delete(s);
  // Pinned by `top`: only the untouched space above it may go.
  EXPECT_GE(reinterpret_cast<uintptr_t>(os_.brk()), top->end());
  PageHeap::Stats st = heap_->GetStats();
  EXPECT_GE(st.free_bytes, size_t{60} << 20);
  EXPECT_LE(st.dirty_bytes, size_t{4} << 20);  // dirty_max
  EXPECT_GE(os_.released_bytes, size_t{50} << 20);
  char* pinned_brk = os_.brk();
  Delete(top);
  EXPECT_LT(os_.brk(), pinned_brk);
  EXPECT_LT(os_.brk(), peak);
}

TEST_F(PageHeapTest, DecayReleasesOldFreeRuns) {
  Span* a = New(64);  // 256 KiB
  Span* pin = New(1);
  Delete(a);
  EXPECT_EQ(os_.released_bytes, 0u);  // under dirty_max: kept
  os_.now_ms += 2000;
  heap_->Tick();
  EXPECT_GE(os_.released_bytes, size_t{256} << 10);
  Delete(pin);
}

TEST_F(PageHeapTest, EagerReleasesAtOnce) {
  PageHeap::Config c = DefaultConfig();
  c.release_policy = kReleaseEager;
  heap_->Configure(c);
  Span* a = New(32);
  Span* pin = New(1);
  Delete(a);
  EXPECT_EQ(os_.released_bytes, size_t{32} * kPageSize);
  Delete(pin);
}

TEST_F(PageHeapTest, SmallRunsAreNotMadvised) {
  PageHeap::Config c = DefaultConfig();
  c.release_policy = kReleaseEager;
  heap_->Configure(c);
  Span* a = New(2);
  Span* pin = New(1);
  Delete(a);
  EXPECT_EQ(os_.releases, 0);
  Delete(pin);
}

TEST_F(PageHeapTest, FallsBackToMmapWhenBrkFails) {
  os_.fail_brk = true;
  Span* s = New(10);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(os_.maps, 1);
  PageHeap::Stats st = heap_->GetStats();
  EXPECT_EQ(st.brk_bytes, 0u);
  EXPECT_GE(st.heap_bytes, size_t{4} << 20);
  memset(reinterpret_cast<void*>(s->start), 7, s->bytes());
  Delete(s);
}

TEST_F(PageHeapTest, ForeignSbrkStartsANewExtent) {
  Span* a = New(300);  // exhausts the first 1 MiB grow partly
  os_.ForeignSbrk(12345);
  Span* b = New(400);  // needs a new grow beyond the foreign bytes
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->start % kPageSize, 0u);
  PageHeap::Stats st = heap_->GetStats();
  EXPECT_EQ(st.regions, 2u);
  Delete(a);
  Delete(b);
  // The break is not ours any more at the old end: never trimmed below the
  // foreign user's bytes.
}

TEST_F(PageHeapTest, AlignedSpans) {
  for (size_t align : {2u, 4u, 16u}) {
    PageHeap::Locked h(heap_.get());
    Span* s = heap_->NewAligned(3, align);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->start % (align * kPageSize), 0u);
    EXPECT_EQ(s->npages, 3u);
    heap_->Delete(s);
  }
  EXPECT_EQ(heap_->GetStats().in_use_spans, 0u);
}

TEST_F(PageHeapTest, MmappedBlocksAreCachedAndReused) {
  Span* a = heap_->NewMmapped(5 << 20, kPageSize);
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->fresh);
  uintptr_t addr = a->start;
  heap_->DeleteMmapped(a);
  EXPECT_EQ(heap_->GetStats().cached_bytes, size_t{5} << 20);
  Span* b = heap_->NewMmapped(4 << 20, kPageSize);
  EXPECT_EQ(b->start, addr);  // reused, not remapped
  EXPECT_FALSE(b->fresh);
  heap_->DeleteMmapped(b);
  Span* c = heap_->NewMmapped(20 << 20, kPageSize);  // grows by mremap
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->bytes(), size_t{20} << 20);
  heap_->DeleteMmapped(c);
  os_.now_ms += 5000;
  heap_->Tick();
  EXPECT_EQ(heap_->GetStats().cached_bytes, 0u);
}

TEST_F(PageHeapTest, MmappedAligned) {
  Span* a = heap_->NewMmapped(300 << 10, 1 << 20);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->start % (1 << 20), 0u);
  heap_->DeleteMmapped(a);
}

TEST_F(PageHeapTest, CentralListRoundTrip) {
  CentralFreeList* central =
      static_cast<CentralFreeList*>(calloc(1, sizeof(CentralFreeList)));
  uint32_t cl = ClassOf(48);
  central->Init(cl, heap_.get());
  std::vector<FreeObject*> objs;
  for (int i = 0; i < 100; ++i) {
    FreeObject* chain;
    ASSERT_EQ(central->RemoveRange(&chain, 10), 10);
    for (FreeObject* o = chain; o != nullptr; o = o->next()) objs.push_back(o);
  }
  ASSERT_EQ(objs.size(), 1000u);
  std::sort(objs.begin(), objs.end());
  for (size_t i = 1; i < objs.size(); ++i) {
    ASSERT_GE(
        reinterpret_cast<char*>(objs[i]) - reinterpret_cast<char*>(objs[i - 1]),
        48);
  }
  EXPECT_GT(heap_->GetStats().in_use_spans, 0u);
  for (FreeObject* o : objs) {
    o->set_next(nullptr);
    central->InsertRange(o);
  }
  EXPECT_EQ(heap_->GetStats().in_use_spans, 0u);  // spans went back
  free(central);
}

}  // namespace
}  // namespace heaplens

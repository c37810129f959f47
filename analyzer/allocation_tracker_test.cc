#include "analyzer/allocation_tracker.h"

#include <algorithm>
#include <map>
#include <random>

#include "analyzer/testing/trace_builder.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace {

using namespace ::heaplens::testing;  // NOLINT: event constructors

void Feed(AllocationTracker& t, const std::vector<Event>& events) {
  for (const Event& e : events) t.OnEvent(e);
  t.OnEnd(ReplayStats{});
}

TEST(AllocationTrackerTest, LiveSetTotalsAndPeak) {
  AllocationTracker t;
  Feed(t, {Alloc(kMalloc, 1, 0x100, 10, 1), Alloc(kCalloc, 2, 0x200, 20, 2),
           Realloc(3, 0x100, 0x300, 100, 3), Free(kFree, 4, 0x200),
           AllocFailed(5, 1 << 30, 4)});
  EXPECT_EQ(t.live().size(), 1u);
  ASSERT_TRUE(t.live().contains(0x300));
  EXPECT_EQ(t.live().at(0x300).size, 100u);
  EXPECT_EQ(t.live().at(0x300).stack, 3u);
  EXPECT_EQ(t.allocations(), 3u);
  EXPECT_EQ(t.frees(), 2u);
  EXPECT_EQ(t.bytes_allocated(), 130u);
  EXPECT_EQ(t.peak_live_bytes(), 120u);
  EXPECT_EQ(t.failed_allocations(), 1u);
  EXPECT_TRUE(t.problems().empty());
}

TEST(AllocationTrackerTest, DoubleFreeHasBothStacks) {
  AllocationTracker t;
  Feed(t, {Alloc(kMalloc, 1, 0x100, 10, 7), Free(kFree, 2, 0x100),
           InvalidFree(3, 0x100, 9)});
  ASSERT_EQ(t.problems().size(), 1u);
  const FreeProblem& p = t.problems()[0];
  EXPECT_EQ(p.type, FreeProblemType::kDoubleFree);
  EXPECT_EQ(p.free_stack, 9u);
  EXPECT_EQ(p.alloc_stack, 7u);
  EXPECT_EQ(p.block_size, 10u);
  EXPECT_EQ(p.freed_time_ns, 2u);
}

TEST(AllocationTrackerTest, InteriorAndWildFrees) {
  AllocationTracker t;
  Feed(t, {Alloc(kMalloc, 1, 0x100, 64, 7), InvalidFree(2, 0x110, 9),
           InvalidFree(3, 0x9999, 9)});
  ASSERT_EQ(t.problems().size(), 2u);
  EXPECT_EQ(t.problems()[0].type, FreeProblemType::kInteriorFree);
  EXPECT_EQ(t.problems()[0].block_address, 0x100u);
  EXPECT_EQ(t.problems()[1].type, FreeProblemType::kInvalidFree);
  EXPECT_EQ(t.live().size(), 1u);
}

TEST(AllocationTrackerTest, MismatchedFrees) {
  AllocationTracker t;
  Feed(t, {Alloc(kMalloc, 1, 0x100, 8, 1), Free(kDelete, 2, 0x100),
           Alloc(kNew, 3, 0x200, 8, 2), Free(kFree, 4, 0x200),
           Alloc(kNewArray, 5, 0x300, 8, 3), Free(kDelete, 6, 0x300),
           Alloc(kNew, 7, 0x400, 8, 4), Realloc(8, 0x400, 0x500, 16, 5),
           Alloc(kNewArray, 9, 0x600, 8, 6), Free(kDeleteArray, 10, 0x600)});
  ASSERT_EQ(t.problems().size(), 4u);
  EXPECT_EQ(t.problems()[0].free_kind, kDelete);
  EXPECT_EQ(t.problems()[0].alloc_kind, kMalloc);
  EXPECT_EQ(t.problems()[1].alloc_kind, kNew);
  EXPECT_EQ(t.problems()[2].alloc_kind, kNewArray);
  EXPECT_EQ(t.problems()[3].free_kind, kRealloc);
  for (const FreeProblem& p : t.problems()) {
    EXPECT_EQ(p.type, FreeProblemType::kMismatchedFree);
  }
  EXPECT_EQ(t.live().size(), 1u);  // the realloc'd block
}

// A FREE of an address the trace never saw allocated is a block from before
// tracing (a forked child's inherited block): noted, not a free problem.
TEST(AllocationTrackerTest, FreeOfBlockFromBeforeTracingIsNotAProblem) {
  AllocationTracker t;
  Feed(t, {Free(kFree, 1, 0x100)});
  EXPECT_TRUE(t.problems().empty());
  EXPECT_EQ(t.frees(), 0u);
  ASSERT_EQ(t.notes().size(), 1u);
  EXPECT_NE(t.notes()[0].find("before tracing started"), std::string::npos);
}

// The live table against a std::map through growth and many deletions,
// with some blocks whose fields do not fit the packed slot.
TEST(AllocationTrackerTest, LiveTableMatchesReference) {
  AllocationTracker t;
  std::map<uint64_t, LiveBlock> want;
  std::vector<uint64_t> addrs;
  std::mt19937_64 rng(3);
  uint64_t time = 0, bytes = 0, peak = 0;
  std::vector<Event> span;
  for (int i = 0; i < 200000; ++i) {
    ++time;
    if (addrs.empty() || (addrs.size() < 5000 && rng() % 2 == 0)) {
      // Clustered addresses (one probe run for many) and a few odd blocks.
      const uint64_t a = (rng() % 3 == 0) ? 0x10000 + (rng() % 100000) * 16
                                          : rng() % (uint64_t{1} << 47);
      if (want.count(a)) continue;
      const bool odd = rng() % 50 == 0;
      Event e =
          Alloc(kNew, time, a, odd ? (uint64_t{1} << 50) + 5 : rng() % 4096,
                odd ? (uint64_t{1} << 40) : rng() % 8, odd ? 70000 : 16);
      e.tid = odd ? (1u << 30) : 42;
      span.push_back(e);
      want[a] = LiveBlock(e.size, e.slack, e.stack, e.time_ns, e.kind, e.tid);
      addrs.push_back(a);
      bytes += e.size;
      peak = std::max(peak, bytes);
    } else {
      const size_t k = rng() % addrs.size();
      const uint64_t a = addrs[k];
      addrs[k] = addrs.back();
      addrs.pop_back();
      span.push_back(Free(kDelete, time, a));
      bytes -= want[a].size;
      want.erase(a);
    }
    if (span.size() == 100 || i % 7 == 0) {
      t.OnEvents(span);
      span.clear();
    }
  }
  t.OnEvents(span);
  t.OnEnd(ReplayStats{});
  EXPECT_EQ(t.live_bytes(), bytes);
  EXPECT_EQ(t.peak_live_bytes(), peak);
  ASSERT_EQ(t.live().size(), want.size());
  for (const auto& [a, w] : want) {
    auto it = t.live().find(a);
    ASSERT_NE(it, t.live().end()) << a;
    const LiveBlock& b = it->second;
    EXPECT_EQ(b.size, w.size);
    EXPECT_EQ(b.slack, w.slack);
    EXPECT_EQ(b.stack, w.stack);
    EXPECT_EQ(b.time_ns, w.time_ns);
    EXPECT_EQ(b.kind, w.kind);
    EXPECT_EQ(b.tid, w.tid);
  }
  EXPECT_TRUE(t.problems().empty());
}

// 150,000 live blocks: the table grows through the sizes mapped in huge
// pages (2 MiB and more) and keeps every block.
TEST(AllocationTrackerTest, LargeLiveSetInHugeTables) {
  AllocationTracker t;
  std::mt19937_64 rng(11);
  std::vector<uint64_t> addrs;
  std::vector<Event> span;
  uint64_t time = 0;
  for (int i = 0; i < 150000; ++i) {
    const uint64_t a = 0x550000000000ull + (rng() % (uint64_t{1} << 32)) * 16;
    addrs.push_back(a);
    span.push_back(Alloc(kMalloc, ++time, a, 24 + i % 100, 8, 1 + i % 7));
  }
  std::sort(addrs.begin(), addrs.end());
  addrs.erase(std::unique(addrs.begin(), addrs.end()), addrs.end());
  t.OnEvents(span);  // (the few repeated addresses replace their block)
  span.clear();
  ASSERT_EQ(t.live().size(), addrs.size());
  // Free every other block; the rest must stay findable.
  for (size_t i = 0; i < addrs.size(); i += 2) {
    span.push_back(Free(kFree, ++time, addrs[i]));
  }
  t.OnEvents(span);
  t.OnEnd(ReplayStats{});
  const LiveSet& live = t.live();
  EXPECT_EQ(live.size(), addrs.size() / 2);
  for (size_t i = 0; i < addrs.size(); ++i) {
    EXPECT_EQ(live.contains(addrs[i]), i % 2 == 1) << i;
  }
  uint64_t bytes = 0;
  for (const auto& [a, b] : live) bytes += b.size;
  EXPECT_EQ(t.live_bytes(), bytes);
  EXPECT_TRUE(t.problems().empty());
}

// Blocks that do not pack: double and interior frees still name them.
TEST(AllocationTrackerTest, WideBlocksInFreeProblems) {
  AllocationTracker t;
  const uint64_t big_stack = uint64_t{1} << 60;
  Feed(t,
       {Alloc(kMalloc, 1, 0x100, 10, big_stack, 1 << 20), Free(kFree, 2, 0x100),
        InvalidFree(3, 0x100, 9),
        Alloc(kNewArray, 4, 0x1000, 1 << 20, 5, 1 << 20),
        InvalidFree(5, 0x1000 + (1 << 20) + 100, 9), Free(kDelete, 6, 0x1000)});
  ASSERT_EQ(t.problems().size(), 3u);
  EXPECT_EQ(t.problems()[0].type, FreeProblemType::kDoubleFree);
  EXPECT_EQ(t.problems()[0].alloc_stack, big_stack);
  EXPECT_EQ(t.problems()[0].alloc_kind, kMalloc);
  EXPECT_EQ(t.problems()[0].block_size, 10u);
  EXPECT_EQ(t.problems()[1].type, FreeProblemType::kInteriorFree);
  EXPECT_EQ(t.problems()[1].block_address, 0x1000u);
  EXPECT_EQ(t.problems()[1].alloc_kind, kNewArray);
  EXPECT_EQ(t.problems()[2].type, FreeProblemType::kMismatchedFree);
  EXPECT_EQ(t.live().size(), 0u);
  EXPECT_EQ(t.live_bytes(), 0u);
}

}  // namespace
}  // namespace heaplens

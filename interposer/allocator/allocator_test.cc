// In-process tests of the allocator front end (not preloaded: it coexists
// with glibc's malloc, including a second user of the break): enumeration of
// live chunks and heap regions, validation of frees, usable sizes.
#include "interposer/allocator/allocator.h"

#include <algorithm>
#include <set>
#include <vector>

#include "gtest/gtest.h"
#include "interposer/allocator/front_end.h"
#include "interposer/track.h"

namespace heaplens {
namespace {

std::set<uintptr_t> LiveChunks() {
  std::set<uintptr_t> out;
  uintptr_t last = 0;
  ForEachLiveChunk(
      [](void* arg, uintptr_t start, size_t) {
        static_cast<std::set<uintptr_t>*>(arg)->insert(start);
      },
      &out);
  (void)last;
  return out;
}

TEST(Allocator, LiveChunksExcludeCachedAndFreed) {
  std::vector<void*> v;
  for (int i = 0; i < 1000; ++i) {
    v.push_back(Malloc(i % 300 + 1, EventKind::kMalloc));
  }
  void* large = Malloc(60000, EventKind::kMalloc);
  void* huge = Malloc(1 << 20, EventKind::kMalloc);
  for (int i = 0; i < 1000; i += 2) Free(v[i], EventKind::kFree);
  std::set<uintptr_t> live = LiveChunks();
  for (int i = 0; i < 1000; ++i) {
    bool expect = i % 2 == 1;
    EXPECT_EQ(live.count(reinterpret_cast<uintptr_t>(v[i])) == 1, expect) << i;
  }
  EXPECT_EQ(live.count(reinterpret_cast<uintptr_t>(large)), 1u);
  EXPECT_EQ(live.count(reinterpret_cast<uintptr_t>(huge)), 1u);
  // Ascending order and inside the heap regions.
  std::vector<std::pair<uintptr_t, size_t>> regions;
  ForEachHeapRegion(
      [](void* arg, uintptr_t s, size_t n) {
        static_cast<std::vector<std::pair<uintptr_t, size_t>>*>(arg)
            ->emplace_back(s, n);
      },
      &regions);
  for (uintptr_t a : live) {
    bool inside = false;
    for (auto& r : regions) inside |= a >= r.first && a < r.first + r.second;
    EXPECT_TRUE(inside) << a;
  }
  for (int i = 1; i < 1000; i += 2) Free(v[i], EventKind::kFree);
  Free(large, EventKind::kFree);
  Free(huge, EventKind::kFree);
  live = LiveChunks();
  for (void* p : v) EXPECT_EQ(live.count(reinterpret_cast<uintptr_t>(p)), 0u);
}

TEST(Allocator, ChunksAreAscending) {
  std::vector<uintptr_t> order;
  void* keep[50];
  for (auto& k : keep) k = Malloc(100, EventKind::kMalloc);
  ForEachLiveChunk(
      [](void* arg, uintptr_t start, size_t) {
        static_cast<std::vector<uintptr_t>*>(arg)->push_back(start);
      },
      &order);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  for (auto& k : keep) Free(k, EventKind::kFree);
}

TEST(Allocator, UsableSizeAndInvalidPointers) {
  char* p = static_cast<char*>(Malloc(100, EventKind::kMalloc));
  EXPECT_EQ(UsableSize(p), 112u);
  EXPECT_EQ(UsableSize(p + 16), 0u);
  int x;
  EXPECT_EQ(UsableSize(&x), 0u);
  Free(p, EventKind::kFree);
  EXPECT_EQ(UsableSize(p), 0u);  // freed: not live
  Free(p, EventKind::kFree);     // double free: ignored
  void* a = Malloc(100, EventKind::kMalloc);
  void* b = Malloc(100, EventKind::kMalloc);
  EXPECT_NE(a, b);
  Free(a, EventKind::kFree);
  Free(b, EventKind::kFree);
}

TEST(Allocator, StatsTrackTheHeap) {
  AllocatorStats before = GetAllocatorStats();
  std::vector<void*> v;
  for (int i = 0; i < 10000; ++i) v.push_back(Malloc(1000, EventKind::kMalloc));
  AllocatorStats mid = GetAllocatorStats();
  EXPECT_GE(mid.heap_bytes, before.heap_bytes + (9u << 20));
  for (void* p : v) Free(p, EventKind::kFree);
}

}  // namespace
}  // namespace heaplens

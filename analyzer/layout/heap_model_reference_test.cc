// Reference-model test: random event sequences are replayed through HeapModel
// (and the pinning evaluation) and through a naive model that keeps one state
// per byte, and every statistic is compared after every event.
#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "analyzer/layout/heap_model.h"
#include "analyzer/layout/pinning.h"
#include "gtest/gtest.h"

namespace heaplens::layout {
namespace {

constexpr uint64_t kPage = 64;
constexpr uint64_t kBrkBase = 0x100000;
constexpr uint64_t kMmapBase = 0x200000;
constexpr uint64_t kArea = 8192;  // bytes per area

// One state per byte of two areas: [kBrkBase, +kArea) and [kMmapBase, +kArea).
class NaiveHeap {
 public:
  struct Byte {
    uint8_t region = 0;  // 0 none, 1 brk, 2 mmap
    bool live = false;
    bool resident = false;
    int freed_tid = -1;
  };
  struct LiveChunk {
    uint64_t usable, requested;
  };

  NaiveHeap() : bytes_(2 * kArea) {}

  Byte& at(uint64_t a) { return bytes_[Index(a)]; }
  const Byte& at(uint64_t a) const { return bytes_[Index(a)]; }
  static bool Valid(uint64_t a) {
    return (a >= kBrkBase && a < kBrkBase + kArea) ||
           (a >= kMmapBase && a < kMmapBase + kArea);
  }

  void Apply(const HeapEvent& e) {
    const uint64_t hi = e.address + e.size;
    switch (e.kind) {
      case HeapEventKind::kAlloc:
        Alloc(e);
        break;
      case HeapEventKind::kRealloc:
        Free(e.old_address, e.tid);
        Alloc(e);
        break;
      case HeapEventKind::kFree:
        Free(e.address, e.tid);
        break;
      case HeapEventKind::kHeapGrow:
      case HeapEventKind::kMmap:
        for (uint64_t a = e.address; a < hi; ++a)
          at(a).region = e.kind == HeapEventKind::kHeapGrow ? 1 : 2;
        break;
      case HeapEventKind::kHeapShrink:
      case HeapEventKind::kMunmap:
        for (uint64_t a = e.address; a < hi; ++a)
          at(a).region = 0, at(a).resident = false, at(a).freed_tid = -1;
        break;
      case HeapEventKind::kMadvise:
        for (uint64_t a = e.address; a < (hi + kPage - 1) / kPage * kPage; ++a)
          at(a).resident = false, at(a).freed_tid = -1;
        break;
      case HeapEventKind::kMark:
        break;
    }
  }

  HeapStats Stats() const {
    HeapStats s;
    uint64_t run = 0;
    for (uint64_t a : Addresses()) {
      const Byte& b = at(a);
      if (b.region) ++s.extent_bytes;
      if (b.region == 1) ++s.brk_extent_bytes, s.brk_top = a + 1;
      if (b.region == 2) ++s.mmap_extent_bytes;
      if (b.resident) ++s.resident_bytes;
      bool free = b.region && !b.live;
      bool run_ends =
          !free || a + 1 == kBrkBase + kArea || a + 1 == kMmapBase + kArea;
      if (free) {
        ++s.free_bytes, ++run;
      }
      if (run && run_ends) {
        ++s.free_runs;
        s.largest_free_run = std::max(s.largest_free_run, run);
        run = 0;
      }
    }
    for (const auto& [a, c] : chunks_) {
      s.live_bytes += c.usable;
      s.live_requested_bytes += c.requested;
      ++s.live_chunks;
    }
    return s;
  }

  // The topmost brk region [lo, hi).
  std::pair<uint64_t, uint64_t> TopBrk() const {
    uint64_t hi = 0;
    for (uint64_t a = kBrkBase; a < kBrkBase + kArea; ++a)
      if (at(a).region == 1) hi = a + 1;
    if (!hi) return {0, 0};
    uint64_t lo = hi;
    while (lo > kBrkBase && at(lo - 1).region == 1) --lo;
    return {lo, hi};
  }

  // Pinners top-down: (chunk address, free bytes directly below it), for
  // every chunk of the top region down to the last free byte.
  uint64_t Pinned(std::vector<std::pair<uint64_t, uint64_t>>* pinners,
                  uint64_t* resident_pinned) const {
    auto [lo, hi] = TopBrk();
    pinners->clear();
    *resident_pinned = 0;
    std::vector<uint64_t> starts;
    for (auto it = chunks_.lower_bound(lo);
         it != chunks_.end() && it->first < hi; ++it)
      starts.push_back(it->first);
    if (starts.empty()) return 0;
    uint64_t pinned = 0;
    for (uint64_t a = lo; a < starts.back(); ++a) {
      if (!at(a).live) ++pinned, *resident_pinned += at(a).resident;
    }
    uint64_t accounted = 0;
    for (size_t i = starts.size(); i-- > 0 && accounted < pinned;) {
      uint64_t below =
          i ? starts[i - 1] + chunks_.at(starts[i - 1]).usable : lo;
      uint64_t gap = starts[i] - below;
      if (gap) pinners->push_back({starts[i], gap});
      accounted += gap;
    }
    return pinned;
  }

  std::map<int, uint64_t> Retained() const {
    std::map<int, uint64_t> r;
    for (uint64_t a : Addresses())
      if (at(a).freed_tid >= 0) r[at(a).freed_tid]++;
    return r;
  }
  uint64_t ResidentFree() const {
    uint64_t n = 0;
    for (uint64_t a : Addresses())
      n += at(a).region && !at(a).live && at(a).resident;
    return n;
  }

  const std::map<uint64_t, LiveChunk>& chunks() const { return chunks_; }

 private:
  static size_t Index(uint64_t a) {
    return a >= kMmapBase ? kArea + (a - kMmapBase) : a - kBrkBase;
  }
  static std::vector<uint64_t> Addresses() {
    std::vector<uint64_t> v;
    for (uint64_t a = kBrkBase; a < kBrkBase + kArea; ++a) v.push_back(a);
    for (uint64_t a = kMmapBase; a < kMmapBase + kArea; ++a) v.push_back(a);
    return v;
  }
  void Alloc(const HeapEvent& e) {
    chunks_[e.address] = {e.usable, e.size};
    uint64_t plo = e.address / kPage * kPage;
    uint64_t phi = (e.address + e.usable + kPage - 1) / kPage * kPage;
    for (uint64_t a = plo; a < phi; ++a)
      if (at(a).region) at(a).resident = true;
    for (uint64_t a = e.address; a < e.address + e.usable; ++a)
      at(a).live = true, at(a).freed_tid = -1;
  }
  void Free(uint64_t address, uint32_t tid) {
    auto it = chunks_.find(address);
    if (it == chunks_.end()) return;
    for (uint64_t a = address; a < address + it->second.usable; ++a) {
      at(a).live = false;
      if (at(a).resident) at(a).freed_tid = tid;
    }
    chunks_.erase(it);
  }

  std::vector<Byte> bytes_;
  std::map<uint64_t, LiveChunk> chunks_;
};

// Generates valid random events against the naive heap's current state.
class EventGenerator {
 public:
  EventGenerator(uint32_t seed, const NaiveHeap& heap)
      : rng_(seed), heap_(heap) {}

  bool Next(HeapEvent* e) {
    *e = HeapEvent();
    e->time_ns = ++time_;
    e->tid = 1 + rng_() % 3;
    e->stack = 1 + rng_() % 5;
    switch (rng_() % 20) {
      case 0:
      case 1:
        return Grow(e);
      case 2:
        return Shrink(e);
      case 3:
        return Madvise(e);
      case 4:
        return Mmap(e);
      case 5:
        return Munmap(e);
      case 6:
      case 7:
      case 8:
        return Free(e);
      case 9:
        return Realloc(e);
      case 10:
        e->kind = HeapEventKind::kFree;  // not a live chunk: ignored
        e->address = kBrkBase + 1 + rng_() % 4;
        return !heap_.chunks().count(e->address);
      default:
        return Alloc(e);
    }
  }

 private:
  uint64_t BrkTop() const {
    uint64_t top = kBrkBase;
    for (uint64_t a = kBrkBase; a < kBrkBase + kArea; ++a)
      if (heap_.at(a).region == 1) top = a + 1;
    return top;
  }
  bool FreeRange(uint64_t lo, uint64_t hi, uint64_t except = 0) const {
    if (hi > lo && !(NaiveHeap::Valid(lo) && NaiveHeap::Valid(hi - 1)))
      return false;
    auto ex = heap_.chunks().find(except);
    for (uint64_t a = lo; a < hi; ++a) {
      if (!heap_.at(a).region) return false;
      if (heap_.at(a).live && !(ex != heap_.chunks().end() && a >= except &&
                                a < except + ex->second.usable))
        return false;
    }
    return true;
  }
  bool Grow(HeapEvent* e) {
    uint64_t top = BrkTop();
    // Now and then a discontiguous region (another user of the break).
    uint64_t gap = rng_() % 16 == 0 ? 1 + rng_() % 300 : 0;
    uint64_t len = 1 + rng_() % 700;
    if (top + gap + len > kBrkBase + kArea) return false;
    e->kind = HeapEventKind::kHeapGrow;
    e->address = top + gap;
    e->size = len;
    return true;
  }
  bool Shrink(HeapEvent* e) {
    uint64_t top = BrkTop(), lo = top;
    while (lo > kBrkBase && heap_.at(lo - 1).region == 1 &&
           !heap_.at(lo - 1).live)
      --lo;
    if (lo == top) return false;
    e->kind = HeapEventKind::kHeapShrink;
    e->address = top - 1 - rng_() % (top - lo);
    e->size = top - e->address;
    return true;
  }
  uint64_t RandomAddress() {
    return (rng_() % 2 ? kBrkBase : kMmapBase) + rng_() % kArea;
  }
  bool Madvise(HeapEvent* e) {
    uint64_t a = RandomAddress() / kPage * kPage;
    uint64_t hi = a;
    uint64_t want = 1 + rng_() % 6;
    while (want-- && FreeRange(hi, hi + kPage)) hi += kPage;
    if (hi == a) return false;
    e->kind = HeapEventKind::kMadvise;
    e->address = a;
    e->size = hi - a - rng_() % kPage;  // the kernel rounds up
    return true;
  }
  bool Mmap(HeapEvent* e) {
    uint64_t a = kMmapBase + rng_() % (kArea / kPage) * kPage;
    uint64_t len = (1 + rng_() % 8) * kPage;
    if (a + len > kMmapBase + kArea) return false;
    for (uint64_t x = a; x < a + len; ++x)
      if (heap_.at(x).region) return false;
    e->kind = HeapEventKind::kMmap;
    e->address = a;
    e->size = len;
    return true;
  }
  bool Munmap(HeapEvent* e) {
    uint64_t a = kMmapBase + rng_() % (kArea / kPage) * kPage;
    uint64_t hi = a, want = 1 + rng_() % 8;
    while (want-- && hi < kMmapBase + kArea && FreeRange(hi, hi + kPage))
      hi += kPage;
    if (hi == a) return false;
    e->kind = HeapEventKind::kMunmap;
    e->address = a;
    e->size = hi - a;
    return true;
  }
  bool PickLive(uint64_t* address) {
    const auto& c = heap_.chunks();
    if (c.empty()) return false;
    auto it = c.lower_bound(RandomAddress());
    if (it == c.end()) it = c.begin();
    *address = it->first;
    return true;
  }
  bool Free(HeapEvent* e) {
    e->kind = HeapEventKind::kFree;
    return PickLive(&e->address);
  }
  bool Place(HeapEvent* e, uint64_t except) {
    e->size = 1 + rng_() % (rng_() % 8 == 0 ? 1500 : 120);
    e->usable = e->size + rng_() % 16;
    for (int tries = 0; tries < 20; ++tries) {
      uint64_t a = RandomAddress();
      if (tries < 3 && except) a = except;  // try in place first
      if (FreeRange(a, a + e->usable, except)) {
        e->address = a;
        return true;
      }
    }
    return false;
  }
  bool Alloc(HeapEvent* e) {
    e->kind = HeapEventKind::kAlloc;
    return Place(e, 0);
  }
  bool Realloc(HeapEvent* e) {
    uint64_t old;
    if (!PickLive(&old)) return false;
    e->kind = HeapEventKind::kRealloc;
    e->old_address = old;
    return Place(e, old);
  }

  std::mt19937_64 rng_;
  const NaiveHeap& heap_;
  uint64_t time_ = 0;
};

void ExpectSameStats(const HeapStats& want, const HeapStats& got, int step) {
  ASSERT_EQ(want.extent_bytes, got.extent_bytes) << "step " << step;
  ASSERT_EQ(want.brk_extent_bytes, got.brk_extent_bytes) << "step " << step;
  ASSERT_EQ(want.mmap_extent_bytes, got.mmap_extent_bytes) << "step " << step;
  ASSERT_EQ(want.brk_top, got.brk_top) << "step " << step;
  ASSERT_EQ(want.resident_bytes, got.resident_bytes) << "step " << step;
  ASSERT_EQ(want.live_bytes, got.live_bytes) << "step " << step;
  ASSERT_EQ(want.live_requested_bytes, got.live_requested_bytes)
      << "step " << step;
  ASSERT_EQ(want.live_chunks, got.live_chunks) << "step " << step;
  ASSERT_EQ(want.free_bytes, got.free_bytes) << "step " << step;
  ASSERT_EQ(want.free_runs, got.free_runs) << "step " << step;
  ASSERT_EQ(want.largest_free_run, got.largest_free_run) << "step " << step;
}

// MayLowerPinned as the model defined it before it cached its top chunk:
// from TopChunk(), which searches the chunk map.
bool MayLowerPinnedBySearch(const HeapModel& model, const HeapEvent& e) {
  auto tc = model.TopChunk();
  const bool has = tc != model.chunks().end();
  switch (e.kind) {
    case HeapEventKind::kAlloc:
      return has && e.address < tc->first;
    case HeapEventKind::kRealloc:
      return has;
    case HeapEventKind::kFree:
      return has && e.address == tc->first;
    case HeapEventKind::kHeapGrow:
      return has && e.address != model.brk().end_address();
    case HeapEventKind::kHeapShrink:
      return has && e.address < tc->first + tc->second.usable;
    default:
      return false;
  }
}

class ReferenceTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(ReferenceTest, ModelMatchesNaiveHeap) {
  NaiveHeap naive;
  HeapModel model(kPage);
  EventGenerator gen(GetParam(), naive);
  PinningOptions all;
  all.max_pinners = 1 << 20;
  all.min_pinned_bytes = 1;
  int applied = 0;
  uint64_t max_pinned = 0, max_runs = 0, retained_seen = 0;
  size_t max_brk_regions = 0;
  for (int step = 0; applied < 6000 && step < 100000; ++step) {
    HeapEvent e;
    if (!gen.Next(&e)) continue;
    ++applied;
    const uint64_t pinned_before = model.PinnedBytes();
    const bool may_lower = model.MayLowerPinned(e);
    ASSERT_EQ(MayLowerPinnedBySearch(model, e), may_lower) << "step " << step;
    naive.Apply(e);
    model.Apply(e);
    ExpectSameStats(naive.Stats(), model.Stats(), step);

    std::vector<std::pair<uint64_t, uint64_t>> pinners;
    uint64_t resident_pinned;
    const uint64_t pinned = naive.Pinned(&pinners, &resident_pinned);
    ASSERT_EQ(pinned, model.PinnedBytes()) << "step " << step;
    // The cached top region and top chunk agree with a search.
    {
      auto [lo, hi] = naive.TopBrk();
      ASSERT_EQ(lo, model.TopBrkRegion().first) << "step " << step;
      ASSERT_EQ(hi, model.TopBrkRegion().second) << "step " << step;
    }
    max_pinned = std::max(max_pinned, pinned);
    max_runs = std::max(max_runs, model.Stats().free_runs);
    max_brk_regions = std::max(max_brk_regions, model.brk().count());
    retained_seen = std::max(retained_seen, model.retained().total());
    if (!may_lower) {
      ASSERT_GE(pinned, pinned_before) << "step " << step;
    }

    auto retained = naive.Retained();
    uint64_t retained_total = 0;
    for (const auto& [tid, n] : retained) {
      retained_total += n;
      ASSERT_EQ(n, model.retained().by_thread().at(tid)) << "step " << step;
    }
    ASSERT_EQ(retained_total, model.retained().total()) << "step " << step;

    if (step % 7 == 0) {
      PinningSnapshot snap = EvaluatePinning(model, all);
      ASSERT_EQ(pinned, snap.pinned_bytes);
      ASSERT_EQ(resident_pinned, snap.resident_pinned_bytes);
      ASSERT_EQ(pinners.size(), snap.pinners.size()) << "step " << step;
      for (size_t i = 0; i < pinners.size(); ++i) {
        ASSERT_EQ(pinners[i].first, snap.pinners[i].address);
        ASSERT_EQ(pinners[i].second, snap.pinners[i].bytes_pinned);
      }
      ASSERT_EQ(0u, snap.unlisted_pinned_bytes);
      RetentionReport r = EvaluateRetention(model);
      ASSERT_EQ(naive.ResidentFree(), r.resident_free_bytes);
    }
  }
  EXPECT_EQ(6000, applied);
  EXPECT_GT(model.chunks().size(), 0u);
  // The sequence exercised what it is meant to.
  EXPECT_GT(max_pinned, 1000u);
  EXPECT_GT(max_runs, 20u);
  EXPECT_GT(max_brk_regions, 1u);
  EXPECT_GT(retained_seen, 0u);
  EXPECT_GT(model.anomalies(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Seeds, ReferenceTest,
                         ::testing::Values(1u, 2u, 3u, 4u));

}  // namespace
}  // namespace heaplens::layout

#include "analyzer/layout/interval_set.h"

#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace heaplens::layout {
namespace {

TEST(IntervalSetTest, AddCoalescesTouchingIntervals) {
  IntervalSet s(true);
  EXPECT_EQ(10u, s.Add(0, 10));
  EXPECT_EQ(10u, s.Add(10, 20));
  EXPECT_EQ(1u, s.count());
  EXPECT_EQ(20u, s.largest());
  EXPECT_EQ(0u, s.Add(5, 15));
  EXPECT_EQ(5u, s.Add(30, 35));
  EXPECT_EQ(10u, s.Add(15, 35));  // bridges [20, 30)
  EXPECT_EQ(1u, s.count());
  EXPECT_EQ(35u, s.total());
}

TEST(IntervalSetTest, RemoveSplits) {
  IntervalSet s(true);
  s.Add(0, 100);
  EXPECT_EQ(10u, s.Remove(40, 50));
  EXPECT_EQ(2u, s.count());
  EXPECT_EQ(50u, s.largest());
  EXPECT_EQ(0u, s.Remove(40, 50));
  EXPECT_EQ(45u, s.Remove(20, 75));
  EXPECT_EQ(45u, s.total());
  EXPECT_TRUE(s.Contains(19));
  EXPECT_FALSE(s.Contains(20));
  EXPECT_TRUE(s.Covers(75, 100));
  EXPECT_FALSE(s.Covers(70, 100));
  EXPECT_EQ(10u, s.Overlap(15, 80));
  EXPECT_EQ(100u, s.end_address());
}

TEST(IntervalSetTest, MatchesABitmap) {
  std::mt19937 rng(7);
  IntervalSet s(true);
  std::vector<bool> bits(1000);
  for (int i = 0; i < 5000; ++i) {
    uint64_t lo = rng() % 1000, hi = lo + rng() % 40;
    if (hi > 1000) hi = 1000;
    bool add = rng() % 2;
    uint64_t changed = 0;
    for (uint64_t x = lo; x < hi; ++x) changed += bits[x] != add, bits[x] = add;
    EXPECT_EQ(changed, add ? s.Add(lo, hi) : s.Remove(lo, hi));
    uint64_t total = 0, runs = 0, largest = 0, run = 0;
    for (size_t x = 0; x <= bits.size(); ++x) {
      if (x < bits.size() && bits[x]) {
        ++total, ++run;
      } else if (run) {
        ++runs, largest = std::max(largest, run), run = 0;
      }
    }
    ASSERT_EQ(total, s.total());
    ASSERT_EQ(runs, s.count());
    ASSERT_EQ(largest, s.largest());
  }
}

// Long intervals (the histogram's btree part), lengths across its
// boundary, and the single-interval lookups.
TEST(IntervalSetTest, MatchesABitmapWithLongIntervals) {
  std::mt19937 rng(11);
  IntervalSet s(true);
  const uint64_t kBits = 3 * LengthHistogram::kSmall;
  std::vector<bool> bits(kBits);
  for (int i = 0; i < 3000; ++i) {
    uint64_t lo = rng() % kBits;
    uint64_t hi = lo + (rng() % 4 == 0 ? rng() % (2 * LengthHistogram::kSmall)
                                       : rng() % 300);
    if (hi > kBits) hi = kBits;
    bool add = rng() % 3 != 0;
    uint64_t changed = 0;
    for (uint64_t x = lo; x < hi; ++x) changed += bits[x] != add, bits[x] = add;
    ASSERT_EQ(changed, add ? s.Add(lo, hi) : s.Remove(lo, hi)) << i;
    uint64_t total = 0, runs = 0, largest = 0, run = 0;
    for (size_t x = 0; x <= bits.size(); ++x) {
      if (x < bits.size() && bits[x]) {
        ++total, ++run;
      } else if (run) {
        ++runs, largest = std::max(largest, run), run = 0;
      }
    }
    ASSERT_EQ(total, s.total()) << i;
    ASSERT_EQ(runs, s.count()) << i;
    ASSERT_EQ(largest, s.largest()) << i;
    const uint64_t x = rng() % kBits;
    ASSERT_EQ(bits[x], s.Contains(x)) << i;
  }
}

TEST(IntervalSetTest, OneIntervalLookups) {
  IntervalSet s;
  s.Add(100, 200);
  EXPECT_FALSE(s.Contains(99));
  EXPECT_TRUE(s.Contains(100));
  EXPECT_TRUE(s.Contains(199));
  EXPECT_FALSE(s.Contains(200));
  EXPECT_TRUE(s.Covers(100, 200));
  EXPECT_FALSE(s.Covers(150, 201));
  EXPECT_EQ(0u, s.largest());  // not tracked
}

TEST(LengthHistogramTest, MaxFollowsAddAndRemove) {
  LengthHistogram h;
  EXPECT_EQ(0u, h.Max());
  h.Add(5);
  h.Add(4095);
  h.Add(4096);
  EXPECT_EQ(4096u, h.Max());
  h.Add(LengthHistogram::kSmall);
  EXPECT_EQ(LengthHistogram::kSmall, h.Max());
  h.Remove(LengthHistogram::kSmall);
  h.Remove(4096);
  EXPECT_EQ(4095u, h.Max());
  h.Add(4095);
  h.Remove(4095);
  EXPECT_EQ(4095u, h.Max());
  h.Remove(4095);
  EXPECT_EQ(5u, h.Max());
  h.Remove(5);
  EXPECT_EQ(0u, h.Max());
}

}  // namespace
}  // namespace heaplens::layout

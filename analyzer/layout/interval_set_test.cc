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

}  // namespace
}  // namespace heaplens::layout

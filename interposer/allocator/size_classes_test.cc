#include "interposer/allocator/size_classes.h"

#include "gtest/gtest.h"

namespace heaplens {
namespace {

class SizeClassesTest : public ::testing::Test {
 protected:
  void SetUp() override { InitSizeClasses(); }
};

TEST_F(SizeClassesTest, TableIsComplete) {
  EXPECT_EQ(g_size_classes[kNumClasses - 1].size, kMaxSmallSize);
  for (int cl = 1; cl < kNumClasses; ++cl) {
    const SizeClassInfo& c = g_size_classes[cl];
    EXPECT_EQ(c.size % 16, 0u) << cl;
    if (cl > 1) {
      EXPECT_GT(c.size, g_size_classes[cl - 1].size);
    }
    EXPECT_GE(c.objects, 1u);
    EXPECT_LE(c.pages * kPageSize, kMaxSpanBytes);
    EXPECT_LE((c.pages * kPageSize) % c.size, c.pages * kPageSize / 8) << cl;
    EXPECT_GE(c.batch, 2u);
  }
}

TEST_F(SizeClassesTest, EverySizeMapsToSmallestFittingClass) {
  for (size_t s = 0; s <= kMaxSmallSize; ++s) {
    uint32_t cl = ClassOf(s);
    ASSERT_GE(cl, 1u);
    ASSERT_GE(ClassSize(cl), s) << s;
    if (cl > 1) {
      ASSERT_LT(ClassSize(cl - 1), s == 0 ? 1 : s) << s;
    }
    // Bounded waste: max(15 bytes, 12.5%).
    size_t waste = ClassSize(cl) - s;
    ASSERT_TRUE(waste <= 16 || waste * 8 <= s) << s << " -> " << ClassSize(cl);
  }
}

TEST_F(SizeClassesTest, ReciprocalDivisionIsExact) {
  for (int cl = 1; cl < kNumClasses; ++cl) {
    uint64_t size = g_size_classes[cl].size;
    uint64_t span = g_size_classes[cl].pages * kPageSize;
    for (uint64_t off = 0; off < span; ++off) {
      ASSERT_EQ(SlotOf(cl, off), off / size) << cl << " " << off;
    }
  }
}

TEST_F(SizeClassesTest, AlignedClasses) {
  for (size_t align = 32; align <= kPageSize; align *= 2) {
    for (size_t s : {1ul, 17ul, 100ul, 1000ul, 5000ul, 30000ul}) {
      uint32_t cl = ClassForAligned(s, align);
      ASSERT_NE(cl, 0u);
      EXPECT_EQ(ClassSize(cl) % align, 0u);
      EXPECT_GE(ClassSize(cl), s);
    }
  }
  EXPECT_EQ(ClassForAligned(kMaxSmallSize + 1, 32), 0u);
}

}  // namespace
}  // namespace heaplens

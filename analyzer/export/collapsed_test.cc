#include "analyzer/export/collapsed.h"

#include "analyzer/export/export_test_util.h"
#include "analyzer/export/stack_totals.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace {

using namespace ::heaplens::testing;  // NOLINT: builders

TEST(CollapsedTest, FrameLabels) {
  Frame f;
  f.function = "ns::Map<int; x>::insert";
  f.file = "/src/map.h";
  f.line = 12;
  EXPECT_EQ("ns::Map<int: x>::insert", CollapsedFrameLabel(f, false));
  EXPECT_EQ("ns::Map<int: x>::insert (map.h:12)", CollapsedFrameLabel(f, true));
  Frame unknown;
  unknown.function = "??";
  unknown.module = "/lib/libfoo.so.1";
  EXPECT_EQ("[libfoo.so.1]", CollapsedFrameLabel(unknown, true));
  unknown.module = "";
  EXPECT_EQ("[unknown]", CollapsedFrameLabel(unknown, false));
}

TEST(CollapsedTest, LeakedAndAllocatedTotals) {
  SmallProgram p = MakeSmallProgram();
  AllocatedByStack allocated;
  AnalyzeOptions options;
  options.consumers.push_back(&allocated);
  auto a = AnalyzeBuilt(p.builder, options);
  ASSERT_NE(a, nullptr);
  Symbolizer symbolizer(a->index);

  const StackTotals leaked = LeakedByStack(a->leaks);
  EXPECT_EQ(264u, Sum(leaked).bytes);
  EXPECT_EQ(3u, Sum(leaked).objects);
  EXPECT_EQ(Sum(leaked).bytes, Sum(LiveByStack(a->tracker.live())).bytes);
  // The synthetic module does not exist: frames are named by module. Stacks
  // that render the same are merged; the self frame is dropped.
  EXPECT_EQ("[prog];[prog] 264\n", RenderCollapsed(leaked, symbolizer));

  EXPECT_EQ(a->tracker.bytes_allocated(), Sum(allocated.totals()).bytes);
  EXPECT_EQ(a->tracker.allocations(), Sum(allocated.totals()).objects);
  EXPECT_EQ(300u + 48 + 64 + 1000, Sum(allocated.totals()).bytes);
  EXPECT_EQ("[prog];[prog] 1412\n",
            RenderCollapsed(allocated.totals(), symbolizer));
}

TEST(CollapsedTest, ReachableBlocksAreNotLeaks) {
  TraceBuilder b;
  const uint64_t s = b.Stack({0x1100});
  b.Batch(
      1, 0,
      {Alloc(kMalloc, 1, 0x10000, 16, s), Alloc(kMalloc, 2, 0x20000, 32, s)});
  b.Graph({0x10000, 0x20000}, {{}, {}},
          {{trace::RootRegion::DATA, "/test/prog", {Ref(1)}}});
  b.Summary(trace::ExitSummary::EXIT, 0, true);
  auto a = AnalyzeBuilt(b);
  ASSERT_NE(a, nullptr);
  Symbolizer symbolizer(a->index);
  EXPECT_EQ("[unknown] 16\n",
            RenderCollapsed(LeakedByStack(a->leaks), symbolizer));
  EXPECT_EQ(48u, Sum(LiveByStack(a->tracker.live())).bytes);
}

TEST(CollapsedTest, EmptyIsEmpty) {
  TraceBuilder b;
  b.Summary(trace::ExitSummary::EXIT);
  auto a = AnalyzeBuilt(b);
  ASSERT_NE(a, nullptr);
  Symbolizer symbolizer(a->index);
  EXPECT_EQ("", RenderCollapsed(LeakedByStack(a->leaks), symbolizer));
}

}  // namespace
}  // namespace heaplens

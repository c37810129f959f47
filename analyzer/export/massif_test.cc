#include "analyzer/export/massif.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "analyzer/export/export_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace {

using namespace ::heaplens::testing;  // NOLINT: builders
using ::testing::HasSubstr;

// What ms_print needs: the header, then numbered snapshots with the six
// fields in order, exactly one peak, and well-formed tree lines.
void CheckFormat(const std::string& text, int* snapshots, int* peaks) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  ASSERT_GE(lines.size(), 4u);
  EXPECT_TRUE(absl::StartsWith(lines[0], "desc: "));
  EXPECT_TRUE(absl::StartsWith(lines[1], "cmd: "));
  EXPECT_TRUE(absl::StartsWith(lines[2], "time_unit: "));
  *snapshots = 0;
  *peaks = 0;
  for (size_t i = 3; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (absl::StartsWith(l, "snapshot=")) {
      EXPECT_EQ(absl::StrCat("snapshot=", *snapshots), l);
      ++*snapshots;
      ASSERT_LT(i + 7, lines.size());
      EXPECT_TRUE(absl::StartsWith(lines[i + 2], "time="));
      EXPECT_TRUE(absl::StartsWith(lines[i + 3], "mem_heap_B="));
      EXPECT_TRUE(absl::StartsWith(lines[i + 4], "mem_heap_extra_B="));
      EXPECT_EQ("mem_stacks_B=0", lines[i + 5]);
      EXPECT_TRUE(absl::StartsWith(lines[i + 6], "heap_tree="));
      if (lines[i + 6] == "heap_tree=peak") ++*peaks;
    }
  }
}

TEST(MassifTest, SmallProgram) {
  SmallProgram p = MakeSmallProgram();
  MassifRecorder massif;
  AnalyzeOptions options;
  options.consumers.push_back(&massif);
  auto a = AnalyzeBuilt(p.builder, options);
  ASSERT_NE(a, nullptr);
  const auto& snaps = massif.snapshots();
  ASSERT_LT(massif.peak_index(), snaps.size());
  const auto& peak = snaps[massif.peak_index()];
  EXPECT_EQ(a->tracker.peak_live_bytes(), peak.heap);
  EXPECT_EQ(1264u, peak.heap);
  EXPECT_EQ(12u * 2 + 8, peak.extra);
  EXPECT_EQ(80u, peak.clock);  // until the free at 80
  // Starts empty, ends with what is live at exit.
  EXPECT_EQ(0u, snaps.front().heap);
  EXPECT_EQ(264u, snaps.back().heap);
  for (size_t i = 1; i < snaps.size(); ++i) {
    EXPECT_LE(snaps[i - 1].clock, snaps[i].clock);
  }

  Symbolizer symbolizer(a->index);
  const std::string text = RenderMassif(massif, symbolizer, "/test/prog -x");
  int n = 0, peaks = 0;
  CheckFormat(text, &n, &peaks);
  EXPECT_EQ(static_cast<int>(snaps.size()), n);
  EXPECT_EQ(1, peaks);
  EXPECT_THAT(text, HasSubstr("cmd: /test/prog -x\ntime_unit: ms\n"));
  // The peak's tree: 1000 B from stack C, 200 B from A, 64 B from B, with
  // the self frame dropped and unknown functions named by module.
  EXPECT_THAT(text, HasSubstr("heap_tree=peak\n"
                              "n3: 1264 (heap allocation functions) "
                              "malloc/new/new[], --alloc-fns, etc.\n"
                              " n1: 1000 0x401300: ??? (in /test/prog)\n"
                              "  n0: 1000 0x401030: ??? (in /test/prog)\n"
                              " n1: 200 0x401100: ??? (in /test/prog)\n"));
  EXPECT_THAT(text, HasSubstr(" n1: 64 0x401200: ??? (in /test/prog)\n"));
}

TEST(MassifTest, ManyEventsAreCulledAndSmallEntriesMerged) {
  TraceBuilder b;
  std::vector<Event> events;
  std::vector<uint64_t> stacks;
  for (int s = 0; s < 200; ++s) stacks.push_back(b.Stack({0x1000u + s}));
  uint64_t t = 1;
  for (int i = 0; i < 5000; ++i) {
    events.push_back(Alloc(kMalloc, t++, 0x100000 + i * 64, 32,
                           i < 4000 ? stacks[0] : stacks[i % 200]));
  }
  for (int i = 0; i < 5000; i += 2) {
    events.push_back(Free(kFree, t++, 0x100000 + i * 64));
  }
  b.Batch(1, 0, events);
  MassifOptions mo;
  mo.clock = MassifOptions::Clock::kBytes;
  MassifRecorder massif(mo);
  AnalyzeOptions options;
  options.consumers.push_back(&massif);
  auto a = AnalyzeBuilt(b, options);
  ASSERT_NE(a, nullptr);
  const auto& snaps = massif.snapshots();
  EXPECT_GE(snaps.size(), 50u);
  EXPECT_LE(snaps.size(), 100u + 2);
  EXPECT_EQ(5000u * 32, snaps[massif.peak_index()].heap);
  EXPECT_EQ(2500u * 32, snaps.back().heap);
  EXPECT_EQ(5000u * 32 + 2500u * 32, snaps.back().clock);  // bytes clock

  Symbolizer symbolizer(a->index);
  const std::string text = RenderMassif(massif, symbolizer, "prog");
  int n = 0, peaks = 0;
  CheckFormat(text, &n, &peaks);
  EXPECT_EQ(1, peaks);
  EXPECT_THAT(text, HasSubstr("time_unit: B\n"));
  // 199 stacks of 160 B each (0.1%) at the peak merge into one line.
  EXPECT_THAT(text, HasSubstr("n2: 160000 (heap allocation functions)"));
  EXPECT_THAT(text, HasSubstr(" n0: 31840 in 199 places, below massif's "
                              "threshold (1.00%)\n"));
}

TEST(MassifTest, EmptyTrace) {
  TraceBuilder b;
  b.Summary(trace::ExitSummary::EXIT);
  MassifRecorder massif;
  AnalyzeOptions options;
  options.consumers.push_back(&massif);
  auto a = AnalyzeBuilt(b, options);
  ASSERT_NE(a, nullptr);
  Symbolizer symbolizer(a->index);
  const std::string text = RenderMassif(massif, symbolizer, "");
  int n = 0, peaks = 0;
  CheckFormat(text, &n, &peaks);
  EXPECT_EQ(1, n);
  EXPECT_EQ(1, peaks);
  EXPECT_THAT(text, HasSubstr("heap_tree=peak\nn0: 0 (heap allocation"));
}

}  // namespace
}  // namespace heaplens

#include "analyzer/analysis.h"

#include <cstdio>

#include "analyzer/test_util.h"
#include "analyzer/testing/trace_builder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace {

using ::heaplens::testing::Alloc;
using ::heaplens::testing::Free;
using ::heaplens::testing::TempPath;
using ::heaplens::testing::TraceBuilder;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParentTraceCandidatesTest, PidInTheNameOrSuffix) {
  EXPECT_THAT(ParentTraceCandidates("/tmp/run/hl.4321.hlt", 4321, 4300),
              ElementsAre("/tmp/run/hl.4300.hlt"));
  // A pattern without %p: the child appended its pid.
  EXPECT_THAT(ParentTraceCandidates("/tmp/trace.hlt.77", 77, 70),
              ElementsAre("/tmp/trace.hlt.70", "/tmp/trace.hlt"));
  // Only whole numbers in the file name, not the directory.
  EXPECT_THAT(ParentTraceCandidates("/d/55/x155-55.hlt", 55, 9),
              ElementsAre("/d/55/x155-9.hlt"));
  EXPECT_TRUE(ParentTraceCandidates("/tmp/other.hlt", 12, 11).empty());
}

void Header(TraceBuilder* b, uint32_t pid, uint32_t parent_pid,
            uint64_t start_ns) {
  trace::Packet p;
  trace::Header* h = p.mutable_header();
  h->set_format_major(1);
  h->set_format_minor(1);
  h->set_pid(pid);
  h->set_parent_trace_pid(parent_pid);
  h->set_start_monotonic_ns(start_ns);
  b->Packet(p);
}

// The parent allocates 0x1000 (kept), 0x2000 (freed before the fork) and,
// after the fork, 0x3000; the child allocates 0x4000 and exits with 0x1000
// and 0x4000 live and unreferenced.
void WriteParentAndChild(const std::string& parent_path,
                         const std::string& child_path) {
  TraceBuilder parent(false);
  Header(&parent, 100, 0, 1000);
  const uint64_t kept = parent.Stack({0x401000, 0x400f00});
  const uint64_t other = parent.Stack({0x402000, 0x400f00});
  parent.Batch(1, 0,
               {Alloc(kMalloc, 10, 0x1000, 40, kept),
                Alloc(kMalloc, 20, 0x2000, 50, other), Free(kFree, 30, 0x2000),
                Alloc(kMalloc, 5000, 0x3000, 60, other)});
  parent.Summary(trace::ExitSummary::EXIT);
  ASSERT_TRUE(parent.WriteTo(parent_path).ok());

  TraceBuilder child(false);
  Header(&child, 101, 100, 1100);  // forked 100 ns into the parent's trace
  const uint64_t own = child.Stack({0x403000});
  child.Batch(1, 0, {Alloc(kMalloc, 5, 0x4000, 10, own)});
  child.Graph({0x1000, 0x4000}, {{}, {}}, {});
  child.Summary(trace::ExitSummary::EXIT, 0, true);
  ASSERT_TRUE(child.WriteTo(child_path).ok());
}

TEST(AnalysisTest, ForkedChildReportsInheritedBlocks) {
  const std::string parent = TempPath("fork.100.hlt");
  const std::string child = TempPath("fork.101.hlt");
  WriteParentAndChild(parent, child);
  absl::StatusOr<std::unique_ptr<Analysis>> a = AnalyzeTrace(child);
  ASSERT_TRUE(a.ok()) << a.status();
  const LeakResult& r = (*a)->leaks;
  EXPECT_EQ(r.totals[static_cast<int>(LeakKind::kDefinite)].bytes, 50u);
  EXPECT_EQ(r.totals[static_cast<int>(LeakKind::kDefinite)].blocks, 2u);
  ASSERT_EQ(r.groups.size(), 2u);
  EXPECT_EQ(r.groups[0].bytes, 40u);  // the inherited block, biggest first
  const StackTable& stacks = (*a)->index.stacks;
  std::vector<uint64_t> pcs;
  for (uint32_t f : stacks.Frames(r.groups[0].stack)) {
    pcs.push_back(stacks.pc(f));
  }
  EXPECT_THAT(pcs, ElementsAre(0x401000, 0x400f00));
  EXPECT_THAT(r.notes, ::testing::Contains(HasSubstr(
                           "1 blocks (40 bytes) inherited from the parent")));
}

TEST(AnalysisTest, ForkedChildWithoutTheParentsTrace) {
  const std::string parent = TempPath("lone.200.hlt");
  const std::string child = TempPath("lone.201.hlt");
  WriteParentAndChild(parent, child);
  std::remove(parent.c_str());
  absl::StatusOr<std::unique_ptr<Analysis>> a = AnalyzeTrace(child);
  ASSERT_TRUE(a.ok()) << a.status();
  const LeakResult& r = (*a)->leaks;
  EXPECT_EQ(r.totals[static_cast<int>(LeakKind::kDefinite)].bytes, 10u);
  EXPECT_THAT(r.notes,
              ::testing::Contains(HasSubstr("whose trace was not found")));
}

}  // namespace
}  // namespace heaplens

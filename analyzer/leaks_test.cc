#include "analyzer/leaks.h"

#include "analyzer/testing/trace_builder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace {

using ::heaplens::testing::Ref;
using ::testing::ElementsAre;

constexpr LeakKind D = LeakKind::kDefinite;
constexpr LeakKind I = LeakKind::kIndirect;
constexpr LeakKind P = LeakKind::kPossible;
constexpr LeakKind R = LeakKind::kReachable;

HeapGraphData Graph(size_t n, const std::vector<std::vector<uint64_t>>& edges,
                    const std::vector<uint64_t>& root_refs) {
  HeapGraphData g;
  g.block_count = n;
  g.edge_begin.push_back(0);
  for (size_t i = 0; i < n; ++i) {
    g.block_address.push_back(0x1000 * (i + 1));
    if (i < edges.size()) {
      g.edges.insert(g.edges.end(), edges[i].begin(), edges[i].end());
    }
    g.edge_begin.push_back(g.edges.size());
  }
  g.roots.push_back({trace::RootRegion::DATA, "data", 0, 0, root_refs});
  g.complete = true;
  return g;
}

TEST(LeaksTest, LostListIsOneDefinitePlusIndirect) {
  // 0 -> 1 -> 2 -> 3, nothing points at 0.
  HeapGraphData g = Graph(4, {{Ref(1)}, {Ref(2)}, {Ref(3)}, {}}, {});
  EXPECT_THAT(ClassifyHeapGraph(g), ElementsAre(D, I, I, I));
}

TEST(LeaksTest, ListHeadAtAHigherAddress) {
  // 3 -> 0 -> 1 -> 2: block 0 first becomes a clique leader, then joins 3's.
  HeapGraphData g = Graph(4, {{Ref(1)}, {Ref(2)}, {}, {Ref(0)}}, {});
  EXPECT_THAT(ClassifyHeapGraph(g), ElementsAre(I, I, I, D));
}

TEST(LeaksTest, UnreachableCycleIsOneDefinite) {
  HeapGraphData g = Graph(3, {{Ref(1)}, {Ref(2)}, {Ref(0)}}, {});
  EXPECT_THAT(ClassifyHeapGraph(g), ElementsAre(D, I, I));
}

TEST(LeaksTest, ReachableViaGlobal) {
  HeapGraphData g = Graph(3, {{Ref(1)}, {}, {}}, {Ref(0)});
  EXPECT_THAT(ClassifyHeapGraph(g), ElementsAre(R, R, D));
}

TEST(LeaksTest, InteriorPointerIsPossible) {
  // Root -> interior of 0; 0 -> start of 1: 1 is possible too (memcheck:
  // the prior block is not definite).
  HeapGraphData g = Graph(3, {{Ref(1)}, {}, {}}, {Ref(0, true)});
  EXPECT_THAT(ClassifyHeapGraph(g), ElementsAre(P, P, D));
}

TEST(LeaksTest, PossibleUpgradedToReachable) {
  // Root -> interior of 0 and -> start of 1; 1 -> start of 0.
  HeapGraphData g = Graph(2, {{}, {Ref(0)}}, {Ref(0, true), Ref(1)});
  EXPECT_THAT(ClassifyHeapGraph(g), ElementsAre(R, R));
}

TEST(LeaksTest, InteriorPointerBetweenLostBlocksIsIndirect) {
  HeapGraphData g = Graph(2, {{Ref(1, true)}, {}}, {});
  EXPECT_THAT(ClassifyHeapGraph(g), ElementsAre(D, I));
}

TEST(LeaksTest, BadReferencesAreIgnored) {
  HeapGraphData g = Graph(1, {{Ref(99)}}, {Ref(50)});
  uint64_t bad = 0;
  EXPECT_THAT(ClassifyHeapGraph(g, &bad), ElementsAre(D));
  EXPECT_EQ(bad, 2u);
}

InteriorRef At(uint64_t offset, uint32_t flags = 0, uint64_t word0 = 0,
               uint64_t word1 = 0, uint64_t mi_offset = 0) {
  InteriorRef r;
  r.min_offset = offset;
  r.flags = flags;
  r.word0 = word0;
  r.word1 = word1;
  r.mi_offset = mi_offset;
  return r;
}

// One root pointing into block 0 with `in`; block 0 of `size` bytes.
std::vector<LeakKind> RootInto(const InteriorRef& in, uint64_t size,
                               LeakHeuristic* h = nullptr) {
  HeapGraphData g = Graph(1, {}, {Ref(0, true)});
  g.roots[0].interior = {in};
  std::vector<uint64_t> sizes = {size};
  std::vector<LeakHeuristic> hs;
  std::vector<LeakKind> kinds = ClassifyHeapGraph(g, nullptr, &sizes, &hs);
  if (h != nullptr) *h = hs[0];
  return kinds;
}

TEST(LeaksTest, PointerPastTheRequestedSizeIsNoPointer) {
  // calloc(1, 24) in a 32-byte chunk; a global holds p + 24.
  EXPECT_THAT(RootInto(At(24), 24), ElementsAre(D));
  EXPECT_THAT(RootInto(At(23), 24), ElementsAre(P));
  // Size unknown (a block the replay did not see): interior, as before.
  HeapGraphData g = Graph(1, {}, {Ref(0, true)});
  g.roots[0].interior = {At(24)};
  EXPECT_THAT(ClassifyHeapGraph(g), ElementsAre(P));
}

TEST(LeaksTest, PastTheEndBetweenLostBlocksIsNoEdge) {
  HeapGraphData g = Graph(2, {{Ref(1, true)}, {}}, {});
  g.interior = {At(40)};
  std::vector<uint64_t> sizes = {16, 40};
  EXPECT_THAT(ClassifyHeapGraph(g, nullptr, &sizes), ElementsAre(D, D));
  sizes[1] = 41;
  EXPECT_THAT(ClassifyHeapGraph(g, nullptr, &sizes), ElementsAre(D, I));
}

TEST(LeaksTest, NewArrayHeuristic) {
  // new T[3] with 16-byte T: 8 + 48 bytes, the count 3 first.
  LeakHeuristic h;
  EXPECT_THAT(RootInto(At(8, InteriorRef::kAt8, 3), 56, &h), ElementsAre(R));
  EXPECT_EQ(h, LeakHeuristic::kNewArray);
  // 50 bytes after the cookie are no multiple of 3.
  EXPECT_THAT(RootInto(At(8, InteriorRef::kAt8, 3), 58), ElementsAre(P));
  EXPECT_THAT(RootInto(At(8, InteriorRef::kAt8, 0), 56), ElementsAre(P));
}

TEST(LeaksTest, Length64Heuristic) {
  LeakHeuristic h;
  EXPECT_THAT(RootInto(At(8, InteriorRef::kAt8, 64), 72, &h), ElementsAre(R));
  EXPECT_EQ(h, LeakHeuristic::kLength64);
}

TEST(LeaksTest, StdStringHeuristic) {
  // length 5, capacity 10: 24 + 10 + 1 bytes.
  LeakHeuristic h;
  EXPECT_THAT(RootInto(At(24, InteriorRef::kString, 5, 10), 35, &h),
              ElementsAre(R));
  EXPECT_EQ(h, LeakHeuristic::kStdString);
  EXPECT_THAT(RootInto(At(24, InteriorRef::kString, 5, 10), 36),
              ElementsAre(P));
}

TEST(LeaksTest, MultipleInheritanceHeuristic) {
  LeakHeuristic h;
  EXPECT_THAT(RootInto(At(16, InteriorRef::kMulti, 0, 0, 16), 32, &h),
              ElementsAre(R));
  EXPECT_EQ(h, LeakHeuristic::kMultipleInheritance);
  EXPECT_THAT(RootInto(At(16, InteriorRef::kMulti, 0, 0, 16), 16),
              ElementsAre(D));  // the pointer is past the requested size
}

TEST(LeaksTest, HeuristicFromAPossibleBlockIsPossible) {
  // root -> interior of 0 (plain); 0 -> newarray layout of 1.
  HeapGraphData g = Graph(2, {{Ref(1, true)}, {}}, {Ref(0, true)});
  g.roots[0].interior = {At(16)};
  g.interior = {At(8, InteriorRef::kAt8, 2)};
  std::vector<uint64_t> sizes = {64, 40};
  EXPECT_THAT(ClassifyHeapGraph(g, nullptr, &sizes), ElementsAre(P, P));
}

TEST(LeaksTest, StartPointerClearsTheHeuristic) {
  // root -> newarray layout of 0 and -> start of 1; 1 -> start of 0.
  HeapGraphData g = Graph(2, {{}, {Ref(0)}}, {Ref(0, true), Ref(1)});
  g.roots[0].interior = {At(8, InteriorRef::kAt8, 2)};
  std::vector<uint64_t> sizes = {40, 16};
  std::vector<LeakHeuristic> hs;
  EXPECT_THAT(ClassifyHeapGraph(g, nullptr, &sizes, &hs), ElementsAre(R, R));
  EXPECT_THAT(hs, ElementsAre(LeakHeuristic::kNone, LeakHeuristic::kNone));
}

TEST(LeaksTest, AnalyzeGroupsByKindAndStack) {
  HeapGraphData g = Graph(4, {{Ref(1)}, {}, {}, {}}, {Ref(3)});
  LiveSet live;
  live[0x1000] = LiveBlock{100, 0, 1};
  live[0x2000] = LiveBlock{30, 0, 2};
  live[0x3000] = LiveBlock{100, 0, 1};
  live[0x4000] = LiveBlock{5, 0, 3};
  live[0x9000] = LiveBlock{7, 0, 4};  // not in the graph
  LeakResult r = AnalyzeLeaks(live, &g);
  EXPECT_TRUE(r.has_graph);
  ASSERT_EQ(r.groups.size(), 4u);
  EXPECT_EQ(r.groups[0].kind, D);
  EXPECT_EQ(r.groups[0].bytes, 200u);
  EXPECT_EQ(r.groups[0].blocks, 2u);
  EXPECT_EQ(r.groups[1].kind, I);
  EXPECT_EQ(r.groups[1].bytes, 30u);
  EXPECT_EQ(r.groups[2].kind, LeakKind::kUnfreed);
  EXPECT_EQ(r.groups[3].kind, R);
  EXPECT_EQ(r.totals[static_cast<int>(D)].bytes, 200u);
  EXPECT_EQ(r.unfreed.bytes, 242u);
  EXPECT_EQ(r.unfreed.blocks, 5u);
  EXPECT_EQ(r.notes.size(), 1u);
}

TEST(LeaksTest, WithoutGraphEverythingIsUnfreed) {
  LiveSet live;
  live[0x1000] = LiveBlock{100, 0, 1};
  live[0x2000] = LiveBlock{30, 0, 1};
  LeakResult r = AnalyzeLeaks(live, nullptr);
  EXPECT_FALSE(r.has_graph);
  ASSERT_EQ(r.groups.size(), 1u);
  EXPECT_EQ(r.groups[0].kind, LeakKind::kUnfreed);
  EXPECT_EQ(r.groups[0].bytes, 130u);
  EXPECT_EQ(r.unfreed.blocks, 2u);
}

}  // namespace
}  // namespace heaplens

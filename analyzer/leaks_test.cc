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

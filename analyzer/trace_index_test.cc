#include "analyzer/trace_index.h"

#include "analyzer/test_util.h"
#include "analyzer/testing/trace_builder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace {

using ::heaplens::testing::Alloc;
using ::heaplens::testing::Ref;
using ::heaplens::testing::TempPath;
using ::heaplens::testing::TraceBuilder;
using ::testing::Contains;
using ::testing::HasSubstr;

absl::StatusOr<TraceIndex> Index(const TraceBuilder& b) {
  const std::string path = TempPath("t.hlt");
  EXPECT_TRUE(b.WriteTo(path).ok());
  auto reader = TraceReader::Open(path);
  if (!reader.ok()) return reader.status();
  return IndexTrace(**reader);
}

TEST(TraceIndexTest, IndexesEverything) {
  TraceBuilder b;
  b.Modules({{"/bin/prog", "\x01\x02", 0, {{0x1000, 0x1000, 5, 0}}}});
  const uint64_t s = b.Stack({0x1010, 0x1020});
  b.Batch(7, 0, {Alloc(kMalloc, 10, 0x5000, 16, s)});
  b.Batch(8, 0, {Alloc(kMalloc, 5, 0x6000, 16, s)});
  b.Thread(7, "worker").Notice("hello");
  b.Graph({0x5000, 0x6000}, {{}, {}},
          {{trace::RootRegion::DATA, "x", {Ref(0)}}});
  b.Summary(trace::ExitSummary::EXIT, 0, true);
  auto index = Index(b);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(index->header.pid(), 1000u);
  EXPECT_EQ(index->epochs.size(), 1u);
  EXPECT_EQ(index->stacks.size(), 3u);
  EXPECT_EQ(index->stacks.pc(s), 0x1010u);
  EXPECT_EQ(index->stacks.epoch(s), 0u);
  ASSERT_EQ(index->batches.size(), 2u);
  EXPECT_EQ(index->batches[0].tid, 7u);
  EXPECT_EQ(index->batches[0].begin_ns, 10u);
  EXPECT_EQ(index->batches[1].event_count, 1u);
  EXPECT_EQ(index->threads.size(), 1u);
  EXPECT_EQ(index->notices.size(), 1u);
  ASSERT_TRUE(index->summary.has_value());
  ASSERT_TRUE(index->graph.has_value());
  EXPECT_EQ(index->graph->block_address[1], 0x6000u);
  EXPECT_TRUE(index->notes.empty());
}

TEST(TraceIndexTest, NewerMajorIsRefusedWithTheVersion) {
  TraceBuilder b(false);
  b.Header(2, 3);
  auto index = Index(b);
  EXPECT_EQ(index.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(index.status().message(), HasSubstr("trace format 2.3"));
  EXPECT_THAT(index.status().message(), HasSubstr("reads format 1.1"));
}

TEST(TraceIndexTest, UnknownFieldsAndPacketsAreAccepted) {
  TraceBuilder b(false);
  trace::Packet p;
  p.mutable_header()->set_format_major(1);
  p.mutable_header()->set_format_minor(7);
  std::string header = p.SerializeAsString();
  // An unknown field inside the header: field 99, varint 5.
  std::string unknown;
  TraceBuilder::AppendVarint((99 << 3) | 0, &unknown);
  unknown.push_back(5);
  std::string inner = p.header().SerializeAsString() + unknown;
  std::string packet = "\x0a";
  TraceBuilder::AppendVarint(inner.size(), &packet);
  packet += inner;
  b.Raw(TraceBuilder::Frame(packet));
  // A packet of an unknown kind: field 42, length-delimited.
  std::string future = "\xd2\x02\x03xyz";  // tag (42 << 3) | 2 = 0x152
  b.Raw(TraceBuilder::Frame(future));
  b.Summary(trace::ExitSummary::EXIT);
  auto index = Index(b);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(index->header.format_minor(), 7u);
  EXPECT_THAT(index->notes, Contains(HasSubstr("newer format minor")));
}

TEST(TraceIndexTest, FirstPacketMustBeAHeader) {
  TraceBuilder b(false);
  b.Summary(trace::ExitSummary::EXIT);
  auto index = Index(b);
  EXPECT_EQ(index.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(index.status().message(), HasSubstr("byte 0: the first packet"));
}

TEST(TraceIndexTest, EmptyFile) {
  TraceBuilder b(false);
  auto index = Index(b);
  EXPECT_EQ(index.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(index.status().message(), HasSubstr("empty file"));
}

TEST(TraceIndexTest, BadStackParentIsCorrupt) {
  TraceBuilder b;
  trace::Packet p;
  p.mutable_stacks()->set_first_id(1);
  p.mutable_stacks()->add_parent_distance(0);  // a node its own parent
  p.mutable_stacks()->add_pc_delta(1);
  b.Packet(p);
  auto index = Index(b);
  EXPECT_EQ(index.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(index.status().message(), HasSubstr("parent distance 0"));
}

TEST(TraceIndexTest, NonDenseStackIdsAreCorrupt) {
  TraceBuilder b;
  trace::Packet p;
  p.mutable_stacks()->set_first_id(1000000000000ull);
  p.mutable_stacks()->add_parent_distance(1);
  p.mutable_stacks()->add_pc_delta(1);
  b.Packet(p);
  auto index = Index(b);
  EXPECT_EQ(index.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(index.status().message(), HasSubstr("dense"));
}

TEST(TraceIndexTest, DeepStacksAreBounded) {
  TraceBuilder b;
  std::vector<uint64_t> pcs;
  for (int i = 0; i < 5000; ++i) pcs.push_back(0x1000 + i);
  const uint64_t s = b.Stack(pcs);
  auto index = Index(b);
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(index->stacks.Frames(s).size(), StackTable::kMaxDepth);
  EXPECT_TRUE(index->stacks.Frames(999999).empty());
}

TEST(TraceIndexTest, SequenceGapsAreNoted) {
  TraceBuilder b;
  b.Batch(5, 0, {Alloc(kMalloc, 1, 0x10, 1, 0)});
  b.Batch(5, 3, {Alloc(kMalloc, 9, 0x20, 1, 0)});
  b.Summary(trace::ExitSummary::EXIT);
  auto index = Index(b);
  ASSERT_TRUE(index.ok());
  EXPECT_THAT(index->notes,
              Contains(HasSubstr("thread 5: event batches 1..2 are missing")));
}

TEST(TraceIndexTest, MissingSummaryIsNoted) {
  TraceBuilder b;
  auto index = Index(b);
  ASSERT_TRUE(index.ok());
  EXPECT_THAT(index->notes, Contains(HasSubstr("no exit summary")));
}

TEST(TraceIndexTest, TruncatedTraceIsIndexedUpToTheLastPacket) {
  TraceBuilder b;
  b.Batch(1, 0, {Alloc(kMalloc, 1, 0x10, 1, 0)});
  std::string bytes = b.bytes();
  TraceBuilder next(false);
  next.Batch(1, 1, {Alloc(kMalloc, 2, 0x20, 1, 0)});
  TraceBuilder cut(false);
  cut.Raw(bytes + next.bytes().substr(0, next.bytes().size() - 3));
  auto index = Index(cut);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_TRUE(index->truncated);
  EXPECT_EQ(index->batches.size(), 1u);
}

TEST(TraceIndexTest, GraphSplitOverPackets) {
  TraceBuilder b;
  b.Graph({0x10, 0x20, 0x30}, {{Ref(1)}, {Ref(2)}, {}},
          {{trace::RootRegion::STACK, "thread 1", {Ref(0)}}},
          /*blocks_per_packet=*/1);
  auto index = Index(b);
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_TRUE(index->graph.has_value());
  EXPECT_EQ(index->graph->block_address.size(), 3u);
  EXPECT_EQ(index->graph->edges.size(), 2u);
  EXPECT_EQ(index->graph->edge_begin[2], 2u);
}

TEST(TraceIndexTest, IncompleteGraphIsDroppedWithANote) {
  TraceBuilder b;
  trace::Packet p;
  p.mutable_graph()->set_block_count(3);
  p.mutable_graph()->add_block_address_delta(0x10);
  p.mutable_graph()->add_edge_count(0);
  b.Packet(p);
  auto index = Index(b);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_FALSE(index->graph.has_value());
  EXPECT_THAT(index->notes, Contains(HasSubstr("heap graph incomplete")));
}

TEST(TraceIndexTest, GraphEdgeCountMismatchIsCorrupt) {
  TraceBuilder b;
  trace::Packet p;
  p.mutable_graph()->set_block_count(1);
  p.mutable_graph()->add_block_address_delta(0x10);
  p.mutable_graph()->add_edge_count(1000000000);
  p.mutable_graph()->set_last(true);
  b.Packet(p);
  auto index = Index(b);
  EXPECT_EQ(index.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(index.status().message(), HasSubstr("edge counts"));
}

}  // namespace
}  // namespace heaplens

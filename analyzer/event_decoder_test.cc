#include "analyzer/event_decoder.h"

#include "analyzer/testing/trace_builder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace {

using namespace ::heaplens::testing;  // NOLINT: event constructors
using ::testing::HasSubstr;

void ExpectSame(const Event& a, const Event& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.time_ns, b.time_ns);
  EXPECT_EQ(a.address, b.address);
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.slack, b.slack);
  EXPECT_EQ(a.stack, b.stack);
  EXPECT_EQ(a.old_address, b.old_address);
}

TEST(EventDecoderTest, EveryKindRoundTrips) {
  std::vector<Event> events = {
      Alloc(kMalloc, 10, 0x7f0000001000, 24, 3, 8),
      Alloc(kCalloc, 11, 0x1000, 100, 4, 4),
      Alloc(kMemalign, 11, 0x2000, 64, 5),
      Alloc(kNew, 20, 0x1800, 8, 6),
      Alloc(kNewArray, 21, 0x1900, 80, 7),
      Realloc(22, 0x1000, 0x9000, 200, 8, 8),
      Realloc(23, 0x9000, 0x8000, 10, 8),
      Free(kFree, 30, 0x8000),
      Free(kDelete, 31, 0x1800),
      Free(kDeleteArray, 32, 0x1900),
      InvalidFree(33, 0x1234, 9),
      AllocFailed(34, 1ull << 40, 10),
      HeapEvent(kHeapGrow, 35, 0x555500000000, 135168),
      HeapEvent(kHeapShrink, 36, 0x555500010000, 4096),
      HeapEvent(kMmap, 37, 0x7f1000000000, 1 << 20),
      HeapEvent(kMunmap, 38, 0x7f1000000000, 1 << 20),
      HeapEvent(kMadvise, 39, 0x555500002000, 8192),
      Mark(40, 17),
  };
  trace::EventBatch batch = EncodeBatch(42, 3, events);
  std::vector<Event> out;
  std::string error;
  ASSERT_EQ(DecodeEventBatch(batch, &out, &error), DecodeResult::kOk) << error;
  ASSERT_EQ(out.size(), events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    SCOPED_TRACE(i);
    ExpectSame(out[i], events[i]);
    EXPECT_EQ(out[i].tid, 42u);
  }
  // The columns each kind uses, exactly.
  EXPECT_EQ(batch.address_delta_size(), 16);
  EXPECT_EQ(batch.size_size(), 6 + 1 + 5 + 1 + 1);
  EXPECT_EQ(batch.slack_size(), 7);
  EXPECT_EQ(batch.stack_size(), 9);
  EXPECT_EQ(batch.old_address_delta_size(), 2);
}

TEST(EventDecoderTest, ShortColumnIsCorrupt) {
  trace::EventBatch batch =
      EncodeBatch(1, 0, {Alloc(kMalloc, 1, 0x10, 1, 0), Free(kFree, 2, 0x10)});
  batch.mutable_address_delta()->RemoveLast();
  std::vector<Event> out;
  std::string error;
  EXPECT_EQ(DecodeEventBatch(batch, &out, &error), DecodeResult::kCorrupt);
  EXPECT_THAT(error, HasSubstr("event 1"));
}

TEST(EventDecoderTest, LeftoverColumnIsCorrupt) {
  trace::EventBatch batch = EncodeBatch(1, 0, {Free(kFree, 2, 0x10)});
  batch.add_stack(5);
  std::vector<Event> out;
  std::string error;
  EXPECT_EQ(DecodeEventBatch(batch, &out, &error), DecodeResult::kCorrupt);
  EXPECT_THAT(error, HasSubstr("stack 1/0"));
}

TEST(EventDecoderTest, TimeColumnMustMatchKinds) {
  trace::EventBatch batch = EncodeBatch(1, 0, {Free(kFree, 2, 0x10)});
  batch.add_time_delta(5);
  std::vector<Event> out;
  std::string error;
  EXPECT_EQ(DecodeEventBatch(batch, &out, &error), DecodeResult::kCorrupt);
}

TEST(EventDecoderTest, UnknownKindStopsTheBatch) {
  trace::EventBatch batch =
      EncodeBatch(1, 0, {Alloc(kMalloc, 1, 0x10, 1, 0), Free(kFree, 2, 0x10)});
  batch.set_kind(1, 99);
  std::vector<Event> out;
  std::string error;
  EXPECT_EQ(DecodeEventBatch(batch, &out, &error), DecodeResult::kUnknownKind);
  EXPECT_EQ(out.size(), 1u);
  EXPECT_THAT(error, HasSubstr("unknown event kind 99"));
}

}  // namespace
}  // namespace heaplens

#include "analyzer/event_decoder.h"

#include <algorithm>
#include <random>

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

namespace heaplens {
namespace {

using namespace ::heaplens::testing;  // NOLINT: event constructors

std::vector<Event> WireDecode(const std::string& bytes, DecodeResult expect,
                              uint64_t max_stack = ~0ull,
                              WireBatchInfo* info_out = nullptr) {
  std::vector<Event> buffer(3);  // reused scratch: not cleared
  WireBatchInfo info;
  std::string error;
  EXPECT_EQ(DecodeEventBatchWire(bytes, max_stack, &buffer, &info, &error),
            expect)
      << error;
  if (info_out != nullptr) *info_out = info;
  buffer.resize(info.decoded);
  return buffer;
}

TEST(EventDecoderWireTest, SameAsTheMessageDecoder) {
  std::vector<Event> events = {
      Alloc(kMalloc, 10, 0x7f0000001000, 24, 3, 8),
      Realloc(22, 0x7f0000001000, 0x9000, 200, 8, 8),
      Free(kFree, 30, 0x9000),
      InvalidFree(33, 0x1234, 9),
      AllocFailed(34, 1ull << 40, 10),
      HeapEvent(kHeapGrow, 35, 0x555500000000, 135168),
      Mark(40, 17),
  };
  for (int i = 0; i < 300; ++i) {
    events.push_back(Alloc(kNew, 50 + i, 0x10000 + 4096ull * i, i, 1));
  }
  trace::EventBatch batch = EncodeBatch(42, 3, events);
  std::vector<Event> expected;
  std::string error;
  ASSERT_EQ(DecodeEventBatch(batch, &expected, &error), DecodeResult::kOk);
  WireBatchInfo info;
  std::vector<Event> got =
      WireDecode(batch.SerializeAsString(), DecodeResult::kOk, ~0ull, &info);
  EXPECT_EQ(info.tid, 42u);
  EXPECT_EQ(info.kinds, events.size());
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE(i);
    ExpectSame(got[i], expected[i]);
    EXPECT_EQ(got[i].tid, 42u);
  }
}

TEST(EventDecoderWireTest, UnknownStacksBecomeZero) {
  trace::EventBatch batch = EncodeBatch(
      1, 0, {Alloc(kMalloc, 1, 0x10, 1, 7), Alloc(kMalloc, 2, 0x20, 1, 2)});
  WireBatchInfo info;
  std::vector<Event> got =
      WireDecode(batch.SerializeAsString(), DecodeResult::kOk, 5, &info);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].stack, 0u);
  EXPECT_EQ(got[1].stack, 2u);
  EXPECT_EQ(info.unknown_stacks, 1u);
}

TEST(EventDecoderWireTest, UnpackedAndSplitColumnsDecodeLikeProtobuf) {
  // kind 1 (MALLOC) unpacked, then the columns; a second packed run of the
  // time column. Valid protobuf, so the slow path must handle it.
  std::string b;
  auto varint = [&b](uint64_t v) { TraceBuilder::AppendVarint(v, &b); };
  varint(3 << 3 | 0), varint(kMalloc);  // kind, unpacked
  varint(3 << 3 | 0), varint(kFree);
  varint(4 << 3 | 2), varint(1), varint(5);  // time: 5
  varint(4 << 3 | 2), varint(1), varint(6);  // time: 6, a second run
  varint(5 << 3 | 2), varint(2), varint(0x20), varint(0);  // +16, +0
  varint(6 << 3 | 2), varint(1), varint(9);
  varint(7 << 3 | 2), varint(1), varint(0);
  varint(8 << 3 | 2), varint(1), varint(0);
  std::vector<Event> got = WireDecode(b, DecodeResult::kOk);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].time_ns, 5u);
  EXPECT_EQ(got[0].address, 16u);
  EXPECT_EQ(got[0].size, 9u);
  EXPECT_EQ(got[1].kind, kFree);
  EXPECT_EQ(got[1].time_ns, 11u);
  EXPECT_EQ(got[1].address, 16u);
}

TEST(EventDecoderWireTest, ErrorsAsTheMessageDecoder) {
  trace::EventBatch batch = EncodeBatch(1, 0, {Free(kFree, 2, 0x10)});
  batch.add_stack(5);
  WireDecode(batch.SerializeAsString(), DecodeResult::kCorrupt);
  batch = EncodeBatch(1, 0, {Alloc(kMalloc, 1, 0x10, 1, 0)});
  batch.add_kind(99);
  batch.add_time_delta(1);
  EXPECT_EQ(
      WireDecode(batch.SerializeAsString(), DecodeResult::kUnknownKind).size(),
      1u);
  std::string bytes =
      EncodeBatch(1, 0, {Free(kFree, 2, 0x10)}).SerializeAsString();
  bytes.back() = static_cast<char>(0x80);  // a varint cut short
  WireDecode(bytes, DecodeResult::kInvalidMessage);
  WireDecode(std::string("\x1a\x05\x01", 3), DecodeResult::kInvalidMessage);
}

// The wire decoder against parsing + DecodeEventBatch on valid batches and
// on random corruptions of them (bytes changed, cut, inserted): the same
// result, events, error text and counts, whichever path the wire decoder
// takes. Also the merge keys it writes on request.
TEST(EventDecoderWireTest, RandomCorruptionsMatchTheMessageDecoder) {
  std::mt19937_64 rng(3);
  const std::vector<Event> kinds = {
      Alloc(kMalloc, 0, 0, 24, 3, 8),
      Realloc(0, 0x7f0000001000, 0x9000, 200, 8, 8),
      Free(kFree, 0, 0),
      InvalidFree(0, 0x1234, 9),
      AllocFailed(0, 1ull << 40, 10),
      HeapEvent(kHeapGrow, 0, 0x555500000000, 135168),
      Mark(0, 17),
      Alloc(kNew, 0, 0, 1ull << 50, 300, 70000),
  };
  int fast_ok = 0;
  for (int round = 0; round < 3000; ++round) {
    std::vector<Event> events;
    uint64_t time = rng() % 1000;
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      Event e = kinds[rng() % (round % 4 == 0 ? kinds.size() : 3)];
      time += rng() % (round % 3 == 0 ? 1ull << 40 : 300);
      e.time_ns = time;
      if (e.kind != kRealloc && e.address == 0 && IsAllocation(e.kind)) {
        e.address = 0x10000 + 16 * (rng() % 100000);
      }
      if (e.kind == kFree) e.address = 0x10000 + 16 * (rng() % 100000);
      if (e.kind == kRealloc) e.old_address = 0x10000 + 16 * (rng() % 1000);
      e.stack = rng() % 40;
      if (!IsAllocation(e.kind) && e.kind != kInvalidFree &&
          e.kind != kAllocFailed) {
        e.stack = 0;
      }
      events.push_back(e);
    }
    std::string bytes = EncodeBatch(9, 1, events).SerializeAsString();
    const int damage = round % 5 == 0 ? 0 : 1 + static_cast<int>(rng() % 3);
    for (int d = 0; d < damage && !bytes.empty(); ++d) {
      const size_t at = rng() % bytes.size();
      switch (rng() % 4) {
        case 0:
          bytes[at] = static_cast<char>(rng());
          break;
        case 1:
          bytes[at] = static_cast<char>(bytes[at] ^ 0x80);
          break;
        case 2:
          bytes.resize(at);
          break;
        default:
          bytes.insert(at, 1, static_cast<char>(rng()));
      }
    }
    SCOPED_TRACE(round);
    const uint64_t max_stack = 30;
    // Expected: parse, decode, unknown stacks to 0.
    trace::EventBatch batch;
    std::vector<Event> want;
    std::string want_error;
    DecodeResult want_result = DecodeResult::kInvalidMessage;
    uint64_t want_unknown = 0;
    if (batch.ParseFromString(bytes)) {
      want_result = DecodeEventBatch(batch, &want, &want_error);
      for (Event& e : want) {
        if (e.stack >= max_stack) {
          e.stack = 0;
          ++want_unknown;
        }
      }
    }
    std::vector<Event> got(5);
    std::vector<uint64_t> keys;
    MergeKeySpec spec;
    spec.shift = 5;
    spec.low[0] = 0x11;
    spec.low[1] = 0x15;
    spec.keys = &keys;
    WireBatchInfo info;
    std::string error;
    const DecodeResult result =
        DecodeEventBatchWire(bytes, max_stack, &got, &info, &error, &spec);
    ASSERT_EQ(result, want_result) << error;
    if (result == DecodeResult::kInvalidMessage) continue;
    if (result != DecodeResult::kOk) {
      EXPECT_EQ(error, want_error);
    }
    if (result == DecodeResult::kOk && damage == 0) ++fast_ok;
    ASSERT_EQ(info.decoded, want.size());
    EXPECT_EQ(info.kinds, static_cast<size_t>(batch.kind_size()));
    EXPECT_EQ(info.tid, batch.tid());
    EXPECT_EQ(info.unknown_stacks, want_unknown);
    ASSERT_GE(keys.size(), want.size() + 1);
    uint64_t max_time = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      SCOPED_TRACE(i);
      ExpectSame(got[i], want[i]);
      EXPECT_EQ(got[i].tid, batch.tid());
      EXPECT_EQ(keys[i], want[i].time_ns << 5 |
                             (TieClass(want[i].kind) == 1 ? 0x15 : 0x11));
      max_time = std::max(max_time, want[i].time_ns);
    }
    EXPECT_EQ(info.max_time_ns, max_time);
  }
  EXPECT_GT(fast_ok, 300);
}

}  // namespace
}  // namespace heaplens

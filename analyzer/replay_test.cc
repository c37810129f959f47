#include "analyzer/replay.h"

#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "analyzer/test_util.h"
#include "analyzer/testing/trace_builder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace {

using namespace ::heaplens::testing;  // NOLINT: event constructors
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Records "tid:kind@time" for every event.
class Recorder : public ReplayConsumer {
 public:
  void OnEvent(const Event& e) override {
    seen.push_back(absl::StrCat(e.tid, ":", e.kind, "@", e.time_ns));
    events.push_back(e);
  }
  void OnEnd(const ReplayStats&) override { ended = true; }
  std::vector<std::string> seen;
  std::vector<Event> events;
  bool ended = false;
};

struct Replayed {
  absl::Status status;
  Recorder rec;
  ReplayStats stats;
};

void ReplayTrace(const TraceBuilder& b, Replayed* out) {
  const std::string path = TempPath("t.hlt");
  ASSERT_TRUE(b.WriteTo(path).ok());
  auto reader = TraceReader::Open(path);
  ASSERT_TRUE(reader.ok());
  auto index = IndexTrace(**reader);
  ASSERT_TRUE(index.ok()) << index.status();
  ReplayConsumer* consumers[] = {&out->rec};
  auto stats = Replay(**reader, *index, consumers);
  out->status = stats.status();
  if (stats.ok()) out->stats = *stats;
}

TEST(ReplayTest, MergesThreadsOutOfFileOrder) {
  TraceBuilder b;
  // Thread 2 flushes its second batch before thread 1 flushes anything.
  b.Batch(2, 0,
          {Alloc(kMalloc, 5, 0x100, 1, 0), Alloc(kMalloc, 15, 0x200, 1, 0)});
  b.Batch(2, 1, {Free(kFree, 40, 0x100), Free(kFree, 60, 0x200)});
  b.Batch(1, 0,
          {Alloc(kMalloc, 10, 0x300, 1, 0), Alloc(kMalloc, 30, 0x400, 1, 0)});
  b.Batch(1, 1, {Free(kFree, 50, 0x300), Free(kFree, 70, 0x400)});
  Replayed r;
  ReplayTrace(b, &r);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_THAT(r.rec.seen, ElementsAre("2:1@5", "1:1@10", "2:1@15", "1:1@30",
                                      "2:8@40", "1:8@50", "2:8@60", "1:8@70"));
  EXPECT_TRUE(r.rec.ended);
  EXPECT_EQ(r.stats.events, 8u);
  EXPECT_LE(r.stats.max_loaded_batches, 2u);
}

TEST(ReplayTest, EqualTimesFreesFirstButThreadOrderKept) {
  TraceBuilder b;
  // Thread 1 allocates at t=10; thread 2 frees at t=10: the free goes first.
  b.Batch(1, 0, {Alloc(kMalloc, 10, 0x100, 1, 0), Free(kFree, 10, 0x100)});
  b.Batch(2, 0, {Free(kFree, 10, 0x500)});
  Replayed r;
  ReplayTrace(b, &r);
  ASSERT_TRUE(r.status.ok());
  // Thread 1's own malloc-then-free order at one time is kept.
  EXPECT_THAT(r.rec.seen, ElementsAre("2:8@10", "1:1@10", "1:8@10"));
}

TEST(ReplayTest, CrossThreadFreeAndRealloc) {
  TraceBuilder b;
  b.Batch(2, 0, {Realloc(20, 0x100, 0x900, 64, 0), Free(kFree, 30, 0x900)});
  b.Batch(1, 0, {Alloc(kMalloc, 10, 0x100, 32, 0)});
  Replayed r;
  ReplayTrace(b, &r);
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.rec.events.size(), 3u);
  EXPECT_EQ(r.rec.events[0].kind, kMalloc);
  EXPECT_EQ(r.rec.events[1].kind, kRealloc);
  EXPECT_EQ(r.rec.events[1].old_address, 0x100u);
  EXPECT_EQ(r.rec.events[1].address, 0x900u);
  EXPECT_EQ(r.rec.events[2].tid, 2u);
}

TEST(ReplayTest, UnknownStackIdsBecomeEmpty) {
  TraceBuilder b;
  b.Batch(1, 0, {Alloc(kMalloc, 10, 0x100, 1, 12345)});
  Replayed r;
  ReplayTrace(b, &r);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.rec.events[0].stack, 0u);
  EXPECT_EQ(r.stats.unknown_stack_events, 1u);
  EXPECT_THAT(r.stats.notes[0], HasSubstr("never defined"));
}

TEST(ReplayTest, CorruptBatchIsDataLossWithOffset) {
  TraceBuilder b;
  trace::Packet p;
  *p.mutable_events() = EncodeBatch(1, 0, {Alloc(kMalloc, 1, 0x10, 1, 0)});
  p.mutable_events()->clear_size();
  const size_t offset = b.bytes().size();
  b.Packet(p);
  Replayed r;
  ReplayTrace(b, &r);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(r.status.message(),
              HasSubstr(absl::StrCat("byte ", offset, ": event batch")));
}

TEST(ReplayTest, BillionEventClaimInATinyFile) {
  TraceBuilder b;
  trace::Packet p;
  *p.mutable_events() = EncodeBatch(1, 0, {Alloc(kMalloc, 1, 0x10, 1, 0)});
  p.mutable_events()->set_event_count(1000000000);
  b.Packet(p);
  Replayed r;
  ReplayTrace(b, &r);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.stats.events, 1u);
}

TEST(ReplayTest, ManyThreadsManyBatches) {
  TraceBuilder b;
  // 8 threads, 50 batches each, flushed round-robin in reverse thread order.
  for (int batch = 0; batch < 50; ++batch) {
    for (int t = 8; t >= 1; --t) {
      std::vector<Event> ev;
      for (int i = 0; i < 10; ++i) {
        const uint64_t time = batch * 1000 + i * 50 + t;
        ev.push_back(Alloc(kMalloc, time, (t << 20) + batch * 10 + i, 8, 0));
      }
      b.Batch(t, batch, ev);
    }
  }
  Replayed r;
  ReplayTrace(b, &r);
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.rec.events.size(), 4000u);
  for (size_t i = 1; i < r.rec.events.size(); ++i) {
    ASSERT_LE(r.rec.events[i - 1].time_ns, r.rec.events[i].time_ns) << i;
  }
  EXPECT_LE(r.stats.max_loaded_batches, 8u);
}

// The merge against its definition: always the smallest head (time, tie
// class, stream) of the threads, on random traces with many equal times,
// 5 threads (not a power of two) of different lengths.
TEST(ReplayTest, RandomInterleavingMatchesReferenceMerge) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 20; ++round) {
    const int threads = 1 + round % 5;
    std::vector<std::vector<Event>> per(threads);
    TraceBuilder b;
    std::vector<uint64_t> time(threads, 0);
    std::vector<uint64_t> next_seq(threads, 0);
    for (int batch = 0; batch < 8; ++batch) {
      for (int t = 0; t < threads; ++t) {
        if (batch > 3 + t) continue;  // threads end at different times
        std::vector<Event> ev;
        const int n = 1 + static_cast<int>(rng() % 40);
        for (int i = 0; i < n; ++i) {
          time[t] += rng() % 3;
          const uint64_t a = (uint64_t{1} + t) << 32 | (per[t].size() + 1);
          ev.push_back(rng() % 2 ? Alloc(kMalloc, time[t], a, 8, 0)
                                 : Free(kFree, time[t], a));
          ev.back().tid = 100 + t;
          per[t].push_back(ev.back());
        }
        b.Batch(100 + t, next_seq[t]++, ev);
      }
    }
    std::vector<std::string> want;
    std::vector<size_t> at(threads, 0);
    while (true) {
      int best = -1;
      for (int t = 0; t < threads; ++t) {
        if (at[t] == per[t].size()) continue;
        const Event& e = per[t][at[t]];
        if (best < 0) {
          best = t;
          continue;
        }
        const Event& f = per[best][at[best]];
        if (std::make_tuple(e.time_ns, TieClass(e.kind), t) <
            std::make_tuple(f.time_ns, TieClass(f.kind), best)) {
          best = t;
        }
      }
      if (best < 0) break;
      const Event& e = per[best][at[best]++];
      want.push_back(absl::StrCat(e.tid, ":", e.kind, "@", e.time_ns));
    }
    Replayed r;
    ReplayTrace(b, &r);
    ASSERT_TRUE(r.status.ok()) << r.status;
    ASSERT_EQ(r.rec.seen, want) << "round " << round;
    EXPECT_EQ(r.stats.events, want.size());
  }
}

}  // namespace
}  // namespace heaplens

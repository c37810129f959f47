#include "analyzer/replay.h"

#include <algorithm>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
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

void ReplayTrace(const TraceBuilder& b, Replayed* out,
                 uint64_t until_ns = ~uint64_t{0}) {
  const std::string path = TempPath("t.hlt");
  ASSERT_TRUE(b.WriteTo(path).ok());
  auto reader = TraceReader::Open(path);
  ASSERT_TRUE(reader.ok());
  auto index = IndexTrace(**reader);
  ASSERT_TRUE(index.ok()) << index.status();
  ReplayConsumer* consumers[] = {&out->rec};
  auto stats = Replay(**reader, *index, consumers, nullptr, until_ns);
  out->status = stats.status();
  if (stats.ok()) out->stats = *stats;
}

// Two threads, two batches each, their times interleaved; thread 2 flushes
// its second batch before thread 1 flushes anything.
TraceBuilder TwoThreadsOutOfFileOrder() {
  TraceBuilder b;
  b.Batch(2, 0,
          {Alloc(kMalloc, 5, 0x100, 1, 0), Alloc(kMalloc, 15, 0x200, 1, 0)});
  b.Batch(2, 1, {Free(kFree, 40, 0x100), Free(kFree, 60, 0x200)});
  b.Batch(1, 0,
          {Alloc(kMalloc, 10, 0x300, 1, 0), Alloc(kMalloc, 30, 0x400, 1, 0)});
  b.Batch(1, 1, {Free(kFree, 50, 0x300), Free(kFree, 70, 0x400)});
  return b;
}

TEST(ReplayTest, MergesThreadsOutOfFileOrder) {
  TraceBuilder b = TwoThreadsOutOfFileOrder();
  Replayed r;
  ReplayTrace(b, &r);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_THAT(r.rec.seen, ElementsAre("2:1@5", "1:1@10", "2:1@15", "1:1@30",
                                      "2:8@40", "1:8@50", "2:8@60", "1:8@70"));
  EXPECT_TRUE(r.rec.ended);
  EXPECT_EQ(r.stats.events, 8u);
  EXPECT_LE(r.stats.max_loaded_batches, 2u);
}

// With a time limit, batches that begin after it are not decoded; the ones
// that straddle it are delivered whole.
TEST(ReplayTest, UntilTimeSkipsLaterBatches) {
  TraceBuilder b = TwoThreadsOutOfFileOrder();
  b.Batch(3, 0, {Alloc(kMalloc, 80, 0x500, 1, 0)});
  Replayed r;
  ReplayTrace(b, &r, /*until_ns=*/20);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_THAT(r.rec.seen, ElementsAre("2:1@5", "1:1@10", "2:1@15", "1:1@30"));
  EXPECT_TRUE(r.rec.ended);
  EXPECT_EQ(r.stats.batches, 2u);
  Replayed all;
  ReplayTrace(b, &all, /*until_ns=*/40);  // a batch beginning at the limit
  EXPECT_EQ(all.stats.batches, 3u);
  EXPECT_EQ(all.rec.seen.size(), 6u);
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

// The merge's definition: always the smallest head (time, tie class,
// stream) of the threads; streams are numbered in order of first appearance
// in `per`.
std::vector<std::string> ReferenceMerge(
    const std::vector<std::vector<Event>>& per) {
  std::vector<std::string> want;
  std::vector<size_t> at(per.size(), 0);
  while (true) {
    int best = -1;
    for (int t = 0; t < static_cast<int>(per.size()); ++t) {
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
  return want;
}

// Writes the threads' events as batches of `batch` events, thread by thread
// round-robin, and replays the trace into `rec`.
void ReplayThreads(const std::vector<std::vector<Event>>& per, size_t batch,
                   absl::Span<ReplayConsumer* const> consumers,
                   ReplayStats* stats) {
  TraceBuilder b;
  for (size_t from = 0;; from += batch) {
    bool any = false;
    for (const std::vector<Event>& ev : per) {
      if (from >= ev.size()) continue;
      any = true;
      const size_t to = std::min(ev.size(), from + batch);
      b.Batch(ev[0].tid, from / batch,
              std::vector<Event>(ev.begin() + from, ev.begin() + to));
    }
    if (!any) break;
  }
  const std::string path = TempPath("t.hlt");
  ASSERT_TRUE(b.WriteTo(path).ok());
  auto reader = TraceReader::Open(path);
  ASSERT_TRUE(reader.ok());
  auto index = IndexTrace(**reader);
  ASSERT_TRUE(index.ok()) << index.status();
  auto st = Replay(**reader, *index, consumers);
  ASSERT_TRUE(st.ok()) << st.status();
  *stats = *st;
}

// Consumers that override each delivery entry point.
class SpanRecorder : public ReplayConsumer {
 public:
  void OnEvent(const Event& e) override { ADD_FAILURE() << "OnEvent"; }
  void OnEvents(absl::Span<const Event> events) override {
    for (const Event& e : events) {
      seen.push_back(absl::StrCat(e.tid, ":", e.kind, "@", e.time_ns));
    }
  }
  std::vector<std::string> seen;
};
class RefRecorder : public ReplayConsumer {
 public:
  void OnEvent(const Event& e) override { Add(e); }
  void OnEvents(absl::Span<const Event> events) override {
    for (const Event& e : events) Add(e);
  }
  void OnEventRefs(absl::Span<const Event* const> events) override {
    ++ref_runs;
    for (const Event* e : events) Add(*e);
  }
  void Add(const Event& e) {
    seen.push_back(absl::StrCat(e.tid, ":", e.kind, "@", e.time_ns));
  }
  std::vector<std::string> seen;
  int ref_runs = 0;
};

std::vector<std::vector<Event>> RandomThreads(std::mt19937_64& rng, int threads,
                                              int events, uint64_t start,
                                              int step) {
  std::vector<std::vector<Event>> per(threads);
  for (int t = 0; t < threads; ++t) {
    uint64_t time = start;
    for (int i = 0; i < events; ++i) {
      time += rng() % step;
      const uint64_t a = (uint64_t{1} + t) << 32 | (i + 1);
      per[t].push_back(rng() % 2 ? Alloc(kMalloc, time, a, 8, 0)
                                 : Free(kFree, time, a));
      per[t].back().tid = 100 + t;
    }
  }
  return per;
}

// Every entry point sees the same merged stream: OnEvent through the
// defaults, OnEvents (contiguous runs, and the default gathering of
// pointer runs), OnEventRefs.
TEST(ReplayTest, AllDeliveryEntryPointsSeeTheSameStream) {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 6; ++round) {
    const int threads = 1 + round;
    // Short steps interleave event by event; long ones give runs.
    auto per = RandomThreads(rng, threads, 3000, 0, round % 2 ? 3 : 400);
    Recorder one;
    SpanRecorder spans;
    RefRecorder refs;
    ReplayConsumer* consumers[] = {&one, &spans, &refs};
    ReplayStats stats;
    ReplayThreads(per, 100 + round * 37, consumers, &stats);
    const std::vector<std::string> want = ReferenceMerge(per);
    EXPECT_EQ(one.seen, want) << round;
    EXPECT_EQ(spans.seen, want) << round;
    EXPECT_EQ(refs.seen, want) << round;
    if (threads > 1) {
      EXPECT_GT(refs.ref_runs, 0);
    }
    EXPECT_LE(stats.max_loaded_batches, static_cast<size_t>(threads));
  }
}

// Times near 2^64 do not fit the merge's 64-bit keys: the merge then uses
// 128-bit keys, from the start (the index shows such times) or from the
// batch whose events show them.
TEST(ReplayTest, HugeTimesMergeExactly) {
  std::mt19937_64 rng(5);
  for (const uint64_t start :
       {uint64_t{1} << 58, uint64_t{1} << 60, uint64_t{1} << 61,
        ~uint64_t{0} - 50000, uint64_t{0}}) {
    SCOPED_TRACE(start);
    auto per = RandomThreads(rng, 3, 2000, start, 5);
    if (start == 0) {
      // Small times, then two threads jump within their last batches
      // (events 1920..1999), which begin with small times: the switch
      // happens mid-way.
      for (size_t i = 1950; i < per[1].size(); ++i) {
        per[1][i].time_ns += ~uint64_t{0} - (uint64_t{1} << 20);
      }
      for (size_t i = 1930; i < per[2].size(); ++i) {
        per[2][i].time_ns += uint64_t{1} << 62;
      }
    }
    Recorder one;
    RefRecorder refs;
    ReplayConsumer* consumers[] = {&one, &refs};
    ReplayStats stats;
    ReplayThreads(per, 128, consumers, &stats);
    const std::vector<std::string> want = ReferenceMerge(per);
    EXPECT_EQ(one.seen, want);
    EXPECT_EQ(refs.seen, want);
    EXPECT_EQ(stats.events, 6000u);
  }
}

// Many equal times across four threads, and near 2^64 for two of them at
// the end: ties go by tie class, then stream, with either key width; the
// switch to 128-bit keys comes in a batch that begins with small times
// while the other threads are in the middle of theirs.
TEST(ReplayTest, EqualTimesAcrossThreadsAndTheSwitchToWideKeys) {
  std::vector<std::vector<Event>> per(4);
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 600; ++i) {
      uint64_t time = i / 3;
      if ((t == 0 && i >= 450) || (t == 2 && i >= 500)) {
        time = ~uint64_t{0} - (600 - i) / 3;
      }
      const uint64_t a = (uint64_t{1} + t) << 32 | (i + 1);
      per[t].push_back((i + t) % 3 ? Alloc(kMalloc, time, a, 8, 0)
                                   : Free(kFree, time, a));
      per[t].back().tid = 7 - t;
    }
  }
  Recorder one;
  RefRecorder refs;
  ReplayConsumer* consumers[] = {&one, &refs};
  ReplayStats stats;
  ReplayThreads(per, 300, consumers, &stats);
  const std::vector<std::string> want = ReferenceMerge(per);
  EXPECT_EQ(one.seen, want);
  EXPECT_EQ(refs.seen, want);
  EXPECT_EQ(stats.last_time_ns, ~uint64_t{0});
}

}  // namespace
}  // namespace heaplens

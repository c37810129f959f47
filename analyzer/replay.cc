#include "analyzer/replay.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "analyzer/event_decoder.h"

namespace heaplens {
namespace {

// One thread's batches in order, and the decoded batch being merged.
struct Stream {
  std::vector<const BatchRef*> batches;
  size_t next_batch = 0;  // the batch to load next
  bool loaded = false;
  std::vector<Event> events;  // a buffer: the batch is its first `count`
  size_t count = 0;
  size_t cursor = 0;
};

// Merge key: (time, tie class, stream). An unloaded batch has class -1 so
// it is loaded before any event at its begin time is delivered.
// Packed as (time, (tie + 1) << 32 | stream) so a comparison is two
// integer compares.
struct Key {
  uint64_t time;
  uint64_t rest;
  Key(uint64_t t, int tie, uint32_t stream)
      : time(t), rest((static_cast<uint64_t>(tie + 1) << 32) | stream) {}
  uint32_t stream() const { return static_cast<uint32_t>(rest); }
  bool operator<(const Key& o) const {
    return time < o.time || (time == o.time && rest < o.rest);
  }
};

// A binary min-heap of stream heads with an in-place "replace the top",
// which the merge needs once per delivered run of events.
class KeyHeap {
 public:
  bool empty() const { return v_.empty(); }
  const Key& top() const { return v_[0]; }
  // The smaller child of the root: the next stream's head, if any.
  const Key* second() const {
    if (v_.size() < 2) return nullptr;
    if (v_.size() == 2 || v_[1] < v_[2]) return &v_[1];
    return &v_[2];
  }
  void push(const Key& k) {
    v_.push_back(k);
    size_t i = v_.size() - 1;
    while (i > 0) {
      const size_t parent = (i - 1) / 2;
      if (!(v_[i] < v_[parent])) break;
      std::swap(v_[i], v_[parent]);
      i = parent;
    }
  }
  void pop() {
    v_[0] = v_.back();
    v_.pop_back();
    if (!v_.empty()) SiftDown();
  }
  void replace_top(const Key& k) {
    v_[0] = k;
    SiftDown();
  }

 private:
  void SiftDown() {
    const size_t n = v_.size();
    size_t i = 0;
    while (true) {
      const size_t l = 2 * i + 1;
      if (l >= n) break;
      size_t m = (l + 1 < n && v_[l + 1] < v_[l]) ? l + 1 : l;
      if (!(v_[m] < v_[i])) break;
      std::swap(v_[i], v_[m]);
      i = m;
    }
  }
  std::vector<Key> v_;
};

class Merger {
 public:
  Merger(const TraceReader& reader, const TraceIndex& index,
         absl::Span<ReplayConsumer* const> consumers,
         const ReplayProgress& progress)
      : reader_(reader),
        index_(index),
        consumers_(consumers.begin(), consumers.end()),
        progress_(progress) {}

  absl::StatusOr<ReplayStats> Run();

 private:
  absl::Status Load(Stream& s);
  Key HeadKey(uint32_t id) const {
    const Stream& s = streams_[id];
    if (!s.loaded) return Key(s.batches[s.next_batch]->begin_ns, -1, id);
    const Event& e = s.events[s.cursor];
    return Key(e.time_ns, TieClass(e.kind), id);
  }
  // Merged events are gathered into `out_` so consumers get long spans even
  // when the merge interleaves threads event by event; a whole batch with
  // nothing pending goes out directly, without a copy.
  static constexpr size_t kOutEvents = 1024;
  void Flush() {
    if (out_n_ == 0) return;
    Send(absl::Span<const Event>(out_.data(), out_n_));
    out_n_ = 0;
  }
  void Send(absl::Span<const Event> run) {
    for (ReplayConsumer* c : consumers_) c->OnEvents(run);
  }

  const TraceReader& reader_;
  const TraceIndex& index_;
  std::vector<ReplayConsumer*> consumers_;
  const ReplayProgress& progress_;
  std::vector<Stream> streams_;
  ReplayStats stats_;
  std::string bytes_;
  std::vector<Event> out_;  // merged events not yet delivered: [0, out_n_)
  size_t out_n_ = 0;
  size_t loaded_now_ = 0;
};

absl::Status Merger::Load(Stream& s) {
  const BatchRef& ref = *s.batches[s.next_batch++];
  if (absl::Status st = reader_.ReadAt(ref.offset, ref.length, &bytes_);
      !st.ok()) {
    return st;
  }
  std::string error;
  WireBatchInfo info;
  switch (DecodeEventBatchWire(bytes_, index_.stacks.size(), &s.events, &info,
                               &error)) {
    case DecodeResult::kOk:
      break;
    case DecodeResult::kInvalidMessage:
      return TraceDataLoss(reader_.path(), ref.packet_offset,
                           absl::StrCat("event batch of thread ", ref.tid,
                                        " is not a valid protobuf message"));
    case DecodeResult::kUnknownKind:
      stats_.skipped_events += info.kinds - info.decoded;
      stats_.notes.push_back(absl::StrCat(
          "byte ", ref.packet_offset, ": thread ", ref.tid, " batch ",
          ref.sequence, ": ", error, " (a newer format minor?); ",
          info.kinds - info.decoded, " events skipped"));
      break;
    case DecodeResult::kCorrupt:
      return TraceDataLoss(
          reader_.path(), ref.packet_offset,
          absl::StrCat("event batch of thread ", ref.tid, " sequence ",
                       ref.sequence, ": ", error));
  }
  stats_.unknown_stack_events += info.unknown_stacks;
  s.count = info.decoded;
  s.cursor = 0;
  s.loaded = s.count > 0;
  ++stats_.batches;
  if (progress_ && (stats_.batches & 1023) == 0) {
    progress_(stats_.batches, index_.batches.size());
  }
  return absl::OkStatus();
}

absl::StatusOr<ReplayStats> Merger::Run() {
  // Streams: one per tid, batches in (begin time, sequence) order. A tid
  // reused by a later thread continues the same stream, later in time.
  std::map<uint32_t, uint32_t> stream_of_tid;
  for (const BatchRef& b : index_.batches) {
    auto [it, inserted] = stream_of_tid.emplace(b.tid, streams_.size());
    if (inserted) streams_.emplace_back();
    streams_[it->second].batches.push_back(&b);
  }
  for (Stream& s : streams_) {
    std::stable_sort(s.batches.begin(), s.batches.end(),
                     [](const BatchRef* a, const BatchRef* b) {
                       return a->begin_ns != b->begin_ns
                                  ? a->begin_ns < b->begin_ns
                                  : a->sequence < b->sequence;
                     });
  }
  for (ReplayConsumer* c : consumers_) c->OnStart(index_);
  out_.resize(kOutEvents);

  KeyHeap heap;
  for (uint32_t i = 0; i < streams_.size(); ++i) heap.push(HeadKey(i));
  while (!heap.empty()) {
    const uint32_t id = heap.top().stream();
    Stream& s = streams_[id];
    if (!s.loaded) {
      if (absl::Status st = Load(s); !st.ok()) {
        Flush();  // consumers saw everything before the bad batch
        return st;
      }
      if (s.loaded) {
        ++loaded_now_;
        stats_.max_loaded_batches =
            std::max(stats_.max_loaded_batches, loaded_now_);
      }
    } else {
      // Deliver this stream's events up to the next stream's head.
      const Key* next = heap.second();
      const Event* ev = s.events.data();
      const size_t n = s.count;
      size_t c = s.cursor;
      if (next == nullptr && out_n_ == 0) {
        c = n;
        Send(absl::Span<const Event>(ev + s.cursor, n - s.cursor));
      } else {
        const Key limit = next != nullptr ? *next : Key(~0ull, 1, ~0u);
        Event* out = out_.data();
        do {
          out[out_n_++] = ev[c];
          ++c;
          if (out_n_ == kOutEvents) Flush();
        } while (c < n && Key(ev[c].time_ns, TieClass(ev[c].kind), id) < limit);
      }
      stats_.events += c - s.cursor;
      stats_.last_time_ns = std::max(stats_.last_time_ns, ev[c - 1].time_ns);
      s.cursor = c;
      if (c == n) {
        s.loaded = false;
        --loaded_now_;
        s.count = 0;
        if (s.next_batch == s.batches.size()) {
          std::vector<Event>().swap(s.events);  // the thread is done
        }
      }
    }
    if (s.loaded || s.next_batch < s.batches.size()) {
      heap.replace_top(HeadKey(id));
    } else {
      heap.pop();
    }
  }
  Flush();
  if (stats_.unknown_stack_events > 0) {
    stats_.notes.push_back(absl::StrCat(
        stats_.unknown_stack_events,
        " events name a stack id that the trace never defined (shown as an "
        "empty stack)"));
  }
  if (progress_) progress_(stats_.batches, index_.batches.size());
  for (ReplayConsumer* c : consumers_) c->OnEnd(stats_);
  return stats_;
}

}  // namespace

absl::StatusOr<ReplayStats> Replay(const TraceReader& reader,
                                   const TraceIndex& index,
                                   absl::Span<ReplayConsumer* const> consumers,
                                   const ReplayProgress& progress) {
  Merger merger(reader, index, consumers, progress);
  return merger.Run();
}

}  // namespace heaplens

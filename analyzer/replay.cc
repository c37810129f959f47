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

// Merge key: (time, tie class, stream). An unloaded batch has tie class -1
// so it is loaded before any event at its begin time is delivered. Packed
// as (time, (tie + 1) << 32 | stream): times differ almost always, so the
// second word is rarely looked at.
struct Key {
  uint64_t time;
  uint64_t rest;
  bool operator<(const Key& o) const {
    return time != o.time ? time < o.time : rest < o.rest;
  }
  bool operator==(const Key& o) const {
    return time == o.time && rest == o.rest;
  }
};

Key MakeKey(uint64_t time, uint32_t tie_plus_one, uint32_t stream) {
  return Key{time, (static_cast<uint64_t>(tie_plus_one) << 32) | stream};
}
uint32_t KeyStream(const Key& k) { return static_cast<uint32_t>(k.rest); }

// TieClass(kind) + 1 without branches for the known kinds: bit k of the
// mask is TieClass(k).
uint64_t TieMask() {
  uint64_t m = 0;
  for (uint32_t k = 0; k < 64; ++k) {
    if (TieClass(k) == 1) m |= uint64_t{1} << k;
  }
  return m;
}
const uint64_t kTieMask = TieMask();
inline uint32_t TiePlusOne(uint32_t kind) {
  return kind < 64 ? 1 + static_cast<uint32_t>((kTieMask >> kind) & 1)
                   : 1 + TieClass(kind);
}
Key EventKey(const Event& e, uint32_t stream) {
  return MakeKey(e.time_ns, TiePlusOne(e.kind), stream);
}
constexpr Key kMaxKey{~uint64_t{0}, ~uint64_t{0}};

// A binary min-heap of stream heads with an in-place "replace the top",
// which the merge needs once per delivered run of events. Sifts move a
// hole instead of swapping.
class KeyHeap {
 public:
  bool empty() const { return v_.empty(); }
  Key top() const { return v_[0]; }
  // The smallest key but the top (the next stream's head), or kMaxKey.
  Key second() const {
    const size_t n = v_.size();
    if (n < 3) return n == 2 ? v_[1] : kMaxKey;
    return v_[1] < v_[2] ? v_[1] : v_[2];
  }
  void push(Key k) {
    v_.push_back(k);
    size_t i = v_.size() - 1;
    while (i > 0) {
      const size_t parent = (i - 1) / 2;
      if (!(k < v_[parent])) break;
      v_[i] = v_[parent];
      i = parent;
    }
    v_[i] = k;
  }
  void pop() {
    const Key last = v_.back();
    v_.pop_back();
    if (!v_.empty()) SiftDown(last);
  }
  void replace_top(Key k) { SiftDown(k); }

 private:
  // Puts `k` at the root and sifts it down.
  void SiftDown(Key k) {
    const size_t n = v_.size();
    Key* v = v_.data();
    size_t i = 0;
    while (true) {
      const size_t l = 2 * i + 1;
      if (l >= n) break;
      size_t m = l;
      if (l + 1 < n) m = v[l + 1] < v[l] ? l + 1 : l;
      if (!(v[m] < k)) break;
      v[i] = v[m];
      i = m;
    }
    v[i] = k;
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
    if (!s.loaded) return MakeKey(s.batches[s.next_batch]->begin_ns, 0, id);
    return EventKey(s.events[s.cursor], id);
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
    const uint32_t id = KeyStream(heap.top());
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
      if (s.loaded || s.next_batch < s.batches.size()) {
        heap.replace_top(HeadKey(id));
      } else {
        heap.pop();
      }
      continue;
    }
    // Deliver this stream's events up to the next stream's head.
    const Key limit = heap.second();
    const Event* ev = s.events.data();
    const size_t n = s.count;
    const size_t first = s.cursor;
    size_t c = first;
    Key head = kMaxKey;  // the stream's new head key, if it has events left
    if (limit == kMaxKey && out_n_ == 0) {
      c = n;
      Send(absl::Span<const Event>(ev + first, n - first));
    } else {
      Event* out = out_.data();
      size_t o = out_n_;
      while (true) {
        out[o++] = ev[c++];
        if (o == kOutEvents) {
          out_n_ = o;
          Flush();
          o = 0;
        }
        if (c == n) break;
        head = EventKey(ev[c], id);
        if (!(head < limit)) break;
      }
      out_n_ = o;
    }
    stats_.events += c - first;
    stats_.last_time_ns = std::max(stats_.last_time_ns, ev[c - 1].time_ns);
    s.cursor = c;
    if (c < n) {
      heap.replace_top(head);
      continue;
    }
    s.loaded = false;
    --loaded_now_;
    s.count = 0;
    if (s.next_batch < s.batches.size()) {
      heap.replace_top(HeadKey(id));
    } else {
      std::vector<Event>().swap(s.events);  // the thread is done
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

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
// Greater than every real key (whose tie + 1 is at most 2): a stream that
// is done.
constexpr Key kDone{~uint64_t{0}, ~uint64_t{0}};

// A tournament tree of losers over the stream heads. The top is the
// smallest key; replacing it replays one match per level, log2(streams)
// compares, where a heap's sift-down needs two per level.
class LoserTree {
 public:
  explicit LoserTree(const std::vector<Key>& leaves) {
    while (size_ < leaves.size()) size_ *= 2;
    node_.assign(size_, kDone);
    std::vector<Key> winner(2 * size_, kDone);
    for (size_t i = 0; i < leaves.size(); ++i) winner[size_ + i] = leaves[i];
    for (size_t i = size_ - 1; i >= 1; --i) {
      const Key& a = winner[2 * i];
      const Key& b = winner[2 * i + 1];
      const bool b_wins = b < a;
      winner[i] = b_wins ? b : a;
      node_[i] = b_wins ? a : b;
    }
    node_[0] = winner[1];
  }
  const Key& top() const { return node_[0]; }
  // Replaces the top, a key of `stream`, by `k`, the stream's next key
  // (kDone when it has none).
  void replace_top(Key k, uint32_t stream) {
    Key* node = node_.data();
    for (size_t i = (size_ + stream) >> 1; i >= 1; i >>= 1) {
      if (node[i] < k) std::swap(node[i], k);
    }
    node[0] = k;
  }
  // The smallest key but the top (a key of `stream`): the least loser on
  // the top's path.
  Key second(uint32_t stream) const {
    Key m = kDone;
    for (size_t i = (size_ + stream) >> 1; i >= 1; i >>= 1) {
      if (node_[i] < m) m = node_[i];
    }
    return m;
  }

 private:
  size_t size_ = 1;
  std::vector<Key> node_;  // [0]: the winner; [1, size_): losers
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
  // Every decoded event is delivered (or the replay fails), so the stats
  // are counted here, once per batch rather than once per delivered run.
  stats_.events += info.decoded;
  uint64_t last = stats_.last_time_ns;
  for (size_t i = 0; i < info.decoded; ++i) {
    last = std::max(last, s.events[i].time_ns);
  }
  stats_.last_time_ns = last;
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

  std::vector<Key> heads;
  for (uint32_t i = 0; i < streams_.size(); ++i) heads.push_back(HeadKey(i));
  LoserTree tree(heads);
  size_t active = streams_.size();  // streams not done
  while (active > 0) {              // else the top is kDone
    const uint32_t id = KeyStream(tree.top());
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
        tree.replace_top(HeadKey(id), id);
      } else {
        --active;
        tree.replace_top(kDone, id);
      }
      continue;
    }
    const Event* ev = s.events.data();
    const size_t n = s.count;
    const size_t first = s.cursor;
    size_t c = first;
    if (active == 1 && out_n_ == 0) {
      // The only stream left: the rest of its batch goes out as it is.
      c = n;
      Send(absl::Span<const Event>(ev + first, n - first));
    } else {
      // Deliver the head event. When threads interleave event by event
      // that is the whole run, and one replay of the tree finds the next
      // stream. If this stream still leads, deliver its run up to the next
      // stream's head.
      Event* out = out_.data();
      size_t o = out_n_;
      auto put = [&] {
        out[o++] = ev[c++];
        if (o == kOutEvents) {
          out_n_ = o;
          Flush();
          o = 0;
        }
      };
      put();
      if (c < n) {
        Key head = EventKey(ev[c], id);
        tree.replace_top(head, id);
        if (KeyStream(tree.top()) == id) {
          const Key limit = tree.second(id);
          do {
            put();
            if (c == n) break;
            head = EventKey(ev[c], id);
          } while (head < limit);
          if (c < n) tree.replace_top(head, id);
        }
      }
      out_n_ = o;
    }
    s.cursor = c;
    if (c < n) continue;
    // The batch is done; the top is still this stream's last key.
    s.loaded = false;
    --loaded_now_;
    s.count = 0;
    if (s.next_batch < s.batches.size()) {
      tree.replace_top(HeadKey(id), id);
    } else {
      std::vector<Event>().swap(s.events);  // the thread is done
      --active;
      tree.replace_top(kDone, id);
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

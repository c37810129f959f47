#include "analyzer/replay.h"

#include <algorithm>
#include <map>
#include <type_traits>
#include <utility>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/strings/str_cat.h"
#include "analyzer/event_decoder.h"

namespace heaplens {
namespace {

// Merge keys: (time, tie class, stream) packed into one unsigned number, so
// a match of the tournament is one compare. An unloaded batch has tie class
// -1 so it is loaded before any event at its begin time is delivered; keys
// hold tie class + 1 (0, 1 or 2). Two packings:
//   NarrowKeys, 64 bits: ((time << 2 | tie + 1) << stream_bits) | stream,
//     when every time is below 2^(62 - stream_bits) (the usual case: with
//     a thousand threads that is 2^52 ns, 52 days);
//   WideKeys, 128 bits: time << 64 | (tie + 1) << 32 | stream, for any
//     times.
// The merge starts narrow if the index's batch times allow it and switches
// to wide for good when a decoded time does not fit.
struct NarrowKeys {
  using Key = uint64_t;
  static constexpr Key kDone = ~Key{0};
  int bits = 0;        // stream bits
  uint64_t mask = 0;   // (1 << bits) - 1
  uint64_t limit = 0;  // times must be below this
  explicit NarrowKeys(size_t streams) {
    while ((uint64_t{1} << bits) < streams) ++bits;
    mask = (uint64_t{1} << bits) - 1;
    limit = uint64_t{1} << (62 - bits);
  }
  Key Make(uint64_t time, uint32_t tie_plus_one, uint32_t stream) const {
    return ((time << 2 | tie_plus_one) << bits) | stream;
  }
  uint32_t StreamOf(Key k) const { return static_cast<uint32_t>(k & mask); }
};

struct WideKeys {
  using Key = unsigned __int128;
  static constexpr Key kDone = ~Key{0};
  Key Make(uint64_t time, uint32_t tie_plus_one, uint32_t stream) const {
    return static_cast<Key>(time) << 64 |
           ((static_cast<uint64_t>(tie_plus_one) << 32) | stream);
  }
  uint32_t StreamOf(Key k) const { return static_cast<uint32_t>(k); }
};

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

// One thread's batches in order, and the decoded batch being merged.
struct Stream {
  std::vector<const BatchRef*> batches;
  size_t next_batch = 0;      // the batch to load next
  std::vector<Event> events;  // a buffer: the batch is its first `count`
  // The keys in the packing in use: keys[i] is the key of events[i] for
  // i < count; keys[count] is what follows the batch: the next batch's
  // begin key, or kDone. So the stream's head key is always keys[cursor],
  // and cursor == count means "load the next batch".
  std::vector<NarrowKeys::Key> narrow;
  std::vector<WideKeys::Key> wide;
  size_t count = 0;
  size_t cursor = 0;

  std::vector<NarrowKeys::Key>& keys(const NarrowKeys&) { return narrow; }
  std::vector<WideKeys::Key>& keys(const WideKeys&) { return wide; }
};

// A tournament tree of losers over the stream heads. The top is the
// smallest key; replacing it replays one match per level, log2(streams)
// compares, where a heap's sift-down needs two per level.
template <typename Key>
class LoserTree {
 public:
  static constexpr Key kDone = ~Key{0};
  explicit LoserTree(const std::vector<Key>& leaves) {
    while (size_ < leaves.size()) size_ *= 2;
    node_.assign(size_, kDone);
    std::vector<Key> winner(2 * size_, kDone);
    for (size_t i = 0; i < leaves.size(); ++i) winner[size_ + i] = leaves[i];
    for (size_t i = size_ - 1; i >= 1; --i) {
      const Key a = winner[2 * i];
      const Key b = winner[2 * i + 1];
      winner[i] = std::min(a, b);
      node_[i] = std::max(a, b);
    }
    node_[0] = winner[1];
  }
  Key top() const { return node_[0]; }
  // Replaces the top, a key of `stream`, by `k`, the stream's next key
  // (kDone when it has none), and returns the new top. Keys are unique (the
  // stream is part of them), so min and max decide each match.
  Key replace_top(Key k, uint32_t stream) {
    return ReplaceTop(node_.data(), size_, k, stream);
  }
  // The same on the tree's nodes and size (for a loop that keeps them in
  // registers).
  ABSL_ATTRIBUTE_ALWAYS_INLINE static Key ReplaceTop(Key* node, size_t size,
                                                     Key k, uint32_t stream) {
    for (size_t i = (size + stream) >> 1; i >= 1; i >>= 1) {
      const Key n = node[i];
      node[i] = std::max(n, k);
      k = std::min(n, k);
    }
    node[0] = k;
    return k;
  }
  Key* nodes() { return node_.data(); }
  size_t size() const { return size_; }
  // The smallest key but the top (a key of `stream`): the least loser on
  // the top's path.
  Key second(uint32_t stream) const {
    Key m = kDone;
    for (size_t i = (size_ + stream) >> 1; i >= 1; i >>= 1) {
      m = std::min(m, node_[i]);
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
         const ReplayProgress& progress, uint64_t until_ns)
      : reader_(reader),
        index_(index),
        consumers_(consumers.begin(), consumers.end()),
        progress_(progress),
        until_ns_(until_ns) {}

  absl::StatusOr<ReplayStats> Run();

 private:
  // Decodes the stream's next batch and fills in its keys; sets `*wide` if
  // a time does not fit the narrow packing (then the narrow keys are not
  // filled in).
  template <typename Keys>
  absl::Status Load(const Keys& keys, Stream& s, uint32_t id, bool* wide);
  // The keys of a stream's batch from the cursor on, and what follows it.
  template <typename Keys>
  void FillKeys(const Keys& keys, Stream& s, uint32_t id, size_t from);
  template <typename Keys>
  typename Keys::Key NextBatchKey(const Keys& keys, const Stream& s,
                                  uint32_t id) const {
    return s.next_batch < s.batches.size()
               ? keys.Make(s.batches[s.next_batch]->begin_ns, 0, id)
               : Keys::kDone;
  }
  // Merges until the end (OK, `*switch_to_wide` false), an error, or a time
  // that needs the wide keys (OK, `*switch_to_wide` true; the stream
  // states are consistent, the keys of the new packing must be filled in).
  template <typename Keys>
  absl::Status Merge(const Keys& keys, bool* switch_to_wide);

  // Merged events are gathered by pointer into `refs_` so consumers get
  // long spans even when the merge interleaves threads event by event; a
  // long run of one stream goes out directly as a span of its batch. The
  // pointers point into the streams' batches, so they are flushed before a
  // batch is replaced.
  static constexpr size_t kOutEvents = 1024;
  // A run at least this long goes out as a span of its batch even when
  // pointers are pending (which are flushed first).
  static constexpr size_t kDirectRun = 64;
  void Flush() {
    if (refs_n_ == 0) return;
    const absl::Span<const Event* const> run(refs_.data(), refs_n_);
    for (ReplayConsumer* c : consumers_) c->OnEventRefs(run);
    refs_n_ = 0;
  }
  void Send(absl::Span<const Event> run) {
    for (ReplayConsumer* c : consumers_) c->OnEvents(run);
  }

  const TraceReader& reader_;
  const TraceIndex& index_;
  std::vector<ReplayConsumer*> consumers_;
  const ReplayProgress& progress_;
  const uint64_t until_ns_;  // batches beginning later are left out
  std::vector<Stream> streams_;
  ReplayStats stats_;
  std::string bytes_;
  std::vector<const Event*> refs_;  // merged, not yet delivered: [0, refs_n_)
  size_t refs_n_ = 0;
  size_t loaded_now_ = 0;
};

template <typename Keys>
void Merger::FillKeys(const Keys& keys, Stream& s, uint32_t id, size_t from) {
  auto& k = s.keys(keys);
  if (k.size() < s.count + 1) k.resize(s.count + 1);
  const Event* ev = s.events.data();
  for (size_t i = from; i < s.count; ++i) {
    k[i] = keys.Make(ev[i].time_ns, TiePlusOne(ev[i].kind), id);
  }
  k[s.count] = NextBatchKey(keys, s, id);
}

template <typename Keys>
absl::Status Merger::Load(const Keys& keys, Stream& s, uint32_t id,
                          bool* wide) {
  const BatchRef& ref = *s.batches[s.next_batch++];
  if (absl::Status st = reader_.ReadAt(ref.offset, ref.length, &bytes_);
      !st.ok()) {
    return st;
  }
  std::string error;
  WireBatchInfo info;
  // Narrow keys come from the decoder, in the same pass.
  MergeKeySpec spec;
  const MergeKeySpec* spec_ptr = nullptr;
  if constexpr (std::is_same_v<Keys, NarrowKeys>) {
    spec.shift = 2 + keys.bits;
    spec.low[0] = keys.Make(0, 1, id);
    spec.low[1] = keys.Make(0, 2, id);
    spec.keys = &s.narrow;
    spec_ptr = &spec;
  }
  switch (DecodeEventBatchWire(bytes_, index_.stacks.size(), &s.events, &info,
                               &error, spec_ptr)) {
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
  const size_t n = info.decoded;
  stats_.events += n;
  s.count = n;
  s.cursor = 0;
  ++stats_.batches;
  if (progress_ && (stats_.batches & 1023) == 0) {
    progress_(stats_.batches, index_.batches.size());
  }
  const uint64_t last = info.max_time_ns;
  stats_.last_time_ns = std::max(stats_.last_time_ns, last);
  if constexpr (std::is_same_v<Keys, NarrowKeys>) {
    // The next batch's begin time was checked against the index. If a time
    // does not fit, the keys are refilled wide by the caller.
    *wide = last >= keys.limit;
    s.narrow[n] = NextBatchKey(keys, s, id);
  } else {
    *wide = false;
    FillKeys(keys, s, id, 0);
  }
  return absl::OkStatus();
}

template <typename Keys>
absl::Status Merger::Merge(const Keys& keys, bool* switch_to_wide) {
  using Key = typename Keys::Key;
  constexpr Key kDone = Keys::kDone;
  *switch_to_wide = false;
  std::vector<Key> heads;
  for (uint32_t i = 0; i < streams_.size(); ++i) {
    heads.push_back(streams_[i].keys(keys)[streams_[i].cursor]);
  }
  LoserTree<Key> tree(heads);
  // The hot loop keeps what it touches per event in locals and in `hot`
  // (one small record per stream), so the compiler need not reload it
  // after every store.
  struct Hot {
    const Event* ev;
    const Key* keys;
    size_t cursor;
    size_t count;
  };
  std::vector<Hot> hot(streams_.size());
  for (uint32_t i = 0; i < streams_.size(); ++i) {
    Stream& s = streams_[i];
    hot[i] = Hot{s.events.data(), s.keys(keys).data(), s.cursor, s.count};
  }
  Key* const node = tree.nodes();
  const size_t leaves = tree.size();
  const Event** const refs = refs_.data();
  size_t o = refs_n_;
  Key top = tree.top();
  while (top != kDone) {
    const uint32_t id = keys.StreamOf(top);
    Hot& h = hot[id];
    size_t c = h.cursor;
    if (ABSL_PREDICT_FALSE(c == h.count)) {
      // The stream's batch is done (or none was loaded yet), and its next
      // batch begins now: load it. Pending pointers may point into the
      // buffer, so they go out first.
      refs_n_ = o;
      Flush();
      o = 0;
      Stream& s = streams_[id];
      s.cursor = c;
      if (s.count > 0) --loaded_now_;
      bool wide = false;
      if (absl::Status st = Load(keys, s, id, &wide); !st.ok()) return st;
      if (s.count > 0) {
        ++loaded_now_;
        stats_.max_loaded_batches =
            std::max(stats_.max_loaded_batches, loaded_now_);
      } else if (s.next_batch == s.batches.size()) {
        std::vector<Event>().swap(s.events);  // the thread is done
      }
      if (wide) {
        for (uint32_t i = 0; i < streams_.size(); ++i) {
          streams_[i].cursor = hot[i].cursor;
        }
        s.cursor = 0;
        *switch_to_wide = true;
        return absl::OkStatus();
      }
      h = Hot{s.events.data(), s.keys(keys).data(), 0, s.count};
      top = LoserTree<Key>::ReplaceTop(node, leaves, h.keys[0], id);
      continue;
    }
    // Deliver the head event. When threads interleave event by event that
    // is the whole run, and one replay of the tree finds the next stream.
    // If this stream still leads, its run goes up to the next stream's
    // head.
    const Key* k = h.keys;
    const size_t n = h.count;
    size_t e = c + 1;
    top = LoserTree<Key>::ReplaceTop(node, leaves, k[e], id);
    if (ABSL_PREDICT_FALSE(keys.StreamOf(top) == id && e < n && top != kDone)) {
      const Key limit = tree.second(id);
      while (e < n && k[e] < limit) ++e;
      top = LoserTree<Key>::ReplaceTop(node, leaves, k[e], id);
    }
    h.cursor = e;
    const Event* ev = h.ev;
    if (ABSL_PREDICT_TRUE(e - c == 1)) {
      refs[o++] = ev + c;
      if (ABSL_PREDICT_FALSE(o == kOutEvents)) {
        refs_n_ = o;
        Flush();
        o = 0;
      }
    } else if (o == 0 || e - c >= kDirectRun) {
      refs_n_ = o;
      Flush();
      o = 0;
      Send(absl::Span<const Event>(ev + c, e - c));
    } else {
      for (; c < e; ++c) {
        refs[o++] = ev + c;
        if (o == kOutEvents) {
          refs_n_ = o;
          Flush();
          o = 0;
        }
      }
    }
  }
  refs_n_ = o;
  for (uint32_t i = 0; i < streams_.size(); ++i) {
    streams_[i].cursor = hot[i].cursor;
  }
  return absl::OkStatus();
}

absl::StatusOr<ReplayStats> Merger::Run() {
  // Streams: one per tid, batches in (begin time, sequence) order. A tid
  // reused by a later thread continues the same stream, later in time.
  std::map<uint32_t, uint32_t> stream_of_tid;
  for (const BatchRef& b : index_.batches) {
    if (b.begin_ns > until_ns_) continue;
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
  refs_.resize(kOutEvents);

  // Narrow keys if the streams fit and every batch begins in range (the
  // decoded times are checked as the batches are loaded).
  const NarrowKeys narrow(streams_.size());
  bool use_narrow = narrow.bits <= 30;
  for (const BatchRef& b : index_.batches) {
    if (b.begin_ns >= narrow.limit && b.begin_ns <= until_ns_) {
      use_narrow = false;
    }
  }
  absl::Status st;
  bool switch_to_wide = false;
  if (use_narrow) {
    for (uint32_t i = 0; i < streams_.size(); ++i) {
      streams_[i].narrow.assign(1, NextBatchKey(narrow, streams_[i], i));
    }
    st = Merge(narrow, &switch_to_wide);
  }
  if (st.ok() && (!use_narrow || switch_to_wide)) {
    const WideKeys wide;
    for (uint32_t i = 0; i < streams_.size(); ++i) {
      Stream& s = streams_[i];
      FillKeys(wide, s, i, s.cursor);
      std::vector<NarrowKeys::Key>().swap(s.narrow);
    }
    st = Merge(wide, &switch_to_wide);
  }
  Flush();  // consumers saw everything before a bad batch
  if (!st.ok()) return st;
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

void ReplayConsumer::OnEventRefs(absl::Span<const Event* const> events) {
  constexpr size_t kChunk = 128;
  Event chunk[kChunk];
  for (size_t i = 0; i < events.size(); i += kChunk) {
    const size_t m = std::min(kChunk, events.size() - i);
    for (size_t j = 0; j < m; ++j) chunk[j] = *events[i + j];
    OnEvents(absl::Span<const Event>(chunk, m));
  }
}

absl::StatusOr<ReplayStats> Replay(const TraceReader& reader,
                                   const TraceIndex& index,
                                   absl::Span<ReplayConsumer* const> consumers,
                                   const ReplayProgress& progress,
                                   uint64_t until_ns) {
  Merger merger(reader, index, consumers, progress, until_ns);
  return merger.Run();
}

}  // namespace heaplens

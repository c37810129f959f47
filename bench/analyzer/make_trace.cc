// make_trace: writes a large synthetic heaplens trace for the analyzer
// benchmarks, streaming (memory does not grow with the trace).
//
//   make_trace OUT.hlt EVENTS [THREADS] [LIVE] [MODE]
//
// MODE `flat` (the default): each thread allocates and frees blocks with a
// working set of LIVE blocks per thread (sizes 16 B .. 4 KiB, 4096 distinct
// stacks of depth 12), each block at its own 4 KiB-spaced address, in
// batches of 4096 events flushed round-robin, so the replay must merge. No
// heap-shape events: the layout analyses see no extent.
//
// MODE `brk`: the same threads and batching, a working set that hovers
// around LIVE / 2 blocks per thread (a free's probability is live / LIVE),
// and the addresses
// come from a model of the heaplens allocator (interposer/allocator): size
// classes (16-byte steps to 128, then 8 per power of two to 32 KiB) carved
// from spans of pages; spans, in-heap large blocks (32 KiB .. 256 KiB) from a
// best-fit page heap on a brk heap that grows by at least 1 MiB (HEAP_GROW)
// and is trimmed from the top (HEAP_SHRINK) when 4 MiB at the top are free;
// free page runs of 64 KiB and more are released (MADVISE); blocks of
// 256 KiB and more are mmap'd on their own (MMAP/MUNMAP). Sizes are skewed
// small (60 % <= 128 B), 0.1 % of the blocks are never freed (they pin the
// heap's top), and the threads' events interleave one by one in time, each
// thread's events (including the heap-shape events it causes) in its own
// batches.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "analyzer/testing/trace_builder.h"

using heaplens::Event;
using heaplens::testing::Alloc;
using heaplens::testing::EncodeBatch;
using heaplens::testing::Free;
using heaplens::testing::TraceBuilder;

namespace {

constexpr size_t kBatch = 4096;

void WriteBatch(FILE* f, uint32_t tid, uint64_t sequence,
                const std::vector<Event>& events) {
  heaplens::trace::Packet p;
  *p.mutable_events() = EncodeBatch(tid, sequence, events);
  const std::string framed = TraceBuilder::Frame(p.SerializeAsString());
  fwrite(framed.data(), 1, framed.size(), f);
}

void WriteSummary(FILE* f) {
  heaplens::trace::Packet p;
  p.mutable_summary()->set_reason(
      heaplens::trace::ExitSummary::UNDERSCORE_EXIT);
  const std::string framed = TraceBuilder::Frame(p.SerializeAsString());
  fwrite(framed.data(), 1, framed.size(), f);
}

// ---- flat mode -------------------------------------------------------------

void Flat(FILE* f, uint64_t total, int threads, size_t live_per_thread,
          const std::vector<uint64_t>& stacks, std::mt19937_64& rng) {
  struct ThreadState {
    std::vector<uint64_t> live;
    uint64_t next_address;
    uint64_t sequence = 0;
    std::vector<Event> pending;
  };
  std::vector<ThreadState> ts(threads);
  for (int t = 0; t < threads; ++t) {
    ts[t].next_address = (uint64_t{t} + 1) << 36;
  }
  // Every round, each thread writes one batch covering the same time
  // window, so batches of different threads overlap in time.
  uint64_t written = 0, round_start = 0;
  while (written < total) {
    uint64_t round_end = round_start;
    for (int t = 0; t < threads && written < total; ++t) {
      ThreadState& s = ts[t];
      s.pending.clear();
      uint64_t time = round_start + t;
      for (size_t i = 0; i < kBatch && written < total; ++i, ++written) {
        time += 1 + rng() % (2 * threads);
        round_end = std::max(round_end, time);
        const bool do_free = s.live.size() >= live_per_thread ||
                             (!s.live.empty() && rng() % 2 == 0);
        if (do_free) {
          const size_t k = rng() % s.live.size();
          s.pending.push_back(Free(heaplens::kFree, time, s.live[k]));
          s.live[k] = s.live.back();
          s.live.pop_back();
        } else {
          const uint64_t a = s.next_address;
          s.next_address += 4096;
          s.live.push_back(a);
          s.pending.push_back(Alloc(heaplens::kMalloc, time, a,
                                    16 + rng() % 4080,
                                    stacks[rng() % stacks.size()], 8));
        }
      }
      WriteBatch(f, 1000 + t, s.sequence++, s.pending);
    }
    round_start = round_end + 1;
  }
}

// ---- brk mode --------------------------------------------------------------

constexpr uint64_t kPage = 4096;
constexpr uint64_t kMaxSmall = 32 << 10;
constexpr uint64_t kMmapThreshold = 256 << 10;
constexpr uint64_t kGrowMin = 1 << 20;
constexpr uint64_t kTrimThreshold = 4 << 20;
constexpr uint64_t kTopPad = 1 << 20;
constexpr uint64_t kReleaseMin = 64 << 10;
// Where the break starts (a typical PIE's heap) and where mmaps go down from.
constexpr uint64_t kBrkBase = 0x55d4a3e5c000;
constexpr uint64_t kMmapTop = 0x7f3c8a000000;

// The allocator's model: emits the heap-shape events into `out`.
class BrkHeap {
 public:
  explicit BrkHeap(std::vector<Event>** out, uint64_t* time)
      : out_(out), time_(time) {
    for (uint64_t s = 16; s <= 128; s += 16) classes_.push_back(s);
    for (uint64_t p = 128; p < kMaxSmall; p *= 2)
      for (uint64_t k = 1; k <= 8; ++k) classes_.push_back(p + p / 8 * k);
    class_spans_.resize(classes_.size());
    for (uint64_t c : classes_) {
      uint64_t n = 1;
      while ((n * kPage) % c > n * kPage / 8) ++n;
      span_pages_.push_back(n);
    }
  }

  // A block for `size` bytes: its address and usable size; `token`
  // identifies it for Free.
  struct Block {
    uint64_t address = 0;
    uint64_t usable = 0;
    uint32_t span = 0;  // small: span index + 1; 0 otherwise
  };

  Block Allocate(uint64_t size) {
    Block b;
    if (size <= kMaxSmall) {
      const size_t c = std::lower_bound(classes_.begin(), classes_.end(),
                                        std::max<uint64_t>(size, 1)) -
                       classes_.begin();
      auto& nonempty = class_spans_[c];
      if (nonempty.empty()) NewSpan(c);
      const uint32_t si = nonempty.back();
      Span& s = spans_[si];
      uint64_t slot;
      if (!s.free_slots.empty()) {
        slot = s.free_slots.back();
        s.free_slots.pop_back();
      } else {
        slot = s.bump++;
      }
      ++s.allocated;
      if (s.free_slots.empty() && s.bump == s.capacity) RemoveNonempty(si);
      b.address = s.start + slot * classes_[c];
      b.usable = classes_[c];
      b.span = si + 1;
    } else if (size < kMmapThreshold) {
      const uint64_t n = (size + kPage - 1) / kPage;
      b.address = AllocatePages(n);
      b.usable = n * kPage;
    } else {
      b.usable = (size + kPage - 1) / kPage * kPage;
      mmap_top_ -= b.usable + kPage;  // a guard gap between mappings
      b.address = mmap_top_;
      Emit(heaplens::kMmap, b.address, b.usable);
    }
    return b;
  }

  void Release(const Block& b) {
    if (b.span) {
      const uint32_t si = b.span - 1;
      Span& s = spans_[si];
      s.free_slots.push_back((b.address - s.start) / classes_[s.cls]);
      --s.allocated;
      if (!s.in_nonempty) AddNonempty(si);
      // An empty span goes back to the page heap unless it is its class's
      // only one with room.
      if (s.allocated == 0 && class_spans_[s.cls].size() > 1) {
        RemoveNonempty(si);
        const uint64_t start = s.start, n = s.npages;
        s = Span();
        dead_spans_.push_back(si);
        FreePages(start, n);
      }
    } else if (b.usable < kMmapThreshold) {
      FreePages(b.address, b.usable / kPage);
    } else {
      Emit(heaplens::kMunmap, b.address, b.usable);
    }
  }

 private:
  struct Span {
    uint64_t start = 0;
    uint64_t npages = 0;
    uint32_t cls = 0;
    uint32_t bump = 0;
    uint32_t capacity = 0;
    uint32_t allocated = 0;
    uint32_t nonempty_pos = 0;
    bool in_nonempty = false;
    std::vector<uint32_t> free_slots;
  };

  void Emit(uint32_t kind, uint64_t address, uint64_t size) {
    (*out_)->push_back(
        heaplens::testing::HeapEvent(kind, *time_, address, size));
  }

  void NewSpan(size_t c) {
    uint32_t si;
    if (!dead_spans_.empty()) {
      si = dead_spans_.back();
      dead_spans_.pop_back();
    } else {
      si = spans_.size();
      spans_.emplace_back();
    }
    Span& s = spans_[si];
    s.npages = span_pages_[c];
    s.start = AllocatePages(s.npages);
    s.cls = c;
    s.capacity = s.npages * kPage / classes_[c];
    AddNonempty(si);
  }
  void AddNonempty(uint32_t si) {
    auto& v = class_spans_[spans_[si].cls];
    spans_[si].in_nonempty = true;
    spans_[si].nonempty_pos = v.size();
    v.push_back(si);
  }
  void RemoveNonempty(uint32_t si) {
    auto& v = class_spans_[spans_[si].cls];
    const uint32_t pos = spans_[si].nonempty_pos;
    v[pos] = v.back();
    spans_[v[pos]].nonempty_pos = pos;
    v.pop_back();
    spans_[si].in_nonempty = false;
  }

  void AddRun(uint64_t start, uint64_t n) {
    runs_.emplace(start, n);
    by_len_.emplace(n, start);
  }
  void EraseRun(std::map<uint64_t, uint64_t>::iterator it) {
    by_len_.erase({it->second, it->first});
    runs_.erase(it);
  }

  // Best fit, carving from the low end; grows the break if nothing fits.
  uint64_t AllocatePages(uint64_t n) {
    auto fit = by_len_.lower_bound({n, 0});
    if (fit == by_len_.end()) {
      // Grow, extending a free run at the top.
      uint64_t have = 0;
      auto top = runs_.empty() ? runs_.end() : std::prev(runs_.end());
      if (top != runs_.end() && top->first + top->second * kPage == brk_)
        have = top->second;
      const uint64_t grow = std::max((n - have) * kPage, kGrowMin);
      Emit(heaplens::kHeapGrow, brk_, grow);
      uint64_t start = brk_, len = grow / kPage;
      brk_ += grow;
      if (have) {
        start = top->first;
        len += top->second;
        EraseRun(top);
      }
      AddRun(start, len);
      fit = by_len_.lower_bound({n, 0});
    }
    const uint64_t len = fit->first, start = fit->second;
    EraseRun(runs_.find(start));
    if (len > n) AddRun(start + n * kPage, len - n);
    return start;
  }

  void FreePages(uint64_t start, uint64_t n) {
    auto next = runs_.lower_bound(start);
    if (next != runs_.end() && next->first == start + n * kPage) {
      n += next->second;
      EraseRun(next);
    }
    auto it = runs_.lower_bound(start);
    if (it != runs_.begin()) {
      auto prev = std::prev(it);
      if (prev->first + prev->second * kPage == start) {
        start = prev->first;
        n += prev->second;
        EraseRun(prev);
      }
    }
    const uint64_t end = start + n * kPage;
    if (end == brk_ && n * kPage > kTrimThreshold) {
      const uint64_t keep = kTopPad / kPage;
      const uint64_t cut = start + keep * kPage;
      Emit(heaplens::kHeapShrink, cut, brk_ - cut);
      brk_ = cut;
      n = keep;
    }
    if (n * kPage >= kReleaseMin) Emit(heaplens::kMadvise, start, n * kPage);
    AddRun(start, n);
  }

  std::vector<Event>** out_;
  uint64_t* time_;
  std::vector<uint64_t> classes_;
  std::vector<uint64_t> span_pages_;
  std::vector<std::vector<uint32_t>> class_spans_;  // spans with room
  std::vector<Span> spans_;
  std::vector<uint32_t> dead_spans_;
  std::map<uint64_t, uint64_t> runs_;               // free pages: start -> n
  std::set<std::pair<uint64_t, uint64_t>> by_len_;  // (n, start)
  uint64_t brk_ = kBrkBase;
  uint64_t mmap_top_ = kMmapTop;
};

uint64_t RandomSize(std::mt19937_64& rng) {
  const uint64_t r = rng() % 100000;
  if (r < 60000) return 1 + rng() % 128;
  if (r < 90000) return 129 + rng() % 896;
  if (r < 98500) return 1025 + rng() % 7168;
  if (r < 99800) return 8193 + rng() % 24576;
  if (r < 99995) return 32769 + rng() % 200000;
  return kMmapThreshold + rng() % (4 << 20);
}

void Brk(FILE* f, uint64_t total, int threads, size_t live_per_thread,
         const std::vector<uint64_t>& stacks, std::mt19937_64& rng) {
  struct ThreadState {
    std::vector<BrkHeap::Block> live;
    uint64_t sequence = 0;
    std::vector<Event> pending;
  };
  std::vector<ThreadState> ts(threads);
  std::vector<Event>* out = nullptr;
  uint64_t time = 0;
  BrkHeap heap(&out, &time);
  uint64_t written = 0;
  while (written < total) {
    // One round: every thread's batch covers the same time window, events
    // interleaved one by one.
    for (auto& s : ts) s.pending.clear();
    for (size_t i = 0; i < kBatch * threads && written < total; ++i) {
      ThreadState& s = ts[i % threads];
      out = &s.pending;
      const size_t before = s.pending.size();
      time += 1 + rng() % 8;
      // Frees with probability live / LIVE: the working set hovers around
      // LIVE / 2 blocks per thread.
      const bool do_free = s.live.size() >= live_per_thread ||
                           rng() % live_per_thread < s.live.size();
      if (do_free) {
        const size_t k = rng() % s.live.size();
        const BrkHeap::Block b = s.live[k];
        s.live[k] = s.live.back();
        s.live.pop_back();
        s.pending.push_back(Free(heaplens::kFree, time, b.address));
        heap.Release(b);
      } else {
        const uint64_t size = RandomSize(rng);
        const BrkHeap::Block b = heap.Allocate(size);
        s.pending.push_back(Alloc(heaplens::kMalloc, time, b.address, size,
                                  stacks[rng() % stacks.size()],
                                  b.usable - size));
        // 0.1 % of the blocks live to the end.
        if (rng() % 1000 != 0) s.live.push_back(b);
      }
      written += s.pending.size() - before;
    }
    for (int t = 0; t < threads; ++t) {
      if (!ts[t].pending.empty())
        WriteBatch(f, 1000 + t, ts[t].sequence++, ts[t].pending);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr,
            "usage: make_trace OUT.hlt EVENTS [THREADS] [LIVE] [flat|brk]\n");
    return 2;
  }
  const uint64_t total = strtoull(argv[2], nullptr, 10);
  const int threads = argc > 3 ? atoi(argv[3]) : 4;
  const size_t live_per_thread =
      argc > 4 ? strtoull(argv[4], nullptr, 10) : 10000;
  const std::string mode = argc > 5 ? argv[5] : "flat";
  if (threads < 1 || (mode != "flat" && mode != "brk")) {
    fprintf(stderr, "make_trace: bad THREADS or MODE\n");
    return 2;
  }
  FILE* f = fopen(argv[1], "wb");
  if (f == nullptr) return 1;
  TraceBuilder head;  // header + stacks
  std::vector<uint64_t> stacks;
  std::mt19937_64 rng(42);
  for (int s = 0; s < 4096; ++s) {
    std::vector<uint64_t> pcs;
    for (int d = 0; d < 12; ++d)
      pcs.push_back(0x400000 + (rng() % 100000) * 16);
    stacks.push_back(head.Stack(pcs));
  }
  fwrite(head.bytes().data(), 1, head.bytes().size(), f);
  if (mode == "flat") {
    Flat(f, total, threads, live_per_thread, stacks, rng);
  } else {
    Brk(f, total, threads, live_per_thread, stacks, rng);
  }
  WriteSummary(f);
  fclose(f);
  return 0;
}

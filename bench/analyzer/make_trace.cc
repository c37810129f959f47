// make_trace: writes a large synthetic heaplens trace for the analyzer
// benchmarks, streaming (memory does not grow with the trace).
//
//   make_trace OUT.hlt EVENTS [THREADS] [LIVE]
//
// Each thread allocates and frees blocks with a working set of LIVE blocks
// per thread (sizes 16 B .. 4 KiB, 4096 distinct stacks of depth 12), in
// batches of 4096 events flushed round-robin, so the replay must merge.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "analyzer/testing/trace_builder.h"

using heaplens::Event;
using heaplens::testing::Alloc;
using heaplens::testing::EncodeBatch;
using heaplens::testing::Free;
using heaplens::testing::TraceBuilder;

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: make_trace OUT.hlt EVENTS [THREADS] [LIVE]\n");
    return 2;
  }
  const uint64_t total = strtoull(argv[2], nullptr, 10);
  const int threads = argc > 3 ? atoi(argv[3]) : 4;
  const size_t live_per_thread =
      argc > 4 ? strtoull(argv[4], nullptr, 10) : 10000;
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

  constexpr size_t kBatch = 4096;
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
      heaplens::trace::Packet p;
      *p.mutable_events() = EncodeBatch(1000 + t, s.sequence++, s.pending);
      const std::string framed = TraceBuilder::Frame(p.SerializeAsString());
      fwrite(framed.data(), 1, framed.size(), f);
    }
    round_start = round_end + 1;
  }
  heaplens::trace::Packet p;
  p.mutable_summary()->set_reason(
      heaplens::trace::ExitSummary::UNDERSCORE_EXIT);
  const std::string framed = TraceBuilder::Frame(p.SerializeAsString());
  fwrite(framed.data(), 1, framed.size(), f);
  fclose(f);
  return 0;
}

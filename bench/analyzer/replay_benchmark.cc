// replay_benchmark: replay throughput and memory on a trace file.
//
//   replay_benchmark TRACE.hlt
//
// Prints, for (a) the replay with a no-op consumer (reader + index + merge +
// column decoding) and (b) the replay into the allocation tracker (the live
// set), the events per second on one core (by wall time and by the
// process's CPU time), and the peak RSS. Symbolization is not included.
#include <sys/resource.h>
#include <time.h>

#include <chrono>
#include <cstdio>

#include "analyzer/allocation_tracker.h"
#include "analyzer/replay.h"
#include "analyzer/trace_index.h"
#include "analyzer/trace_reader.h"

namespace {

class Count : public heaplens::ReplayConsumer {
 public:
  void OnEvent(const heaplens::Event& e) override { sum_ += e.address; }
  uint64_t sum_ = 0;
};

// CPU time of the process: on a shared, busy machine it varies far less
// than the wall time (which counts the time other processes ran).
double CpuSeconds() {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

long PeakRssKiB() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: replay_benchmark TRACE.hlt\n");
    return 2;
  }
  auto reader = heaplens::TraceReader::Open(argv[1]);
  if (!reader.ok()) {
    fprintf(stderr, "%s\n", reader.status().ToString().c_str());
    return 2;
  }
  auto start = std::chrono::steady_clock::now();
  auto index = heaplens::IndexTrace(**reader);
  if (!index.ok()) {
    fprintf(stderr, "%s\n", index.status().ToString().c_str());
    return 2;
  }
  const double index_s = Seconds(start);
  printf("trace: %s, %.1f MiB, %zu batches, %llu events\n", argv[1],
         (*reader)->file_size() / 1048576.0, index->batches.size(),
         static_cast<unsigned long long>(index->claimed_events));
  printf("index (pass 1): %.3f s\n", index_s);

  for (int mode = 0; mode < 2; ++mode) {
    Count count;
    heaplens::AllocationTracker tracker;
    heaplens::ReplayConsumer* consumers[] = {
        mode == 0 ? static_cast<heaplens::ReplayConsumer*>(&count) : &tracker};
    start = std::chrono::steady_clock::now();
    const double cpu_start = CpuSeconds();
    auto stats = heaplens::Replay(**reader, *index, consumers);
    const double s = Seconds(start);
    const double cpu = CpuSeconds() - cpu_start;
    if (!stats.ok()) {
      fprintf(stderr, "%s\n", stats.status().ToString().c_str());
      return 2;
    }
    printf(
        "replay (%s): %llu events in %.3f s = %.1f M events/s, "
        "max batches in memory %zu; CPU %.3f s = %.1f M events/s\n",
        mode == 0 ? "decode + merge" : "+ live set",
        static_cast<unsigned long long>(stats->events), s,
        stats->events / s / 1e6, stats->max_loaded_batches, cpu,
        stats->events / cpu / 1e6);
    if (mode == 1) {
      printf("live blocks at end: %zu, peak live bytes %llu\n",
             tracker.live().size(),
             static_cast<unsigned long long>(tracker.peak_live_bytes()));
    }
  }
  printf("peak RSS: %.1f MiB\n", PeakRssKiB() / 1024.0);
  return 0;
}

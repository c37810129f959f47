#include "analyzer/layout/fragmentation.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"

namespace heaplens::layout {
namespace {

// Without a known duration the timeline starts at this resolution.
constexpr uint64_t kInitialIntervalNs = 1;

}  // namespace

std::vector<SeparatorSite> AttributeSeparators(const HeapModel& model,
                                               uint64_t large_free_run,
                                               size_t max_sites) {
  absl::flat_hash_map<uint64_t, SeparatorSite> sites;
  absl::flat_hash_map<uint64_t, std::pair<uint64_t, uint64_t>> group;
  bool have_prev = false;
  uint64_t prev_hi = 0, prev_len = 0;
  const auto& chunks = model.chunks();
  for (const auto& [lo, hi] : model.free_space().intervals()) {
    const uint64_t len = hi - lo;
    if (len < std::max<uint64_t>(large_free_run, 1)) continue;
    if (have_prev &&
        model.brk().Overlap(prev_hi, lo) + model.mmap().Overlap(prev_hi, lo) ==
            lo - prev_hi) {
      const uint64_t separated = std::min(prev_len, len);
      group.clear();
      for (auto it = chunks.lower_bound(prev_hi);
           it != chunks.end() && it->first < lo; ++it) {
        auto& g = group[it->second.stack];
        ++g.first;
        g.second += it->second.usable;
      }
      for (const auto& [stack, g] : group) {
        SeparatorSite& s = sites[stack];
        s.stack = stack;
        s.separated_bytes += separated;
        ++s.groups;
        s.chunks += g.first;
        s.chunk_bytes += g.second;
      }
    }
    have_prev = true;
    prev_hi = hi;
    prev_len = len;
  }
  std::vector<SeparatorSite> out;
  out.reserve(sites.size());
  for (auto& [stack, s] : sites) out.push_back(s);
  std::sort(out.begin(), out.end(),
            [](const SeparatorSite& a, const SeparatorSite& b) {
              if (a.separated_bytes != b.separated_bytes)
                return a.separated_bytes > b.separated_bytes;
              return a.stack < b.stack;
            });
  if (out.size() > max_sites) out.resize(max_sites);
  return out;
}

FragmentationTracker::FragmentationTracker(FragmentationOptions options)
    : options_(options) {
  options_.samples = std::max<size_t>(options_.samples, 1);
  interval_ns_ =
      options_.duration_ns
          ? std::max<uint64_t>(options_.duration_ns / options_.samples, 1)
          : kInitialIntervalNs;
  next_sample_ns_ = interval_ns_;
  report_.large_free_run = options_.large_free_run;
}

void FragmentationTracker::TakeSample(const HeapModel& model, uint64_t t) {
  HeapStats s = model.Stats();
  s.time_ns = t;
  report_.timeline.push_back(s);
  if (options_.duration_ns || report_.timeline.size() < 2 * options_.samples)
    return;
  // Two-level downsampling: keep the samples at even multiples of the
  // interval (indices 1, 3, 5, ... hold times 2i, 4i, ...) and double it.
  std::vector<HeapStats> kept;
  kept.reserve(options_.samples);
  for (size_t i = 1; i < report_.timeline.size(); i += 2)
    kept.push_back(report_.timeline[i]);
  report_.timeline = std::move(kept);
  interval_ns_ *= 2;
  next_sample_ns_ =
      (next_sample_ns_ + interval_ns_ - 1) / interval_ns_ * interval_ns_;
}

void FragmentationTracker::Before(const HeapModel& model, const HeapEvent& e) {
  while (e.time_ns > next_sample_ns_) {
    const uint64_t t = next_sample_ns_;
    next_sample_ns_ += interval_ns_;
    TakeSample(model, t);
  }
}

void FragmentationTracker::After(const HeapModel& model, const HeapEvent& e) {
  const uint64_t extent = model.brk().total() + model.mmap().total();
  const uint64_t resident = model.resident().total();
  if (!have_peak_ || extent > report_.peak.extent_bytes ||
      (extent == report_.peak.extent_bytes &&
       resident > report_.peak.resident_bytes)) {
    have_peak_ = true;
    report_.peak = model.Stats();
  }
  if (e.kind == HeapEventKind::kMark) {
    MarkSample m;
    m.id = e.size;
    m.time_ns = e.time_ns;
    m.extent_bytes = extent;
    m.resident_bytes = resident;
    m.brk = model.brk().end_address();
    m.brk_extent_bytes = model.brk().total();
    m.brk_resident_bytes = model.BrkResidentBytes();
    report_.marks.push_back(m);
  }
}

FragmentationReport FragmentationTracker::Finish(const HeapModel& model) {
  const uint64_t end_ns = std::max(model.time_ns(), options_.duration_ns);
  // The samples still due up to the end, at most `samples` of them with a
  // known duration.
  while (
      next_sample_ns_ <= end_ns &&
      (!options_.duration_ns || report_.timeline.size() < options_.samples)) {
    const uint64_t t = next_sample_ns_;
    next_sample_ns_ += interval_ns_;
    TakeSample(model, t);
  }
  auto& tl = report_.timeline;
  if (tl.size() > options_.samples) {
    std::vector<HeapStats> thin;
    thin.reserve(options_.samples);
    for (size_t i = 0; i < options_.samples; ++i)
      thin.push_back(tl[(i + 1) * tl.size() / options_.samples - 1]);
    tl = std::move(thin);
  }
  report_.end = model.Stats();
  if (!have_peak_) report_.peak = report_.end;
  report_.separators =
      AttributeSeparators(model, options_.large_free_run, options_.max_sites);
  return std::move(report_);
}

}  // namespace heaplens::layout

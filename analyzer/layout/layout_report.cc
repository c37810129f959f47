#include "analyzer/layout/layout_report.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "analyzer/frame_json.h"
#include "analyzer/trace_reader.h"

namespace heaplens::layout {
namespace {

std::string Hex(uint64_t v) { return absl::StrFormat("0x%x", v); }

std::string Seconds(uint64_t ns) {
  return absl::StrFormat("%.3f s", static_cast<double>(ns) / 1e9);
}

std::string Percent(double f) { return absl::StrFormat("%.1f%%", 100 * f); }

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool IsRuntimeFrame(const Frame& f) {
  static const char* const kAllocators[] = {
      "malloc",   "calloc",         "realloc",        "reallocarray",
      "memalign", "posix_memalign", "aligned_alloc",  "valloc",
      "pvalloc",  "operator new",   "operator new[]", "strdup",
      "strndup",  "__libc_",        "_Znwm",          "_Znam"};
  const std::string base = Basename(f.module);
  if (absl::StartsWith(base, "libheaplens") ||
      absl::StartsWith(base, "libc.") || absl::StartsWith(base, "libc-") ||
      absl::StartsWith(base, "libstdc++") || absl::StartsWith(base, "ld-linux"))
    return true;
  for (const char* a : kAllocators) {
    if (absl::StartsWith(f.function, a)) return true;
  }
  return false;
}

void WriteStats(JsonWriter& w, const HeapStats& s) {
  w.BeginObject();
  w.Key("time_ns");
  w.Uint(s.time_ns);
  w.Key("extent_bytes");
  w.Uint(s.extent_bytes);
  w.Key("brk_extent_bytes");
  w.Uint(s.brk_extent_bytes);
  w.Key("mmap_extent_bytes");
  w.Uint(s.mmap_extent_bytes);
  w.Key("brk");
  w.String(Hex(s.brk_top));
  w.Key("resident_bytes");
  w.Uint(s.resident_bytes);
  w.Key("live_bytes");
  w.Uint(s.live_bytes);
  w.Key("live_requested_bytes");
  w.Uint(s.live_requested_bytes);
  w.Key("live_chunks");
  w.Uint(s.live_chunks);
  w.Key("free_bytes");
  w.Uint(s.free_bytes);
  w.Key("largest_free_run");
  w.Uint(s.largest_free_run);
  w.Key("free_runs");
  w.Uint(s.free_runs);
  w.Key("fragmentation");
  w.Double(s.fragmentation);
  w.EndObject();
}

void WritePinningSnapshot(JsonWriter& w, const PinningSnapshot& p,
                          const StackFrames& frames) {
  w.Key("time_ns");
  w.Uint(p.time_ns);
  w.Key("brk");
  w.String(Hex(p.brk_top));
  w.Key("brk_base");
  w.String(Hex(p.brk_base));
  w.Key("pinned_bytes");
  w.Uint(p.pinned_bytes);
  w.Key("resident_pinned_bytes");
  w.Uint(p.resident_pinned_bytes);
  w.Key("top_free_bytes");
  w.Uint(p.top_free_bytes);
  w.Key("top_free_resident_bytes");
  w.Uint(p.top_free_resident);
  w.Key("unlisted_pinned_bytes");
  w.Uint(p.unlisted_pinned_bytes);
  w.Key("walk_truncated");
  w.Bool(p.walk_truncated);
  w.Key("pinners");
  w.BeginArray();
  for (const Pinner& q : p.pinners) {
    w.BeginObject();
    w.Key("address");
    w.String(Hex(q.address));
    w.Key("size");
    w.Uint(q.size);
    w.Key("usable");
    w.Uint(q.usable);
    w.Key("bytes_pinned");
    w.Uint(q.bytes_pinned);
    w.Key("resident_pinned");
    w.Uint(q.resident_pinned);
    w.Key("chunks_above");
    w.Uint(q.chunks_above);
    w.Key("cumulative_releasable");
    w.Uint(q.cumulative_releasable);
    w.Key("alloc_time_ns");
    w.Uint(q.alloc_time_ns);
    w.Key("tid");
    w.Uint(q.tid);
    w.Key("stack_id");
    w.Uint(q.stack);
    w.Key("stack");
    WriteStackJson(w, frames(q.stack));
    w.EndObject();
  }
  w.EndArray();
}

std::string StatsLine(const HeapStats& s) {
  return absl::StrCat("extent ", HumanBytes(s.extent_bytes), " (brk ",
                      HumanBytes(s.brk_extent_bytes), ", mmap ",
                      HumanBytes(s.mmap_extent_bytes), "), resident ",
                      HumanBytes(s.resident_bytes), ", live ",
                      HumanBytes(s.live_bytes), " in ", s.live_chunks,
                      " chunks (requested ", HumanBytes(s.live_requested_bytes),
                      "), free ", HumanBytes(s.free_bytes), " in ", s.free_runs,
                      " runs (largest ", HumanBytes(s.largest_free_run),
                      "), fragmentation ", Percent(s.fragmentation));
}

std::string PinnerSentence(const Pinner& p, const StackFrames& frames) {
  return absl::StrCat(HumanBytes(p.size), " allocated in ",
                      SiteText(frames(p.stack)), " pins ",
                      HumanBytes(p.bytes_pinned), " of free heap (",
                      HumanBytes(p.resident_pinned), " still resident)");
}

void PinningText(std::string& out, const char* title, const PinningSnapshot& p,
                 const StackFrames& frames) {
  absl::StrAppend(&out, "  ", title, " (at ", Seconds(p.time_ns),
                  "): ", HumanBytes(p.pinned_bytes),
                  " of free brk heap pinned below live chunks (",
                  HumanBytes(p.resident_pinned_bytes), " still resident); ",
                  HumanBytes(p.top_free_bytes),
                  " free at the top of the heap\n");
  int i = 0;
  for (const Pinner& q : p.pinners) {
    absl::StrAppend(&out, "    #", ++i, " ", PinnerSentence(q, frames), "\n",
                    "       chunk ", Hex(q.address), ", ", q.size, " B (",
                    q.usable, " usable), allocated at ",
                    Seconds(q.alloc_time_ns), " by thread ", q.tid,
                    "; freeing the top ", q.chunks_above,
                    q.chunks_above == 1 ? " chunk" : " chunks",
                    " would let the break drop ",
                    HumanBytes(q.cumulative_releasable), "\n");
  }
  if (p.unlisted_pinned_bytes > 0) {
    absl::StrAppend(&out, "    ", HumanBytes(p.unlisted_pinned_bytes),
                    " more is pinned in smaller gaps\n");
  }
}

}  // namespace

const Frame* SiteFrame(const std::vector<Frame>& frames) {
  for (const Frame& f : frames) {
    if (!IsRuntimeFrame(f)) return &f;
  }
  return frames.empty() ? nullptr : &frames.front();
}

std::string SiteText(const std::vector<Frame>& frames) {
  const Frame* f = SiteFrame(frames);
  if (f == nullptr) return "an unknown site";
  std::string out = f->function.empty() ? "??" : f->function;
  if (!f->file.empty()) {
    absl::StrAppend(&out, " (", Basename(f->file));
    if (f->line > 0) absl::StrAppend(&out, ":", f->line);
    out.push_back(')');
  }
  return out;
}

void WriteFragmentationJson(const FragmentationReport& r,
                            const StackFrames& frames, JsonWriter& w) {
  w.BeginObject();
  w.Key("peak");
  WriteStats(w, r.peak);
  w.Key("end");
  WriteStats(w, r.end);
  w.Key("timeline");
  w.BeginArray();
  for (const HeapStats& s : r.timeline) WriteStats(w, s);
  w.EndArray();
  w.Key("marks");
  w.BeginArray();
  for (const MarkSample& m : r.marks) {
    w.BeginObject();
    w.Key("id");
    w.Uint(m.id);
    w.Key("time_ns");
    w.Uint(m.time_ns);
    w.Key("extent_bytes");
    w.Uint(m.extent_bytes);
    w.Key("resident_bytes");
    w.Uint(m.resident_bytes);
    w.Key("brk");
    w.String(Hex(m.brk));
    w.Key("brk_extent_bytes");
    w.Uint(m.brk_extent_bytes);
    w.Key("brk_resident_bytes");
    w.Uint(m.brk_resident_bytes);
    w.EndObject();
  }
  w.EndArray();
  w.Key("large_free_run_bytes");
  w.Uint(r.large_free_run);
  w.Key("separators");
  w.BeginArray();
  for (const SeparatorSite& s : r.separators) {
    w.BeginObject();
    w.Key("separated_bytes");
    w.Uint(s.separated_bytes);
    w.Key("groups");
    w.Uint(s.groups);
    w.Key("chunks");
    w.Uint(s.chunks);
    w.Key("chunk_bytes");
    w.Uint(s.chunk_bytes);
    w.Key("stack_id");
    w.Uint(s.stack);
    w.Key("stack");
    WriteStackJson(w, frames(s.stack));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

void WritePinningJson(const PinningReport& r, const StackFrames& frames,
                      JsonWriter& w) {
  w.BeginObject();
  WritePinningSnapshot(w, r.end, frames);
  w.Key("worst");
  w.BeginObject();
  WritePinningSnapshot(w, r.worst, frames);
  w.EndObject();
  w.Key("max_pinned_bytes");
  w.Uint(r.max_pinned_bytes);
  w.Key("max_pinned_time_ns");
  w.Uint(r.max_pinned_time_ns);
  w.Key("retention");
  w.BeginObject();
  w.Key("retained_bytes");
  w.Uint(r.retention.retained_bytes);
  w.Key("resident_free_bytes");
  w.Uint(r.retention.resident_free_bytes);
  w.Key("by_thread");
  w.BeginArray();
  for (const auto& [tid, bytes] : r.retention.by_thread) {
    w.BeginObject();
    w.Key("tid");
    w.Uint(tid);
    w.Key("bytes");
    w.Uint(bytes);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  w.EndObject();
}

void WriteLayoutJson(const LayoutReport& r, const StackFrames& frames,
                     JsonWriter& w) {
  w.Key("fragmentation");
  WriteFragmentationJson(r.fragmentation, frames, w);
  w.Key("pinning");
  WritePinningJson(r.pinning, frames, w);
}

std::vector<LayoutFinding> LayoutFindingsBySection(const LayoutReport& r,
                                                   const StackFrames& frames) {
  std::vector<LayoutFinding> out;
  const PinningSnapshot& end = r.pinning.end;
  for (size_t i = 0; i < end.pinners.size() && i < 3; ++i)
    out.push_back(
        {"pinning", "warning", PinnerSentence(end.pinners[i], frames)});
  const PinningSnapshot& worst = r.pinning.worst;
  if (!worst.pinners.empty() && worst.pinned_bytes > end.pinned_bytes) {
    out.push_back({"pinning", "info",
                   absl::StrCat("At worst (", Seconds(worst.time_ns), "), ",
                                PinnerSentence(worst.pinners[0], frames))});
  }
  if (r.pinning.retention.retained_bytes > 0) {
    out.push_back({"pinning", "info",
                   absl::StrCat(HumanBytes(r.pinning.retention.retained_bytes),
                                " of freed heap is still resident at exit (not "
                                "yet released to the OS)")});
  }
  const HeapStats& peak = r.fragmentation.peak;
  if (peak.extent_bytes > 0) {
    out.push_back(
        {"fragmentation", "info",
         absl::StrCat("At its peak the heap spanned ",
                      HumanBytes(peak.extent_bytes), " with ",
                      HumanBytes(peak.live_bytes), " live (",
                      Percent(peak.fragmentation), " fragmentation)")});
  }
  if (!r.fragmentation.separators.empty()) {
    const SeparatorSite& s = r.fragmentation.separators[0];
    out.push_back(
        {"fragmentation", "warning",
         absl::StrCat(s.chunks, s.chunks == 1 ? " chunk" : " chunks",
                      " allocated in ", SiteText(frames(s.stack)), " keep ",
                      HumanBytes(s.separated_bytes), " of free runs apart")});
  }
  return out;
}

std::vector<std::string> LayoutFindings(const LayoutReport& r,
                                        const StackFrames& frames) {
  std::vector<std::string> out;
  for (LayoutFinding& f : LayoutFindingsBySection(r, frames)) {
    out.push_back(std::move(f.text));
  }
  return out;
}

std::string RenderLayoutText(const LayoutReport& r, const StackFrames& frames) {
  std::string out = "Heap layout:\n";
  const FragmentationReport& f = r.fragmentation;
  absl::StrAppend(&out, "  peak (at ", Seconds(f.peak.time_ns),
                  "): ", StatsLine(f.peak), "\n");
  absl::StrAppend(&out, "  end  (at ", Seconds(f.end.time_ns),
                  "): ", StatsLine(f.end), "\n");
  if (!f.separators.empty()) {
    absl::StrAppend(&out, "  chunks between free runs of ",
                    HumanBytes(f.large_free_run), " or more:\n");
    for (const SeparatorSite& s : f.separators) {
      absl::StrAppend(&out, "    ", s.chunks, " chunks (",
                      HumanBytes(s.chunk_bytes), ") from ",
                      SiteText(frames(s.stack)), " keep ",
                      HumanBytes(s.separated_bytes), " of free runs apart\n");
    }
  }
  absl::StrAppend(&out, "Top-of-heap pinning:\n");
  PinningText(out, "at exit", r.pinning.end, frames);
  if (r.pinning.worst.valid &&
      r.pinning.worst.pinned_bytes > r.pinning.end.pinned_bytes) {
    PinningText(out, "at worst", r.pinning.worst, frames);
  }
  const RetentionReport& ret = r.pinning.retention;
  absl::StrAppend(&out, "Retention: ", HumanBytes(ret.retained_bytes),
                  " freed and not yet released to the OS (",
                  HumanBytes(ret.resident_free_bytes),
                  " of free heap is resident)\n");
  for (const auto& [tid, bytes] : ret.by_thread) {
    absl::StrAppend(&out, "    thread ", tid, ": ", HumanBytes(bytes), "\n");
  }
  if (r.anomalies > 0) {
    absl::StrAppend(&out, "  (", r.anomalies,
                    " events did not fit the heap model and were ignored)\n");
  }
  return out;
}

}  // namespace heaplens::layout

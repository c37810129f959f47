#include "analyzer/layout/replay_adapter.h"

#include <algorithm>

namespace heaplens::layout {

bool ToHeapEvent(const Event& in, HeapEvent* out) {
  HeapEvent e;
  e.tid = in.tid;
  e.time_ns = in.time_ns;
  e.address = in.address;
  e.size = in.size;
  switch (in.kind) {
    case kMalloc:
    case kCalloc:
    case kMemalign:
    case kNew:
    case kNewArray:
      e.kind = HeapEventKind::kAlloc;
      e.usable = in.size + in.slack;
      e.stack = in.stack;
      break;
    case kRealloc:
      e.kind = HeapEventKind::kRealloc;
      e.usable = in.size + in.slack;
      e.stack = in.stack;
      e.old_address = in.old_address;
      break;
    case kFree:
    case kDelete:
    case kDeleteArray:
      e.kind = HeapEventKind::kFree;
      e.size = 0;
      break;
    case kHeapGrow:
      e.kind = HeapEventKind::kHeapGrow;
      break;
    case kHeapShrink:
      e.kind = HeapEventKind::kHeapShrink;
      break;
    case kMmap:
      e.kind = HeapEventKind::kMmap;
      break;
    case kMunmap:
      e.kind = HeapEventKind::kMunmap;
      break;
    case kMadvise:
      e.kind = HeapEventKind::kMadvise;
      break;
    case kMark:
      e.kind = HeapEventKind::kMark;
      e.address = 0;
      break;
    default:
      return false;
  }
  *out = e;
  return true;
}

uint64_t TraceDurationNs(const TraceIndex& index) {
  uint64_t end = 0;
  for (const BatchRef& b : index.batches) end = std::max(end, b.end_ns);
  if (index.summary) end = std::max<uint64_t>(end, index.summary->time_ns());
  return end;
}

void LayoutConsumer::OnStart(const TraceIndex& index) {
  LayoutOptions opt = options_;
  if (index.header.page_size() != 0) opt.page_size = index.header.page_size();
  opt.fragmentation.duration_ns = TraceDurationNs(index);
  analysis_ = std::make_unique<LayoutAnalysis>(opt);
}

void LayoutConsumer::OnEvent(const Event& event) {
  if (!analysis_) analysis_ = std::make_unique<LayoutAnalysis>(options_);
  HeapEvent e;
  if (ToHeapEvent(event, &e)) analysis_->Consume(e);
}

void LayoutConsumer::OnEvents(absl::Span<const Event> events) {
  if (!analysis_) analysis_ = std::make_unique<LayoutAnalysis>(options_);
  LayoutAnalysis& analysis = *analysis_;
  HeapEvent e;
  for (const Event& event : events) {
    if (ToHeapEvent(event, &e)) analysis.Consume(e);
  }
}

void LayoutConsumer::OnEnd(const ReplayStats& stats) {
  if (!analysis_) analysis_ = std::make_unique<LayoutAnalysis>(options_);
  report_ = analysis_->Finish();
  analysis_.reset();
}

}  // namespace heaplens::layout

#include "analyzer/layout/layout_report.h"

#include <string>
#include <vector>

#include "analyzer/event.h"
#include "analyzer/layout/layout_analysis.h"
#include "analyzer/layout/replay_adapter.h"
#include "gtest/gtest.h"

namespace heaplens::layout {
namespace {

constexpr uint64_t kBase = 0x5000000;

// pin_top in miniature, fed through the replay adapter as trace events.
LayoutReport PinTop() {
  LayoutConsumer consumer;
  TraceIndex index;
  index.header.set_page_size(4096);
  BatchRef b;
  b.end_ns = 100000;
  index.batches.push_back(b);
  consumer.OnStart(index);
  uint64_t t = 0;
  auto ev = [&](uint32_t kind, uint64_t addr, uint64_t size, uint64_t stack) {
    Event e;
    e.kind = kind;
    e.tid = 42;
    e.time_ns = ++t;
    e.address = addr;
    e.size = size;
    e.slack = kind == kMalloc ? 8 : 0;
    e.stack = stack;
    consumer.OnEvent(e);
  };
  ev(kHeapGrow, kBase, 1 << 20, 0);
  for (uint64_t i = 0; i < 1000; ++i) ev(kMalloc, kBase + i * 512, 504, 1);
  ev(kMalloc, kBase + 1000 * 512, 40, 2);
  for (uint64_t i = 0; i < 1000; ++i) ev(kFree, kBase + i * 512, 0, 0);
  ev(kMark, 0, 7, 0);
  ev(kInvalidFree, 0x1234, 0, 3);  // not part of the layout
  consumer.OnEnd(ReplayStats());
  return consumer.report();
}

const std::vector<Frame>& Frames(uint64_t stack) {
  static const auto* const kStacks = new std::vector<std::vector<Frame>>{
      {},
      {{0x401000, "churn", "/src/pin_top.c", 20, "/bin/pin_top", false}},
      {{0x7f0000, "malloc", "", 0, "/lib/libc.so.6", false},
       {0x401100, "pin_top", "/src/pin_top.c", 12, "/bin/pin_top", false},
       {0x401200, "main", "/src/pin_top.c", 30, "/bin/pin_top", false}},
  };
  return (*kStacks)[stack < kStacks->size() ? stack : 0];
}

TEST(LayoutReportTest, FindingNamesThePinner) {
  LayoutReport r = PinTop();
  EXPECT_EQ(0u, r.anomalies);
  // The index's duration sets the timeline: 200 samples up to 100 us.
  ASSERT_EQ(200u, r.fragmentation.timeline.size());
  EXPECT_EQ(100000u, r.fragmentation.timeline.back().time_ns);
  std::vector<std::string> f = LayoutFindings(r, Frames);
  ASSERT_FALSE(f.empty());
  EXPECT_EQ(
      "40 B allocated in pin_top (pin_top.c:12) pins 500.0 KiB of free heap "
      "(500.0 KiB still resident)",
      f[0]);
  std::string text = RenderLayoutText(r, Frames);
  EXPECT_NE(std::string::npos, text.find("Top-of-heap pinning")) << text;
  EXPECT_NE(std::string::npos, text.find("thread 42: 500.0 KiB")) << text;
}

TEST(LayoutReportTest, JsonHasTheDocumentedKeys) {
  LayoutReport r = PinTop();
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  WriteLayoutJson(r, Frames, w);
  w.EndObject();
  for (const char* key : {"\"fragmentation\"",
                          "\"peak\"",
                          "\"end\"",
                          "\"timeline\"",
                          "\"extent_bytes\"",
                          "\"resident_bytes\"",
                          "\"live_bytes\"",
                          "\"live_requested_bytes\"",
                          "\"free_bytes\"",
                          "\"largest_free_run\"",
                          "\"free_runs\"",
                          "\"time_ns\"",
                          "\"marks\"",
                          "\"brk\"",
                          "\"pinning\"",
                          "\"pinned_bytes\"",
                          "\"resident_pinned_bytes\"",
                          "\"pinners\"",
                          "\"bytes_pinned\"",
                          "\"resident_pinned\"",
                          "\"cumulative_releasable\"",
                          "\"alloc_time_ns\"",
                          "\"stack\"",
                          "\"worst\"",
                          "\"retention\"",
                          "\"function\": \"pin_top\"",
                          "\"line\": 12",
                          "\"id\": 7",
                          "\"size\": 40",
                          "\"bytes_pinned\": 512000"}) {
    EXPECT_NE(std::string::npos, out.find(key)) << key << "\n" << out;
  }
}

}  // namespace
}  // namespace heaplens::layout

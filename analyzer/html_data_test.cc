#include "analyzer/html_data.h"

#include <functional>
#include <string>

#include "analyzer/layout/layout_analysis.h"
#include "analyzer/test_util.h"
#include "analyzer/testing/trace_builder.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace {

using namespace ::heaplens::testing;  // NOLINT: builders
using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

Struct Parse(const std::string& json) {
  Struct s;
  auto status = google::protobuf::util::JsonStringToMessage(json, &s);
  EXPECT_TRUE(status.ok()) << status << "\n" << json.substr(0, 2000);
  return s;
}

const Value& At(const Struct& s, const std::string& key) {
  static const Value* const kNull = new Value();
  auto it = s.fields().find(key);
  return it == s.fields().end() ? *kNull : it->second;
}

// A trace with `sites` leaking stacks (one block each, no heap graph: every
// live block is unfreed) and one freed allocation per site.
TraceBuilder ManySites(int sites) {
  TraceBuilder b;
  std::vector<Event> events;
  uint64_t t = 1;
  for (int i = 0; i < sites; ++i) {
    const uint64_t s = b.Stack({0x1000 + 16 * static_cast<uint64_t>(i),
                                0x900 + static_cast<uint64_t>(i % 7), 0x800});
    events.push_back(Alloc(kMalloc, t++, 0x100000 + 64 * i, 8 + i % 32, s));
    events.push_back(Alloc(kMalloc, t++, 0x900000 + 64 * i, 100, s));
    events.push_back(Free(kFree, t++, 0x900000 + 64 * i));
  }
  b.Batch(1, 0, events);
  return b;
}

struct Built {
  std::unique_ptr<Analysis> analysis;
  Struct doc;
  std::string json;
};

Built Build(const TraceBuilder& b, const HtmlLimits& limits,
            const layout::LayoutReport* layout) {
  Built out;
  const std::string path = TempPath("html.hlt");
  EXPECT_TRUE(b.WriteTo(path).ok());
  AllocatedByStack allocated;
  AnalyzeOptions opt;
  opt.consumers.push_back(&allocated);
  auto a = AnalyzeTrace(path, opt);
  EXPECT_TRUE(a.ok()) << a.status();
  if (!a.ok()) return out;
  out.analysis = std::move(*a);
  Symbolizer symbolizer(out.analysis->index);
  Report report = BuildReport(*out.analysis, symbolizer, layout);
  HtmlDataInput in;
  in.report = &report;
  in.index = &out.analysis->index;
  in.layout = layout;
  in.allocated = &allocated;
  in.generated_at = "2024-05-01T12:00:00Z";
  in.limits = limits;
  out.json = BuildHtmlData(in, symbolizer);
  out.doc = Parse(out.json);
  return out;
}

int CountNodes(const Struct& node) {
  int n = 1;
  for (const Value& c : At(node, "children").list_value().values()) {
    n += CountNodes(c.struct_value());
  }
  return n;
}

TEST(HtmlDataTest, TopLevelKeysAndLeaks) {
  Built b = Build(ManySites(5), HtmlLimits(), nullptr);
  const Struct& d = b.doc;
  EXPECT_EQ("heaplens-html", At(d, "format").string_value());
  EXPECT_EQ(1, At(d, "version").number_value());
  const Struct& meta = At(d, "meta").struct_value();
  EXPECT_EQ("2024-05-01T12:00:00Z", At(meta, "generated_at").string_value());
  EXPECT_EQ(15, At(meta, "events").number_value());
  const Struct& sum = At(d, "summary").struct_value();
  EXPECT_FALSE(At(sum, "has_heap_graph").bool_value());
  EXPECT_EQ(5, At(sum, "unfreed_blocks").number_value());
  EXPECT_EQ(10, At(sum, "total_allocations").number_value());
  EXPECT_EQ(5, At(d, "leaks").list_value().values_size());
  EXPECT_FALSE(d.fields().count("leaks_omitted"));
  // Killed process: the findings say so, and name the unfreed bytes.
  bool general = false;
  for (const Value& f : At(d, "findings").list_value().values()) {
    general |= At(f.struct_value(), "section").string_value() == "general";
  }
  EXPECT_TRUE(general);
  // Flame graphs: leaked = unfreed bytes, allocated = every allocation.
  const Struct& flame = At(d, "flame").struct_value();
  const Struct& leaked = At(flame, "leaked").struct_value();
  const Struct& alloc = At(flame, "allocated").struct_value();
  EXPECT_EQ("all", At(leaked, "function").string_value());
  EXPECT_EQ(At(sum, "unfreed_bytes").number_value(),
            At(leaked, "bytes").number_value());
  EXPECT_EQ(At(sum, "total_allocated_bytes").number_value(),
            At(alloc, "bytes").number_value());
  // Root -> outermost frame (0x800, shared by every stack).
  ASSERT_EQ(1, At(leaked, "children").list_value().values_size());
  EXPECT_EQ(0x800,
            At(At(leaked, "children").list_value().values(0).struct_value(),
               "address")
                .number_value());
}

TEST(HtmlDataTest, LimitsTruncateWithOmittedCounts) {
  HtmlLimits limits;
  limits.leaks = 10;
  limits.flame_nodes = 25;
  limits.flame_stacks = 30;
  Built b = Build(ManySites(60), limits, nullptr);
  const Struct& d = b.doc;
  EXPECT_EQ(10, At(d, "leaks").list_value().values_size());
  const Struct& omitted = At(d, "leaks_omitted").struct_value();
  EXPECT_EQ(50, At(omitted, "rows").number_value());
  EXPECT_EQ(50, At(omitted, "blocks").number_value());
  const Struct& flame = At(d, "flame").struct_value();
  const Struct& leaked = At(flame, "leaked").struct_value();
  const Struct& alloc = At(flame, "allocated").struct_value();
  EXPECT_LE(CountNodes(leaked), 25);
  EXPECT_GE(CountNodes(leaked), 20);
  EXPECT_LE(CountNodes(alloc), 25);
  // The root keeps every byte, listed or not.
  EXPECT_EQ(At(At(d, "summary").struct_value(), "unfreed_bytes").number_value(),
            At(leaked, "bytes").number_value());
  EXPECT_EQ(At(At(d, "summary").struct_value(), "total_allocated_bytes")
                .number_value(),
            At(alloc, "bytes").number_value());
  bool noted = false;
  for (const Value& n :
       At(At(d, "meta").struct_value(), "notes").list_value().values()) {
    noted |= n.string_value().find("leak table lists the 10 largest of 60") !=
             std::string::npos;
  }
  EXPECT_TRUE(noted);
}

TEST(HtmlDataTest, LayoutSectionsAndHeapMap) {
  using layout::HeapEvent;
  using layout::HeapEventKind;
  auto ev = [](HeapEventKind k, uint64_t t, uint64_t a, uint64_t size,
               uint64_t stack) {
    HeapEvent e;
    e.kind = k;
    e.time_ns = t;
    e.address = a;
    e.size = size;
    e.usable = size;
    e.stack = stack;
    e.tid = 1;
    return e;
  };
  layout::LayoutOptions opt;
  opt.heap_map = true;
  opt.heap_map_options.max_cells = 300;
  layout::LayoutAnalysis la(opt);
  const uint64_t base = 0x10000000, n = 5000;
  uint64_t t = 1;
  la.Consume(ev(HeapEventKind::kHeapGrow, t++, base, n * 512 + 4096, 0));
  for (uint64_t i = 0; i < n; ++i) {
    la.Consume(ev(HeapEventKind::kAlloc, t++, base + i * 512, 512, 1 + i % 3));
  }
  la.Consume(ev(HeapEventKind::kAlloc, t++, base + n * 512, 48, 2));
  for (uint64_t i = 0; i < n; ++i) {
    la.Consume(ev(HeapEventKind::kFree, t++, base + i * 512, 0, 0));
  }
  const layout::LayoutReport lr = la.Finish();
  HtmlLimits limits;
  limits.stacks = 2;
  Built b = Build(ManySites(3), limits, &lr);
  const Struct& d = b.doc;
  const Struct& frag = At(d, "fragmentation").struct_value();
  EXPECT_GT(At(At(frag, "peak").struct_value(), "extent_bytes").number_value(),
            n * 512);
  EXPECT_TRUE(At(frag, "timeline").has_list_value());
  const Struct& pin = At(d, "pinning").struct_value();
  EXPECT_GT(At(pin, "pinned_bytes").number_value(), 0);
  const Struct& top = At(pin, "pinners").list_value().values(0).struct_value();
  EXPECT_EQ(48, At(top, "size").number_value());
  EXPECT_TRUE(At(top, "stack").has_list_value());
  const Struct& map = At(d, "heap_map").struct_value();
  const int stacks = At(d, "stacks").list_value().values_size();
  EXPECT_LE(stacks, 2);
  for (const char* when : {"peak", "end"}) {
    const Struct& s = At(map, when).struct_value();
    const auto& cells = At(s, "cells").list_value().values();
    EXPECT_LE(cells.size(), 300) << when;
    EXPECT_GT(cells.size(), 0) << when;
    EXPECT_EQ("brk",
              At(At(s, "regions").list_value().values(0).struct_value(), "kind")
                  .string_value());
    int pinning = 0;
    for (const Value& c : cells) {
      const Struct& cell = c.struct_value();
      pinning += At(cell, "state").string_value() == "pinning";
      if (cell.fields().count("stack")) {
        EXPECT_LT(At(cell, "stack").number_value(), stacks);
      }
    }
    // At the peak (before the frees) the 48 B chunk pins nothing yet.
    EXPECT_EQ(std::string(when) == "end" ? 1 : 0, pinning) << when;
  }
  EXPECT_TRUE(At(At(map, "peak").struct_value(), "truncated").bool_value());
  bool layout_finding = false;
  for (const Value& f : At(d, "findings").list_value().values()) {
    layout_finding |=
        At(f.struct_value(), "section").string_value() == "pinning";
  }
  EXPECT_TRUE(layout_finding);
}

}  // namespace
}  // namespace heaplens

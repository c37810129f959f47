#include "analyzer/report.h"

#include <memory>
#include <string>

#include "analyzer/test_util.h"
#include "analyzer/testing/trace_builder.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace {

using namespace ::heaplens::testing;  // NOLINT: builders
using ::testing::HasSubstr;
using ::testing::Not;

using google::protobuf::Struct;
using google::protobuf::Value;

Struct Parse(const std::string& json) {
  Struct s;
  auto status = google::protobuf::util::JsonStringToMessage(json, &s);
  EXPECT_TRUE(status.ok()) << status << "\n" << json;
  return s;
}

// A trace of a leaky program: a lost list (1 definite + 2 indirect), a block
// reachable from a global, a block found only by an interior pointer, a
// double free and a mismatched delete.
TraceBuilder LeakyTrace(bool with_graph) {
  TraceBuilder b;
  const uint64_t s_list = b.Stack({0x1100, 0x1000});
  const uint64_t s_glob = b.Stack({0x1200, 0x1000});
  const uint64_t s_int = b.Stack({0x1300, 0x1000});
  const uint64_t s_free = b.Stack({0x1400, 0x1000});
  b.Batch(1, 0,
          {Alloc(kMalloc, 1, 0x10000, 16, s_list),
           Alloc(kMalloc, 2, 0x20000, 16, s_list),
           Alloc(kMalloc, 3, 0x30000, 16, s_list),
           Alloc(kMalloc, 4, 0x40000, 100, s_glob),
           Alloc(kMalloc, 5, 0x50000, 64, s_int),
           Alloc(kMalloc, 6, 0x60000, 8, s_free), Free(kFree, 7, 0x60000),
           InvalidFree(8, 0x60000, s_free), Alloc(kNew, 9, 0x70000, 4, s_free),
           Free(kFree, 10, 0x70000)});
  if (with_graph) {
    b.Graph({0x10000, 0x20000, 0x30000, 0x40000, 0x50000},
            {{Ref(1)}, {Ref(2)}, {}, {}, {}},
            {{trace::RootRegion::DATA, "/test/prog", {Ref(3), Ref(4, true)}}});
    b.Summary(trace::ExitSummary::EXIT, 0, true);
  }
  return b;
}

std::string Render(const TraceBuilder& b, bool json, bool reachable = false) {
  const std::string path = TempPath("t.hlt");
  EXPECT_TRUE(b.WriteTo(path).ok());
  auto a = AnalyzeTrace(path);
  EXPECT_TRUE(a.ok()) << a.status();
  if (!a.ok()) return "";
  Symbolizer symbolizer((*a)->index);
  Report r = BuildReport(**a, symbolizer);
  ReportOptions options;
  options.show_reachable = reachable;
  return json ? RenderJson(r, options) : RenderText(r, options);
}

double Num(const Struct& s, const std::string& key) {
  return s.fields().at(key).number_value();
}

TEST(ReportTest, JsonSummaryAndLeaks) {
  Struct doc = Parse(Render(LeakyTrace(true), true));
  const Struct& sum = doc.fields().at("summary").struct_value();
  EXPECT_EQ(Num(sum, "definite_bytes"), 16);
  EXPECT_EQ(Num(sum, "definite_blocks"), 1);
  EXPECT_EQ(Num(sum, "indirect_bytes"), 32);
  EXPECT_EQ(Num(sum, "indirect_blocks"), 2);
  EXPECT_EQ(Num(sum, "possible_bytes"), 64);
  EXPECT_EQ(Num(sum, "possible_blocks"), 1);
  EXPECT_EQ(Num(sum, "reachable_bytes"), 100);
  EXPECT_EQ(Num(sum, "reachable_blocks"), 1);
  EXPECT_EQ(Num(sum, "unfreed_bytes"), 212);
  EXPECT_EQ(Num(sum, "unfreed_blocks"), 5);
  EXPECT_EQ(Num(sum, "total_allocations"), 7);
  EXPECT_EQ(Num(sum, "total_frees"), 2);
  EXPECT_EQ(Num(sum, "total_bytes_allocated"), 224);
  EXPECT_EQ(Num(sum, "peak_live_bytes"), 220);
  EXPECT_EQ(sum.fields().at("exit_reason").string_value(), "exit");
  EXPECT_TRUE(sum.fields().at("has_heap_graph").bool_value());
  EXPECT_TRUE(sum.fields().at("notes").has_list_value());

  const auto& leaks = doc.fields().at("leaks").list_value();
  ASSERT_EQ(leaks.values_size(), 3);  // reachable hidden
  const Struct& first = leaks.values(0).struct_value();
  EXPECT_EQ(first.fields().at("kind").string_value(), "possible");
  EXPECT_EQ(Num(first, "bytes"), 64);
  EXPECT_EQ(Num(first, "blocks"), 1);
  const auto& stack = first.fields().at("stack").list_value();
  ASSERT_EQ(stack.values_size(), 2);
  const Struct& frame = stack.values(0).struct_value();
  for (const char* key :
       {"function", "file", "line", "module", "inlined", "address"}) {
    EXPECT_TRUE(frame.fields().contains(key)) << key;
  }
  EXPECT_EQ(frame.fields().at("address").string_value(), "0x1300");
  EXPECT_EQ(leaks.values(1).struct_value().fields().at("kind").string_value(),
            "indirect");
  EXPECT_EQ(leaks.values(2).struct_value().fields().at("kind").string_value(),
            "definite");

  const auto& bad = doc.fields().at("invalid_frees").list_value();
  ASSERT_EQ(bad.values_size(), 2);
  const Struct& dbl = bad.values(0).struct_value();
  EXPECT_EQ(dbl.fields().at("kind").string_value(), "double_free");
  EXPECT_EQ(dbl.fields().at("stack").list_value().values_size(), 2);
  EXPECT_EQ(dbl.fields().at("alloc_stack").list_value().values_size(), 2);
  const Struct& mis = bad.values(1).struct_value();
  EXPECT_EQ(mis.fields().at("kind").string_value(), "mismatched_free");
  EXPECT_EQ(mis.fields().at("free_api").string_value(), "free");
  EXPECT_EQ(mis.fields().at("alloc_api").string_value(), "new");
}

TEST(ReportTest, ShowReachable) {
  Struct doc = Parse(Render(LeakyTrace(true), true, /*reachable=*/true));
  EXPECT_EQ(doc.fields().at("leaks").list_value().values_size(), 4);
  std::string text = Render(LeakyTrace(true), false, true);
  EXPECT_THAT(text, HasSubstr("100 bytes in 1 blocks are still reachable"));
}

TEST(ReportTest, TextLooksLikeValgrind) {
  std::string text = Render(LeakyTrace(true), false);
  EXPECT_THAT(text, HasSubstr("16 bytes in 1 blocks are definitely lost in "
                              "loss record 3 of 3"));
  EXPECT_THAT(text, HasSubstr("   at 0x1100: ??"));
  EXPECT_THAT(text, HasSubstr("   by 0x1000: ??"));
  EXPECT_THAT(text, HasSubstr("LEAK SUMMARY:"));
  EXPECT_THAT(text, HasSubstr("definitely lost: 16 bytes in 1 blocks"));
  EXPECT_THAT(text, HasSubstr("indirectly lost: 32 bytes in 2 blocks"));
  EXPECT_THAT(text, HasSubstr("possibly lost: 64 bytes in 1 blocks"));
  EXPECT_THAT(text, HasSubstr("still reachable: 100 bytes in 1 blocks"));
  EXPECT_THAT(text, HasSubstr("Double free"));
  EXPECT_THAT(text, HasSubstr("Mismatched free: free of a block from new"));
  EXPECT_THAT(text, Not(HasSubstr("are still reachable")));
  EXPECT_THAT(text,
              HasSubstr("total heap usage: 7 allocs, 2 frees, 224 bytes"));
}

TEST(ReportTest, WithoutGraphEverythingIsUnfreed) {
  Struct doc = Parse(Render(LeakyTrace(false), true));
  const Struct& sum = doc.fields().at("summary").struct_value();
  EXPECT_EQ(Num(sum, "unfreed_bytes"), 212);
  EXPECT_EQ(Num(sum, "unfreed_blocks"), 5);
  EXPECT_EQ(Num(sum, "definite_bytes"), 0);
  EXPECT_FALSE(sum.fields().at("has_heap_graph").bool_value());
  EXPECT_EQ(sum.fields().at("exit_reason").string_value(), "unknown");
  const auto& leaks = doc.fields().at("leaks").list_value();
  ASSERT_EQ(leaks.values_size(), 3);
  EXPECT_EQ(leaks.values(0).struct_value().fields().at("kind").string_value(),
            "unfreed");
  EXPECT_EQ(Num(leaks.values(0).struct_value(), "bytes"), 100);
  std::string text = Render(LeakyTrace(false), false);
  EXPECT_THAT(text, HasSubstr("unfreed: 212 bytes in 5 blocks"));
  EXPECT_THAT(text, HasSubstr("no exit summary"));
}

TEST(ReportTest, OutputIsDeterministic) {
  // Equal-size groups: the order must not depend on hashing.
  TraceBuilder b;
  std::vector<Event> ev;
  for (int i = 0; i < 50; ++i) {
    const uint64_t s = b.Stack({0x5000u + i * 16, 0x1000});
    ev.push_back(Alloc(kMalloc, i + 1, 0x100000 + i * 64, 32, s));
  }
  b.Batch(1, 0, ev);
  const std::string a = Render(b, true);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Render(b, true), a);
  Struct doc = Parse(a);
  const auto& leaks = doc.fields().at("leaks").list_value();
  ASSERT_EQ(leaks.values_size(), 50);
}

// A layout report (normally from layout::LayoutConsumer) becomes the
// "fragmentation" and "pinning" keys and the HEAP LAYOUT text section.
TEST(ReportTest, LayoutSections) {
  const std::string path = TempPath("layout.hlt");
  ASSERT_TRUE(LeakyTrace(true).WriteTo(path).ok());
  auto a = AnalyzeTrace(path);
  ASSERT_TRUE(a.ok()) << a.status();
  layout::LayoutReport lr;
  lr.fragmentation.peak.extent_bytes = 1 << 20;
  lr.fragmentation.end.extent_bytes = 1 << 20;
  lr.pinning.end.pinned_bytes = 900 << 10;
  layout::Pinner p;
  p.size = 40;
  p.usable = 48;
  p.bytes_pinned = 900 << 10;
  p.resident_pinned = 4096;
  p.stack = 1;
  lr.pinning.end.pinners.push_back(p);
  Symbolizer symbolizer((*a)->index);
  Report r = BuildReport(**a, symbolizer, &lr);
  EXPECT_EQ(1u, r.layout_stacks.count(1));

  Struct doc = Parse(RenderJson(r, {}));
  const Struct& pin = doc.fields().at("pinning").struct_value();
  EXPECT_EQ(Num(pin, "pinned_bytes"), 900 << 10);
  const Struct& top =
      pin.fields().at("pinners").list_value().values(0).struct_value();
  EXPECT_EQ(Num(top, "size"), 40);
  EXPECT_EQ(Num(top, "bytes_pinned"), 900 << 10);
  EXPECT_EQ(Num(top, "resident_pinned"), 4096);
  EXPECT_TRUE(top.fields().at("stack").has_list_value());
  const Struct& frag = doc.fields().at("fragmentation").struct_value();
  EXPECT_EQ(Num(frag.fields().at("peak").struct_value(), "extent_bytes"),
            1 << 20);
  EXPECT_TRUE(frag.fields().at("timeline").has_list_value());

  const std::string text = RenderText(r, {});
  EXPECT_THAT(text, HasSubstr("HEAP LAYOUT:"));
  EXPECT_THAT(text, HasSubstr("40 B allocated in "));
  EXPECT_THAT(text, HasSubstr("pins 900.0 KiB of free heap (4.0 KiB still "
                              "resident)"));
  // The layout comes after the leak summary.
  EXPECT_LT(text.find("LEAK SUMMARY:"), text.find("HEAP LAYOUT:"));

  // Without a layout report, neither appears.
  Report plain = BuildReport(**a, symbolizer);
  EXPECT_THAT(RenderJson(plain, {}), Not(HasSubstr("\"pinning\"")));
  EXPECT_THAT(RenderText(plain, {}), Not(HasSubstr("HEAP LAYOUT")));
}

// LeakyTrace(true), written to `name` and analysed.
std::unique_ptr<Analysis> AnalyzeLeaky(const std::string& name) {
  const std::string path = TempPath(name);
  EXPECT_TRUE(LeakyTrace(true).WriteTo(path).ok());
  auto a = AnalyzeTrace(path);
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? *std::move(a) : nullptr;
}

TEST(ReportTest, ColorOnlyWhenAsked) {
  std::unique_ptr<Analysis> a = AnalyzeLeaky("color.hlt");
  ASSERT_NE(a, nullptr);
  Symbolizer symbolizer(a->index);
  Report r = BuildReport(*a, symbolizer);
  ReportOptions options;
  EXPECT_THAT(RenderText(r, options), Not(HasSubstr("\033[")));
  options.color = true;
  const std::string text = RenderText(r, options);
  EXPECT_THAT(text, HasSubstr("\033[1mLEAK SUMMARY:\033[0m"));
  EXPECT_THAT(text, HasSubstr("\033[1;31m   definitely lost: 16 bytes"));
  EXPECT_THAT(RenderJson(r, options), Not(HasSubstr("\033[")));
}

// Kinds left out of BuildReport's mask keep their counts and get no stack;
// the text report without reachable blocks is the same either way.
TEST(ReportTest, SymbolizesOnlyTheKindsAsked) {
  std::unique_ptr<Analysis> a = AnalyzeLeaky("kinds.hlt");
  ASSERT_NE(a, nullptr);
  Symbolizer symbolizer(a->index);
  const Report all = BuildReport(*a, symbolizer);
  const KindMask no_reachable = kAllKinds & ~KindBit(LeakKind::kReachable);
  const Report some = BuildReport(*a, symbolizer, nullptr, no_reachable);
  ASSERT_EQ(all.leaks.size(), some.leaks.size());
  int reachable = 0;
  for (size_t i = 0; i < all.leaks.size(); ++i) {
    const LeakRecord& x = all.leaks[i];
    const LeakRecord& y = some.leaks[i];
    EXPECT_EQ(x.kind, y.kind);
    EXPECT_EQ(x.bytes, y.bytes);
    EXPECT_EQ(x.blocks, y.blocks);
    EXPECT_FALSE(x.stack.empty());
    if (x.kind == LeakKind::kReachable) {
      ++reachable;
      EXPECT_TRUE(y.stack.empty());
    } else {
      EXPECT_EQ(x.stack_text, y.stack_text);
    }
  }
  EXPECT_EQ(reachable, 1);
  EXPECT_EQ(RenderText(all, {}), RenderText(some, {}));
  EXPECT_EQ(RenderJson(all, {}), RenderJson(some, {}));
}

}  // namespace
}  // namespace heaplens

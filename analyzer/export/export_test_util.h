// export_test_util.h: synthetic traces and analysis for the export tests.
#ifndef HEAPLENS_ANALYZER_EXPORT_EXPORT_TEST_UTIL_H_
#define HEAPLENS_ANALYZER_EXPORT_EXPORT_TEST_UTIL_H_

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "analyzer/analysis.h"
#include "analyzer/testing/trace_builder.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace testing {

// A fresh path under the test's temporary directory.
inline std::string ExportTempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const ::testing::TestInfo* info =
      ::testing::UnitTest::GetInstance()->current_test_info();
  return absl::StrCat(dir ? dir : "/tmp", "/", info ? info->name() : "t", "_",
                      name);
}

// Writes `b` and analyzes it with `options`; fails the test on error.
inline std::unique_ptr<Analysis> AnalyzeBuilt(
    const TraceBuilder& b, const AnalyzeOptions& options = {}) {
  const std::string path = ExportTempPath("t.hlt");
  EXPECT_TRUE(b.WriteTo(path).ok());
  auto a = AnalyzeTrace(path, options);
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? *std::move(a) : nullptr;
}

// A module /test/prog loaded at 0x400000 (text at vaddr 0x1000) and the
// preload library at 0x7f0000000000, then a small program's events:
//   stack A (main -> f): 3 x malloc(100), one freed     -> 200 B leaked
//   stack B (main -> g): malloc(48), realloc to 64       -> 64 B leaked
//   stack C (main -> h): malloc(1000) freed
// Stacks start with a frame inside libheaplens.so, as recorded.
struct SmallProgram {
  TraceBuilder builder;
  uint64_t stack_a = 0, stack_b = 0, stack_c = 0;
};

inline SmallProgram MakeSmallProgram(bool with_graph = false) {
  SmallProgram p;
  TraceBuilder& b = p.builder;
  b.Modules(
      {{"/test/prog", "\x12\x34", 0x400000, {{0x1000, 0x2000, 5, 0x1000}}},
       {"/usr/lib/libheaplens.so",
        "\x56",
        0x7f0000000000,
        {{0, 0x10000, 5, 0}}}});
  const uint64_t self = 0x7f0000000100;
  p.stack_a = b.Stack({self, 0x401100, 0x401010});
  p.stack_b = b.Stack({self, 0x401200, 0x401020});
  p.stack_c = b.Stack({self, 0x401300, 0x401030});
  b.Batch(1, 0,
          {Alloc(kMalloc, 10, 0x10000, 100, p.stack_a, 12),
           Alloc(kMalloc, 20, 0x10080, 100, p.stack_a, 12),
           Alloc(kMalloc, 30, 0x10100, 100, p.stack_a, 12),
           Free(kFree, 40, 0x10080), Alloc(kMalloc, 50, 0x20000, 48, p.stack_b),
           Realloc(60, 0x20000, 0x30000, 64, p.stack_b),
           Alloc(kMalloc, 70, 0x40000, 1000, p.stack_c, 8),
           Free(kFree, 80, 0x40000)});
  if (with_graph) {
    // Nothing points anywhere: all three live blocks are definite leaks.
    b.Graph({0x10000, 0x10100, 0x30000}, {{}, {}, {}}, {});
    b.Summary(trace::ExitSummary::EXIT, 0, true);
  } else {
    b.Summary(trace::ExitSummary::UNDERSCORE_EXIT);
  }
  return p;
}

}  // namespace testing
}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_EXPORT_EXPORT_TEST_UTIL_H_

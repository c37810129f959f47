#include "analyzer/export/mtrace.h"

#include <sstream>

#include "analyzer/export/export_test_util.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace {

using namespace ::heaplens::testing;  // NOLINT: builders

TEST(MtraceTest, WritesGlibcLines) {
  SmallProgram p = MakeSmallProgram();
  std::ostringstream out;
  MtraceWriter writer(&out);
  AnalyzeOptions options;
  options.consumers.push_back(&writer);
  ASSERT_NE(AnalyzeBuilt(p.builder, options), nullptr);
  // Callers skip the libheaplens frame and are module-relative.
  EXPECT_EQ(
      "= Start\n"
      "@ /test/prog:[0x1100] + 0x10000 0x64\n"
      "@ /test/prog:[0x1100] + 0x10080 0x64\n"
      "@ /test/prog:[0x1100] + 0x10100 0x64\n"
      "- 0x10080\n"
      "@ /test/prog:[0x1200] + 0x20000 0x30\n"
      "@ /test/prog:[0x1200] < 0x20000\n"
      "@ /test/prog:[0x1200] > 0x30000 0x40\n"
      "@ /test/prog:[0x1300] + 0x40000 0x3e8\n"
      "- 0x40000\n"
      "= End\n",
      out.str());
}

TEST(MtraceTest, UnknownModulesInvalidFreesAndFailures) {
  TraceBuilder b;
  const uint64_t s = b.Stack({0x1234});
  b.Batch(1, 0,
          {Alloc(kCalloc, 1, 0x10000, 0, 0), InvalidFree(2, 0x999, s),
           AllocFailed(3, 1 << 20, s), HeapEvent(kHeapGrow, 4, 0x10000, 4096),
           Free(kDelete, 5, 0x10000)});
  std::ostringstream out;
  MtraceWriter writer(&out);
  AnalyzeOptions options;
  options.consumers.push_back(&writer);
  ASSERT_NE(AnalyzeBuilt(b, options), nullptr);
  EXPECT_EQ(
      "= Start\n"
      "+ 0x10000 0x0\n"
      "@ [0x1234] - 0x999\n"
      "@ [0x1234] + (nil) 0x100000\n"
      "- 0x10000\n"
      "= End\n",
      out.str());
}

}  // namespace
}  // namespace heaplens

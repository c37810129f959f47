#include "analyzer/export/pprof.h"

#include "analyzer/export/export_test_util.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace {

using namespace ::heaplens::testing;  // NOLINT: builders
using perftools::profiles::Profile;

// Round trip: gzip, gunzip, parse with our schema.
Profile Decode(const Profile& p) {
  auto gz = GzipCompress(p.SerializeAsString());
  EXPECT_TRUE(gz.ok());
  EXPECT_EQ('\x1f', (*gz)[0]);  // gzip magic
  EXPECT_EQ('\x8b', (*gz)[1]);
  auto raw = GzipDecompress(*gz);
  EXPECT_TRUE(raw.ok()) << raw.status();
  Profile out;
  EXPECT_TRUE(out.ParseFromString(*raw));
  return out;
}

int64_t Total(const Profile& p, const std::string& type) {
  for (int i = 0; i < p.sample_type_size(); ++i) {
    if (p.string_table(p.sample_type(i).type()) != type) continue;
    int64_t sum = 0;
    for (const auto& s : p.sample()) sum += s.value(i);
    return sum;
  }
  ADD_FAILURE() << "no sample type " << type;
  return -1;
}

TEST(PprofTest, TotalsMappingsAndLocations) {
  SmallProgram prog = MakeSmallProgram(/*with_graph=*/true);
  AllocatedByStack allocated;
  AnalyzeOptions options;
  options.consumers.push_back(&allocated);
  auto a = AnalyzeBuilt(prog.builder, options);
  ASSERT_NE(a, nullptr);
  Symbolizer symbolizer(a->index);
  const Profile p =
      Decode(BuildPprofProfile(*a, allocated.totals(), symbolizer));

  ASSERT_GE(p.string_table_size(), 1);
  EXPECT_EQ("", p.string_table(0));
  EXPECT_EQ(6, p.sample_type_size());
  EXPECT_EQ("leaked_space", p.string_table(p.default_sample_type()));
  EXPECT_EQ(6, Total(p, "alloc_objects"));  // realloc included
  EXPECT_EQ(1412, Total(p, "alloc_space"));
  EXPECT_EQ(3, Total(p, "inuse_objects"));
  EXPECT_EQ(264, Total(p, "inuse_space"));
  EXPECT_EQ(3, Total(p, "leaked_objects"));
  EXPECT_EQ(264, Total(p, "leaked_space"));
  EXPECT_EQ(3, p.sample_size());  // stacks A, B, C

  // One mapping for the program's text (the preload is left out).
  ASSERT_EQ(1, p.mapping_size());
  EXPECT_EQ(1u, p.mapping(0).id());
  EXPECT_EQ(0x401000u, p.mapping(0).memory_start());
  EXPECT_EQ(0x403000u, p.mapping(0).memory_limit());
  EXPECT_EQ(0x1000u, p.mapping(0).file_offset());
  EXPECT_EQ("/test/prog", p.string_table(p.mapping(0).filename()));
  EXPECT_EQ("1234", p.string_table(p.mapping(0).build_id()));

  // Leaf first, self frame dropped, ids valid; unknown functions have no
  // line (viewers symbolize by address).
  for (const auto& s : p.sample()) {
    ASSERT_EQ(2, s.location_id_size());
    for (uint64_t id : s.location_id()) {
      ASSERT_GE(id, 1u);
      ASSERT_LE(id, static_cast<uint64_t>(p.location_size()));
      const auto& loc = p.location(id - 1);
      EXPECT_EQ(id, loc.id());
      EXPECT_EQ(1u, loc.mapping_id());
      EXPECT_EQ(0, loc.line_size());
    }
  }
  EXPECT_EQ(6, p.location_size());  // 3 sites + 3 callers
}

TEST(PprofTest, Deterministic) {
  SmallProgram prog = MakeSmallProgram();
  AllocatedByStack allocated;
  AnalyzeOptions options;
  options.consumers.push_back(&allocated);
  auto a = AnalyzeBuilt(prog.builder, options);
  ASSERT_NE(a, nullptr);
  Symbolizer s1(a->index), s2(a->index);
  EXPECT_EQ(
      *GzipCompress(
          BuildPprofProfile(*a, allocated.totals(), s1).SerializeAsString()),
      *GzipCompress(
          BuildPprofProfile(*a, allocated.totals(), s2).SerializeAsString()));
}

TEST(PprofTest, BadGzipIsDataLoss) {
  EXPECT_EQ(absl::StatusCode::kDataLoss,
            GzipDecompress("not gzip").status().code());
}

}  // namespace
}  // namespace heaplens

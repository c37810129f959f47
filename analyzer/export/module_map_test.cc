#include "analyzer/export/module_map.h"

#include "analyzer/export/export_test_util.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace {

using namespace ::heaplens::testing;  // NOLINT: builders

TEST(ModuleMapTest, FindsModulesBySegmentAndSelf) {
  SmallProgram p = MakeSmallProgram();
  auto a = AnalyzeBuilt(p.builder);
  ASSERT_NE(a, nullptr);
  ModuleMap modules(a->index);
  const trace::Module* m = modules.Find(0, 0x401100);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ("/test/prog", m->path());
  EXPECT_FALSE(ModuleMap::IsSelf(*m));
  // Return addresses are looked up at pc - 1: the segment's end belongs to it.
  EXPECT_NE(nullptr, modules.Find(0, 0x403000));
  EXPECT_EQ(nullptr, modules.Find(0, 0x403001));
  EXPECT_EQ(nullptr, modules.Find(0, 0x401000));
  const trace::Module* self = modules.Find(0, 0x7f0000000100);
  ASSERT_NE(self, nullptr);
  EXPECT_TRUE(ModuleMap::IsSelf(*self));
  EXPECT_EQ(nullptr, modules.Find(kNoEpoch, 0x401100));
  EXPECT_EQ(nullptr, modules.Find(7, 0x401100));
}

}  // namespace
}  // namespace heaplens

#include "analyzer/gate/trace_paths.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace gate {
namespace {

std::string Dir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string d = absl::StrCat(tmp ? tmp : "/tmp", "/", name);
  mkdir(d.c_str(), 0755);
  return d;
}

void Touch(const std::string& p) { fclose(fopen(p.c_str(), "w")); }

TEST(TracePaths, DirectoriesGlobsAndFiles) {
  const std::string d = Dir("traces");
  Touch(d + "/b.hlt");
  Touch(d + "/a.hlt");
  Touch(d + "/notes.txt");
  auto r = ExpandTraceArgs({d});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((std::vector<std::string>{d + "/a.hlt", d + "/b.hlt"}), *r);
  r = ExpandTraceArgs({d + "/*.hlt", d + "/a.hlt", "/missing.hlt"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(
      (std::vector<std::string>{d + "/a.hlt", d + "/b.hlt", "/missing.hlt"}),
      *r);
}

TEST(TracePaths, EmptyExpansionsAreErrors) {
  const std::string d = Dir("empty");
  auto r = ExpandTraceArgs({d});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string::npos, r.status().message().find(d));
  r = ExpandTraceArgs({d + "/*.hlt"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string::npos, r.status().message().find("no trace matches"));
}

}  // namespace
}  // namespace gate
}  // namespace heaplens

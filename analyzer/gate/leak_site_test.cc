#include "analyzer/gate/leak_site.h"

#include "analyzer/gate/gate_test_util.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace gate {
namespace {

using testing::F;

const char kLibc[] = "/usr/lib/x86_64-linux-gnu/libc.so.6";

TEST(LeakSite, SystemPaths) {
  EXPECT_TRUE(IsSystemModule(kLibc));
  EXPECT_TRUE(IsSystemModule("/lib64/ld-linux-x86-64.so.2"));
  EXPECT_FALSE(IsSystemModule("/work/app/bin/app"));
  EXPECT_TRUE(IsSystemSourcePath("/usr/include/c++/12/bits/new_allocator.h"));
  EXPECT_TRUE(IsSystemSourcePath("./malloc/../sysdeps/unix/x.c"));
  EXPECT_TRUE(IsSystemSourcePath("/build/glibc-abc/string/strdup.c"));
  EXPECT_FALSE(IsSystemSourcePath("/work/app/src/main.cc"));
  EXPECT_FALSE(IsSystemSourcePath("src/main.cc"));
}

TEST(LeakSite, FirstUserSourceFrameSkipsLibcAndHeaders) {
  std::vector<Frame> stack = {
      F("strdup", "/build/glibc-x/string/strdup.c", 42, kLibc),
      F("std::__new_allocator<int>::allocate",
        "/usr/include/c++/12/bits/new_allocator.h", 137),
      F("no_file"), F("make_name", "/work/app/leaky.c", 36),
      F("main", "/work/app/leaky.c", 81)};
  const Frame* f = FirstUserSourceFrame(stack);
  ASSERT_NE(nullptr, f);
  EXPECT_EQ("make_name", f->function);
  EXPECT_EQ(nullptr, FirstUserSourceFrame({F("strdup", "", 0, kLibc)}));
}

TEST(LeakSite, SignatureUsesUserFramesFunctionsAndModuleBasenames) {
  std::vector<Frame> stack = {F("strdup", "", 0, kLibc),
                              F("make_name", "/work/app/leaky.c", 36),
                              F("main", "/work/app/leaky.c", 81),
                              F("__libc_start_call_main", "", 0, kLibc)};
  EXPECT_EQ("make_name@app; main@app", SiteSignature(stack, 4));
  EXPECT_EQ("make_name@app", SiteSignature(stack, 1));
}

TEST(LeakSite, SignatureStableAcrossRebuilds) {
  // Another build: other addresses, lines, build directory, an extra libc
  // frame from a newer glibc.
  std::vector<Frame> a = {
      F("make_name", "/work/app/leaky.c", 36, "/work/app/bin/app", 0x401234),
      F("main", "/work/app/leaky.c", 81, "/work/app/bin/app", 0x401500)};
  std::vector<Frame> b = {F("make_name", "/home/ci/build-7/leaky.c", 39,
                            "/home/ci/build-7/out/app", 0x555555555234),
                          F("main", "/home/ci/build-7/leaky.c", 90,
                            "/home/ci/build-7/out/app", 0x555555555600),
                          F("__libc_start_main_impl", "", 0, kLibc)};
  EXPECT_EQ(SiteSignature(a, 4), SiteSignature(b, 4));
  // A different function is a different site.
  b[0].function = "make_other_name";
  EXPECT_NE(SiteSignature(a, 4), SiteSignature(b, 4));
}

TEST(LeakSite, RuntimeGlueIsNotUserCode) {
  std::vector<Frame> stack = {F("leak_direct", "examples/leaky.c", 30),
                              F("main", "examples/leaky.c", 82),
                              F("__libc_start_call_main", "", 0, kLibc),
                              F("_start")};
  EXPECT_EQ("leak_direct@app; main@app", SiteSignature(stack, 4));
}

TEST(LeakSite, SignatureFallsBackToAllFramesAndUnknowns) {
  std::vector<Frame> stack = {F("strdup", "", 0, kLibc), F("", "", 0, "")};
  EXPECT_EQ("strdup@libc.so.6; ??", SiteSignature(stack, 4));
}

}  // namespace
}  // namespace gate
}  // namespace heaplens

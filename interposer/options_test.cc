// Unit tests of the HEAPLENS_OPTIONS parser (options.h): values, suffixes,
// bad values, unknown names, length limits, the AT_SECURE path and the
// canonical string.
#include "interposer/options.h"

#include <stdlib.h>
#include <string.h>

#include <string>

#include "gtest/gtest.h"

namespace heaplens {
namespace {

class OptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ResetOptionsForTest();
    SetSecureModeForTest(0);
    unsetenv("HEAPLENS_OPTIONS");
  }
  void TearDown() override {
    ResetOptionsForTest();
    SetSecureModeForTest(-1);
    unsetenv("HEAPLENS_OPTIONS");
  }
};

TEST_F(OptionsTest, Defaults) {
  EXPECT_EQ(GetOptions().mmap_threshold, 128u << 10);
  EXPECT_EQ(GetOptions().release_policy, kReleaseDecay);
  EXPECT_EQ(GetOptions().abort_on_invalid_free, 0u);
}

TEST_F(OptionsTest, SizesBoolsAndEnums) {
  EXPECT_EQ(ParseOptions("mmap_threshold=256k:trim_threshold=2M,"
                         "large_cache=1g:decay_ms=250:"
                         "abort_on_invalid_free=true:release_policy=eager"),
            0);
  EXPECT_EQ(GetOptions().mmap_threshold, 256u << 10);
  EXPECT_EQ(GetOptions().trim_threshold, 2u << 20);
  EXPECT_EQ(GetOptions().large_cache, 1u << 30);
  EXPECT_EQ(GetOptions().decay_ms, 250u);
  EXPECT_EQ(GetOptions().abort_on_invalid_free, 1u);
  EXPECT_EQ(GetOptions().release_policy, kReleaseEager);
  EXPECT_EQ(ParseOptions("abort_on_invalid_free=0:release_policy=never"), 0);
  EXPECT_EQ(GetOptions().abort_on_invalid_free, 0u);
  EXPECT_EQ(GetOptions().release_policy, kReleaseNever);
}

TEST_F(OptionsTest, BadValuesAreRejectedAndLeaveTheDefault) {
  const char* bad[] = {
      "mmap_threshold=",                      // empty
      "mmap_threshold=abc",                   // not a number
      "mmap_threshold=12x",                   // bad suffix
      "mmap_threshold=12kk",                  // two suffixes
      "mmap_threshold=-1",                    // negative
      "mmap_threshold=99999999999999999999",  // overflows uint64
      "mmap_threshold=17179869184g",          // overflows after the suffix
      "abort_on_invalid_free=yes",            // not a bool
      "release_policy=lazy",                  // not in the enum
      "release_policy=",                      // empty enum
      "mmap_threshold",                       // no '='
      "=5",                                   // no name
  };
  for (const char* spec : bad) {
    ResetOptionsForTest();
    EXPECT_EQ(ParseOptions(spec), 1) << spec;
    EXPECT_EQ(GetOptions().mmap_threshold, 128u << 10) << spec;
    EXPECT_EQ(GetOptions().abort_on_invalid_free, 0u) << spec;
    EXPECT_EQ(GetOptions().release_policy, kReleaseDecay) << spec;
  }
}

TEST_F(OptionsTest, UnknownNamesAreRejectedOthersStillApply) {
  EXPECT_EQ(ParseOptions("no_such_option=1:top_pad=8k:mmap_thresholdx=1"), 2);
  EXPECT_EQ(GetOptions().top_pad, 8u << 10);
  // A prefix of a name is not the name.
  EXPECT_EQ(ParseOptions("mmap=1"), 1);
}

TEST_F(OptionsTest, EmptyEntriesAreIgnored) {
  EXPECT_EQ(ParseOptions("::top_pad=4k,,:"), 0);
  EXPECT_EQ(GetOptions().top_pad, 4u << 10);
  EXPECT_EQ(ParseOptions(""), 0);
}

TEST_F(OptionsTest, LengthLimits) {
  // An entry longer than 128 bytes is rejected, even if it would parse.
  std::string longval = "top_pad=" + std::string(121, '0') + "1";
  ASSERT_GT(longval.size(), 128u);
  EXPECT_EQ(ParseOptions(longval.c_str()), 1);
  EXPECT_EQ(GetOptions().top_pad, 64u << 10);
  std::string fits = "top_pad=" + std::string(119, '0') + "1";
  ASSERT_EQ(fits.size(), 128u);
  EXPECT_EQ(ParseOptions(fits.c_str()), 0);
  EXPECT_EQ(GetOptions().top_pad, 1u);
  // A whole string longer than 4096 bytes is ignored entirely.
  ResetOptionsForTest();
  std::string huge = "top_pad=8k";
  while (huge.size() <= 4096) huge += ":decay_ms=5";
  EXPECT_EQ(ParseOptions(huge.c_str()), 1);
  EXPECT_EQ(GetOptions().top_pad, 64u << 10);
  EXPECT_EQ(GetOptions().decay_ms, 1000u);
}

TEST_F(OptionsTest, InitOptionsReadsTheEnvironmentOnce) {
  setenv("HEAPLENS_OPTIONS", "top_pad=12k", 1);
  EXPECT_TRUE(InitOptions());
  EXPECT_EQ(GetOptions().top_pad, 12u << 10);
  setenv("HEAPLENS_OPTIONS", "top_pad=16k", 1);
  EXPECT_TRUE(InitOptions());  // already read: no change
  EXPECT_EQ(GetOptions().top_pad, 12u << 10);
}

TEST_F(OptionsTest, IgnoredUnderAtSecure) {
  SetSecureModeForTest(1);
  setenv("HEAPLENS_OPTIONS", "top_pad=12k:abort_on_invalid_free=1", 1);
  EXPECT_TRUE(InitOptions());
  EXPECT_EQ(GetOptions().top_pad, 64u << 10);
  EXPECT_EQ(GetOptions().abort_on_invalid_free, 0u);
}

TEST_F(OptionsTest, CanonicalString) {
  ParseOptions("release_policy=never:mmap_threshold=1m");
  char buf[1024];
  size_t need = OptionsCanonicalString(buf, sizeof(buf));
  ASSERT_LT(need, sizeof(buf));
  std::string s(buf);
  EXPECT_EQ(s.find("mmap_threshold=1048576:"), 0u) << s;
  EXPECT_NE(s.find(":release_policy=never:"), std::string::npos) << s;
  // Truncation: NUL-terminated, returns the length it needed.
  char small[10];
  EXPECT_EQ(OptionsCanonicalString(small, sizeof(small)), need);
  EXPECT_EQ(strlen(small), 9u);
  EXPECT_EQ(std::string(small), s.substr(0, 9));
}

}  // namespace
}  // namespace heaplens

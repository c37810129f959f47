#include "analyzer/gate/wildcard.h"

#include "gtest/gtest.h"

namespace heaplens {
namespace gate {
namespace {

TEST(LsanMatch, UnanchoredIsSubstring) {
  EXPECT_TRUE(LsanMatch("leak", "my_leak_direct"));
  EXPECT_TRUE(LsanMatch("leak_*", "my_leak_direct"));
  EXPECT_FALSE(LsanMatch("leek", "my_leak_direct"));
}

TEST(LsanMatch, Anchors) {
  EXPECT_FALSE(LsanMatch("^leak", "my_leak"));
  EXPECT_TRUE(LsanMatch("^my_", "my_leak"));
  EXPECT_TRUE(LsanMatch("leak$", "my_leak"));
  EXPECT_FALSE(LsanMatch("my$", "my_leak"));
  EXPECT_TRUE(LsanMatch("^my_leak$", "my_leak"));
  EXPECT_FALSE(LsanMatch("^my_lea$", "my_leak"));
}

TEST(LsanMatch, StarAndLiteralQuestionMark) {
  EXPECT_TRUE(LsanMatch("^libfoo*.so", "libfoo-1.2.so"));
  EXPECT_TRUE(LsanMatch("a*b*c", "xxaYYbZZcxx"));
  EXPECT_FALSE(LsanMatch("a?c", "abc"));  // '?' is not a wildcard in LSan
  EXPECT_TRUE(LsanMatch("a?c", "a?c"));
}

TEST(LsanMatch, EmptyTextNeverMatches) {
  EXPECT_FALSE(LsanMatch("*", ""));
  EXPECT_TRUE(LsanMatch("*", "x"));
}

TEST(GlobMatch, WholeString) {
  EXPECT_TRUE(GlobMatch("malloc", "malloc"));
  EXPECT_FALSE(GlobMatch("malloc", "xmalloc"));
  EXPECT_TRUE(GlobMatch("*malloc", "xmalloc"));
  EXPECT_TRUE(GlobMatch("_Zn?m", "_Znwm"));
  EXPECT_TRUE(GlobMatch("*/libfoo.so*", "/usr/lib/libfoo.so.1"));
  EXPECT_FALSE(GlobMatch("*/libfoo.so", "/usr/lib/libfoo.so.1"));
  EXPECT_TRUE(GlobMatch("", ""));
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_FALSE(GlobMatch("?", ""));
  EXPECT_TRUE(GlobMatch("a*b*c*d", "aXbYcZd"));
  EXPECT_FALSE(GlobMatch("a*b*c*d", "aXbYcZ"));
}

}  // namespace
}  // namespace gate
}  // namespace heaplens

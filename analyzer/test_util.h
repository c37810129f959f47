// test_util.h: helpers shared by the analyzer's tests.
#ifndef HEAPLENS_ANALYZER_TEST_UTIL_H_
#define HEAPLENS_ANALYZER_TEST_UTIL_H_

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace testing {

// A fresh path under the test's temporary directory.
inline std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const ::testing::TestInfo* info =
      ::testing::UnitTest::GetInstance()->current_test_info();
  return absl::StrCat(dir ? dir : "/tmp", "/", info ? info->name() : "t", "_",
                      name);
}

}  // namespace testing
}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_TEST_UTIL_H_

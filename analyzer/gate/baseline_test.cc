#include "analyzer/gate/baseline.h"

#include "gtest/gtest.h"

namespace heaplens {
namespace gate {
namespace {

TEST(Baseline, RoundTrip) {
  std::map<std::string, BaselineSite> sites;
  sites["make_name@app; main@app"] = {"definite", 14, 1};
  sites["leak_direct@app; main@app"] = {"definite,indirect", 300, 3};
  const std::string text = RenderBaseline(sites, 4);
  EXPECT_NE(std::string::npos,
            text.find("leak_direct@app; main@app\t# definite,indirect: 300 B "
                      "in 3 blocks\nmake_name@app; main@app\t# definite: 14 "
                      "B in 1 block\n"))
      << text;
  Baseline b = ParseBaseline(text, "b.txt");
  EXPECT_EQ(2u, b.entries.size());
  EXPECT_EQ(1u, b.entries.count("make_name@app; main@app"));
  EXPECT_EQ(1u, b.entries.count("leak_direct@app; main@app"));
}

TEST(Baseline, HandEditedLines) {
  Baseline b = ParseBaseline(
      "# c\n\n  spaced@app  \nno_comment@app\r\n# leak_x@app\n", "b");
  EXPECT_EQ((std::set<std::string>{"spaced@app", "no_comment@app"}), b.entries);
}

TEST(Baseline, MissingFile) {
  auto b = ReadBaseline("/nonexistent/heaplens.baseline");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(absl::StatusCode::kNotFound, b.status().code());
  EXPECT_NE(std::string::npos,
            b.status().message().find("/nonexistent/heaplens.baseline"));
}

}  // namespace
}  // namespace gate
}  // namespace heaplens

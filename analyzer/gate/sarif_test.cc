#include "analyzer/gate/sarif.h"

#include "analyzer/gate/gate_test_util.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace gate {
namespace {

using testing::LeakySites;
using testing::MakeReport;

TEST(Sarif, SourceUri) {
  bool rel = false;
  EXPECT_EQ("leaky.c", SourceUri("/work/app/leaky.c", "/work/app", &rel));
  EXPECT_TRUE(rel);
  EXPECT_EQ("leaky.c", SourceUri("/work/app/leaky.c", "/work/app/", &rel));
  EXPECT_EQ("file:///work/application/x.c",
            SourceUri("/work/application/x.c", "/work/app", &rel));
  EXPECT_FALSE(rel);
  EXPECT_EQ("examples/leaky.c",
            SourceUri("/proc/self/cwd/examples/leaky.c", "", &rel));
  EXPECT_TRUE(rel);
  EXPECT_EQ("src/a%20b.c", SourceUri("./src/a b.c", "", &rel));
  EXPECT_TRUE(rel);
}

TEST(Sarif, ResultsMergedAcrossProcessesAndLocatedInUserSource) {
  std::vector<Report> reports = {MakeReport(1, LeakySites()),
                                 MakeReport(2, LeakySites())};
  auto supp = *ParseSuppressions("leak:make_name\n", "s.supp");
  GateResult r = EvaluateGate(reports, GatePolicy{}, supp, nullptr);
  const std::string sarif = RenderSarif(r, supp, SarifOptions{"/work/app"});
  EXPECT_NE(std::string::npos, sarif.find("\"version\": \"2.1.0\""));
  // strdup is in libc: the result is at make_name's line.
  EXPECT_NE(std::string::npos, sarif.find("\"uri\": \"leaky.c\""));
  EXPECT_NE(std::string::npos, sarif.find("\"startLine\": 36"));
  EXPECT_NE(std::string::npos, sarif.find("\"kind\": \"external\""));
  EXPECT_NE(std::string::npos,
            sarif.find("definite leak: 600 B in 6 blocks allocated at "
                       "leak_direct (leaky.c:30)"))
      << sarif;
  size_t results = 0;
  for (size_t p = sarif.find("\"ruleId\""); p != std::string::npos;
       p = sarif.find("\"ruleId\"", p + 1)) {
    ++results;
  }
  EXPECT_EQ(4u, results);  // 2 processes merged; reachable not gated
  EXPECT_EQ(sarif,
            RenderSarif(EvaluateGate(reports, GatePolicy{}, supp, nullptr),
                        supp, SarifOptions{"/work/app"}));
}

}  // namespace
}  // namespace gate
}  // namespace heaplens

#include "analyzer/gate/junit.h"

#include "analyzer/gate/gate_test_util.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace gate {
namespace {

using testing::LeakySites;
using testing::MakeReport;

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1))
    ++n;
  return n;
}

TEST(Junit, OneTestcasePerProcessOneFailurePerCountedSite) {
  std::vector<Report> reports = {MakeReport(1, LeakySites()),
                                 MakeReport(2, {})};
  auto supp = *ParseSuppressions("leak:make_name\n", "s.supp");
  GateResult r = EvaluateGate(reports, GatePolicy{}, supp, nullptr);
  const std::string xml = RenderJunit(r, supp);
  EXPECT_EQ(2u, Count(xml, "<testcase "));
  EXPECT_EQ(3u, Count(xml, "<failure "));  // leak_direct, leak_list x2
  EXPECT_NE(std::string::npos,
            xml.find("<testsuites name=\"heaplens\" tests=\"2\" "
                     "failures=\"1\""))
      << xml;
  EXPECT_NE(std::string::npos,
            xml.find("suppressed by leak:make_name: definite leak: 14 B"))
      << xml;
  EXPECT_EQ(xml, RenderJunit(EvaluateGate(reports, GatePolicy{}, supp, nullptr),
                             supp));
}

TEST(Junit, WithinBudgetHasNoFailures) {
  std::vector<Report> reports = {MakeReport(1, LeakySites())};
  GatePolicy p;
  p.max_bytes = 1000;
  const std::string xml =
      RenderJunit(EvaluateGate(reports, p, {}, nullptr), {});
  EXPECT_EQ(0u, Count(xml, "<failure "));
  EXPECT_NE(std::string::npos, xml.find("counted (within budget)"));
}

TEST(Junit, Escapes) {
  EXPECT_EQ("a&lt;b&gt;&amp;&quot;&apos;\tc", XmlEscape("a<b>&\"'\tc\x01"));
}

}  // namespace
}  // namespace gate
}  // namespace heaplens

#include "analyzer/gate/gate.h"

#include "analyzer/gate/gate_test_util.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace gate {
namespace {

using testing::LeakySites;
using testing::MakeReport;

constexpr int kDef = static_cast<int>(LeakKind::kDefinite);
constexpr int kInd = static_cast<int>(LeakKind::kIndirect);

std::vector<Suppression> Supp(absl::string_view text) {
  return *ParseSuppressions(text, "s.supp");
}

TEST(Gate, DefaultPolicyFailsOnDefiniteAndIndirect) {
  std::vector<Report> reports = {MakeReport(1, LeakySites())};
  GateResult r = EvaluateGate(reports, GatePolicy{}, {}, nullptr);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(362u, r.counted[kDef].bytes);
  EXPECT_EQ(5u, r.counted[kDef].blocks);
  EXPECT_EQ(192u, r.counted[kInd].bytes);
  EXPECT_EQ(554u, r.counted_total.bytes);
  // Reachable is not gated by default.
  EXPECT_EQ(64u, r.processes[0].not_gated[3].bytes);
  const std::string summary = RenderSummary(r, {}, GatePolicy{});
  EXPECT_NE(std::string::npos, summary.find("FAIL app (pid 1)")) << summary;
  EXPECT_NE(std::string::npos,
            summary.find("definite bytes 362 > 0, indirect bytes 192 > 0"))
      << summary;
}

TEST(Gate, CleanProcessPasses) {
  std::vector<Report> reports = {MakeReport(1, {})};
  GateResult r = EvaluateGate(reports, GatePolicy{}, {}, nullptr);
  EXPECT_TRUE(r.passed);
  EXPECT_NE(std::string::npos,
            RenderSummary(r, {}, GatePolicy{}).find("PASSED"));
}

TEST(Gate, ReachableOnlyPassesByDefaultAndFailsWhenGated) {
  std::vector<LeakRecord> leaks = {LeakySites()[4]};  // reachable
  std::vector<Report> reports = {MakeReport(1, leaks)};
  EXPECT_TRUE(EvaluateGate(reports, GatePolicy{}, {}, nullptr).passed);
  GatePolicy p;
  p.fail_on = *ParseKindList("definite,indirect,reachable");
  EXPECT_FALSE(EvaluateGate(reports, p, {}, nullptr).passed);
}

TEST(Gate, KindBudgets) {
  std::vector<Report> reports = {MakeReport(1, LeakySites())};
  GatePolicy p;
  p.max_kind_bytes[kDef] = 362;
  // Indirect has no allowance and no shared budget is set: bounded by 0.
  EXPECT_FALSE(EvaluateGate(reports, p, {}, nullptr).passed);
  p.max_kind_bytes[kInd] = 192;
  EXPECT_TRUE(EvaluateGate(reports, p, {}, nullptr).passed);
  p.max_kind_bytes[kDef] = 361;
  GateResult r = EvaluateGate(reports, p, {}, nullptr);
  EXPECT_FALSE(r.passed);
  EXPECT_NE(std::string::npos,
            RenderSummary(r, {}, p).find(
                "definite bytes 362 > 361 (--max-definite-bytes)"));
}

TEST(Gate, SharedBudgets) {
  std::vector<Report> reports = {MakeReport(1, LeakySites()),
                                 MakeReport(2, LeakySites())};
  GatePolicy p;
  p.max_bytes = 2 * 554;
  EXPECT_TRUE(EvaluateGate(reports, p, {}, nullptr).passed);
  p.max_bytes = 2 * 554 - 1;
  EXPECT_FALSE(EvaluateGate(reports, p, {}, nullptr).passed);
  p.max_bytes.reset();
  p.max_blocks = 18;
  EXPECT_TRUE(EvaluateGate(reports, p, {}, nullptr).passed);
  p.max_blocks = 17;
  EXPECT_FALSE(EvaluateGate(reports, p, {}, nullptr).passed);
  // A kind's own allowance still applies under a shared budget.
  p.max_blocks = 100;
  p.max_kind_bytes[kInd] = 0;
  EXPECT_FALSE(EvaluateGate(reports, p, {}, nullptr).passed);
}

TEST(Gate, PolicyValidation) {
  GatePolicy p;
  EXPECT_TRUE(ValidatePolicy(p).ok());
  p.max_kind_bytes[static_cast<int>(LeakKind::kPossible)] = 10;
  absl::Status s = ValidatePolicy(p);
  EXPECT_EQ(absl::StatusCode::kInvalidArgument, s.code());
  EXPECT_NE(std::string::npos,
            s.message().find("--max-possible-bytes has no effect"));
  GatePolicy none;
  none.fail_on = 0;
  EXPECT_FALSE(ValidatePolicy(none).ok());
}

TEST(Gate, SuppressionHitCountsAndUnused) {
  std::vector<Report> reports = {MakeReport(1, LeakySites()),
                                 MakeReport(2, LeakySites())};
  auto supp = Supp("leak:leak_list\nleak:nothing_here\nleak:make_name\n");
  GateResult r = EvaluateGate(reports, GatePolicy{}, supp, nullptr);
  ASSERT_EQ(3u, r.suppression_hits.size());
  // leak_list: the definite head and the indirect rest, in 2 processes.
  EXPECT_EQ(4u, r.suppression_hits[0].sites);
  EXPECT_EQ(2u * (48 + 192), r.suppression_hits[0].bytes);
  EXPECT_EQ(10u, r.suppression_hits[0].blocks);
  EXPECT_EQ(0u, r.suppression_hits[1].sites);
  EXPECT_EQ(2u, r.suppression_hits[2].sites);
  EXPECT_EQ(28u, r.suppression_hits[2].bytes);
  EXPECT_EQ(600u, r.counted_total.bytes);  // leak_direct only
  EXPECT_FALSE(r.passed);
  const std::string summary = RenderSummary(r, supp, GatePolicy{});
  EXPECT_NE(std::string::npos,
            summary.find("leak:leak_list (s.supp:1): hid 4 leaks, 480 B in "
                         "10 blocks"))
      << summary;
  EXPECT_NE(std::string::npos,
            summary.find("unused: leak:nothing_here (s.supp:2) matched no "
                         "leak"))
      << summary;
}

TEST(Gate, NonMatchingSuppressionHidesNothing) {
  std::vector<Report> reports = {MakeReport(1, LeakySites())};
  GateResult plain = EvaluateGate(reports, GatePolicy{}, {}, nullptr);
  auto supp = Supp(
      "leak:^leak$\nleak:leak_directly\n{\n v\n Memcheck:Leak\n"
      " fun:malloc\n fun:leak_direct\n fun:not_main\n}\n");
  GateResult r = EvaluateGate(reports, GatePolicy{}, supp, nullptr);
  EXPECT_EQ(plain.counted_total.bytes, r.counted_total.bytes);
  EXPECT_EQ(plain.counted_total.blocks, r.counted_total.blocks);
  for (const SuppressionHits& h : r.suppression_hits) EXPECT_EQ(0u, h.sites);
  EXPECT_FALSE(r.passed);
}

TEST(Gate, SuppressEverythingPasses) {
  std::vector<Report> reports = {MakeReport(1, LeakySites())};
  auto supp = Supp("leak:main\n");
  GateResult r = EvaluateGate(reports, GatePolicy{}, supp, nullptr);
  EXPECT_TRUE(r.passed);
  EXPECT_EQ(4u, r.suppression_hits[0].sites);  // not the reachable one
}

TEST(Gate, BaselineFailsOnlyOnNewSitesAndListsFixed) {
  std::vector<LeakRecord> old_leaks = LeakySites();
  std::vector<Report> before = {MakeReport(1, old_leaks)};
  GateResult r0 = EvaluateGate(before, GatePolicy{}, {}, nullptr);
  const auto sites = BaselineSites(r0);
  EXPECT_EQ(3u, sites.size());  // leak_direct, leak_list, make_name
  Baseline b = ParseBaseline(RenderBaseline(sites, 4), "b.txt");
  EXPECT_TRUE(EvaluateGate(before, GatePolicy{}, {}, &b).passed);

  // make_name fixed; a new leak in a new function.
  std::vector<LeakRecord> now = LeakySites();
  now.erase(now.begin() + 3);
  now.push_back(testing::Leak(LeakKind::kDefinite, 7, 1,
                              {testing::F("new_leak", "/work/app/leaky.c", 99),
                               testing::F("main", "/work/app/leaky.c", 100)}));
  std::vector<Report> after = {MakeReport(2, now)};
  GateResult r = EvaluateGate(after, GatePolicy{}, {}, &b);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(7u, r.counted_total.bytes);
  EXPECT_EQ(3u, r.baselined_sites);
  EXPECT_EQ(std::vector<std::string>{"make_name@app; main@app"},
            r.fixed_baseline_entries);
  const std::string summary = RenderSummary(r, {}, GatePolicy{});
  EXPECT_NE(std::string::npos, summary.find("fixed: make_name@app; main@app"))
      << summary;
}

TEST(Gate, GraphlessTracesListUnfreedButDoNotFailByDefault) {
  std::vector<LeakRecord> leaks = {testing::Leak(
      LeakKind::kUnfreed, 100, 2, {testing::F("worker", "/w/a.c", 3)})};
  std::vector<Report> reports = {MakeReport(9, leaks, /*has_graph=*/false)};
  GateResult r = EvaluateGate(reports, GatePolicy{}, {}, nullptr);
  EXPECT_TRUE(r.passed);
  const std::string summary = RenderSummary(r, {}, GatePolicy{});
  EXPECT_NE(std::string::npos, summary.find("100 B in 2 blocks unfreed, not "
                                            "gated"))
      << summary;
  GatePolicy p;
  p.fail_on |= KindBit(LeakKind::kUnfreed);
  EXPECT_FALSE(EvaluateGate(reports, p, {}, nullptr).passed);
  p.max_kind_bytes[static_cast<int>(LeakKind::kUnfreed)] = 100;
  EXPECT_TRUE(EvaluateGate(reports, p, {}, nullptr).passed);
}

TEST(Gate, SummaryIsDeterministic) {
  std::vector<Report> reports = {MakeReport(1, LeakySites()),
                                 MakeReport(2, LeakySites())};
  auto supp = Supp("leak:make_name\n");
  EXPECT_EQ(RenderSummary(EvaluateGate(reports, GatePolicy{}, supp, nullptr),
                          supp, GatePolicy{}),
            RenderSummary(EvaluateGate(reports, GatePolicy{}, supp, nullptr),
                          supp, GatePolicy{}));
}

}  // namespace
}  // namespace gate
}  // namespace heaplens

// gate.h: the CI leak gate's verdict over the reports of one or more traced
// processes.
//
// Every leak record (report.h) of every process gets one verdict:
//   kNotGated    its kind is not in the policy's fail_on (reachable blocks
//                by default; `unfreed` blocks of traces without a heap
//                graph, i.e. processes that did not exit normally);
//   kSuppressed  the first suppression that matches it hid it;
//   kBaselined   its SiteSignature() is in the baseline;
//   kCounted     counted against the budgets.
// The gate fails when the counted leaks of all processes together exceed a
// budget. Budgets (bytes or blocks, summed over all processes):
//   max_kind_bytes[k]   kind k's own allowance;
//   max_bytes/blocks    a shared allowance for all counted kinds.
// With no budget at all, any counted byte fails. A kind with no allowance of
// its own is bounded only by max_bytes/max_blocks if one is set, else by 0.
//
// Ordering is deterministic: processes in input order, sites in report order
// (bytes, blocks descending, then kind and stack), so the same traces give
// byte-identical outputs.
#ifndef HEAPLENS_ANALYZER_GATE_GATE_H_
#define HEAPLENS_ANALYZER_GATE_GATE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "analyzer/gate/baseline.h"
#include "analyzer/gate/leak_site.h"
#include "analyzer/gate/suppressions.h"
#include "analyzer/report.h"

namespace heaplens {
namespace gate {

inline constexpr KindMask kDefaultFailOn =
    KindBit(LeakKind::kDefinite) | KindBit(LeakKind::kIndirect);

struct GatePolicy {
  KindMask fail_on = kDefaultFailOn;
  std::optional<uint64_t> max_kind_bytes[kLeakKinds];
  std::optional<uint64_t> max_bytes;
  std::optional<uint64_t> max_blocks;
  int signature_frames = kDefaultSignatureFrames;
};

// InvalidArgument if a kind's budget is set but the kind is not in fail_on
// (it would silently do nothing), or if fail_on is empty.
absl::Status ValidatePolicy(const GatePolicy& policy);

enum class Verdict { kCounted, kSuppressed, kBaselined, kNotGated };

struct GatedSite {
  size_t process = 0;  // index into GateResult::processes
  const LeakRecord* leak = nullptr;
  Verdict verdict = Verdict::kNotGated;
  int suppression = -1;  // kSuppressed: index into the suppressions
  std::string signature;
};

struct GatedProcess {
  const Report* report = nullptr;
  std::vector<size_t> sites;  // indices into GateResult::sites
  KindTotals counted;         // all counted kinds
  KindTotals not_gated[kLeakKinds];
};

struct SuppressionHits {
  uint64_t sites = 0;
  uint64_t blocks = 0;
  uint64_t bytes = 0;
};

struct BudgetCheck {
  std::string name;  // "definite bytes", "bytes", "blocks"
  std::string flag;  // "--max-definite-bytes", "" for the implicit budget 0
  uint64_t value = 0;
  uint64_t limit = 0;
  bool exceeded() const { return value > limit; }
};

struct GateResult {
  std::vector<GatedProcess> processes;
  std::vector<GatedSite> sites;
  KindTotals counted[kLeakKinds];
  KindTotals counted_total;
  std::vector<BudgetCheck> budgets;
  bool passed = true;
  std::vector<SuppressionHits> suppression_hits;  // one per suppression
  bool has_baseline = false;
  uint64_t baselined_sites = 0;
  std::vector<std::string> fixed_baseline_entries;  // sorted
};

// `reports` and `suppressions` must outlive the result; `baseline` may be
// null.
GateResult EvaluateGate(const std::vector<Report>& reports,
                        const GatePolicy& policy,
                        const std::vector<Suppression>& suppressions,
                        const Baseline* baseline);

// Signature -> kinds and totals of every site that is counted or baselined
// (suppressed and ungated sites are not written to a baseline).
std::map<std::string, BaselineSite> BaselineSites(const GateResult& result);

// The human summary for stderr: a verdict per process with its worst sites,
// suppression hit counts and unused suppressions, baseline news, and the
// final verdict with the exceeded budgets.
std::string RenderSummary(const GateResult& result,
                          const std::vector<Suppression>& suppressions,
                          const GatePolicy& policy);

// "definite leak 300 B in 3 blocks" style phrase and the process's name.
std::string ProcessName(const Report& report);
std::string KindTitle(LeakKind kind);
// "leak_direct (leaky.c:30) < main (leaky.c:80)", first `frames` frames.
std::string ShortStack(const std::vector<Frame>& stack, int frames);
std::string Bytes(uint64_t bytes);

}  // namespace gate
}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_GATE_GATE_H_

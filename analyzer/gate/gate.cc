#include "analyzer/gate/gate.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace heaplens {
namespace gate {
namespace {

constexpr int kSitesPerProcess = 5;  // in the summary; the rest in files
constexpr int kSummaryFrames = 3;

std::string KindList(KindMask mask) {
  std::vector<std::string> names;
  for (int k = 0; k < kLeakKinds; ++k) {
    if (mask & KindBit(static_cast<LeakKind>(k))) {
      names.push_back(LeakKindName(static_cast<LeakKind>(k)));
    }
  }
  return absl::StrJoin(names, ",");
}

std::string Blocks(uint64_t n) {
  return absl::StrCat(n, n == 1 ? " block" : " blocks");
}

void Add(KindTotals& t, const LeakRecord& r) {
  t.bytes += r.bytes;
  t.blocks += r.blocks;
}

}  // namespace

std::string Bytes(uint64_t bytes) { return absl::StrCat(bytes, " B"); }

std::string KindTitle(LeakKind kind) { return LeakKindName(kind); }

std::string ProcessName(const Report& report) {
  std::string name(Basename(report.exe));
  if (name.empty() && !report.argv.empty()) {
    name = std::string(Basename(report.argv[0]));
  }
  if (name.empty()) name = "process";
  return absl::StrCat(name, " (pid ", report.pid, ")");
}

std::string ShortStack(const std::vector<Frame>& stack, int frames) {
  std::vector<std::string> parts;
  for (const Frame& f : stack) {
    if (static_cast<int>(parts.size()) == frames) break;
    std::string s = f.function.empty() ? "??" : f.function;
    if (!f.file.empty()) {
      absl::StrAppend(&s, " (", Basename(f.file));
      if (f.line > 0) absl::StrAppend(&s, ":", f.line);
      s.push_back(')');
    } else if (!f.module.empty()) {
      absl::StrAppend(&s, " [", Basename(f.module), "]");
    }
    parts.push_back(std::move(s));
  }
  if (parts.empty()) return "(no stack)";
  return absl::StrJoin(parts, " < ");
}

absl::Status ValidatePolicy(const GatePolicy& policy) {
  if (policy.fail_on == 0) {
    return absl::InvalidArgumentError(
        "--fail-on: no leak kind given (the gate would pass everything)");
  }
  for (int k = 0; k < kLeakKinds; ++k) {
    const LeakKind kind = static_cast<LeakKind>(k);
    if (policy.max_kind_bytes[k] && !(policy.fail_on & KindBit(kind))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--max-", LeakKindName(kind), "-bytes has no effect: ",
          LeakKindName(kind), " is not in --fail-on=", KindList(policy.fail_on),
          " (add it there to gate it)"));
    }
  }
  if (policy.signature_frames < 1) {
    return absl::InvalidArgumentError("--signature-frames must be at least 1");
  }
  return absl::OkStatus();
}

GateResult EvaluateGate(const std::vector<Report>& reports,
                        const GatePolicy& policy,
                        const std::vector<Suppression>& suppressions,
                        const Baseline* baseline) {
  GateResult r;
  r.suppression_hits.resize(suppressions.size());
  r.has_baseline = baseline != nullptr;
  std::set<std::string> seen_baseline;
  for (const Report& report : reports) {
    GatedProcess p;
    p.report = &report;
    const size_t pi = r.processes.size();
    for (const LeakRecord& leak : report.leaks) {
      GatedSite site;
      site.process = pi;
      site.leak = &leak;
      site.signature = SiteSignature(leak.stack, policy.signature_frames);
      if (!(policy.fail_on & KindBit(leak.kind))) {
        site.verdict = Verdict::kNotGated;
        Add(p.not_gated[static_cast<int>(leak.kind)], leak);
      } else if (int s = FirstMatchingSuppression(suppressions, leak.kind,
                                                  leak.stack);
                 s >= 0) {
        site.verdict = Verdict::kSuppressed;
        site.suppression = s;
        SuppressionHits& h = r.suppression_hits[s];
        ++h.sites;
        h.blocks += leak.blocks;
        h.bytes += leak.bytes;
      } else if (baseline != nullptr &&
                 baseline->entries.count(site.signature) > 0) {
        site.verdict = Verdict::kBaselined;
        seen_baseline.insert(site.signature);
        ++r.baselined_sites;
      } else {
        site.verdict = Verdict::kCounted;
        Add(p.counted, leak);
        Add(r.counted[static_cast<int>(leak.kind)], leak);
        Add(r.counted_total, leak);
      }
      p.sites.push_back(r.sites.size());
      r.sites.push_back(std::move(site));
    }
    r.processes.push_back(std::move(p));
  }
  if (baseline != nullptr) {
    for (const std::string& e : baseline->entries) {
      if (seen_baseline.count(e) == 0) r.fixed_baseline_entries.push_back(e);
    }
  }

  // Budgets.
  const bool shared = policy.max_bytes || policy.max_blocks;
  for (int k = 0; k < kLeakKinds; ++k) {
    const LeakKind kind = static_cast<LeakKind>(k);
    if (!(policy.fail_on & KindBit(kind))) continue;
    BudgetCheck c;
    c.name = absl::StrCat(LeakKindName(kind), " bytes");
    c.value = r.counted[k].bytes;
    if (policy.max_kind_bytes[k]) {
      c.flag = absl::StrCat("--max-", LeakKindName(kind), "-bytes");
      c.limit = *policy.max_kind_bytes[k];
    } else if (shared) {
      continue;
    }
    r.budgets.push_back(c);
  }
  if (policy.max_bytes) {
    r.budgets.push_back(BudgetCheck{"bytes", "--max-bytes",
                                    r.counted_total.bytes, *policy.max_bytes});
  }
  if (policy.max_blocks) {
    r.budgets.push_back(BudgetCheck{
        "blocks", "--max-blocks", r.counted_total.blocks, *policy.max_blocks});
  }
  for (const BudgetCheck& c : r.budgets) {
    if (c.exceeded()) r.passed = false;
  }
  return r;
}

std::map<std::string, BaselineSite> BaselineSites(const GateResult& result) {
  std::map<std::string, BaselineSite> out;
  std::map<std::string, KindMask> kinds;
  for (const GatedSite& s : result.sites) {
    if (s.verdict != Verdict::kCounted && s.verdict != Verdict::kBaselined) {
      continue;
    }
    BaselineSite& b = out[s.signature];
    b.bytes += s.leak->bytes;
    b.blocks += s.leak->blocks;
    kinds[s.signature] |= KindBit(s.leak->kind);
  }
  for (auto& [sig, b] : out) b.kinds = KindList(kinds[sig]);
  return out;
}

std::string RenderSummary(const GateResult& r,
                          const std::vector<Suppression>& suppressions,
                          const GatePolicy& policy) {
  std::string out =
      absl::StrCat("heaplens gate: ", r.processes.size(),
                   r.processes.size() == 1 ? " process" : " processes",
                   "; failing on ", KindList(policy.fail_on), "\n");
  for (const GatedProcess& p : r.processes) {
    const Report& rep = *p.report;
    const bool has_counted = p.counted.blocks > 0;
    const char* status = !has_counted ? "ok  " : r.passed ? "ok  " : "FAIL";
    absl::StrAppend(&out, "  ", status, " ", ProcessName(rep));
    if (has_counted) {
      absl::StrAppend(&out, ": ", Bytes(p.counted.bytes), " in ",
                      Blocks(p.counted.blocks), " leaked",
                      r.passed ? " (within budget)" : "");
    } else {
      bool hidden = false;  // suppressed, baselined or not gated
      for (size_t i : p.sites) {
        hidden |= r.sites[i].leak->kind != LeakKind::kReachable;
      }
      absl::StrAppend(&out, hidden ? ": no gated leaks" : ": no leaks");
    }
    out.push_back('\n');
    int shown = 0, more = 0;
    for (size_t i : p.sites) {
      const GatedSite& s = r.sites[i];
      if (s.verdict != Verdict::kCounted) continue;
      if (shown == kSitesPerProcess) {
        ++more;
        continue;
      }
      ++shown;
      absl::StrAppend(&out, "       ", LeakKindName(s.leak->kind), " ",
                      Bytes(s.leak->bytes), " in ", Blocks(s.leak->blocks),
                      ": ", ShortStack(s.leak->stack, kSummaryFrames), "\n");
    }
    if (more > 0) {
      absl::StrAppend(&out, "       ... and ", more, " more (heaplens report ",
                      rep.trace_path, ")\n");
    }
    const KindTotals& unfreed =
        p.not_gated[static_cast<int>(LeakKind::kUnfreed)];
    if (!rep.has_graph && unfreed.blocks > 0) {
      absl::StrAppend(
          &out, "       no heap graph (the process did not exit normally: ",
          rep.exit_reason, "): ", Bytes(unfreed.bytes), " in ",
          Blocks(unfreed.blocks),
          " unfreed, not gated (--fail-on=...,unfreed gates them)\n");
    }
  }
  if (!suppressions.empty()) {
    absl::StrAppend(&out, "suppressions:\n");
    std::vector<std::string> unused;
    for (size_t i = 0; i < suppressions.size(); ++i) {
      const Suppression& s = suppressions[i];
      const SuppressionHits& h = r.suppression_hits[i];
      if (h.sites == 0) {
        unused.push_back(absl::StrCat(s.name, " (", s.origin, ")"));
        continue;
      }
      absl::StrAppend(&out, "  ", s.name, " (", s.origin, "): hid ", h.sites,
                      h.sites == 1 ? " leak, " : " leaks, ", Bytes(h.bytes),
                      " in ", Blocks(h.blocks), "\n");
    }
    for (const std::string& u : unused) {
      absl::StrAppend(&out, "  unused: ", u, " matched no leak\n");
    }
  }
  if (r.has_baseline) {
    absl::StrAppend(&out, "baseline: ", r.baselined_sites,
                    r.baselined_sites == 1 ? " leak" : " leaks",
                    " in known sites");
    if (r.fixed_baseline_entries.empty()) {
      out.append("; no entry fixed\n");
    } else {
      absl::StrAppend(
          &out, "; ", r.fixed_baseline_entries.size(),
          r.fixed_baseline_entries.size() == 1 ? " entry" : " entries",
          " now fixed (remove from the baseline):\n");
      for (const std::string& e : r.fixed_baseline_entries) {
        absl::StrAppend(&out, "  fixed: ", e, "\n");
      }
    }
  }
  if (r.passed) {
    absl::StrAppend(&out, "heaplens gate: PASSED (",
                    Bytes(r.counted_total.bytes), " in ",
                    Blocks(r.counted_total.blocks), " counted)\n");
  } else {
    std::vector<std::string> over;
    for (const BudgetCheck& c : r.budgets) {
      if (!c.exceeded()) continue;
      over.push_back(
          absl::StrCat(c.name, " ", c.value, " > ", c.limit,
                       c.flag.empty() ? "" : absl::StrCat(" (", c.flag, ")")));
    }
    absl::StrAppend(&out, "heaplens gate: FAILED: leaks over budget: ",
                    absl::StrJoin(over, ", "), "\n");
  }
  return out;
}

}  // namespace gate
}  // namespace heaplens

// `heaplens gate TRACE...`: the CI leak gate (docs/gate.md). Also the gate
// half of `heaplens run --gate`.
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <iostream>
#include <optional>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "analyzer/analysis.h"
#include "analyzer/cli_flags.h"
#include "analyzer/commands.h"
#include "analyzer/gate/baseline.h"
#include "analyzer/gate/gate.h"
#include "analyzer/gate/junit.h"
#include "analyzer/gate/sarif.h"
#include "analyzer/gate/suppressions.h"
#include "analyzer/gate/trace_paths.h"
#include "analyzer/symbolizer.h"

ABSL_FLAG(bool, gate, false, "run: gate the traces the program wrote");
ABSL_FLAG(std::string, fail_on, "definite,indirect",
          "gate: leak kinds that fail the gate");
ABSL_FLAG(int64_t, max_definite_bytes, -1, "gate: definite-leak budget");
ABSL_FLAG(int64_t, max_indirect_bytes, -1, "gate: indirect-leak budget");
ABSL_FLAG(int64_t, max_possible_bytes, -1, "gate: possible-leak budget");
ABSL_FLAG(int64_t, max_reachable_bytes, -1, "gate: reachable-block budget");
ABSL_FLAG(int64_t, max_unfreed_bytes, -1, "gate: unfreed-block budget");
ABSL_FLAG(int64_t, max_bytes, -1, "gate: shared budget in bytes");
ABSL_FLAG(int64_t, max_blocks, -1, "gate: shared budget in blocks");
ABSL_FLAG(std::string, suppressions, "",
          "gate: suppression files (comma-separated)");
ABSL_FLAG(std::string, baseline, "", "gate: fail only on sites not in it");
ABSL_FLAG(std::string, write_baseline, "", "gate: record current sites");
ABSL_FLAG(int32_t, signature_frames, heaplens::gate::kDefaultSignatureFrames,
          "gate: user frames in a site signature");
ABSL_FLAG(std::string, junit, "", "gate: write JUnit XML here");
ABSL_FLAG(std::string, sarif, "", "gate: write SARIF 2.1.0 here");
ABSL_FLAG(std::string, source_root, "",
          "gate: SARIF URIs are relative to this directory (default: the "
          "current directory)");

namespace heaplens {

const char kGateHelp[] =
    R"(Usage: heaplens gate TRACE|DIR|GLOB... [--fail-on=KINDS] [budgets]
                     [--suppressions FILE[,FILE]] [--baseline FILE]
                     [--write-baseline FILE] [--junit FILE] [--sarif FILE]

The CI leak gate. Analyzes every trace (a file, a directory of *.hlt, or a
glob), and fails when the leaks of the gated kinds, after suppressions and
the baseline, exceed the budget (summed over all traces). A summary goes to
stderr.

Policy:
  --fail-on=KINDS        kinds that count (default definite,indirect, like
                         LeakSanitizer); also possible, reachable, unfreed,
                         all. Traces without a heap graph (the process was
                         killed or called _exit/exec) have only "unfreed"
                         blocks: they are listed but not gated unless
                         unfreed is in --fail-on.
  --max-definite-bytes N, --max-indirect-bytes N, --max-possible-bytes N,
  --max-reachable-bytes N, --max-unfreed-bytes N
                         a kind's own allowance (the kind must be in
                         --fail-on)
  --max-bytes N, --max-blocks N
                         a shared allowance for all gated kinds; kinds without
                         their own allowance are then bounded only by it.
                         Without any budget, any gated leak fails.

Suppressions (--suppressions FILE[,FILE...]):
  LeakSanitizer lines     leak:<pattern>   (function, file or module; * glob;
                                            ^ and $ anchor; # comments)
  Valgrind blocks         { name  Memcheck:Leak  [match-leak-kinds: ...]
                            fun:/obj:/src: frames, ... wildcards }
  The summary says how many leaks and bytes each one hid and lists those
  that matched nothing.

Baselines:
  --write-baseline FILE   record the current leak sites (function@module of
                          the top --signature-frames user frames, default 4),
                          then gate against them (exit 0)
  --baseline FILE         fail only on sites not in FILE; list entries that
                          are now fixed

Outputs:
  --junit FILE            JUnit XML: a testcase per traced process, a failure
                          per leak site over budget
  --sarif FILE            SARIF 2.1.0: a result per leak site at its first
                          frame in your source (--source-root DIR makes URIs
                          relative; default the current directory)

Examples:
  heaplens gate heaplens.*.hlt
  heaplens gate traces/ --suppressions lsan.supp --junit leaks.xml
  heaplens gate t.hlt --fail-on=definite --max-definite-bytes 1024
  heaplens gate t.hlt --write-baseline leaks.baseline   # once
  heaplens gate t.hlt --baseline leaks.baseline --sarif leaks.sarif

Exit status: 0 clean (or within budget), 1 leaks over budget, 2 usage error
or a trace that cannot be read.
)";

const std::vector<absl::string_view>& GateFlagNames() {
  static const auto* names =
      new std::vector<absl::string_view>{"fail_on",
                                         "max_definite_bytes",
                                         "max_indirect_bytes",
                                         "max_possible_bytes",
                                         "max_reachable_bytes",
                                         "max_unfreed_bytes",
                                         "max_bytes",
                                         "max_blocks",
                                         "suppressions",
                                         "baseline",
                                         "write_baseline",
                                         "signature_frames",
                                         "junit",
                                         "sarif",
                                         "source_root"};
  return *names;
}

std::vector<std::string> FlagDashesToUnderscores(
    const std::vector<std::string>& args) {
  std::vector<std::string> out = args;
  for (std::string& a : out) {
    if (a == "--") break;
    if (a.size() < 3 || a[0] != '-' || a[1] != '-') continue;
    const size_t end = std::min(a.find('='), a.size());
    for (size_t i = 2; i < end; ++i) {
      if (a[i] == '-') a[i] = '_';
    }
  }
  return out;
}

namespace {

absl::StatusOr<gate::GatePolicy> PolicyFromFlags() {
  gate::GatePolicy policy;
  absl::StatusOr<KindMask> mask =
      gate::ParseKindList(absl::GetFlag(FLAGS_fail_on));
  if (!mask.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--fail-on: ", mask.status().message()));
  }
  policy.fail_on = *mask;
  auto budget = [](int64_t v) -> std::optional<uint64_t> {
    if (v < 0) return std::nullopt;
    return static_cast<uint64_t>(v);
  };
  policy.max_kind_bytes[static_cast<int>(LeakKind::kDefinite)] =
      budget(absl::GetFlag(FLAGS_max_definite_bytes));
  policy.max_kind_bytes[static_cast<int>(LeakKind::kIndirect)] =
      budget(absl::GetFlag(FLAGS_max_indirect_bytes));
  policy.max_kind_bytes[static_cast<int>(LeakKind::kPossible)] =
      budget(absl::GetFlag(FLAGS_max_possible_bytes));
  policy.max_kind_bytes[static_cast<int>(LeakKind::kReachable)] =
      budget(absl::GetFlag(FLAGS_max_reachable_bytes));
  policy.max_kind_bytes[static_cast<int>(LeakKind::kUnfreed)] =
      budget(absl::GetFlag(FLAGS_max_unfreed_bytes));
  policy.max_bytes = budget(absl::GetFlag(FLAGS_max_bytes));
  policy.max_blocks = budget(absl::GetFlag(FLAGS_max_blocks));
  policy.signature_frames = absl::GetFlag(FLAGS_signature_frames);
  if (absl::Status s = gate::ValidatePolicy(policy); !s.ok()) return s;
  return policy;
}

absl::Status WriteFile(const std::string& path, const std::string& text,
                       absl::string_view what) {
  FILE* f = fopen(path.c_str(), "w");
  if (f == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot write the ", what));
  }
  const bool ok = fwrite(text.data(), 1, text.size(), f) == text.size();
  if (fclose(f) != 0 || !ok) {
    return absl::InternalError(absl::StrCat(path, ": write failed"));
  }
  return absl::OkStatus();
}

std::string CurrentDir() {
  char buf[PATH_MAX];
  return getcwd(buf, sizeof buf) != nullptr ? std::string(buf) : "";
}

}  // namespace

int GateTraces(const std::vector<std::string>& trace_args,
               absl::string_view who) {
  auto fail = [who](absl::string_view message) {
    std::cerr << who << ": " << message << "\n";
    return kExitUsage;
  };
  absl::StatusOr<gate::GatePolicy> policy = PolicyFromFlags();
  if (!policy.ok()) return fail(policy.status().message());
  std::vector<gate::Suppression> suppressions;
  for (absl::string_view file : absl::StrSplit(
           absl::GetFlag(FLAGS_suppressions), ',', absl::SkipEmpty())) {
    absl::StatusOr<std::vector<gate::Suppression>> s =
        gate::ReadSuppressionFile(std::string(file));
    if (!s.ok()) return fail(s.status().message());
    suppressions.insert(suppressions.end(), s->begin(), s->end());
  }
  const std::string baseline_path = absl::GetFlag(FLAGS_baseline);
  const std::string write_baseline = absl::GetFlag(FLAGS_write_baseline);
  if (!baseline_path.empty() && !write_baseline.empty()) {
    return fail("--baseline and --write-baseline exclude each other");
  }
  std::optional<gate::Baseline> baseline;
  if (!baseline_path.empty()) {
    absl::StatusOr<gate::Baseline> b = gate::ReadBaseline(baseline_path);
    if (!b.ok()) return fail(b.status().message());
    baseline = *std::move(b);
  }
  absl::StatusOr<std::vector<std::string>> traces =
      gate::ExpandTraceArgs(trace_args);
  if (!traces.ok()) return fail(traces.status().message());
  if (traces->empty()) return fail("no trace file given");

  int rc = kExitOk;
  std::vector<Report> reports;
  reports.reserve(traces->size());
  for (const std::string& trace : *traces) {
    absl::StatusOr<std::unique_ptr<Analysis>> analysis = AnalyzeTrace(trace);
    if (!analysis.ok()) {
      // The status names the file and the byte offset.
      std::cerr << who << ": " << analysis.status().message() << "\n";
      rc = kExitUsage;
      continue;
    }
    Symbolizer symbolizer((*analysis)->index);
    // Only the gated kinds' stacks are matched, baselined and shown.
    reports.push_back(
        BuildReport(**analysis, symbolizer, nullptr, policy->fail_on));
  }

  gate::GateResult result = gate::EvaluateGate(reports, *policy, suppressions,
                                               baseline ? &*baseline : nullptr);
  if (!write_baseline.empty()) {
    const auto sites = gate::BaselineSites(result);
    const std::string text =
        gate::RenderBaseline(sites, policy->signature_frames);
    if (absl::Status s = WriteFile(write_baseline, text, "baseline"); !s.ok()) {
      return fail(s.message());
    }
    std::cerr << who << ": wrote " << sites.size() << " leak site"
              << (sites.size() == 1 ? "" : "s") << " to " << write_baseline
              << "\n";
    baseline = gate::ParseBaseline(text, write_baseline);
    result = gate::EvaluateGate(reports, *policy, suppressions, &*baseline);
  }
  if (!reports.empty()) {
    std::cerr << gate::RenderSummary(result, suppressions, *policy);
  }

  if (const std::string junit = absl::GetFlag(FLAGS_junit); !junit.empty()) {
    if (absl::Status s =
            WriteFile(junit, gate::RenderJunit(result, suppressions), "JUnit");
        !s.ok()) {
      return fail(s.message());
    }
  }
  if (const std::string sarif = absl::GetFlag(FLAGS_sarif); !sarif.empty()) {
    gate::SarifOptions options;
    options.source_root = absl::GetFlag(FLAGS_source_root);
    if (options.source_root.empty()) options.source_root = CurrentDir();
    if (absl::Status s = WriteFile(
            sarif, gate::RenderSarif(result, suppressions, options), "SARIF");
        !s.ok()) {
      return fail(s.message());
    }
  }
  if (rc != kExitOk) {
    std::cerr << who << ": some traces could not be read (exit 2)\n";
    return rc;
  }
  return result.passed ? kExitOk : kExitLeaks;
}

int GateCommand(const std::vector<std::string>& raw_args) {
  std::vector<absl::string_view> flags = GateFlagNames();
  absl::StatusOr<ParsedArgs> parsed =
      ParseSubcommandFlags(FlagDashesToUnderscores(raw_args), flags);
  if (!parsed.ok()) {
    std::cerr << "heaplens gate: " << parsed.status().message()
              << "\nTry 'heaplens gate --help'.\n";
    return kExitUsage;
  }
  if (parsed->help) {
    std::cout << kGateHelp;
    return kExitOk;
  }
  std::vector<std::string> traces = parsed->positional;
  traces.insert(traces.end(), parsed->after_dashdash.begin(),
                parsed->after_dashdash.end());
  if (traces.empty()) {
    std::cerr << "heaplens gate: no trace file given\n"
                 "Try 'heaplens gate --help'.\n";
    return kExitUsage;
  }
  return GateTraces(traces, "heaplens gate");
}

}  // namespace heaplens

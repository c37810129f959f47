// sarif.h: the gate's findings as SARIF 2.1.0, for code-scanning UIs
// (GitHub code scanning, GitLab, VS Code's SARIF viewer).
//
// One result per leak site of a gated kind, merged across processes (the same
// kind and stack in several forked children is one result). Each result:
//   ruleId     heaplens/definite-leak, heaplens/indirect-leak,
//              heaplens/possible-leak, heaplens/reachable-block,
//              heaplens/unfreed-block
//   level      error if it fails the gate, warning if within budget, note if
//              suppressed or baselined
//   locations  the first frame in the user's own source (leak_site.h); paths
//              under `source_root` (or Bazel's /proc/self/cwd) become
//              relative URIs with uriBaseId %SRCROOT%. A site with no user
//              source frame is located at line 1 of its first module.
//   stacks     the full symbolized allocation stack
//   suppressions [{kind: external}] when a suppression hid it;
//   baselineState "unchanged"/"new" when a baseline was given;
//   partialFingerprints {"heaplensSite/v1": SiteSignature()}.
// Deterministic: the same traces give byte-identical output.
#ifndef HEAPLENS_ANALYZER_GATE_SARIF_H_
#define HEAPLENS_ANALYZER_GATE_SARIF_H_

#include <string>
#include <vector>

#include "analyzer/gate/gate.h"

namespace heaplens {
namespace gate {

struct SarifOptions {
  // Absolute directory that relative URIs are relative to ("" = none).
  std::string source_root;
};

std::string RenderSarif(const GateResult& result,
                        const std::vector<Suppression>& suppressions,
                        const SarifOptions& options);

// The artifact URI of a source path, and whether it is relative to
// %SRCROOT%.
std::string SourceUri(const std::string& file, const std::string& source_root,
                      bool* relative);

}  // namespace gate
}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_GATE_SARIF_H_

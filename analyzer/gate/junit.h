// junit.h: the gate's verdict as JUnit XML, the format every CI system
// reads (Jenkins, GitLab, GitHub Actions via test-reporter actions, Bazel).
//
// <testsuites name="heaplens" tests= failures=>
//   <testsuite name="heaplens.leaks" tests= failures= errors="0" skipped="0">
//     <testcase name="leaky (pid 1234)" classname="heaplens.leaky">
//       <failure type="definite" message="definite leak: 300 B in 3 blocks
//           at leak_direct (leaky.c:30)">full symbolized stack</failure>
//       <system-out>trace path, suppressed/baselined/ungated sites</system-out>
//     </testcase>
// One testcase per traced process; one <failure> per counted leak site when
// the gate failed (the Jenkins/Ant schema, junit-10.xsd, allows several).
// Deterministic: no timestamps, times are "0".
#ifndef HEAPLENS_ANALYZER_GATE_JUNIT_H_
#define HEAPLENS_ANALYZER_GATE_JUNIT_H_

#include <string>
#include <vector>

#include "analyzer/gate/gate.h"

namespace heaplens {
namespace gate {

std::string RenderJunit(const GateResult& result,
                        const std::vector<Suppression>& suppressions);

// Escapes text for XML attributes and content; drops characters XML 1.0
// cannot hold (control characters other than tab, newline, return).
std::string XmlEscape(absl::string_view text);

}  // namespace gate
}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_GATE_JUNIT_H_

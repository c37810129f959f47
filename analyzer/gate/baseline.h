// baseline.h: the accepted leak sites of a project, so the gate fails only
// on new ones.
//
// File format (text, one site per line, sorted, written by
// `heaplens gate --write-baseline`):
//   # heaplens leak baseline v1 ...          comment lines start with '#'
//   leak_direct@leaky; main@leaky<TAB># definite: 300 B in 3 blocks
// A line is a SiteSignature() (leak_site.h); anything after a TAB is a
// comment. Entries are compared as whole strings.
#ifndef HEAPLENS_ANALYZER_GATE_BASELINE_H_
#define HEAPLENS_ANALYZER_GATE_BASELINE_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace heaplens {
namespace gate {

struct Baseline {
  std::string path;
  std::set<std::string> entries;
};

// Parses a baseline; `path` is kept for messages. A line that is not a
// comment and is empty after stripping is ignored.
Baseline ParseBaseline(absl::string_view text, absl::string_view path);

// NotFound if `path` cannot be read.
absl::StatusOr<Baseline> ReadBaseline(const std::string& path);

// What a baseline line says about its site, for the comment.
struct BaselineSite {
  std::string kinds;  // "definite,indirect"
  uint64_t bytes = 0;
  uint64_t blocks = 0;
};

// The file text for `sites` (signature -> what was seen), sorted.
std::string RenderBaseline(const std::map<std::string, BaselineSite>& sites,
                           int signature_frames);

}  // namespace gate
}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_GATE_BASELINE_H_

#include "analyzer/gate/wildcard.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace heaplens {
namespace gate {
namespace {

// Whole-string match with `*` (any run) and, if `question`, `?` (any one
// character). Linear backtracking to the last `*`: O(|p| * |t|) worst case.
bool Match(absl::string_view p, absl::string_view t, bool question) {
  size_t pi = 0, ti = 0;
  size_t star = absl::string_view::npos, star_t = 0;
  while (ti < t.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      star_t = ti;
    } else if (pi < p.size() &&
               (p[pi] == t[ti] || (question && p[pi] == '?'))) {
      ++pi;
      ++ti;
    } else if (star != absl::string_view::npos) {
      pi = star + 1;
      ti = ++star_t;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

}  // namespace

bool LsanMatch(absl::string_view pattern, absl::string_view text) {
  if (text.empty()) return false;
  const bool at_start = absl::ConsumePrefix(&pattern, "^");
  const bool at_end = absl::ConsumeSuffix(&pattern, "$");
  const std::string glob =
      absl::StrCat(at_start ? "" : "*", pattern, at_end ? "" : "*");
  return Match(glob, text, /*question=*/false);
}

bool GlobMatch(absl::string_view pattern, absl::string_view text) {
  return Match(pattern, text, /*question=*/true);
}

}  // namespace gate
}  // namespace heaplens

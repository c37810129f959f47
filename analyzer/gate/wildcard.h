// wildcard.h: the two pattern languages of leak suppressions.
//
//   LsanMatch    LeakSanitizer's `leak:` patterns (sanitizer_common's
//                TemplateMatch): `*` matches any run of characters; the
//                pattern matches anywhere in the text unless it starts with
//                `^` (anchored at the start) or ends with `$` (anchored at the
//                end). `?` is an ordinary character. Empty text never matches.
//   GlobMatch    Valgrind's `fun:`/`obj:` patterns: the whole text must match;
//                `*` matches any run, `?` any one character.
//
// Example:
//   LsanMatch("leak_*", "my_leak_direct")          // true (unanchored)
//   LsanMatch("^leak_*", "my_leak_direct")         // false
//   GlobMatch("*libfoo.so*", "/usr/lib/libfoo.so.1")  // true
#ifndef HEAPLENS_ANALYZER_GATE_WILDCARD_H_
#define HEAPLENS_ANALYZER_GATE_WILDCARD_H_

#include "absl/strings/string_view.h"

namespace heaplens {
namespace gate {

bool LsanMatch(absl::string_view pattern, absl::string_view text);
bool GlobMatch(absl::string_view pattern, absl::string_view text);

}  // namespace gate
}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_GATE_WILDCARD_H_

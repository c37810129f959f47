// suppressions.h: leak suppressions in LeakSanitizer's and Valgrind's
// syntaxes, matched against symbolized allocation stacks.
//
// One file may mix both. Blank lines and lines starting with `#` are
// comments.
//
// LeakSanitizer (one per line):
//   leak:<pattern>    hides a leak if the pattern (wildcard.h: LsanMatch)
//                     matches the function, the source file or the module
//                     path of any frame of its stack. Any leak kind.
// Other LSan/TSan types (`race:`, `called_from_lib:`) are an error.
//
// Valgrind (a block; `Memcheck:Leak` only, other tools' blocks are skipped):
//   {
//      <name>
//      Memcheck:Leak
//      match-leak-kinds: definite,indirect    # optional; default all
//      fun:malloc                             # function glob
//      obj:/usr/lib/*/libfoo.so*              # module path glob
//      src:foo.c:12                           # file basename[:line]
//      ...                                    # zero or more frames
//      fun:main
//   }
// The frame lines match the stack from its innermost frame; the stack may be
// longer. Valgrind's stacks start inside the allocator (`fun:malloc`,
// `fun:_Znwm`, `obj:*vgpreload_memcheck*`) while heaplens drops its own
// frames, so a first frame line that names an allocation function or
// Valgrind's preload may also match nothing: Valgrind-generated suppressions
// work unchanged. `fun:` matches the demangled name heaplens shows.
// `match-leak-kinds:` takes definite, indirect, possible, reachable, all,
// none and heaplens's `unfreed`.
#ifndef HEAPLENS_ANALYZER_GATE_SUPPRESSIONS_H_
#define HEAPLENS_ANALYZER_GATE_SUPPRESSIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "analyzer/leaks.h"
#include "analyzer/symbolizer.h"

namespace heaplens {
namespace gate {

struct FramePattern {
  enum Type { kFunction, kObject, kSource, kEllipsis };
  Type type = kEllipsis;
  std::string glob;  // kSource: the file basename glob
  int line = 0;      // kSource: 0 = any line
};

struct Suppression {
  enum Syntax { kLsan, kValgrind };
  Syntax syntax = kLsan;
  std::string name;            // "leak:<pattern>", or the Valgrind block's name
  std::string origin;          // "file:line" where it starts
  std::string pattern;         // kLsan
  KindMask kinds = kAllKinds;  // kValgrind: match-leak-kinds
  std::vector<FramePattern> frames;  // kValgrind
};

// Parses suppressions; `path` names the text in errors (InvalidArgument,
// "supp.txt:3: ...").
absl::StatusOr<std::vector<Suppression>> ParseSuppressions(
    absl::string_view text, absl::string_view path);

// Reads and parses one file (NotFound if it cannot be read).
absl::StatusOr<std::vector<Suppression>> ReadSuppressionFile(
    const std::string& path);

bool SuppressionMatches(const Suppression& s, LeakKind kind,
                        const std::vector<Frame>& stack);

// The index of the first suppression that matches, or -1.
int FirstMatchingSuppression(const std::vector<Suppression>& suppressions,
                             LeakKind kind, const std::vector<Frame>& stack);

// Parses "definite,indirect" (also "all", "none", "unfreed").
absl::StatusOr<KindMask> ParseKindList(absl::string_view list);

}  // namespace gate
}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_GATE_SUPPRESSIONS_H_

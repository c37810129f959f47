#include "analyzer/gate/suppressions.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "analyzer/gate/leak_site.h"
#include "analyzer/gate/wildcard.h"

namespace heaplens {
namespace gate {
namespace {

// Representative names of allocation entry points, mangled and demangled,
// for skipping a Valgrind suppression's allocator frame.
constexpr absl::string_view kAllocatorNames[] = {
    "malloc",
    "calloc",
    "realloc",
    "reallocarray",
    "memalign",
    "posix_memalign",
    "aligned_alloc",
    "valloc",
    "pvalloc",
    "_Znwm",
    "_Znam",
    "_ZnwmRKSt9nothrow_t",
    "_ZnamRKSt9nothrow_t",
    "_ZnwmSt11align_val_t",
    "_ZnamSt11align_val_t",
    "_ZnwmSt11align_val_tRKSt9nothrow_t",
    "_ZnamSt11align_val_tRKSt9nothrow_t",
    "operator new(unsigned long)",
    "operator new[](unsigned long)",
    "operator new(unsigned long, std::nothrow_t const&)",
    "operator new[](unsigned long, std::nothrow_t const&)",
    "operator new(unsigned long, std::align_val_t)",
    "operator new[](unsigned long, std::align_val_t)",
};

bool IsAllocatorFramePattern(const FramePattern& p) {
  if (p.type == FramePattern::kObject) {
    return GlobMatch(p.glob, "/usr/libexec/valgrind/vgpreload_memcheck.so") ||
           GlobMatch(p.glob, "/usr/lib/heaplens/libheaplens.so");
  }
  if (p.type != FramePattern::kFunction) return false;
  for (absl::string_view name : kAllocatorNames) {
    if (GlobMatch(p.glob, name)) return true;
  }
  return false;
}

bool FrameMatches(const FramePattern& p, const Frame& f) {
  switch (p.type) {
    case FramePattern::kFunction:
      // glibc's debug info names its functions by their internal aliases
      // (__strdup) where Valgrind shows the exported name (strdup).
      return GlobMatch(p.glob, f.function) ||
             (absl::StartsWith(f.function, "__") && IsSystemModule(f.module) &&
              GlobMatch(p.glob, absl::string_view(f.function).substr(2)));
    case FramePattern::kObject:
      return GlobMatch(p.glob, f.module);
    case FramePattern::kSource:
      return !f.file.empty() && GlobMatch(p.glob, Basename(f.file)) &&
             (p.line == 0 || p.line == f.line);
    case FramePattern::kEllipsis:
      return true;
  }
  return false;
}

// Does patterns[pi..] match a prefix of stack[si..]?
bool MatchFrames(const std::vector<FramePattern>& patterns, size_t pi,
                 const std::vector<Frame>& stack, size_t si) {
  for (; pi < patterns.size(); ++pi, ++si) {
    const FramePattern& p = patterns[pi];
    if (p.type == FramePattern::kEllipsis) {
      // Zero or more frames: try every resumption point.
      for (size_t k = si; k <= stack.size(); ++k) {
        if (MatchFrames(patterns, pi + 1, stack, k)) return true;
      }
      return false;
    }
    if (si >= stack.size() || !FrameMatches(p, stack[si])) return false;
  }
  return true;
}

absl::Status Error(absl::string_view path, int line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": ", what));
}

absl::StatusOr<FramePattern> ParseFrameLine(absl::string_view line,
                                            absl::string_view path, int n) {
  FramePattern p;
  if (line == "...") return p;
  if (absl::ConsumePrefix(&line, "fun:")) {
    p.type = FramePattern::kFunction;
  } else if (absl::ConsumePrefix(&line, "obj:")) {
    p.type = FramePattern::kObject;
  } else if (absl::ConsumePrefix(&line, "src:")) {
    p.type = FramePattern::kSource;
    if (size_t colon = line.rfind(':'); colon != absl::string_view::npos) {
      if (!absl::SimpleAtoi(line.substr(colon + 1), &p.line)) {
        return Error(path, n,
                     absl::StrCat("bad line number in 'src:", line, "'"));
      }
      line = line.substr(0, colon);
    }
  } else {
    return Error(
        path, n,
        absl::StrCat("expected fun:, obj:, src:, ... or }, got '", line, "'"));
  }
  p.glob = std::string(line);
  return p;
}

}  // namespace

absl::StatusOr<KindMask> ParseKindList(absl::string_view list) {
  KindMask mask = 0;
  for (absl::string_view word : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    word = absl::StripAsciiWhitespace(word);
    if (word == "all") {
      mask = kAllKinds;
    } else if (word == "none") {
    } else if (word == "definite") {
      mask |= KindBit(LeakKind::kDefinite);
    } else if (word == "indirect") {
      mask |= KindBit(LeakKind::kIndirect);
    } else if (word == "possible") {
      mask |= KindBit(LeakKind::kPossible);
    } else if (word == "reachable") {
      mask |= KindBit(LeakKind::kReachable);
    } else if (word == "unfreed") {
      mask |= KindBit(LeakKind::kUnfreed);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown leak kind '", word,
          "' (kinds: definite, indirect, possible, reachable, unfreed, all)"));
    }
  }
  return mask;
}

absl::StatusOr<std::vector<Suppression>> ParseSuppressions(
    absl::string_view text, absl::string_view path) {
  std::vector<Suppression> out;
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    const int n = static_cast<int>(i) + 1;
    absl::string_view line = absl::StripAsciiWhitespace(lines[i]);
    if (line.empty() || line[0] == '#') continue;
    if (line == "{") {
      // A Valgrind block: name, tool:kind, optional match-leak-kinds, frames.
      Suppression s;
      s.syntax = Suppression::kValgrind;
      s.origin = absl::StrCat(path, ":", n);
      std::vector<absl::string_view> body;
      bool closed = false;
      for (++i; i < lines.size(); ++i) {
        absl::string_view l = absl::StripAsciiWhitespace(lines[i]);
        if (l.empty() || l[0] == '#') continue;
        if (l == "}") {
          closed = true;
          break;
        }
        body.push_back(l);
      }
      if (!closed) return Error(path, n, "suppression block has no '}'");
      if (body.size() < 2) {
        return Error(path, n, "suppression block needs a name and a kind");
      }
      s.name = absl::StrCat("{", body[0], "}");
      if (body[1] != "Memcheck:Leak") continue;  // another tool's or kind's
      size_t b = 2;
      if (b < body.size()) {
        absl::string_view kinds = body[b];
        if (absl::ConsumePrefix(&kinds, "match-leak-kinds:")) {
          absl::StatusOr<KindMask> mask = ParseKindList(kinds);
          if (!mask.ok()) return Error(path, n, mask.status().message());
          s.kinds = *mask;
          ++b;
        }
      }
      for (; b < body.size(); ++b) {
        absl::StatusOr<FramePattern> p = ParseFrameLine(body[b], path, n);
        if (!p.ok()) return p.status();
        s.frames.push_back(*std::move(p));
      }
      if (s.frames.empty()) {
        return Error(path, n,
                     absl::StrCat("suppression '", s.name, "' has no frames"));
      }
      out.push_back(std::move(s));
      continue;
    }
    absl::string_view pattern = line;
    if (!absl::ConsumePrefix(&pattern, "leak:")) {
      const size_t colon = line.find(':');
      return Error(
          path, n,
          colon == absl::string_view::npos
              ? absl::StrCat("expected 'leak:<pattern>' or '{', got '", line,
                             "'")
              : absl::StrCat("unsupported suppression type '",
                             line.substr(0, colon), "' (only 'leak')"));
    }
    pattern = absl::StripAsciiWhitespace(pattern);
    if (pattern.empty()) return Error(path, n, "empty leak: pattern");
    Suppression s;
    s.syntax = Suppression::kLsan;
    s.name = absl::StrCat("leak:", pattern);
    s.origin = absl::StrCat(path, ":", n);
    s.pattern = std::string(pattern);
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::vector<Suppression>> ReadSuppressionFile(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot read the suppressions file"));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseSuppressions(ss.str(), path);
}

bool SuppressionMatches(const Suppression& s, LeakKind kind,
                        const std::vector<Frame>& stack) {
  if ((s.kinds & KindBit(kind)) == 0) return false;
  if (s.syntax == Suppression::kLsan) {
    for (const Frame& f : stack) {
      if ((f.function != "??" && LsanMatch(s.pattern, f.function)) ||
          LsanMatch(s.pattern, f.file) || LsanMatch(s.pattern, f.module)) {
        return true;
      }
    }
    return false;
  }
  if (MatchFrames(s.frames, 0, stack, 0)) return true;
  return IsAllocatorFramePattern(s.frames[0]) &&
         MatchFrames(s.frames, 1, stack, 0);
}

int FirstMatchingSuppression(const std::vector<Suppression>& suppressions,
                             LeakKind kind, const std::vector<Frame>& stack) {
  for (size_t i = 0; i < suppressions.size(); ++i) {
    if (SuppressionMatches(suppressions[i], kind, stack)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

}  // namespace gate
}  // namespace heaplens

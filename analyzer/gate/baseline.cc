#include "analyzer/gate/baseline.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace heaplens {
namespace gate {

Baseline ParseBaseline(absl::string_view text, absl::string_view path) {
  Baseline b;
  b.path = std::string(path);
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (size_t tab = line.find('\t'); tab != absl::string_view::npos) {
      line = line.substr(0, tab);
    }
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    b.entries.insert(std::string(line));
  }
  return b;
}

absl::StatusOr<Baseline> ReadBaseline(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot read the baseline file"));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseBaseline(ss.str(), path);
}

std::string RenderBaseline(const std::map<std::string, BaselineSite>& sites,
                           int signature_frames) {
  std::string out = absl::StrCat(
      "# heaplens leak baseline v1: one accepted leak site per line.\n"
      "# A site is the function@module of its first ",
      signature_frames,
      " user frames, innermost first.\n"
      "# `heaplens gate --baseline FILE` fails only on sites not listed "
      "here.\n");
  for (const auto& [signature, site] : sites) {
    absl::StrAppend(&out, signature, "\t# ", site.kinds, ": ", site.bytes,
                    " B in ", site.blocks,
                    site.blocks == 1 ? " block\n" : " blocks\n");
  }
  return out;
}

}  // namespace gate
}  // namespace heaplens

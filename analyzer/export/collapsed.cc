#include "analyzer/export/collapsed.h"

#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace heaplens {

std::string CollapsedFrameLabel(const Frame& frame, bool lines) {
  std::string label;
  if (frame.function.empty() || frame.function == "??") {
    if (frame.module.empty()) {
      label = "[unknown]";
    } else {
      const size_t slash = frame.module.rfind('/');
      label = absl::StrCat("[",
                           slash == std::string::npos
                               ? frame.module
                               : frame.module.substr(slash + 1),
                           "]");
    }
  } else {
    label = frame.function;
    if (lines && frame.line > 0) {
      const size_t slash = frame.file.rfind('/');
      absl::StrAppend(&label, " (",
                      slash == std::string::npos ? frame.file
                                                 : frame.file.substr(slash + 1),
                      ":", frame.line, ")");
    }
  }
  return absl::StrReplaceAll(label, {{";", ":"}, {"\n", " "}, {"\r", " "}});
}

std::string RenderCollapsed(const StackTotals& totals, Symbolizer& symbolizer,
                            const CollapsedOptions& options) {
  std::map<std::string, uint64_t> folded;  // ordered: deterministic output
  for (const auto& [stack, total] : totals) {
    if (total.bytes == 0) continue;
    const std::vector<Frame>& frames = symbolizer.Symbolize(stack);
    std::string key;
    for (auto f = frames.rbegin(); f != frames.rend(); ++f) {
      if (!key.empty()) key.push_back(';');
      key += CollapsedFrameLabel(*f, options.lines);
    }
    if (key.empty()) key = "[unknown]";
    folded[key] += total.bytes;
  }
  std::string out;
  for (const auto& [key, bytes] : folded)
    absl::StrAppend(&out, key, " ", bytes, "\n");
  return out;
}

}  // namespace heaplens

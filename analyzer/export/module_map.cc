#include "analyzer/export/module_map.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace heaplens {

bool ModuleMap::IsSelf(const trace::Module& module) {
  absl::string_view path = module.path();
  const size_t slash = path.rfind('/');
  if (slash != absl::string_view::npos) path.remove_prefix(slash + 1);
  return absl::StartsWith(path, "libheaplens");
}

const std::vector<ModuleMap::Range>& ModuleMap::RangesOf(uint32_t epoch) {
  auto [it, inserted] = ranges_.try_emplace(epoch);
  if (!inserted || epoch >= index_.epochs.size()) return it->second;
  std::vector<Range>& out = it->second;
  for (const trace::Module& m : index_.epochs[epoch].modules()) {
    for (const trace::Segment& s : m.segments()) {
      if (s.memsz() == 0) continue;
      const uint64_t begin = m.base() + s.vaddr();
      out.push_back(Range{begin, begin + s.memsz(), &m});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  return out;
}

const trace::Module* ModuleMap::Find(uint32_t epoch, uint64_t pc) {
  const std::vector<Range>& ranges = RangesOf(epoch);
  const uint64_t lookup = pc > 0 ? pc - 1 : 0;
  auto r = std::upper_bound(
      ranges.begin(), ranges.end(), lookup,
      [](uint64_t v, const Range& range) { return v < range.begin; });
  if (r == ranges.begin()) return nullptr;
  --r;
  return lookup < r->end ? r->module : nullptr;
}

}  // namespace heaplens

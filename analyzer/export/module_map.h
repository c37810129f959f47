// module_map.h: which loaded module a pc belongs to, by module epoch.
//
// The exports need what the symbolizer does not expose: the module's load
// bias (so a pc can be written module-relative, as addr2line wants it), its
// build-id and its executable segments (pprof mappings). A pc is mapped with
// the epoch its stack node was read under (StackTable::epoch), like the
// symbolizer does, so modules dlclosed before exit still resolve.
//
// Example:
//   ModuleMap modules(index);
//   const trace::Module* m = modules.Find(index.stacks.epoch(node), pc);
//   if (m != nullptr) relative = pc - m->base();
#ifndef HEAPLENS_ANALYZER_EXPORT_MODULE_MAP_H_
#define HEAPLENS_ANALYZER_EXPORT_MODULE_MAP_H_

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "analyzer/trace_index.h"
#include "proto/trace.pb.h"

namespace heaplens {

class ModuleMap {
 public:
  // `index` must outlive the map.
  explicit ModuleMap(const TraceIndex& index) : index_(index) {}

  // The module whose PT_LOAD segments contain `pc` in module epoch `epoch`
  // (an index into index.epochs, or kNoEpoch), or nullptr. A return address
  // is looked up at pc - 1, like the symbolizer does.
  const trace::Module* Find(uint32_t epoch, uint64_t pc);

  // True for the preload library itself (libheaplens*.so), whose frames the
  // reports leave out.
  static bool IsSelf(const trace::Module& module);

 private:
  struct Range {
    uint64_t begin, end;
    const trace::Module* module;
  };
  const std::vector<Range>& RangesOf(uint32_t epoch);

  const TraceIndex& index_;
  absl::flat_hash_map<uint32_t, std::vector<Range>> ranges_;
};

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_EXPORT_MODULE_MAP_H_

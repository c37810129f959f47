// symbolizer.h: offline symbolization of trace stacks with elfutils libdw.
//
// A pc is mapped to its module with the module epoch that was current when
// its stack node was written (so modules dlclosed before exit still
// resolve), then to function (demangled), file:line and inlined frames with
// the module's DWARF. Debug info is found:
//   1. in the module's file at its recorded path, if its GNU build-id matches
//      the trace (libdw then also finds separate debug info by build-id under
//      the debug directories, or by .gnu_debuglink);
//   2. else by build-id: <debug dir>/.build-id/xx/yyyy.debug;
//   3. else the module is unusable and its frames are "??" with the module
//      path; notes() says why (file missing, build-id mismatch).
// Without DWARF, the ELF symbol table names the function. Return addresses
// are looked up at pc - 1. Frames inside libheaplens.so are dropped. Every
// unique (module, pc) is symbolized once.
//
// Why libdw: it is in Debian (libdw-dev), reads DWARF 5, split and
// compressed debug info, follows build-id and debuglink like gdb, and is
// fast enough (see docs/analyzer.md for the measurement).
#ifndef HEAPLENS_ANALYZER_SYMBOLIZER_H_
#define HEAPLENS_ANALYZER_SYMBOLIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "analyzer/trace_index.h"

namespace heaplens {

struct Frame {
  uint64_t address = 0;  // the pc as recorded
  std::string function;  // "??" if unknown
  std::string file;      // full path as in the debug info; "" if unknown
  int line = 0;          // 0 if unknown
  std::string module;    // module path; "" if the pc is in no module
  bool inlined = false;  // inlined into the next frame
};

struct SymbolizerOptions {
  // Where separate debug info lives (build-id trees, debuglink targets).
  std::vector<std::string> debug_dirs = {"/usr/lib/debug"};
  // Drop frames inside the preload library (libheaplens*.so).
  bool skip_self = true;
};

class Symbolizer {
 public:
  Symbolizer(const TraceIndex& index, SymbolizerOptions options = {});
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // The frames of stack `stack_id`, innermost first, inlined frames before
  // the function they are inlined into. Cached.
  const std::vector<Frame>& Symbolize(uint64_t stack_id);

  // The frames of one pc, mapped with module epoch `epoch` (an index into
  // index.epochs, or kNoEpoch). Cached.
  const std::vector<Frame>& SymbolizePc(uint32_t epoch, uint64_t pc);

  // Messages about modules: missing files, build-id mismatches, no symbols.
  // Sorted, one per module.
  std::vector<std::string> notes() const;

  uint64_t unique_pcs() const { return pc_cache_.size(); }

 private:
  struct Module;
  struct Range {
    uint64_t begin, end;
    uint32_t module;  // index into modules_
    uint64_t base;
  };
  uint32_t ModuleFor(const trace::Module& m);
  const std::vector<Range>& RangesOf(uint32_t epoch);
  std::vector<Frame> Lookup(Module& m, uint64_t pc, uint64_t rel);
  void Open(Module& m);

  const TraceIndex& index_;
  SymbolizerOptions options_;
  std::vector<std::unique_ptr<Module>> modules_;
  absl::flat_hash_map<std::string, uint32_t> module_ids_;  // path + build-id
  absl::flat_hash_map<uint32_t, std::vector<Range>> epoch_ranges_;
  struct PcKey {
    uint32_t epoch;
    uint64_t pc;
    bool operator==(const PcKey& o) const {
      return epoch == o.epoch && pc == o.pc;
    }
    template <typename H>
    friend H AbslHashValue(H h, const PcKey& k) {
      return H::combine(std::move(h), k.epoch, k.pc);
    }
  };
  absl::flat_hash_map<PcKey, std::unique_ptr<std::vector<Frame>>> pc_cache_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<std::vector<Frame>>>
      stack_cache_;
};

// The build-id as lowercase hex.
std::string BuildIdHex(const std::string& build_id);

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_SYMBOLIZER_H_

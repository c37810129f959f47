// mtrace.h: glibc's mtrace(3) log format, so glibc's `mtrace PROGRAM FILE`
// script (and anything else that reads MALLOC_TRACE logs) reads a heaplens
// trace. One line per event, in replay order:
//
//   = Start
//   @ /path/prog:[0x1234] + 0x55d0c2a4b2a0 0x64     malloc, calloc, new, ...
//   - 0x55d0c2a4b2a0                                free, delete
//   @ /path/prog:[0x1250] < 0x55d0c2a4b2a0          realloc: the old block
//   @ /path/prog:[0x1250] > 0x55d0c2a4c000 0x200    realloc: the new block
//   @ /path/prog:[0x1299] - 0x55d0c2a4b2a0          invalid/double free
//   @ /path/prog:[0x12aa] + (nil) 0x1000            failed allocation
//   = End
//
// Differences from glibc's own log, on purpose:
//   - The caller ("@ ...") is the innermost frame outside libheaplens.so,
//     written as module path and *module-relative* address (pc - load bias).
//     glibc writes the absolute address, which its script can only resolve
//     in non-PIE executables; the relative one is what `addr2line -e
//     MODULE` wants, and the script falls back to it. A module path with
//     white space, or a pc in no module, is written "@ [0xABSOLUTE]".
//   - Frees carry no caller: the trace does not record stacks for frees.
// Addresses and sizes are lowercase hex, like glibc's %p and %#lx.
//
// Example:
//   std::ofstream out("leaky.mtrace");
//   MtraceWriter writer(&out);
//   options.consumers.push_back(&writer);   // then AnalyzeTrace(...)
#ifndef HEAPLENS_ANALYZER_EXPORT_MTRACE_H_
#define HEAPLENS_ANALYZER_EXPORT_MTRACE_H_

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "analyzer/event.h"
#include "analyzer/export/module_map.h"
#include "analyzer/replay.h"

namespace heaplens {

class MtraceWriter : public ReplayConsumer {
 public:
  // Writes to `*out`, which must outlive the writer.
  explicit MtraceWriter(std::ostream* out) : out_(*out) {}

  void OnStart(const TraceIndex& index) override;
  void OnEvent(const Event& e) override;
  void OnEnd(const ReplayStats& stats) override;

 private:
  // "@ CALLER " for stack `stack`, or "" when it has no usable frame.
  const std::string& Where(uint64_t stack);

  std::ostream& out_;
  const TraceIndex* index_ = nullptr;
  std::unique_ptr<ModuleMap> modules_;
  absl::flat_hash_map<uint64_t, std::string> where_;
};

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_EXPORT_MTRACE_H_

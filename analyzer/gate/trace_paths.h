// trace_paths.h: the trace files named on a gate command line.
//
// Each argument is a trace file, a directory (its *.hlt files, not
// recursive), or a glob (`*`, `?`, `[...]`, expanded with glob(3) when the
// shell did not). Directories and globs expand in sorted order; duplicates
// are dropped, so `gate dir dir/*.hlt` gates each trace once.
#ifndef HEAPLENS_ANALYZER_GATE_TRACE_PATHS_H_
#define HEAPLENS_ANALYZER_GATE_TRACE_PATHS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace heaplens {
namespace gate {

// InvalidArgument naming the argument if a directory holds no *.hlt or a
// glob matches nothing. A plain path is returned as is (reading it reports
// a missing file).
absl::StatusOr<std::vector<std::string>> ExpandTraceArgs(
    const std::vector<std::string>& args);

}  // namespace gate
}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_GATE_TRACE_PATHS_H_

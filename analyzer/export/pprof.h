// pprof.h: a heaplens trace as a pprof profile (profile.proto, gzipped).
//
// Sample types, one value column each, per allocation stack:
//   alloc_objects/count, alloc_space/bytes    every allocation of the run
//   inuse_objects/count, inuse_space/bytes    blocks live at exit
//   leaked_objects/count, leaked_space/bytes  leaks at exit (definite,
//                                              indirect, possible; or all
//                                              unfreed without a heap graph)
// default_sample_type is leaked_space. A location is one recorded pc (frames
// inside libheaplens.so are dropped) with its symbolized lines, inlined
// frames included; functions have no symbol in the table ("??") get no line,
// so viewers show the address and may symbolize it themselves by build-id
// through the mappings. Mappings are the executable segments of every module
// of every module epoch. Samples, locations and functions are numbered in
// first-seen order over the stacks sorted by id, so output is deterministic.
//
// Example:
//   perftools::profiles::Profile p =
//       BuildPprofProfile(*analysis, allocated.totals(), symbolizer);
//   ASSIGN_OR_RETURN(std::string gz, GzipCompress(p.SerializeAsString()));
#ifndef HEAPLENS_ANALYZER_EXPORT_PPROF_H_
#define HEAPLENS_ANALYZER_EXPORT_PPROF_H_

#include <string>

#include "absl/status/statusor.h"
#include "analyzer/analysis.h"
#include "analyzer/export/profile.pb.h"
#include "analyzer/export/stack_totals.h"
#include "analyzer/symbolizer.h"

namespace heaplens {

// `allocated` comes from an AllocatedByStack consumer of the same replay.
perftools::profiles::Profile BuildPprofProfile(const Analysis& analysis,
                                               const StackTotals& allocated,
                                               Symbolizer& symbolizer);

// gzip (RFC 1952) of `data`, with a zero mtime so output is deterministic.
absl::StatusOr<std::string> GzipCompress(const std::string& data);
// The inverse, for tests and tools. DataLoss if `gz` is not valid gzip.
absl::StatusOr<std::string> GzipDecompress(const std::string& gz);

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_EXPORT_PPROF_H_

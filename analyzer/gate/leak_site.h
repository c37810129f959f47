// leak_site.h: what identifies a leak site to a human and to CI.
//
// A leak's stack (innermost first, as the symbolizer returns it) starts in
// the C library or the C++ runtime as often as in the user's code: strdup,
// std::vector's allocator, fopen. Two notions pick the user's part:
//
//   system frame   a frame whose module is a system library (under /lib,
//                  /lib64, /usr/lib, /usr/lib64, the dynamic loader, the
//                  vDSO) or whose source file is a system path (/usr/include,
//                  /usr/lib, /usr/src, glibc/gcc/libstdc++ build trees), or
//                  that is the C runtime's entry glue (_start, start_thread);
//   user frame     any other frame.
//
// SiteSignature() names a site by the function names and module basenames of
// its first N user frames ("leak_direct@leaky; main@leaky"): no addresses,
// no line numbers, no directories, so it stays the same across rebuilds,
// build directories and unrelated edits. FirstUserSourceFrame() is where
// SARIF puts a result: the first frame with a source file that is the user's.
#ifndef HEAPLENS_ANALYZER_GATE_LEAK_SITE_H_
#define HEAPLENS_ANALYZER_GATE_LEAK_SITE_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "analyzer/symbolizer.h"

namespace heaplens {
namespace gate {

// The default number of user frames in a signature.
inline constexpr int kDefaultSignatureFrames = 4;

bool IsSystemModule(absl::string_view module);
bool IsSystemSourcePath(absl::string_view file);
bool IsUserFrame(const Frame& frame);

// The first frame with a source file that is not a system path and whose
// module is not a system library; nullptr if there is none.
const Frame* FirstUserSourceFrame(const std::vector<Frame>& stack);

// "fn@module; fn@module; ..." over the first `frames` user frames that have
// a function or a module (all frames if there is none). Unknown functions are
// "??", frames without a module have no "@module".
std::string SiteSignature(const std::vector<Frame>& stack, int frames);

absl::string_view Basename(absl::string_view path);

}  // namespace gate
}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_GATE_LEAK_SITE_H_

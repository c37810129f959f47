// trace_fuzz.cc: fuzz target for everything that reads a trace: the reader,
// the index (pass 1), the replay (pass 2), the leak analysis, and the report
// renderers. Built two ways:
//   - with clang -fsanitize=fuzzer (tests/robustness/fuzz.sh) for coverage-
//     guided fuzzing, bounded in time in CI;
//   - with the regular toolchain and fuzz_regression_main.cc as a cc_test
//     that replays the seed corpus and every crash ever found
//     (analyzer/fuzz/corpus/), so a fixed bug stays fixed.
//
// Symbolization is off: a fuzzed trace names arbitrary module paths, and the
// symbolizer's file handling is tested on its own.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "analyzer/analysis.h"
#include "analyzer/report.h"
#include "analyzer/symbolizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fd = memfd_create("heaplens-fuzz", MFD_CLOEXEC);
  if (fd < 0) return 0;
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(fd, data + done, size - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  const std::string path = absl::StrCat("/proc/self/fd/", fd);
  auto analysis = heaplens::AnalyzeTrace(path);
  if (analysis.ok()) {
    heaplens::SymbolizerOptions options;
    options.debug_dirs.clear();
    heaplens::Symbolizer symbolizer((*analysis)->index, options);
    heaplens::Report report = heaplens::BuildReport(**analysis, symbolizer);
    heaplens::ReportOptions ro;
    ro.show_reachable = true;
    (void)heaplens::RenderText(report, ro);
    (void)heaplens::RenderJson(report, ro);
  } else {
    // Errors must name the trace.
    if (analysis.status().message().find(path) == std::string::npos) {
      __builtin_trap();
    }
  }
  close(fd);
  return 0;
}

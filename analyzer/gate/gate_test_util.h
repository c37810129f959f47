// gate_test_util.h: symbolized reports built by hand for the gate's tests.
#ifndef HEAPLENS_ANALYZER_GATE_GATE_TEST_UTIL_H_
#define HEAPLENS_ANALYZER_GATE_GATE_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "analyzer/report.h"
#include "analyzer/symbolizer.h"

namespace heaplens {
namespace gate {
namespace testing {

inline Frame F(std::string function, std::string file = "", int line = 0,
               std::string module = "/work/app/bin/app",
               uint64_t address = 0x401000) {
  Frame f;
  f.function = std::move(function);
  f.file = std::move(file);
  f.line = line;
  f.module = std::move(module);
  f.address = address;
  return f;
}

inline LeakRecord Leak(LeakKind kind, uint64_t bytes, uint64_t blocks,
                       std::vector<Frame> stack) {
  LeakRecord r;
  r.kind = kind;
  r.bytes = bytes;
  r.blocks = blocks;
  r.stack = std::move(stack);
  for (const Frame& f : r.stack) {
    r.stack_text += f.function + "|" + f.file + ":" + std::to_string(f.line) +
                    "|" + f.module + "\n";
  }
  return r;
}

inline Report MakeReport(uint32_t pid, std::vector<LeakRecord> leaks,
                         bool has_graph = true) {
  Report r;
  r.trace_path = "/tmp/t." + std::to_string(pid) + ".hlt";
  r.pid = pid;
  r.exe = "/work/app/bin/app";
  r.argv = {"app"};
  r.exit_reason = has_graph ? "exit" : "unknown";
  r.has_graph = has_graph;
  r.leaks = std::move(leaks);
  for (const LeakRecord& l : r.leaks) {
    r.totals[static_cast<int>(l.kind)].bytes += l.bytes;
    r.totals[static_cast<int>(l.kind)].blocks += l.blocks;
  }
  return r;
}

// The leak corpus most tests use: examples/leaky's sites, symbolized.
inline std::vector<LeakRecord> LeakySites() {
  const std::string libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
  return {
      Leak(LeakKind::kDefinite, 300, 3,
           {F("leak_direct", "/work/app/leaky.c", 30),
            F("main", "/work/app/leaky.c", 80),
            F("__libc_start_call_main", "", 0, libc)}),
      Leak(LeakKind::kIndirect, 192, 4,
           {F("leak_list", "/work/app/leaky.c", 41),
            F("main", "/work/app/leaky.c", 82),
            F("__libc_start_call_main", "", 0, libc)}),
      Leak(LeakKind::kDefinite, 48, 1,
           {F("leak_list", "/work/app/leaky.c", 41),
            F("main", "/work/app/leaky.c", 82),
            F("__libc_start_call_main", "", 0, libc)}),
      Leak(LeakKind::kDefinite, 14, 1,
           {F("strdup", "", 0, libc), F("make_name", "/work/app/leaky.c", 36),
            F("main", "/work/app/leaky.c", 81),
            F("__libc_start_call_main", "", 0, libc)}),
      Leak(LeakKind::kReachable, 64, 1,
           {F("keep_config", "/work/app/leaky.c", 52),
            F("main", "/work/app/leaky.c", 83)}),
  };
}

}  // namespace testing
}  // namespace gate
}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_GATE_GATE_TEST_UTIL_H_

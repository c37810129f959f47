// `heaplens export TRACE --format=...`: write a trace in a format other
// tools read (docs/exports.md): glibc mtrace, folded stacks for flame
// graphs, Valgrind massif, pprof.
#include <stdio.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "analyzer/analysis.h"
#include "analyzer/cli_flags.h"
#include "analyzer/commands.h"
#include "analyzer/export/collapsed.h"
#include "analyzer/export/massif.h"
#include "analyzer/export/mtrace.h"
#include "analyzer/export/pprof.h"
#include "analyzer/export/stack_totals.h"
#include "analyzer/symbolizer.h"

ABSL_DECLARE_FLAG(std::string, format);  // cmd_report.cc
ABSL_DECLARE_FLAG(std::string, output);  // cmd_report.cc
ABSL_FLAG(std::string, what, "leaked",
          "export --format=collapsed: leaked, allocated or live bytes");
ABSL_FLAG(bool, lines, false,
          "export --format=collapsed: frames as \"function (file:line)\"");
ABSL_FLAG(std::string, clock, "ms",
          "export --format=massif: time axis, ms (trace time) or bytes "
          "(allocated and freed so far)");
ABSL_FLAG(int32_t, snapshots, 50,
          "export --format=massif: at least this many snapshots");

namespace heaplens {

const char kExportHelp[] =
    R"help(Usage: heaplens export TRACE --format=mtrace|collapsed|massif|pprof
                       [--output FILE] [--what=leaked|allocated|live] [--lines]
                       [--clock=ms|bytes] [--snapshots N]

Writes a heaplens trace in a format that other tools read:

  mtrace      glibc's mtrace log: `mtrace PROGRAM FILE` lists the blocks not
              freed with their callers (file:line through addr2line).
  collapsed   folded stacks, "outer;...;inner BYTES" per line, for
              flamegraph.pl, inferno-flamegraph or speedscope.
  massif      Valgrind massif's out file: `ms_print FILE` draws the heap
              over time, with the allocation trees at the peak and at every
              10th snapshot (massif-visualizer reads it too).
  pprof       a gzipped pprof profile (profile.proto) with the sample types
              alloc_objects/alloc_space, inuse_objects/inuse_space (live at
              exit) and leaked_objects/leaked_space [default]: `pprof -http=:
              FILE`, `go tool pprof`, speedscope. Binary: use --output.

Flags:
  --format=FORMAT      one of the formats above (required)
  --output FILE        write to FILE instead of stdout
  --what=WHAT          collapsed: which bytes to count:
                         leaked     blocks leaked at exit (definite, indirect,
                                    possible; all unfreed blocks if the
                                    process did not exit normally) [default]
                         allocated  every allocation over the whole run
                         live       every block still live at exit
  --lines              collapsed: frames as "function (file.c:12)"
  --clock=ms|bytes     massif: the time axis, trace time in ms [default] or
                       bytes allocated and freed so far (massif's B)
  --snapshots N        massif: at least N snapshots (at most 2N) [50]

Examples:
  heaplens export --format=mtrace --output leaks.mtrace heaplens.1234.hlt
  mtrace ./myprog leaks.mtrace
  heaplens export --format=collapsed heaplens.1234.hlt | flamegraph.pl > leaks.svg
  heaplens export --format=collapsed --what=allocated --lines trace.hlt
  heaplens export --format=massif --output massif.out trace.hlt && ms_print massif.out
  heaplens export --format=pprof --output heap.pb.gz trace.hlt

Exit status: 0 on success, 2 on a usage error or an unreadable trace.
)help";

namespace {
enum class ExportFormat { kMtrace, kCollapsed, kMassif, kPprof };

struct ExportFlags {
  ExportFormat format;
  std::string what;
  bool lines = false;
  MassifOptions massif;
};

absl::Status ExportFlagsFromCommandLine(ExportFlags* flags) {
  const std::string f = absl::GetFlag(FLAGS_format);
  if (f == "mtrace") {
    flags->format = ExportFormat::kMtrace;
  } else if (f == "collapsed" || f == "folded") {
    flags->format = ExportFormat::kCollapsed;
  } else if (f == "massif") {
    flags->format = ExportFormat::kMassif;
  } else if (f == "pprof") {
    flags->format = ExportFormat::kPprof;
  } else if (f == "text") {  // the shared flag's default: not given
    return absl::InvalidArgumentError(
        "which format? Give --format=mtrace, collapsed, massif or pprof");
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--format=", f,
        ": unknown export format; use mtrace, collapsed, massif or pprof"));
  }
  flags->what = absl::GetFlag(FLAGS_what);
  if (flags->what != "leaked" && flags->what != "allocated" &&
      flags->what != "live") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--what=", flags->what, ": must be leaked, allocated or live"));
  }
  flags->lines = absl::GetFlag(FLAGS_lines);
  const std::string clock = absl::GetFlag(FLAGS_clock);
  if (clock == "ms") {
    flags->massif.clock = MassifOptions::Clock::kMilliseconds;
  } else if (clock == "bytes" || clock == "B") {
    flags->massif.clock = MassifOptions::Clock::kBytes;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--clock=", clock, ": must be ms or bytes"));
  }
  flags->massif.snapshots = absl::GetFlag(FLAGS_snapshots);
  if (flags->massif.snapshots < 2 || flags->massif.snapshots > 10000) {
    return absl::InvalidArgumentError(
        absl::StrCat("--snapshots=", flags->massif.snapshots,
                     ": must be between 2 and 10000"));
  }
  return absl::OkStatus();
}

AnalyzeOptions WithProgress(const std::string& trace_path) {
  AnalyzeOptions analyze;
  if (isatty(STDERR_FILENO)) {
    analyze.progress = [trace_path](uint64_t done, uint64_t total) {
      if (total < 4096) return;  // small traces finish before anyone looks
      fprintf(stderr, "\rheaplens: replaying %s: %3d%%", trace_path.c_str(),
              static_cast<int>(done * 100 / total));
      if (done == total) fputc('\n', stderr);
    };
  }
  return analyze;
}

absl::Status Export(const std::string& trace_path, const ExportFlags& flags,
                    std::ostream& out) {
  AnalyzeOptions analyze = WithProgress(trace_path);
  AllocatedByStack allocated;
  std::unique_ptr<MtraceWriter> mtrace;
  MassifRecorder massif(flags.massif);
  if (flags.format == ExportFormat::kMtrace) {
    mtrace = std::make_unique<MtraceWriter>(&out);
    analyze.consumers.push_back(mtrace.get());
  } else if (flags.format == ExportFormat::kMassif) {
    analyze.consumers.push_back(&massif);
  } else if (flags.what == "allocated" ||
             flags.format == ExportFormat::kPprof) {
    analyze.consumers.push_back(&allocated);
  }
  absl::StatusOr<std::unique_ptr<Analysis>> analysis =
      AnalyzeTrace(trace_path, analyze);
  if (!analysis.ok()) return analysis.status();
  const Analysis& a = **analysis;
  if (flags.format == ExportFormat::kCollapsed) {
    Symbolizer symbolizer(a.index);
    const StackTotals totals = flags.what == "allocated" ? allocated.totals()
                               : flags.what == "live"
                                   ? LiveByStack(a.tracker.live())
                                   : LeakedByStack(a.leaks);
    CollapsedOptions options;
    options.lines = flags.lines;
    out << RenderCollapsed(totals, symbolizer, options);
  } else if (flags.format == ExportFormat::kMassif) {
    Symbolizer symbolizer(a.index);
    std::string cmd = absl::StrJoin(a.index.header.argv(), " ");
    if (cmd.empty()) cmd = a.index.header.exe();
    out << RenderMassif(massif, symbolizer, cmd);
  } else if (flags.format == ExportFormat::kPprof) {
    Symbolizer symbolizer(a.index);
    absl::StatusOr<std::string> gz =
        GzipCompress(BuildPprofProfile(a, allocated.totals(), symbolizer)
                         .SerializeAsString());
    if (!gz.ok()) return gz.status();
    out.write(gz->data(), gz->size());
  }
  out.flush();
  if (!out) return absl::InternalError("write failed");
  return absl::OkStatus();
}

}  // namespace

int ExportCommand(const std::vector<std::string>& args) {
  static constexpr absl::string_view kFlags[] = {
      "format", "output", "what", "lines", "clock", "snapshots"};
  absl::StatusOr<ParsedArgs> parsed = ParseSubcommandFlags(args, kFlags);
  if (!parsed.ok()) {
    std::cerr << "heaplens export: " << parsed.status().message()
              << "\nTry 'heaplens export --help'.\n";
    return kExitUsage;
  }
  if (parsed->help) {
    std::cout << kExportHelp;
    return kExitOk;
  }
  std::vector<std::string> traces = parsed->positional;
  traces.insert(traces.end(), parsed->after_dashdash.begin(),
                parsed->after_dashdash.end());
  if (traces.size() != 1) {
    std::cerr << "heaplens export: "
              << (traces.empty() ? "no trace file given"
                                 : "give exactly one trace file")
              << "\nExample: heaplens export --format=collapsed "
                 "heaplens.1234.hlt\nTry 'heaplens export --help'.\n";
    return kExitUsage;
  }
  ExportFlags flags;
  if (absl::Status s = ExportFlagsFromCommandLine(&flags); !s.ok()) {
    std::cerr << "heaplens export: " << s.message()
              << "\nTry 'heaplens export --help'.\n";
    return kExitUsage;
  }
  const std::string output = absl::GetFlag(FLAGS_output);
  const bool to_stdout = output.empty() || output == "-";
  std::ofstream file;
  if (!to_stdout) {
    file.open(output, std::ios::out | std::ios::trunc | std::ios::binary);
    if (!file) {
      std::cerr << "heaplens export: " << output
                << ": cannot create the file; check that its directory exists "
                   "and is writable\n";
      return kExitUsage;
    }
  }
  if (to_stdout && flags.format == ExportFormat::kPprof &&
      isatty(STDOUT_FILENO)) {
    std::cerr << "heaplens export: a pprof profile is gzipped binary; write "
                 "it to a file with --output FILE (e.g. --output heap.pb.gz) "
                 "or pipe it\n";
    return kExitUsage;
  }
  std::ostream& out = to_stdout ? std::cout : file;
  if (absl::Status s = Export(traces[0], flags, out); !s.ok()) {
    std::cerr << "heaplens export: " << s.message() << "\n";
    if (!to_stdout) {
      file.close();
      unlink(output.c_str());  // no half-written export left behind
    }
    return kExitUsage;
  }
  return kExitOk;
}

}  // namespace heaplens

// `heaplens report TRACE...`: analyze traces and print their leak reports.
#include <stdio.h>
#include <unistd.h>

#include <iostream>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "analyzer/analysis.h"
#include "analyzer/cli_flags.h"
#include "analyzer/commands.h"
#include "analyzer/layout/replay_adapter.h"
#include "analyzer/symbolizer.h"

ABSL_FLAG(std::string, format, "text", "report format: text or json");
ABSL_FLAG(std::string, output, "",
          "report: write the report to this file (default stdout); run: the "
          "trace path (may contain %p)");
ABSL_FLAG(std::string, show, "",
          "extra leak kinds to list: reachable (comma-separated)");

namespace heaplens {

const char kReportHelp[] =
    R"(Usage: heaplens report TRACE... [--format=text|json] [--output FILE]
                       [--show=reachable]

Replays a heaplens trace (written by libheaplens.so with MALLOC_TRACE) and
prints its leaks grouped by symbolized allocation stack, biggest first, with
Valgrind memcheck's kinds (definite, indirect, possible, reachable) when the
process exited normally, or as "unfreed" blocks when it did not. Invalid,
double and mismatched frees are listed with their stacks.

Flags:
  --format=text|json   text (like Valgrind's) or JSON (docs/report_schema.md)
  --output FILE        write the report to FILE instead of stdout
  --show=reachable     also list blocks still reachable at exit

Examples:
  heaplens report heaplens.1234.hlt
  heaplens report --format=json --output leaks.json heaplens.1234.hlt
  heaplens report --show=reachable trace.hlt

Exit status: 0 on success, 2 on a usage error or an unreadable trace.
)";

absl::Status ReportFlagsFromCommandLine(ReportFormat* format,
                                        ReportOptions* options) {
  const std::string f = absl::GetFlag(FLAGS_format);
  if (f == "text") {
    *format = ReportFormat::kText;
  } else if (f == "json") {
    *format = ReportFormat::kJson;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--format=", f, ": must be text or json"));
  }
  for (absl::string_view kind :
       absl::StrSplit(absl::GetFlag(FLAGS_show), ',', absl::SkipEmpty())) {
    if (kind == "reachable" || kind == "all") {
      options->show_reachable = true;
    } else if (kind != "definite" && kind != "indirect" && kind != "possible") {
      return absl::InvalidArgumentError(
          absl::StrCat("--show=", kind,
                       ": must be reachable (the others are always shown)"));
    }
  }
  return absl::OkStatus();
}

absl::Status WriteOutput(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    fwrite(text.data(), 1, text.size(), stdout);
    fflush(stdout);
    return absl::OkStatus();
  }
  FILE* f = fopen(path.c_str(), "w");
  if (f == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot write the report"));
  }
  const bool ok = fwrite(text.data(), 1, text.size(), f) == text.size();
  if (fclose(f) != 0 || !ok) {
    return absl::InternalError(absl::StrCat(path, ": write failed"));
  }
  return absl::OkStatus();
}

absl::Status ReportTrace(const std::string& trace_path, ReportFormat format,
                         const ReportOptions& options, std::string* out) {
  AnalyzeOptions analyze;
  if (isatty(STDERR_FILENO)) {
    analyze.progress = [&trace_path](uint64_t done, uint64_t total) {
      if (total < 4096) return;  // small traces finish before anyone looks
      fprintf(stderr, "\rheaplens: replaying %s: %3d%%", trace_path.c_str(),
              static_cast<int>(done * 100 / total));
      if (done == total) fputc('\n', stderr);
    };
  }
  layout::LayoutConsumer layout;
  analyze.consumers.push_back(&layout);
  absl::StatusOr<std::unique_ptr<Analysis>> analysis =
      AnalyzeTrace(trace_path, analyze);
  if (!analysis.ok()) return analysis.status();
  Symbolizer symbolizer((*analysis)->index);
  const Report report = BuildReport(**analysis, symbolizer, &layout.report());
  if (format == ReportFormat::kJson) {
    out->append(RenderJson(report, options));
  } else {
    out->append(RenderText(report, options));
  }
  return absl::OkStatus();
}

int ReportCommand(const std::vector<std::string>& args) {
  static constexpr absl::string_view kFlags[] = {"format", "output", "show"};
  absl::StatusOr<ParsedArgs> parsed = ParseSubcommandFlags(args, kFlags);
  if (!parsed.ok()) {
    std::cerr << "heaplens report: " << parsed.status().message()
              << "\nTry 'heaplens report --help'.\n";
    return kExitUsage;
  }
  if (parsed->help) {
    std::cout << kReportHelp;
    return kExitOk;
  }
  std::vector<std::string> traces = parsed->positional;
  traces.insert(traces.end(), parsed->after_dashdash.begin(),
                parsed->after_dashdash.end());
  if (traces.empty()) {
    std::cerr << "heaplens report: no trace file given\n"
                 "Try 'heaplens report --help'.\n";
    return kExitUsage;
  }
  ReportFormat format;
  ReportOptions options;
  if (absl::Status s = ReportFlagsFromCommandLine(&format, &options); !s.ok()) {
    std::cerr << "heaplens report: " << s.message() << "\n";
    return kExitUsage;
  }
  if (format == ReportFormat::kJson && traces.size() > 1) {
    std::cerr << "heaplens report: --format=json takes one trace\n";
    return kExitUsage;
  }
  int rc = kExitOk;
  std::string out;
  for (const std::string& trace : traces) {
    if (absl::Status s = ReportTrace(trace, format, options, &out); !s.ok()) {
      std::cerr << "heaplens report: " << s.message() << "\n";
      rc = kExitUsage;
    }
  }
  if (absl::Status s = WriteOutput(absl::GetFlag(FLAGS_output), out); !s.ok()) {
    std::cerr << "heaplens report: " << s.message() << "\n";
    return kExitUsage;
  }
  return rc;
}

}  // namespace heaplens

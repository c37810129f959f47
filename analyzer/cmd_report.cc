// `heaplens report TRACE...`: analyze traces and print their leak reports.
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "analyzer/analysis.h"
#include "analyzer/cli_flags.h"
#include "analyzer/commands.h"
#include "analyzer/html/html_report.h"
#include "analyzer/html_data.h"
#include "analyzer/layout/replay_adapter.h"
#include "analyzer/symbolizer.h"

ABSL_FLAG(std::string, format, "text", "report format: text, json or html");
ABSL_FLAG(std::string, output, "",
          "report: write the report to this file (default stdout); run: the "
          "trace path (may contain %p)");
ABSL_FLAG(std::string, show, "",
          "extra leak kinds to list: reachable (comma-separated)");

namespace heaplens {

const char kReportHelp[] =
    R"(Usage: heaplens report TRACE... [--format=text|json|html] [--output FILE]
                       [--show=reachable]

Replays a heaplens trace (written by libheaplens.so with MALLOC_TRACE) and
prints its leaks grouped by symbolized allocation stack, biggest first, with
Valgrind memcheck's kinds (definite, indirect, possible, reachable) when the
process exited normally, or as "unfreed" blocks when it did not. Invalid,
double and mismatched frees are listed with their stacks. The heap layout
follows: fragmentation at the peak and at the end, and the live chunks that
pin free heap below the top of the brk heap (so it cannot go back to the OS).

Flags:
  --format=text|json|html
                       text (like Valgrind's), JSON (docs/report_schema.md),
                       or one self-contained HTML page (timeline, heap map,
                       leak table, flame graphs; open it in a browser)
  --output FILE        write the report to FILE instead of stdout
  --show=reachable     also list blocks still reachable at exit

Examples:
  heaplens report heaplens.1234.hlt
  heaplens report --format=json --output leaks.json heaplens.1234.hlt
  heaplens report --format=html --output report.html heaplens.1234.hlt
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
  } else if (f == "html") {
    *format = ReportFormat::kHtml;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--format=", f, ": must be text, json or html"));
  }
  const char* no_color = getenv("NO_COLOR");
  options->color = *format == ReportFormat::kText && isatty(STDOUT_FILENO) &&
                   (no_color == nullptr || *no_color == '\0');
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

namespace {

// "\rheaplens: replaying t.hlt  45% (1234 of 2741 batches)" on stderr, at
// most ten times a second, erased when the replay ends. Only on a terminal.
ReplayProgress TerminalProgress(const std::string& trace_path) {
  if (!isatty(STDERR_FILENO)) return nullptr;
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  auto last = std::make_shared<Clock::time_point>(start);
  auto shown = std::make_shared<bool>(false);
  return [trace_path, start, last, shown](uint64_t done, uint64_t total) {
    const Clock::time_point now = Clock::now();
    if (done >= total) {
      if (*shown) fputs("\r\033[K", stderr);
      *shown = false;
      return;
    }
    // Quiet for the first half second: small traces finish before anyone
    // looks.
    if (now - start < std::chrono::milliseconds(500) ||
        now - *last < std::chrono::milliseconds(100)) {
      return;
    }
    *last = now;
    *shown = true;
    fprintf(stderr, "\rheaplens: replaying %s %3d%% (%llu of %llu batches)",
            trace_path.c_str(),
            static_cast<int>(total ? done * 100 / total : 0),
            static_cast<unsigned long long>(done),
            static_cast<unsigned long long>(total));
  };
}

}  // namespace

absl::Status ReportTrace(const std::string& trace_path, ReportFormat format,
                         const ReportOptions& options, std::string* out) {
  AnalyzeOptions analyze;
  analyze.progress = TerminalProgress(trace_path);
  layout::LayoutOptions layout_options;
  // The heap map is drawn only by the HTML report.
  layout_options.heap_map = format == ReportFormat::kHtml;
  layout::LayoutConsumer layout(layout_options);
  analyze.consumers.push_back(&layout);
  AllocatedByStack allocated;
  if (format == ReportFormat::kHtml) analyze.consumers.push_back(&allocated);
  absl::StatusOr<std::unique_ptr<Analysis>> analysis =
      AnalyzeTrace(trace_path, analyze);
  if (!analysis.ok()) return analysis.status();
  Symbolizer symbolizer((*analysis)->index);
  // Text and JSON list still-reachable blocks only when asked; HTML always.
  KindMask symbolize = kAllKinds;
  if (format != ReportFormat::kHtml && !options.show_reachable) {
    symbolize &= ~KindBit(LeakKind::kReachable);
  }
  const Report report =
      BuildReport(**analysis, symbolizer, &layout.report(), symbolize);
  if (format == ReportFormat::kJson) {
    out->append(RenderJson(report, options));
  } else if (format == ReportFormat::kHtml) {
    HtmlDataInput input;
    input.report = &report;
    input.index = &(*analysis)->index;
    input.layout = &layout.report();
    input.allocated = &allocated;
    out->append(html::RenderHtmlReport(BuildHtmlData(input, symbolizer)));
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
  if (format != ReportFormat::kText && traces.size() > 1) {
    std::cerr << "heaplens report: --format=" << absl::GetFlag(FLAGS_format)
              << " takes one trace (run it once per trace)\n";
    return kExitUsage;
  }
  const std::string output = absl::GetFlag(FLAGS_output);
  if (!output.empty() && output != "-") options.color = false;  // a file
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

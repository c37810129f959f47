// commands.h: the heaplens subcommands. Each lives in its own cmd_*.cc and
// takes the arguments after its name; main.cc dispatches. A new subcommand
// (gate, export) adds a file here and one row to kCommands in main.cc.
//
// Exit codes (a public contract, DESIGN.md): 0 ok, 1 the gate found leaks
// over its budget, 2 usage error or unreadable trace.
#ifndef HEAPLENS_ANALYZER_COMMANDS_H_
#define HEAPLENS_ANALYZER_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "analyzer/report.h"

namespace heaplens {

inline constexpr int kExitOk = 0;
inline constexpr int kExitLeaks = 1;
inline constexpr int kExitUsage = 2;

int ReportCommand(const std::vector<std::string>& args);
int RunCommand(const std::vector<std::string>& args);
int ExportCommand(const std::vector<std::string>& args);  // cmd_export.cc
int GateCommand(const std::vector<std::string>& args);    // cmd_gate.cc

// Help texts, printed for `heaplens CMD --help`.
extern const char kReportHelp[];
extern const char kRunHelp[];
extern const char kExportHelp[];
extern const char kGateHelp[];

enum class ReportFormat { kText, kJson, kHtml };

// Analyzes `trace_path` and appends its report to `*out`. Shared by `report`
// and `run`. A progress line goes to stderr when it is a terminal.
absl::Status ReportTrace(const std::string& trace_path, ReportFormat format,
                         const ReportOptions& options, std::string* out);

// Parses --format and --show (the report flags that `run` shares).
absl::Status ReportFlagsFromCommandLine(ReportFormat* format,
                                        ReportOptions* options);

// The gate (cmd_gate.cc), shared with `run --gate`: gates the traces (files,
// directories, globs) with the gate flags; returns the exit code. `who`
// prefixes messages ("heaplens gate").
int GateTraces(const std::vector<std::string>& traces, absl::string_view who);
// The gate flags (absl names, with underscores) that `gate` and `run` accept.
const std::vector<absl::string_view>& GateFlagNames();
// "--max-definite-bytes=1" -> "--max_definite_bytes=1" for every flag before
// "--", so the CLI takes dashed names for the absl (underscore) flags.
std::vector<std::string> FlagDashesToUnderscores(
    const std::vector<std::string>& args);

// Writes `text` to `path`, or to stdout if `path` is empty or "-".
absl::Status WriteOutput(const std::string& path, const std::string& text);

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_COMMANDS_H_

// heaplens: the command-line tool. `heaplens COMMAND [ARGS...]`; each
// command is a function in commands.h, in its own cmd_*.cc file.
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "analyzer/commands.h"

namespace {

struct Command {
  absl::string_view name;
  int (*run)(const std::vector<std::string>& args);
  const char* help;
  absl::string_view summary;
};

const Command kCommands[] = {
    {"report", heaplens::ReportCommand, heaplens::kReportHelp,
     "print the leak report of a trace"},
    {"run", heaplens::RunCommand, heaplens::kRunHelp,
     "run a program under the interposer, then report"},
    {"export", heaplens::ExportCommand, heaplens::kExportHelp,
     "write a trace as mtrace, folded stacks, massif or pprof"},
    {"gate", heaplens::GateCommand, heaplens::kGateHelp,
     "the CI leak gate: fail on leaks over budget"},
};

void Usage(std::ostream& os) {
  os << "Usage: heaplens COMMAND [ARGS...]\n\nCommands:\n";
  for (const Command& c : kCommands) {
    os << "  " << c.name << std::string(10 - c.name.size(), ' ') << c.summary
       << "\n";
  }
  os << "\nRun 'heaplens COMMAND --help' for a command's flags and "
        "examples.\n"
        "Examples:\n"
        "  heaplens run -- ./myprog arg1\n"
        "  heaplens report --format=json heaplens.1234.hlt\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    Usage(std::cerr);
    return heaplens::kExitUsage;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    if (name == "help" && argc > 2) {
      for (const Command& c : kCommands) {
        if (c.name == argv[2]) {
          std::cout << c.help;
          return heaplens::kExitOk;
        }
      }
    }
    Usage(std::cout);
    return heaplens::kExitOk;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  for (const Command& c : kCommands) {
    if (c.name == name) return c.run(args);
  }
  std::cerr << "heaplens: unknown command '" << name << "'\n\n";
  Usage(std::cerr);
  return heaplens::kExitUsage;
}

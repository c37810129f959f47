// cli_flags.h: command-line parsing for the heaplens subcommands on top of
// Abseil flags.
//
// Every flag is an ABSL_FLAG defined next to the subcommand that owns it;
// ParseSubcommandFlags() sets only the flags a subcommand allows, so
// `heaplens report --preload x` is a usage error. Unlike
// absl::ParseCommandLine it never exits: errors come back as
// InvalidArgument and the CLI exits with code 2.
//
// Accepted forms: --name=value, --name value, --bool_flag, --nobool_flag,
// -h/--help, and "--" which ends the flags (the rest is kept verbatim).
#ifndef HEAPLENS_ANALYZER_CLI_FLAGS_H_
#define HEAPLENS_ANALYZER_CLI_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace heaplens {

struct ParsedArgs {
  bool help = false;
  std::vector<std::string> positional;  // before "--"
  bool has_dashdash = false;
  std::vector<std::string> after_dashdash;
};

// `args` are the arguments after the subcommand name.
absl::StatusOr<ParsedArgs> ParseSubcommandFlags(
    absl::Span<const std::string> args,
    absl::Span<const absl::string_view> allowed_flags);

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_CLI_FLAGS_H_

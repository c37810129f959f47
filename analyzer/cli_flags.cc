#include "analyzer/cli_flags.h"

#include <algorithm>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace heaplens {

absl::StatusOr<ParsedArgs> ParseSubcommandFlags(
    absl::Span<const std::string> args,
    absl::Span<const absl::string_view> allowed_flags) {
  ParsedArgs out;
  auto allowed = [&](absl::string_view name) {
    return std::find(allowed_flags.begin(), allowed_flags.end(), name) !=
           allowed_flags.end();
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      out.has_dashdash = true;
      out.after_dashdash.assign(args.begin() + i + 1, args.end());
      break;
    }
    if (arg == "-h" || arg == "--help" || arg == "-help") {
      out.help = true;
      continue;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      out.positional.push_back(arg);
      continue;
    }
    absl::string_view body = arg;
    body.remove_prefix(absl::StartsWith(body, "--") ? 2 : 1);
    absl::string_view name = body;
    absl::string_view value;
    bool has_value = false;
    if (size_t eq = body.find('='); eq != absl::string_view::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    std::string flag_name(name);
    absl::CommandLineFlag* flag = nullptr;
    bool negated = false;
    if (allowed(flag_name)) flag = absl::FindCommandLineFlag(flag_name);
    if (flag == nullptr && absl::StartsWith(flag_name, "no") &&
        allowed(flag_name.substr(2))) {
      flag = absl::FindCommandLineFlag(flag_name.substr(2));
      negated = flag != nullptr && flag->IsOfType<bool>() && !has_value;
      if (!negated) flag = nullptr;
    }
    if (flag == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown flag ", arg, allowed_flags.empty() ? "" : " (flags: --",
          absl::StrJoin(allowed_flags, ", --"),
          allowed_flags.empty() ? "" : ")"));
    }
    std::string v;
    if (negated) {
      v = "false";
    } else if (has_value) {
      v = std::string(value);
    } else if (flag->IsOfType<bool>()) {
      v = "true";
    } else if (i + 1 < args.size()) {
      v = args[++i];
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("flag --", flag_name, " needs a value"));
    }
    std::string error;
    if (!flag->ParseFrom(v, &error)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad value for --", flag->Name(), ": '", v, "': ", error));
    }
  }
  return out;
}

}  // namespace heaplens

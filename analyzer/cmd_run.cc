// `heaplens run [flags] -- CMD [ARGS...]`: run a program under the
// interposer with tracing on, then report every trace it wrote.
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "analyzer/cli_flags.h"
#include "analyzer/commands.h"

ABSL_DECLARE_FLAG(std::string, output);
ABSL_DECLARE_FLAG(bool, gate);  // cmd_gate.cc
ABSL_FLAG(std::string, preload, "",
          "run: the preload library (default: $HEAPLENS_PRELOAD, else "
          "../interposer/libheaplens.so next to the heaplens binary)");

namespace heaplens {

const char kRunHelp[] =
    R"(Usage: heaplens run [--output PATH] [--preload LIB] [--format=text|json|html]
                    [--show=reachable] [--gate [gate flags]] -- CMD [ARGS...]

Runs CMD with libheaplens.so preloaded and MALLOC_TRACE set, waits for it,
then prints the report of every trace it wrote (a forked child writes its
own trace when PATH contains %p, which the default does).

Flags:
  --output PATH        the trace file; %p becomes the pid
                       (default: ./heaplens.%p.hlt)
  --preload LIB        the preload library (default: $HEAPLENS_PRELOAD, else
                       bazel-bin/interposer/libheaplens.so beside the
                       heaplens binary)
  --format=text|json|html
                       report format (html: one self-contained page on
                       stdout; redirect it to a file)
  --show=reachable     also list blocks still reachable at exit
  --gate               instead of printing reports, run the leak gate on
                       every trace (`heaplens gate --help` lists the gate
                       flags: --fail-on, --max-*, --suppressions, --baseline,
                       --junit, --sarif, ...)

Examples:
  heaplens run -- ./myprog --its-flag
  heaplens run --output /tmp/t.%p.hlt --format=json -- ./myprog
  heaplens run --gate --junit leaks.xml -- ./mytests

Exit status: CMD's own status when it failed (128+N if killed by signal N),
else 2 if no trace could be read, else 0 (with --gate: the gate's code,
1 for leaks over budget).
)";

namespace {

bool IsFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// The preload library: --preload, $HEAPLENS_PRELOAD, or next to this binary
// (bazel-bin/analyzer/heaplens -> bazel-bin/interposer/libheaplens.so, also
// through runfiles).
absl::StatusOr<std::string> FindPreload(const std::string& flag) {
  if (!flag.empty()) {
    if (!IsFile(flag)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--preload ", flag, ": no such file"));
    }
    return flag;
  }
  if (const char* env = getenv("HEAPLENS_PRELOAD"); env && *env) {
    if (!IsFile(env)) {
      return absl::InvalidArgumentError(
          absl::StrCat("HEAPLENS_PRELOAD=", env, ": no such file"));
    }
    return std::string(env);
  }
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  std::vector<std::string> candidates;
  if (n > 0) {
    buf[n] = '\0';
    const std::string dir = Dirname(buf);
    candidates.push_back(dir + "/../interposer/libheaplens.so");
    candidates.push_back(std::string(buf) +
                         ".runfiles/heaplens/interposer/libheaplens.so");
    candidates.push_back(dir + "/libheaplens.so");
    candidates.push_back(dir + "/../lib/libheaplens.so");
  }
  for (const std::string& c : candidates) {
    if (IsFile(c)) {
      char real[PATH_MAX];
      if (realpath(c.c_str(), real) != nullptr) return std::string(real);
      return c;
    }
  }
  return absl::NotFoundError(
      "cannot find libheaplens.so: build it (bazel build "
      "//interposer:libheaplens.so), or pass --preload or set "
      "HEAPLENS_PRELOAD");
}

// Trace files that match `pattern` (with at most one %p) and were written
// since `start`.
std::vector<std::string> TracesWritten(const std::string& pattern,
                                       const struct timespec& start) {
  std::vector<std::string> out;
  const size_t p = pattern.find("%p");
  if (p == std::string::npos) {
    if (IsFile(pattern)) out.push_back(pattern);
    return out;
  }
  const std::string dir = Dirname(pattern.substr(0, p + 2));
  const size_t slash = pattern.rfind('/', p);
  const std::string prefix = slash == std::string::npos
                                 ? pattern.substr(0, p)
                                 : pattern.substr(slash + 1, p - slash - 1);
  const std::string suffix = pattern.substr(p + 2);
  std::vector<std::pair<uint64_t, std::string>> found;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (struct dirent* e = readdir(d)) {
    absl::string_view name = e->d_name;
    if (!absl::ConsumePrefix(&name, prefix) ||
        !absl::ConsumeSuffix(&name, suffix)) {
      continue;
    }
    uint64_t pid;
    if (!absl::SimpleAtoi(name, &pid)) continue;
    const std::string path = slash == std::string::npos && dir == "."
                                 ? std::string(e->d_name)
                                 : absl::StrCat(dir, "/", e->d_name);
    struct stat st;
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (st.st_mtim.tv_sec < start.tv_sec) continue;  // an older run's trace
    found.emplace_back(pid, path);
  }
  closedir(d);
  std::sort(found.begin(), found.end());
  for (auto& [pid, path] : found) out.push_back(path);
  return out;
}

}  // namespace

int RunCommand(const std::vector<std::string>& args) {
  std::vector<absl::string_view> flags = {"output", "preload", "format", "show",
                                          "gate"};
  flags.insert(flags.end(), GateFlagNames().begin(), GateFlagNames().end());
  absl::StatusOr<ParsedArgs> parsed =
      ParseSubcommandFlags(FlagDashesToUnderscores(args), flags);
  if (!parsed.ok()) {
    std::cerr << "heaplens run: " << parsed.status().message()
              << "\nTry 'heaplens run --help'.\n";
    return kExitUsage;
  }
  if (parsed->help) {
    std::cout << kRunHelp;
    return kExitOk;
  }
  std::vector<std::string> cmd = parsed->after_dashdash;
  if (!parsed->positional.empty()) {
    if (parsed->has_dashdash) {
      std::cerr << "heaplens run: unexpected argument '"
                << parsed->positional[0] << "' before --\n";
      return kExitUsage;
    }
    cmd = parsed->positional;
  }
  if (cmd.empty()) {
    std::cerr << "heaplens run: no command given\n"
                 "Try 'heaplens run --help'.\n";
    return kExitUsage;
  }
  ReportFormat format;
  ReportOptions options;
  if (absl::Status s = ReportFlagsFromCommandLine(&format, &options); !s.ok()) {
    std::cerr << "heaplens run: " << s.message() << "\n";
    return kExitUsage;
  }
  absl::StatusOr<std::string> preload =
      FindPreload(absl::GetFlag(FLAGS_preload));
  if (!preload.ok()) {
    std::cerr << "heaplens run: " << preload.status().message() << "\n";
    return kExitUsage;
  }
  std::string pattern = absl::GetFlag(FLAGS_output);
  if (pattern.empty()) pattern = "heaplens.%p.hlt";
  // Remove a stale single trace so an old file is never reported.
  if (pattern.find("%p") == std::string::npos) unlink(pattern.c_str());

  std::string ld_preload = *preload;
  if (const char* old = getenv("LD_PRELOAD"); old && *old) {
    ld_preload = absl::StrCat(*preload, ":", old);
  }
  struct timespec start;
  clock_gettime(CLOCK_REALTIME, &start);
  fflush(stdout);
  fflush(stderr);

  const pid_t child = fork();
  if (child < 0) {
    std::cerr << "heaplens run: fork failed: " << strerror(errno) << "\n";
    return kExitUsage;
  }
  if (child == 0) {
    setenv("LD_PRELOAD", ld_preload.c_str(), 1);
    setenv("MALLOC_TRACE", pattern.c_str(), 1);
    std::vector<char*> argv;
    for (std::string& a : cmd) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    fprintf(stderr, "heaplens run: cannot run %s: %s\n", argv[0],
            strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  // Ctrl-C reaches the child (same process group); we stay to report.
  struct sigaction ignore {
  }, old_int{}, old_quit{};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGINT, &ignore, &old_int);
  sigaction(SIGQUIT, &ignore, &old_quit);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGQUIT, &old_quit, nullptr);
  int child_rc = 0;
  if (WIFEXITED(status)) {
    child_rc = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    child_rc = 128 + WTERMSIG(status);
    std::cerr << "heaplens run: " << cmd[0] << " killed by signal "
              << WTERMSIG(status) << "\n";
  }
  if (child_rc == 127 || child_rc == 126) {
    // exec failed; there is no trace to report.
    return child_rc;
  }

  const std::vector<std::string> traces = TracesWritten(pattern, start);
  if (absl::GetFlag(FLAGS_gate) && !traces.empty()) {
    const int gate_rc = GateTraces(traces, "heaplens run");
    return child_rc != 0 ? child_rc : gate_rc;
  }
  int rc = kExitOk;
  if (traces.empty()) {
    std::cerr << "heaplens run: " << cmd[0] << " wrote no trace to " << pattern
              << " (a static or setuid program, or tracing failed: see its "
                 "stderr)\n";
    rc = kExitUsage;
  }
  for (const std::string& trace : traces) {
    std::string out;
    if (format == ReportFormat::kText && traces.size() > 1) {
      out = absl::StrCat("heaplens: trace ", trace, "\n");
    }
    if (absl::Status s = ReportTrace(trace, format, options, &out); !s.ok()) {
      std::cerr << "heaplens run: " << s.message() << "\n";
      rc = kExitUsage;
      continue;
    }
    (void)WriteOutput("", out);
  }
  return child_rc != 0 ? child_rc : rc;
}

}  // namespace heaplens

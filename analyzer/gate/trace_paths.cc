#include "analyzer/gate/trace_paths.h"

#include <dirent.h>
#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace heaplens {
namespace gate {
namespace {

bool IsDir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool Exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ExpandTraceArgs(
    const std::vector<std::string>& args) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  auto add = [&](const std::string& p) {
    if (seen.insert(p).second) out.push_back(p);
  };
  for (const std::string& arg : args) {
    if (IsDir(arg)) {
      std::vector<std::string> found;
      DIR* d = opendir(arg.c_str());
      if (d == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat(arg, ": cannot list the directory"));
      }
      while (struct dirent* e = readdir(d)) {
        const std::string name = e->d_name;
        if (!absl::EndsWith(name, ".hlt")) continue;
        const std::string path =
            absl::StrCat(arg, absl::EndsWith(arg, "/") ? "" : "/", name);
        if (!IsDir(path)) found.push_back(path);
      }
      closedir(d);
      if (found.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(arg, ": directory holds no *.hlt trace"));
      }
      std::sort(found.begin(), found.end());
      for (const std::string& p : found) add(p);
      continue;
    }
    if (!Exists(arg) && arg.find_first_of("*?[") != std::string::npos) {
      glob_t g;
      const int rc = glob(arg.c_str(), 0, nullptr, &g);
      if (rc != 0) {
        if (rc != GLOB_NOMATCH) globfree(&g);
        return absl::InvalidArgumentError(
            absl::StrCat(arg, ": no trace matches"));
      }
      std::vector<std::string> found(g.gl_pathv, g.gl_pathv + g.gl_pathc);
      globfree(&g);
      std::sort(found.begin(), found.end());
      for (const std::string& p : found) add(p);
      continue;
    }
    add(arg);
  }
  return out;
}

}  // namespace gate
}  // namespace heaplens

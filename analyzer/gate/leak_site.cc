#include "analyzer/gate/leak_site.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace heaplens {
namespace gate {

absl::string_view Basename(absl::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? path : path.substr(slash + 1);
}

bool IsSystemModule(absl::string_view module) {
  for (absl::string_view dir : {"/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/",
                                "/lib32/", "/usr/lib32/"}) {
    if (absl::StartsWith(module, dir)) return true;
  }
  const absl::string_view base = Basename(module);
  return absl::StartsWith(base, "ld-linux") ||
         absl::StartsWith(base, "linux-vdso") ||
         absl::StartsWith(base, "linux-gate");
}

bool IsSystemSourcePath(absl::string_view file) {
  for (absl::string_view dir : {"/usr/include/", "/usr/lib/", "/usr/lib64/",
                                "/usr/src/", "/usr/local/include/c++/"}) {
    if (absl::StartsWith(file, dir)) return true;
  }
  // glibc's and gcc's own sources, as their debug info names them.
  for (absl::string_view part :
       {"/glibc-", "/glibc/", "/libstdc++-v3/", "/libgcc/", "/gcc-",
        "../sysdeps/", "/sysdeps/", "/include/c++/"}) {
    if (absl::StrContains(file, part)) return true;
  }
  return false;
}

bool IsUserFrame(const Frame& frame) {
  // The C runtime's entry glue, linked into every program and thread.
  for (absl::string_view glue :
       {"_start", "__libc_start_main", "__libc_start_call_main", "start_thread",
        "clone", "clone3"}) {
    if (frame.function == glue) return false;
  }
  if (!frame.module.empty() && IsSystemModule(frame.module)) return false;
  if (!frame.file.empty() && IsSystemSourcePath(frame.file)) return false;
  return true;
}

const Frame* FirstUserSourceFrame(const std::vector<Frame>& stack) {
  for (const Frame& f : stack) {
    if (!f.file.empty() && IsUserFrame(f)) return &f;
  }
  return nullptr;
}

std::string SiteSignature(const std::vector<Frame>& stack, int frames) {
  auto append = [](const Frame& f, std::string* out) {
    if (!out->empty()) out->append("; ");
    out->append(f.function.empty() ? "??" : f.function);
    if (!f.module.empty()) absl::StrAppend(out, "@", Basename(f.module));
  };
  std::string out;
  int n = 0;
  for (const Frame& f : stack) {
    if (n == frames) break;
    // A frame with neither a function nor a module says nothing stable.
    const bool unknown =
        (f.function.empty() || f.function == "??") && f.module.empty();
    if (!IsUserFrame(f) || unknown) continue;
    append(f, &out);
    ++n;
  }
  if (n == 0) {
    for (const Frame& f : stack) {
      if (n++ == frames) break;
      append(f, &out);
    }
  }
  return out;
}

}  // namespace gate
}  // namespace heaplens

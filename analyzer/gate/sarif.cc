#include "analyzer/gate/sarif.h"

#include <map>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "analyzer/json_writer.h"

namespace heaplens {
namespace gate {
namespace {

struct Rule {
  const char* id;
  const char* name;
  const char* text;
};

constexpr Rule kRules[kLeakKinds] = {
    {"heaplens/definite-leak", "DefiniteLeak",
     "Memory definitely lost: no pointer to the block remains at exit."},
    {"heaplens/indirect-leak", "IndirectLeak",
     "Memory indirectly lost: only reachable from lost blocks."},
    {"heaplens/possible-leak", "PossibleLeak",
     "Memory possibly lost: only interior pointers to the block remain."},
    {"heaplens/reachable-block", "ReachableBlock",
     "Memory still reachable at exit but never freed."},
    {"heaplens/unfreed-block", "UnfreedBlock",
     "Memory not freed when the process stopped (no heap graph: it did not "
     "exit normally)."},
};

std::string PercentEncode(absl::string_view path) {
  std::string out;
  for (char c : path) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '%' || c == '#' || c == '?') {
      absl::StrAppend(&out, "%", absl::Hex(u, absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void WriteLocation(JsonWriter& w, const std::string& file, int line,
                   const std::string& source_root) {
  bool relative = false;
  const std::string uri = SourceUri(file, source_root, &relative);
  w.Key("physicalLocation");
  w.BeginObject();
  w.Key("artifactLocation");
  w.BeginObject();
  w.Key("uri");
  w.String(uri);
  if (relative) {
    w.Key("uriBaseId");
    w.String("%SRCROOT%");
  }
  w.EndObject();
  w.Key("region");
  w.BeginObject();
  w.Key("startLine");
  w.Uint(line > 0 ? line : 1);
  w.EndObject();
  w.EndObject();
}

struct Group {
  const GatedSite* first = nullptr;
  uint64_t bytes = 0, blocks = 0, processes = 0;
  bool counted = false;  // else suppressed or baselined
};

}  // namespace

std::string SourceUri(const std::string& file, const std::string& source_root,
                      bool* relative) {
  absl::string_view p = file;
  *relative = false;
  if (absl::ConsumePrefix(&p, "/proc/self/cwd/")) {
    *relative = true;
  } else if (!source_root.empty() && absl::StartsWith(p, source_root) &&
             p.size() > source_root.size() &&
             (source_root.back() == '/' || p[source_root.size()] == '/')) {
    p.remove_prefix(source_root.size());
    absl::ConsumePrefix(&p, "/");
    *relative = true;
  } else if (!p.empty() && p[0] != '/') {
    absl::ConsumePrefix(&p, "./");
    *relative = true;
  }
  return *relative ? PercentEncode(p)
                   : absl::StrCat("file://", PercentEncode(p));
}

std::string RenderSarif(const GateResult& r,
                        const std::vector<Suppression>& suppressions,
                        const SarifOptions& options) {
  // Merge sites by (kind, stack); keep first-appearance order.
  std::vector<Group> groups;
  std::map<std::tuple<int, std::string, int>, size_t> index;
  for (const GatedSite& s : r.sites) {
    if (s.verdict == Verdict::kNotGated) continue;
    auto key =
        std::make_tuple(static_cast<int>(s.leak->kind), s.leak->stack_text,
                        s.verdict == Verdict::kCounted ? 0 : 1);
    auto [it, inserted] = index.try_emplace(key, groups.size());
    if (inserted) groups.push_back(Group{&s});
    Group& g = groups[it->second];
    g.bytes += s.leak->bytes;
    g.blocks += s.leak->blocks;
    ++g.processes;
    g.counted = s.verdict == Verdict::kCounted;
  }

  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("$schema");
  w.String("https://json.schemastore.org/sarif-2.1.0.json");
  w.Key("version");
  w.String("2.1.0");
  w.Key("runs");
  w.BeginArray();
  w.BeginObject();
  w.Key("tool");
  w.BeginObject();
  w.Key("driver");
  w.BeginObject();
  w.Key("name");
  w.String("heaplens");
  w.Key("rules");
  w.BeginArray();
  for (const Rule& rule : kRules) {
    w.BeginObject();
    w.Key("id");
    w.String(rule.id);
    w.Key("name");
    w.String(rule.name);
    w.Key("shortDescription");
    w.BeginObject();
    w.Key("text");
    w.String(rule.text);
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();  // driver
  w.EndObject();  // tool
  if (!options.source_root.empty()) {
    w.Key("originalUriBaseIds");
    w.BeginObject();
    w.Key("%SRCROOT%");
    w.BeginObject();
    w.Key("uri");
    std::string root = options.source_root;
    if (root.back() != '/') root.push_back('/');
    w.String(absl::StrCat("file://", PercentEncode(root)));
    w.EndObject();
    w.EndObject();
  }
  w.Key("results");
  w.BeginArray();
  for (const Group& g : groups) {
    const GatedSite& s = *g.first;
    const LeakRecord& l = *s.leak;
    const int k = static_cast<int>(l.kind);
    const Frame* user = FirstUserSourceFrame(l.stack);
    w.BeginObject();
    w.Key("ruleId");
    w.String(kRules[k].id);
    w.Key("ruleIndex");
    w.Uint(k);
    w.Key("level");
    w.String(!g.counted ? "note" : r.passed ? "warning" : "error");
    w.Key("message");
    w.BeginObject();
    w.Key("text");
    std::string text =
        absl::StrCat(LeakKindName(l.kind), " leak: ", Bytes(g.bytes), " in ",
                     g.blocks, g.blocks == 1 ? " block" : " blocks",
                     " allocated at ", ShortStack(l.stack, 4));
    if (g.processes > 1)
      absl::StrAppend(&text, " (", g.processes, " processes)");
    if (user == nullptr) text.append(" (no frame in the user's source)");
    w.String(text);
    w.EndObject();
    w.Key("locations");
    w.BeginArray();
    w.BeginObject();
    if (user != nullptr) {
      WriteLocation(w, user->file, user->line, options.source_root);
    } else {
      const std::string module = l.stack.empty() ? "" : l.stack[0].module;
      WriteLocation(w, module.empty() ? "unknown" : module, 1,
                    options.source_root);
    }
    w.EndObject();
    w.EndArray();
    w.Key("partialFingerprints");
    w.BeginObject();
    w.Key("heaplensSite/v1");
    w.String(s.signature);
    w.EndObject();
    if (s.verdict == Verdict::kSuppressed) {
      w.Key("suppressions");
      w.BeginArray();
      w.BeginObject();
      w.Key("kind");
      w.String("external");
      w.Key("justification");
      w.String(absl::StrCat(suppressions[s.suppression].name, " (",
                            suppressions[s.suppression].origin, ")"));
      w.EndObject();
      w.EndArray();
    }
    if (r.has_baseline && s.verdict != Verdict::kSuppressed) {
      w.Key("baselineState");
      w.String(s.verdict == Verdict::kBaselined ? "unchanged" : "new");
    }
    w.Key("stacks");
    w.BeginArray();
    w.BeginObject();
    w.Key("message");
    w.BeginObject();
    w.Key("text");
    w.String("allocation stack");
    w.EndObject();
    w.Key("frames");
    w.BeginArray();
    for (const Frame& f : l.stack) {
      w.BeginObject();
      w.Key("location");
      w.BeginObject();
      w.Key("message");
      w.BeginObject();
      w.Key("text");
      w.String(f.function.empty() ? "??" : f.function);
      w.EndObject();
      // System frames' paths (../sysdeps/...) are not the user's files.
      if (!f.file.empty() && IsUserFrame(f)) {
        WriteLocation(w, f.file, f.line, options.source_root);
      }
      w.EndObject();
      if (!f.module.empty()) {
        w.Key("module");
        w.String(f.module);
      }
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    w.EndArray();
    w.EndObject();  // result
  }
  w.EndArray();
  w.EndObject();  // run
  w.EndArray();
  w.EndObject();
  out.push_back('\n');
  return out;
}

}  // namespace gate
}  // namespace heaplens

#include "analyzer/gate/junit.h"

#include "absl/strings/str_cat.h"

namespace heaplens {
namespace gate {
namespace {

std::string StackLines(const std::vector<Frame>& stack) {
  std::string out;
  for (const Frame& f : stack)
    absl::StrAppend(&out, "    ", FrameText(f), "\n");
  return out;
}

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kCounted:
      return "counted";
    case Verdict::kSuppressed:
      return "suppressed";
    case Verdict::kBaselined:
      return "baselined";
    case Verdict::kNotGated:
      return "not gated";
  }
  return "?";
}

}  // namespace

std::string XmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out.append("&amp;");
        break;
      case '<':
        out.append("&lt;");
        break;
      case '>':
        out.append("&gt;");
        break;
      case '"':
        out.append("&quot;");
        break;
      case '\'':
        out.append("&apos;");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' &&
            c != '\r') {
          break;  // not representable in XML 1.0
        }
        out.push_back(c);
    }
  }
  return out;
}

std::string RenderJunit(const GateResult& r,
                        const std::vector<Suppression>& suppressions) {
  size_t failed = 0;
  std::string cases;
  for (const GatedProcess& p : r.processes) {
    const Report& rep = *p.report;
    std::string name(Basename(rep.exe));
    if (name.empty()) name = "process";
    std::string body, out;
    bool any_failure = false;
    absl::StrAppend(&out, "trace: ", rep.trace_path,
                    "\nexit: ", rep.exit_reason, " ", rep.exit_status,
                    rep.has_graph ? "" : " (no heap graph: unfreed blocks)",
                    "\n");
    for (size_t i : p.sites) {
      const GatedSite& s = r.sites[i];
      const LeakRecord& l = *s.leak;
      const std::string what =
          absl::StrCat(LeakKindName(l.kind), " leak: ", Bytes(l.bytes), " in ",
                       l.blocks, l.blocks == 1 ? " block" : " blocks");
      if (s.verdict == Verdict::kCounted && !r.passed) {
        any_failure = true;
        absl::StrAppend(
            &body, "      <failure type=\"", LeakKindName(l.kind),
            "\" message=\"",
            XmlEscape(absl::StrCat(what, " at ", ShortStack(l.stack, 1))),
            "\">",
            XmlEscape(absl::StrCat(what, "\nsite: ", s.signature, "\n",
                                   StackLines(l.stack))),
            "</failure>\n");
        continue;
      }
      if (s.verdict == Verdict::kNotGated && l.kind == LeakKind::kReachable) {
        continue;  // not a leak; `heaplens report --show=reachable`
      }
      absl::StrAppend(&out, VerdictName(s.verdict));
      if (s.verdict == Verdict::kCounted) out.append(" (within budget)");
      if (s.verdict == Verdict::kSuppressed) {
        absl::StrAppend(&out, " by ", suppressions[s.suppression].name);
      }
      absl::StrAppend(&out, ": ", what, " at ", ShortStack(l.stack, 3), "\n");
    }
    if (any_failure) ++failed;
    absl::StrAppend(&cases, "    <testcase name=\"",
                    XmlEscape(ProcessName(rep)), "\" classname=\"heaplens.",
                    XmlEscape(name), "\" time=\"0\">\n", body,
                    "      <system-out>", XmlEscape(out),
                    "</system-out>\n    </testcase>\n");
  }
  const size_t n = r.processes.size();
  return absl::StrCat("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
                      "<testsuites name=\"heaplens\" tests=\"", n,
                      "\" failures=\"", failed, "\" errors=\"0\" time=\"0\">\n",
                      "  <testsuite name=\"heaplens.leaks\" tests=\"", n,
                      "\" failures=\"", failed,
                      "\" errors=\"0\" skipped=\"0\" time=\"0\">\n", cases,
                      "  </testsuite>\n</testsuites>\n");
}

}  // namespace gate
}  // namespace heaplens

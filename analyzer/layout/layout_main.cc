// heaplens_layout: the heap-layout report of one trace, on its own.
//
//   heaplens_layout [--text] TRACE
//
// Prints {"fragmentation": ..., "pinning": ...} (or the text section). A
// debugging tool and what the layout's end-to-end tests run until the main
// CLI's report carries these sections; exit code 2 for a trace it cannot
// read, as the CLI.
#include <cstdio>
#include <cstring>
#include <string>

#include "analyzer/analysis.h"
#include "analyzer/json_writer.h"
#include "analyzer/layout/layout_report.h"
#include "analyzer/layout/replay_adapter.h"
#include "analyzer/symbolizer.h"

int main(int argc, char** argv) {
  bool text = false;
  const char* path = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--text") == 0) {
      text = true;
    } else if (path == nullptr) {
      path = argv[i];
    } else {
      path = nullptr;
      break;
    }
  }
  if (path == nullptr) {
    std::fprintf(stderr, "usage: heaplens_layout [--text] TRACE\n");
    return 2;
  }
  heaplens::layout::LayoutConsumer layout;
  heaplens::AnalyzeOptions options;
  options.consumers.push_back(&layout);
  auto analysis = heaplens::AnalyzeTrace(path, options);
  if (!analysis.ok()) {
    std::fprintf(stderr, "heaplens_layout: %s\n",
                 std::string(analysis.status().message()).c_str());
    return 2;
  }
  heaplens::Symbolizer symbolizer((*analysis)->index);
  heaplens::layout::StackFrames frames =
      [&](uint64_t id) -> const std::vector<heaplens::Frame>& {
    return symbolizer.Symbolize(id);
  };
  std::string out;
  if (text) {
    for (const std::string& f :
         heaplens::layout::LayoutFindings(layout.report(), frames))
      out += f + "\n";
    out += heaplens::layout::RenderLayoutText(layout.report(), frames);
  } else {
    heaplens::JsonWriter w(&out);
    w.BeginObject();
    heaplens::layout::WriteLayoutJson(layout.report(), frames, w);
    w.EndObject();
    out += "\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

#include "analyzer/frame_json.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_format.h"

namespace heaplens {

void WriteStackJson(JsonWriter& w, const std::vector<Frame>& frames) {
  w.BeginArray();
  for (const Frame& f : frames) {
    w.BeginObject();
    w.Key("function");
    w.String(f.function);
    w.Key("file");
    w.String(f.file);
    w.Key("line");
    w.Uint(static_cast<uint64_t>(std::max(f.line, 0)));
    w.Key("module");
    w.String(f.module);
    w.Key("inlined");
    w.Bool(f.inlined);
    w.Key("address");
    w.String(absl::StrFormat("0x%x", f.address));
    w.EndObject();
  }
  w.EndArray();
}

}  // namespace heaplens

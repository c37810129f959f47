// frame_json.h: the one JSON form of a symbolized stack, shared by every
// report section that shows one (leaks, invalid frees, pinners, separating
// sites): an array of {function, file, line, module, inlined, address}.
//
// Example:
//   JsonWriter w(&out);
//   w.Key("stack");
//   WriteStackJson(w, symbolizer.Symbolize(stack_id));
#ifndef HEAPLENS_ANALYZER_FRAME_JSON_H_
#define HEAPLENS_ANALYZER_FRAME_JSON_H_

#include <vector>

#include "analyzer/json_writer.h"
#include "analyzer/symbolizer.h"

namespace heaplens {

// Writes `frames` (innermost first) as a JSON array; `address` is a hex
// string, `line` 0 when unknown.
void WriteStackJson(JsonWriter& w, const std::vector<Frame>& frames);

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_FRAME_JSON_H_

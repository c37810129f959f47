// event_decoder.h: decodes the columns of one EventBatch into events,
// exactly per the column rules in proto/trace.proto:
//
//   MALLOC CALLOC MEMALIGN NEW NEW_ARRAY    time address size slack stack
//   REALLOC                                 + old_address
//   FREE DELETE DELETE_ARRAY                time address
//   INVALID_FREE                            time address stack
//   ALLOC_FAILED                            time size stack
//   HEAP_GROW HEAP_SHRINK MMAP MUNMAP MADVISE   time address size
//   MARK                                    time size
//
// Every event takes the next value of each column its kind lists. Times and
// addresses are deltas that restart in every batch; old_address is relative
// to the event's new address.
#ifndef HEAPLENS_ANALYZER_EVENT_DECODER_H_
#define HEAPLENS_ANALYZER_EVENT_DECODER_H_

#include <string>
#include <vector>

#include "analyzer/event.h"
#include "proto/trace.pb.h"

namespace heaplens {

enum class DecodeResult {
  kOk,
  // An event kind this analyzer does not know (a newer format minor): the
  // events before it were decoded, the rest of the batch cannot be.
  kUnknownKind,
  // The columns do not match the kinds; `*error` says how.
  kCorrupt,
};

// Appends the batch's events to `*out` (which it clears first).
DecodeResult DecodeEventBatch(const trace::EventBatch& batch,
                              std::vector<Event>* out, std::string* error);

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_EVENT_DECODER_H_

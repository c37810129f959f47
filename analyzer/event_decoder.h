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

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
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
  // DecodeEventBatchWire only: the bytes are not a valid EventBatch message.
  kInvalidMessage,
};

// Appends the batch's events to `*out` (which it clears first).
DecodeResult DecodeEventBatch(const trace::EventBatch& batch,
                              std::vector<Event>* out, std::string* error);

// What DecodeEventBatchWire found besides the events.
struct WireBatchInfo {
  uint32_t tid = 0;
  size_t kinds = 0;    // length of the kind column: the events declared
  size_t decoded = 0;  // events written to the front of `*buffer`
  uint64_t unknown_stacks = 0;  // stack ids >= max_stack, replaced by 0
  uint64_t max_time_ns = 0;     // the largest time of the decoded events
};

// Optional output of DecodeEventBatchWire for the replay's merge: a 64-bit
// key per decoded event, keys[i] = time << shift | low[TieClass(kind)]
// (the bits above 64 dropped). `*keys` is grown like the event buffer,
// never shrunk.
struct MergeKeySpec {
  int shift = 0;
  uint64_t low[2] = {0, 0};
  std::vector<uint64_t>* keys = nullptr;
};

// Decodes a serialized EventBatch (the message's wire bytes) straight into
// events, without building the protobuf message: the same events, results
// and error messages as parsing it and calling DecodeEventBatch, plus
// kInvalidMessage when the bytes do not parse. The hot path of the replay.
//
// `*buffer` is scratch space that is only grown, never shrunk or cleared
// (so a reused buffer costs no zero-filling); the events are its first
// `info->decoded` elements. Stack ids >= `max_stack` become 0 and are
// counted in `info->unknown_stacks`.
//
// Fast path: each column present at most once, packed, with canonical
// varints, and consistent with the kinds. Anything else (repeated or
// unpacked columns, unknown kinds, corrupt columns) takes the slow path
// through the generated parser, so odd but valid encodings decode exactly
// as protobuf would.
//
// With `keys`, also writes the merge keys of the decoded events (one more
// element is reserved past them, for the caller).
DecodeResult DecodeEventBatchWire(absl::string_view bytes, uint64_t max_stack,
                                  std::vector<Event>* buffer,
                                  WireBatchInfo* info, std::string* error,
                                  const MergeKeySpec* keys = nullptr);

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_EVENT_DECODER_H_

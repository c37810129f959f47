#include "analyzer/event_decoder.h"

#include "absl/strings/str_cat.h"

namespace heaplens {
namespace {

// Which columns an event kind consumes.
enum Column : uint8_t {
  kColAddress = 1,
  kColSize = 2,
  kColSlack = 4,
  kColStack = 8,
  kColOld = 16,
  kUnknown = 0x80,
};

struct ColumnTable {
  uint8_t cols[256];
  constexpr ColumnTable() : cols() {
    for (int i = 0; i < 256; ++i) cols[i] = kUnknown;
    for (uint32_t k = kMalloc; k <= kNewArray; ++k) {
      cols[k] = kColAddress | kColSize | kColSlack | kColStack;
    }
    cols[kRealloc] = kColAddress | kColSize | kColSlack | kColStack | kColOld;
    cols[kFree] = cols[kDelete] = cols[kDeleteArray] = kColAddress;
    cols[kInvalidFree] = kColAddress | kColStack;
    cols[kAllocFailed] = kColSize | kColStack;
    for (uint32_t k = kHeapGrow; k <= kMadvise; ++k)
      cols[k] = kColAddress | kColSize;
    cols[kMark] = kColSize;
  }
};
constexpr ColumnTable kColumns;

}  // namespace

DecodeResult DecodeEventBatch(const trace::EventBatch& batch,
                              std::vector<Event>* out, std::string* error) {
  out->clear();
  const int n = batch.kind_size();
  if (batch.time_delta_size() != n) {
    *error =
        absl::StrCat(n, " kinds but ", batch.time_delta_size(), " time deltas");
    return DecodeResult::kCorrupt;
  }
  const uint32_t* kind = batch.kind().data();
  const uint64_t* time = batch.time_delta().data();
  const int64_t* addr = batch.address_delta().data();
  const uint64_t* size = batch.size().data();
  const uint64_t* slack = batch.slack().data();
  const uint64_t* stack = batch.stack().data();
  const int64_t* old = batch.old_address_delta().data();
  const int n_addr = batch.address_delta_size();
  const int n_size = batch.size_size();
  const int n_slack = batch.slack_size();
  const int n_stack = batch.stack_size();
  const int n_old = batch.old_address_delta_size();
  int i_addr = 0, i_size = 0, i_slack = 0, i_stack = 0, i_old = 0;

  out->resize(n);
  Event* ev = out->data();
  uint64_t t = 0;
  uint64_t a = 0;
  const uint32_t tid = batch.tid();
  for (int i = 0; i < n; ++i) {
    const uint32_t k = kind[i];
    const uint8_t cols = k < 256 ? kColumns.cols[k] : kUnknown;
    if (cols & kUnknown) {
      out->resize(i);
      *error =
          absl::StrCat("unknown event kind ", k, " at event ", i, " of ", n);
      return DecodeResult::kUnknownKind;
    }
    Event& e = ev[i];
    e.kind = k;
    e.tid = tid;
    t += time[i];
    e.time_ns = t;
    // Bounds: checked per column; the common kinds are 4-5 compares.
    if (cols & kColAddress) {
      if (i_addr >= n_addr) goto short_column;
      a += static_cast<uint64_t>(addr[i_addr++]);
      e.address = a;
    } else {
      e.address = 0;
    }
    if (cols & kColSize) {
      if (i_size >= n_size) goto short_column;
      e.size = size[i_size++];
    } else {
      e.size = 0;
    }
    if (cols & kColSlack) {
      if (i_slack >= n_slack) goto short_column;
      e.slack = slack[i_slack++];
    } else {
      e.slack = 0;
    }
    if (cols & kColStack) {
      if (i_stack >= n_stack) goto short_column;
      e.stack = stack[i_stack++];
    } else {
      e.stack = 0;
    }
    if (cols & kColOld) {
      if (i_old >= n_old) goto short_column;
      e.old_address = a + static_cast<uint64_t>(old[i_old++]);
    } else {
      e.old_address = 0;
    }
    continue;
  short_column:
    out->resize(i);
    *error = absl::StrCat("event ", i, " (kind ", k,
                          ") needs a column value that is missing");
    return DecodeResult::kCorrupt;
  }
  if (i_addr != n_addr || i_size != n_size || i_slack != n_slack ||
      i_stack != n_stack || i_old != n_old) {
    *error =
        absl::StrCat("columns longer than the events use (address ", n_addr,
                     "/", i_addr, ", size ", n_size, "/", i_size, ", slack ",
                     n_slack, "/", i_slack, ", stack ", n_stack, "/", i_stack,
                     ", old_address ", n_old, "/", i_old, ")");
    return DecodeResult::kCorrupt;
  }
  return DecodeResult::kOk;
}

}  // namespace heaplens

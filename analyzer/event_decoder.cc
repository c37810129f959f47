#include "analyzer/event_decoder.h"

#include <algorithm>
#include <cstring>

#include "absl/base/optimization.h"
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
  constexpr ColumnTable() : cols(), tie() {
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
    for (int i = 0; i < 256; ++i) tie[i] = TieClass(i);
  }
  uint8_t tie[256];
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

namespace {

// A protobuf varint at `*p` (at most 10 bytes, bits past 64 dropped, as the
// generated parser reads them). False if it runs past `end` or is longer.
inline bool ReadVarintSlow(const uint8_t*& p, const uint8_t* end, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (p >= end) return false;
    const uint8_t b = *p++;
    result |= static_cast<uint64_t>(b & 0x7f) << (shift < 64 ? shift : 0);
    if (b < 0x80) {
      *v = result;
      return true;
    }
  }
  return false;
}

// A varint at `p` that is known to end within the bytes that can be read
// (the column's last byte ends a varint and the column has exactly as many
// varints as are read from it, so a read never passes the column's end).
// False if it is longer than 10 bytes, as protobuf says.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool ReadVarintInColumn(const uint8_t*& p,
                                                            uint64_t* v) {
  uint64_t b = p[0];
  if (ABSL_PREDICT_TRUE(b < 0x80)) {
    *v = b;
    p += 1;
    return true;
  }
  uint64_t r = b & 0x7f;
  b = p[1];
  r |= (b & 0x7f) << 7;
  if (b < 0x80) {
    *v = r;
    p += 2;
    return true;
  }
  for (int i = 2; i < 10; ++i) {
    b = p[i];
    r |= (b & 0x7f) << (7 * i < 64 ? 7 * i : 0);
    if (b < 0x80) {
      *v = r;
      p += i + 1;
      return true;
    }
  }
  return false;
}

inline bool ReadVarint(const uint8_t*& p, const uint8_t* end, uint64_t* v) {
  // 10 bytes are there: no bounds checks needed.
  if (ABSL_PREDICT_TRUE(end - p >= 10)) return ReadVarintInColumn(p, v);
  return ReadVarintSlow(p, end, v);
}

inline uint64_t ZigZag(uint64_t v) { return (v >> 1) ^ (~(v & 1) + 1); }

// The number of bytes < 0x80 (varint ends) in [p, end).
size_t CountVarintEnds(const uint8_t* p, const uint8_t* end) {
  const size_t len = static_cast<size_t>(end - p);
  size_t high = 0;
  size_t i = 0;
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    // One bit per byte at its bottom, summed by the multiply into the top
    // byte (at most 8, so no carries spill).
    high += (((w >> 7) & kOnes) * kOnes) >> 56;
  }
  for (; i < len; ++i) high += p[i] >> 7;
  return len - high;
}

// One packed column: [p, end).
struct Col {
  const uint8_t* p = nullptr;
  const uint8_t* end = nullptr;
  bool seen = false;
};

constexpr uint8_t kAllocCols = kColAddress | kColSize | kColSlack | kColStack;
constexpr uint8_t kFreeCols = kColAddress;

// The fast path; false means "take the slow path" (nothing is reported).
//
// It first checks the shape of the batch: every kind is one byte (so a
// known kind, < 128), and each column holds exactly as many varints as the
// kinds take from it, the last ending at the column's end. Then no varint
// read can pass its column's end and the decoding loop needs no bounds
// checks; a varint longer than 10 bytes still sends the batch to the slow
// path.
bool DecodeFast(absl::string_view bytes, uint64_t max_stack,
                std::vector<Event>* buffer, WireBatchInfo* info,
                const MergeKeySpec* key_spec) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const uint8_t* const end = p + bytes.size();
  // Columns by field number 3..9: kind, time, address, size, slack, stack,
  // old_address.
  Col col[10];
  uint32_t tid = 0;
  while (p < end) {
    uint64_t tag;
    if (!ReadVarint(p, end, &tag) || tag > 0xffffffffu) return false;
    const uint32_t field = static_cast<uint32_t>(tag >> 3);
    const uint32_t wire = static_cast<uint32_t>(tag & 7);
    if (field == 0) return false;
    const bool column = field >= 3 && field <= 9;
    const bool scalar =
        field == 1 || field == 2 || (field >= 10 && field <= 12);
    switch (wire) {
      case 0: {
        uint64_t v;
        if (column || !ReadVarint(p, end, &v)) return false;
        if (field == 1) tid = static_cast<uint32_t>(v);
        break;
      }
      case 1:
        if (column || scalar || end - p < 8) return false;
        p += 8;
        break;
      case 2: {
        uint64_t len;
        if (scalar || !ReadVarint(p, end, &len) ||
            len > static_cast<uint64_t>(end - p)) {
          return false;
        }
        if (column) {
          if (col[field].seen) return false;
          col[field] = Col{p, p + len, true};
        }
        p += len;
        break;
      }
      case 5:
        if (column || scalar || end - p < 4) return false;
        p += 4;
        break;
      default:
        return false;  // groups, invalid wire types
    }
  }
  // The kinds: one byte each, all known; how many values each column must
  // hold.
  const uint8_t* const kinds = col[3].p;
  const size_t n = static_cast<size_t>(col[3].end - col[3].p);
  uint32_t hist[128] = {};
  uint8_t any_high = 0;
  for (size_t i = 0; i < n; ++i) {
    any_high |= kinds[i];
    ++hist[kinds[i] & 0x7f];
  }
  if (any_high & 0x80) return false;
  size_t need[10] = {};
  need[4] = n;
  for (uint32_t k = 0; k < 128; ++k) {
    if (hist[k] == 0) continue;
    const uint8_t cols = kColumns.cols[k];
    if (cols & kUnknown) return false;
    if (cols & kColAddress) need[5] += hist[k];
    if (cols & kColSize) need[6] += hist[k];
    if (cols & kColSlack) need[7] += hist[k];
    if (cols & kColStack) need[8] += hist[k];
    if (cols & kColOld) need[9] += hist[k];
  }
  for (int f = 4; f <= 9; ++f) {
    const Col& c = col[f];
    if (c.p != c.end && c.end[-1] >= 0x80) return false;
    if (CountVarintEnds(c.p, c.end) != need[f]) return false;
  }
  const uint8_t* times = col[4].p;
  const uint8_t* addrs = col[5].p;
  const uint8_t* sizes = col[6].p;
  const uint8_t* slacks = col[7].p;
  const uint8_t* stacks = col[8].p;
  const uint8_t* olds = col[9].p;
  if (buffer->size() < n) buffer->resize(n);
  Event* ev = buffer->data();
  // Keys go to a scratch array when not asked for, so the loop has no
  // branch for them.
  uint64_t scratch_key;
  uint64_t* keys = &scratch_key;
  size_t key_step = 0;
  int shift = 0;
  uint64_t low[2] = {0, 0};
  if (key_spec != nullptr) {
    if (key_spec->keys->size() < n + 1) key_spec->keys->resize(n + 1);
    keys = key_spec->keys->data();
    key_step = 1;
    shift = key_spec->shift;
    low[0] = key_spec->low[0];
    low[1] = key_spec->low[1];
  }
  uint64_t t = 0, a = 0, unknown_stacks = 0, max_t = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t k = kinds[i];
    const uint8_t cols = kColumns.cols[k];
    Event& e = ev[i];
    uint64_t v;
    e.kind = k;
    e.tid = tid;
    if (!ReadVarintInColumn(times, &v)) return false;
    t += v;
    e.time_ns = t;
    max_t = std::max(max_t, t);
    *keys = t << shift | low[kColumns.tie[k]];
    keys += key_step;
    if (cols == kFreeCols) {
      if (!ReadVarintInColumn(addrs, &v)) return false;
      a += ZigZag(v);
      e.address = a;
      e.size = 0;
      e.slack = 0;
      e.stack = 0;
      e.old_address = 0;
      continue;
    }
    if (cols == kAllocCols) {
      if (!ReadVarintInColumn(addrs, &v)) return false;
      a += ZigZag(v);
      e.address = a;
      if (!ReadVarintInColumn(sizes, &v)) return false;
      e.size = v;
      if (!ReadVarintInColumn(slacks, &v)) return false;
      e.slack = v;
      if (!ReadVarintInColumn(stacks, &v)) return false;
      if (ABSL_PREDICT_FALSE(v >= max_stack)) {
        ++unknown_stacks;
        v = 0;
      }
      e.stack = v;
      e.old_address = 0;
      continue;
    }
    e.address = 0;
    if (cols & kColAddress) {
      if (!ReadVarintInColumn(addrs, &v)) return false;
      a += ZigZag(v);
      e.address = a;
    }
    e.size = 0;
    if (cols & kColSize) {
      if (!ReadVarintInColumn(sizes, &v)) return false;
      e.size = v;
    }
    e.slack = 0;
    if (cols & kColSlack) {
      if (!ReadVarintInColumn(slacks, &v)) return false;
      e.slack = v;
    }
    e.stack = 0;
    if (cols & kColStack) {
      if (!ReadVarintInColumn(stacks, &v)) return false;
      if (ABSL_PREDICT_FALSE(v >= max_stack)) {
        ++unknown_stacks;
        v = 0;
      }
      e.stack = v;
    }
    e.old_address = 0;
    if (cols & kColOld) {
      if (!ReadVarintInColumn(olds, &v)) return false;
      e.old_address = a + ZigZag(v);
    }
  }
  info->tid = tid;
  info->kinds = n;
  info->decoded = n;
  info->unknown_stacks = unknown_stacks;
  info->max_time_ns = max_t;
  return true;
}

}  // namespace

DecodeResult DecodeEventBatchWire(absl::string_view bytes, uint64_t max_stack,
                                  std::vector<Event>* buffer,
                                  WireBatchInfo* info, std::string* error,
                                  const MergeKeySpec* keys) {
  *info = WireBatchInfo();
  if (ABSL_PREDICT_TRUE(DecodeFast(bytes, max_stack, buffer, info, keys))) {
    return DecodeResult::kOk;
  }
  // The slow path: whatever the generated parser and DecodeEventBatch say.
  *info = WireBatchInfo();
  trace::EventBatch batch;
  if (!batch.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    *error = "not a valid protobuf message";
    return DecodeResult::kInvalidMessage;
  }
  std::vector<Event> events;
  const DecodeResult r = DecodeEventBatch(batch, &events, error);
  for (Event& e : events) {
    if (e.stack >= max_stack) {
      ++info->unknown_stacks;
      e.stack = 0;
    }
  }
  if (buffer->size() < events.size()) buffer->resize(events.size());
  std::copy(events.begin(), events.end(), buffer->begin());
  if (keys != nullptr && keys->keys->size() < events.size() + 1) {
    keys->keys->resize(events.size() + 1);
  }
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    info->max_time_ns = std::max(info->max_time_ns, e.time_ns);
    if (keys != nullptr) {
      (*keys->keys)[i] =
          e.time_ns << keys->shift | keys->low[TieClass(e.kind) == 1 ? 1 : 0];
    }
  }
  info->tid = batch.tid();
  info->kinds = batch.kind_size();
  info->decoded = events.size();
  return r;
}

}  // namespace heaplens

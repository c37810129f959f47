#include "analyzer/allocation_tracker.h"

#include <sys/mman.h>

#include <algorithm>
#include <new>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/strings/str_cat.h"

namespace heaplens {
namespace {

enum Family { kFamilyNone, kFamilyMalloc, kFamilyNew, kFamilyNewArray };

Family AllocFamily(uint32_t kind) {
  switch (kind) {
    case kNew:
      return kFamilyNew;
    case kNewArray:
      return kFamilyNewArray;
    case kMalloc:
    case kCalloc:
    case kMemalign:
    case kRealloc:
      return kFamilyMalloc;
    default:
      return kFamilyNone;
  }
}

Family FreeFamily(uint32_t kind) {
  switch (kind) {
    case kDelete:
      return kFamilyNew;
    case kDeleteArray:
      return kFamilyNewArray;
    case kFree:
    case kRealloc:
      return kFamilyMalloc;
    default:
      return kFamilyNone;
  }
}

// AllocFamily and FreeFamily of the kinds below 32, for the hot path.
struct FamilyTables {
  Family alloc[32];
  Family free[32];
  FamilyTables() {
    for (uint32_t k = 0; k < 32; ++k) {
      alloc[k] = AllocFamily(k);
      free[k] = FreeFamily(k);
    }
  }
};
const FamilyTables kFamilies;
const Family* const kAllocFamily = kFamilies.alloc;
const Family* const kFreeFamily = kFamilies.free;

}  // namespace

const char* FreeProblemName(FreeProblemType type) {
  switch (type) {
    case FreeProblemType::kDoubleFree:
      return "double_free";
    case FreeProblemType::kInteriorFree:
      return "interior_free";
    case FreeProblemType::kInvalidFree:
      return "invalid_free";
    case FreeProblemType::kUnknownFree:
      return "unknown_free";
    case FreeProblemType::kMismatchedFree:
      return "mismatched_free";
  }
  return "?";
}

const char* ApiName(uint32_t kind) {
  switch (kind) {
    case kMalloc:
      return "malloc";
    case kCalloc:
      return "calloc";
    case kMemalign:
      return "memalign";
    case kNew:
      return "new";
    case kNewArray:
      return "new[]";
    case kRealloc:
      return "realloc";
    case kFree:
      return "free";
    case kDelete:
      return "delete";
    case kDeleteArray:
      return "delete[]";
    case kInvalidFree:
      return "free";
    default:
      return "?";
  }
}

namespace {

constexpr uint64_t kSizeBits = 48;
constexpr uint64_t kSizeMask = (uint64_t{1} << kSizeBits) - 1;
constexpr uint64_t kMaxPackedSlack = 0xffff;
constexpr uint64_t kMaxPackedTid = 0xffffff;
constexpr uint64_t kStackMask = 0xffffffff;
constexpr size_t kMinSlots = 1024;

}  // namespace

AllocationTracker::SlotArray::SlotArray(size_t n) : n_(n) {
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t bytes = n * sizeof(Slot);
  // Large tables: map 2 MiB more and keep the 2 MiB-aligned part, which the
  // kernel can back with huge pages.
  const bool huge = bytes >= kHuge;
  map_bytes_ = huge ? bytes + kHuge : bytes;
  void* m = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  map_ = m;
  uintptr_t start = reinterpret_cast<uintptr_t>(m);
  if (huge) {
    start = (start + kHuge - 1) & ~(kHuge - 1);
    madvise(reinterpret_cast<void*>(start), bytes, MADV_HUGEPAGE);
  }
  slots_ = reinterpret_cast<Slot*>(start);
}

AllocationTracker::SlotArray::~SlotArray() {
  if (map_ != nullptr) munmap(map_, map_bytes_);
}

AllocationTracker::AllocationTracker() {
  freed_.reserve(kFreedHistory);
  slots_ = SlotArray(kMinSlots);
  mask_ = kMinSlots - 1;
  shift_ = 64 - 10;
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline uint64_t AllocationTracker::Hash(
    uint64_t address) {
  // Seeded per process (by where ASLR put a static), so a hostile trace
  // cannot aim its addresses at one probe run; two multiplies and a shift
  // spread every address bit into the top bits, which index the table.
  static const char seed = 0;
  uint64_t x = address ^ reinterpret_cast<uintptr_t>(&seed);
  x *= 0x9e3779b97f4a7c15ull;
  x ^= x >> 32;
  return x * 0xd6e8feb86659fd93ull;
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline AllocationTracker::Slot*
AllocationTracker::Find(uint64_t address, uint64_t hash) {
  for (size_t i = hash >> shift_;; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.meta == 0) return nullptr;
    if (s.address == address) return &s;
  }
}

void AllocationTracker::Grow() {
  SlotArray old(slots_.size() * 2);
  old.swap(slots_);
  mask_ = slots_.size() - 1;
  --shift_;
  for (const Slot& s : old) {
    if (s.meta == 0) continue;
    size_t i = Hash(s.address) >> shift_;
    while (slots_[i].meta != 0) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

void AllocationTracker::EraseSlot(Slot* s) {
  // Backward-shift deletion: move later members of the probe run into the
  // hole when their home is not between the hole and them.
  size_t hole = static_cast<size_t>(s - slots_.data());
  size_t j = hole;
  while (true) {
    j = (j + 1) & mask_;
    Slot& t = slots_[j];
    if (t.meta == 0) break;
    const size_t home = Hash(t.address) >> shift_;
    // t may move to `hole` unless its home lies cyclically in (hole, j].
    const bool stays =
        hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!stays) {
      slots_[hole] = t;
      hole = j;
    }
  }
  slots_[hole].meta = 0;
  --live_count_;
}

LiveBlock AllocationTracker::Unpack(const Slot& s) const {
  if ((s.meta >> 56) == kWide) return wide_.at(s.address);
  return LiveBlock(s.size_slack & kSizeMask, s.size_slack >> kSizeBits,
                   s.meta & kStackMask, s.time_ns,
                   static_cast<uint32_t>(s.meta >> 56),
                   static_cast<uint32_t>((s.meta >> 32) & kMaxPackedTid));
}

const LiveSet& AllocationTracker::live() const {
  if (live_stale_) {
    live_.clear();
    live_.reserve(live_count_);
    for (const Slot& s : slots_) {
      if (s.meta != 0) live_.emplace(s.address, Unpack(s));
    }
    live_stale_ = false;
  }
  return live_;
}

void AllocationTracker::AddMismatch(const Event& e, uint64_t address,
                                    uint64_t size, uint64_t stack,
                                    uint32_t kind) {
  FreeProblem p{FreeProblemType::kMismatchedFree};
  p.free_kind = e.kind;
  p.address = address;
  p.time_ns = e.time_ns;
  p.tid = e.tid;
  p.free_stack = e.kind == kRealloc ? e.stack : 0;
  p.alloc_stack = stack;
  p.alloc_kind = kind;
  p.block_address = address;
  p.block_size = size;
  AddProblem(p);
}

void AllocationTracker::AddProblem(const FreeProblem& p) {
  ++problem_count_;
  if (problems_.size() < kMaxProblems) problems_.push_back(p);
}

const AllocationTracker::Freed* AllocationTracker::FindFreed(
    uint64_t address) const {
  // Newest first: the ring is scanned only for invalid frees, which are rare.
  const size_t n = freed_.size();
  for (size_t i = 0; i < n; ++i) {
    const Freed& f = freed_[(freed_next_ + n - 1 - i) % n];
    if (f.address == address) return &f;
  }
  return nullptr;
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void AllocationTracker::Allocate(
    const Event& e, uint64_t address, uint64_t hash) {
  ++allocations_;
  bytes_allocated_ += e.size;
  live_stale_ = true;
  // One probe: it ends at the block's slot or at the empty slot that
  // becomes it (linear probing without tombstones).
  size_t i = hash >> shift_;
  while (slots_[i].meta != 0 && slots_[i].address != address) {
    i = (i + 1) & mask_;
  }
  Slot* s = &slots_[i];
  if (s->meta != 0) {
    ++stale_allocations_;  // its free was lost
    if ((s->meta >> 56) == kWide) {
      live_bytes_ -= wide_.at(address).size;
      wide_.erase(address);
    } else {
      live_bytes_ -= s->size_slack & kSizeMask;
    }
  } else {
    if (live_count_ + 1 > slots_.size() / 2) {
      Grow();
      i = hash >> shift_;
      while (slots_[i].meta != 0) i = (i + 1) & mask_;
      s = &slots_[i];
    }
    s->address = address;
    ++live_count_;
  }
  s->time_ns = e.time_ns;
  if (e.size <= kSizeMask && e.slack <= kMaxPackedSlack &&
      e.stack <= kStackMask && e.tid <= kMaxPackedTid && e.kind < kWide) {
    s->size_slack = e.size | e.slack << kSizeBits;
    s->meta = e.stack | uint64_t{e.tid} << 32 | uint64_t{e.kind} << 56;
  } else {
    s->size_slack = 0;
    s->meta = kWide << 56;
    wide_[address] =
        LiveBlock(e.size, e.slack, e.stack, e.time_ns, e.kind, e.tid);
  }
  live_bytes_ += e.size;
  if (live_bytes_ > peak_bytes_) {
    peak_bytes_ = live_bytes_;
    peak_blocks_ = live_count_;
    peak_time_ = e.time_ns;
  }
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool AllocationTracker::Release(
    const Event& e, uint64_t address, uint64_t hash) {
  Slot* s = Find(address, hash);
  if (s == nullptr) {
    // The allocator recorded a FREE (not an INVALID_FREE), so it did own a
    // live block here: the block was allocated before tracing started, e.g.
    // inherited from the parent by a forked child, or by the C library
    // before the first traced call. A gap in the trace, not a bug in the
    // program: counted and explained in a note, not listed as a problem.
    // Real double and invalid frees arrive as INVALID_FREE events.
    ++untracked_frees_;
    return false;
  }
  live_stale_ = true;
  uint64_t size, stack;
  uint32_t kind;
  if ((s->meta >> 56) != kWide) {
    size = s->size_slack & kSizeMask;
    stack = s->meta & kStackMask;
    kind = static_cast<uint32_t>(s->meta >> 56);
  } else {
    auto it = wide_.find(address);
    size = it->second.size;
    stack = it->second.stack;
    kind = it->second.kind;
    wide_.erase(it);
  }
  const Family fa = kind < 32 ? kAllocFamily[kind] : kFamilyNone;
  const Family ff = e.kind < 32 ? kFreeFamily[e.kind] : kFamilyNone;
  if (ABSL_PREDICT_FALSE(fa != ff && fa != kFamilyNone)) {
    AddMismatch(e, address, size, stack, kind);
  }
  ++frees_;
  live_bytes_ -= size;
  Freed f{address, size, e.time_ns, 0};
  if (stack < (uint64_t{1} << 56) && kind < kWide) {
    f.kind_stack = uint64_t{kind} << 56 | stack;
  } else {
    f.kind_stack = kWide << 56;
    freed_wide_stack_[address] = stack;
    freed_wide_kind_[address] = kind;
  }
  if (freed_.size() < kFreedHistory) {
    freed_.push_back(f);
  } else {
    freed_[freed_next_] = f;
  }
  freed_next_ = (freed_next_ + 1) % kFreedHistory;
  EraseSlot(s);
  return true;
}

void AllocationTracker::OnInvalidFree(const Event& e) {
  FreeProblem p{FreeProblemType::kInvalidFree};
  p.free_kind = kInvalidFree;
  p.address = e.address;
  p.time_ns = e.time_ns;
  p.tid = e.tid;
  p.free_stack = e.stack;
  if (const Freed* f = FindFreed(e.address)) {
    p.type = FreeProblemType::kDoubleFree;
    if ((f->kind_stack >> 56) == kWide) {
      p.alloc_stack = freed_wide_stack_.at(f->address);
      p.alloc_kind = freed_wide_kind_.at(f->address);
    } else {
      p.alloc_stack = f->kind_stack & ((uint64_t{1} << 56) - 1);
      p.alloc_kind = static_cast<uint32_t>(f->kind_stack >> 56);
    }
    p.block_address = f->address;
    p.block_size = f->size;
    p.freed_time_ns = f->freed_ns;
  } else if (problems_.size() < kMaxProblems) {
    // An interior pointer? A linear scan, bounded by the problem cap. Live
    // blocks do not overlap unless frees were lost; then the lowest
    // containing block is taken, whatever the table's order.
    bool found = false;
    for (const Slot& s : slots_) {
      if (s.meta == 0 || s.address >= e.address) continue;
      if (found && s.address > p.block_address) continue;
      const LiveBlock b = Unpack(s);
      if (e.address < s.address + b.size + b.slack) {
        found = true;
        p.type = FreeProblemType::kInteriorFree;
        p.alloc_stack = b.stack;
        p.alloc_kind = b.kind;
        p.block_address = s.address;
        p.block_size = b.size;
      }
    }
  }
  AddProblem(p);
}

__attribute__((always_inline)) inline void AllocationTracker::Apply(
    const Event& e, uint64_t hash) {
  switch (e.kind) {
    case kMalloc:
    case kCalloc:
    case kMemalign:
    case kNew:
    case kNewArray:
      Allocate(e, e.address, hash);
      break;
    case kRealloc:
      Release(e, e.old_address, hash);
      Allocate(e, e.address, Hash(e.address));
      break;
    case kFree:
    case kDelete:
    case kDeleteArray:
      Release(e, e.address, hash);
      break;
    case kInvalidFree:
      OnInvalidFree(e);
      break;
    case kAllocFailed:
      ++failed_;
      break;
    default:
      break;
  }
}

void AllocationTracker::OnEvent(const Event& e) {
  Apply(e, Hash(LookupAddress(e)));
}

template <typename At>
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void AllocationTracker::ApplyAll(size_t n,
                                                                     At at) {
  // Hash the address a few events ahead and prefetch its slot: the live
  // set is larger than the caches, so a lookup is otherwise a memory stall
  // per event. The hash is kept for when the event's turn comes.
  constexpr size_t kAhead = 8;
  uint64_t hashes[kAhead];
  for (size_t i = 0; i < n && i < kAhead; ++i) {
    hashes[i] = Hash(LookupAddress(at(i)));
    __builtin_prefetch(&slots_[hashes[i] >> shift_]);
  }
  for (size_t i = 0; i < n; ++i) {
    const uint64_t hash = hashes[i % kAhead];
    if (i + kAhead < n) {
      const uint64_t h = Hash(LookupAddress(at(i + kAhead)));
      hashes[i % kAhead] = h;
      __builtin_prefetch(&slots_[h >> shift_]);
    }
    Apply(at(i), hash);
  }
}

void AllocationTracker::OnEvents(absl::Span<const Event> events) {
  const Event* ev = events.data();
  ApplyAll(events.size(), [ev](size_t i) -> const Event& { return ev[i]; });
}

void AllocationTracker::OnEventRefs(absl::Span<const Event* const> events) {
  const Event* const* ev = events.data();
  ApplyAll(events.size(), [ev](size_t i) -> const Event& { return *ev[i]; });
}

void AllocationTracker::OnEnd(const ReplayStats&) {
  if (stale_allocations_ > 0) {
    notes_.push_back(absl::StrCat(
        stale_allocations_,
        " allocations returned an address that was still live in the trace "
        "(its free was not recorded)"));
  }
  if (untracked_frees_ > 0) {
    notes_.push_back(absl::StrCat(
        untracked_frees_,
        " frees of blocks allocated before tracing started (inherited from "
        "the parent process, or allocated before the first traced call)"));
  }
  if (problem_count_ > problems_.size()) {
    notes_.push_back(absl::StrCat(problem_count_ - problems_.size(),
                                  " further free problems not listed"));
  }
}

}  // namespace heaplens

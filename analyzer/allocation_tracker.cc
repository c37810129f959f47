#include "analyzer/allocation_tracker.h"

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

AllocationTracker::AllocationTracker() { freed_.reserve(kFreedHistory); }

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

void AllocationTracker::Allocate(const Event& e, uint64_t address) {
  ++allocations_;
  bytes_allocated_ += e.size;
  auto [it, inserted] = live_.try_emplace(address);
  if (!inserted) {
    ++stale_allocations_;  // its free was lost
    live_bytes_ -= it->second.size;
  }
  it->second = LiveBlock{e.size, e.slack, e.stack, e.time_ns, e.kind, e.tid};
  live_bytes_ += e.size;
  if (live_bytes_ > peak_bytes_) {
    peak_bytes_ = live_bytes_;
    peak_blocks_ = live_.size();
    peak_time_ = e.time_ns;
  }
}

bool AllocationTracker::Release(const Event& e, uint64_t address) {
  auto it = live_.find(address);
  if (it == live_.end()) {
    // The allocator recorded a FREE (not an INVALID_FREE), so it did own a
    // live block here: the block was allocated before tracing started, e.g.
    // inherited from the parent by a forked child, or by the C library
    // before the first traced call. A gap in the trace, not a bug in the
    // program: counted and explained in a note, not listed as a problem.
    // Real double and invalid frees arrive as INVALID_FREE events.
    ++untracked_frees_;
    return false;
  }
  const LiveBlock& b = it->second;
  const Family fa = AllocFamily(b.kind);
  const Family ff = FreeFamily(e.kind);
  if (fa != ff && fa != kFamilyNone) {
    FreeProblem p{FreeProblemType::kMismatchedFree};
    p.free_kind = e.kind;
    p.address = address;
    p.time_ns = e.time_ns;
    p.tid = e.tid;
    p.free_stack = e.kind == kRealloc ? e.stack : 0;
    p.alloc_stack = b.stack;
    p.alloc_kind = b.kind;
    p.block_address = address;
    p.block_size = b.size;
    AddProblem(p);
  }
  ++frees_;
  live_bytes_ -= b.size;
  Freed f{address, b.size, b.stack, e.time_ns, b.kind};
  if (freed_.size() < kFreedHistory) {
    freed_.push_back(f);
  } else {
    freed_[freed_next_] = f;
  }
  freed_next_ = (freed_next_ + 1) % kFreedHistory;
  live_.erase(it);
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
    p.alloc_stack = f->stack;
    p.alloc_kind = f->kind;
    p.block_address = f->address;
    p.block_size = f->size;
    p.freed_time_ns = f->freed_ns;
  } else if (problems_.size() < kMaxProblems) {
    // An interior pointer? A linear scan, bounded by the problem cap.
    for (const auto& [addr, b] : live_) {
      if (e.address > addr && e.address < addr + b.size + b.slack) {
        p.type = FreeProblemType::kInteriorFree;
        p.alloc_stack = b.stack;
        p.alloc_kind = b.kind;
        p.block_address = addr;
        p.block_size = b.size;
        break;
      }
    }
  }
  AddProblem(p);
}

void AllocationTracker::OnEvent(const Event& e) {
  switch (e.kind) {
    case kMalloc:
    case kCalloc:
    case kMemalign:
    case kNew:
    case kNewArray:
      Allocate(e, e.address);
      break;
    case kRealloc:
      Release(e, e.old_address);
      Allocate(e, e.address);
      break;
    case kFree:
    case kDelete:
    case kDeleteArray:
      Release(e, e.address);
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

void AllocationTracker::OnEvents(absl::Span<const Event> events) {
  // Prefetch the hash slots a few events ahead: the live set is larger than
  // the caches, so a lookup is otherwise a memory stall per event.
  constexpr size_t kAhead = 8;
  const size_t n = events.size();
  for (size_t i = 0; i < n; ++i) {
    if (i + kAhead < n) {
      const Event& f = events[i + kAhead];
      live_.prefetch(f.kind == kRealloc ? f.old_address : f.address);
    }
    AllocationTracker::OnEvent(events[i]);
  }
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

// allocation_tracker.h: the replay consumer that keeps the live set.
//
// It follows every allocation, reallocation and free, keeps the blocks that
// are live (address -> size, usable size, allocation stack, time, API), the
// totals Valgrind prints ("N allocs, M frees, B bytes allocated"), the peak
// of live bytes, and the free problems found on the way:
//   - invalid frees the allocator reported (INVALID_FREE), told apart into
//     double frees (the address was a block freed earlier), frees of an
//     interior pointer, and frees of an address never allocated;
//   - (noted, not listed) frees of blocks allocated before tracing started,
//     e.g. inherited from the parent by a forked child;
//   - mismatched APIs, like Valgrind's "Mismatched free() / delete /
//     delete []": malloc'd memory given to delete, new'd memory to free or
//     realloc, new[]'d memory to delete and so on.
#ifndef HEAPLENS_ANALYZER_ALLOCATION_TRACKER_H_
#define HEAPLENS_ANALYZER_ALLOCATION_TRACKER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "analyzer/event.h"
#include "analyzer/replay.h"

namespace heaplens {

struct LiveBlock {
  uint64_t size = 0;
  uint64_t slack = 0;  // usable - size
  uint64_t stack = 0;
  uint64_t time_ns = 0;
  uint32_t kind = 0;  // the allocating event kind
  uint32_t tid = 0;
};

using LiveSet = absl::flat_hash_map<uint64_t, LiveBlock>;

enum class FreeProblemType {
  kDoubleFree,      // the address was freed before
  kInteriorFree,    // the address is inside a live block
  kInvalidFree,     // never allocated (as far as the trace knows)
  kUnknownFree,     // a FREE/REALLOC of an address not live in the trace
  kMismatchedFree,  // allocation and deallocation APIs do not match
};

const char* FreeProblemName(FreeProblemType type);

struct FreeProblem {
  FreeProblemType type;
  uint32_t free_kind = 0;  // the freeing event kind (FREE, DELETE, ...)
  uint64_t address = 0;
  uint64_t time_ns = 0;
  uint32_t tid = 0;
  uint64_t free_stack = 0;   // 0 when the event kind has no stack column
  uint64_t alloc_stack = 0;  // the block's allocation stack, when known
  uint32_t alloc_kind = 0;
  uint64_t block_address = 0;
  uint64_t block_size = 0;
  uint64_t freed_time_ns = 0;  // double free: when it was freed first
};

// "malloc", "new[]", "free", "delete", ...
const char* ApiName(uint32_t kind);

class AllocationTracker : public ReplayConsumer {
 public:
  // The problems kept in full; more are only counted.
  static constexpr size_t kMaxProblems = 10000;
  // How many recently freed blocks are remembered to recognise double frees.
  static constexpr size_t kFreedHistory = 1 << 16;

  AllocationTracker();

  void OnEvent(const Event& e) override;
  // The replay's hot path: OnEvent for each, without a virtual call each.
  void OnEvents(absl::Span<const Event> events) override;
  void OnEnd(const ReplayStats& stats) override;

  const LiveSet& live() const { return live_; }
  uint64_t live_bytes() const { return live_bytes_; }
  uint64_t allocations() const { return allocations_; }
  uint64_t frees() const { return frees_; }
  uint64_t bytes_allocated() const { return bytes_allocated_; }
  uint64_t failed_allocations() const { return failed_; }
  uint64_t peak_live_bytes() const { return peak_bytes_; }
  uint64_t peak_live_blocks() const { return peak_blocks_; }
  uint64_t peak_time_ns() const { return peak_time_; }
  const std::vector<FreeProblem>& problems() const { return problems_; }
  uint64_t problem_count() const { return problem_count_; }
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  struct Freed {
    uint64_t address;
    uint64_t size;
    uint64_t stack;
    uint64_t freed_ns;
    uint32_t kind;
  };
  void Allocate(const Event& e, uint64_t address);
  // Removes the block at `address` for event `e`; false if it is not live.
  bool Release(const Event& e, uint64_t address);
  void OnInvalidFree(const Event& e);
  void AddProblem(const FreeProblem& p);
  const Freed* FindFreed(uint64_t address) const;

  LiveSet live_;
  uint64_t live_bytes_ = 0;
  uint64_t allocations_ = 0;
  uint64_t frees_ = 0;
  uint64_t bytes_allocated_ = 0;
  uint64_t failed_ = 0;
  uint64_t peak_bytes_ = 0;
  uint64_t peak_blocks_ = 0;
  uint64_t peak_time_ = 0;
  uint64_t stale_allocations_ = 0;
  uint64_t untracked_frees_ = 0;  // frees of blocks from before tracing
  std::vector<FreeProblem> problems_;
  uint64_t problem_count_ = 0;
  std::vector<Freed> freed_;  // ring of recently freed blocks
  size_t freed_next_ = 0;
  std::vector<std::string> notes_;
};

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_ALLOCATION_TRACKER_H_
